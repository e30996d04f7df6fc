"""Local checks of the exercises: tiny hand-computable cases that name the likely bug.

A notebook calls ``check("normalize_filters")`` after an exercise; ``bash course.sh check``
runs the same checks with pytest. Each check takes well under a second. Nothing here is an
exercise, and passing these checks does not guarantee full marks: the grader has more tests.
"""
from __future__ import annotations

import traceback

import numpy as np
import torch

from . import features as Fe
from . import saliency as Sa
from .models import tiny_cnn


def check(name: str) -> bool:
    """Run the local check of exercise ``name`` and print one line: passed, or the likely bug."""
    fn = CHECKS.get(name)
    if fn is None:
        from .utils import unknown
        raise unknown("check", name, list(CHECKS))
    try:
        fn()
    except NotImplementedError as e:
        print(f"[not done] {name}: {e}")
        return False
    except AssertionError as e:
        print(f"[FAILED] {name}: {str(e) or 'a check failed (it gave no message)'}")
        return False
    except Exception as e:  # a crash inside the student's code: show where
        tb = traceback.extract_tb(e.__traceback__)[-1]
        print(f"[ERROR] {name}: {type(e).__name__}: {e} (at {tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})")
        return False
    print(f"[passed] {name}: all local checks passed")
    return True


# ============================================================================ notebook 1
def check_normalize_filters_exact():
    w = torch.tensor([[[[0.0, 2.0]], [[4.0, -4.0]], [[1.0, 1.0]]],      # filter 0: min -4, max 4
                      [[[3.0, 3.0]], [[3.0, 3.0]], [[3.0, 3.0]]]])     # filter 1: constant
    out = Fe.normalize_filters(w)
    assert out.shape == (2, 1, 2, 3), "return (C_out, kH, kW, 3): channels last, like an image"
    assert torch.isfinite(out).all(), "a constant filter divides by zero: guard max - min"
    want0 = torch.tensor([[[0.5, 1.0, 0.625], [0.75, 0.0, 0.625]]])
    assert torch.allclose(out[0], want0), \
        "normalize each filter over all its values (all colours together), not per channel or globally"
    assert torch.equal(out[1], torch.zeros(1, 2, 3)), "a constant filter should become all zeros"


def check_extract_features_batched_and_no_grad():
    model = tiny_cnn()
    imgs = np.random.default_rng(0).integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    f3 = Fe.extract_features(model, imgs, batch_size=3, progress=False)
    f7 = Fe.extract_features(model, imgs, batch_size=7, progress=False)
    assert f3.shape == (7, 8), "one row per image, the penultimate layer (8 values) flattened"
    assert not f3.requires_grad, "extract features under torch.no_grad()"
    assert torch.allclose(f3, f7, atol=1e-6), "the result must not depend on the batch size"
    with torch.no_grad():
        want = model.net.flatten(model.net.pool(model.net.act2(model.net.conv2(model.net.act1(
            model.net.conv1(model.to_input(list(imgs))))))))
    assert torch.allclose(f3, want, atol=1e-5), "features of image i must be in row i (keep the order)"
    conv = Fe.extract_features(model, imgs[:2], layer="conv1", progress=False)
    assert conv.shape == (2, 4 * 16 * 16), "spatial layers: flatten (C, H, W) into one row"


def check_pairwise_distances_exact():
    q = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    d = Fe.pairwise_distances(q, x, "l2")
    assert d.shape == (2, 3), "the result is (Q, N): queries along rows"
    want = torch.tensor([[5.0, 1.0, 2.0], [0.0, 20 ** 0.5, 13 ** 0.5]])
    assert torch.allclose(d, want, atol=1e-4), "L2: sqrt(|q|^2 + |x|^2 - 2 q.x), not squared"
    assert (d >= 0).all(), "clamp the squared distance at 0 before the square root"
    c = Fe.pairwise_distances(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 0.0]]), "cosine")
    assert torch.allclose(c, torch.tensor([[0.0, 1.0, 2.0]]), atol=1e-6), \
        "cosine distance is 1 - cos: normalize both sides to unit length first"


def check_nearest_neighbors_order_and_ties():
    x = torch.tensor([[0.0], [2.0], [-2.0], [5.0]])
    d, i = Fe.nearest_neighbors(torch.tensor([[0.0], [4.0]]), x, k=3)
    assert i.tolist() == [[0, 1, 2], [3, 1, 0]], "nearest first; among equal distances the lower index first"
    assert torch.allclose(d, torch.tensor([[0.0, 2.0, 2.0], [1.0, 2.0, 4.0]])), "return the distances of those neighbours"
    d, i = Fe.nearest_neighbors(x, x, k=1, exclude_self=True)
    assert i[:, 0].tolist() == [1, 0, 0, 1], "exclude_self: an item must not be its own neighbour"


def check_pca_small_exact():
    x = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    r = Fe.pca(x, 2)
    assert torch.allclose(r.mean, torch.zeros(2)), "centre the data: mean over samples (axis 0)"
    assert torch.allclose(r.components.abs(), torch.eye(2), atol=1e-6), \
        "components are the rows of V^T (right singular vectors), largest variance first"
    assert torch.allclose(r.explained_variance_ratio, torch.tensor([0.8, 0.2])), \
        "explained variance ratio uses squared singular values: s^2 / sum(s^2)"
    assert torch.allclose(r.projection.abs(), x.abs(), atol=1e-6), "project the centred data: (x - mean) @ components.T"
    r = Fe.pca(x + 10, 1)
    assert r.projection.shape == (4, 1) and torch.allclose(r.mean, torch.full((2,), 10.0)), \
        "keep only n_components, and centre before the SVD"


def check_receptive_field_exact():
    assert Fe.receptive_field([]) == (1, 1, 0), "start from one pixel: size 1, stride 1, offset 0"
    assert Fe.receptive_field([(3, 1, 1, 1)]) == (3, 1, -1)
    # conv 3x3 pad 1 -> max-pool 2x2 stride 2 -> conv 3x3 pad 1
    got = Fe.receptive_field([(3, 1, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1)])
    assert got.size == 8, "each layer adds (k - 1) * (stride of everything before it) to the size"
    assert got.stride == 2, "strides multiply"
    assert got.offset == -3, "padding moves the offset by -padding * (stride before the layer)"
    assert Fe.receptive_field([(3, 1, 0, 2)]).size == 5, "dilation d: effective kernel (k - 1) * d + 1"


