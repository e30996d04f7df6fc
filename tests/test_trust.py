"""Notebook 2, part two (helpers/trust.py): SmoothGrad, Integrated Gradients, the cascading
randomization and deletion / insertion, against Captum, plain loops and known identities.

Quantus (the library with these metrics) is not an installed oracle: ``pip install
quantus==0.6.0`` leaves torch, torchvision and NumPy as they are but adds ``opencv-python``
beside the pinned ``opencv-python-headless`` (both write the same ``cv2`` package) and
pandas, so it is not in requirements-test.txt. Where its definitions coincide with ours,
the tests below compare with a line-by-line transcription of its code (named in each test);
that transcription was checked once against Quantus 0.6.0 itself, installed outside the
environment, with the same results (``_quantus_*`` below).
"""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from captum.attr import IntegratedGradients

from helpers import CourseError
from helpers import display as Di
from helpers import saliency as Sa
from helpers import trust as Tr
from helpers.data import sample_image
from helpers.models import WrappedModel, tiny_cnn


@pytest.fixture(scope="module")
def cat64(lite0):
    """The cat at 64 px (small, so that the Lite0 tests stay fast) and its class at 224 px."""
    x = lite0.to_input(sample_image("chelsea"))
    t = int(lite0(x).argmax())
    return lite0.to_input(sample_image("chelsea"), size=64), t


def _linear_model(seed=0):
    """logits = W x + b on a 3 x 8 x 8 image: every gradient is constant."""
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(3, 3 * 8 * 8, generator=g), torch.randn(3, generator=g)

    class Lin(nn.Module):
        def forward(self, x):
            return x.flatten(1) @ w.T + b
    return WrappedModel("linear", Lin(), ["a", "b", "c"], 8, (0.0,) * 3, (1.0,) * 3, "", "", "",
                        resize=(8, 8), min_size=2)


def _no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               and not getattr(m, "_full_backward_hooks", None) for m in model.modules())


# ============================================================================ small exact cases
def test_ranked_masks_order_ties_and_counts():
    s = torch.tensor([[0.5, 2.0, 2.0], [-1.0, 0.0, 7.0]])
    m = Tr.ranked_masks(s, 1 / 3)
    assert m.shape == (4, 2, 3) and m.dtype == torch.bool
    # order: 5 (7.0), 1 and 2 (2.0, tie: lower index first), 0, 4, 3; 6 // 3 = 2 pixels per step
    assert [row.nonzero().flatten().tolist() for row in m.flatten(1)] == [[], [1, 5], [0, 1, 2, 5], list(range(6))]
    assert Tr.ranked_masks(torch.zeros(5, 5), 1.0).flatten(1).sum(1).tolist() == [0, 25]
    assert Tr.ranked_masks(torch.arange(10.0).view(2, 5), 0.25).flatten(1).sum(1).tolist() == [0, 2, 5, 7, 10]


