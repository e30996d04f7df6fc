"""Notebook 4's library: TV against a plain loop, inversion and DeepDream properties, bad input."""
import pytest
import torch

from helpers import CourseError
from helpers import inversion as In


def tv_loop(x, beta):
    """R_V^beta written the slow, obvious way (the oracle)."""
    n, c, h, w = x.shape
    total = 0.0
    for b in range(n):
        for k in range(c):
            for i in range(h):
                for j in range(w):
                    dx = float(x[b, k, i, j + 1] - x[b, k, i, j]) if j + 1 < w else 0.0
                    dy = float(x[b, k, i + 1, j] - x[b, k, i, j]) if i + 1 < h else 0.0
                    total += (dx * dx + dy * dy) ** (beta / 2)
    return total


@pytest.mark.parametrize("beta", [1.0, 1.5, 2.0, 3.0])
def test_total_variation_matches_loop(beta):
    x = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(int(beta * 10)), dtype=torch.float64)
    assert In.total_variation(x, beta).item() == pytest.approx(tv_loop(x, beta), rel=1e-10)


def test_total_variation_borders_and_gradient():
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 2, 2] = 1.0                     # the corner: only its neighbours' differences see it
    assert In.total_variation(x, 2).item() == 2.0
    x = torch.zeros(1, 1, 3, 3, requires_grad=True)
    In.total_variation(x, 1.0, eps=1e-8).backward()
    assert torch.isfinite(x.grad).all()     # flat image, beta < 2: eps keeps the gradient finite


def test_inversion_loss_falls_fast_and_stays_valid(lite0):
    from helpers.data import sample_image
    x = lite0.to_input(sample_image("astronaut"), size=96)
    inv = In.invert(lite0, x, "blocks.1", steps=40, lam=0.5, progress=False)
    losses = inv.result.losses
    assert losses[-1] < losses[0] / 5                      # measured: 1.40 -> 0.24 in 40 steps
    assert inv.image.min() >= 0 and inv.image.max() <= 1 and inv.image.shape == x.shape
    assert inv.feature_loss < 0.2 and inv.psnr > 11


def test_earlier_layers_reconstruct_closer(lite0):
    from helpers.data import sample_image
    x = lite0.to_input(sample_image("coffee"), size=96)
    early = In.invert(lite0, x, "blocks.0", steps=60, lam=0.3, progress=False)
    late = In.invert(lite0, x, "blocks.5", steps=60, lam=0.3, progress=False)
    assert early.ssim > late.ssim and early.psnr > late.psnr


def test_deep_dream_properties(tiny):
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    d = In.deep_dream(tiny, x, "conv2", octaves=2, octave_scale=1.5, steps=5, lr=0.02, jitter=4, progress=False)
    assert [tuple(im.shape[-2:]) for im in d.octave_images] == [(32, 43), (48, 64)]
    assert d.image.shape == x.shape and d.image.min() >= 0 and d.image.max() <= 1
    for objs in d.objectives:
        assert objs[-1] > objs[0]            # the activation norm grows within each octave
    with torch.no_grad():
        norm = lambda im: tiny.activations(im, "conv2")["conv2"].norm().item()   # noqa: E731
    assert norm(d.image) > norm(x)


def test_deep_dream_one_step_equals_dream_step(tiny):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 0.6 + 0.2
    d = In.deep_dream(tiny, x, "conv2", octaves=1, steps=1, lr=0.01, jitter=0, progress=False)
    want, _ = In.dream_step(tiny, x, "conv2", lr=0.01)
    assert torch.allclose(d.image, want, atol=1e-6)


def test_deep_dream_resizes_to_long_side(lite0):
    from helpers.data import sample_image
    d = In.deep_dream(lite0, sample_image("chelsea"), "blocks.2", octaves=2, steps=1, size=160, progress=False)
    assert max(d.image.shape[-2:]) == 160


def test_bad_input(tiny):
    x = torch.rand(1, 3, 64, 64)
    with pytest.raises(CourseError, match="beta must be a positive"):
        In.total_variation(x, beta=0)
    with pytest.raises(CourseError, match="beta must be a positive"):
        In.invert(tiny, x, "conv1", beta=-1, steps=1, progress=False)
    with pytest.raises(CourseError, match="layer must be a layer name"):
        In.invert(tiny, x, "", steps=1, progress=False)
    with pytest.raises(CourseError, match="layer must be a layer name"):
        In.deep_dream(tiny, x, "  ", progress=False)
    with pytest.raises(CourseError, match="has no layer"):
        In.deep_dream(tiny, x, "conv9", progress=False)
    with pytest.raises(CourseError, match="scale must be a number > 1"):
        In.deep_dream(tiny, x, "conv2", octave_scale=1.0, progress=False)
    with pytest.raises(CourseError, match="too small for 6 octaves.*at most 4"):
        In.deep_dream(tiny, x, "conv2", octaves=6, octave_scale=2.0, progress=False)
    with pytest.raises(CourseError, match="grey image"):
        In.dream_step(tiny, torch.rand(1, 1, 16, 16), "conv2")
    with pytest.raises(CourseError, match="steps must be >= 0"):
        In.invert(tiny, x, "conv2", steps=-3, progress=False)
    with pytest.raises(CourseError, match="differ in shape"):
        In.inversion_loss(torch.zeros(1, 4), torch.zeros(1, 5), x)