def check_top_activations_exact():
    acts = torch.zeros(4, 2, 3, 3)
    acts[0, 1, 2, 0] = 5.0
    acts[1, 1, 0, 1] = 9.0
    acts[1, 1, 2, 2] = 7.0          # second-best spot of image 1: not a separate patch
    acts[2, 0, 1, 1] = 100.0        # another channel
    acts[3, 1, 1, 2] = 5.0          # ties with image 0
    v, idx, r, c = Fe.top_activations(acts, channel=1, k=3)
    assert idx.tolist() == [1, 0, 3], "one entry per image, largest first; ties: lower image index first"
    assert v.tolist() == [9.0, 5.0, 5.0]
    assert r.tolist() == [0, 2, 1] and c.tolist() == [1, 0, 2], "rows and columns of each image's maximum"


# ============================================================================ notebook 2
def _linear_model():
    """A 'network' whose class-1 logit is 2 * (sum of the red channel): every gradient and
    occlusion drop is known by hand."""
    import torch.nn as nn
    from .models import WrappedModel

    class Lin(nn.Module):
        def forward(self, x):
            red = x[:, 0].sum((1, 2))
            return torch.stack([torch.zeros_like(red), 2 * red], 1)
    return WrappedModel("linear", Lin(), ["zero", "red"], 4, (0.0,) * 3, (1.0,) * 3, "", "", "",
                        resize=(4, 4), min_size=2)


def check_occlusion_map_exact():
    model = _linear_model()
    x = torch.zeros(1, 3, 4, 4)
    x[0, 0, 0, 0] = 1.0                     # one red pixel, top left
    m = Sa.occlusion_map(model, x, target=1, window=2, stride=2, baseline=0.0)
    assert m.shape == (4, 4), "return one value per pixel: (H, W)"
    p0 = torch.softmax(torch.tensor([0.0, 2.0]), 0)[1]
    p1 = torch.softmax(torch.tensor([0.0, 0.0]), 0)[1]
    want = torch.zeros(4, 4)
    want[:2, :2] = p0 - p1
    assert torch.allclose(m, want, atol=1e-6), \
        "the map is p(original) - p(occluded) of the target class (softmax probability), on the window's pixels"
    m2 = Sa.occlusion_map(model, x, target=1, window=2, stride=1, baseline=0.0)
    assert torch.allclose(m2[0, 0], p0 - p1, atol=1e-6) and torch.allclose(m2[1, 1], (p0 - p1) / 4, atol=1e-6), \
        "overlapping windows: average the drops of all windows covering a pixel"
    m3 = Sa.occlusion_map(model, x, target=1, window=2, stride=1, baseline=0.0, batch_size=1)
    assert torch.allclose(m2, m3, atol=1e-6), "the result must not depend on batch_size"


def check_saliency_map_exact():
    model = _linear_model()
    x = torch.rand(1, 3, 4, 4)
    s = Sa.saliency_map(model, x, target=1)
    assert s.shape == (4, 4), "reduce the gradient (3, H, W) to (H, W) by the maximum over colours"
    assert torch.allclose(s, torch.full((4, 4), 2.0)), \
        "saliency is |d logit / d x| (the unnormalized score, not the probability), max over channels"
    assert x.grad is None, "work on a copy of x (x.clone().requires_grad_()), not the caller's tensor"


def check_grabcut_seeds_exact():
    s = torch.arange(20.0).view(4, 5)
    seeds = Sa.grabcut_seeds(s, fg_quantile=0.9, bg_quantile=0.2)
    assert seeds.shape == (4, 5) and seeds.dtype == np.uint8, "return a uint8 array (H, W)"
    assert seeds.flatten().tolist() == [0] * 4 + [2] * 6 + [3] * 8 + [1] * 2, \
        "labels: >= fg quantile -> 1 (sure fg), <= bg quantile -> 0 (sure bg), above median -> 3, else 2"


def check_guided_relu_backward_exact():
    x = torch.tensor([-1.0, 0.5, 3.0, 7.0, 2.0])
    g = torch.tensor([1.0, 1.0, -2.0, 1.0, 4.0])
    assert Sa.guided_relu_backward(x, g).tolist() == [0.0, 1.0, 0.0, 1.0, 4.0], \
        "ReLU: pass the gradient only where x > 0 AND the gradient is positive"
    assert Sa.guided_relu_backward(x, g, upper=6.0).tolist() == [0.0, 1.0, 0.0, 0.0, 4.0], \
        "ReLU6: also block where x >= 6 (the unit is saturated there)"


def check_guided_backprop_tiny():
    import torch.nn as nn
    from .models import tiny_cnn
    model = tiny_cnn(seed=2, inplace=True)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    g = Sa.guided_backprop(model, x, layer="conv2", channel=3)
    assert g.shape == (3, 16, 16), "return the image gradient (3, H, W)"
    # by hand: the guided rule at act1 only (conv2 is before act2)
    xx = x.clone().requires_grad_(True)
    z = model.net.conv1(xx)
    a = z.clamp(min=0)
    out = model.net.conv2(a)[0, 3].sum()
    ga, = torch.autograd.grad(out, a, retain_graph=True)
    gz = ga.clamp(min=0) * (z > 0)
    want, = torch.autograd.grad(z, xx, grad_outputs=gz)
    assert torch.allclose(g, want[0], atol=1e-5), \
        "objective: the channel's activation summed over the map; backprop with the guided rule"
    assert all(type(m) is not Sa.GuidedReLU for m in model.modules()), "the model must be restored afterwards"
    assert isinstance(model.net.act1, nn.ReLU) and model.net.act1.inplace


def check_class_activation_map_exact():
    f = torch.tensor([[[1.0, 2.0], [0.0, 1.0]], [[0.0, 1.0], [3.0, 0.0]]])    # (C=2, 2, 2)
    w = torch.tensor([[1.0, 1.0], [2.0, -1.0]])                             # (K=2, C=2)
    c = Sa.class_activation_map(f, w, target=1)
    assert c.shape == (2, 2), "CAM is (h, w): a weighted sum over channels"
    assert torch.allclose(c, torch.tensor([[2.0, 3.0], [-3.0, 2.0]])), \
        "use the weights of the target class, w[target, c], and keep negative values (no ReLU)"


def check_grad_cam_tiny():
    from .models import tiny_cnn
    model = tiny_cnn(seed=4)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    g = Sa.grad_cam(model, x, target=2, layer="act2")
    assert g.shape == (16, 16), "Grad-CAM has the layer's spatial size"
    with torch.no_grad():
        a = model.activations(x, "act2")["act2"][0]
    want = torch.relu(torch.einsum("c,chw->hw", model.net.fc.weight[2], a)) / (16 * 16)
    assert torch.allclose(g, want, atol=1e-6), \
        "alpha_c = gradient averaged over space; map = ReLU(sum_c alpha_c A_c) (GAP + FC: ReLU(CAM) / (h w))"