def test_curve_area_is_the_trapezoid_on_the_unit_interval():
    assert Tr.curve_area(torch.tensor([1.0, 0.5, 0.0])) == pytest.approx(0.5)
    assert Tr.curve_area([1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx(1.0)
    c = np.random.default_rng(0).random(21)
    assert Tr.curve_area(c) == pytest.approx(np.trapezoid(c, np.linspace(0, 1, 21)))


def test_baseline_maps():
    c = Tr.centre_map(5, 7)
    assert c.shape == (5, 7) and c.argmax() == 2 * 7 + 3
    assert Tr.ranked_masks(c, 1 / 35)[1].nonzero().tolist() == [[2, 3]]
    r = Tr.random_map(4, 4, seed=1)
    assert torch.equal(r, Tr.random_map(4, 4, seed=1)) and not torch.equal(r, Tr.random_map(4, 4, seed=2))


def test_rank_correlation_and_ssim():
    a = torch.arange(64.0).view(8, 8)
    assert Tr.rank_correlation(a, a ** 3) == pytest.approx(1.0)       # ranks only
    assert Tr.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert math.isnan(Tr.rank_correlation(a, torch.zeros(8, 8)))
    assert Tr.map_ssim(a, 2 * a + 1) == pytest.approx(1.0)            # each map scaled to [0, 1]
    assert Tr.map_ssim(a, a.flip(0)) < 0.5
    g = torch.randn(3, 8, 8)
    assert Tr.rank_correlation(g, g.abs().amax(0)) == pytest.approx(1.0)   # (3, H, W): |g| max over colours


def test_blurred_is_torchvision_gaussian_blur():
    from torchvision.transforms.v2.functional import gaussian_blur
    x = torch.rand(2, 3, 20, 17)
    assert torch.allclose(Tr.blurred(x), gaussian_blur(x, [11, 11], [5.0, 5.0]), atol=1e-6)
    assert torch.equal(Tr.blurred(x, sigma=0), x)


# ============================================================================ SmoothGrad
def test_smoothgrad_repeats_and_is_saliency_at_sigma_zero(lite0, cat64):
    x, t = cat64
    a = Tr.smoothgrad(lite0, x, t, n=4, generator=torch.Generator().manual_seed(5))
    b = Tr.smoothgrad(lite0, x, t, n=4, generator=torch.Generator().manual_seed(5), batch_size=3)
    c = Tr.smoothgrad(lite0, x, t, n=4, generator=torch.Generator().manual_seed(6))
    assert a.shape == (64, 64) and (a >= 0).all()
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-7) and not torch.allclose(a, c)
    assert torch.equal(Tr.smoothgrad(lite0, x, t, n=2), Tr.smoothgrad(lite0, x, t, n=2))   # None: seeded with 0
    s0 = Tr.smoothgrad(lite0, x, t, n=3, sigma=0.0)
    ref = Sa.saliency_map(lite0, x, t)
    assert torch.allclose(s0, ref, rtol=1e-4, atol=1e-6 * float(ref.max()))


def test_smoothgrad_is_the_mean_of_saliency_maps_of_the_noisy_copies():
    """The definition as a plain loop: one saliency map (|d logit / d copy|, max over colours)
    per noisy copy, then the mean. (saliency_map itself refuses copies outside [0, 1].)"""
    model = tiny_cnn(seed=1)
    x = torch.rand(1, 3, 16, 16)
    n, sigma = 7, 0.2
    noise = sigma * torch.randn((n, 3, 16, 16), generator=torch.Generator().manual_seed(9))
    maps = []
    for i in range(n):
        xi = (x + noise[i:i + 1]).requires_grad_(True)
        model(xi)[0, 2].backward()
        maps.append(xi.grad[0].abs().amax(0))
    want = torch.stack(maps).mean(0)
    got = Tr.smoothgrad(model, x, 2, n=n, sigma=sigma, generator=torch.Generator().manual_seed(9), batch_size=3)
    assert torch.allclose(got, want, atol=1e-6)


# ============================================================================ Integrated Gradients
@pytest.mark.parametrize("steps", [2, 7, 32])
def test_integrated_gradients_equals_captum_riemann_right(steps):
    model = tiny_cnn(seed=3)
    x = torch.rand(1, 3, 16, 16)
    for baseline in (None, torch.rand(1, 3, 16, 16)):
        ours = Tr.integrated_gradients(model, x, 1, baseline=baseline, steps=steps, batch_size=3)
        b = torch.zeros_like(x) if baseline is None else baseline
        ref = IntegratedGradients(model).attribute(x, baselines=b, target=1, n_steps=steps,
                                                   method="riemann_right", internal_batch_size=5)[0]
        assert torch.allclose(ours, ref, atol=1e-6), (steps, baseline is None)


def test_captum_trapezoid_weights_sum_to_less_than_one():
    """Why the right Riemann sum and not Captum's "riemann_trapezoid": Captum puts its n
    points at linspace(0, 1, n) (n - 1 intervals) but weights them 1/n (halved at the ends),
    weights summing to 1 - 1/n. On a linear model IG is exact for any rule with weights
    summing to 1: ours gives (x - baseline) * w for every number of steps; Captum's trapezoid
    gives (1 - 1/n) times that."""
    model = _linear_model()
    x = torch.rand(1, 3, 8, 8)
    for n in (2, 5, 20):
        ours = Tr.integrated_gradients(model, x, 2, steps=n)
        trap = IntegratedGradients(model).attribute(x, baselines=0.0, target=2, n_steps=n, method="riemann_trapezoid")[0]
        bias = model(torch.zeros_like(x))[0, 2]
        exact = x[0] * (model(torch.eye(192).view(192, 3, 8, 8))[:, 2] - bias).view(3, 8, 8)
        assert torch.allclose(ours, exact, atol=1e-5)
        assert torch.allclose(trap, (1 - 1 / n) * exact, atol=1e-5)


def test_integrated_gradients_completeness_gap_shrinks_with_the_steps(lite0, cat64):
    # A smooth network (tiny_cnn with SiLU): the right Riemann sum's error is O(1 / steps).
    # Tolerance: the relative gap |sum - (f(x) - f(0))| / |f(x) - f(0)| is at most 1 / steps,
    # and it falls by at least 3 each time the steps are multiplied by 4.
    model = tiny_cnn(seed=0, act=nn.SiLU)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    steps = (4, 16, 64, 256)
    gaps = [Tr.completeness(model, x, 0, Tr.integrated_gradients(model, x, 0, steps=s, batch_size=64))["relative_gap"]
            for s in steps]
    assert all(g <= 1 / s for g, s in zip(gaps, steps)), gaps
    assert all(b < a / 3 for a, b in zip(gaps, gaps[1:])), gaps
    # EfficientNet-Lite0 (ReLU6, piecewise linear; a black baseline far from the photo)
    # converges slowly: at 64 px the relative gap is about 1.3 at 4 steps and 0.2 at 64
    x, t = cat64
    few, many = (Tr.completeness(lite0, x, t, Tr.integrated_gradients(lite0, x, t, steps=s))["relative_gap"]
                 for s in (4, 64))
    assert many < 0.35 and many < few / 3, (few, many)


def test_path_scores_are_the_logits_along_the_straight_path_and_the_rise_interval():
    model = _linear_model()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    grey = torch.full_like(x, 0.5)
    alphas, scores = Tr.path_scores(model, x, 2, baseline=grey, points=5, batch_size=2)
    assert torch.equal(alphas, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    with torch.no_grad():
        want = model(torch.cat([grey + a * (x - grey) for a in alphas]))[:, 2]
    assert torch.allclose(scores, want, atol=1e-5) and not scores.requires_grad
    # a step of 10 at alpha = 0.3 on a rise from 0: 10% of it (the 80% band's lower end) and 90% there
    a = torch.linspace(0, 1, 11)
    assert Tr.rise_interval(a, (a >= 0.3).float() * 10) == (pytest.approx(0.3), pytest.approx(0.3))
    # a ramp from 0 to 1 over the whole path: 10% at alpha 0.1, 90% at 0.9; falling curves too
    assert Tr.rise_interval(a, a) == (pytest.approx(0.1), pytest.approx(0.9))
    assert Tr.rise_interval(a, 1 - a) == (pytest.approx(0.1), pytest.approx(0.9))


def test_integrated_gradients_leaves_no_graph_and_no_grad(tiny):
    x = torch.rand(1, 3, 16, 16)
    a = Tr.integrated_gradients(tiny, x, 0, steps=5, batch_size=2)
    assert not a.requires_grad and a.grad_fn is None and x.grad is None
    assert all(p.grad is None for p in tiny.parameters())


# ============================================================================ randomization
def _layer_of(key, layers):
    """The cascade layer a state_dict key belongs to ('net.blocks.5.0.conv_pw.weight' -> 'blocks.5')."""
    name = key[len("net."):] if key.startswith("net.") else None
    return next((la for la in layers if name is not None and (name == la or name.startswith(la + "."))), None)


@pytest.mark.parametrize("down_to", ["classifier", "blocks.5"])
def test_randomize_from_top_leaves_the_original_and_changes_exactly_the_chosen_layers(lite0, cat64, down_to):
    before = {k: v.clone() for k, v in lite0.state_dict().items()}
    rng = torch.random.get_rng_state()
    r = Tr.randomize_from_top(lite0, down_to, seed=0)
    assert torch.equal(torch.random.get_rng_state(), rng), "the caller's random stream must not move"
    after = lite0.state_dict()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before), \
        "the original model must stay bit-identical"
    layers = Tr.cascade_layers(lite0)
    chosen = layers[:layers.index(down_to) + 1]
    new = r.state_dict()
    params = {n for n, _ in r.named_parameters()}
    for k, v in new.items():
        layer = _layer_of(k, chosen)
        if layer is None:
            assert torch.equal(v, before[k]), f"{k} is below {down_to} and must not change"
        elif k in params:
            assert not torch.equal(v, before[k]), f"{k} is in {layer} and must be re-initialized"
        elif k.endswith("running_mean"):
            assert torch.equal(v, torch.zeros_like(v)), k
        elif k.endswith("running_var"):
            assert torch.equal(v, torch.ones_like(v)), k
    assert r is not lite0 and not r.training and not any(p.requires_grad for p in r.parameters())
    x, t = cat64
    with torch.no_grad():
        assert not torch.allclose(r(x), lite0(x))


def test_randomization_is_seeded_and_nested_from_the_top(tiny):
    a = Tr.randomized_weights(tiny, "fc", seed=1)
    b = Tr.randomized_weights(tiny, "conv1", seed=1)
    c = Tr.randomized_weights(tiny, "conv1", seed=2)
    assert torch.equal(a["net.fc.weight"], b["net.fc.weight"]), "the top layer gets the same values at every step"
    assert not torch.equal(b["net.fc.weight"], c["net.fc.weight"])
    assert all(torch.equal(v, Tr.randomized_weights(tiny, "conv1", seed=1)[k]) for k, v in b.items())


def _quantus_cascade_keys(model, stop_module: str):
    """Which state_dict entries Quantus 0.6.0's cascading randomization has re-initialized
    when it reaches ``stop_module``: a transcription of
    ``quantus/helpers/model/pytorch_model.py: PyTorchModel.get_random_layer_generator``
    (order "top_down": every module that has ``reset_parameters``, in reversed
    ``named_modules()`` order, each reset after ``torch.manual_seed(seed + 1)``). Where the
    definitions differ: Quantus steps one module at a time (each conv, each BatchNorm) and
    reseeds before every module (so modules of the same shape get the same values); we step
    one main layer at a time and seed once. The SET of re-initialized tensors at a layer
    boundary, and the treatment of BatchNorm (reset_parameters: running statistics too), are
    the same. Checked once against Quantus itself: the same 82 tensors at blocks.5."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m = copy.deepcopy(model)
    modules = [layer for layer in m.named_modules() if hasattr(layer[1], "reset_parameters")][::-1]
    for name, module in modules:
        torch.manual_seed(42 + 1)
        module.reset_parameters()
        if name == stop_module:
            break
    return {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}


def test_randomization_changes_the_same_tensors_as_quantus_cascade(lite0):
    # Quantus reaches the whole of blocks.5 at its first module in forward order (the last
    # in its top-down order), net.blocks.5.0.conv_pw
    with torch.random.fork_rng():
        theirs = _quantus_cascade_keys(lite0, "net.blocks.5.0.conv_pw")
    ours = Tr.randomized_weights(lite0, "blocks.5", seed=0)
    before = lite0.state_dict()
    changed = {k for k, v in ours.items() if not torch.equal(v, before[k])}
    assert changed == theirs and len(changed) > 50


# ============================================================================ deletion / insertion
def _loop_curve(model, x, target, saliency, steps, start, fill):
    """The definition as a plain loop: a NumPy stable argsort, pixels moved one by one, one
    forward pass per image."""
    H, W = saliency.shape
    order = np.argsort(-saliency.flatten().numpy(), kind="stable")
    out = []
    for k in range(steps + 1):
        img = start.clone()
        for i in order[: k * H * W // steps]:
            img[0, :, i // W, i % W] = fill[0, :, i // W, i % W]
        with torch.no_grad():
            out.append(float(model(img).softmax(-1)[0, target]))
    return torch.tensor(out)


def test_deletion_and_insertion_equal_a_plain_loop(lite0, cat64):
    x, t = cat64
    x = x[..., :32, :32].contiguous()            # 1024 pixels: the loop stays quick
    s = Sa.saliency_map(lite0, x, t)
    d = Tr.deletion_curve(lite0, x, t, s, fraction=0.125, baseline=0.5, batch_size=4)
    want = _loop_curve(lite0, x, t, s, 8, x, torch.full_like(x, 0.5))
    assert d.shape == (9,) and torch.allclose(d, want, atol=1e-5)
    i = Tr.insertion_curve(lite0, x, t, s, fraction=0.125, batch_size=3)
    want = _loop_curve(lite0, x, t, s, 8, Tr.blurred(x), x)
    assert torch.allclose(i, want, atol=1e-5)
    with torch.no_grad():
        p = float(lite0(x).softmax(-1)[0, t])
    assert d[0] == pytest.approx(p, abs=1e-5) and i[-1] == pytest.approx(p, abs=1e-5)


def test_curves_run_batched_without_autograd(tiny):
    seen = []
    handle = tiny.register_forward_pre_hook(lambda m, a: seen.append((a[0].shape[0], torch.is_grad_enabled())))
    try:
        x = torch.rand(1, 3, 16, 16)
        c = Tr.deletion_curve(tiny, x, 1, torch.rand(16, 16), fraction=0.1, batch_size=4)
    finally:
        handle.remove()
    assert c.shape == (11,) and not c.requires_grad
    assert [b for b, _ in seen] == [4, 4, 3] and not any(g for _, g in seen)


def _quantus_pixel_flipping(model, x, target, a, pixels_per_step, baseline):
    """A transcription of Quantus 0.6.0's ``PixelFlipping.evaluate_batch``
    (quantus/metrics/faithfulness/pixel_flipping.py) with ``perturb_func =
    batch_baseline_replacement_by_indices``: the map (1, 1, H, W) broadcast to the image's
    (1, 3, H, W), features sorted by ``np.argsort(-a)``, ``features_in_step`` features
    replaced by the baseline per step, cumulatively, and the softmax probability of the
    target after every step. It coincides with our deletion curve without its entry 0 (the
    untouched image) when: the map's pixel values are distinct (Quantus's argsort is not
    stable; the 3 colours of a pixel tie, but they all go in the same step),
    ``features_in_step`` is 3 x (pixels per step) (Quantus counts colour values, and asserts
    that H * W is a multiple of it), and the baseline is a number (Quantus's "black" is each
    image's minimum, not 0). Its AUC (``np.trapz`` with dx = 1 over the curve without entry
    0) is not ours (trapezoid over [0, 1] with entry 0). Checked once against Quantus itself
    on this test's case: the largest difference was 3.7e-8."""
    xb = x.numpy()
    ab = np.broadcast_to(a.numpy()[None, None], xb.shape).reshape(1, -1)
    order = np.argsort(-ab, axis=1)
    step = 3 * pixels_per_step
    xp = xb.copy().reshape(1, -1)
    preds = []
    for s in range(math.ceil(ab.shape[1] / step)):
        xp[np.arange(1)[:, None], order[:, s * step:(s + 1) * step]] = baseline
        with torch.no_grad():
            preds.append(float(model(torch.from_numpy(xp.reshape(xb.shape))).softmax(-1)[0, target]))
    return torch.tensor(preds)


