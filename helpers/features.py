"""Notebook 1: features and neighbours.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`normalize_filters` - first-layer filters as images.
2. :func:`extract_features` - batched feature extraction at any layer.
3. :func:`pairwise_distances` - one distance matrix, no loop.
4. :func:`nearest_neighbors` - the k nearest items of each query (ties: lower index).
5. :func:`pca` - principal component analysis from scratch (centre, SVD).
6. :func:`receptive_field` - size, stride and offset of a layer's units.
7. :func:`top_activations` - the images and positions that excite a channel most.

Plumbing (complete): :func:`precision_at_k`, :func:`embed_2d`, :func:`conv_geometry`,
:func:`crop_patches`, :func:`max_activating_patches` and the plots.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import CourseError, check_positive_int

NOTEBOOK = 1   # the notebook whose exercises this module holds


# ============================================================================ 1. filters
def normalize_filters(weights: torch.Tensor) -> torch.Tensor:
    """Notebook 1, exercise 1. Scale each filter to ``[0, 1]`` on its own, as an image.

    ``weights``: a conv layer's weight, shape ``(C_out, 3, kH, kW)``.
    Returns ``(C_out, kH, kW, 3)``: filter ``i`` is ``(w_i - min(w_i)) / (max(w_i) - min(w_i))``,
    min and max taken over all of that filter's values (all three colours together, so that
    colours stay comparable). A constant filter becomes all zeros (no division by zero).
    """
    if not isinstance(weights, torch.Tensor) or weights.ndim != 4 or weights.shape[1] != 3:
        shape = tuple(weights.shape) if hasattr(weights, "shape") else type(weights).__name__
        raise CourseError(f"expected first-layer conv weights of shape (C_out, 3, kH, kW), got {shape}")
    w = weights.detach().float().cpu()
    # YOUR CODE HERE: exercise `normalize_filters`
    raise NotImplementedError("exercise `normalize_filters` in helpers/features.py is not done yet: write its body here")


def first_conv_weights(model) -> torch.Tensor:
    """The weight ``(C_out, 3, kH, kW)`` of the model's first convolution."""
    for m in model.net.modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == 3:
            return m.weight.detach()
    raise CourseError(f"{model.name} has no convolution on its RGB input")


# ============================================================================ 2. features
def _batches(images, batch_size):
    n = len(images)
    for i in range(0, n, batch_size):
        yield images[i:i + batch_size]


def extract_features(model, images, layer: str | None = None, batch_size: int = 64,
                     size="default", progress: bool = True) -> torch.Tensor:
    """Notebook 1, exercise 2. Features of many images at one layer, in batches, without autograd.

    ``images``: a ``uint8`` array ``(N, H, W, 3)`` or a list of images (anything
    ``model.to_input`` accepts). ``layer``: a layer name, by default ``model.penultimate``.
    ``size``: passed on to ``model.to_input(batch, size=size)`` for each batch (``"default"``:
    the model's input crop; ``None``: each image's own size). Run the batches under
    ``torch.no_grad()``, one forward pass each (``model.activations(x, layer)[layer]``), and
    ``bar.update(len(batch))`` after each: the progress bar the given code creates (it shows
    nothing when ``progress=False``); close it at the end (``bar.close()``).
    Returns a float tensor ``(N, D)`` on the CPU: each image's layer output, flattened
    (``(C, H, W)`` becomes one row of ``C * H * W`` values), in the order of ``images``.
    """
    layer = layer or model.penultimate
    model.layer(layer)  # a clear error for an unknown name
    if len(images) == 0:
        raise CourseError("got no images to extract features from")
    check_positive_int(batch_size, "batch_size")
    from tqdm.auto import tqdm
    chunks = []
    bar = tqdm(total=len(images), desc=f"features at {layer}", disable=not progress, leave=False)
    # YOUR CODE HERE: exercise `extract_features`
    raise NotImplementedError("exercise `extract_features` in helpers/features.py is not done yet: write its body here")