# ---------------------------------------------------------------------------- notebook 2, part two
def _function_model(logits_fn, size: int = 2, record: list | None = None):
    """A wrapped 'network' with identity normalization whose logits are ``logits_fn(x)``: every
    gradient and probability is known by hand. ``record`` gets ``(batch size, grad enabled)``
    of each forward pass."""
    import torch.nn as nn
    from .models import WrappedModel

    class Fn(nn.Module):
        def forward(self, x):
            if record is not None:
                record.append((x.shape[0], torch.is_grad_enabled()))
            return logits_fn(x)
    return WrappedModel("by hand", Fn(), ["zero", "one"], size, (0.0,) * 3, (1.0,) * 3, "", "", "",
                        resize=(size, size), min_size=2)


def _squares(x):
    """Class 1's logit: sum of red^2 + 3 * sum of green^2 (blue ignored); class 0's: 0."""
    s = (x[:, 0] ** 2).sum((1, 2)) + 3 * (x[:, 1] ** 2).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_smoothgrad_exact():
    from . import trust as Tr
    model = _function_model(_squares)
    x = torch.zeros(1, 3, 2, 2)
    n, sigma = 6, 0.5
    s = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1))
    assert s.shape == (2, 2), "return one value per pixel, (H, W): the mean of the copies' saliency maps"
    again = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s, again), "draw the noise with the generator (torch.randn(..., generator=generator)) so a run repeats"
    assert (s >= 0).all(), "each copy's map is |gradient| (take the absolute value), maximum over colours"
    noise = sigma * torch.randn((n, 3, 2, 2), generator=torch.Generator().manual_seed(1))
    g = torch.stack([2 * noise[:, 0], 6 * noise[:, 1], torch.zeros_like(noise[:, 2])], 1)   # the copies' gradients
    want = g.abs().amax(1).mean(0)
    if not torch.allclose(s, want, atol=1e-5):
        assert not torch.allclose(s, torch.zeros(2, 2)), "add the noise: copy i is x + noise[i] (the gradient at x is 0 here)"
        assert not torch.allclose(s, g.amax(1).mean(0), atol=1e-5), \
            "take the absolute value of each copy's gradient before the maximum over colours: |gradient|"
        assert not torch.allclose(s, g.mean(0).abs().amax(0), atol=1e-5), \
            "average the copies' MAPS (|gradient| of each copy), not the gradients (signs cancel out)"
        assert not torch.allclose(s, g.abs().sum(1).mean(0), atol=1e-5), "reduce the colours by their maximum, not their sum"
        assert not torch.allclose(s, g.abs().amax(1).sum(0), atol=1e-5), "the mean over the n copies: divide the sum by n"
        for wrong in (sigma ** 2, 1.0):
            nz = wrong * torch.randn((n, 3, 2, 2), generator=torch.Generator().manual_seed(1))
            assert not torch.allclose(s, torch.stack([2 * nz[:, 0], 6 * nz[:, 1]], 1).abs().amax(1).mean(0), atol=1e-5), \
                "sigma is the noise's standard deviation: noise = sigma * torch.randn(...)"
        raise AssertionError("draw all the noise in one call, noise = sigma * torch.randn((n, 3, H, W), generator=generator), "
                             "copy i = x + noise[i]; the map is the mean over copies of |d logit / d copy|, max over colours")
    s2 = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1), batch_size=4)
    assert torch.allclose(s, s2, atol=1e-6), "the result must not depend on batch_size (is the last, smaller batch used?)"
    assert not s.requires_grad, "return the map without its graph (use torch.autograd.grad, or .detach())"


def check_integrated_gradients_exact():
    from . import trust as Tr
    model = _function_model(_squares)
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.2, 0.4], [0.6, 0.8]])
    x[0, 1] = 0.5
    m = 4
    a = Tr.integrated_gradients(model, x, 1, steps=m)
    assert a.shape == (3, 2, 2), "return the attributions (3, H, W): one per colour and pixel, signed"
    assert not a.requires_grad, "return the attributions without their graph (.detach())"
    r, g = x[0, 0], x[0, 1]
    # black baseline: the gradient along the path alpha * x is 2 alpha r (red), 6 alpha g (green)
    right = torch.stack([r ** 2 * (m + 1) / m, 3 * g ** 2 * (m + 1) / m, torch.zeros_like(r)])
    if not torch.allclose(a, right, atol=1e-5):
        assert not torch.allclose(a, torch.zeros_like(a)), \
            "no gradient was added up: loop over all the steps in batches (the last batch may be smaller)"
        assert not torch.allclose(a, right * (m - 1) / (m + 1), atol=1e-5), \
            "that is the LEFT Riemann sum (alpha = 0 .. (steps-1)/steps): use alpha_k = k / steps, k = 1 .. steps"
        assert not torch.allclose(a, right * m / (m + 1), atol=1e-5), \
            "that is the exact integral (trapezoid or midpoint rule); this exercise uses the right Riemann sum: " \
            "alpha_k = k / steps for k = 1 .. steps, each with weight 1 / steps"
        assert not torch.allclose(a[:2], right[:2] / x[0, :2], atol=1e-5), \
            "multiply the average gradient by (x - baseline)"
        assert not torch.allclose(a, right * m, atol=1e-5), "average the gradients over the steps (divide by steps)"
        raise AssertionError("IG = (x - baseline) * (1/steps) * sum_{k=1..steps} grad logit(baseline + k/steps (x - baseline))")
    grey = torch.full_like(x, 0.5)
    a = Tr.integrated_gradients(model, x, 1, baseline=grey, steps=m)
    b = 0.5
    want = torch.stack([(r - b) * 2 * b + (r - b) ** 2 * (m + 1) / m, torch.zeros_like(r), torch.zeros_like(r)])
    assert torch.allclose(a, want, atol=1e-5), \
        "with a baseline image: the path is baseline + alpha (x - baseline), and the factor is (x - baseline)"
    assert torch.allclose(Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=2),
                          Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=5), atol=1e-6), \
        "the result must not depend on batch_size (is the last, smaller batch used?)"


