"""Notebook 2, part two: can we trust these maps?

Exercises 8-13 of notebook 2 (1-7 are in :mod:`helpers.saliency`; complete the bodies marked
``YOUR CODE HERE``):

8. :func:`smoothgrad` - the mean saliency map over noisy copies of the image (Smilkov et al. 2017).
9. :func:`integrated_gradients` - the gradient integrated along the straight path from a
   baseline image to the image, by the right Riemann sum (Sundararajan et al. 2017).
10. :func:`randomized_weights` - the model's weights with its layers re-initialized from the
    classifier down to a given layer (the cascading sanity check of Adebayo et al. 2018).
11. :func:`ranked_masks` - the pixels in the order of a map, a fixed fraction more at each step.
12. :func:`deletion_curve` - the class probability while the top pixels are removed (Petsiuk et al. 2018).
13. :func:`insertion_curve` - the class probability while the top pixels are revealed on a blurred copy.

Plumbing (complete): :func:`blurred` (the insertion start), :func:`curve_area` (area under a
curve on [0, 1]), :func:`completeness` (Integrated Gradients' sum against the score
difference), :func:`cascade_layers` and :func:`cascade_steps` (the layers in randomization
order), :func:`randomize_from_top` (a copy of the model with the weights of
:func:`randomized_weights`), :func:`pixel_map` (any map as one value per pixel), :func:`rank_correlation`
(Spearman, scipy) and :func:`map_ssim` (SSIM, scikit-image), :func:`random_map` and
:func:`centre_map` (the two baselines of the faithfulness table), :func:`standard_methods`
(the six maps of notebook 2 as functions), :func:`cascading_randomization` (the sanity check
over methods and layers), :func:`curves_on_photo` and :func:`faithfulness_table` (deletion and
insertion over methods and photos). Their figures are in :mod:`helpers.display`
(``show_cascade``, ``plot_cascade_similarity``, ``show_curves``).

Every map is computed for **one image** ``x`` of shape ``(1, 3, H, W)`` in pixel space; the
class score is the logit (as in :func:`helpers.saliency.saliency_map`), the curves use the
softmax probability (as Petsiuk et al. do).
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import saliency as Sa
from .utils import CourseError, check_images, check_positive_int, unknown

SIGMA = 0.15         # SmoothGrad's noise: 15 % of the [0, 1] pixel range (Smilkov et al.: 10-20 %)
BLUR_SIGMA = 5.0     # the insertion start: RISE's blur (Gaussian, sigma 5 px, 11 x 11 kernel)
BLUR_KERNEL = 11
NOTEBOOK = 2         # the notebook whose exercises this module holds


# ============================================================================ input checks
def _check_sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating, np.integer)) \
            or not math.isfinite(sigma) or sigma < 0:
        raise CourseError(f"sigma is a noise standard deviation in pixel units (a number >= 0, "
                          f"e.g. 0.15 = 15 % of the [0, 1] range), got {sigma!r}")
    return float(sigma)


def _baseline_image(baseline, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    """``None`` (black), a grey level in [0, 1] or an image of x's size, as ``(1, 3, H, W)``."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float, np.floating, np.integer)) and not isinstance(baseline, bool):
        if not 0 <= float(baseline) <= 1:
            raise CourseError(f"a {name} grey level is a pixel value in [0, 1], got {baseline}")
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, torch.Tensor):
        b = baseline.detach().to(device=x.device, dtype=x.dtype)
        if b.ndim == 3:
            b = b[None]
        if tuple(b.shape) != tuple(x.shape):
            raise CourseError(f"the {name} image must have the image's shape {tuple(x.shape)}, "
                              f"got {tuple(baseline.shape)}")
        return b
    raise CourseError(f"{name} is None (black), a grey level in [0, 1] or an image tensor "
                      f"{tuple(x.shape)}, got {type(baseline).__name__}")