def test_deletion_equals_quantus_pixel_flipping_where_the_definitions_coincide():
    # 12 x 12 pixels, 9 steps of 16 pixels: Quantus's features_in_step = 48 divides 144
    model = tiny_cnn(seed=4)
    x = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    s = torch.randperm(144, generator=torch.Generator().manual_seed(0)).float().view(12, 12)  # distinct values
    ours = Tr.deletion_curve(model, x, 2, s, fraction=1 / 9, baseline=0.0)
    theirs = _quantus_pixel_flipping(model, x, 2, s, pixels_per_step=16, baseline=0.0)
    assert len(theirs) == 9 and torch.allclose(ours[1:], theirs, atol=1e-6)


# ============================================================================ the loops and figures
def test_cascading_randomization_on_lite0_restores_everything(lite0, cat64):
    x, t = cat64
    types = [type(m) for m in lite0.modules()]
    before = {k: v.clone() for k, v in lite0.state_dict().items()}
    methods = Tr.standard_methods(smoothgrad_n=2, ig_steps=2, occlusion_window=32, occlusion_stride=32)
    res = Tr.cascading_randomization(lite0, x, t, methods, layers=["classifier", "blocks.3"], progress=False)
    assert res.steps == ["original", "classifier", "blocks.3"]
    assert list(res.maps) == list(methods) and all(len(v) == 3 for v in res.maps.values())
    assert all(m.shape == (64, 64) for v in res.maps.values() for m in v)
    for name in methods:
        assert res.spearman[name][0] == pytest.approx(1.0) and res.ssim[name][0] == pytest.approx(1.0)
    assert [type(m) for m in lite0.modules()] == types and _no_hooks(lite0)
    assert all(torch.equal(before[k], v) for k, v in lite0.state_dict().items())
    assert all(a.inplace for a in lite0.modules() if isinstance(a, nn.ReLU6))
    assert Di.show_cascade(res, show=False) is not None
    assert Di.plot_cascade_similarity(res, show=False) is not None
    assert Di.plot_cascade_similarity(res, "ssim", show=False) is not None