def check_randomized_weights_copy_and_layers():
    import torch.nn as nn
    from . import trust as Tr
    from .models import WrappedModel
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 2, 1))
    net.add_module("bn1", nn.BatchNorm2d(2))
    net.add_module("act", nn.ReLU())
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    net.add_module("fc", nn.Linear(2, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.25)
        net.bn1.running_mean.fill_(0.5)
        net.bn1.running_var.fill_(2.0)
    model = WrappedModel("bn net", net, ["a", "b"], 4, (0.0,) * 3, (1.0,) * 3, "flatten", "bn1", "fc",
                         resize=(4, 4), min_size=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    sd = Tr.randomized_weights(model, "bn1", seed=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), \
        "the original model changed: re-initialize a copy (copy.deepcopy(model)), never the model you were given"
    assert isinstance(sd, dict) and set(sd) == set(before), \
        "return the copy's state_dict(): the same names as model.state_dict()"
    assert torch.equal(torch.random.get_rng_state(), rng), \
        "the caller's random numbers changed: seed inside `with torch.random.fork_rng():`"
    assert torch.equal(sd["net.conv1.weight"], before["net.conv1.weight"]), \
        "layers below down_to keep their trained weights: re-initialize only from the top down to down_to"
    assert not torch.equal(sd["net.fc.weight"], before["net.fc.weight"]), \
        "re-initialize every layer from the top (the classifier) down to down_to, included"
    assert torch.equal(sd["net.bn1.running_mean"], torch.zeros(2)) and torch.equal(sd["net.bn1.running_var"], torch.ones(2)) \
        and torch.equal(sd["net.bn1.weight"], torch.ones(2)), \
        "down_to is included; a BatchNorm layer's reset_parameters() also resets its running mean and variance"
    again = Tr.randomized_weights(model, "bn1", seed=3)
    assert all(torch.equal(sd[k], again[k]) for k in sd), "seed the re-initialization (torch.manual_seed(seed)) so it repeats"
    other = Tr.randomized_weights(model, "bn1", seed=4)
    assert not torch.equal(other["net.fc.weight"], sd["net.fc.weight"]), "use the seed you are given: seeds 3 and 4 gave the same weights"
    with torch.random.fork_rng():
        torch.manual_seed(3)
        fc = nn.Linear(2, 2)
        conv = nn.Conv2d(3, 2, 1)
    deep = Tr.randomized_weights(model, "conv1", seed=3)
    assert torch.equal(deep["net.fc.weight"], sd["net.fc.weight"]), \
        "reset from the top down (the classifier first): then the top layers get the same values at every step of the cascade"
    assert torch.equal(sd["net.fc.weight"], fc.weight) and torch.equal(deep["net.conv1.weight"], conv.weight), \
        "seed once, then reset the layers from the top (the classifier first) with each sub-module's reset_parameters()"


def check_ranked_masks_exact():
    from . import trust as Tr
    s = torch.tensor([[3.0, 1.0], [3.0, 0.0]])      # a tie: pixels 0 and 2
    m = Tr.ranked_masks(s, 0.25)
    assert m.dtype == torch.bool, "return bool masks (True = the pixel is removed / revealed)"
    assert m.shape == (5, 2, 2), "steps + 1 masks (H, W): mask 0 has no pixel, mask `steps` all of them"
    want = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    got = m.flatten(1)
    assert not torch.equal(got[1], torch.tensor([0, 0, 0, 1], dtype=torch.bool)), \
        "most important first: rank the pixels by decreasing value"
    assert not torch.equal(got[1], torch.tensor([0, 0, 1, 0], dtype=torch.bool)), \
        "ties: the pixel that comes first (lower row * W + col) ranks first (argsort with stable=True)"
    assert torch.equal(got, want), "mask k holds the k * H * W // steps top-ranked pixels, one step more each time"
    m = Tr.ranked_masks(torch.arange(9.0).view(3, 3), 0.5)
    assert m.flatten(1).sum(1).tolist() == [0, 4, 9], "mask k has k * H * W // steps pixels (floor): 0, 4, 9 for 9 pixels"


def _sum_logits(x):
    """Class 1's logit: sum of (red + green) over the pixels (blue ignored); class 0's: 0."""
    s = (x[:, 0] + x[:, 1]).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_deletion_curve_exact():
    from . import trust as Tr
    record = []
    model = _function_model(_sum_logits, record=record)
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.9, 0.1], [0.5, 0.3]])
    x[0, 1] = 0.2
    s = x[0, 0].clone()                   # order: pixel 0 (0.9), 2 (0.5), 3 (0.3), 1 (0.1)
    c = Tr.deletion_curve(model, x, 1, s, fraction=0.25, batch_size=2)
    assert isinstance(c, torch.Tensor) and c.shape == (5,), \
        "return steps + 1 probabilities: entry 0 for the untouched image, the last for all pixels removed"
    assert not c.requires_grad, "no autograd: run the forward passes under torch.no_grad()"
    assert record and not any(g for _, g in record), "no autograd: run the forward passes under torch.no_grad()"
    assert [b for b, _ in record] == [2, 2, 1], \
        f"run batch_size (2) images per forward pass; got batches of {[b for b, _ in record]}"
    left = torch.tensor([2.6, 1.5, 0.8, 0.3, 0.0])      # red + green left after removing 0, 1, ... pixels
    want = torch.sigmoid(left)          # softmax([0, L])[1]
    assert not torch.allclose(c, left, atol=1e-5), "return the softmax PROBABILITY of the target, not its logit"
    assert not torch.allclose(c, 1 - want, atol=1e-5), "the probability of `target` (index 1 here), .softmax(-1)[:, target]"
    assert not torch.allclose(c, torch.sigmoid(torch.tensor([2.6, 2.3, 2.0, 1.4, 0.0])), atol=1e-5), \
        "remove the MOST important pixels first (use ranked_masks)"
    assert not torch.allclose(c, torch.sigmoid(torch.tensor([2.6, 1.7, 1.2, 0.9, 0.8])), atol=1e-5), \
        "replace all 3 colours of a removed pixel (a mask (b, 1, H, W) broadcasts over the colours)"
    assert torch.allclose(c, want, atol=1e-5), "image k: x with the pixels of ranked_masks(saliency, fraction)[k] set to baseline"
    grey = Tr.deletion_curve(model, x, 1, s, fraction=0.5, baseline=0.5)
    assert torch.allclose(grey, torch.sigmoid(torch.tensor([2.6, 0.4 + 0.4 + 2 * (0.5 + 0.5), 4.0])), atol=1e-5), \
        "removed pixels take the baseline's value (0.5 here), in every colour"