def _check_map(saliency, size=None) -> torch.Tensor:
    """A map with one value per pixel ``(H, W)`` (of ``size`` when given), as a float tensor."""
    if isinstance(saliency, np.ndarray):
        saliency = torch.from_numpy(np.ascontiguousarray(saliency))
    if not isinstance(saliency, torch.Tensor):
        raise CourseError(f"a map is a tensor (H, W), got {type(saliency).__name__}")
    s = saliency.detach().float().cpu()
    if s.ndim == 3 and s.shape[0] == 3:
        raise CourseError(f"the map has shape {tuple(s.shape)} (one value per colour): reduce it to one "
                          "value per pixel first, e.g. trust.pixel_map(m) (|m| maximum over colours)")
    if s.ndim != 2:
        raise CourseError(f"a map has one value per pixel, shape (H, W); got {tuple(s.shape)}")
    if size is not None and tuple(s.shape) != tuple(size):
        raise CourseError(f"the map is {tuple(s.shape)} but the image is {tuple(size)}: upsample it first, "
                          "e.g. trust.pixel_map(m, size=x.shape[-2:])")
    if not torch.isfinite(s).all():
        raise CourseError("the map contains NaN or infinite values")
    return s


def _steps_of(fraction) -> int:
    """The number of steps for a fraction of the pixels per step: 1 / fraction, a whole number."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating, np.integer)) \
            or not 0 < fraction <= 1:
        raise CourseError(f"fraction is the share of the pixels changed per step, in (0, 1], got {fraction!r}")
    steps = round(1 / fraction)
    if abs(steps * fraction - 1) > 1e-6:
        raise CourseError(f"1 / fraction must be a whole number of steps (e.g. 0.05 -> 20 steps, 0.1 -> 10), "
                          f"got fraction {fraction} (1 / fraction = {1 / fraction:.4g})")
    return steps


# ============================================================================ 8. SmoothGrad
def smoothgrad(model, x: torch.Tensor, target, n: int = 25, sigma: float = SIGMA,
               generator: torch.Generator | None = None, batch_size: int = 8) -> torch.Tensor:
    """Notebook 2, exercise 8. SmoothGrad (Smilkov et al. 2017): the mean of ``n`` saliency maps of noisy
    copies of ``x``.

    ``x``: one image ``(1, 3, H, W)`` in pixel space. The noise is drawn in **one call**,
    ``noise = sigma * torch.randn((n, 3, H, W), generator=generator)``: ``sigma`` is the
    standard deviation **in pixel units** (0.15 is 15 % of the [0, 1] range). Copy ``i`` is
    ``x + noise[i]`` (not clamped to [0, 1]); its map is ``|d logit_target / d copy|``, maximum
    over the 3 colours: the saliency map's formula, but take the gradient here directly
    (``torch.autograd.grad``), since ``saliency_map`` refuses images outside [0, 1] and the
    copies must not be clamped. Runs ``batch_size`` copies per forward/backward pass. ``generator``: a seeded ``torch.Generator``, so that a run repeats;
    None: a new one seeded with 0. Returns the mean map ``(H, W)``, non-negative.
    """
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    n = check_positive_int(n, "n")
    sigma = _check_sigma(sigma)
    batch_size = check_positive_int(batch_size, "batch_size")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    # YOUR CODE HERE: exercise `smoothgrad`
    raise NotImplementedError("exercise `smoothgrad` in helpers/trust.py is not done yet: write its body here")


# ============================================================================ 9. Integrated Gradients
def integrated_gradients(model, x: torch.Tensor, target, baseline=None, steps: int = 32,
                         batch_size: int = 16) -> torch.Tensor:
    """Notebook 2, exercise 9. Integrated Gradients (Sundararajan et al. 2017) of class ``target`` for one
    image ``x``.

    ``attribution = (x - baseline) * (1 / steps) * sum_{k=1..steps} grad f(baseline + (k / steps) (x - baseline))``

    where ``f`` is the target's logit. This is the **right Riemann sum** of the path integral:
    the points ``alpha_k = k / steps``, ``k = 1 .. steps`` (the last one is ``x`` itself, the
    baseline itself is never evaluated), each with weight ``1 / steps`` (Captum's
    ``method="riemann_right"``). Completeness: the attributions sum to about
    ``f(x) - f(baseline)``; the gap shrinks as ``steps`` grows (see :func:`completeness`).
    ``baseline``: None (black: all zeros in pixel space), a grey level in [0, 1], or an image
    ``(1, 3, H, W)`` such as :func:`blurred` ``(x)``. Runs ``batch_size`` points of the path
    per forward/backward pass. Returns ``(3, H, W)``, signed, with no graph attached.
    """
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    baseline = _baseline_image(baseline, x)
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    # YOUR CODE HERE: exercise `integrated_gradients`
    raise NotImplementedError("exercise `integrated_gradients` in helpers/trust.py is not done yet: write its body here")


def completeness(model, x: torch.Tensor, target, attributions: torch.Tensor, baseline=None) -> dict:
    """Integrated Gradients' completeness: ``{"sum": sum of attributions, "difference": f(x) -
    f(baseline), "gap": |sum - difference|, "relative_gap": gap / |difference|}`` (logits)."""
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    b = _baseline_image(baseline, x)
    a = torch.as_tensor(attributions).detach().float()
    if tuple(a.shape) != tuple(x.shape[1:]):
        raise CourseError(f"attributions must have the image's shape {tuple(x.shape[1:])}, got {tuple(a.shape)}")
    with torch.no_grad():
        f = model(torch.cat([x, b]))[:, target].double().cpu()
    total, diff = float(a.double().sum()), float(f[0] - f[1])
    gap = abs(total - diff)
    return {"sum": total, "difference": diff, "gap": gap, "relative_gap": gap / max(abs(diff), 1e-12)}


def path_scores(model, x: torch.Tensor, target, baseline=None, points: int = 257,
                batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The class score (logit) along the straight path of Integrated Gradients: ``(alphas,
    scores)``, both ``(points,)``, with ``alphas`` evenly spaced from 0 (the baseline) to 1
    (the image). Forward passes only, in batches: the integral of IG's integrand is the
    score's rise along this path, so this curve shows where a quadrature rule must look."""
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    b = _baseline_image(baseline, x)
    points = check_positive_int(points, "points", minimum=2)
    alphas = torch.linspace(0, 1, points)
    scores = []
    with torch.no_grad():
        for i in range(0, points, batch_size):
            a = alphas[i:i + batch_size].view(-1, 1, 1, 1).to(x.device)
            scores.append(model(b + a * (x - b))[:, target].float().cpu())
    return alphas, torch.cat(scores)


