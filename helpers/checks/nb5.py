"""Local checks of notebook 5 (``helpers/style.py``): one function per exercise, a list of cases.

Each case builds small inputs, calls your function and hands the result to ``expect``
(compared with the value stored in ``nb5.npz``; a mismatch names the nearest usual mistake).
The ``assert`` lines are properties that leave no trace in the result.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import style as St
from .core import check_of, close, expect, require

NOTEBOOK = 5


@check_of("neighbourhood_ssd")
def neighbourhood_ssd():
    patches = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [3.0, 0.0, 2.0]])
    nb = torch.tensor([1.0, 5.0, 2.0])          # the middle pixel is not generated yet
    mask = torch.tensor([1.0, 0.0, 1.0])
    w = torch.tensor([1.0, 1.0, 3.0])
    d = St.neighbourhood_ssd(patches, nb, mask, w)
    assert isinstance(d, torch.Tensor), f"return a tensor of one distance per candidate patch; got {type(d).__name__}"
    expect("3 candidates, 2 known pixels", d,
           "distance = sum(weights * mask * (patch - neighbourhood)^2) / sum(weights * mask), one per patch (P,)")
    g = torch.Generator().manual_seed(0)
    P, nb, m, w = (torch.rand(50, 9, generator=g), torch.rand(9, generator=g), (torch.rand(9, generator=g) > 0.4).float(),
                   torch.rand(9, generator=g))
    m[4] = 1.0
    expect("50 candidates of 9 pixels", St.neighbourhood_ssd(P, nb, m, w), "compare with every row of patches")
    g = torch.Generator().manual_seed(0)
    for _ in range(2):           # the second draw: in float32 the expanded form rounds its exact match below 0
        nb, w, other = torch.rand(9, generator=g), torch.rand(9, generator=g), torch.rand(9, generator=g)
    d = St.neighbourhood_ssd(torch.stack([nb, other]), nb, torch.ones(9), w)
    assert (d >= 0).all(), "clamp the distances at 0 (.clamp_min(0)): the expanded form rounds an exact match to a " \
                           f"tiny negative number ({float(d.min()):.2g} here), which breaks pick_match's (1 + eps) * best"


@check_of("pick_match")
def pick_match():
    d = torch.tensor([9.0, 3.0, 2.0, 2.5, 2.6, 8.0])        # best 2; (1 + 0.5) * 2 = 3: candidates 1, 2, 3, 4
    g = torch.Generator().manual_seed(0)
    got = St.pick_match(d, 0.5, g)
    assert isinstance(got, int), f"return a Python int (use int(...)); got {type(got).__name__}"
    picks = sorted({St.pick_match(d, 0.5, g) for _ in range(100)})
    expect("eps 0.5: the indices picked in 100 draws", picks,
           "pick uniformly among the indices with distance <= (1 + eps) * best", atol=0)
    expect("eps 0", St.pick_match(d, 0.0, g), "with eps = 0 only the best candidate qualifies", atol=0)
    a = [St.pick_match(d, 0.5, torch.Generator().manual_seed(5)) for _ in range(8)]
    assert len(set(a)) == 1, "draw with the generator you are given (torch.randint(..., generator=generator)), so " \
                             "a seed repeats the result"


@check_of("efros_leung")
def efros_leung():
    sample = np.zeros((12, 12), np.uint8)
    sample[:, ::2] = 255                       # vertical stripes, period 2
    out = St.efros_leung(sample, 10, window=5, eps=0.0, seed=0, progress=False)
    assert out.shape == (10, 10) and out.dtype == np.uint8, f"expected uint8 (10, 10); got {out.dtype} {out.shape}"
    assert set(np.unique(out)) <= {0, 255}, "every output pixel must be a pixel of the sample"
    assert (out == out[:1]).all() and (out[:, 1:] != out[:, :-1]).all(), \
        "stripes must continue: check neighbourhood_ssd and pick_match"


@check_of("gram_matrix")
def gram_matrix():
    f = torch.tensor([[[[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]], [[0.0, 1.0, 2.0], [0.0, 1.0, 1.0]]],
                      [[[2.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [[1.0, 3.0, 0.0], [2.0, 0.0, 1.0]]]])   # (N=2, C=2, 2, 3)
    expect("a batch of 2 images, 2 channels of 2 x 3", St.gram_matrix(f),
           "G = F F^T / (H W) with F = the features of each image as (C, H W); a batch (N, C, H, W) gives (N, C, C)")
    expect("one image (C, H, W)", St.gram_matrix(f[0]), "one image (C, H, W) gives (C, C)")


@check_of("content_loss")
def content_loss():
    g = torch.Generator().manual_seed(0)
    f, t = torch.randn(1, 2, 2, 3, generator=g), torch.randn(1, 2, 2, 3, generator=g)
    loss = St.content_loss(f, t)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0, "return a scalar tensor"
    expect("2 channels of 2 x 3", loss, "content loss: mean((features - target)^2), the mean of the squared differences")
    assert float(St.content_loss(f, f)) == 0.0, "identical features: loss 0"


@check_of("style_loss")
def style_loss():
    require("gram_matrix")
    g = torch.Generator().manual_seed(0)
    fa, fb = torch.randn(1, 2, 2, 3, generator=g), torch.randn(1, 3, 2, 2, generator=g)
    ta, tb = torch.randn(2, 2, generator=g), torch.randn(3, 3, generator=g)
    feats = {"a": fa, "b": fb, "content": torch.randn(1, 4, 2, 2, generator=g)}   # more layers than targets
    try:
        got = St.style_loss(feats, {"a": ta, "b": tb}, {"a": 2.0, "b": 0.5})
    except KeyError as e:
        raise AssertionError(f"only the layers in targets count: loop over targets (features may hold more layers, "
                             f"here 'content'); KeyError {e}") from None
    assert isinstance(got, torch.Tensor) and got.ndim == 0, "return a scalar tensor"
    expect("two target layers, weights 2 and 0.5", got,
           "sum over the target layers of w * mean((gram_matrix(features[layer]) - targets[layer])^2)")
    assert close(St.style_loss({"a": fa}, {"a": St.gram_matrix(fa)[0]}), 0.0), "weights=None means weight 1"


@check_of("instance_norm")
def instance_norm():
    x = torch.randn(2, 3, 2, 3, generator=torch.Generator().manual_seed(1)) * 3 + 2
    x[1, 2] = 0.7                                     # a constant channel
    expect("eps 0.5, a constant channel", St.instance_norm(x, eps=0.5),
           "(x - mean) / sqrt(var + eps), mean and biased variance over (H, W) of each image and channel; "
           "keep the shape (N, C, H, W)")
    x = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(1)) * 3 + 2
    expect("3 x 4 x 5 x 6, the default eps", St.instance_norm(x),
           "(x - mean) / sqrt(var + eps) with the default eps, 1e-5")


@check_of("conditional_instance_norm")
def conditional_instance_norm():
    require("instance_norm")
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    cin = St.ConditionalInstanceNorm(3, 2)
    with torch.no_grad():
        cin.gamma.copy_(torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
        cin.beta.copy_(torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, -1.0]]))
    expect("style 1 (one-hot)", cin(x, torch.tensor([0.0, 1.0])),
           "a one-hot style picks that style's row of gamma (scale) and beta (shift): instance_norm(x) * gamma + beta",
           atol=1e-5)
    expect("a mix of the styles, 1/4 and 3/4", cin(x, torch.tensor([0.25, 0.75])),
           "mixing styles mixes gamma and beta: style @ gamma, style @ beta", atol=1e-5)
    expect("one style per image", cin(x, torch.tensor([[1.0, 0.0], [0.0, 1.0]])),
           "style (N, S): image i uses gamma = style[i] @ gamma, beta = style[i] @ beta", atol=1e-5)