def test_cascade_steps_span_the_network(lite0):
    layers = Tr.cascade_layers(lite0)
    assert layers[0] == "classifier" and layers[-1] == "conv_stem" and "global_pool" not in layers
    assert Tr.cascade_steps(lite0, 5) == ["classifier", "blocks.6", "blocks.3", "blocks.1", "conv_stem"]


def test_faithfulness_table_and_curves_on_tiny(tiny):
    images = torch.rand(3, 3, 16, 16)
    methods = {"saliency": Sa.saliency_map, "grad-cam": lambda m, x, t: Sa.grad_cam(m, x, t)}
    res = Tr.faithfulness_table(tiny, images, [0, 1, 2], methods, fraction=0.25, notes={"grad-cam": "(coarse)"},
                                progress=False)
    assert set(res.deletion) == {"saliency", "grad-cam", "random order", "centre first"}
    assert all(v.shape == (3,) and ((0 <= v) & (v <= 1)).all() for v in res.insertion.values())
    text = str(res)
    assert "(coarse)" in text and text.splitlines()[1].split()[0] == res.ranking()[0].split()[0]
    own = Tr.faithfulness_table(tiny, images[:2], None, methods, fraction=0.5, baselines=False, progress=False)
    assert set(own.deletion) == {"saliency", "grad-cam"} and len(own.insertion["saliency"]) == 2
    x = images[:1]
    curves = Tr.curves_on_photo(tiny, x, 0, {"saliency": Sa.saliency_map(tiny, x, 0),
                                            "IG": Tr.integrated_gradients(tiny, x, 0, steps=4)}, fraction=0.25)
    assert all(d.shape == i.shape == (5,) for d, i in curves.values())
    assert Di.show_curves(curves, show=False) is not None