def rise_interval(alphas, scores, share: float = 0.8) -> tuple[float, float]:
    """Where along the path the score makes the middle ``share`` of its rise from the baseline
    to the image: the first ``alpha`` at which it has made ``(1 - share) / 2`` of the change,
    and the first at which it has made ``(1 + share) / 2``."""
    a, f = torch.as_tensor(alphas).double(), torch.as_tensor(scores).double()
    done = (f - f[0]) / (f[-1] - f[0]).clamp_min(1e-12) if f[-1] >= f[0] else (f[0] - f) / (f[0] - f[-1])
    lo, hi = (1 - share) / 2, (1 + share) / 2
    return float(a[int(torch.nonzero(done >= lo - 1e-6)[0])]), float(a[int(torch.nonzero(done >= hi - 1e-6)[0])])


# ============================================================================ 10. randomization
def cascade_layers(model) -> list[str]:
    """The layers :func:`randomize_from_top` can stop at, **from the top**: the model's
    ``main_layers`` that hold parameters, in reverse order. For EfficientNet-Lite0:
    ``classifier, bn2, conv_head, blocks.6, ..., blocks.0, bn1, conv_stem``."""
    return [n for n in reversed(model.main_layers) if next(model.layer(n).parameters(), None) is not None]


def cascade_steps(model, n: int = 5) -> list[str]:
    """``n`` layers of :func:`cascade_layers`, evenly spaced from the top one (the classifier)
    to the bottom one (the first conv): the columns of the cascading randomization."""
    layers = cascade_layers(model)
    n = min(check_positive_int(n, "n"), len(layers))
    if n == 1:
        return layers[:1]
    return [layers[round(i * (len(layers) - 1) / (n - 1))] for i in range(n)]