def _checker_logits(x):
    """Class 1's logit: half the sum of (red + green) weighted by a +1/-1 checkerboard, so that
    blurring the image changes it; class 0's: 0."""
    w = 1.0 - 2.0 * ((torch.arange(x.shape[-2])[:, None] + torch.arange(x.shape[-1])[None, :]) % 2)
    s = 0.5 * ((x[:, 0] + x[:, 1]) * w).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_insertion_curve_exact():
    from . import trust as Tr
    model = _function_model(_checker_logits, size=8)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    s = -torch.arange(64.0).view(8, 8)                   # the pixels in row-major order
    c = Tr.insertion_curve(model, x, 1, s, fraction=0.25)
    assert c.shape == (5,) and not c.requires_grad, "return steps + 1 probabilities, computed with no autograd"
    b = Tr.blurred(x)
    p = lambda img: float(torch.sigmoid(_checker_logits(img)[0, 1]))  # noqa: E731
    assert abs(float(c[-1]) - p(x)) < 1e-5, "the last image is x itself: reveal the ORIGINAL pixels"
    assert abs(float(c[0]) - p(b)) < 1e-5, "start from the blurred copy, blurred(x, blur_sigma) (entry 0: nothing revealed)"
    images = [torch.where((torch.arange(64) < k * 16).view(1, 1, 8, 8), x, b) for k in range(5)]
    want = torch.sigmoid(_checker_logits(torch.cat(images))[:, 1])
    backwards = [torch.where((torch.arange(64) >= 64 - k * 16).view(1, 1, 8, 8), x, b) for k in range(5)]
    assert not torch.allclose(c, torch.sigmoid(_checker_logits(torch.cat(backwards))[:, 1]), atol=1e-5), \
        "reveal the MOST important pixels first (use ranked_masks)"
    assert torch.allclose(c, want, atol=1e-5), \
        "image k: blurred(x) with the pixels of ranked_masks(saliency, fraction)[k] taken from x"


NB1 = {
    "normalize_filters": check_normalize_filters_exact,
    "extract_features": check_extract_features_batched_and_no_grad,
    "pairwise_distances": check_pairwise_distances_exact,
    "nearest_neighbors": check_nearest_neighbors_order_and_ties,
    "pca": check_pca_small_exact,
    "receptive_field": check_receptive_field_exact,
    "top_activations": check_top_activations_exact,
}
NB2 = {
    "occlusion_map": check_occlusion_map_exact,
    "saliency_map": check_saliency_map_exact,
    "grabcut_seeds": check_grabcut_seeds_exact,
    "guided_relu_backward": check_guided_relu_backward_exact,
    "guided_backprop": check_guided_backprop_tiny,
    "class_activation_map": check_class_activation_map_exact,
    "grad_cam": check_grad_cam_tiny,
    "smoothgrad": check_smoothgrad_exact,
    "integrated_gradients": check_integrated_gradients_exact,
    "randomized_weights": check_randomized_weights_copy_and_layers,
    "ranked_masks": check_ranked_masks_exact,
    "deletion_curve": check_deletion_curve_exact,
    "insertion_curve": check_insertion_curve_exact,
}


# ============================================================================ notebook 3
def _score_model(weight):
    """A linear "network" whose logits are ``weight . x`` (K classes): gradients known exactly."""
    class Linear(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1) @ weight.T
    return Linear()


def check_ascent_step_exact():
    from . import ascent as As
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 3 * 4 * 5, generator=g)
    model = _score_model(w)
    base = torch.full((1, 3, 4, 5), 0.5)
    delta = torch.randn(1, 3, 4, 5, generator=g) * 0.1
    keep = delta.clone()
    new, obj = As.ascent_step(model, delta, base, target=1, lr=0.1, l2=0.0)
    assert torch.equal(delta, keep), "do not change delta in place: return a new tensor"
    assert isinstance(obj, float) and abs(obj - float(model(base + delta)[0, 1])) < 1e-4, \
        "return the objective (a float) computed before the step"
    gw = w[1].view(1, 3, 4, 5)
    assert torch.allclose(new, delta + 0.1 * gw / gw.abs().mean(), atol=1e-5), \
        "step: delta + lr * g / mean(|g|), with g the gradient of the class score (ascent: plus)"
    new2, obj2 = As.ascent_step(model, delta, base, target=1, lr=0.1, l2=0.5)
    assert abs(obj2 - (obj - 0.5 * float((delta ** 2).sum()))) < 1e-4, "objective: S_c - l2 * ||delta||^2"
    gl = gw - 2 * 0.5 * delta
    assert torch.allclose(new2, delta + 0.1 * gl / gl.abs().mean(), atol=1e-5), \
        "the L2 term's gradient is -2 * l2 * delta"
    d = torch.randn(1, 3, 6, 6, generator=g)
    shrink, _ = As.ascent_step(_score_model(torch.zeros(2, 108)), d, torch.zeros(1, 3, 6, 6), 0, lr=0.01, l2=1.0)
    assert shrink.norm() < d.norm(), "with no class signal, the L2 penalty alone must shrink the image"
    # jitter: roll, step, roll back; with a position-dependent model the shift matters
    sh, _ = As.ascent_step(model, delta, base, target=1, lr=0.1, shift=(1, 2))
    rolled = torch.roll(gw, (-1, -2), dims=(-2, -1))
    assert torch.allclose(sh, delta + 0.1 * rolled / rolled.abs().mean(), atol=1e-5), \
        "jitter: roll delta (and base) by shift before the forward pass, roll the result back by -shift"


def check_ascent_improves():
    from . import ascent as As
    model = tiny_cnn(seed=3)
    base = torch.full((1, 3, 16, 16), 0.5)
    delta = torch.zeros_like(base)
    objs = []
    for _ in range(6):
        delta, o = As.ascent_step(model, delta, base, target=2, lr=0.02)
        objs.append(o)
    assert objs[-1] > objs[0], f"the class score must grow over 5 steps (went {objs[0]:.3f} -> {objs[-1]:.3f}): ascend, not descend"


def check_clip_small_values_exact():
    from . import ascent as As
    d = torch.tensor([[[[3.0, 0.1], [0.0, 1.0]], [[4.0, 0.1], [2.0, 0.0]], [[0.0, 0.1], [0.0, 0.0]]]])
    # pixel norms: 5, 0.173, 2, 1 -> the 50th percentile is 1.5
    out = As.clip_small_values(d, 50)
    want = d.clone()
    want[..., 0, 1] = 0
    want[..., 1, 1] = 0
    assert out.shape == d.shape, "keep the shape (1, 3, H, W)"
    assert torch.equal(out, want), "zero all 3 channels of pixels whose colour norm is below the percentile"
    assert torch.equal(As.clip_small_values(d, 0), d), "percentile 0 changes nothing"
    assert d[0, 0, 0, 1] == 0.1, "do not change the input in place"