# ============================================================================ 3-4. neighbours
def _check_features(name, x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise CourseError(f"{name} must be a 2-D array (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise CourseError(f"{name} is empty")
    x = x.double() if x.dtype == torch.float64 else x.float()
    if not torch.isfinite(x).all():
        raise CourseError(f"{name} contains NaN or infinite values")
    return x


def pairwise_distances(queries, database, metric: str = "l2") -> torch.Tensor:
    """Notebook 1, exercise 3. All distances between ``queries`` ``(Q, D)`` and ``database`` ``(N, D)``: ``(Q, N)``.

    ``metric="l2"``: Euclidean distance ``||q - x||``; ``metric="cosine"``: ``1 - cos(q, x)``,
    where each row is divided by ``max(||row||, 1e-12)`` (as ``torch.nn.functional.normalize``
    does), so that an all-zero row has cosine distance 1 to everything, never NaN.
    One matrix product, no Python loop over items: use
    ``||q - x||^2 = ||q||^2 + ||x||^2 - 2 q.x`` (clamped at 0 before the square root).
    """
    q, x = _check_features("queries", queries), _check_features("database", database)
    if q.shape[1] != x.shape[1]:
        raise CourseError(f"queries have {q.shape[1]} features but the database has {x.shape[1]}; "
                          "extract both at the same layer")
    if metric not in ("l2", "cosine"):
        raise CourseError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    q, x = q.to(torch.promote_types(q.dtype, x.dtype)), x.to(torch.promote_types(q.dtype, x.dtype))
    # YOUR CODE HERE: exercise `pairwise_distances`
    raise NotImplementedError("exercise `pairwise_distances` in helpers/features.py is not done yet: write its body here")


def nearest_neighbors(queries, database, k: int = 5, metric: str = "l2", exclude_self: bool = False):
    """Notebook 1, exercise 4. The ``k`` nearest database items of each query.

    Returns ``(distances, indices)``, both ``(Q, k)``, nearest first (ties broken by the
    lower index). ``exclude_self=True`` is for when ``queries`` are the database itself: each
    item's own entry (the diagonal) is never returned.
    """
    check_positive_int(k, "k")
    n = torch.as_tensor(database).shape[0]
    if k > n - int(exclude_self):
        raise CourseError(f"k={k} but the database has only {n - int(exclude_self)} candidate items")
    d = pairwise_distances(queries, database, metric)
    if exclude_self:
        if d.shape[0] != d.shape[1]:
            raise CourseError("exclude_self needs the queries to be the database itself")
        d = d.clone().fill_diagonal_(float("inf"))
    # YOUR CODE HERE: exercise `nearest_neighbors`
    raise NotImplementedError("exercise `nearest_neighbors` in helpers/features.py is not done yet: write its body here")


def precision_at_k(neighbor_labels, query_labels) -> float:
    """Fraction of the neighbours ``(Q, k)`` whose label equals their query's label ``(Q,)``."""
    nl, ql = torch.as_tensor(neighbor_labels), torch.as_tensor(query_labels)
    if nl.ndim != 2 or ql.shape != nl.shape[:1]:
        raise CourseError(f"expected neighbour labels (Q, k) and query labels (Q,), got "
                          f"{tuple(nl.shape)} and {tuple(ql.shape)}")
    return float((nl == ql[:, None]).float().mean())


# ============================================================================ 5. PCA
class PCAResult(NamedTuple):
    components: torch.Tensor         # (k, D): unit-length principal directions, by variance
    explained_variance_ratio: torch.Tensor  # (k,)
    projection: torch.Tensor         # (N, k): centred data projected on the components
    mean: torch.Tensor               # (D,)


def pca(x, n_components: int = 2) -> PCAResult:
    """Notebook 1, exercise 5. Principal component analysis from scratch: centre the data, take its SVD.

    ``x``: ``(N, D)``. Returns a :class:`PCAResult` with ``components`` ``(k, D)`` (rows
    are unit vectors, largest variance first), ``explained_variance_ratio`` ``(k,)`` (each
    component's share of the total variance), ``projection`` ``(N, k)`` and ``mean`` ``(D,)``.
    Components are defined only up to sign.
    """
    x = _check_features("x", x).double()
    check_positive_int(n_components, "n_components")
    if n_components > min(x.shape):
        raise CourseError(f"n_components={n_components} but the data is {tuple(x.shape)}: at most {min(x.shape)}")
    # YOUR CODE HERE: exercise `pca`
    raise NotImplementedError("exercise `pca` in helpers/features.py is not done yet: write its body here")


def embed_2d(features, method: str = "tsne", seed: int = 0, pca_dims: int = 50):
    """A 2-D map ``(N, 2)`` of ``features`` ``(N, D)`` by ``"pca"``, ``"tsne"`` or ``"umap"``.

    t-SNE (scikit-learn) and UMAP (umap-learn) first reduce to ``pca_dims`` dimensions with
    scikit-learn's PCA (the usual speed-up); both are seeded.
    """
    x = _check_features("features", features).double().numpy()
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(2, random_state=seed).fit_transform(x)
    if x.shape[1] > pca_dims:
        from sklearn.decomposition import PCA
        x = PCA(pca_dims, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE
        return TSNE(2, init="pca", perplexity=min(30, (len(x) - 1) / 3), random_state=seed).fit_transform(x)
    if method == "umap":
        import warnings
        import umap
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return umap.UMAP(n_components=2, random_state=seed, n_neighbors=15, min_dist=0.1).fit_transform(x)
    raise CourseError(f"method must be 'pca', 'tsne' or 'umap', got {method!r}")


# ============================================================================ 6. receptive fields
class RF(NamedTuple):
    """Receptive field of a layer's units in input pixels.

    Unit ``(i, j)`` of the layer sees input rows ``offset + i * stride`` to
    ``offset + i * stride + size - 1`` (and the same for columns). ``offset`` can be
    negative: the field then reaches into the padding.
    """
    size: int
    stride: int
    offset: int


def receptive_field(geometry: Sequence[tuple[int, int, int, int]]) -> RF:
    """Notebook 1, exercise 6. Receptive field after a chain of sliding-window layers, computed layer by layer.

    ``geometry``: one ``(kernel, stride, padding, dilation)`` tuple per layer, input first
    (padding = zeros added before the first row/column). Start from a single pixel
    (size 1, stride 1, offset 0); each layer with effective kernel ``(k - 1) * d + 1``
    grows the size by ``(k_eff - 1) * stride_so_far``, moves the offset by
    ``-padding * stride_so_far``, and multiplies the stride by its own.
    """
    size, stride, offset = 1, 1, 0
    for layer in geometry:
        if len(layer) != 4:
            raise CourseError(f"each layer is (kernel, stride, padding, dilation), got {layer!r}")
        k, s, p, d = (int(v) for v in layer)
        if k < 1 or s < 1 or d < 1 or p < 0:
            raise CourseError(f"invalid layer geometry {layer!r}")
        # YOUR CODE HERE: exercise `receptive_field`
        raise NotImplementedError("exercise `receptive_field` in helpers/features.py is not done yet: write its body here")
    return RF(size, stride, offset)


def _pair(v):
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def conv_geometry(model, layer: str, image_size: int | None = None) -> list[tuple[int, int, int, int]]:
    """The ``(kernel, stride, padding, dilation)`` of every sliding window on the path to ``layer``.

    Read from the network itself: a forward pass of a blank image records, in the order
    they run, each convolution and pooling layer (with the padding it really applied,
    including TensorFlow-style "same" padding) up to and including ``layer``. Branches
    that run in parallel (residual additions, squeeze-excitation) do not widen the field
    beyond the main path, so only modules on the main path count: 1x1 convolutions and
    layers on side branches add nothing. Assumes square kernels and equal padding.
    """
    model.layer(layer)  # a clear error for an unknown name
    size = image_size or model.input_size
    steps = []

    def record(m, inp, out):
        x = inp[0]
        if x.ndim != 4 or out.ndim != 4 or x.shape[-1] < 2:
            return
        if isinstance(m, nn.Conv2d):
            k, s, d = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k, s = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
            d = _pair(getattr(m, "dilation", 1))
        else:
            return
        if k == 1 and s == 1:
            return
        n_in = x.shape[-1]
        pad = getattr(m, "padding", 0)
        if type(m).__name__.endswith("Same"):  # timm's TF-style "same" padding, computed at run time
            p = max((math.ceil(n_in / s) - 1) * s + (k - 1) * d + 1 - n_in, 0) // 2
        elif pad == "same":
            p = (k - 1) * d // 2
        else:
            p = _pair(pad) if pad != "valid" else 0
        steps.append((k, s, p, d))

    windows = {m: record for m in model.net.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))}
    with torch.no_grad(), model.hooks(windows):          # activations() stops right after the layer
        model.activations(torch.zeros(1, 3, size, size, device=model.device), layer)
    return steps


def layer_receptive_field(model, layer: str, image_size: int | None = None) -> RF:
    """The receptive field of ``layer``'s units in ``model`` (see :func:`receptive_field`),
    for inputs of ``image_size`` pixels (default the model's; "same" padding can depend on it)."""
    return receptive_field(conv_geometry(model, layer, image_size))


# ============================================================================ 7. top activations
def top_activations(acts: torch.Tensor, channel: int, k: int = 9):
    """Notebook 1, exercise 7. The ``k`` images whose channel ``channel`` fires most, and where.

    ``acts``: activations ``(N, C, H, W)``. For each image take the maximum of the
    channel's map and its position (where a map has several equal maxima: the first in
    row-major order, as ``torch.max`` and ``argmax`` give it); return the ``k`` best images as
    tensors ``(values (k,), image indices (k,), rows (k,), cols (k,))`` (NumPy arrays are
    accepted too), largest value first (ties: lower image index first). One patch per image,
    so the grid shows ``k`` different images.
    """
    if acts.ndim != 4:
        raise CourseError(f"expected activations (N, C, H, W), got shape {tuple(acts.shape)}")
    n, c, h, w = acts.shape
    if not isinstance(channel, (int, np.integer)) or not 0 <= channel < c:
        raise CourseError(f"channel must be an integer in 0..{c - 1}, got {channel!r}")
    check_positive_int(k, "k")
    if k > n:
        raise CourseError(f"k={k} but there are only {n} images")
    # YOUR CODE HERE: exercise `top_activations`
    raise NotImplementedError("exercise `top_activations` in helpers/features.py is not done yet: write its body here")


def crop_patches(images: np.ndarray, index, rows, cols, rf: RF, fill: int = 128) -> np.ndarray:
    """Crop each unit's receptive field from its image: ``uint8 (k, rf.size, rf.size, 3)``.

    Parts of the field outside the image (padding) are filled with grey.
    """
    images = np.asarray(images)
    n, H, W = images.shape[:3]
    pad = rf.size
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=fill)
    out = []
    for i, r, c in zip(np.asarray(index), np.asarray(rows), np.asarray(cols)):
        y, x = rf.offset + int(r) * rf.stride + pad, rf.offset + int(c) * rf.stride + pad
        out.append(padded[int(i), y:y + rf.size, x:x + rf.size])
    return np.stack(out)


