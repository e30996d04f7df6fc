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
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import CourseError, check_images, check_positive_int, not_done, note_once

NOTEBOOK = 2   # the notebook whose exercises this module holds


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
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    check_positive_int(batch_size, "batch_size")
    masks = window_masks(x.shape[2], x.shape[3], window, stride).to(x.device)
    from tqdm.auto import tqdm
    # YOUR CODE HERE: exercise `occlusion_map`
    raise NotImplementedError("exercise `occlusion_map` in helpers/saliency.py is not done yet: write its body here")


def occlusion_map_local(model, x: torch.Tensor, target, window: int = 16, stride: int = 8,
                        baseline: float = 0.5, split: str = "blocks.1", batch_size: int = 16,
                        progress: bool = False) -> torch.Tensor:
    """The same map as your :func:`occlusion_map`, computed faster by exploiting locality.

    Your ``occlusion_map`` runs unchanged, but on a stand-in for the model
    (:class:`LocalForward`): a window changes the activations of an early layer (``split``)
    only inside the receptive fields that overlap it, so the stand-in runs the early layers
    once on the whole image and, for each occluded copy, only on a small crop around the
    change; it pastes the changed units into the clean activation and runs the rest of the
    network at full size. Where locality does not hold (the first batch is also run the plain
    way and compared), or without ``split``'s receptive field (notebook 1's exercise), the
    stand-in is the plain model.
    """
    from .features import layer_receptive_field
    x = check_images(x, one=True, device=model.device)
    try:
        rf = layer_receptive_field(model, split, x.shape[-2])
        stand_in = LocalForward(model, x, split, rf)
    except CourseError:
        stand_in = model
    except NotImplementedError as e:     # notebook 1's receptive_field is a stub: the plain way
        if not_done(e) is None:
            raise
        note_once(f"occlusion_map_local needs {not_done(e)}, which is not done yet: computing the same map "
                  "the plain way (occlusion_map, slower)")
        stand_in = model
    return occlusion_map(stand_in, x, target, window, stride, baseline, batch_size, progress)


class _Span(NamedTuple):
    """On one axis: the first and last changed units, and the crop's start and side (pixels)."""
    first: int
    last: int
    start: int
    side: int


