"""Notebook 5: texture and style.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`neighbourhood_ssd` - Efros-Leung: the Gaussian-weighted, masked sum of squared
   differences between one neighbourhood and *every* candidate patch of the sample at once.
2. :func:`pick_match` - Efros-Leung: a random candidate among those within ``(1 + eps)`` of
   the best. :func:`efros_leung` grows a texture pixel by pixel with the two.
3. :func:`gram_matrix` - the Gram matrix of features, ``F F^T / (H W)``.
4. :func:`content_loss` and 5. :func:`style_loss` - the losses of Gatys et al.
6. :func:`instance_norm` - normalize each channel of each image to zero mean, unit variance.
7. :meth:`ConditionalInstanceNorm.forward` - instance norm with a scale and shift per style,
   mixed by style weights.

Plumbing (complete): neural texture synthesis (:func:`synthesize_texture`) and Gatys style
transfer (:func:`gatys`, on the shared loop :func:`helpers.optim.optimize`, with multi-style
blending). The feed-forward style network of Johnson et al., its training and the shipped
networks are in :mod:`helpers.stylenet`.

Images are pixel-space tensors ``(N, 3, H, W)`` in ``[0, 1]``, like everywhere in the course.
The feature network is the course's default EfficientNet-Lite0 (any :class:`WrappedModel`
works: pass other layer names).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .inversion import total_variation
from .models import image_to_array
from .optim import PixelImage, Result, optimize
from .utils import CourseError, check_positive_int, not_done, note_once, unknown

NOTEBOOK = 5   # the notebook whose exercises this module holds

# EfficientNet-Lite0 layers (stride 2 .. 16): the stem and block outputs carry style, a
# middle block the content.
STYLE_LAYERS = ["bn1", "blocks.0", "blocks.1", "blocks.2", "blocks.3"]
CONTENT_LAYER = "blocks.3"
STYLES = ["starry_night", "the_scream", "shipwreck", "woman-with-hat-matisse"]


# ============================================================================ images
def to_pixels(image, size: int | None = None, device=None) -> torch.Tensor:
    """Any image (array, PIL, path, tensor) as a pixel-space batch ``(1, 3, H, W)``.

    ``size``: the long side in pixels (the aspect ratio is kept); ``None`` keeps the size.
    Grayscale images become RGB.
    """
    if isinstance(image, torch.Tensor) and image.ndim == 4:
        if image.shape[0] != 1:
            raise CourseError(f"expected one image (1, 3, H, W), got a batch of {image.shape[0]}")
        image = image[0]
    t = torch.from_numpy(image_to_array(image)).permute(2, 0, 1)[None].contiguous()
    if size is not None:
        size = check_positive_int(size, "size", minimum=8)
        h, w = t.shape[-2:]
        s = size / max(h, w)
        hw = (max(1, round(h * s)), max(1, round(w * s)))
        if hw != (h, w):
            t = F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=s < 1).clamp(0, 1)
    return t.to(device) if device is not None else t


# ============================================================================ 1-2. Efros-Leung
def gaussian_window(window: int, sigma: float | None = None) -> torch.Tensor:
    """A ``window x window`` Gaussian ``(window, window)`` with peak 1; ``sigma`` defaults to
    ``window / 6.4`` (Efros & Leung)."""
    sigma = window / 6.4 if sigma is None else sigma
    r = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    return g[:, None] * g[None, :]


def sample_patches(sample: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``window x window`` patch that lies wholly inside ``sample`` ``(C, h, w)``.

    Returns ``(patches, centres)``: ``(P, C * window * window)`` (each row a flattened patch,
    channel-major like ``F.unfold``) and ``(P, C)`` the centre pixel of each patch, with
    ``P = (h - window + 1) * (w - window + 1)``.
    """
    c, h, w = sample.shape
    if window > min(h, w):
        raise CourseError(f"the window ({window} px) does not fit in the sample ({h} x {w})")
    patches = F.unfold(sample[None].float(), window)[0].T.contiguous()
    r = window // 2
    centres = sample[:, r:h - r, r:w - r].reshape(c, -1).T.contiguous().float()
    return patches, centres