def channel_activations(model, images: np.ndarray, layer: str, channels: Sequence[int], batch_size: int = 100,
                        size=None, progress: bool = True) -> torch.Tensor:
    """Activations of some ``channels`` of ``layer`` for many images: ``(N, len(channels), h, w)``.

    Your :func:`extract_features`, a few batches at a time, each row reshaped back to the
    layer's ``(C, h, w)`` and cut down to the channels asked for, so memory stays small.
    ``images``: ``uint8 (N, H, W, 3)`` fed at ``size`` (``None``: as they are).
    """
    from tqdm.auto import tqdm
    chans = list(channels)
    if len(images) == 0:
        raise CourseError("got no images")
    with torch.no_grad():    # the layer's shape, from one image
        shape = model.activations(model.to_input([images[0]], size=size), layer)[layer].shape[1:]
    bad = [c for c in chans if not isinstance(c, (int, np.integer)) or not 0 <= c < shape[0]]
    if bad:
        raise CourseError(f"layer {layer!r} has channels 0..{shape[0] - 1}, got {bad}")
    chunk = 4 * batch_size
    kept = [extract_features(model, images[i:i + chunk], layer, batch_size, size, progress=False)
            .view(-1, *shape)[:, chans]
            for i in tqdm(range(0, len(images), chunk), desc=f"activations at {layer}", disable=not progress,
                          leave=False)]
    return torch.cat(kept)


def max_activating_patches(model, images: np.ndarray, layer: str, channels: Sequence[int], k: int = 9,
                           batch_size: int = 100, size=None, progress: bool = True):
    """For each channel, the ``k`` input patches (receptive fields) that excite it most.

    ``images``: ``uint8 (N, H, W, 3)`` all of one size (fed at that size). Returns
    ``{channel: (patches uint8 (k, s, s, 3), values (k,))}`` and the :class:`RF` used.
    """
    rf = layer_receptive_field(model, layer, images.shape[1])
    acts = channel_activations(model, images, layer, channels, batch_size, size, progress)
    out = {}
    for j, ch in enumerate(channels):
        vals, idx, r, c = top_activations(acts, j, k)
        out[ch] = (crop_patches(images, idx, r, c, rf), vals)
    return out, rf
