"""Notebook 2: saliency and occlusion.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`occlusion_map` - how much the class probability drops when a patch is hidden.
2. :func:`saliency_map` - gradient of the class score with respect to the pixels.
3. :func:`grabcut_seeds` - a saliency map turned into seeds for GrabCut segmentation.
4. :func:`guided_relu_backward` - the backward rule of guided backpropagation.
5. :func:`guided_backprop` - guided gradient of a neuron, a channel or a class.
6. :func:`class_activation_map` - CAM from the last features and the classifier weights.
7. :func:`grad_cam` - Grad-CAM at any layer; :func:`guided_grad_cam` combines the two.

Every map is computed for **one image** ``x`` of shape ``(1, 3, H, W)`` in pixel space.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import CourseError, check_images, check_positive_int, not_done, note_once

NOTEBOOK = 2   # the notebook whose exercises this module holds


def _check_one(model, x):
    return check_images(x, one=True).to(model.device)


# ============================================================================ 1. occlusion
def window_positions(height: int, width: int, window: int, stride: int) -> list[tuple[int, int]]:
    """The top-left corners ``(y, x)`` of a ``window x window`` square sliding with
    ``stride``, row by row. Only whole windows are used (``0, stride, 2 stride, ...`` while
    the window fits)."""
    check_positive_int(window, "window")
    check_positive_int(stride, "stride")
    if window > min(height, width):
        raise CourseError(f"the window ({window} px) is larger than the image ({height} x {width})")
    return [(y, x) for y in range(0, height - window + 1, stride) for x in range(0, width - window + 1, stride)]


def window_masks(height: int, width: int, window: int, stride: int) -> torch.Tensor:
    """Every position of :func:`window_positions` as a bool mask: ``(L, 1, height, width)``."""
    positions = window_positions(height, width, window, stride)
    masks = torch.zeros(len(positions), 1, height, width, dtype=torch.bool)
    for n, (y, x) in enumerate(positions):
        masks[n, 0, y:y + window, x:x + window] = True
    return masks


def occlusion_map(model, x: torch.Tensor, target, window: int = 16, stride: int = 8,
                  baseline: float = 0.5, batch_size: int = 16, progress: bool = False) -> torch.Tensor:
    """Notebook 2, exercise 1. Occlusion sensitivity of class ``target`` for one image ``x`` ``(1, 3, H, W)``.

    Slide a square of side ``window`` filled with ``baseline`` (grey by default) over the
    image with ``stride``; for each position record the **drop in the target class
    probability**, ``p(x) - p(x occluded)``. Each pixel's value is the mean drop over all
    windows that cover it (0 where none does). Runs ``batch_size`` occluded copies per
    forward pass, with no autograd. Returns ``(H, W)``: large where hiding hurts the class.
    """
    x = _check_one(model, x)
    target = model.class_index(target)
    check_positive_int(batch_size, "batch_size")
    masks = window_masks(x.shape[2], x.shape[3], window, stride).to(x.device)
    from tqdm.auto import tqdm
    ### BEGIN SOLUTION
    with torch.no_grad():
        p0 = model(x).softmax(-1)[0, target]
        drops = []
        for i in tqdm(range(0, len(masks), batch_size), disable=not progress, leave=False, desc="occlusion"):
            m = masks[i:i + batch_size]
            occluded = torch.where(m, torch.as_tensor(baseline, dtype=x.dtype, device=x.device), x)
            drops.append(p0 - model(occluded).softmax(-1)[:, target])
        drops = torch.cat(drops)
        total = (drops.view(-1, 1, 1, 1) * masks).sum(0)[0]
        count = masks.sum(0)[0]
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total)).cpu()
    ### END SOLUTION


def occlusion_map_local(model, x: torch.Tensor, target, window: int = 16, stride: int = 8,
                        baseline: float = 0.5, split: str = "blocks.1", batch_size: int = 16,
                        progress: bool = False) -> torch.Tensor:
    """The same map as :func:`occlusion_map`, computed faster by exploiting locality.

    A window changes the activations of an early layer (``split``) only inside the
    receptive fields that overlap it. So the early layers run once on the whole image and,
    per window, only on a small crop around it (aligned to the layer's stride, large enough
    that every changed unit sees no crop border); the changed units are pasted into the
    clean activation, and only the rest of the network runs at full size. The first batch
    is also computed the plain way and compared, so a network where locality does not hold
    (global operations before ``split``) falls back to :func:`occlusion_map`.
    """
    from .features import layer_receptive_field
    x = _check_one(model, x)
    target = model.class_index(target)
    H, W = x.shape[-2:]
    positions = window_positions(H, W, window, stride)
    try:
        rf = layer_receptive_field(model, split, H)
        with torch.no_grad():
            clean = model.activations(x, split)[split]
            p0 = model.run_from(split, clean).softmax(-1)[0, target]
    except CourseError:
        return occlusion_map(model, x, target, window, stride, baseline, batch_size, progress)
    except NotImplementedError as e:     # notebook 1's receptive_field is a stub: the plain way
        if not_done(e) is None:
            raise
        note_once(f"occlusion_map_local needs {not_done(e)}, which is not done yet: computing the same map "
                  "the plain way (occlusion_map, slower)")
        return occlusion_map(model, x, target, window, stride, baseline, batch_size, progress)
    S, R, O = rf.stride, rf.size, rf.offset
    side = -(-(window + 2 * R + 2 * S) // S) * S       # crop side, a multiple of the stride
    if H % S or W % S or side > min(H, W):
        return occlusion_map(model, x, target, window, stride, baseline, batch_size, progress)
    base = torch.as_tensor(baseline, dtype=x.dtype, device=x.device)

    def span(p, n_units, size):
        lo = max(0, -(-(p - O - R + 1) // S))
        hi = min(n_units - 1, (p + window - 1 - O) // S)
        start = min(max(0, ((O + lo * S) // S) * S), size - side)
        return lo, hi, start

    from tqdm.auto import tqdm
    h, w = clean.shape[-2:]
    with torch.no_grad():
        drops = []
        for b in tqdm(range(0, len(positions), batch_size), disable=not progress, leave=False, desc="occlusion"):
            batch = positions[b:b + batch_size]
            spans = [(span(y, h, H), span(xx, w, W)) for y, xx in batch]
            crops = torch.stack([x[0, :, ys[2]:ys[2] + side, xs[2]:xs[2] + side] for ys, xs in spans]).clone()
            for n, ((y, xx), (ys, xs)) in enumerate(zip(batch, spans)):
                crops[n, :, y - ys[2]:y - ys[2] + window, xx - xs[2]:xx - xs[2] + window] = base
            local = model.activations(crops, split)[split]
            acts = clean.repeat(len(batch), 1, 1, 1)
            for n, (ys, xs) in enumerate(spans):
                r0, c0 = ys[2] // S, xs[2] // S
                acts[n, :, ys[0]:ys[1] + 1, xs[0]:xs[1] + 1] = local[n, :, ys[0] - r0:ys[1] - r0 + 1, xs[0] - c0:xs[1] - c0 + 1]
            drops.append(p0 - model.run_from(split, acts).softmax(-1)[:, target])
            if b == 0:  # exactness self-check against the plain computation
                plain = x.repeat(len(batch), 1, 1, 1)
                for n, (y, xx) in enumerate(batch):
                    plain[n, :, y:y + window, xx:xx + window] = base
                plain = p0 - model(plain).softmax(-1)[:, target]
                if not torch.allclose(plain, drops[0], atol=1e-5):
                    return occlusion_map(model, x, target, window, stride, baseline, batch_size, progress)
        # the mean drop per pixel, window by window (no (L, H, W) masks: 146 MB at 224 px,
        # whose allocation alone cost more page faults than all the windows' computation)
        total = torch.zeros(H, W, dtype=torch.float64)
        count = torch.zeros(H, W, dtype=torch.float64)
        for (y, xx), d in zip(positions, torch.cat(drops).tolist()):
            total[y:y + window, xx:xx + window] += d
            count[y:y + window, xx:xx + window] += 1
    return torch.where(count > 0, total / count.clamp_min(1), 0.0).to(x.dtype).cpu()


# ============================================================================ 2. saliency
def saliency_map(model, x: torch.Tensor, target) -> torch.Tensor:
    """Notebook 2, exercise 2. Simonyan et al.'s saliency: ``|d score_target / d x|``, maximum over the 3 colours.

    ``score`` is the **unnormalized** class score (the logit, not the probability).
    Returns ``(H, W)``, non-negative.
    """
    x = _check_one(model, x)
    target = model.class_index(target)
    ### BEGIN SOLUTION
    x = x.clone().requires_grad_(True)
    model(x)[0, target].backward()
    return x.grad[0].abs().amax(0).detach().cpu()
    ### END SOLUTION


# ============================================================================ 3. segmentation
GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD = 0, 1, 2, 3   # OpenCV's GrabCut labels


def grabcut_seeds(saliency: torch.Tensor, fg_quantile: float = 0.95, bg_quantile: float = 0.30) -> np.ndarray:
    """Notebook 2, exercise 3. Seeds for GrabCut from a saliency map ``(H, W)``: ``uint8 (H, W)`` with OpenCV's
    labels.

    Pixels at or above the ``fg_quantile`` of the saliency values are sure foreground
    (``GC_FGD`` = 1); those at or below the ``bg_quantile`` are sure background (``GC_BGD``
    = 0); of the rest, those above the median are probably foreground (``GC_PR_FGD`` = 3)
    and the others probably background (``GC_PR_BGD`` = 2). The quantiles are
    ``torch.quantile`` of all the values (linear interpolation). Where a pixel is both (the
    two quantiles coincide, as in a map that is mostly one value), **sure background wins**.
    """
    s = torch.as_tensor(saliency).detach().float().cpu()
    if s.ndim != 2:
        raise CourseError(f"expected a saliency map (H, W), got shape {tuple(s.shape)}")
    if not 0 <= bg_quantile < fg_quantile <= 1:
        raise CourseError(f"need 0 <= bg_quantile < fg_quantile <= 1, got {bg_quantile}, {fg_quantile}")
    ### BEGIN SOLUTION
    hi, lo, med = (torch.quantile(s.flatten(), q) for q in (fg_quantile, bg_quantile, 0.5))
    seeds = torch.full(s.shape, GC_PR_BGD, dtype=torch.uint8)
    seeds[s > med] = GC_PR_FGD
    seeds[s >= hi] = GC_FGD
    seeds[s <= lo] = GC_BGD
    return seeds.numpy()
    ### END SOLUTION


def segment(image: np.ndarray, saliency: torch.Tensor, fg_quantile: float = 0.95, bg_quantile: float = 0.30,
            iterations: int = 5, smooth: float = 2.0) -> np.ndarray:
    """Foreground mask ``bool (H, W)`` of ``image`` (``uint8 (H, W, 3)``) by OpenCV's GrabCut,
    seeded from the saliency map (smoothed with a Gaussian of ``smooth`` px first)."""
    import cv2
    from torchvision.transforms.v2.functional import gaussian_blur
    img = np.ascontiguousarray(np.asarray(image)[..., :3].astype(np.uint8))
    s = torch.as_tensor(saliency).float()
    if s.shape != img.shape[:2]:
        raise CourseError(f"saliency {tuple(s.shape)} and image {img.shape[:2]} differ in size")
    if smooth > 0:
        k = int(4 * smooth) | 1
        s = gaussian_blur(s[None, None], [k, k], [smooth, smooth])[0, 0]
    mask = grabcut_seeds(s, fg_quantile, bg_quantile).copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(img[..., ::-1].copy(), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    return (mask == GC_FGD) | (mask == GC_PR_FGD)


# ============================================================================ 4-5. guided backprop
def guided_relu_backward(x: torch.Tensor, grad_output: torch.Tensor, upper: float = float("inf")) -> torch.Tensor:
    """Notebook 2, exercise 4. The gradient that guided backpropagation passes back through ``min(max(x, 0), upper)``.

    ``x``: the activation's input (its output works as well: ``0 < x < upper`` holds for
    both at the same places); ``grad_output``: the gradient arriving from above.
    Pass ``grad_output`` only where the unit was active in the forward pass
    (``0 < x < upper``: ReLU has ``upper = inf``, ReLU6 ``upper = 6``) **and** the
    gradient is positive; zero elsewhere. Same shape as ``x``.
    """
    ### BEGIN SOLUTION
    # = grad_output.clamp(min=0) * ((x > 0) & (x < upper)), in two passes instead of four:
    # torch's own fused ReLU / ReLU6 backward kernels applied to the positive gradient
    positive = grad_output.clamp(min=0)
    if upper == float("inf"):
        return torch.ops.aten.threshold_backward(positive, x, 0)
    return torch.ops.aten.hardtanh_backward(positive, x, 0, upper)
    ### END SOLUTION


class _GuidedFn(torch.autograd.Function):
    # Saves the output, not the input: 0 < out < upper exactly where 0 < x < upper, and the
    # output can then be computed in place where the original module was in place.
    @staticmethod
    def forward(ctx, x, upper, inplace):
        if inplace:
            ctx.mark_dirty(x)
            out = x.clamp_(min=0) if upper == float("inf") else x.clamp_(0, upper)
        else:
            out = x.clamp(min=0) if upper == float("inf") else x.clamp(0, upper)
        ctx.save_for_backward(out)
        ctx.upper = upper
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return guided_relu_backward(out, grad_output, ctx.upper), None, None


class GuidedReLU(nn.Module):
    """A ReLU (``upper=inf``) or ReLU6 (``upper=6``) whose backward is the guided rule."""

    def __init__(self, upper: float = float("inf"), inplace: bool = False):
        super().__init__()
        self.upper, self.inplace = upper, inplace

    def forward(self, x):
        return _GuidedFn.apply(x, self.upper, self.inplace)


@contextlib.contextmanager
def guided(model):
    """Within the block, every ``nn.ReLU`` and ``nn.ReLU6`` of ``model`` (in-place or not)
    backpropagates by the guided rule. The original modules are always put back."""
    swapped = []
    try:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) in (nn.ReLU, nn.ReLU6):
                    upper = 6.0 if isinstance(child, nn.ReLU6) else float("inf")
                    setattr(parent, name, GuidedReLU(upper, child.inplace))
                    swapped.append((parent, name, child))
        if not swapped:
            raise CourseError(f"{getattr(model, 'name', 'the model')} has no nn.ReLU or nn.ReLU6 modules to guide")
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def guided_backprop(model, x: torch.Tensor, layer: str | None = None, channel: int | None = None,
                    unit: tuple[int, int] | None = None, target=None) -> torch.Tensor:
    """Notebook 2, exercise 5. Guided backpropagation (Springenberg et al.) for one image ``x`` ``(1, 3, H, W)``.

    The objective is the class score of ``target`` (when ``layer`` is None), or the
    activation of ``channel`` at ``layer``: summed over the whole map, or at one spatial
    ``unit = (row, col)``. Its gradient with respect to the image is taken with every
    ReLU/ReLU6 passing back only positive gradients where it was active
    (:func:`guided_relu_backward`). Returns ``(3, H, W)``.
    """
    x = _check_one(model, x)
    if layer is None:
        if target is None:
            raise CourseError("give a target class, or a layer and a channel")
        target = model.class_index(target)
    else:
        model.layer(layer)
        if channel is None:
            raise CourseError("give the channel to visualize at that layer")
    with guided(model):
        ### BEGIN SOLUTION
        x = x.clone().requires_grad_(True)
        if layer is None:
            model(x)[0, target].backward()
        else:
            with model.trace(layer, keep_graph=True) as t:
                model(x)
            act = t.activations[layer]
            _check_channel_unit(act, channel, unit, layer)
            (act[0, channel].sum() if unit is None else act[0, channel, unit[0], unit[1]]).backward()
        return x.grad[0].detach().cpu()
        ### END SOLUTION


def _check_channel_unit(act, channel, unit, layer):
    if not isinstance(channel, (int, np.integer)) or not 0 <= channel < act.shape[1]:
        raise CourseError(f"layer {layer!r} has channels 0..{act.shape[1] - 1}, got {channel!r}")
    if unit is not None and not (0 <= unit[0] < act.shape[2] and 0 <= unit[1] < act.shape[3]):
        raise CourseError(f"layer {layer!r} has {act.shape[2]} x {act.shape[3]} units, got {unit}")


def plain_gradient(model, x, layer, channel, unit=None) -> torch.Tensor:
    """The ordinary gradient of the same objective as :func:`guided_backprop` (for comparison)."""
    x = _check_one(model, x).clone().requires_grad_(True)
    act = model.activations(x, layer, keep_graph=True)[layer]      # the forward pass stops at the layer
    _check_channel_unit(act, channel, unit, layer)
    objective = act[0, channel].sum() if unit is None else act[0, channel, unit[0], unit[1]]
    return torch.autograd.grad(objective, x)[0][0].detach().cpu()


# ============================================================================ 6-7. CAM
def class_activation_map(features: torch.Tensor, fc_weight: torch.Tensor, target: int) -> torch.Tensor:
    """Notebook 2, exercise 6. CAM (Zhou et al. 2016): ``sum_c w[target, c] * features[c]``.

    ``features``: the last conv features of one image ``(C, h, w)`` (before global average
    pooling); ``fc_weight``: the final linear layer's weight ``(K, C)``. Returns ``(h, w)``
    (no ReLU, no scaling).
    """
    if features.ndim != 3 or fc_weight.ndim != 2 or fc_weight.shape[1] != features.shape[0]:
        raise CourseError(f"expected features (C, h, w) and weights (K, C) with the same C, got "
                          f"{tuple(features.shape)} and {tuple(fc_weight.shape)}")
    ### BEGIN SOLUTION
    return torch.einsum("c,chw->hw", fc_weight[target].float(), features.float())
    ### END SOLUTION


def cam(model, x: torch.Tensor, target) -> torch.Tensor:
    """CAM of ``target`` for one image, at the model's last conv layer: ``(h, w)``."""
    x = _check_one(model, x)
    target = model.class_index(target)
    fc = model.layer(model.classifier)
    if not isinstance(fc, nn.Linear):
        raise CourseError(f"CAM needs a final linear layer after global average pooling; {model.name} "
                          f"ends in {type(fc).__name__}: use grad_cam")
    feats = model.activations(x, model.last_conv)[model.last_conv][0]
    return class_activation_map(feats, fc.weight.detach(), target).cpu()


