"""Notebook 4: feature inversion and DeepDream.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`total_variation` - the total-variation prior R_V^beta, vectorized.
2. :func:`inversion_loss` - feature mismatch plus the TV prior.
3. :func:`dream_step` - one DeepDream step: the layer's gradient set to its activation.
4. :func:`octave_sizes` - the sizes of an octave pyramid.

Images are pixel-space tensors ``(N, 3, H, W)`` in ``[0, 1]``. Everything runs on the shared
loop :func:`helpers.optim.optimize`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .optim import PixelImage, Result, normalized_step, optimize
from .utils import CourseError, check_images, check_positive_int

NOTEBOOK = 4   # the notebook whose exercises this module holds


# ============================================================================ 1. total variation
def total_variation(x: torch.Tensor, beta: float = 2.0, eps: float = 0.0) -> torch.Tensor:
    """Notebook 4, exercise 1. The total-variation prior ``R_{V^beta}(x)`` of images ``x`` ``(N, C, H, W)``: a scalar.

    ``sum over i, j, channels and images of ((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2) ^ (beta / 2)``
    where ``i`` runs over rows and ``j`` over columns. At the last row and the last column
    the missing neighbour counts as a difference of 0 (so a 1 x 1 image has TV 0). No
    Python loops: use slicing. ``beta = 2`` is the squared-gradient prior; ``beta = 1`` is the
    classic TV (edges cost in proportion to their height). For ``beta < 2`` the gradient at a
    flat patch is infinite; ``eps > 0`` is added to the squares before the power
    (``(d_x^2 + d_y^2 + eps)^(beta/2)``) to keep it finite. ``eps = 0`` is the exact prior.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise CourseError(f"total_variation takes images (N, C, H, W), got "
                          f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    _check_beta(beta)
    ### BEGIN SOLUTION
    dx = torch.zeros_like(x)
    dy = torch.zeros_like(x)
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    sq = dx ** 2 + dy ** 2 + eps
    if beta == 2:
        return sq.sum()
    return sq.pow(beta / 2).sum()
    ### END SOLUTION


# ============================================================================ 2. feature inversion
def inversion_loss(features: torch.Tensor, target: torch.Tensor, image: torch.Tensor,
                   lam: float = 1.0, beta: float = 2.0) -> torch.Tensor:
    """Notebook 4, exercise 2. The objective of feature inversion (Mahendran & Vedaldi 2015), a scalar tensor:

    ``||features - target||^2 / ||target||^2  +  lam * total_variation(image, beta) / (H * W)``

    ``features``: the layer's output for the current image; ``target``: the same layer's
    output for the original photo (same shape); ``image`` ``(1, 3, H, W)``. The first term
    is the feature mismatch relative to the size of the target features (so that layers
    with large activations are comparable); the second is the TV prior per pixel. Use
    :func:`total_variation`, with ``eps=1e-8`` when ``beta < 2`` (a finite gradient at flat
    patches) and ``eps=0`` otherwise.
    """
    if features.shape != target.shape:
        raise CourseError(f"features {tuple(features.shape)} and target {tuple(target.shape)} differ in shape")
    ### BEGIN SOLUTION
    match = ((features - target) ** 2).sum() / (target ** 2).sum().clamp_min(1e-12)
    h, w = image.shape[-2:]
    return match + lam * total_variation(image, beta, eps=1e-8 if beta < 2 else 0.0) / (h * w)
    ### END SOLUTION


@dataclass
class Inversion:
    """What :func:`invert` returns: the reconstruction ``image`` ``(1, 3, H, W)``, the final
    relative feature mismatch ``feature_loss``, ``psnr`` and ``ssim`` against the original,
    and the loop's ``result`` (losses, snapshots)."""
    image: torch.Tensor
    feature_loss: float
    psnr: float
    ssim: float
    result: Result


def invert(model, x: torch.Tensor, layer: str, steps: int = 200, lam: float = 1.0, beta: float = 2.0,
           lr: float = 0.05, seed: int = 0, snapshots: int = 0, progress: bool = True) -> Inversion:
    """Reconstruct image ``x`` ``(1, 3, H, W)`` from its features at ``layer``.

    Starts from the neutral (mean-colour) image plus a little noise and minimizes
    :func:`inversion_loss` with Adam on the shared loop. The forward pass stops at
    ``layer``, so early layers are cheap.
    """
    x = check_images(x, one=True)
    if not isinstance(layer, str) or not layer.strip():
        raise CourseError(f"layer must be a layer name such as 'blocks.2', got {layer!r}")
    model.layer(layer)
    steps = check_positive_int(steps, "steps", minimum=0)
    _check_beta(beta)
    with torch.no_grad():
        target = model.activations(x, layer)[layer]
    g = torch.Generator().manual_seed(seed)
    base = torch.tensor(model.mean).view(1, 3, 1, 1).expand_as(x).clone()
    init = (base + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    param = PixelImage(base.to(model.device), init=init.to(model.device))

    def loss_fn(img):
        return inversion_loss(model.activations(img, layer, keep_graph=True)[layer], target, img, lam, beta)
    res = optimize(param, loss_fn, steps, lr=lr, optimizer="adam", snapshots=snapshots, progress=progress,
                   desc=f"inverting {layer}")
    with torch.no_grad():     # the feature term alone: your inversion_loss without its prior
        feat = float(inversion_loss(model.activations(res.image, layer)[layer], target, res.image, 0.0, beta))
    psnr, ssim = image_similarity(x, res.image)
    return Inversion(res.image, feat, psnr, ssim, res)


def image_similarity(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """PSNR (dB) and SSIM between two images ``(1, 3, H, W)`` in [0, 1] (scikit-image's)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    A = a.detach().cpu()[0].permute(1, 2, 0).double().numpy()
    B = b.detach().cpu()[0].permute(1, 2, 0).double().numpy()
    return (float(peak_signal_noise_ratio(A, B, data_range=1.0)),
            float(structural_similarity(A, B, channel_axis=2, data_range=1.0)))


# ============================================================================ 3. DeepDream
def dream_step(model, x: torch.Tensor, layer: str, lr: float = 0.01, shift: tuple[int, int] = (0, 0)):
    """Notebook 4, exercise 3. One DeepDream step on image ``x`` ``(1, 3, H, W)``: amplify whatever ``layer`` sees.

    1. roll ``x`` by ``shift = (dy, dx)`` (``torch.roll`` over the last two dims: jitter);
    2. forward to ``layer`` (``model.activations(x, layer, keep_graph=True)[layer]``) and
       backpropagate with the layer's gradient **set equal to its activation**
       (``a.backward(a)``, i.e. the gradient of the objective ``1/2 ||a||^2``);
    3. take a normalized step ``x += lr * g / mean(|g|)`` (``optim.normalized_step``), clamp to ``[0, 1]``;
    4. roll back by ``-shift``.

    Returns ``(new_x, objective)``: the detached image and ``1/2 ||a||^2`` (a float) before
    the step. Do not change ``x`` in place.
    """
    x = check_images(x, one=True)
    ### BEGIN SOLUTION
    dy, dx = shift
    xr = torch.roll(x, (dy, dx), dims=(-2, -1)).requires_grad_(True)
    a = model.activations(xr, layer, keep_graph=True)[layer]
    a.backward(a.detach())
    g = xr.grad
    new = normalized_step(xr, g, lr).clamp(0, 1)
    return torch.roll(new, (-dy, -dx), dims=(-2, -1)), float(0.5 * (a.detach() ** 2).sum())
    ### END SOLUTION


def octave_sizes(height: int, width: int, octaves: int, scale: float = 1.4, min_size: int = 32):
    """Notebook 4, exercise 4. The image sizes of an octave pyramid, **smallest first**, ending at ``(height,
    width)``.

    Octave ``i`` (counting from the full size, ``i = 0``) has size
    ``(round(height / scale**i), round(width / scale**i))`` with Python's ``round`` (halves
    go to the even neighbour: ``round(2.5) == 2``); return the ``octaves`` sizes as a list of
    ``(h, w)`` tuples from the smallest to the full size. A smallest octave whose short side
    is below ``min_size`` pixels (exactly ``min_size`` is fine) raises a
    :class:`~helpers.utils.CourseError` (a ``ValueError``) that says how many octaves would
    fit. (The given code already refuses ``scale <= 1`` and ``octaves < 1``.)
    """
    octaves = check_positive_int(octaves, "octaves")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 1:
        raise CourseError(f"the octave scale must be a number > 1 (1.4 is usual), got {scale!r}")
    ### BEGIN SOLUTION
    sizes = [(round(height / scale ** i), round(width / scale ** i)) for i in range(octaves)][::-1]
    if min(sizes[0]) < min_size:
        fit = 0
        while min(round(height / scale ** fit), round(width / scale ** fit)) >= min_size:
            fit += 1
        raise CourseError(f"a {height} x {width} image is too small for {octaves} octaves of scale {scale}: "
                          f"the smallest would be {sizes[0][0]} x {sizes[0][1]} (< {min_size} px); "
                          f"use at most {fit} octaves or a larger image")
    return sizes
    ### END SOLUTION


@dataclass
class Dream:
    """What :func:`deep_dream` returns: the final ``image`` ``(1, 3, H, W)``, the dreamed
    image at the end of each octave (``octave_images``, smallest first), and the objective
    ``1/2 ||a||^2`` at each step of each octave (``objectives``)."""
    image: torch.Tensor
    octave_images: list
    objectives: list


def deep_dream(model, image, layer: str, octaves: int = 4, octave_scale: float = 1.4, steps: int = 10,
               lr: float = 0.01, jitter: int = 32, size: int | None = None, seed: int = 0,
               progress: bool = True) -> Dream:
    """DeepDream (Mordvintsev et al. 2015) with jitter and an octave pyramid.

    ``image``: anything ``model.to_input`` takes; ``size``: resize so the long side is
    ``size`` pixels (``None`` keeps it). From the smallest octave to the full size: resize
    the photo to the octave's size, add the **detail** dreamed so far (upsampled), take
    ``steps`` of your :func:`dream_step` with a random roll of up to ``jitter`` pixels each,
    and keep the new detail (dream minus photo) for the next octave. ``objectives``: the
    objective at every step of every octave.
    """
    if not isinstance(layer, str) or not layer.strip():
        raise CourseError(f"layer must be a layer name such as 'blocks.3', got {layer!r}")
    model.layer(layer)
    steps = check_positive_int(steps, "steps", minimum=0)
    if isinstance(image, torch.Tensor) and image.ndim == 4:
        photo = check_images(image, "image", one=True)
    else:
        photo = model.to_input(image, size=None)
    if size is not None:
        h, w = photo.shape[-2:]
        s = check_positive_int(size, "size") / max(h, w)
        photo = F.interpolate(photo, size=(round(h * s), round(w * s)), mode="bilinear", antialias=True,
                              align_corners=False).clamp(0, 1)
    sizes = octave_sizes(*photo.shape[-2:], octaves, octave_scale, min_size=model.min_size * 2)
    detail = None
    out, objectives = [], []
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(sizes, desc=f"dreaming at {layer}", disable=not progress, leave=False)
    for hw in bar:
        base = F.interpolate(photo, size=hw, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        x = base if detail is None else (base + F.interpolate(detail, size=hw, mode="bilinear",
                                                              align_corners=False)).clamp(0, 1)
        values = []
        for _ in range(steps):
            shift = tuple(int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen)) if jitter else (0, 0)
            x, objective = dream_step(model, x, layer, lr=lr, shift=shift)
            values.append(objective)
        objectives.append(values)
        detail = x - base
        out.append(x)
    return Dream(out[-1], out, objectives)


# ============================================================================ validation
def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
        raise CourseError(f"beta must be a positive number (1 and 2 are usual), got {beta!r}")