def check_clip_small_gradients_exact():
    from . import ascent as As
    d = torch.tensor([[[[1.0, 2.0], [1.0, -1.0]], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 0.0]]]])
    g = torch.tensor([[[[1.0, 1.0], [3.0, 2.0]], [[-1.0, 0.0], [0.0, 1.0]], [[5.0, 1.0], [-2.0, 0.0]]]])
    # contributions |sum_c d*g|: (0,0) 1-1+0 = 0; (0,1) 2; (1,0) 3-2 = 1; (1,1) -2+1 = |-1| = 1
    out = As.clip_small_gradients(d, g, 30)
    want = d.clone()
    want[..., 0, 0] = 0
    assert torch.equal(out, want), "contribution = |sum over colours of delta * grad| (sum first, then abs)"
    out2 = As.clip_small_gradients(d, g, 80)   # contributions 0, 2, 1, 1: the 80th percentile is 1.4
    assert torch.equal(out2, d * torch.tensor([[0.0, 1.0], [0.0, 0.0]])), \
        "zero every pixel whose contribution is below the percentile (torch.quantile of all contributions)"
    assert torch.equal(As.clip_small_gradients(d, g, 0), d), "percentile 0 changes nothing"


def check_facet_starts_small():
    from . import ascent as As
    imgs = torch.arange(5 * 3 * 2 * 2, dtype=torch.float32).view(5, 3, 2, 2)
    feats = torch.tensor([[10.0, 0.0], [0.0, 0.0], [10.0, 0.1], [0.1, 0.0], [10.1, 0.0]])
    means, labels = As.facet_starts(imgs, feats, k=2)
    assert means.shape == (2, 3, 2, 2), "means: one mean image per cluster, (k, 3, H, W)"
    assert labels.tolist() == [0, 1, 0, 1, 0], "label 0 is the largest cluster (images 0, 2, 4 here)"
    assert torch.allclose(means[0], imgs[[0, 2, 4]].mean(0)), "mean image of the images in each cluster"
    assert torch.allclose(means[1], imgs[[1, 3]].mean(0))


def check_fooling_image_stops():
    from . import ascent as As
    model = tiny_cnn(seed=5)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    start = int(model(x).argmax())
    target = 2                          # reached in about 20 steps of lr 0.01 (start: class 0)
    fooled, steps = As.fooling_image(model, x, target, lr=0.01, max_steps=200)
    assert isinstance(steps, int), "return (image, number of steps)"
    assert fooled.shape == x.shape and fooled.min() >= 0 and fooled.max() <= 1, "keep a valid image in [0, 1]"
    assert int(model(fooled).argmax()) == target, "the fooled image must be classified as the target"
    assert steps > 0, "the start image was not the target: at least one step"
    early, s2 = As.fooling_image(model, x, target, lr=0.01, max_steps=steps - 1)
    assert s2 == steps - 1 and int(model(early).argmax()) != target, \
        "stop as soon as the target wins: one step fewer must not reach it (count steps taken)"
    same, s0 = As.fooling_image(model, x, start, lr=0.01)
    assert s0 == 0 and torch.equal(same, x), "already the target: 0 steps, image unchanged"


def check_fgsm_exact():
    from . import ascent as As
    model = tiny_cnn(seed=6)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    y = torch.tensor([1, 2])
    adv = As.fgsm(model, x, y, eps=0.03)
    xr = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(xr), y).backward()
    want = (x + 0.03 * xr.grad.sign()).clamp(0, 1)
    assert adv.shape == x.shape, "same shape as the input batch"
    assert torch.allclose(adv, want, atol=1e-6), "untargeted: x + eps * sign(grad of the cross-entropy of the true label)"
    assert (adv - x).abs().max() <= 0.03 + 1e-6 and adv.min() >= 0 and adv.max() <= 1, "stay within eps and in [0, 1]"
    tgt = As.fgsm(model, x, y, eps=0.03, targeted=True)
    assert torch.allclose(tgt, (x - 0.03 * xr.grad.sign()).clamp(0, 1), atol=1e-6), "targeted: step down the target's loss"


def check_pgd_projection():
    from . import ascent as As
    model = tiny_cnn(seed=6)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    y = torch.tensor([1, 2])
    one = As.pgd(model, x, y, eps=0.03, alpha=0.03, steps=1)
    assert torch.allclose(one, As.fgsm(model, x, y, 0.03), atol=1e-6), "one step with alpha = eps is FGSM"
    adv = As.pgd(model, x, y, eps=0.02, alpha=0.01, steps=5)
    assert (adv - x).abs().max() <= 0.02 + 1e-6, "project: the change must stay within eps of the ORIGINAL x"
    assert adv.min() >= 0 and adv.max() <= 1, "clamp to [0, 1] after each step"
    ce = torch.nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(model(adv), y) > ce(model(x), y), "untargeted PGD must increase the loss"
    rs = As.pgd(model, x, y, eps=0.02, alpha=0.01, steps=2, random_start=True)
    assert (rs - x).abs().max() <= 0.02 + 1e-6 and not torch.equal(rs, As.pgd(model, x, y, eps=0.02, alpha=0.01, steps=2)), \
        "random_start adds uniform noise in [-eps, eps] before the first step"


NB3 = {
    "ascent_step": check_ascent_step_exact,
    "ascent_improves": check_ascent_improves,
    "clip_small_values": check_clip_small_values_exact,
    "clip_small_gradients": check_clip_small_gradients_exact,
    "facet_starts": check_facet_starts_small,
    "fooling_image": check_fooling_image_stops,
    "fgsm": check_fgsm_exact,
    "pgd": check_pgd_projection,
}

# ============================================================================ notebook 4
def check_total_variation_exact():
    from . import inversion as In
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])          # (1, 1, 2, 2)
    # (0,0): dx 1, dy 2 -> 5; (0,1): dx 0 (border), dy 3 -> 9; (1,0): dx 2, dy 0 -> 4; (1,1): 0
    tv2 = In.total_variation(x, beta=2)
    assert tv2.ndim == 0, "return a scalar tensor"
    assert torch.isclose(tv2, torch.tensor(18.0)), \
        "beta=2: sum of (dx^2 + dy^2); the missing neighbour at the last row/column counts as 0"
    want1 = 5 ** 0.5 + 3.0 + 2.0
    assert torch.isclose(In.total_variation(x, beta=1), torch.tensor(want1)), \
        "beta=1: sum of (dx^2 + dy^2) ** (1/2): add the squares first, then take the power"
    two = torch.cat([x, 2 * x], dim=1)
    assert torch.isclose(In.total_variation(two, beta=2), torch.tensor(18.0 * 5)), "sum over channels too"
    assert In.total_variation(torch.ones(2, 3, 1, 1), 1).item() == 0, "a 1 x 1 image has TV 0"
    flat = torch.full((1, 3, 5, 5), 0.3)
    assert In.total_variation(flat, 2).item() == 0, "a constant image has TV 0"