# ============================================================================ bad input
def test_bad_input_is_explained(tiny):
    x = torch.rand(1, 3, 16, 16)
    s = torch.rand(16, 16)
    with pytest.raises(CourseError, match="one value per colour"):
        Tr.deletion_curve(tiny, x, 0, torch.rand(3, 16, 16))
    with pytest.raises(CourseError, match="upsample it first"):
        Tr.insertion_curve(tiny, x, 0, torch.rand(4, 4))
    with pytest.raises(CourseError, match="NaN"):
        Tr.ranked_masks(torch.full((4, 4), float("nan")))
    for bad in (0, -0.1, 1.5, True, "0.1"):
        with pytest.raises(CourseError, match=r"in \(0, 1\]"):
            Tr.ranked_masks(s, bad)
    with pytest.raises(CourseError, match="whole number of steps"):
        Tr.deletion_curve(tiny, x, 0, s, fraction=0.3)
    for steps in (0, -3, 2.5):
        with pytest.raises(CourseError, match="steps must be"):
            Tr.integrated_gradients(tiny, x, 0, steps=steps)
    with pytest.raises(CourseError, match="n must be >= 1"):
        Tr.smoothgrad(tiny, x, 0, n=0)
    with pytest.raises(CourseError, match="pixel units"):
        Tr.smoothgrad(tiny, x, 0, sigma=-0.1)
    with pytest.raises(CourseError, match="image's shape"):
        Tr.integrated_gradients(tiny, x, 0, baseline=torch.zeros(1, 3, 8, 8))
    with pytest.raises(CourseError, match=r"grey level is a pixel value in \[0, 1\]"):
        Tr.deletion_curve(tiny, x, 0, s, baseline=2.0)
    with pytest.raises(CourseError, match="batch of 2"):
        Tr.smoothgrad(tiny, x.repeat(2, 1, 1, 1), 0)
    with pytest.raises(CourseError, match="did you mean 'conv2'"):
        Tr.randomized_weights(tiny, "conv_2")
    with pytest.raises(CourseError, match="known: fc, conv2, conv1"):
        Tr.randomize_from_top(tiny, "pool")
    with pytest.raises(CourseError, match="did you mean"):
        Tr.cascading_randomization(tiny, x, 0, {"s": Sa.saliency_map}, layers=["fc", "conv"], progress=False)
    with pytest.raises(CourseError, match="class index"):
        Tr.integrated_gradients(tiny, x, 7)
    with pytest.raises(CourseError, match="methods is a dict"):
        Tr.faithfulness_table(tiny, x, [0], methods={}, progress=False)
    with pytest.raises(CourseError, match="1 targets for 2 images"):
        Tr.faithfulness_table(tiny, x.repeat(2, 1, 1, 1), [0], {"s": Sa.saliency_map}, progress=False)