class LocalForward:
    """Stands in for ``model`` (every attribute is the model's) when it is called on copies of
    one image ``x`` ``(1, 3, H, W)`` that differ from it in a small region each: the layers up
    to ``split`` (receptive field ``rf``) run on a crop around the change only. The logits
    are the model's, up to rounding; the first call with changed images is checked against
    the plain forward pass, and any image the trick cannot serve is run the plain way."""

    def __init__(self, model, x: torch.Tensor, split: str, rf):
        self.model, self.x, self.split, self.rf = model, x, split, rf
        with torch.no_grad():
            self.clean = model.activations(x, split)[split]
            self.clean_logits = model.run_from(split, self.clean)
        self.checked = False
        self.plain = x.shape[-2] % rf.stride or x.shape[-1] % rf.stride

    def __getattr__(self, name):
        return getattr(self.model, name)

    def _span(self, lo_px: int, hi_px: int, n_units: int, size: int) -> "_Span | None":
        """The units whose field meets pixels ``lo_px..hi_px`` on one axis, and the crop to run."""
        S, R, O = self.rf.stride, self.rf.size, self.rf.offset
        side = -(-((hi_px - lo_px + 1) + 2 * R + 2 * S) // S) * S     # a multiple of the stride
        if side > size:
            return None
        lo = max(0, -(-(lo_px - O - R + 1) // S))
        hi = min(n_units - 1, (hi_px - O) // S)
        return _Span(lo, hi, min(max(0, ((O + lo * S) // S) * S), size - side), side)

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = torch.as_tensor(batch)
        if self.plain or batch.ndim != 4 or batch.shape[1:] != self.x.shape[1:]:
            return self.model(batch)
        H, W = batch.shape[-2:]
        h, w = self.clean.shape[-2:]
        S = self.rf.stride
        changed = (batch != self.x).any(1)                          # (n, H, W)
        logits = self.clean_logits.repeat(len(batch), 1)
        plain, plans = [], {}
        for n in range(len(batch)):
            ys, xs = torch.nonzero(changed[n].any(1)).flatten(), torch.nonzero(changed[n].any(0)).flatten()
            if len(ys) == 0:
                continue                                            # the image itself
            rows, cols = self._span(int(ys[0]), int(ys[-1]), h, H), self._span(int(xs[0]), int(xs[-1]), w, W)
            if rows is None or cols is None:
                plain.append(n)                                     # too large a change: the plain way
            else:
                plans.setdefault((rows.side, cols.side), []).append((n, rows, cols))
        acts = self.clean.repeat(len(batch), 1, 1, 1)
        for (side_y, side_x), group in plans.items():               # one forward pass per crop size
            crops = torch.stack([batch[n, :, r.start:r.start + side_y, c.start:c.start + side_x] for n, r, c in group])
            local = self.model.activations(crops, self.split)[self.split]
            for k, (n, r, c) in enumerate(group):
                r0, c0 = r.start // S, c.start // S
                acts[n, :, r.first:r.last + 1, c.first:c.last + 1] = \
                    local[k, :, r.first - r0:r.last - r0 + 1, c.first - c0:c.last - c0 + 1]
        served = [n for group in plans.values() for n, _, _ in group]
        if served:
            logits[served] = self.model.run_from(self.split, acts[served])
            if not self.checked:                                    # does locality hold here?
                self.checked = True
                if not torch.allclose(logits[served].softmax(-1), self.model(batch[served]).softmax(-1), atol=1e-5):
                    self.plain = True
                    return self.model(batch)
        if plain:
            logits[plain] = self.model(batch[plain])
        return logits


# ============================================================================ 2. saliency
def saliency_map(model, x: torch.Tensor, target) -> torch.Tensor:
    """Notebook 2, exercise 2. Simonyan et al.'s saliency: ``|d score_target / d x|``, maximum over the 3 colours.

    ``score`` is the **unnormalized** class score (the logit, not the probability).
    Returns ``(H, W)``, non-negative.
    """
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    # YOUR CODE HERE: exercise `saliency_map`
    raise NotImplementedError("exercise `saliency_map` in helpers/saliency.py is not done yet: write its body here")


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
    # YOUR CODE HERE: exercise `grabcut_seeds`
    raise NotImplementedError("exercise `grabcut_seeds` in helpers/saliency.py is not done yet: write its body here")


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
    # YOUR CODE HERE: exercise `guided_relu_backward`
    raise NotImplementedError("exercise `guided_relu_backward` in helpers/saliency.py is not done yet: write its body here")


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
    x = check_images(x, one=True, device=model.device)
    if layer is None:
        if target is None:
            raise CourseError("give a target class, or a layer and a channel")
        target = model.class_index(target)
    else:
        model.layer(layer)
        if channel is None:
            raise CourseError("give the channel to visualize at that layer")
    with guided(model):
        # YOUR CODE HERE: exercise `guided_backprop`
        raise NotImplementedError("exercise `guided_backprop` in helpers/saliency.py is not done yet: write its body here")


def _check_channel_unit(act, channel, unit, layer):
    if not isinstance(channel, (int, np.integer)) or not 0 <= channel < act.shape[1]:
        raise CourseError(f"layer {layer!r} has channels 0..{act.shape[1] - 1}, got {channel!r}")
    if unit is not None and not (0 <= unit[0] < act.shape[2] and 0 <= unit[1] < act.shape[3]):
        raise CourseError(f"layer {layer!r} has {act.shape[2]} x {act.shape[3]} units, got {unit}")


def plain_gradient(model, x, layer, channel, unit=None) -> torch.Tensor:
    """The ordinary gradient of a channel of a convolutional ``layer`` with respect to the
    image, for comparison with :func:`guided_backprop` on the same unit. Only for a layer's
    channel maps ``(1, C, h, w)`` and only with the model's own ReLUs (not inside
    :func:`guided`): a class score's gradient is what your exercises compute."""
    if any(isinstance(m, GuidedReLU) for m in model.modules()):
        raise CourseError("plain_gradient is the ordinary gradient: call it outside `with guided(model):`")
    x = check_images(x, one=True, device=model.device).clone().requires_grad_(True)
    act = model.activations(x, layer, keep_graph=True)[layer]      # the forward pass stops at the layer
    if act.ndim != 4:
        raise CourseError(f"plain_gradient is for the channel maps of a convolutional layer; {layer!r} gives "
                          f"shape {tuple(act.shape)}")
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
    # YOUR CODE HERE: exercise `class_activation_map`
    raise NotImplementedError("exercise `class_activation_map` in helpers/saliency.py is not done yet: write its body here")


def cam(model, x: torch.Tensor, target) -> torch.Tensor:
    """CAM of ``target`` for one image, at the model's last conv layer: ``(h, w)``."""
    x = check_images(x, one=True, device=model.device)
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
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    layer = layer or model.last_conv
    model.layer(layer)
    # YOUR CODE HERE: exercise `grad_cam`
    raise NotImplementedError("exercise `grad_cam` in helpers/saliency.py is not done yet: write its body here")


def upsample(m: torch.Tensor, size) -> torch.Tensor:
    """A map ``(h, w)`` resized bilinearly to ``size = (H, W)``."""
    return F.interpolate(torch.as_tensor(m)[None, None].float(), size=tuple(size), mode="bilinear",
                         align_corners=False)[0, 0]


def guided_grad_cam(model, x: torch.Tensor, target, layer: str | None = None) -> torch.Tensor:
    """Guided Grad-CAM: guided backprop of the class times the upsampled Grad-CAM: ``(3, H, W)``."""
    gc = upsample(grad_cam(model, x, target, layer), x.shape[-2:])
    return guided_backprop(model, x, target=target) * gc