def check_inversion_loss_exact():
    from . import inversion as In
    f = torch.tensor([[1.0, 2.0, 2.0]])
    t = torch.tensor([[1.0, 0.0, 2.0]])
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 0, 0] = 1.0                                     # TV(beta=2) = 2: dx = dy = -1 at (0, 0)
    loss = In.inversion_loss(f, t, img, lam=0.0)
    assert torch.isclose(loss, torch.tensor(4.0 / 5.0)), "feature term: ||f - t||^2 / ||t||^2"
    loss2 = In.inversion_loss(f, t, img, lam=2.0, beta=2.0)
    assert torch.isclose(loss2, torch.tensor(0.8 + 2.0 * 2.0 / 4), atol=1e-6), \
        "TV term: lam * total_variation(image, beta) / (H * W)"
    assert In.inversion_loss(t, t, torch.zeros(1, 3, 2, 2)).item() == 0, "identical features, flat image: loss 0"


def check_dream_step_tiny():
    from . import inversion as In
    model = tiny_cnn(seed=1)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    keep = x.clone()
    new, obj = In.dream_step(model, x, "conv2", lr=0.01)
    assert torch.equal(x, keep), "do not change x in place"
    a = model.activations(x, "conv2")["conv2"]
    assert abs(obj - 0.5 * (a ** 2).sum().item()) < 1e-3 * max(1.0, obj), "objective: 1/2 ||a||^2 before the step"
    xr = x.clone().requires_grad_(True)
    (0.5 * (model.activations(xr, "conv2", keep_graph=True)["conv2"] ** 2).sum()).backward()
    want = (x + 0.01 * xr.grad / xr.grad.abs().mean()).clamp(0, 1)
    assert torch.allclose(new, want, atol=1e-6), "step: x + lr * g / mean(|g|), clamped; g from a.backward(a)"
    _, obj2 = In.dream_step(model, new, "conv2", lr=0.01)
    assert obj2 > obj, "the layer's activation norm must grow"
    sh, _ = In.dream_step(model, x, "conv2", lr=0.01, shift=(3, -5))
    xs = torch.roll(x, (3, -5), dims=(-2, -1)).requires_grad_(True)
    (0.5 * (model.activations(xs, "conv2", keep_graph=True)["conv2"] ** 2).sum()).backward()
    back = torch.roll((xs.detach() + 0.01 * xs.grad / xs.grad.abs().mean()).clamp(0, 1), (-3, 5), dims=(-2, -1))
    assert torch.allclose(sh, back, atol=1e-6), "jitter: roll by shift, step, roll back by -shift"
    big, _ = In.dream_step(model, x, "conv2", lr=5.0)
    assert big.min() >= 0 and big.max() <= 1, "clamp to [0, 1]"


def check_octave_sizes_exact():
    from . import inversion as In
    assert In.octave_sizes(100, 200, 3, 2.0, min_size=16) == [(25, 50), (50, 100), (100, 200)], \
        "smallest first; octave i has size round(h / scale**i), round(w / scale**i); the last is the full size"
    assert In.octave_sizes(64, 64, 1) == [(64, 64)], "one octave: just the full size"
    got = In.octave_sizes(512, 384, 4, 1.4)
    assert got[-1] == (512, 384) and got[0] == (round(512 / 1.4 ** 3), round(384 / 1.4 ** 3))
    try:
        In.octave_sizes(64, 64, 4, 2.0)
    except ValueError as e:
        assert "octaves" in str(e), "name the problem: too many octaves for the image size"
    else:
        raise AssertionError("64 px with 4 octaves of scale 2 gives 8 px: raise a CourseError (min_size 32)")


NB4 = {
    "total_variation": check_total_variation_exact,
    "inversion_loss": check_inversion_loss_exact,
    "dream_step": check_dream_step_tiny,
    "octave_sizes": check_octave_sizes_exact,
}

# ============================================================================ notebook 5
def check_neighbourhood_ssd_exact():
    from . import style as St
    patches = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [3.0, 0.0, 2.0]])
    nb = torch.tensor([1.0, 5.0, 2.0])          # the middle pixel is not generated yet
    mask = torch.tensor([1.0, 0.0, 1.0])
    w = torch.tensor([1.0, 1.0, 3.0])
    d = St.neighbourhood_ssd(patches, nb, mask, w)
    assert isinstance(d, torch.Tensor) and d.shape == (3,), "return one distance per candidate patch: shape (P,)"
    assert not torch.allclose(d, torch.tensor([17.0, 19.0, 29.0]) / 5, atol=1e-4), \
        "multiply by the mask: pixels not generated yet must not count"
    assert not torch.allclose(d, torch.tensor([1.0, 3.0, 4.0]), atol=1e-4), \
        "divide by sum(weights * mask), so that pixels with few known neighbours compare fairly"
    assert torch.allclose(d, torch.tensor([0.25, 0.75, 1.0]), atol=1e-5), \
        "distance = sum(weights * mask * (patch - neighbourhood)^2) / sum(weights * mask)"
    g = torch.Generator().manual_seed(0)
    P, nb, m, w = torch.rand(50, 9, generator=g), torch.rand(9, generator=g), (torch.rand(9, generator=g) > 0.4).float(), torch.rand(9, generator=g)
    m[4] = 1.0
    want = torch.stack([(w * m * (p - nb) ** 2).sum() / (w * m).sum() for p in P])
    assert torch.allclose(St.neighbourhood_ssd(P, nb, m, w), want, atol=1e-5), "compare with every row of patches"


def check_pick_match_rule():
    from . import style as St
    d = torch.tensor([5.0, 1.0, 1.05, 2.0, 1.1])
    g = torch.Generator().manual_seed(0)
    got = St.pick_match(d, 0.0, g)
    assert isinstance(got, int), "return a Python int (use int(...))"
    assert got == 1, "with eps = 0 only the best candidate qualifies"
    picks = {St.pick_match(d, 0.1, g) for _ in range(200)}
    assert picks <= {1, 2, 4}, "only candidates with distance <= (1 + eps) * best may be picked"
    assert picks == {1, 2, 4}, "pick uniformly at random among all qualifying candidates (not always the best)"
    a = [St.pick_match(d, 0.1, torch.Generator().manual_seed(5)) for _ in range(2)]
    assert a[0] == a[1], "draw with the generator you are given, so a seed repeats the result"


def check_efros_leung_stripes():
    from . import style as St
    sample = np.zeros((12, 12), np.uint8)
    sample[:, ::2] = 255                       # vertical stripes, period 2
    out = St.efros_leung(sample, 10, window=5, eps=0.0, seed=0, progress=False)
    assert out.shape == (10, 10) and out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 255}, "every output pixel must be a pixel of the sample"
    assert (out == out[:1]).all() and (out[:, 1:] != out[:, :-1]).all(), \
        "stripes must continue: check neighbourhood_ssd and pick_match"