def neighbourhood_ssd(patches: torch.Tensor, neighbourhood: torch.Tensor, mask: torch.Tensor,
                      weights: torch.Tensor) -> torch.Tensor:
    """Notebook 5, exercise 1. Distances ``(P,)`` from one neighbourhood to every candidate patch, all at once.

    ``patches`` ``(P, K)``: the candidates, one flattened patch per row; ``neighbourhood``
    ``(K,)``: the pixels around the output pixel being filled; ``mask`` ``(K,)``: 1 where
    that pixel is already generated, 0 where not (its value is then meaningless);
    ``weights`` ``(K,)``: the Gaussian weight of each position. The distance to patch ``p`` is

        ``sum_k weights[k] * mask[k] * (patches[p, k] - neighbourhood[k])^2  /  sum_k weights[k] * mask[k]``

    (the normalization makes distances comparable between pixels with more or fewer known
    neighbours). No Python loop over the candidates: broadcast, or expand the square into
    matrix-vector products. The expanded form can round to tiny negative numbers: clamp the
    distances at 0 (``.clamp_min(0)``). A neighbourhood with no generated pixel
    (``sum(weights * mask) == 0``) has nothing to compare: the given code refuses it.
    """
    if patches.ndim != 2:
        raise CourseError(f"patches must be (P, K), got shape {tuple(patches.shape)}")
    K = patches.shape[1]
    for name, t in (("neighbourhood", neighbourhood), ("mask", mask), ("weights", weights)):
        if not isinstance(t, torch.Tensor) or t.shape != (K,):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise CourseError(f"{name} must be a tensor of shape ({K},) like one row of patches, got {got}")
    if float((weights * mask).sum()) <= 0:
        raise CourseError("the neighbourhood has no generated pixel (sum(weights * mask) = 0): nothing to compare")
    ### BEGIN SOLUTION
    a = weights * mask
    total = a.sum()
    # sum_k a_k (p_k - n_k)^2 = sum_k a_k p_k^2 - 2 sum_k a_k n_k p_k + sum_k a_k n_k^2: two mat-vecs
    d = (patches * patches) @ a - 2 * (patches @ (a * neighbourhood)) + (a * neighbourhood ** 2).sum()
    return d.clamp_min(0) / total
    ### END SOLUTION


def pick_match(distances: torch.Tensor, eps: float = 0.1, generator: torch.Generator | None = None) -> int:
    """Notebook 5, exercise 2. The index of a random candidate among those with ``distance <= (1 + eps) * best``.

    ``best`` is the smallest distance. Every qualifying candidate is equally likely: draw one
    position with ``torch.randint(len(candidates), (1,), generator=generator)`` so results
    repeat for a seed. With ``eps = 0`` only the best (and exact ties with it) qualify.
    Distances are never negative (the given code sets rounding's tiny negatives to 0).
    """
    if not isinstance(distances, torch.Tensor) or distances.ndim != 1 or distances.numel() == 0:
        raise CourseError("distances must be a non-empty 1-D tensor (one distance per candidate)")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        raise CourseError(f"eps must be a number >= 0 (0.1 is usual), got {eps!r}")
    distances = distances.clamp_min(0)
    ### BEGIN SOLUTION
    best = distances.min()
    ok = torch.nonzero(distances <= best * (1 + eps)).flatten()
    return int(ok[torch.randint(len(ok), (1,), generator=generator)])
    ### END SOLUTION