def randomized_weights(model, down_to: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Notebook 2, exercise 10. The weights (a ``state_dict``) of ``model`` with its layers from the top down to
    ``down_to`` (included) re-initialized, as in Adebayo et al.'s cascading randomization.
    ``model`` itself is never changed: work on a copy (``copy.deepcopy(model)``).

    The layers, from the top: :func:`cascade_layers` ``(model)`` (for EfficientNet-Lite0
    ``classifier``, ``bn2``, ``conv_head``, ``blocks.6``, ..., ``conv_stem``). Every
    sub-module of the chosen layers that has a ``reset_parameters()`` method gets it called:
    the values of a freshly built layer (PyTorch's defaults: Kaiming-uniform weights, uniform
    biases). That call is all a BatchNorm layer needs too: its ``reset_parameters()`` already
    sets scale 1, shift 0, running mean 0 and running variance 1, so that a randomized
    BatchNorm normalizes nothing (as Quantus's ``MPRT`` does; Adebayo et al. keep nothing of a
    trained layer either). Seeded: inside
    ``torch.random.fork_rng()`` (the caller's random stream is left as it was),
    ``torch.manual_seed(seed)`` once, then the layers from the top, in ``layer.modules()``
    order within a layer; so the top layers get the same values whatever ``down_to`` is,
    and each step of the cascade only adds layers to the one before.
    Returns the copy's ``state_dict()`` (names as in ``model.state_dict()``).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise CourseError(f"seed must be an integer, got {seed!r}")
    layers = cascade_layers(model)
    if down_to not in layers:
        raise unknown("layer to randomize down to", down_to, layers, show_all=True)
    chosen = layers[:layers.index(down_to) + 1]        # from the top, down to down_to
    # YOUR CODE HERE: exercise `randomized_weights`
    raise NotImplementedError("exercise `randomized_weights` in helpers/trust.py is not done yet: write its body here")


def randomize_from_top(model, down_to: str, seed: int = 0):
    """A **copy** of ``model`` (a wrapped model, frozen, in eval mode) with the weights of
    :func:`randomized_weights` ``(model, down_to, seed)``: its layers from the top down to
    ``down_to`` re-initialized. ``model`` is never changed."""
    state = randomized_weights(model, down_to, seed)
    randomized = copy.deepcopy(model)
    randomized.load_state_dict(state)
    return randomized


# ============================================================================ 11-13. deletion / insertion
def ranked_masks(saliency: torch.Tensor, fraction: float = 0.05) -> torch.Tensor:
    """Notebook 2, exercise 11. The pixels in the order of a map, a fixed fraction more at each step.

    ``saliency``: ``(H, W)``, larger = more important. ``steps = 1 / fraction`` (must be a whole
    number). Returns ``bool (steps + 1, H, W)``: mask ``k`` is True at the ``k * H * W // steps``
    (floor) pixels that rank highest, so mask 0 is empty and mask ``steps`` is full. Ties: the
    pixel that comes first in row-major order (lower ``row * W + col``) ranks higher
    (``torch.argsort(..., descending=True, stable=True)``).
    """
    s = _check_map(saliency)
    steps = _steps_of(fraction)
    # YOUR CODE HERE: exercise `ranked_masks`
    raise NotImplementedError("exercise `ranked_masks` in helpers/trust.py is not done yet: write its body here")


def deletion_curve(model, x: torch.Tensor, target, saliency: torch.Tensor, fraction: float = 0.05,
                   baseline=0.0, batch_size: int = 16) -> torch.Tensor:
    """Notebook 2, exercise 12. Deletion (Petsiuk et al. 2018): the target's probability while the map's top pixels
    are replaced by ``baseline``, a fraction of the pixels more at each step.

    ``x``: one image ``(1, 3, H, W)``; ``saliency``: ``(H, W)``, the same size. Image ``k`` is
    ``x`` with the pixels of :func:`ranked_masks` ``(saliency, fraction)[k]`` (all 3 colours)
    taken from ``baseline``: 0.0 (black, the default), a grey level, or an image
    ``(1, 3, H, W)``. Returns the softmax probability of ``target`` for each image, ``(steps +
    1,)``: entry 0 is ``p(x)``, the last is ``p(baseline)``. Runs ``batch_size`` images per
    forward pass, with no autograd. A faithful map makes the curve fall fast (small area).
    """
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    s = _check_map(saliency, x.shape[-2:])
    base = _baseline_image(baseline, x)
    _steps_of(fraction)
    batch_size = check_positive_int(batch_size, "batch_size")
    # YOUR CODE HERE: exercise `deletion_curve`
    raise NotImplementedError("exercise `deletion_curve` in helpers/trust.py is not done yet: write its body here")


def insertion_curve(model, x: torch.Tensor, target, saliency: torch.Tensor, fraction: float = 0.05,
                    blur_sigma: float = BLUR_SIGMA, batch_size: int = 16) -> torch.Tensor:
    """Notebook 2, exercise 13. Insertion (Petsiuk et al. 2018): the target's probability while the map's top pixels
    of ``x`` are revealed on a blurred copy, a fraction of the pixels more at each step.

    Image ``k`` is :func:`blurred` ``(x, blur_sigma)`` with the pixels of :func:`ranked_masks`
    ``(saliency, fraction)[k]`` taken from ``x``. Returns ``(steps + 1,)`` softmax
    probabilities: entry 0 is ``p(blurred x)``, the last is ``p(x)``. Batched, no autograd.
    (Insertion is deletion seen from the other side: which image starts, which one fills.)
    A faithful map makes the curve rise fast (large area).
    """
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    _check_map(saliency, x.shape[-2:])
    _steps_of(fraction)
    blur_sigma = _check_sigma(blur_sigma)
    batch_size = check_positive_int(batch_size, "batch_size")
    # YOUR CODE HERE: exercise `insertion_curve`
    raise NotImplementedError("exercise `insertion_curve` in helpers/trust.py is not done yet: write its body here")


def blurred(x: torch.Tensor, sigma: float = BLUR_SIGMA, kernel_size: int = BLUR_KERNEL) -> torch.Tensor:
    """``x`` ``(N, 3, H, W)`` blurred by a Gaussian of ``sigma`` px on a ``kernel_size`` square
    (reflected borders; the same as torchvision's ``gaussian_blur``): the start of the
    insertion curve (RISE: sigma 5, 11 x 11)."""
    x = check_images(x, "x")
    sigma = _check_sigma(sigma)
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if sigma == 0:
        return x.clone()
    k = min(kernel_size | 1, 2 * min(x.shape[-2:]) - 1)     # reflected borders need k // 2 < side
    d = torch.arange(k, dtype=x.dtype, device=x.device) - k // 2
    g = torch.exp(-0.5 * (d / sigma) ** 2)
    g = g / g.sum()
    pad = k // 2
    y = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    y = F.conv2d(y, g.view(1, 1, 1, k).expand(3, 1, 1, k), groups=3)
    y = F.conv2d(y, g.view(1, 1, k, 1).expand(3, 1, k, 1), groups=3)
    return y.clamp(0, 1)


def curve_area(curve) -> float:
    """The area under a curve sampled at ``0, 1/steps, ..., 1`` (``steps + 1`` values), by the
    trapezoid rule: the deletion or insertion score of a map."""
    c = torch.as_tensor(curve).detach().double().flatten()
    if len(c) < 2:
        raise CourseError(f"a curve needs at least 2 values (steps + 1), got {len(c)}")
    steps = len(c) - 1
    return float((c.sum() - (c[0] + c[-1]) / 2) / steps)


# ============================================================================ comparing maps
def pixel_map(m, size=None) -> torch.Tensor:
    """Any map as one value per pixel, ``(H, W)`` float.

    ``(3, H, W)`` (a gradient, Integrated Gradients, guided backprop): ``|m|``, maximum over
    colours (the saliency convention). ``(h, w)``: kept as it is (signed), or resized
    bilinearly to ``size`` when given and different (Grad-CAM's coarse map).
    """
    t = torch.as_tensor(np.asarray(m) if isinstance(m, np.ndarray) else m).detach().float().cpu()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 3 and t.shape[0] in (1, 3):
        t = t.abs().amax(0)
    if t.ndim != 2:
        raise CourseError(f"a map is (H, W) or (3, H, W), got shape {tuple(t.shape)}")
    if size is not None and tuple(t.shape) != tuple(size):
        t = Sa.upsample(t, tuple(size))
    return t


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation between two maps (``scipy.stats.spearmanr`` of their pixel
    values, after :func:`pixel_map`); NaN when one map is constant (it has no ranking)."""
    from scipy.stats import spearmanr
    a, b = pixel_map(a), pixel_map(b)
    if a.shape != b.shape:
        raise CourseError(f"maps of different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.min() == a.max() or b.min() == b.max():
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic)


def map_ssim(a, b) -> float:
    """The structural similarity (``skimage.metrics.structural_similarity``) of two maps after
    :func:`pixel_map`, each scaled to [0, 1] by its minimum and maximum (``data_range=1``)."""
    from skimage.metrics import structural_similarity
    a, b = pixel_map(a), pixel_map(b)
    if a.shape != b.shape:
        raise CourseError(f"maps of different shapes {tuple(a.shape)} and {tuple(b.shape)}")

    def unit(t):
        t = t.double().numpy()
        span = t.max() - t.min()
        return (t - t.min()) / span if span > 0 else np.zeros_like(t)
    return float(structural_similarity(unit(a), unit(b), data_range=1.0))


def random_map(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A baseline map: uniform random values ``(H, W)`` (a random pixel order), seeded."""
    return torch.rand((height, width), generator=torch.Generator().manual_seed(seed))


def centre_map(height: int, width: int) -> torch.Tensor:
    """A baseline map ``(H, W)``: minus the distance to the image centre, so that the pixels
    nearest the centre come first (ImageNet objects tend to be centred)."""
    ys = torch.arange(height, dtype=torch.float32) - (height - 1) / 2
    xs = torch.arange(width, dtype=torch.float32) - (width - 1) / 2
    return -(ys[:, None] ** 2 + xs[None, :] ** 2).sqrt()


# ============================================================================ the loops
Method = Callable[..., torch.Tensor]   # (model, x, target) -> a map (H, W), (3, H, W) or (h, w)


def standard_methods(smoothgrad_n: int = 16, ig_steps: int = 16, occlusion_window: int = 32,
                     occlusion_stride: int = 16, sigma: float = SIGMA) -> dict[str, Method]:
    """Notebook 2's six maps as functions ``(model, x, target) -> map``: saliency,
    SmoothGrad, Integrated Gradients (black baseline), guided backprop, Grad-CAM (at the last
    conv layer) and occlusion (grey windows of ``occlusion_window`` px every
    ``occlusion_stride`` px, the fast local computation)."""
    return {
        "saliency": lambda m, x, t: Sa.saliency_map(m, x, t),
        "SmoothGrad": lambda m, x, t: smoothgrad(m, x, t, n=smoothgrad_n, sigma=sigma,
                                                 generator=torch.Generator().manual_seed(0)),
        "Integrated Gradients": lambda m, x, t: integrated_gradients(m, x, t, steps=ig_steps),
        "guided backprop": lambda m, x, t: Sa.guided_backprop(m, x, target=t),
        "Grad-CAM": lambda m, x, t: Sa.grad_cam(m, x, t),
        "occlusion": lambda m, x, t: Sa.occlusion_map_local(m, x, t, window=occlusion_window,
                                                           stride=occlusion_stride),
    }


def _methods(methods) -> dict[str, Method]:
    if not isinstance(methods, dict) or not methods:
        raise CourseError("methods is a dict {name: function(model, x, target) -> map}, e.g. standard_methods()")
    for name, fn in methods.items():
        if not callable(fn):
            raise CourseError(f"method {name!r} must be a function (model, x, target) -> map, got {type(fn).__name__}")
    return methods


@dataclass
class Cascade:
    """What :func:`cascading_randomization` found. ``steps``: ``["original", layer, ...]``;
    ``maps[method][j]``: the pixel map at step j; ``spearman`` and ``ssim``: ``{method:
    array (steps,)}``, the similarity of each step's map with the original one."""
    steps: list[str]
    maps: dict[str, list[torch.Tensor]]
    spearman: dict[str, np.ndarray]
    ssim: dict[str, np.ndarray]
    image: np.ndarray | None = None


def cascading_randomization(model, x: torch.Tensor, target, methods: dict[str, Method] | None = None,
                            layers: list[str] | None = None, seed: int = 0, progress: bool = True) -> Cascade:
    """The cascading model-parameter randomization test (Adebayo et al. 2018) on one image.

    For the original model and for each ``layers`` entry (default :func:`cascade_steps`
    ``(model)``: from the classifier down to the first conv), :func:`randomize_from_top`
    ``(model, layer, seed)`` gives a copy whose layers from the top down to that one are
    re-initialized; every method's map of ``target`` is computed on it (as a pixel map,
    :func:`pixel_map` at the image's size) and compared with the original map by Spearman's
    rank correlation and SSIM. A map that stays similar while the network becomes random
    does not explain the network. ``model`` itself is never changed.
    """
    from tqdm.auto import tqdm
    x = check_images(x, one=True, device=model.device)
    target = model.class_index(target)
    methods = _methods(methods if methods is not None else standard_methods())
    layers = list(layers) if layers is not None else cascade_steps(model)
    known = cascade_layers(model)
    for layer in layers:
        if layer not in known:
            raise unknown("layer to randomize down to", layer, known, show_all=True)
    size = tuple(x.shape[-2:])
    steps = ["original"] + layers
    maps = {name: [] for name in methods}
    bar = tqdm(total=len(steps) * len(methods), desc="randomization", disable=not progress, leave=False)
    for layer in steps:
        net = model if layer == "original" else randomize_from_top(model, layer, seed)
        for name, fn in methods.items():
            maps[name].append(pixel_map(fn(net, x, target), size))
            bar.update()
        del net
    bar.close()
    spearman = {n: np.array([rank_correlation(ms[0], m) for m in ms]) for n, ms in maps.items()}
    ssim = {n: np.array([map_ssim(ms[0], m) for m in ms]) for n, ms in maps.items()}
    return Cascade(steps, maps, spearman, ssim, model.to_image(x))


def curves_on_photo(model, x: torch.Tensor, target, maps: dict, fraction: float = 0.05,
                    baseline=0.0, blur_sigma: float = BLUR_SIGMA, batch_size: int = 16) -> dict:
    """Deletion and insertion curves of several maps on one image: ``{name: (deletion curve,
    insertion curve)}``; ``maps``: ``{name: map}`` (any shape :func:`pixel_map` takes)."""
    x = check_images(x, one=True, device=model.device)
    if not isinstance(maps, dict) or not maps:
        raise CourseError("maps is a dict {name: map}")
    size = x.shape[-2:]
    return {name: (deletion_curve(model, x, target, pixel_map(m, size), fraction, baseline, batch_size),
                   insertion_curve(model, x, target, pixel_map(m, size), fraction, blur_sigma, batch_size))
            for name, m in maps.items()}


@dataclass
class Faithfulness:
    """What :func:`faithfulness_table` found: per method, the deletion and insertion areas of
    every image (arrays ``(N,)``). ``str(result)`` is the table, best method first."""
    deletion: dict[str, np.ndarray] = field(default_factory=dict)
    insertion: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def ranking(self) -> list[str]:
        """The methods by insertion area minus deletion area, best first."""
        return sorted(self.deletion, key=lambda n: -(self.insertion[n].mean() - self.deletion[n].mean()))

    def __str__(self) -> str:
        n = len(next(iter(self.deletion.values()))) if self.deletion else 0
        lines = [f"{'method':24s} {'deletion':>9s} {'insertion':>9s} {'ins - del':>9s}   "
                 f"(mean areas over {n} images; deletion: lower is better, insertion: higher)"]
        for name in self.ranking():
            d, i = self.deletion[name].mean(), self.insertion[name].mean()
            note = f"   {self.notes[name]}" if name in self.notes else ""
            lines.append(f"{name:24s} {d:9.3f} {i:9.3f} {i - d:9.3f}{note}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):     # a notebook cell ending in the result prints the table
        p.text(str(self))


def faithfulness_table(model, images: torch.Tensor, targets=None, methods: dict[str, Method] | None = None,
                       fraction: float = 0.1, baseline=0.0, blur_sigma: float = BLUR_SIGMA,
                       baselines: bool = True, notes: dict[str, str] | None = None, seed: int = 0,
                       batch_size: int = 16, progress: bool = True) -> Faithfulness:
    """Mean deletion and insertion areas of every method over a batch of images.

    ``images``: ``(N, 3, H, W)`` in pixel space; ``targets``: N classes (e.g. the true ones),
    or None for the model's own prediction on each image (at this size: a class the model
    does not see in the image makes every curve flat). For each image, each method's map (:func:`pixel_map` at the image's
    size) gives a deletion curve (pixels replaced by ``baseline``) and an insertion curve
    (revealed on a blurred copy), and :func:`curve_area` their areas. ``baselines=True`` adds
    two maps that know nothing of the network: ``"random order"`` (:func:`random_map`, a new
    seed per image) and ``"centre first"`` (:func:`centre_map`). ``notes``: a remark per
    method printed in the table (e.g. a coarser occlusion window).
    """
    from tqdm.auto import tqdm
    images = check_images(images, "images").to(model.device)
    if targets is None:
        with torch.no_grad():
            targets = [int(model(images[i:i + 1]).argmax()) for i in range(len(images))]
    targets = [model.class_index(t) for t in (targets.tolist() if isinstance(targets, torch.Tensor) else targets)]
    if len(targets) != len(images):
        raise CourseError(f"got {len(targets)} targets for {len(images)} images")
    methods = dict(_methods(methods if methods is not None else standard_methods()))
    H, W = images.shape[-2:]
    # the two maps that know nothing of the network, by the image's number
    blind = {"random order": lambda i: random_map(H, W, seed + i), "centre first": lambda i: centre_map(H, W)}
    names = list(methods) + (list(blind) if baselines else [])
    result = Faithfulness(notes=dict(notes or {}))
    dele = {name: [] for name in names}
    ins = {name: [] for name in names}
    bar = tqdm(total=len(images) * len(names), desc="deletion / insertion", disable=not progress, leave=False)
    for i, (x, t) in enumerate(zip(images, targets)):
        x = x[None]
        maps = {name: pixel_map(fn(model, x, t), (H, W)) for name, fn in methods.items()}
        maps.update({name: make(i) for name, make in blind.items() if baselines})
        for name, m in maps.items():
            dele[name].append(curve_area(deletion_curve(model, x, t, m, fraction, baseline, batch_size)))
            ins[name].append(curve_area(insertion_curve(model, x, t, m, fraction, blur_sigma, batch_size)))
            bar.update()
    bar.close()
    result.deletion = {n: np.array(v) for n, v in dele.items()}
    result.insertion = {n: np.array(v) for n, v in ins.items()}
    return result