def check_gram_matrix_exact():
    from . import style as St
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])     # (1, C=2, 2, 2)
    g = St.gram_matrix(f)
    assert g.shape == (1, 2, 2), "a batch (N, C, H, W) gives (N, C, C)"
    assert not torch.allclose(g, torch.tensor([[[30.0, 6.0], [6.0, 2.0]]])), "normalize: divide by H * W"
    assert not torch.allclose(g, torch.tensor([[[3.75, 0.75], [0.75, 0.25]]])), \
        "divide by H * W (the number of positions), not by C * H * W"
    assert torch.allclose(g, torch.tensor([[[7.5, 1.5], [1.5, 0.5]]])), "G = F F^T / (H W) with F = features as (C, H W)"
    assert St.gram_matrix(f[0]).shape == (2, 2), "one image (C, H, W) gives (C, C)"


def check_content_loss_exact():
    from . import style as St
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert float(St.content_loss(f, torch.zeros_like(f))) == 7.5, "the mean (not the sum) of the squared differences"
    assert float(St.content_loss(f, f)) == 0.0
    assert St.content_loss(f, f).ndim == 0, "return a scalar tensor"


def check_style_loss_exact():
    from . import style as St
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    got = St.style_loss({"a": f}, {"a": torch.zeros(2, 2)}, {"a": 2.0})
    assert got.ndim == 0, "return a scalar tensor"
    assert abs(float(got) - 30.5) < 1e-4, "w * mean((gram_matrix(features) - target)^2) over the Gram entries"
    two = St.style_loss({"a": f, "b": f * 2}, {"a": torch.zeros(2, 2), "b": torch.zeros(2, 2)}, {"a": 2.0, "b": 1.0})
    assert abs(float(two) - (30.5 + 244.0)) < 1e-3, "sum the weighted losses of all target layers"
    perm = f.flatten(2)[..., torch.tensor([3, 0, 2, 1])].view_as(f)
    assert abs(float(St.style_loss({"a": perm}, {"a": torch.zeros(2, 2)}, {"a": 2.0})) - 30.5) < 1e-4
    assert float(St.style_loss({"a": f}, {"a": St.gram_matrix(f)[0]})) == 0.0, "weights=None means weight 1"


def check_instance_norm_stats():
    from . import style as St
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 2.0]]]])       # (1, 2, 1, 2)
    y = St.instance_norm(x, eps=0.0 + 1e-12)
    assert y.shape == x.shape
    assert torch.allclose(y[0, 0], torch.tensor([[-1.0, 1.0]]), atol=1e-4), \
        "subtract the mean and divide by the biased standard deviation (var over H W, unbiased=False)"
    assert torch.isfinite(y).all() and torch.allclose(y[0, 1], torch.zeros(1, 2)), \
        "a constant channel becomes 0: eps keeps the division finite"
    x = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(1)) * 3 + 2
    y = St.instance_norm(x)
    assert torch.allclose(y.mean((2, 3)), torch.zeros(3, 4), atol=1e-5), "zero mean per image and channel"
    assert torch.allclose(y.var((2, 3), unbiased=False), torch.ones(3, 4), atol=1e-3), "unit variance per image and channel"
    assert torch.allclose(y, torch.nn.functional.instance_norm(x, eps=1e-5), atol=1e-5)


def check_conditional_instance_norm():
    from . import style as St
    torch.manual_seed(0)
    cin = St.ConditionalInstanceNorm(3, 2)
    with torch.no_grad():
        cin.gamma.copy_(torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
        cin.beta.copy_(torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, -1.0]]))
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    F_ = torch.nn.functional
    y = cin(x, torch.tensor([0.0, 1.0]))
    assert y.shape == x.shape
    assert torch.allclose(y, F_.instance_norm(x, weight=cin.gamma[1], bias=cin.beta[1]), atol=1e-5), \
        "a one-hot style picks that style's row of gamma (scale) and beta (shift)"
    mix = cin(x, torch.tensor([0.5, 0.5]))
    want = F_.instance_norm(x, weight=cin.gamma.mean(0), bias=cin.beta.mean(0))
    assert torch.allclose(mix, want, atol=1e-5), "mixing styles mixes gamma and beta: style @ gamma, style @ beta"
    per = cin(x, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert torch.allclose(per[0], F_.instance_norm(x[:1], weight=cin.gamma[0], bias=cin.beta[0])[0], atol=1e-5) and \
        torch.allclose(per[1], y[1], atol=1e-5), "style (N, S): each image has its own style weights"


NB5 = {
    "neighbourhood_ssd": check_neighbourhood_ssd_exact,
    "pick_match": check_pick_match_rule,
    "efros_leung": check_efros_leung_stripes,
    "gram_matrix": check_gram_matrix_exact,
    "content_loss": check_content_loss_exact,
    "style_loss": check_style_loss_exact,
    "instance_norm": check_instance_norm_stats,
    "conditional_instance_norm": check_conditional_instance_norm,
}

NOTEBOOKS = {1: NB1, 2: NB2, 3: NB3, 4: NB4, 5: NB5}
CHECKS = {name: fn for nb in NOTEBOOKS.values() for name, fn in nb.items()}


def main(argv=None) -> int:
    """``bash course.sh check [-k nb2] [name ...]``: run the local checks, one line each."""
    import argparse
    import contextlib
    import io
    ap = argparse.ArgumentParser(prog="bash course.sh check",
                                 description="Run the local checks of the exercises against your helpers/.")
    ap.add_argument("-k", dest="select", action="append", default=[],
                    help="only the checks of a notebook (nb1 ... nb5) or of exercises whose name contains this")
    ap.add_argument("names", nargs="*", help="exercise names (default: all)")
    args = ap.parse_args(argv)
    chosen = [(n, name) for n, checks in NOTEBOOKS.items() for name in checks
              if (not args.names or name in args.names)
              and (not args.select or any(k in (f"nb{n}", name) or k in name for k in args.select))]
    unknown_names = [n for n in args.names if n not in CHECKS]
    if unknown_names or not chosen:
        from .utils import unknown
        print(f"error: {unknown('check', (unknown_names or args.select or ['?'])[0], list(CHECKS))}")
        return 2
    counts = {"passed": 0, "not done": 0, "failed": 0}
    for n, name in chosen:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ok = check(name)
        line = out.getvalue().strip().splitlines()[-1]
        print(f"nb{n} {line}", flush=True)
        counts["passed" if ok else "not done" if line.startswith("[not done]") else "failed"] += 1
    print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" (of {len(chosen)} checks)")
    return 0 if counts["passed"] == len(chosen) else 1


if __name__ == "__main__":
    import sys
    sys.exit(main())