def efros_leung(sample, size: int | tuple[int, int] = 128, window: int = 11, eps: float = 0.1,
                seed: int = 0, progress: bool = True) -> np.ndarray:
    """Efros & Leung's non-parametric texture synthesis: grow a texture pixel by pixel.

    ``sample``: a texture, ``uint8`` or float ``(h, w)`` (grey) or ``(h, w, 3)``. The output
    starts from a random 3 x 3 patch of the sample in its centre. Then, ring by ring, each
    unfilled pixel with filled neighbours (those with the most filled neighbours first)
    compares its ``window x window`` neighbourhood with every patch of the sample
    (:func:`neighbourhood_ssd`, Gaussian-weighted, only the filled pixels count) and copies
    the centre of a random good match (:func:`pick_match`). Every output pixel is a pixel of
    the sample. Returns an array like the sample's (same dtype and channels) of ``size``.
    """
    arr = np.asarray(sample)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3)):
        raise CourseError(f"the sample must be an image (h, w) or (h, w, 3), got shape {arr.shape}")
    window = check_positive_int(window, "window", minimum=3)
    if window % 2 == 0:
        raise CourseError(f"window must be odd (the pixel is its centre), got {window}")
    H, W = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    H, W = check_positive_int(H, "size", 3), check_positive_int(W, "size", 3)
    s = torch.from_numpy(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))
    s = s[None] if s.ndim == 2 else s.permute(2, 0, 1)
    C, r = s.shape[0], window // 2
    patches, centres = sample_patches(s, window)
    weights = gaussian_window(window).flatten().repeat(C)
    gen = torch.Generator().manual_seed(seed)

    out = torch.zeros(C, H + 2 * r, W + 2 * r)
    filled = torch.zeros(H + 2 * r, W + 2 * r)
    y0 = int(torch.randint(s.shape[1] - 2, (1,), generator=gen))
    x0 = int(torch.randint(s.shape[2] - 2, (1,), generator=gen))
    cy, cx = r + (H - 3) // 2, r + (W - 3) // 2
    sy, sx = min(3, H), min(3, W)
    out[:, cy:cy + sy, cx:cx + sx] = s[:, y0:y0 + sy, x0:x0 + sx]
    filled[cy:cy + sy, cx:cx + sx] = 1
    ones = torch.ones(1, 1, window, window)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # thousands of small mat-vecs: threads only add overhead
    try:
        _grow(out, filled, patches, centres, weights, eps, gen, r, ones, H, W, C, progress)
    finally:
        torch.set_num_threads(threads)
    res = out[:, r:r + H, r:r + W].permute(1, 2, 0).numpy()
    if arr.ndim == 2:
        res = res[..., 0]
    if arr.dtype == np.uint8:
        return np.rint(res * 255).astype(np.uint8)
    return res.astype(arr.dtype)


def _grow(out, filled, patches, centres, weights, eps, gen, r, ones, H, W, C, progress):
    bar = tqdm(total=H * W, initial=int(filled.sum()), desc="Efros-Leung", disable=not progress, leave=False)
    while filled.sum() < H * W:
        count = F.conv2d(filled[None, None], ones, padding=r)[0, 0]
        frontier = (filled == 0) & (count > 0)
        frontier[:r], frontier[-r:], frontier[:, :r], frontier[:, -r:] = False, False, False, False
        ys, xs = torch.nonzero(frontier, as_tuple=True)
        order = torch.argsort(-count[ys, xs], stable=True)
        for y, x in zip(ys[order].tolist(), xs[order].tolist()):
            nb = out[:, y - r:y + r + 1, x - r:x + r + 1].reshape(-1)
            m = filled[y - r:y + r + 1, x - r:x + r + 1].reshape(-1).repeat(C)
            d = neighbourhood_ssd(patches, nb, m, weights)
            out[:, y, x] = centres[pick_match(d, eps, gen)]
            filled[y, x] = 1
        bar.update(len(ys))
    bar.close()


