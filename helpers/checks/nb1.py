"""Local checks of notebook 1 (``helpers/features.py``): one function per exercise, a list of cases.

Each case builds small inputs, calls your function and hands the result to ``expect``
(compared with the value stored in ``nb1.npz``; a mismatch names the nearest usual mistake).
The ``assert`` lines are properties that leave no trace in the result.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import features as Fe
from .core import check_of, close, expect, signs_of_rows
from .inputs import tiny_cnn

NOTEBOOK = 1


@check_of("normalize_filters")
def normalize_filters():
    # 3 filters of 3 x 2 x 3 (kH != kW): colours with different ranges, a constant one, a tilted one
    w = torch.tensor([[[[0.0, 2.0, 1.0], [1.0, 1.0, 1.0]], [[4.0, -4.0, 0.0], [2.0, 0.0, 1.0]],
                       [[1.0, 1.0, 3.0], [0.0, 0.0, 2.0]]],
                      [[[3.0] * 3] * 2] * 3,
                      [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]],
                       [[9.0, 1.0, 0.0], [5.0, 5.0, 8.0]]]])
    expect("three filters, one constant", Fe.normalize_filters(w),
           "filter i becomes (w_i - min(w_i)) / (max(w_i) - min(w_i)), min and max over all its values, then "
           "permute to (C_out, kH, kW, 3); a constant filter becomes all zeros")


@check_of("extract_features")
def extract_features():
    model = tiny_cnn()
    imgs = np.random.default_rng(0).integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    f3 = Fe.extract_features(model, imgs, batch_size=3, progress=False)
    assert isinstance(f3, torch.Tensor), f"return a tensor (N, D), one row per image; got {type(f3).__name__}"
    assert not f3.requires_grad, "extract features under torch.no_grad() (and return them detached)"
    expect("7 images in batches of 3", f3,
           "one row per image, in order, one batch after the other: the penultimate layer of tiny_cnn has 8 values")
    f7 = Fe.extract_features(model, imgs, batch_size=7, progress=False)
    assert close(f3, f7), "the result must not depend on the batch size"
    expect("1 image at conv1", Fe.extract_features(model, imgs[:1], layer="conv1", progress=False),
           "at conv1 each image gives (4, 16, 16): flatten (C, H, W) into one row of 1024 values")
    small = np.random.default_rng(1).integers(0, 256, (1, 5, 8, 3), dtype=np.uint8)
    expect("1 image of 5 x 8 at its own size", Fe.extract_features(model, small, layer="conv1", size=None,
                                                                   progress=False),
           "pass size on to model.to_input(..., size=size): size=None keeps the image's own 5 x 8 pixels "
           "(4 * 5 * 8 values at conv1)")


@check_of("pairwise_distances")
def pairwise_distances():
    q = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    expect("l2, 2 queries and 3 items", Fe.pairwise_distances(q, x, "l2"),
           "L2: sqrt(clamp(|q|^2 + |x|^2 - 2 q.x, min=0)), one row per query")
    same = torch.rand(32, 5, generator=torch.Generator().manual_seed(0))
    dd = Fe.pairwise_distances(same, same, "l2")
    assert torch.isfinite(dd).all() and (dd >= 0).all(), \
        "clamp the squared distance at 0 before the square root: for identical rows rounding makes " \
        "|q|^2 + |x|^2 - 2 q.x slightly negative, and its square root NaN"
    assert torch.diagonal(dd).abs().max() < 1e-3, "the distance of a row to itself is 0"
    cq = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    cx = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 1.0]])
    expect("cosine, 2 queries and 3 items", Fe.pairwise_distances(cq, cx, "cosine"),
           "cosine: 1 - (q / |q|) . (x / |x|) for every pair, one row per query")
    expect("cosine with an all-zero row", Fe.pairwise_distances(torch.tensor([[0.0, 0.0], [1.0, 1.0]]), cx, "cosine"),
           "an all-zero row has cosine distance 1 to everything: divide each row by max(|row|, 1e-12)")


@check_of("nearest_neighbors")
def nearest_neighbors():
    x = torch.tensor([[0.0], [2.0], [-2.0], [5.0]])
    q = torch.tensor([[0.0], [4.0]])
    d, i = Fe.nearest_neighbors(q, x, k=3)
    expect("indices, k=3", i, "the k nearest items of each query, nearest first, ties: lower index first")
    expect("distances, k=3", d, "return the distances of the k neighbours, nearest first")
    line = torch.tensor([[3.0], [1.0], [5.0], [1.0], [5.0], [2.0]])       # four items at distance 2 from 3
    _, i = Fe.nearest_neighbors(torch.tensor([[3.0]]), line, k=5)
    expect("four ties", i,
           "among equal distances the lower index first: a stable sort (torch.sort(..., stable=True)); torch.topk "
           "and an unstable argsort order ties as they like")
    _, i = Fe.nearest_neighbors(x, x, k=1, exclude_self=True)
    expect("exclude_self", i, "exclude_self: an item must not be its own neighbour")


@check_of("pca")
def pca():
    # 6 samples in 3-D, far from the origin, elongated along a tilted direction
    x = torch.tensor([[12.0, 3.0, -1.0], [9.0, 5.0, 0.5], [14.0, 2.0, -2.0],
                      [7.0, 7.0, 1.0], [11.0, 4.5, 0.0], [10.0, 3.5, -0.5]])
    r = Fe.pca(x, 2)
    expect("mean", r.mean, "the mean is over the samples (axis 0): x.mean(0), one value per feature", atol=1e-4)
    # components are defined up to sign: each row is compared with its largest entry made positive
    sign = signs_of_rows(r.components)
    expect("components (up to sign)", r.components.double() * sign[:, None],
           "components: the first n_components rows of V^T of the centred data (largest variance first, unit "
           "length)", atol=1e-4)
    expect("explained variance ratio", r.explained_variance_ratio, "explained variance ratio: s_i^2 / sum of all s^2",
           atol=1e-5)
    expect("projection (same signs)", r.projection.double() * sign,
           "projection: (x - mean) @ components.T, shape (N, n_components)", atol=1e-3)


@check_of("receptive_field")
def receptive_field():
    expect("no layer", tuple(Fe.receptive_field([])), "no layer: one pixel, (size 1, stride 1, offset 0)", atol=0)
    # strided first, then dilated and padded layers: every usual mistake gives another answer
    geo = [(3, 2, 1, 1), (3, 1, 1, 2), (2, 2, 0, 1), (3, 1, 1, 1)]
    got = Fe.receptive_field(geo)
    assert hasattr(got, "size") and hasattr(got, "offset"), "return an RF(size, stride, offset)"
    expect("four layers", tuple(got), f"for {geo}: size += (k_eff - 1) * stride, offset -= padding * stride, "
                                      "then stride *= s, layer by layer", atol=0)


@check_of("top_activations")
def top_activations():
    acts = torch.zeros(5, 2, 2, 3)                    # (N, C, H, W) with H != W
    acts[0, 1, 1, 1] = 5.0                           # position 4: row 1, col 1
    acts[1, 1, 0, 2] = 9.0                           # position 2: row 0, col 2
    acts[1, 1, 1, 2] = 7.0                           # image 1's second-best spot: not a separate entry
    acts[2, 0, 1, 1] = 100.0                         # another channel
    acts[3, 1, 1, 2] = 5.0                           # position 5, ties with image 0
    acts[4, 1, 0, 1] = 3.0
    v, idx, r, c = Fe.top_activations(acts, channel=1, k=3)
    expect("images", idx, "the k images whose maximum of the channel is largest, largest first (ties: lower image "
                          "index first)", atol=0)
    expect("maxima", v, "return the maxima of those images, largest first")
    expect("rows and columns", (r, c), "rows and columns of each image's maximum (row = p // W, column = p % W)", atol=0)
    two = torch.zeros(2, 1, 2, 3)
    two[0, 0, 0, 2] = two[0, 0, 1, 0] = 4.0          # image 0: two equal maxima, at (0, 2) and (1, 0)
    two[1, 0, 1, 1] = 1.0
    _, _, r, c = Fe.top_activations(two, channel=0, k=1)
    expect("two equal maxima in one map", (r, c),
           "where a map has several equal maxima, its position is the first in row-major order (as torch.max gives "
           "it)", atol=0)