def grad_cam(model, x: torch.Tensor, target, layer: str | None = None) -> torch.Tensor:
    """Notebook 2, exercise 7. Grad-CAM (Selvaraju et al.) of class ``target`` at ``layer`` (default: the last
    conv layer).

    Weights: the gradient of the class score with respect to the layer's activations
    ``A`` ``(C, h, w)``, averaged over space: ``alpha_c``. Map:
    ``ReLU(sum_c alpha_c * A_c)``, shape ``(h, w)`` (not upsampled, not rescaled).
    ``model.cut_at(layer)`` gives the layer's output as a leaf, so the gradient stops there.
    """
    x = _check_one(model, x)
    target = model.class_index(target)
    layer = layer or model.last_conv
    model.layer(layer)
    ### BEGIN SOLUTION
    with model.cut_at(layer) as cut:    # backprop only from the score down to the layer
        score = model(x)[0, target]
    g = torch.autograd.grad(score, cut.leaf)[0][0]
    a = cut.leaf.detach()[0]
    alpha = g.mean(dim=(1, 2))
    return F.relu(torch.einsum("c,chw->hw", alpha, a)).cpu()
    ### END SOLUTION


def upsample(m: torch.Tensor, size) -> torch.Tensor:
    """A map ``(h, w)`` resized bilinearly to ``size = (H, W)``."""
    return F.interpolate(torch.as_tensor(m)[None, None].float(), size=tuple(size), mode="bilinear",
                         align_corners=False)[0, 0]


def guided_grad_cam(model, x: torch.Tensor, target, layer: str | None = None) -> torch.Tensor:
    """Guided Grad-CAM: guided backprop of the class times the upsampled Grad-CAM: ``(3, H, W)``."""
    gc = upsample(grad_cam(model, x, target, layer), x.shape[-2:])
    return guided_backprop(model, x, target=target) * gc