# ============================================================================ 3-5. Gram and losses
def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Notebook 5, exercise 3. The Gram matrix of feature maps, normalized by the number of positions.

    ``features`` ``(N, C, H, W)`` (or ``(C, H, W)``): reshape each image's features to
    ``F`` of shape ``(C, H W)`` and return ``G = F F^T / (H W)``, ``(N, C, C)`` (or
    ``(C, C)``). So ``G[i, j]`` is the *average over positions* of the product of channels
    ``i`` and ``j``: it does not grow with the image size, and a style image of another size
    than the content image gives comparable Grams. (Gatys et al. leave ``G`` unnormalized
    and divide in the loss; Johnson et al. divide by ``C H W``. The choices differ by constant
    factors per layer, which the layer weights absorb.)
    """
    if not isinstance(features, torch.Tensor) or features.ndim not in (3, 4):
        got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise CourseError(f"gram_matrix takes features (N, C, H, W) or (C, H, W), got {got}")
    ### BEGIN SOLUTION
    f = features.flatten(-2)
    return f @ f.transpose(-1, -2) / f.shape[-1]
    ### END SOLUTION


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Notebook 5, exercise 4. The content loss: the mean squared difference ``mean((features - target)^2)``, a
    scalar."""
    if not isinstance(features, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise CourseError("content_loss takes two tensors (the image's features and the target's)")
    if features.shape[-3:] != target.shape[-3:]:
        raise CourseError(f"features {tuple(features.shape)} and target {tuple(target.shape)} must have the "
                          "same (C, H, W): compute both at the same layer from images of the same size")
    ### BEGIN SOLUTION
    return ((features - target) ** 2).mean()
    ### END SOLUTION


def style_loss(features: dict, targets: dict, weights: dict | None = None) -> torch.Tensor:
    """Notebook 5, exercise 5. The weighted Gram loss over several layers, a scalar.

    ``features``: ``{layer: (N, C, H, W)}`` of the image being optimized; ``targets``:
    ``{layer: (C, C) or (N, C, C)}`` target Gram matrices; ``weights``: ``{layer: w}``
    (all 1 when ``None``). The loss is ``sum over layers of w * mean((gram_matrix(F) - A)^2)``,
    the mean over all Gram entries (and images). Only the layers in ``targets`` count.
    """
    if not isinstance(features, dict) or not isinstance(targets, dict):
        raise CourseError("style_loss takes dicts: features {layer: tensor} and targets {layer: Gram matrix}")
    missing = [k for k in targets if k not in features]
    if missing:
        raise CourseError(f"no features for the target layers {missing}; features has {list(features)}")
    weights = {k: 1.0 for k in targets} if weights is None else weights
    if any(k not in weights for k in targets):
        raise CourseError(f"weights must have one entry per target layer {list(targets)}, got {list(weights)}")
    ### BEGIN SOLUTION
    total = 0.0
    for k, target in targets.items():
        total = total + weights[k] * ((gram_matrix(features[k]) - target) ** 2).mean()
    return total
    ### END SOLUTION


# ============================================================================ targets
def features(model, x: torch.Tensor, layers: Sequence[str]) -> dict:
    """``{layer: output}`` of the named layers for images ``x``, attached to the graph (the
    forward pass stops after the last layer needed), with no gradient recording: an
    objective evaluated thousands of times (style transfer, training) keeps nothing alive."""
    return model.activations(x, list(layers), keep_graph=True, gradients=False)


def _check_layers(model, layers):
    for name in layers:
        model.layer(name)   # a clear error with close names for a wrong one
    return list(layers)


def style_grams(model, image, layers: Sequence[str] = STYLE_LAYERS, size: int | None = None) -> dict:
    """``{layer: Gram (C, C)}`` of one image (its long side scaled to ``size``), no gradient."""
    layers = _check_layers(model, layers)
    x = to_pixels(image, size, model.device)
    with torch.no_grad():
        acts = model.activations(x, layers)
    return {k: gram_matrix(v)[0] for k, v in acts.items()}


def check_style_weights(n: int, style_weights) -> list[float]:
    if style_weights is None:
        return [1.0 / n] * n
    w = [float(v) for v in (style_weights.tolist() if isinstance(style_weights, (torch.Tensor, np.ndarray))
                            else style_weights)]
    if len(w) != n:
        raise CourseError(f"got {len(w)} style weights for {n} styles: give one weight per style")
    if any(not math.isfinite(v) or v < 0 for v in w):
        raise CourseError(f"style weights must be finite and >= 0, got {w}")
    if sum(w) <= 0:
        raise CourseError("the style weights are all zero: at least one style must have a positive weight")
    return [v / sum(w) for v in w]


def blend_grams(grams: Sequence[dict], style_weights=None) -> dict:
    """Multi-style blending: the weighted average of several styles' Gram matrices, layer by
    layer. ``style_weights`` (one per style, >= 0, not all 0) are normalized to sum to 1."""
    grams = list(grams)
    if not grams:
        raise CourseError("no styles to blend")
    w = check_style_weights(len(grams), style_weights)
    return {k: sum(wi * g[k] for wi, g in zip(w, grams)) for k in grams[0]}


# ============================================================================ neural texture synthesis
def synthesize_texture(model, texture, layers: Sequence[str] = STYLE_LAYERS, size: int = 128,
                       steps: int = 200, lr: float = 0.05, texture_size: int | None = None,
                       seed: int = 0, snapshots: int = 0, progress: bool = True) -> Result:
    """Gatys et al.'s neural texture synthesis: from noise, match the texture's Gram matrices.

    ``layers``: where the Grams are matched, each layer weighted by ``1 / mean(A^2)`` (its
    target's mean squared entry) so that every layer counts about equally. Matching only
    early layers reproduces local statistics (colours, small grain); adding deeper layers
    (larger receptive fields) recovers larger structures. Adam on the pixels, on the
    shared loop :func:`helpers.optim.optimize`. Returns its :class:`~helpers.optim.Result`.
    """
    size = check_positive_int(size, "size", minimum=32)
    layers = _check_layers(model, layers)
    targets = style_grams(model, texture, layers, texture_size)
    weights = {k: 1.0 / len(layers) / float(t.pow(2).mean().clamp_min(1e-12)) for k, t in targets.items()}
    g = torch.Generator().manual_seed(seed)
    init = (0.5 + 0.1 * torch.randn(1, 3, size, size, generator=g)).clamp(0, 1).to(model.device)
    param = PixelImage(torch.full_like(init, 0.5), init=init)

    def loss_fn(x):
        return style_loss(features(model, x, layers), targets, weights)
    return optimize(param, loss_fn, steps, lr=lr, snapshots=snapshots, progress=progress, desc="texture")


# ============================================================================ Gatys style transfer
def _smoothness(what: str):
    """:func:`~helpers.inversion.total_variation` (notebook 4's exercise) for the smoothness
    term of ``what``; None, with a note, while it is still a stub (then the term is left out)."""
    try:
        total_variation(torch.zeros(1, 3, 2, 2))
    except NotImplementedError as e:
        if not_done(e) is None:
            raise
        note_once(f"{what} uses {not_done(e)} for its smoothness term, which is not done yet: "
                  "running without that term (the images come out a little noisier)")
        return None
    return total_variation


def gatys(model, content, styles, style_weights=None, *, size: int = 256, style_size: int | None = None,
          content_layer: str = CONTENT_LAYER, style_layers: Sequence[str] = STYLE_LAYERS,
          content_weight: float = 1.0, style_weight: float = 10.0, tv_weight: float = 1.0,
          steps: int = 300, lr: float = 0.02, optimizer: str = "adam", init: str = "content",
          seed: int = 0, snapshots: int = 0, progress: bool = True) -> Result:
    """Gatys et al.'s style transfer: optimize the pixels for content + style + smoothness.

    ``content``: the photo (any image; its long side is scaled to ``size``). ``styles``: one
    style image or a list; with several, their Gram matrices are averaged with
    ``style_weights`` (:func:`blend_grams`) - multi-style blending. ``style_size``: the long
    side the style images are scaled to before their Grams are taken (default ``size``):
    smaller gives larger brush strokes relative to the content, larger gives finer ones.

    The loss is ``content_weight * content_loss / mean(P^2) + style_weight * sum_l
    style_loss_l / (L mean(A_l^2)) + tv_weight * total_variation(x) / (number of values)``
    (``P``: the content target, ``A_l``: the style targets, so that the weights are about
    scale-free). ``optimizer``: ``"adam"`` (default) or ``"lbfgs"`` (then each step runs up to
    20 evaluations: use about 20 times fewer steps and ``lr=1``). ``init``: ``"content"``
    (start from the photo) or ``"noise"``. Returns the :class:`~helpers.optim.Result`.
    """
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not styles:
        raise CourseError("give at least one style image")
    w = check_style_weights(len(styles), style_weights)
    if init not in ("content", "noise"):
        raise unknown("init", init, ["content", "noise"])
    layers = _check_layers(model, list(style_layers))
    model.layer(content_layer)
    x0 = to_pixels(content, size, model.device)
    if min(x0.shape[-2:]) < model.min_size:
        raise CourseError(f"the content image is {x0.shape[-2]} x {x0.shape[-1]} px; {model.name} needs "
                          f"at least {model.min_size} px")
    targets = blend_grams([style_grams(model, s, layers, style_size or size) for s, wi in zip(styles, w)], w)
    with torch.no_grad():
        p = model.activations(x0, [content_layer])[content_layer]
    cw = content_weight / float(p.pow(2).mean().clamp_min(1e-12))
    sw = {k: style_weight / len(layers) / float(t.pow(2).mean().clamp_min(1e-12)) for k, t in targets.items()}
    tvw = tv_weight / x0.numel()
    names = list(dict.fromkeys(layers + [content_layer]))

    def loss_fn(x):
        acts = features(model, x, names)
        return cw * content_loss(acts[content_layer], p) + style_loss(acts, targets, sw)

    if init == "content":
        start = x0
    else:
        g = torch.Generator().manual_seed(seed)
        start = (0.5 + 0.1 * torch.randn(x0.shape, generator=g)).clamp(0, 1).to(x0.device)
    param = PixelImage(torch.full_like(x0, 0.5), init=start)
    return optimize(param, loss_fn, steps, lr=lr, optimizer=optimizer,
                    penalty=(lambda x: tvw * tv(x)) if tv_weight and (tv := _smoothness("gatys")) else None,
                    snapshots=snapshots, progress=progress, desc="Gatys")


# ============================================================================ 6-7. instance norm
def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Notebook 5, exercise 6. Instance normalization: each channel of each image to zero mean and unit variance.

    ``x`` ``(N, C, H, W)``: subtract the mean over ``(H, W)`` and divide by
    ``sqrt(var + eps)``, with the **biased** variance (divide by ``H W``, as batch norm
    does). Unlike batch norm, the statistics are those of one image, at training and test
    time alike: the contrast of the content image is normalized away, which is why it helps
    style transfer (Ulyanov et al. 2016).
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise CourseError(f"instance_norm takes (N, C, H, W), got "
                          f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    ### BEGIN SOLUTION
    var, mean = torch.var_mean(x, (2, 3), unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps)
    ### END SOLUTION


class InstanceNorm(nn.Module):
    """Your :func:`instance_norm` with a learned per-channel scale and shift (like
    ``nn.InstanceNorm2d(C, affine=True)``): the normalization layer of the fast style network."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x, style=None):
        return instance_norm(x, eps=1e-5) * self.weight[:, None, None] + self.bias[:, None, None]


class ConditionalInstanceNorm(nn.Module):
    """Conditional instance norm (Dumoulin et al. 2017): one scale and shift per style.

    ``gamma`` and ``beta`` are ``(S, C)``: row ``s`` holds style ``s``'s per-channel scale and
    shift. All other weights of a network are shared by the ``S`` styles.
    """

    def __init__(self, channels: int, n_styles: int):
        super().__init__()
        self.n_styles = check_positive_int(n_styles, "n_styles")
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Notebook 5, exercise 7. ``x`` ``(N, C, H, W)``; ``style`` ``(N, S)`` or ``(S,)``: weights over the
        styles (a
        one-hot row picks one style; a mixture interpolates). The result is
        ``instance_norm(x) * gamma_mix + beta_mix`` with ``gamma_mix = style @ gamma`` and
        ``beta_mix = style @ beta`` (``(N, C)`` each), per image and channel."""
        if not isinstance(style, torch.Tensor) or style.shape[-1] != self.n_styles or style.ndim not in (1, 2):
            got = tuple(style.shape) if isinstance(style, torch.Tensor) else type(style).__name__
            raise CourseError(f"style must be a tensor of style weights (N, {self.n_styles}) or ({self.n_styles},), got {got}")
        style = style.to(x.dtype).expand(x.shape[0], self.n_styles) if style.ndim == 1 else style.to(x.dtype)
        if style.shape[0] != x.shape[0]:
            raise CourseError(f"got style weights for {style.shape[0]} images and {x.shape[0]} images")
        ### BEGIN SOLUTION
        gamma = style @ self.gamma
        beta = style @ self.beta
        return instance_norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]
        ### END SOLUTION
