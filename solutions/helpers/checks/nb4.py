"""Local checks of notebook 4 (``helpers/inversion.py``): one function per exercise, a list of cases.

Each case builds small inputs, calls your function and hands the result to ``expect``
(compared with the value stored in ``nb4.npz``; a mismatch names the nearest usual mistake).
The ``assert`` lines are properties that leave no trace in the result.
"""
from __future__ import annotations

import torch

from .. import inversion as In
from ..utils import CourseError
from .core import check_of, expect, require
from .inputs import tiny_cnn

NOTEBOOK = 4


@check_of("total_variation")
def total_variation():
    r = torch.rand(2, 3, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for beta, eps in ((2.0, 0.0), (1.0, 0.0), (1.5, 0.0), (1.0, 0.1)):
        expect(f"2 x 3 x 3 x 4, beta {beta:g}, eps {eps:g}", In.total_variation(r, beta, eps=eps),
               f"TV(beta={beta:g}, eps={eps:g}) = sum of (dx^2 + dy^2 + eps) ** (beta / 2), dx and dy 0 at the last "
               "column and row", atol=1e-8)
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])          # (1, 1, 2, 2)
    # (0,0): dx 1, dy 2 -> 5; (0,1): dx 0 (border), dy 3 -> 9; (1,0): dx 2, dy 0 -> 4; (1,1): 0
    tv2 = In.total_variation(x, beta=2)
    assert isinstance(tv2, torch.Tensor) and tv2.ndim == 0, "return a scalar tensor (a sum over everything)"
    expect("[[0, 1], [2, 4]], beta 2", tv2, "beta=2 on [[0, 1], [2, 4]]: 5 + 9 + 4 + 0 = 18")
    expect("a 1 x 1 image", In.total_variation(torch.ones(2, 3, 1, 1), 1), "a 1 x 1 image has TV 0")
    expect("a constant image", In.total_variation(torch.full((1, 3, 5, 5), 0.3), 2), "a constant image has TV 0")


@check_of("inversion_loss")
def inversion_loss():
    require("total_variation")
    g = torch.Generator().manual_seed(0)
    f, t = torch.randn(1, 2, 2, 2, generator=g), torch.randn(1, 2, 2, 2, generator=g)
    img = torch.rand(1, 3, 3, 4, generator=g)                # H W = 12 pixels, 36 values
    loss = In.inversion_loss(f, t, img, lam=0.7, beta=1.0)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0, "return a scalar tensor"
    expect("lam 0.7, beta 1", loss, "||f - t||^2 / ||t||^2 + lam * total_variation(image, beta, eps) / (H * W)")
    flat = torch.zeros(1, 3, 3, 4)
    expect("identical features, flat image, beta 1", In.inversion_loss(t, t, flat, lam=1.0, beta=1.0),
           "for beta < 2 call total_variation with eps=1e-8 (a finite gradient at flat patches; on a flat image the "
           "TV term is then 36 * sqrt(1e-8) / 12 = 3e-4)", atol=1e-8)
    expect("identical features, flat image, beta 2", In.inversion_loss(t, t, flat, lam=1.0, beta=2.0),
           "identical features, flat image, beta 2: loss 0 (eps=0 when beta >= 2)", atol=1e-12)


@check_of("dream_step")
def dream_step():
    model = tiny_cnn(seed=1)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    keep = x.clone()
    new, obj = In.dream_step(model, x, "conv2", lr=0.01, shift=(3, -5))
    assert torch.equal(x, keep), "do not change x in place"
    assert isinstance(obj, float), f"return the objective as a float; got {type(obj).__name__}"
    expect("objective, shift (3, -5)", obj,
           "return the objective 1/2 ||a||^2 of the layer's activation, before the step", atol=1e-5, rtol=1e-4)
    expect("new image, shift (3, -5)", new,
           "roll by shift, a.backward(a) at the layer, x + lr * g / mean(|g|) clamped to [0, 1], roll back by -shift",
           atol=1e-6)
    _, obj2 = In.dream_step(model, new, "conv2", lr=0.01)
    assert obj2 > obj, "the layer's activation norm must grow"
    big, _ = In.dream_step(model, x, "conv2", lr=5.0)
    assert big.min() >= 0 and big.max() <= 1, "clamp to [0, 1] after the step"


@check_of("octave_sizes")
def octave_sizes():
    expect("400 x 300, 3 octaves of 2", In.octave_sizes(400, 300, 3, 2.0, min_size=16),
           "smallest first: octave i (from the full size, i = 0) has size round(h / scale**i), round(w / scale**i); "
           "the last is the full size", atol=0)
    expect("one octave", In.octave_sizes(64, 64, 1), "one octave: just the full size", atol=0)
    expect("512 x 384, 4 octaves of 1.4", In.octave_sizes(512, 384, 4, 1.4),
           "round(h / scale**i), not int(...): 512 / 1.4^3 = 186.59 -> 187", atol=0)
    expect("20 x 36, 2 octaves of 8: halves", In.octave_sizes(20, 36, 2, 8.0, min_size=1),
           "Python's round(h / scale**i): 20 / 8 = 2.5 -> 2 and 36 / 8 = 4.5 -> 4 (halves go to the even neighbour)",
           atol=0)
    try:
        In.octave_sizes(64, 64, 2, 2.0, min_size=32)
    except ValueError:
        raise AssertionError("a smallest octave of exactly min_size pixels is fine (32 x 32 here): raise only "
                             "below it, at least min_size is allowed") from None
    for h, w, n, low, why in ((64, 64, 4, 32, "64 px with 4 octaves of scale 2 gives 8 px: raise a CourseError "
                                              "(below min_size 32)"),
                              (64, 256, 2, 40, "the smallest octave (32, 128) has a short side 32 below min_size 40: "
                                               "compare the SHORT side of the smallest octave with min_size")):
        try:
            In.octave_sizes(h, w, n, 2.0, min_size=low)
        except ValueError as e:
            assert "octave" in str(e), "name the problem in the error: too many octaves for the image size"
            assert isinstance(e, CourseError), \
                f"raise a CourseError (from helpers.utils, a ValueError), as the library does; got {type(e).__name__}"
        else:
            raise AssertionError(why)
