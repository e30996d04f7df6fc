"""Local checks of the exercises: tiny hand-computable cases that name the likely bug.

A notebook calls ``check("normalize_filters")`` after an exercise; ``bash course.sh check``
runs the same checks, one line each. Each check takes well under a second. The cases are
chosen so that the usual mistakes (a sign, an axis, a normalization, an off-by-one, a
missing clamp, the global random generator, ...) each give a *different* wrong answer, and
the message names the mistake whose answer you returned. Nothing here is an exercise, and
passing these checks does not guarantee full marks: the grader has more tests.
"""
from __future__ import annotations

import os
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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny tensors: a second thread only waits (10 times slower on a busy machine)
    try:
        fn()
    except NotImplementedError as e:
        print(f"[not done] {name}: {e}")
        return False
    except AssertionError as e:
        print(f"[FAILED] {name}: {str(e) or 'a check failed at ' + _where(e)}")
        return False
    except Exception as e:  # a crash: show where in the student's code
        print(f"[ERROR] {name}: {type(e).__name__}: {e} (at {_where(e)})")
        return False
    finally:
        torch.set_num_threads(threads)
    print(f"[passed] {name}: all local checks passed")
    return True


def _where(e: BaseException) -> str:
    """``file:line in function`` of the innermost frame in the library outside this file (the
    student's code), else the innermost frame of this file, else the innermost one."""
    frames = traceback.extract_tb(e.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    mine = [f for f in frames if os.path.dirname(os.path.abspath(f.filename)) == here]
    theirs = [f for f in mine if os.path.basename(f.filename) != "checks.py"]
    f = (theirs or mine or frames or [None])[-1]
    return "?" if f is None else f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}"


def _same(a, b, atol: float = 1e-5) -> bool:
    """``a`` equals ``b``: same shape, values within ``atol`` (NaN equals nothing). Never
    raises: a wrong shape or type is simply not the same."""
    try:
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        if a.shape != b.shape:
            return False
        if a.dtype == torch.bool or b.dtype == torch.bool:
            return bool(torch.equal(a.bool(), b.bool()))
        return bool(torch.allclose(a.detach().double().cpu(), b.detach().double().cpu(), rtol=0, atol=atol))
    except Exception:  # noqa: BLE001 - not comparable: not the same
        return False


def _expect(got, want, wrong, otherwise: str, atol: float = 1e-5) -> None:
    """Pass when ``got`` equals ``want``; else fail with the message of the first known wrong
    answer that ``got`` equals (``wrong``: ``[(message, value or function giving it), ...]``),
    or with ``otherwise``."""
    if _same(got, want, atol):
        return
    for message, value in wrong:
        if _same(got, value() if callable(value) else value, atol):
            raise AssertionError(message)
    raise AssertionError(otherwise)


def _shape(t) -> tuple | str:
    return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__


# ============================================================================ notebook 1
def check_normalize_filters_exact():
    # 3 filters of 3 x 2 x 3 (kH != kW): colours with different ranges, a constant one, a tilted one
    w = torch.tensor([[[[0.0, 2.0, 1.0], [1.0, 1.0, 1.0]], [[4.0, -4.0, 0.0], [2.0, 0.0, 1.0]],
                       [[1.0, 1.0, 3.0], [0.0, 0.0, 2.0]]],
                      [[[3.0] * 3] * 2] * 3,
                      [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]],
                       [[9.0, 1.0, 0.0], [5.0, 5.0, 8.0]]]])
    out = Fe.normalize_filters(w)
    assert _shape(out) == (3, 2, 3, 3), \
        f"return (C_out, kH, kW, 3) = (3, 2, 3, 3) for weights (3, 3, 2, 3): colours last, like an image; got {_shape(out)}"
    assert torch.isfinite(out).all(), \
        "a constant filter divides by zero (max - min = 0): guard the division, e.g. (max - min).clamp_min(1e-12)"

    def scaled(lo, hi):
        return ((w - lo) / (hi - lo).clamp_min(1e-12)).permute(0, 2, 3, 1)
    flat = w.flatten(1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    want = scaled(lo, hi)
    _expect(out, want, [
        ("you normalized each colour channel on its own: take the min and max over all of a filter's values "
         "(all three colours together), so that its colours stay comparable",
         lambda: scaled(w.amin((2, 3), keepdim=True), w.amax((2, 3), keepdim=True))),
        ("you normalized all filters together (one global min and max): each filter gets its own min and max",
         lambda: scaled(w.min(), w.max())),
        ("to move the colours last use permute(0, 2, 3, 1): reshape keeps the memory order and mixes the colours "
         "and positions up", lambda: ((w - lo) / (hi - lo).clamp_min(1e-12)).reshape(3, 2, 3, 3)),
        ("divide by (max - min), not by max: the filter's smallest value must become 0 and its largest 1",
         lambda: ((w - lo) / hi).permute(0, 2, 3, 1)),
    ], "filter i becomes (w_i - min(w_i)) / (max(w_i) - min(w_i)), min and max over all its values, then "
       "permute to (C_out, kH, kW, 3); a constant filter becomes all zeros")


def check_extract_features_batched_and_no_grad():
    model = tiny_cnn()
    imgs = np.random.default_rng(0).integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    f3 = Fe.extract_features(model, imgs, batch_size=3, progress=False)
    assert isinstance(f3, torch.Tensor) and f3.ndim == 2, \
        f"return a tensor (N, D): one row per image; got {_shape(f3)}"
    assert f3.shape[0] == 7, f"one row per image: 7 images in batches of 3 gave {f3.shape[0]} rows " \
                             "(is the last, smaller batch of 1 image missing?)"
    assert f3.shape == (7, 8), f"the penultimate layer of tiny_cnn has 8 values per image; got {_shape(f3)}"
    assert not f3.requires_grad, "extract features under torch.no_grad() (and return them detached)"
    with torch.no_grad():
        want = model.net.flatten(model.net.pool(model.net.act2(model.net.conv2(model.net.act1(
            model.net.conv1(model.to_input(list(imgs))))))))
    _expect(f3, want, [], "features of image i must be in row i: keep the order, one batch after the other")
    f7 = Fe.extract_features(model, imgs, batch_size=7, progress=False)
    assert _same(f3, f7, 1e-6), "the result must not depend on the batch size"
    conv = Fe.extract_features(model, imgs[:2], layer="conv1", progress=False)
    assert _shape(conv) != (2, 8), "read the layer you are given (layer='conv1' here), not the penultimate one"
    assert _shape(conv) != (2, 4), "spatial layers: flatten (C, H, W) into one row of C * H * W values, do not pool"
    assert _shape(conv) == (2, 4 * 16 * 16), \
        f"at conv1 each image gives (4, 16, 16): flatten (C, H, W) into one row of 1024 values; got {_shape(conv)}"
    big = np.random.default_rng(1).integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    own = Fe.extract_features(model, big, layer="conv1", size=None, progress=False)
    assert _shape(own) == (2, 4 * 20 * 24), \
        "pass size on to model.to_input(..., size=size): size=None keeps the images' own 20 x 24 pixels " \
        f"(4 * 20 * 24 values at conv1); got {_shape(own)}"


def check_pairwise_distances_exact():
    q = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    d = Fe.pairwise_distances(q, x, "l2")
    assert _shape(d) == (2, 3), f"the result is (Q, N) = (2, 3): one row per query; got {_shape(d)}"
    sq = torch.tensor([[25.0, 1.0, 4.0], [0.0, 20.0, 13.0]])
    plus = (q * q).sum(1, keepdim=True) + (x * x).sum(1) + 2 * q @ x.T
    _expect(d, sq.sqrt(), [
        ("the L2 distance, not squared: take the square root of |q|^2 + |x|^2 - 2 q.x", sq),
        ("||q - x||^2 = |q|^2 + |x|^2 - 2 q.x: minus the cross term", plus.sqrt()),
    ], "L2: sqrt(clamp(|q|^2 + |x|^2 - 2 q.x, min=0)), one row per query")
    same = torch.rand(32, 5, generator=torch.Generator().manual_seed(0))
    dd = Fe.pairwise_distances(same, same, "l2")
    assert torch.isfinite(dd).all() and (dd >= 0).all(), \
        "clamp the squared distance at 0 before the square root: for identical rows rounding makes " \
        "|q|^2 + |x|^2 - 2 q.x slightly negative, and its square root NaN"
    assert torch.diagonal(dd).abs().max() < 1e-3, "the distance of a row to itself is 0"
    cq = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    cx = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 1.0]])
    c = Fe.pairwise_distances(cq, cx, "cosine")
    unit = lambda t, dim=1: t / t.norm(dim=dim, keepdim=True)  # noqa: E731
    cos = unit(cq) @ unit(cx).T
    _expect(c, 1 - cos, [
        ("cosine distance = 1 - cos(q, x): you returned the similarity cos(q, x)", cos),
        ("normalize both sides to unit length (queries and database)", lambda: 1 - unit(cq) @ cx.T),
        ("normalize both sides to unit length (queries and database)", lambda: 1 - cq @ unit(cx).T),
        ("normalize each row (dim=1): one vector per row, not each column",
         lambda: 1 - unit(cq, 0) @ unit(cx, 0).T),
    ], "cosine: 1 - (q / |q|) . (x / |x|) for every pair, one row per query", atol=1e-5)


def check_nearest_neighbors_order_and_ties():
    x = torch.tensor([[0.0], [2.0], [-2.0], [5.0]])
    q = torch.tensor([[0.0], [4.0]])
    d, i = Fe.nearest_neighbors(q, x, k=3)
    full = Fe.pairwise_distances(q, x)
    assert _shape(i) == (2, 3) and _shape(d) == (2, 3), \
        f"return (distances, indices), both (Q, k) = (2, 3); got {_shape(d)} and {_shape(i)}"
    _expect(i, torch.tensor([[0, 1, 2], [3, 1, 0]]), [
        ("nearest first: sort the distances in increasing order", torch.tensor([[3, 1, 2], [2, 0, 1]])),
        ("sort along each row (dim=1): row q holds query q's distances to the whole database",
         lambda: torch.sort(full, dim=0, stable=True).indices[:, :3]),
        ("among equal distances the lower index first (a stable sort): query 0 is at distance 2 from items 1 and 2",
         torch.tensor([[0, 2, 1], [3, 1, 0]])),
    ], "the k nearest items of each query, nearest first, ties: lower index first")
    _expect(d, torch.tensor([[0.0, 2.0, 2.0], [1.0, 2.0, 4.0]]), [
        ("return the distances of those neighbours, in the same order (d.gather(1, indices))", full[:, :3]),
    ], "return the distances of the k neighbours, nearest first")
    line = torch.tensor([[3.0], [1.0], [5.0], [1.0], [5.0], [2.0]])       # four items at distance 2 from 3
    _, i = Fe.nearest_neighbors(torch.tensor([[3.0]]), line, k=5)
    assert _same(i, torch.tensor([[0, 5, 1, 2, 3]])), \
        "among equal distances the lower index first: a stable sort (torch.sort(..., stable=True)); torch.topk " \
        f"and an unstable argsort order ties as they like; expected [[0, 5, 1, 2, 3]], got {i.tolist()}"
    d, i = Fe.nearest_neighbors(x, x, k=1, exclude_self=True)
    assert _same(i[:, 0], torch.tensor([1, 0, 0, 1])), "exclude_self: an item must not be its own neighbour"


def _pca_reference(x, k):
    """Principal components by the eigenvectors of the covariance (not an SVD), sign-fixed."""
    x = x.double()
    mean = x.mean(0)
    vals, vecs = torch.linalg.eigh((x - mean).T @ (x - mean))
    order = torch.argsort(vals, descending=True)
    return vecs[:, order].T, vals[order].clamp_min(0), mean


def check_pca_small_exact():
    # 6 samples in 3-D, far from the origin, elongated along a tilted direction
    x = torch.tensor([[12.0, 3.0, -1.0], [9.0, 5.0, 0.5], [14.0, 2.0, -2.0],
                      [7.0, 7.0, 1.0], [11.0, 4.5, 0.0], [10.0, 3.5, -0.5]])
    r = Fe.pca(x, 2)
    comps, var, mean = _pca_reference(x, 2)
    assert _shape(r.mean) == (3,), \
        f"the mean is over the samples (axis 0): one value per feature, shape (3,); got {_shape(r.mean)}"
    assert _same(r.mean, mean, 1e-4), "the mean is over the samples (axis 0): x.mean(0)"
    assert _shape(r.components) == (2, 3), f"components are (n_components, D) = (2, 3); got {_shape(r.components)}"
    got = r.components.double()
    sign = torch.sign((got * comps[:2]).sum(1))
    sign[sign == 0] = 1
    aligned = got * sign[:, None]
    _, _, vt_raw = torch.linalg.svd(x.double(), full_matrices=False)
    _, _, vt = torch.linalg.svd(x.double() - mean, full_matrices=False)

    def up_to_sign(a, b):
        return _same(a.abs(), b.abs(), 1e-3) and _same(a * torch.sign((a * b).sum(1, keepdim=True)), b, 1e-3)
    if not _same(aligned, comps[:2], 1e-4):
        assert not up_to_sign(got, vt_raw[:2]), \
            "centre the data before the SVD (x - mean): the components of uncentred data point towards the mean"
        assert not up_to_sign(got, vt[:, :2].T), "components are the ROWS of V^T (vt[:k]), not its columns"
        raise AssertionError("components: the first n_components rows of V^T of the centred data (largest variance "
                             "first, unit length)")
    _expect(r.explained_variance_ratio, var[:2] / var.sum(), [
        ("the explained variance ratio uses squared singular values: s^2 / sum(s^2)",
         lambda: var[:2].sqrt() / var.sqrt().sum()),
        ("divide by the total variance of ALL components (the sum of every s^2), not only of the kept ones",
         lambda: var[:2] / var[:2].sum()),
    ], "explained variance ratio: s_i^2 / sum of all s^2", atol=1e-5)
    proj = r.projection.double() * sign
    _expect(proj, (x.double() - mean) @ comps[:2].T, [
        ("project the centred data: (x - mean) @ components.T", lambda: x.double() @ comps[:2].T),
    ], "projection: (x - mean) @ components.T, shape (N, n_components)", atol=1e-3)


def _rf(geometry, size_of=lambda k, d: (k - 1) * d + 1, stride_first=False, offset=lambda o, p, j: o - p * j,
        grow=lambda s, k, j: s + (k - 1) * j):
    """The receptive field by the rule, or by one of its usual wrong variants."""
    size, stride, off = 1, 1, 0
    for k, s, p, d in geometry:
        ke = size_of(k, d)
        if stride_first:
            stride *= s
        size, off = grow(size, ke, stride), offset(off, p, stride)
        if not stride_first:
            stride *= s
    return (size, stride, off)


def check_receptive_field_exact():
    got0 = Fe.receptive_field([])
    assert tuple(got0) == (1, 1, 0), f"no layer: one pixel, (size 1, stride 1, offset 0); got {tuple(got0)}"
    # strided first, then dilated and padded layers: every usual mistake gives another answer
    geo = [(3, 2, 1, 1), (3, 1, 1, 2), (2, 2, 0, 1), (3, 1, 1, 1)]
    got = Fe.receptive_field(geo)
    assert hasattr(got, "size") and hasattr(got, "offset"), "return an RF(size, stride, offset)"
    _expect(torch.tensor(tuple(got)), torch.tensor(_rf(geo)), [
        ("each layer grows the size by (k_eff - 1) * (the stride of everything before it): multiply the stride "
         "by the layer's own stride after updating the size and the offset", torch.tensor(_rf(geo, stride_first=True))),
        ("dilation d: the effective kernel is (k - 1) * d + 1", torch.tensor(_rf(geo, size_of=lambda k, d: k))),
        ("dilation d: the effective kernel is (k - 1) * d + 1", torch.tensor(_rf(geo, size_of=lambda k, d: k * d))),
        ("padding moves the offset by -padding * (stride before the layer): the field reaches into the padding, "
         "to the left (negative)", torch.tensor(_rf(geo, offset=lambda o, p, j: o + p * j))),
        ("padding moves the offset by -padding * (stride before the layer), not by -padding",
         torch.tensor(_rf(geo, offset=lambda o, p, j: o - p))),
        ("each layer adds (k - 1) * (stride before it) to the size, not k * stride",
         torch.tensor(_rf(geo, grow=lambda s, k, j: s + k * j))),
    ], f"for {geo} the field is RF{_rf(geo)}: size += (k_eff - 1) * stride, offset -= padding * stride, "
       f"then stride *= s; got {tuple(got)}", atol=0)


def check_top_activations_exact():
    acts = torch.zeros(5, 2, 2, 3)                    # (N, C, H, W) with H != W
    acts[0, 1, 1, 1] = 5.0                           # position 4: row 1, col 1
    acts[1, 1, 0, 2] = 9.0                           # position 2: row 0, col 2
    acts[1, 1, 1, 2] = 7.0                           # image 1's second-best spot: not a separate entry
    acts[2, 0, 1, 1] = 100.0                         # another channel
    acts[3, 1, 1, 2] = 5.0                           # position 5, ties with image 0
    acts[4, 1, 0, 1] = 3.0
    v, idx, r, c = Fe.top_activations(acts, channel=1, k=3)
    _expect(idx, torch.tensor([1, 0, 3]), [
        ("one entry per image (each image's own maximum), so that the k patches come from k different images: "
         "image 1 appears twice", torch.tensor([1, 1, 0])),
        ("largest first: sort the images' maxima in decreasing order", torch.tensor([2, 4, 0])),
        ("ties: the lower image index first (images 0 and 3 both reach 5; a stable sort)", torch.tensor([1, 3, 0])),
    ], "the k images whose maximum of the channel is largest, largest first (ties: lower image index first)", atol=0)
    assert _same(v, torch.tensor([9.0, 5.0, 5.0])), "return the maxima of those images, largest first"
    _expect(torch.stack([torch.as_tensor(r), torch.as_tensor(c)]), torch.tensor([[0, 1, 1], [2, 1, 2]]), [
        ("position p of the flattened (H, W) map is row p // W, column p % W: divide by the width",
         torch.tensor([[1, 2, 2], [0, 0, 1]])),
        ("return the rows, then the columns (row first): row = p // W, column = p % W",
         torch.tensor([[2, 1, 2], [0, 1, 1]])),
    ], "rows and columns of each image's maximum (row = p // W, column = p % W)", atol=0)


NB1 = {
    "normalize_filters": check_normalize_filters_exact,
    "extract_features": check_extract_features_batched_and_no_grad,
    "pairwise_distances": check_pairwise_distances_exact,
    "nearest_neighbors": check_nearest_neighbors_order_and_ties,
    "pca": check_pca_small_exact,
    "receptive_field": check_receptive_field_exact,
    "top_activations": check_top_activations_exact,
}


# ============================================================================ notebook 2
def _function_model(logits_fn, size: int = 2, batches: list | None = None):
    """A wrapped 'network' with identity normalization whose logits are ``logits_fn(x)``: every
    gradient and probability is known by hand. ``batches``: the batch sizes its forward passes
    must have, in order, with no autograd; anything else raises an AssertionError that says so
    (inside the call, so that the grader sees it too)."""
    import torch.nn as nn
    from .models import WrappedModel

    class Fn(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            if batches is not None:
                i, self.calls = self.calls, self.calls + 1
                assert not torch.is_grad_enabled(), "no autograd: run the forward passes under torch.no_grad()"
                assert i < len(batches) and x.shape[0] == batches[i], \
                    f"run batch_size images per forward pass, the last batch smaller: batches of {batches}; " \
                    f"forward pass {i + 1} got {x.shape[0]} images"
            return logits_fn(x)
    return WrappedModel("by hand", Fn(), ["zero", "one"], size, (0.0,) * 3, (1.0,) * 3, "", "", "",
                        resize=(size, size), min_size=2)


def _weights(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _linear_logits(x):
    """Two classes whose logits are fixed weighted sums of the pixels (signed weights that vary
    with colour and position), for images (N, 3, 4, 5)."""
    w = _weights((2, 3, 4, 5), 7)
    return torch.einsum("nchw,kchw->nk", x, w)


def _occlusion_reference(model, x, target, window, stride, baseline, prob=True, softmax_dim=-1, batch=16,
                         last=True, mean=True):
    """The occlusion map by a plain loop, or one of its usual wrong variants."""
    H, W = x.shape[-2:]
    ys = range(0, H - window + (1 if last else 0), stride)
    xs = range(0, W - window + (1 if last else 0), stride)
    pos = [(y, xx) for y in ys for xx in xs] or [(0, 0)]
    with torch.no_grad():
        p0 = model(x).softmax(-1)[0, target] if prob else model(x)[0, target]
        imgs = []
        for y, xx in pos:
            o = x.clone()
            o[..., y:y + window, xx:xx + window] = baseline
            imgs.append(o)
        outs = [model(torch.cat(imgs[i:i + batch])) for i in range(0, len(imgs), batch)]
        p = torch.cat([o.softmax(softmax_dim)[:, target] if prob else o[:, target] for o in outs])
    total, count = torch.zeros(H, W), torch.zeros(H, W)
    for (y, xx), d in zip(pos, p0 - p):
        total[y:y + window, xx:xx + window] += d
        count[y:y + window, xx:xx + window] += 1
    return torch.where(count > 0, total / (count.clamp_min(1) if mean else 1), 0.0)


def check_occlusion_map_exact():
    model = _function_model(_linear_logits, size=4)
    x = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(0)) * 0.4
    x[0, :, -1, -1] = 1.0                               # a bright pixel in the last row and column
    # window 3, stride 1 on 4 x 5: 2 x 3 overlapping windows (2 batches of 3), a grey baseline; only the
    # last row and column of windows cover the bright pixel
    args = dict(window=3, stride=1, baseline=0.25)
    m = Sa.occlusion_map(model, x, 1, batch_size=3, **args)
    assert _shape(m) == (4, 5), f"return one value per pixel: (H, W) = (4, 5); got {_shape(m)}"
    ref = lambda **kw: _occlusion_reference(model, x, 1, **args, batch=3, **kw)  # noqa: E731
    _expect(m, ref(), [
        ("the map is the drop of the target's softmax probability, p(x) - p(x occluded), not of its logit",
         lambda: ref(prob=False)),
        ("fill the window with `baseline` (0.25 here), not with 0",
         lambda: _occlusion_reference(model, x, 1, 3, 1, 0.0, batch=3)),
        ("the drop is p(original) - p(occluded): positive where hiding hurts the class", lambda: -ref()),
        ("overlapping windows: average the drops of all the windows that cover a pixel (divide by their count)",
         lambda: ref(mean=False)),
        ("softmax over the classes (dim -1) of each occluded copy, not over the batch",
         lambda: ref(softmax_dim=0)),
        ("the windows' range stops one short: the last row and column of windows must be used too "
         "(range(0, H - window + 1, stride))", lambda: ref(last=False)),
    ], "each pixel: the mean over the windows covering it of p(x) - p(x with the window set to baseline), "
       "softmax probability of the target class", atol=1e-6)
    m2 = Sa.occlusion_map(model, x, 1, batch_size=1, **args)
    assert _same(m, m2, 1e-6), "the result must not depend on batch_size (is the last, smaller batch used?)"


def check_saliency_map_exact():
    model = _function_model(_linear_logits, size=4)
    x = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(1))
    s = Sa.saliency_map(model, x, target=1)
    w = _weights((2, 3, 4, 5), 7)
    g = w[1]                                          # d logit_1 / d x
    assert _shape(s) != (3, 5), "return (H, W): reduce the gradient (3, H, W) over the colours (dim 0), not over the rows"
    assert _shape(s) == (4, 5), f"return (H, W) = (4, 5): the gradient (3, H, W) reduced over the colours; got {_shape(s)}"
    p = torch.softmax(_linear_logits(x), -1)[0]
    gp = p[1] * (g - (p[0] * w[0] + p[1] * w[1]))     # d p_1 / d x
    _expect(s, g.abs().amax(0), [
        ("take the absolute value of the gradient before the maximum over the colours: |d logit / d x|",
         g.amax(0)),
        ("take the absolute value before the maximum over the colours, not after it", g.amax(0).abs()),
        ("reduce the colours by their maximum over the colours, not their sum", g.abs().sum(0)),
        ("saliency is the gradient of the class score (the logit), not the probability", gp.abs().amax(0)),
    ], "saliency: |d logit_target / d x|, maximum over the 3 colours", atol=1e-5)
    assert x.grad is None, "work on a copy of x (x.clone().requires_grad_()), not the caller's tensor"


def check_grabcut_seeds_exact():
    s = torch.tensor([[7.0, 18.0, 2.0, 11.0, 20.0, 0.0, 9.0], [14.0, 4.0, 19.0, 10.0, 1.0, 16.0, 5.0],
                      [12.0, 3.0, 17.0, 6.0, 15.0, 8.0, 13.0]])       # 0 .. 20: the quantiles hit values
    seeds = Sa.grabcut_seeds(s, fg_quantile=0.9, bg_quantile=0.2)     # 18, 4 and the median 10
    assert isinstance(seeds, np.ndarray) and seeds.dtype == np.uint8, \
        f"return a NumPy uint8 array (H, W) (OpenCV wants uint8); got {getattr(seeds, 'dtype', type(seeds).__name__)}"
    assert seeds.shape == (3, 7), f"return one label per pixel, (H, W) = (3, 7); got {seeds.shape}"

    def label(v, hi=18.0, lo=4.0, fg=lambda v, h: v >= h, bg=lambda v, l: v <= l, above=lambda v, m: v > m, sure=1):
        return 0 if bg(v, lo) else sure if fg(v, hi) else 3 if above(v, 10.0) else 2

    def labels(**kw):
        return torch.tensor([[label(float(v), **kw) for v in row] for row in s])
    _expect(torch.from_numpy(seeds.astype(np.int64)), labels(), [
        ("values at or above the fg quantile are sure foreground, GC_FGD = 1 (3 is only probable foreground)",
         lambda: labels(sure=3)),
        ("sure foreground: at or above the fg quantile (>=): 18 is the 0.9 quantile here",
         lambda: labels(fg=lambda v, h: v > h)),
        ("sure background: at or below the bg quantile (<=): 4 is the 0.2 quantile here",
         lambda: labels(bg=lambda v, l: v < l)),
        ("probable foreground (3): strictly above the median (10 here is probable background, 2)",
         lambda: labels(above=lambda v, m: v >= m)),
        ("the foreground threshold is the fg_quantile of the values, the background one the bg_quantile "
         "(you swapped them)", lambda: torch.tensor([[0 if v <= 18 else 1 for v in row] for row in s.tolist()])),
    ], "labels: >= fg quantile -> 1 (sure fg), <= bg quantile -> 0 (sure bg), of the rest above the median -> 3, "
       "else 2 (quantiles with torch.quantile)", atol=0)


def check_guided_relu_backward_exact():
    x = torch.tensor([-1.0, 0.0, 0.5, 3.0, 6.0, 7.0, 2.0, 5.0])
    g = torch.tensor([1.0, 1.0, 1.0, -2.0, 1.0, 1.0, 4.0, -1.0])
    relu = Sa.guided_relu_backward(x, g)
    _expect(relu, torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 4.0, 0.0]), [
        ("pass the gradient only where the gradient is positive (negative gradients are blocked, not passed)",
         torch.tensor([0.0, 0.0, 1.0, -2.0, 1.0, 1.0, 4.0, -1.0])),
        ("pass the gradient only where the gradient is positive, and then as it is (not its absolute value)",
         torch.tensor([0.0, 0.0, 1.0, 2.0, 1.0, 1.0, 4.0, 1.0])),
        ("ReLU: pass only where x > 0 strictly: at x = 0 the unit is off",
         torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 4.0, 0.0])),
    ], "ReLU: pass the gradient only where x > 0 AND the gradient is positive; zero elsewhere", atol=0)
    relu6 = Sa.guided_relu_backward(x, g, upper=6.0)
    _expect(relu6, torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0, 0.0]), [
        ("ReLU6: also block where x >= 6 (upper): the unit is saturated there, its gradient is 0",
         torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 4.0, 0.0])),
        ("ReLU6: block where x >= 6, at x = 6 exactly too (the unit is saturated: 0 < x < upper)",
         torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 4.0, 0.0])),
    ], "ReLU6: pass the gradient only where 0 < x < 6 AND the gradient is positive", atol=0)


def _guided_by_hand(model, x, start: str, grad):
    """Guided backprop through tiny_cnn by hand, from ``grad`` at conv2's output (``start =
    "z2"``) or at act2's output (``"a2"``): each ReLU passes only positive gradients where it
    was active."""
    n = model.net
    xx = x.clone().requires_grad_(True)
    z1 = n.conv1(xx)
    a1 = z1.clamp(min=0)
    z2 = n.conv2(a1)
    g_z2 = grad if start == "z2" else grad.clamp(min=0) * (z2 > 0)
    g_a1, = torch.autograd.grad(z2, a1, grad_outputs=g_z2)
    g_x, = torch.autograd.grad(z1, xx, grad_outputs=g_a1.clamp(min=0) * (z1 > 0))
    return g_x[0].detach()


def check_guided_backprop_tiny():
    import torch.nn as nn
    model = tiny_cnn(seed=2, inplace=True)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    g = Sa.guided_backprop(model, x, layer="conv2", channel=3)
    assert _shape(g) == (3, 16, 16), f"return the image gradient (3, H, W); got {_shape(g)}"
    one = torch.zeros(1, 8, 16, 16)
    one[0, 3] = 1.0
    want = _guided_by_hand(model, x, "z2", one)
    _expect(g, want, [
        ("the objective is the channel's activation summed over the map (sum, not mean)", want / 256),
        ("the objective is that channel's activation, act[0, channel], not the whole layer's",
         lambda: _guided_by_hand(model, x, "z2", torch.ones(1, 8, 16, 16))),
        ("return the guided gradient as it is (signed), not its absolute value", want.abs()),
    ], "objective: the channel's activation summed over the map; backprop with the guided rule at every ReLU",
       atol=1e-5)
    assert all(type(m) is not Sa.GuidedReLU for m in model.modules()), "the model must be restored afterwards"
    assert isinstance(model.net.act1, nn.ReLU) and model.net.act1.inplace, "the model must be restored afterwards"
    u = Sa.guided_backprop(model, x, layer="conv2", channel=3, unit=(2, 5))
    at = lambda r, c: torch.zeros(1, 8, 16, 16).index_put_((torch.tensor(0), torch.tensor(3), torch.tensor(r),  # noqa: E731
                                                              torch.tensor(c)), torch.tensor(1.0))
    _expect(u, _guided_by_hand(model, x, "z2", at(2, 5)), [
        ("unit = (row, col): act[0, channel, row, col], the row first", lambda: _guided_by_hand(model, x, "z2", at(5, 2))),
        ("with unit = (row, col) the objective is the activation at that one spatial unit, not the whole map", want),
    ], "unit = (row, col): the objective is act[0, channel, row, col]", atol=1e-5)
    c = Sa.guided_backprop(model, x, target=1)
    with torch.no_grad():
        logits = model(x)[0]
    fc = model.net.fc.weight
    g_logit = torch.zeros(3)
    g_logit[1] = 1.0
    p = logits.softmax(-1)
    g_prob = p[1] * (g_logit - p)
    from_logits = lambda gl: (gl @ fc).view(1, 8, 1, 1).expand(1, 8, 16, 16) / 256  # noqa: E731
    _expect(c, _guided_by_hand(model, x, "a2", from_logits(g_logit)), [
        ("with a target the objective is the class score (the logit), not its probability",
         lambda: _guided_by_hand(model, x, "a2", from_logits(g_prob))),
    ], "with target=t: backprop the class score model(x)[0, t] with the guided rule", atol=1e-5)


def check_class_activation_map_exact():
    f = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]], [[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]],
                      [[2.0, 0.0, 1.0], [1.0, 1.0, 0.0]]])            # (C=3, h=2, w=3)
    w = torch.tensor([[1.0, 1.0, 0.5], [2.0, -1.0, -1.5], [0.0, 3.0, 1.0]])   # (K=3, C=3)
    c = Sa.class_activation_map(f, w, target=1)
    assert _shape(c) == (2, 3), f"CAM is (h, w) = (2, 3): a weighted sum over the channels; got {_shape(c)}"
    want = torch.einsum("c,chw->hw", w[1], f)
    _expect(c, want, [
        ("keep negative values: CAM has no ReLU", want.relu()),
        ("use the weights of the target class, w[target, c] (a row of fc_weight), not a column",
         torch.einsum("c,chw->hw", w[:, 1], f)),
        ("a weighted sum over the channels, not a mean", want / 3),
        ("no scaling: return sum_c w[target, c] * features[c] as it is",
         (want - want.min()) / (want.max() - want.min())),
    ], "CAM: sum_c w[target, c] * features[c], shape (h, w)", atol=1e-5)


def _grad_cam_reference(model, x, target, layer, prob=False):
    """Activations and gradient of the class score at ``layer`` by the model's own trace."""
    xx = x.clone().requires_grad_(True)
    with model.trace(layer) as t:
        out = model(xx)
        (out.softmax(-1) if prob else out)[0, target].backward()
    return t.activations[layer][0], t.gradients[layer][0]


def check_grad_cam_tiny():
    model = tiny_cnn(seed=4)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    # act1: below conv2, the gradient varies from place to place
    g = Sa.grad_cam(model, x, target=2, layer="act1")
    assert _shape(g) == (16, 16), f"Grad-CAM has the layer's spatial size (16, 16) (not upsampled); got {_shape(g)}"
    a, grad = _grad_cam_reference(model, x, 2, "act1")
    cam = lambda alpha: torch.einsum("c,chw->hw", alpha, a)  # noqa: E731
    want = cam(grad.mean((1, 2))).relu()
    _expect(g, want, [
        ("alpha_c: average the gradient over space first (one weight per channel), then weight the activations: "
         "ReLU(sum_c alpha_c A_c), not ReLU(sum_c g_c * A_c) pixel by pixel", lambda: (grad * a).sum(0).relu()),
        ("apply a ReLU to the weighted sum: only what speaks for the class", lambda: cam(grad.mean((1, 2)))),
        ("a ReLU (negative values become 0), not the absolute value", lambda: cam(grad.mean((1, 2))).abs()),
        ("alpha_c is the gradient averaged over space (the mean, not the sum)", lambda: cam(grad.sum((1, 2))).relu()),
        ("alpha_c is signed: a channel whose gradient is negative counts against the class (no abs)",
         lambda: cam(grad.abs().mean((1, 2))).relu()),
        ("Grad-CAM uses the class score (the logit), not its probability",
         lambda: (lambda ap: torch.einsum("c,chw->hw", ap[1].mean((1, 2)), ap[0]).relu())(
             _grad_cam_reference(model, x, 2, "act1", prob=True))),
    ], "alpha_c = gradient of the class score at the layer averaged over space; map = ReLU(sum_c alpha_c A_c)",
       atol=1e-6)
    g2 = Sa.grad_cam(model, x, target=2, layer="act2")
    with torch.no_grad():
        a2 = model.activations(x, "act2")["act2"][0]
    _expect(g2, torch.relu(torch.einsum("c,chw->hw", model.net.fc.weight[2], a2)) / (16 * 16), [],
            "at the last layer before GAP + FC, Grad-CAM is ReLU(CAM) / (h w): alpha_c = w[target, c] / (h w)",
            atol=1e-6)


# ---------------------------------------------------------------------------- notebook 2, part two
def _squares(x):
    """Class 1's logit: sum of red^2 + 3 * sum of green^2 (blue ignored); class 0's: 0."""
    s = (x[:, 0] ** 2).sum((1, 2)) + 3 * (x[:, 1] ** 2).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_smoothgrad_exact():
    from . import trust as Tr
    model = _function_model(_squares)
    x = torch.zeros(1, 3, 2, 2)
    n, sigma = 6, 0.5
    s = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1), batch_size=4)
    assert _shape(s) == (2, 2), f"return one value per pixel, (H, W): the mean of the copies' saliency maps; got {_shape(s)}"
    again = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1), batch_size=4)
    assert _same(s, again, 0), "draw the noise with the generator you are given " \
                               "(torch.randn(..., generator=generator)), so that a run repeats"
    assert (s >= 0).all(), "each copy's map is |gradient|: take the absolute value, then the maximum over colours"
    assert not s.requires_grad, "return the map without its graph (use torch.autograd.grad, or .detach())"

    def grads(noise):                                 # the copies' gradients of the class-1 logit
        return torch.stack([2 * noise[:, 0], 6 * noise[:, 1], torch.zeros_like(noise[:, 2])], 1)
    noise = sigma * torch.randn((n, 3, 2, 2), generator=torch.Generator().manual_seed(1))
    g = grads(noise)
    maps = g.abs().amax(1)

    def as_probability():
        p = torch.sigmoid(_squares(noise)[:, 1]).view(-1, 1, 1, 1)    # softmax([0, s])[1]
        return (p * (1 - p) * g).abs().amax(1).mean(0)
    _expect(s, maps.mean(0), [
        ("add the noise: copy i is x + noise[i] (the gradient at x itself is 0 here)", torch.zeros(2, 2)),
        ("take the absolute value of each copy's gradient before the maximum over colours: |gradient|",
         g.amax(1).mean(0)),
        ("average the copies' MAPS (|gradient| of each copy), not the gradients (their signs cancel out)",
         g.mean(0).abs().amax(0)),
        ("reduce the colours by their maximum, not their sum", g.abs().sum(1).mean(0)),
        ("the mean over the n copies: divide the sum by n", maps.sum(0)),
        ("sigma is the noise's standard deviation: noise = sigma * torch.randn(...), not sigma ** 2",
         lambda: grads(sigma ** 2 * noise / sigma).abs().amax(1).mean(0)),
        ("the copies are x + noise, not clamped to [0, 1] (the noise may leave the pixel range)",
         lambda: grads(noise.clamp(0, 1)).abs().amax(1).mean(0)),
        ("each copy's map is the gradient of the class score (the logit), not its probability", as_probability),
        ("loop over all the copies in batches of batch_size: the last, smaller batch is missing (6 copies, "
         "batches of 4)", maps[:4].sum(0) / n),
    ], "draw all the noise in one call, noise = sigma * torch.randn((n, 3, H, W), generator=generator), "
       "copy i = x + noise[i]; the map is the mean over the copies of |d logit / d copy|, maximum over colours")
    s2 = Tr.smoothgrad(model, x, 1, n=n, sigma=sigma, generator=torch.Generator().manual_seed(1), batch_size=6)
    assert _same(s, s2, 1e-6), "the result must not depend on batch_size"


def _ig_by_hand(x, baseline, alphas, factor=None, path_from=None):
    """Integrated Gradients of ``_squares``'s class 1 by autograd, or a usual wrong variant."""
    start = baseline if path_from is None else path_from
    pts = (start + alphas.view(-1, 1, 1, 1) * (x - start)).requires_grad_(True)
    g, = torch.autograd.grad(_squares(pts)[:, 1].sum(), pts)
    return ((x - baseline) if factor is None else factor)[0] * g.mean(0)


def check_integrated_gradients_exact():
    from . import trust as Tr
    model = _function_model(_squares)
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.2, 0.4], [0.6, 0.8]])
    x[0, 1] = 0.5
    m = 5
    a = Tr.integrated_gradients(model, x, 1, steps=m, batch_size=3)
    assert _shape(a) == (3, 2, 2), f"return the attributions (3, H, W): one per colour and pixel, signed; got {_shape(a)}"
    assert not a.requires_grad, "return the attributions without their graph (.detach())"
    r, g = x[0, 0], x[0, 1]
    # black baseline: the gradient along the path alpha * x is 2 alpha r (red), 6 alpha g (green)
    right = torch.stack([r ** 2 * (m + 1) / m, 3 * g ** 2 * (m + 1) / m, torch.zeros_like(r)])
    partial = right * (1 + 2 + 3) / (1 + 2 + 3 + 4 + 5)      # alphas 1/5 .. 3/5: the last batch missing
    _expect(a, right, [
        ("no gradient was added up: loop over all the steps in batches of batch_size (the last, smaller batch "
         "too)", torch.zeros_like(right)),
        ("loop over all the steps in batches of batch_size: the last, smaller batch is missing (5 steps, "
         "batches of 3)", partial),
        ("that is the LEFT Riemann sum (alpha = 0 .. (steps-1)/steps): use alpha_k = k / steps, k = 1 .. steps",
         right * (m - 1) / (m + 1)),
        ("that is the exact integral (a trapezoid, midpoint or linspace(0, 1, steps) rule); this exercise uses the "
         "right Riemann sum: alpha_k = k / steps for k = 1 .. steps, each with weight 1 / steps", right * m / (m + 1)),
        ("multiply the average gradient by (x - baseline)",
         lambda: torch.cat([right[:2] / x[0, :2], torch.zeros(1, 2, 2)])),
        ("average the gradients over the steps (divide by steps)", right * m),
    ], "IG = (x - baseline) * (1/steps) * sum_{k=1..steps} grad logit(baseline + k/steps (x - baseline))")
    grey = torch.full_like(x, 0.5)
    a = Tr.integrated_gradients(model, x, 1, baseline=grey, steps=m)
    b = 0.5
    zero = torch.zeros_like(r)
    want = torch.stack([(r - b) * 2 * b + (r - b) ** 2 * (m + 1) / m, zero, zero])
    alphas = torch.arange(1, m + 1) / m
    _expect(a, want, [
        ("with a baseline image the factor is (x - baseline), not x",
         lambda: _ig_by_hand(x, grey, alphas, factor=x)),
        ("with a baseline image the path is baseline + alpha (x - baseline), not alpha * x",
         lambda: _ig_by_hand(x, grey, alphas, path_from=torch.zeros_like(x))),
    ], "with a baseline image: the path is baseline + alpha (x - baseline), and the factor is (x - baseline)")
    assert _same(Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=2),
                 Tr.integrated_gradients(model, x, 1, baseline=0.5, steps=5, batch_size=5), 1e-6), \
        "the result must not depend on batch_size (is the last, smaller batch used?)"


class CopyProbe(torch.nn.Module):
    """A layer that remembers whether it is a copy (``copy.deepcopy``): its buffer ``copied`` is 1
    in a deep copy and 0 in the original, and it travels in the ``state_dict``."""

    def __init__(self):
        super().__init__()
        self.register_buffer("copied", torch.zeros(()))

    def __deepcopy__(self, memo):
        new = CopyProbe()
        new.copied.fill_(1.0)
        memo[id(self)] = new
        return new

    def forward(self, x):
        return x


def _bn_net():
    """conv1 -> block (conv + BatchNorm, a layer with sub-modules) -> ReLU -> GAP -> fc, with
    every weight 0.25 and BatchNorm statistics far from a fresh layer's."""
    import torch.nn as nn
    from .models import WrappedModel
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 2, 1))
    net.add_module("block", nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)))
    net.add_module("probe", CopyProbe())
    net.add_module("act", nn.ReLU())
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    net.add_module("fc", nn.Linear(2, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.25)
        net.block[1].running_mean.fill_(0.5)
        net.block[1].running_var.fill_(2.0)
    return WrappedModel("bn net", net, ["a", "b"], 4, (0.0,) * 3, (1.0,) * 3, "flatten", "block", "fc",
                        resize=(4, 4), min_size=2)


def _fresh(seed, *layers):
    """The values PyTorch's reset_parameters() gives, seeded once, layer after layer."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for layer in layers:
            for mod in layer.modules():
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
    return layers


def check_randomized_weights_copy_and_layers():
    import copy
    import torch.nn as nn
    from . import trust as Tr
    model = _bn_net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    sd = Tr.randomized_weights(model, "block", seed=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), \
        "the original model changed: re-initialize a copy (copy.deepcopy(model)), never the model you were given"
    assert isinstance(sd, dict) and set(sd) == set(before), \
        "return the copy's state_dict(): the same names as model.state_dict()"
    assert float(sd["net.probe.copied"]) == 1.0, \
        "re-initialize a copy of the model made with copy.deepcopy(model), never the model you were given"
    assert torch.equal(torch.random.get_rng_state(), rng), \
        "the caller's random numbers changed: seed inside `with torch.random.fork_rng():`"
    assert torch.equal(sd["net.conv1.weight"], before["net.conv1.weight"]), \
        "layers below down_to keep their trained weights: re-initialize only from the top down to down_to"
    assert not torch.equal(sd["net.block.0.weight"], before["net.block.0.weight"]) or \
        torch.equal(sd["net.fc.weight"], before["net.fc.weight"]), \
        "call reset_parameters() on every sub-module of each chosen layer (layer.modules()): a block like " \
        "`block` (conv + BatchNorm) has none of its own"
    assert not torch.equal(sd["net.fc.weight"], before["net.fc.weight"]), \
        "re-initialize every layer from the top (the classifier) down to down_to, included: fc did not change"
    assert not torch.equal(sd["net.block.0.weight"], before["net.block.0.weight"]), \
        "re-initialize every layer from the top (the classifier) down to down_to, included: block did not change"
    bn = "net.block.1."
    assert torch.equal(sd[bn + "running_mean"], torch.zeros(2)) and torch.equal(sd[bn + "running_var"], torch.ones(2)) \
        and torch.equal(sd[bn + "weight"], torch.ones(2)), \
        "down_to is included; a BatchNorm layer's reset_parameters() also resets its running mean and variance"
    net = copy.deepcopy(model.net)
    fc, block = _fresh(3, net.fc, net.block)
    zero_fc, zero_block = _fresh(0, copy.deepcopy(model.net.fc), copy.deepcopy(model.net.block))
    if not (torch.equal(sd["net.fc.weight"], fc.weight) and torch.equal(sd["net.block.0.weight"], block[0].weight)):
        assert not (torch.equal(sd["net.fc.weight"], zero_fc.weight)
                    and torch.equal(sd["net.block.0.weight"], zero_block[0].weight)), \
            "use the seed you are given (seed=3 here): torch.manual_seed(seed), not a fixed seed"
        up = _fresh(3, copy.deepcopy(model.net.block), copy.deepcopy(model.net.fc))
        assert not (torch.equal(sd["net.fc.weight"], up[1].weight) and torch.equal(sd["net.block.0.weight"], up[0][0].weight)), \
            "reset from the top (the classifier first), down to down_to: then the top layers get the same values " \
            "at every step of the cascade"
        again = _fresh(3, copy.deepcopy(model.net.block))[0]
        assert not torch.equal(sd["net.block.0.weight"], again[0].weight), \
            "seed once (torch.manual_seed(seed) before the first layer), then reset the layers one after the " \
            "other: seeding before each layer gives every layer the same random stream"
        other = Tr.randomized_weights(model, "block", seed=4)
        assert not torch.equal(other["net.fc.weight"], sd["net.fc.weight"]), \
            "seed the re-initialization with torch.manual_seed(seed) inside fork_rng: seeds 3 and 4 gave the same weights"
        raise AssertionError("inside torch.random.fork_rng(): torch.manual_seed(seed) once, then each chosen layer "
                             "from the top, reset_parameters() of every sub-module with one")
    again = Tr.randomized_weights(model, "block", seed=3)
    assert all(torch.equal(sd[k], again[k]) for k in sd), \
        "seed the re-initialization with torch.manual_seed(seed), so that it repeats"
    deep = Tr.randomized_weights(model, "conv1", seed=3)
    assert torch.equal(deep["net.fc.weight"], sd["net.fc.weight"]) and \
        not torch.equal(deep["net.conv1.weight"], before["net.conv1.weight"]), \
        "reset from the top down: the top layers get the same values at every step of the cascade"
    assert isinstance(model.net.block, nn.Sequential), "the model must not change"


def check_ranked_masks_exact():
    from . import trust as Tr
    s = torch.tensor([[3.0, 1.0], [3.0, 0.0]])      # a tie: pixels 0 and 2
    m = Tr.ranked_masks(s, 0.25)
    assert isinstance(m, torch.Tensor) and m.dtype == torch.bool, "return bool masks (True = the pixel is removed / revealed)"
    assert _shape(m) == (5, 2, 2), f"steps + 1 masks (H, W): (5, 2, 2) for fraction 0.25; got {_shape(m)}"
    got = m.flatten(1)
    assert not got[0].any(), "mask 0 has no pixel (nothing removed yet): the top k * H * W // steps pixels, " \
                             "rank < count (not <=)"
    want = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    def ranked(order):                                # masks from the pixels in `order`, one more per step
        rank = torch.empty(4, dtype=torch.long)
        rank[torch.tensor(order)] = torch.arange(4)
        return rank[None, :] < torch.arange(5)[:, None]
    _expect(got, want, [
        ("most important first: rank the pixels by decreasing value", ranked([3, 1, 0, 2])),
        ("ties: the pixel that comes first (lower row * W + col) ranks first (argsort with stable=True)",
         ranked([2, 0, 1, 3])),
    ], "mask k holds the k * H * W // steps top-ranked pixels, one step more each time")
    s = torch.tensor([[1.0, 3.0, 2.0], [0.0, 5.0, 4.0]])    # order 4, 5, 1, 2, 0, 3: ranks 4, 2, 3, 5, 0, 1
    got = Tr.ranked_masks(s, 1 / 3).flatten(1)
    counts = torch.tensor([0, 2, 4, 6])
    by_rank = lambda rank: rank[None, :] < counts[:, None]  # noqa: E731
    _expect(got, by_rank(torch.tensor([4, 2, 3, 5, 0, 1])), [
        ("a mask holds the pixels whose rank (position in the sorted order) is below the count: the argsort gives "
         "the pixels in order, invert it to get the rank of each pixel (rank[order] = arange(n))",
         by_rank(torch.tensor([4, 5, 1, 2, 0, 3]))),
    ], "mask k holds the k * H * W // steps pixels with the largest values")
    m = Tr.ranked_masks(torch.arange(9.0).view(3, 3), 0.5)
    assert _same(m.flatten(1).sum(1), torch.tensor([0, 4, 9])), \
        "mask k has k * H * W // steps pixels (floor of the product): 0, 4, 9 for 9 pixels in 2 steps"


def _sum_logits(x):
    """Class 1's logit: sum of (red + green) over the pixels (blue ignored); class 0's: 0."""
    s = (x[:, 0] + x[:, 1]).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_deletion_curve_exact():
    from . import trust as Tr
    model = _function_model(_sum_logits, batches=[2, 2, 1])
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.9, 0.1], [0.5, 0.3]])
    x[0, 1] = 0.2
    s = x[0, 0].clone()                   # order: pixel 0 (0.9), 2 (0.5), 3 (0.3), 1 (0.1)
    c = Tr.deletion_curve(model, x, 1, s, fraction=0.25, batch_size=2)
    assert isinstance(c, torch.Tensor) and _shape(c) == (5,), \
        f"return steps + 1 probabilities: entry 0 for the untouched image, the last for all pixels removed; got {_shape(c)}"
    assert not c.requires_grad, "no autograd: run the forward passes under torch.no_grad()"
    left = torch.tensor([2.6, 1.5, 0.8, 0.3, 0.0])      # red + green left after removing 0, 1, ... pixels
    want = torch.sigmoid(left)          # softmax([0, L])[1]
    _expect(c, want, [
        ("return the softmax PROBABILITY of the target, not its logit", left),
        ("the probability of `target` (index 1 here): .softmax(-1)[:, target]", 1 - want),
        ("remove the MOST important pixels first (use ranked_masks(saliency, fraction))",
         torch.sigmoid(torch.tensor([2.6, 2.3, 1.8, 1.1, 0.0]))),
        ("replace all 3 colours of a removed pixel (a mask (b, 1, H, W) broadcasts over the colours)",
         torch.sigmoid(torch.tensor([2.6, 1.7, 1.2, 0.9, 0.8]))),
        ("entry 0 for the untouched image (mask 0 is empty): removed pixels (mask True) take the baseline, the "
         "others keep x: torch.where(mask, baseline, x)", torch.sigmoid(torch.tensor([0.0, 1.1, 1.8, 2.3, 2.6]))),
    ], "image k: x with the pixels of ranked_masks(saliency, fraction)[k] set to baseline; the target's probability")
    other = Tr.deletion_curve(_function_model(_sum_logits), x, 0, s, fraction=0.25)
    assert _same(other, 1 - want), "the probability of `target` (index 0 here), .softmax(-1)[:, target], " \
                                   "not of the top class"
    grey = Tr.deletion_curve(_function_model(_sum_logits), x, 1, s, fraction=0.5, baseline=0.5)
    assert _same(grey, torch.sigmoid(torch.tensor([2.6, 0.4 + 0.4 + 2 * (0.5 + 0.5), 4.0]))), \
        "removed pixels take the baseline's value (0.5 here), in every colour"


def _checker_logits(x):
    """Class 1's logit: half the sum of (red + green) weighted by a +1/-1 checkerboard, so that
    blurring the image changes it; class 0's: 0."""
    w = 1.0 - 2.0 * ((torch.arange(x.shape[-2])[:, None] + torch.arange(x.shape[-1])[None, :]) % 2)
    s = 0.5 * ((x[:, 0] + x[:, 1]) * w).sum((1, 2))
    return torch.stack([torch.zeros_like(s), s], 1)


def check_insertion_curve_exact():
    from . import trust as Tr
    model = _function_model(_checker_logits, size=8, batches=[2, 2, 1])
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    s = -torch.arange(64.0).view(8, 8)                   # the pixels in row-major order
    c = Tr.insertion_curve(model, x, 1, s, fraction=0.25, batch_size=2)
    assert _shape(c) == (5,) and not c.requires_grad, "return steps + 1 probabilities, computed with no autograd"
    b = Tr.blurred(x)
    p = lambda img: torch.sigmoid(_checker_logits(img)[:, 1])  # noqa: E731

    def revealed(start, fill, k_order):
        return p(torch.cat([torch.where(k_order(k).view(1, 1, 8, 8), fill, start) for k in range(5)]))
    top = lambda k: torch.arange(64) < k * 16  # noqa: E731
    _expect(c, revealed(b, x, top), [
        ("reveal the MOST important pixels first (use ranked_masks)", lambda: revealed(b, x, lambda k: torch.arange(64) >= 64 - k * 16)),
        ("start from the blurred copy and reveal x's pixels on it: you removed x's pixels towards the blurred "
         "copy (that is deletion with a blurred baseline)", lambda: revealed(x, b, top)),
        ("start from the blurred copy, blurred(x, blur_sigma) (entry 0: nothing revealed yet), not from black",
         lambda: revealed(torch.zeros_like(x), x, top)),
    ], "image k: blurred(x, blur_sigma) with the pixels of ranked_masks(saliency, fraction)[k] taken from x")
    soft = Tr.insertion_curve(_function_model(_checker_logits, size=8), x, 1, s, fraction=0.25, blur_sigma=1.0)
    assert _same(soft, revealed(Tr.blurred(x, 1.0), x, top)), \
        "blur with the blur_sigma you are given: blurred(x, blur_sigma)"


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


def _ascent_by_hand(model, delta, base, target, lr, l2, shift, roll_base=True, back=-1, l2_fn=None, prob=False,
                    normalized=True, sign=1.0):
    """One ascent step by the rule, or by one of its usual wrong variants: (new delta, objective)."""
    d = torch.roll(delta, shift, dims=(-2, -1)).requires_grad_(True)
    b = torch.roll(base, shift, dims=(-2, -1)) if roll_base else base
    out = model(b + d)
    score = (out.softmax(-1) if prob else out)[0, target]
    obj = score - (l2_fn(d) if l2_fn else l2 * (d ** 2).sum())
    g, = torch.autograd.grad(obj, d)
    step = g / g.abs().mean() if normalized else g
    new = d.detach() + sign * lr * step
    return torch.roll(new, tuple(back * s for s in shift), dims=(-2, -1)), float(obj.detach())


def check_ascent_step_exact():
    from . import ascent as As
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 3 * 4 * 5, generator=g)
    model = _score_model(w)
    base = 0.3 + 0.4 * torch.rand(1, 3, 4, 5, generator=g)          # not constant: rolling it matters
    delta = torch.randn(1, 3, 4, 5, generator=g) * 0.1
    keep = delta.clone()
    args = dict(target=1, lr=0.1, l2=0.5, shift=(1, 2))
    new, obj = As.ascent_step(model, delta, base, **args)
    assert torch.equal(delta, keep), "do not change delta in place: return a new tensor"
    assert isinstance(obj, float), f"return the objective as a float (float(...)); got {type(obj).__name__}"
    assert _shape(new) == (1, 3, 4, 5), f"return a new delta like delta, (1, 3, 4, 5); got {_shape(new)}"
    hand = lambda **kw: _ascent_by_hand(model, delta, base, **{**args, **kw})  # noqa: E731
    want_new, want_obj = hand()
    wrong = [
        ("jitter: roll base by the same shift as delta: the whole image base + delta moves", hand(roll_base=False)),
        ("the objective is the class score (the logit), not its probability", hand(prob=True)),
        ("the L2 term is subtracted: S_c - l2 * ||delta||^2; its gradient is -2 * l2 * delta",
         hand(l2_fn=lambda d: -0.5 * (d ** 2).sum())),
        ("the L2 penalty is l2 * ||delta||^2, the squared norm (d ** 2).sum(), not the norm",
         hand(l2_fn=lambda d: 0.5 * d.norm())),
    ]
    if abs(obj - want_obj) > 1e-4:
        for message, (_, o) in wrong:
            if abs(obj - o) < 1e-4:
                raise AssertionError(message)
        raise AssertionError("return the objective S_c(roll(base + delta)) - l2 * ||delta||^2, computed before the step")
    _expect(new, want_new, [(m, n) for m, (n, _) in wrong] + [
        ("jitter: roll the result back by -shift after the step", hand(back=0)[0]),
        ("jitter: roll the result back by -shift (the opposite way), after the step", hand(back=1)[0]),
        ("gradient ascent: plus the gradient (delta + lr * g / mean(|g|))", hand(sign=-1.0)[0]),
        ("normalize the step: delta + lr * g / mean(|g|) (optim.normalized_step)", hand(normalized=False)[0]),
    ], "step: roll delta and base by shift, delta + lr * g / mean(|g|) with g the gradient of "
       "S_c - l2 * ||delta||^2 (ascent: plus), roll the result back by -shift")
    d = torch.randn(1, 3, 6, 6, generator=g)
    shrink, _ = As.ascent_step(_score_model(torch.zeros(2, 108)), d, torch.zeros(1, 3, 6, 6), 0, lr=0.01, l2=1.0)
    assert shrink.norm() < d.norm(), "with no class signal, the L2 penalty alone must shrink the image"


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


def _clip_by_hand(d, size, percentile, keep=lambda s, cut: s >= cut):
    """Zero the pixels whose ``size`` (broadcast over the colours) is below the percentile."""
    cut = torch.quantile(size.flatten(), min(percentile / 100, 1.0))
    return d * keep(size, cut)


def check_clip_small_values_exact():
    from . import ascent as As
    # pixel norms 5, 0.1732, 2, 1, 3, 0.5 on a 2 x 3 image: the 40th percentile is exactly 1
    d = torch.tensor([[[[3.0, 0.1, 0.0], [1.0, 0.0, 0.3]], [[4.0, 0.1, 2.0], [0.0, 3.0, 0.4]],
                       [[0.0, 0.1, 0.0], [0.0, 0.0, 0.0]]]])
    keep = d.clone()
    out = As.clip_small_values(d, 40)
    assert torch.equal(d, keep), "do not change delta in place: return a new tensor"
    assert _shape(out) == (1, 3, 2, 3), f"keep the shape (1, 3, H, W); got {_shape(out)}"
    norms = d.norm(dim=1, keepdim=True)
    _expect(out, _clip_by_hand(d, norms, 40), [
        ("a pixel's size is the norm of its colour vector (over the 3 channels), and a small pixel is zeroed in all "
         "3 channels", _clip_by_hand(d, d.abs(), 40)),
        ("a pixel's size is the norm of its colour vector: over the channels (dim=1), not over a row",
         _clip_by_hand(d, d.norm(dim=-1, keepdim=True), 40)),
        ("keep the pixels whose norm is at the percentile (>=): zero only those below it",
         _clip_by_hand(d, norms, 40, keep=lambda s, c: s > c)),
        ("torch.quantile takes a fraction: the percentile / 100", _clip_by_hand(d, norms, 100)),
    ], "zero all 3 channels of the pixels whose colour norm is below the percentile (torch.quantile of the norms, "
       "percentile / 100)", atol=0)
    assert _same(As.clip_small_values(d, 0), d, 0), "percentile 0 changes nothing"


def check_clip_small_gradients_exact():
    from . import ascent as As
    # contributions sum_c d * g per pixel: 0, 2, 1, -1, 3, 0.5; |.|: the 40th percentile is exactly 1
    d = torch.tensor([[[[1.0, 2.0, 1.0], [1.0, 1.0, 0.5]], [[1.0, 0.0, 0.0], [1.0, 2.0, 0.0]],
                       [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]]])
    g = torch.tensor([[[[1.0, 1.0, 3.0], [-2.0, 3.0, 1.0]], [[-1.0, 5.0, 4.0], [1.0, 0.0, 7.0]],
                       [[5.0, 1.0, -2.0], [0.0, 6.0, 0.0]]]])
    keep = d.clone()
    out = As.clip_small_gradients(d, g, 40)
    assert torch.equal(d, keep), "do not change delta in place: return a new tensor"
    c = (d * g).sum(1, keepdim=True)
    _expect(out, _clip_by_hand(d, c.abs(), 40), [
        ("the contribution is |sum over colours of delta * grad|: sum first, then abs (opposite colours cancel)",
         _clip_by_hand(d, (d * g).abs().sum(1, keepdim=True), 40)),
        ("the contribution is the absolute value |sum over colours of delta * grad|: a large negative one "
         "matters too", _clip_by_hand(d, c, 40)),
        ("the contribution is |sum over colours of delta * grad|: a pixel's change times its gradient, "
         "not the gradient alone", _clip_by_hand(d, g.sum(1, keepdim=True).abs(), 40)),
        ("keep the pixels whose contribution is at the percentile (>=): zero only those below it",
         _clip_by_hand(d, c.abs(), 40, keep=lambda s, cut: s > cut)),
    ], "zero every pixel whose contribution |sum_c delta * grad| is below the percentile (torch.quantile of all "
       "contributions)", atol=0)
    assert _same(As.clip_small_gradients(d, g, 0), d, 0), "percentile 0 changes nothing"


def _facets_by_hand(images, features, k, seed, key=lambda size, c: (-size, c), data=None, relabel=True):
    from sklearn.cluster import KMeans
    raw = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(
        (features if data is None else data).double().numpy())
    sizes = np.bincount(raw, minlength=k)
    order = sorted(range(k), key=lambda c: key(sizes[c], c))
    new = np.empty(k, np.int64)
    new[order] = np.arange(k)
    labels = torch.from_numpy(new[raw] if relabel else raw.astype(np.int64))
    return torch.stack([images[labels == c].mean(0) for c in range(k)]), labels, raw, order


def check_facet_starts_small():
    from . import ascent as As
    g = torch.Generator().manual_seed(0)
    # three well-separated groups of 4, 2 and 1 rows, which KMeans numbers 1, 2, 0 (a cycle, not a swap)
    feats = torch.tensor([[5.0, 7.0], [-9.2, -6.9], [4.9, 7.1], [3.9, -6.8], [5.1, 7.1], [5.1, 7.0], [-9.0, -7.0]])
    imgs = torch.rand(7, 3, 2, 3, generator=g)
    means, labels = As.facet_starts(imgs, feats, k=3)
    assert _shape(means) == (3, 3, 2, 3), f"means: one mean image per cluster, (k, 3, H, W); got {_shape(means)}"
    want_means, want, raw, order = _facets_by_hand(imgs, feats, 3, 0)
    by_raw = torch.from_numpy(raw.astype(np.int64))
    _expect(labels, want, [
        ("renumber the clusters by size: label 0 is the largest cluster, then the next largest (KMeans numbers "
         "them in no particular order)", by_raw),
        ("label 0 is the largest cluster: sort the clusters by decreasing size",
         lambda: _facets_by_hand(imgs, feats, 3, 0, key=lambda s, c: (s, c))[1]),
        ("renumber: the cluster that sorts first gets label 0, i.e. new_label[order] = arange(k) (you used "
         "the inverse permutation)", lambda: torch.from_numpy(np.asarray(order, np.int64)[raw])),
        ("cluster the features (not the images' pixels)",
         lambda: _facets_by_hand(imgs, feats, 3, 0, data=imgs.flatten(1))[1]),
    ], "labels: KMeans(n_clusters=k, n_init=10, random_state=seed) on the features, renumbered so that label 0 "
       "is the largest cluster (ties: the lower KMeans label first)", atol=0)
    _expect(means, want_means, [
        ("means[c] is the mean image of the images labelled c (after renumbering)",
         torch.stack([imgs[by_raw == c].mean(0) for c in range(3)])),
    ], "means[c]: the mean image of the images labelled c", atol=1e-6)
    # two clusters of the same size: the lower KMeans label first
    tie = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [-6.0, 4.0]])
    t_img = torch.rand(5, 3, 2, 2, generator=g)
    _, t_labels = As.facet_starts(t_img, tie, k=3)
    _expect(t_labels, _facets_by_hand(t_img, tie, 3, 0)[1], [
        ("ties: among clusters of the same size the lower KMeans label comes first",
         lambda: _facets_by_hand(t_img, tie, 3, 0, key=lambda s, c: (-s, -c))[1]),
    ], "labels renumbered by decreasing cluster size, ties: lower KMeans label first", atol=0)
    # no clear clusters: the seed decides
    cloud = torch.rand(12, 2, generator=torch.Generator().manual_seed(11))
    c_img = torch.rand(12, 3, 2, 2, generator=g)
    _, c_labels = As.facet_starts(c_img, cloud, k=4, seed=3)
    _expect(c_labels, _facets_by_hand(c_img, cloud, 4, 3)[1], [
        ("pass the seed you are given to KMeans: random_state=seed",
         lambda: _facets_by_hand(c_img, cloud, 4, 0)[1]),
    ], "KMeans(n_clusters=k, n_init=10, random_state=seed) on the features", atol=0)


def _fool_by_hand(model, x, target, lr, max_steps, prob=False, normalized=True, clamp=True, sign=1.0, stop=True):
    """The fooling loop by the rule, or by one of its usual wrong variants: (image, steps)."""
    x = x.clone()
    for step in range(max_steps + 1):
        xr = x.clone().requires_grad_(True)
        out = model(xr)
        if (stop and int(out.argmax(1)) == target) or step == max_steps:
            return x, step
        g, = torch.autograd.grad((out.softmax(-1) if prob else out)[0, target], xr)
        x = x + sign * lr * (g / g.abs().mean() if normalized else g)
        x = x.clamp(0, 1) if clamp else x


def check_fooling_image_stops():
    from . import ascent as As
    model = tiny_cnn(seed=5)
    x = (torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5).float()  # pixels 0 or 1
    start, target, lr, most = int(model(x).argmax()), 2, 0.05, 30
    hand = lambda **kw: _fool_by_hand(model, x, target, lr, most, **kw)  # noqa: E731
    want, n = hand()
    assert 0 < n < most and start != target, "internal: the check's case must take a few steps"
    fooled, steps = As.fooling_image(model, x, target, lr=lr, max_steps=most)
    assert isinstance(steps, int), f"return (image, number of steps): steps as an int; got {type(steps).__name__}"
    assert _shape(fooled) == (1, 3, 16, 16), f"return the image (1, 3, H, W); got {_shape(fooled)}"
    assert fooled.min() >= 0 and fooled.max() <= 1, "clamp to [0, 1] after every step: keep a valid image"
    _expect(fooled, want, [
        ("ascend the target's score: x + lr * g / mean(|g|) (plus the gradient)", lambda: hand(sign=-1.0)[0]),
        ("ascend the class score (the logit), not its probability", lambda: hand(prob=True)[0]),
        ("normalize the step: x + lr * g / mean(|g|) (optim.normalized_step)", lambda: hand(normalized=False)[0]),
        ("stop as soon as the target wins: test the prediction before every step", lambda: hand(stop=False)[0]),
    ], f"repeat: stop if the target wins, else x <- clamp(x + lr * g / mean(|g|), 0, 1) with g the gradient of "
       f"the target's score ({n} steps here)", atol=1e-5)
    assert steps == n, f"count the steps taken: {n} here (0 if x is already the target, one per step); got {steps}"
    early, s2 = As.fooling_image(model, x, target, lr=lr, max_steps=n - 1)
    assert s2 == n - 1 and _same(early, _fool_by_hand(model, x, target, lr, n - 1)[0], 1e-5), \
        "give up after max_steps steps: return the image so far and max_steps"
    same, s0 = As.fooling_image(model, x, start, lr=lr)
    assert s0 == 0 and _same(same, x, 0), "already the target: 0 steps, image unchanged (count the steps taken)"


def _pgd_by_hand(model, x, y, eps, alpha, steps, targeted=False, start="none", seed=0, project="original",
                 clamp=True, clamp_start=True):
    adv = x.clone()
    if start != "none":
        if start == "global":
            r = torch.rand(x.shape)
        else:
            r = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))
        noise = r * eps if start == "half" else (r * 2 - 1) * eps
        adv = (adv + noise).clamp(0, 1) if clamp_start else adv + noise
    for _ in range(steps):
        a = adv.clone().requires_grad_(True)
        g, = torch.autograd.grad(torch.nn.functional.cross_entropy(model(a), y), a)
        prev = adv
        adv = adv + (-1.0 if targeted else 1.0) * alpha * g.sign()
        around = x if project == "original" else prev
        if project != "none":
            adv = torch.min(torch.max(adv, around - eps), around + eps)
        adv = adv.clamp(0, 1) if clamp else adv
    return adv


def check_fgsm_exact():
    from . import ascent as As
    F_ = torch.nn.functional
    model = tiny_cnn(seed=6)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    x[:, :, :4] = (x[:, :, :4] > 0.5).float()          # some pixels at 0 or 1: the clamp matters
    y = torch.tensor([1, 2])
    adv = As.fgsm(model, x, y, eps=0.03)
    assert _shape(adv) == (2, 3, 16, 16), f"same shape as the input batch; got {_shape(adv)}"

    def grad(loss_fn):
        xr = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(loss_fn(model(xr)), xr)
        return g
    g = grad(lambda out: F_.cross_entropy(out, y))
    _expect(adv, (x + 0.03 * g.sign()).clamp(0, 1), [
        ("step along the sign of the gradient: x + eps * grad.sign()", (x + 0.03 * g).clamp(0, 1)),
        ("untargeted: x + eps * sign(gradient of the loss): move UP the cross-entropy of the true label",
         (x - 0.03 * g.sign()).clamp(0, 1)),
        ("clamp the result to [0, 1]", x + 0.03 * g.sign()),
        ("the gradient of the cross-entropy loss F.cross_entropy(logits, y), not of a class score",
         lambda: (x + 0.03 * grad(lambda out: -out.gather(1, y[:, None]).sum()).sign()).clamp(0, 1)),
        ("F.cross_entropy takes the logits (it applies the log-softmax itself): do not pass probabilities",
         lambda: (x + 0.03 * grad(lambda out: F_.cross_entropy(out.softmax(-1), y)).sign()).clamp(0, 1)),
    ], "untargeted FGSM: clamp(x + eps * sign(grad of F.cross_entropy(model(x), y)), 0, 1)", atol=1e-6)
    tgt = As.fgsm(model, x, y, eps=0.03, targeted=True)
    _expect(tgt, (x - 0.03 * g.sign()).clamp(0, 1), [
        ("targeted=True: step DOWN the loss of the target labels, x - eps * sign(grad)",
         (x + 0.03 * g.sign()).clamp(0, 1)),
    ], "targeted: clamp(x - eps * sign(grad of the cross-entropy of the target labels), 0, 1)", atol=1e-6)


def check_pgd_projection():
    from . import ascent as As
    model = tiny_cnn(seed=6)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    x[:, :, :4] = (x[:, :, :4] > 0.5).float()          # some pixels at 0 or 1: the clamp matters
    y = torch.tensor([1, 2])
    args = dict(eps=0.02, alpha=0.008, steps=4)         # 4 steps of 0.008 can leave the 0.02 box
    adv = As.pgd(model, x, y, **args)
    assert _shape(adv) == (2, 3, 16, 16), f"same shape as the input batch; got {_shape(adv)}"
    hand = lambda **kw: _pgd_by_hand(model, x, y, **{**args, **kw})  # noqa: E731
    _expect(adv, hand(), [
        ("project after every step: clip the change to [-eps, eps] around the ORIGINAL x", lambda: hand(project="none")),
        ("project around the ORIGINAL x (x - eps .. x + eps), not around the previous step",
         lambda: hand(project="previous")),
        ("clamp to [0, 1] after every step", lambda: hand(clamp=False)),
        ("each step has size alpha (not eps): x + alpha * sign(grad)", lambda: hand(alpha=args["eps"])),
    ], "PGD: steps times, x_adv + alpha * sign(grad of the cross-entropy), then clip to [x - eps, x + eps] and "
       "to [0, 1]", atol=1e-6)
    tgt = As.pgd(model, x, y, targeted=True, **args)
    _expect(tgt, hand(targeted=True), [
        ("targeted=True: step DOWN the loss of the target labels (minus alpha * sign(grad))", adv),
    ], "targeted PGD: x_adv - alpha * sign(grad) at every step, then project", atol=1e-6)
    rng = torch.random.get_rng_state()
    rs = As.pgd(model, x, y, random_start=True, seed=3, **args)
    assert torch.equal(torch.random.get_rng_state(), rng), \
        "draw the random start with your own generator, torch.Generator().manual_seed(seed), not the global one"
    _expect(rs, hand(start="seeded", seed=3), [
        ("draw the random start with the generator torch.Generator().manual_seed(seed), not the global one",
         lambda: hand(start="global")),
        ("use the seed you are given: torch.Generator().manual_seed(seed)", lambda: hand(start="seeded", seed=0)),
        ("the random start is uniform noise in [-eps, eps]: (torch.rand(...) * 2 - 1) * eps",
         lambda: hand(start="half", seed=3)),
        ("the random start is clamped to [0, 1] too, before the first step",
         lambda: hand(start="seeded", seed=3, clamp_start=False)),
    ], "random_start: x + (torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * eps, "
       "clamped to [0, 1], then the steps", atol=1e-6)


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
def _tv_by_hand(x, beta, eps=0.0, crop=False, power=None, aniso=False, dy=True, reduce="sum"):
    """Total variation by the rule (zero-padded differences), or one of its usual wrong variants."""
    if crop:
        dx_, dy_ = x[..., :-1, 1:] - x[..., :-1, :-1], x[..., 1:, :-1] - x[..., :-1, :-1]
    else:
        dx_ = torch.nn.functional.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1))
        dy_ = torch.nn.functional.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    if aniso:
        t = dx_.abs() ** beta + dy_.abs() ** beta + eps
    else:
        t = (dx_ ** 2 + (dy_ ** 2 if dy else 0) + eps) ** (beta / 2 if power is None else power)
    return t.sum() if reduce == "sum" else t.mean()


def check_total_variation_exact():
    from . import inversion as In
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])          # (1, 1, 2, 2)
    # (0,0): dx 1, dy 2 -> 5; (0,1): dx 0 (border), dy 3 -> 9; (1,0): dx 2, dy 0 -> 4; (1,1): 0
    tv2 = In.total_variation(x, beta=2)
    assert isinstance(tv2, torch.Tensor) and tv2.ndim == 0, "return a scalar tensor (a sum over everything)"
    assert In.total_variation(torch.ones(2, 3, 1, 1), 1).item() == 0, "a 1 x 1 image has TV 0"
    r = torch.rand(2, 3, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for beta, eps in ((2.0, 0.0), (1.0, 0.0), (1.5, 0.0), (1.0, 0.1)):
        got = In.total_variation(r, beta, eps=eps)
        _expect(got, _tv_by_hand(r, beta, eps), [
            ("the missing neighbour at the last row/column counts as a difference of 0: keep the last row's dx and "
             "the last column's dy (do not crop both to (H - 1, W - 1))", lambda: _tv_by_hand(r, beta, eps, crop=True)),
            ("add the squares first, then take the power: (dx^2 + dy^2) ** (beta / 2), not |dx|^beta + |dy|^beta",
             lambda: _tv_by_hand(r, beta, eps, aniso=True)),
            ("the power is beta / 2 (of dx^2 + dy^2), not beta", lambda: _tv_by_hand(r, beta, eps, power=beta)),
            ("a sum over all pixels, channels and images (not the mean)",
             lambda: _tv_by_hand(r, beta, eps, reduce="mean")),
            ("add eps to the squares before the power: (dx^2 + dy^2 + eps) ** (beta / 2)",
             lambda: _tv_by_hand(r, beta, 0.0)),
            ("both neighbours: (dx^2 + dy^2), the next column AND the next row", lambda: _tv_by_hand(r, beta, eps, dy=False)),
        ], f"TV(beta={beta:g}, eps={eps:g}) = sum of (dx^2 + dy^2 + eps) ** (beta / 2), dx and dy 0 at the last "
           "column and row", atol=1e-8)
    assert torch.isclose(tv2, torch.tensor(18.0)), "beta=2 on [[0, 1], [2, 4]]: 5 + 9 + 4 + 0 = 18"
    flat = torch.full((1, 3, 5, 5), 0.3)
    assert In.total_variation(flat, 2).item() == 0, "a constant image has TV 0"


def check_inversion_loss_exact():
    from . import inversion as In
    g = torch.Generator().manual_seed(0)
    f, t = torch.randn(1, 2, 2, 2, generator=g), torch.randn(1, 2, 2, 2, generator=g)
    img = torch.rand(1, 3, 3, 4, generator=g)                # H W = 12 pixels, 36 values
    for beta in (1.0, 2.0):
        assert _same(In.total_variation(img, beta, eps=1e-8 if beta < 2 else 0.0),
                     _tv_by_hand(img, beta, 1e-8 if beta < 2 else 0.0), 1e-5), \
            "your total_variation is not right yet: make check('total_variation') pass first"
    loss = In.inversion_loss(f, t, img, lam=0.7, beta=1.0)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0, "return a scalar tensor"
    diff, tt, ff = ((f - t) ** 2).sum(), (t ** 2).sum(), (f ** 2).sum()
    tv1, tv2 = _tv_by_hand(img, 1.0, 1e-8), _tv_by_hand(img, 2.0)
    _expect(loss, diff / tt + 0.7 * tv1 / 12, [
        ("divide the feature mismatch by ||t||^2, the target's squared norm (a relative mismatch)",
         diff + 0.7 * tv1 / 12),
        ("divide by the TARGET's squared norm ||t||^2, not the features'", diff / ff + 0.7 * tv1 / 12),
        ("the TV term is per pixel: lam * total_variation(image, beta) / (H * W)", diff / tt + 0.7 * tv1),
        ("divide the TV by H * W (the pixels), not by 3 H W (the values)", diff / tt + 0.7 * tv1 / 36),
        ("pass beta on to total_variation(image, beta, ...)", diff / tt + 0.7 * tv2 / 12),
        ("the feature term is a sum of squares ||f - t||^2 (not the mean) over ||t||^2",
         ((f - t) ** 2).mean() / tt + 0.7 * tv1 / 12),
        ("for beta < 2 call total_variation with eps=1e-8 (a finite gradient at flat patches)",
         diff / tt + 0.7 * _tv_by_hand(img, 1.0) / 12),
    ], "||f - t||^2 / ||t||^2 + lam * total_variation(image, beta, eps) / (H * W)", atol=1e-6)
    flat = torch.zeros(1, 3, 3, 4)
    eps_term = float(In.inversion_loss(t, t, flat, lam=1.0, beta=1.0))
    assert abs(eps_term - 36 * 1e-4 / 12) < 1e-6, \
        "for beta < 2 call total_variation with eps=1e-8 (a finite gradient at flat patches; on a flat image the " \
        f"TV term is then 36 * sqrt(1e-8) / 12 = 3e-4); got {eps_term:.3g}"
    assert float(In.inversion_loss(t, t, flat, lam=1.0, beta=2.0)) == 0, \
        "identical features, flat image, beta 2: loss 0 (eps=0 when beta >= 2)"


def _dream_by_hand(model, x, layer, lr, shift, back=-1, seed="a", normalized=True, clamp=True):
    xr = torch.roll(x, shift, dims=(-2, -1)).requires_grad_(True)
    a = model.activations(xr, layer, keep_graph=True)[layer]
    g, = torch.autograd.grad(a, xr, grad_outputs=a.detach() if seed == "a" else torch.ones_like(a))
    new = xr.detach() + lr * (g / g.abs().mean() if normalized else g)
    new = new.clamp(0, 1) if clamp else new
    return torch.roll(new, tuple(back * s for s in shift), dims=(-2, -1))


def check_dream_step_tiny():
    from . import inversion as In
    model = tiny_cnn(seed=1)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    keep = x.clone()
    new, obj = In.dream_step(model, x, "conv2", lr=0.01, shift=(3, -5))
    assert torch.equal(x, keep), "do not change x in place"
    assert isinstance(obj, float), f"return the objective as a float; got {type(obj).__name__}"
    a = model.activations(torch.roll(x, (3, -5), dims=(-2, -1)), "conv2")["conv2"]
    half = 0.5 * float((a ** 2).sum())
    if abs(obj - half) > 1e-3 * max(1.0, half):
        assert abs(obj - 2 * half) > 1e-3 * half, "the objective is 1/2 ||a||^2 (with the 1/2)"
        assert abs(obj - 0.5 * float((a ** 2).mean())) > 1e-6, "the objective 1/2 ||a||^2 is a sum over all values, not a mean"
        raise AssertionError("return the objective 1/2 ||a||^2 of the layer's activation, before the step")
    hand = lambda **kw: _dream_by_hand(model, x, "conv2", 0.01, (3, -5), **kw)  # noqa: E731
    _expect(new, hand(), [
        ("jitter: roll back by -shift after the step", lambda: hand(back=0)),
        ("jitter: roll back by -shift (the opposite way) after the step", lambda: hand(back=1)),
        ("backpropagate with the layer's gradient set to its activation, a.backward(a) (the gradient of "
         "1/2 ||a||^2), not a.sum().backward()", lambda: hand(seed="ones")),
        ("normalize the step: x + lr * g / mean(|g|) (optim.normalized_step)", lambda: hand(normalized=False)),
    ], "roll by shift, a.backward(a) at the layer, x + lr * g / mean(|g|) clamped to [0, 1], roll back by -shift",
       atol=1e-6)
    _, obj2 = In.dream_step(model, new, "conv2", lr=0.01)
    assert obj2 > obj, "the layer's activation norm must grow"
    big, _ = In.dream_step(model, x, "conv2", lr=5.0)
    assert big.min() >= 0 and big.max() <= 1, "clamp to [0, 1] after the step"


def check_octave_sizes_exact():
    from . import inversion as In
    got = [tuple(s) for s in In.octave_sizes(400, 300, 3, 2.0, min_size=16)]
    want = [(100, 75), (200, 150), (400, 300)]
    if got != want:
        assert got != want[::-1], "smallest first: the last size is the full size (400, 300)"
        assert got != [(50, 38), (100, 75), (200, 150)], \
            "octave i has size round(h / scale**i) for i = 0 .. octaves - 1: the last is the full size (400, 300)"
        assert len(got) == 3, f"return octaves sizes (3 here), from the smallest to the full size; got {len(got)}"
        raise AssertionError(f"smallest first: octave i (from the full size, i = 0) has size round(h / scale**i), "
                             f"round(w / scale**i); expected {want}, got {got}")
    assert In.octave_sizes(64, 64, 1) == [(64, 64)], "one octave: just the full size"
    got = In.octave_sizes(512, 384, 4, 1.4)
    assert tuple(got[0]) == (round(512 / 1.4 ** 3), round(384 / 1.4 ** 3)), \
        f"round(h / scale**i), not int(...): 512 / 1.4^3 = {512 / 1.4 ** 3:.2f} -> 187; got {got[0]}"
    try:
        In.octave_sizes(64, 64, 2, 2.0, min_size=32)
    except ValueError:
        raise AssertionError("a smallest octave of exactly min_size pixels is fine (32 x 32 here): raise only "
                             "below it, at least min_size is allowed") from None
    for h, w, n, low, why in ((64, 64, 4, 32, "64 px with 4 octaves of scale 2 gives 8 px: raise a CourseError "
                                              "(below min_size 32)"),
                              (64, 256, 2, 40, "the smallest octave (32, 128) has a short side 32 below min_size 40: "
                                               "compare the SHORT side of the smallest octave with min_size")):
        try:
            In.octave_sizes(h, w, n, 2.0, min_size=low)
        except ValueError as e:
            assert "octave" in str(e), "name the problem in the error: too many octaves for the image size"
        else:
            raise AssertionError(why)


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
    assert isinstance(d, torch.Tensor) and d.shape == (3,), \
        f"return one distance per candidate patch: shape (P,) = (3,); got {_shape(d)}"
    a = w * mask
    ssd = (a * (patches - nb) ** 2).sum(1)
    _expect(d, ssd / a.sum(), [
        ("multiply by the mask: pixels not generated yet must not count", (w * (patches - nb) ** 2).sum(1) / w.sum()),
        ("divide by sum(weights * mask), so that pixels with few known neighbours compare fairly", ssd),
        ("divide by sum(weights * mask), the known pixels' weights, not by the number of known pixels",
         ssd / mask.sum()),
        ("the distance uses (patch - neighbourhood)^2: expanded, the cross term is MINUS 2 p.n",
         (a * (patches + nb) ** 2).sum(1) / a.sum()),
        ("the constant term sum(w m n^2) is missing: it does not change which patch is best, but it changes the "
         "distances that (1 + eps) * best compares", ((a * (patches ** 2 - 2 * patches * nb)).sum(1)).clamp_min(0) / a.sum()),
        ("the weights are weights * mask (once), not squared", lambda: ((w * a) * (patches - nb) ** 2).sum(1) / (w * a).sum()),
    ], "distance = sum(weights * mask * (patch - neighbourhood)^2) / sum(weights * mask)")
    g = torch.Generator().manual_seed(0)
    P, nb, m, w = torch.rand(50, 9, generator=g), torch.rand(9, generator=g), (torch.rand(9, generator=g) > 0.4).float(), torch.rand(9, generator=g)
    m[4] = 1.0
    want = torch.stack([(w * m * (p - nb) ** 2).sum() / (w * m).sum() for p in P])
    assert _same(St.neighbourhood_ssd(P, nb, m, w), want), "compare with every row of patches"


def check_pick_match_rule():
    from . import style as St
    d = torch.tensor([9.0, 3.0, 2.0, 2.5, 2.6, 8.0])        # best 2; (1 + 0.5) * 2 = 3: candidates 1, 2, 3, 4
    g = torch.Generator().manual_seed(0)
    got = St.pick_match(d, 0.5, g)
    assert isinstance(got, int), f"return a Python int (use int(...)); got {type(got).__name__}"
    picks = {St.pick_match(d, 0.5, g) for _ in range(100)}
    for wrong, message in [({2, 3, 4}, "candidates with distance <= (1 + eps) * best qualify: at the threshold too (<=)"),
                           ({2, 3}, "the threshold is (1 + eps) * best (eps is relative), not best + eps"),
                           ({0, 1, 2, 3}, "return the index of the candidate in distances (ok[r]), not its position "
                                          "among the qualifying ones"),
                           ({2}, "pick uniformly at random among all qualifying candidates (not always the best)")]:
        assert picks != wrong, message
    assert picks == {1, 2, 3, 4}, f"pick uniformly among the indices with distance <= (1 + eps) * best: " \
                                  f"{{1, 2, 3, 4}} here; got {sorted(picks)}"
    assert St.pick_match(d, 0.0, g) == 2, "with eps = 0 only the best candidate qualifies"
    a = [St.pick_match(d, 0.5, torch.Generator().manual_seed(5)) for _ in range(8)]
    assert len(set(a)) == 1, "draw with the generator you are given (torch.randint(..., generator=generator)), so " \
                             "a seed repeats the result"


def check_efros_leung_stripes():
    from . import style as St
    sample = np.zeros((12, 12), np.uint8)
    sample[:, ::2] = 255                       # vertical stripes, period 2
    out = St.efros_leung(sample, 10, window=5, eps=0.0, seed=0, progress=False)
    assert out.shape == (10, 10) and out.dtype == np.uint8, f"expected uint8 (10, 10); got {out.dtype} {out.shape}"
    assert set(np.unique(out)) <= {0, 255}, "every output pixel must be a pixel of the sample"
    assert (out == out[:1]).all() and (out[:, 1:] != out[:, :-1]).all(), \
        "stripes must continue: check neighbourhood_ssd and pick_match"


def _gram(f):
    f = f.flatten(-2)
    return f @ f.transpose(-1, -2) / f.shape[-1]


def check_gram_matrix_exact():
    from . import style as St
    f = torch.tensor([[[[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]], [[0.0, 1.0, 2.0], [0.0, 1.0, 1.0]]],
                      [[[2.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [[1.0, 3.0, 0.0], [2.0, 0.0, 1.0]]]])   # (N=2, C=2, 2, 3)
    g = St.gram_matrix(f)
    assert _shape(g) != (2, 6, 6), "a batch (N, C, H, W) gives (N, C, C): G = F F^T with F of shape (C, H W), " \
                                   "the channels' products, not F^T F"
    assert _shape(g) != (2, 2), "a batch (N, C, H, W) gives (N, C, C): a Gram matrix for each image"
    assert _shape(g) == (2, 2, 2), f"a batch (N, C, H, W) gives (N, C, C); got {_shape(g)}"
    raw = f.flatten(-2) @ f.flatten(-2).transpose(-1, -2)
    _expect(g, raw / 6, [
        ("normalize: divide by H * W (G = F F^T / (H W)), an average over the positions", raw),
        ("divide by H * W (the number of positions), not by C * H * W", raw / 12),
        ("divide by H * W, the number of positions, not by the number of channels", raw / 2),
    ], "G = F F^T / (H W) with F = the features of each image as (C, H W)")
    assert _same(St.gram_matrix(f[0]), raw[0] / 6), "one image (C, H, W) gives (C, C)"


def check_content_loss_exact():
    from . import style as St
    g = torch.Generator().manual_seed(0)
    f, t = torch.randn(1, 2, 2, 3, generator=g), torch.randn(1, 2, 2, 3, generator=g)
    loss = St.content_loss(f, t)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0, "return a scalar tensor"
    _expect(loss, ((f - t) ** 2).mean(), [
        ("the mean (not the sum) of the squared differences", ((f - t) ** 2).sum()),
        ("the mean of the squared differences (f - t)^2, not of their absolute values", (f - t).abs().mean()),
        ("mean((features - target)^2): no factor 1/2", 0.5 * ((f - t) ** 2).mean()),
    ], "content loss: mean((features - target)^2), the mean of the squared differences")
    assert float(St.content_loss(f, f)) == 0.0, "identical features: loss 0"


def check_style_loss_exact():
    from . import style as St
    g = torch.Generator().manual_seed(0)
    fa, fb = torch.randn(1, 2, 2, 3, generator=g), torch.randn(1, 3, 2, 2, generator=g)
    for f in (fa, fb):
        assert _same(St.gram_matrix(f), _gram(f)), "your gram_matrix is not right yet: make check('gram_matrix') pass first"
    ta, tb = torch.randn(2, 2, generator=g), torch.randn(3, 3, generator=g)
    feats = {"a": fa, "b": fb, "content": torch.randn(1, 4, 2, 2, generator=g)}   # more layers than targets
    targets, weights = {"a": ta, "b": tb}, {"a": 2.0, "b": 0.5}
    try:
        got = St.style_loss(feats, targets, weights)
    except KeyError as e:
        raise AssertionError(f"only the layers in targets count: loop over targets (features may hold more layers, "
                             f"here 'content'); KeyError {e}") from None
    assert isinstance(got, torch.Tensor) and got.ndim == 0, "return a scalar tensor"
    la, lb = ((_gram(fa) - ta) ** 2).mean(), ((_gram(fb) - tb) ** 2).mean()
    _expect(got, 2.0 * la + 0.5 * lb, [
        ("w * mean((gram_matrix(F) - A)^2): the MEAN over the Gram entries, not the sum",
         2.0 * ((_gram(fa) - ta) ** 2).sum() + 0.5 * ((_gram(fb) - tb) ** 2).sum()),
        ("multiply each layer's loss by its weight: w * mean((gram - target)^2)", la + lb),
        ("sum the weighted losses of all target layers (not only the last one)", 0.5 * lb),
        ("compare Gram matrices: gram_matrix(features) - target (the target is a Gram matrix)",
         2.0 * ((fa.flatten(-2).mean(-1)[..., None] - ta) ** 2).mean() + 0.5 * ((fb.flatten(-2).mean(-1)[..., None] - tb) ** 2).mean()),
    ], "sum over the target layers of w * mean((gram_matrix(features[layer]) - targets[layer])^2)")
    assert _same(St.style_loss({"a": fa}, {"a": _gram(fa)[0]}), torch.tensor(0.0)), "weights=None means weight 1"


def check_instance_norm_stats():
    from . import style as St
    x = torch.randn(2, 3, 2, 3, generator=torch.Generator().manual_seed(1)) * 3 + 2
    x[1, 2] = 0.7                                     # a constant channel
    y = St.instance_norm(x, eps=0.5)
    assert _shape(y) == (2, 3, 2, 3), f"keep the shape (N, C, H, W); got {_shape(y)}"
    assert torch.isfinite(y).all(), "a constant channel has variance 0: eps keeps the division finite, sqrt(var + eps)"

    def norm(dims, unbiased=False, scale=lambda v: torch.rsqrt(v + 0.5)):
        var, mean = torch.var_mean(x, dims, unbiased=unbiased, keepdim=True)
        return (x - mean) * scale(var)
    _expect(y, norm((2, 3)), [
        ("the biased variance: divide by H W (unbiased=False), as batch norm does", norm((2, 3), unbiased=True)),
        ("divide by sqrt(var + eps), with eps inside the square root", norm((2, 3), scale=lambda v: 1 / (v.sqrt() + 0.5))),
        ("the statistics are those of each image: mean and variance per image and channel, over (H, W) only (not "
         "over the batch)", norm((0, 2, 3))),
        ("the statistics are per channel: over (H, W) only, not over the channels too", norm((1, 2, 3))),
        ("divide by the standard deviation sqrt(var + eps), not by the variance", norm((2, 3), scale=lambda v: 1 / (v + 0.5))),
    ], "(x - mean) / sqrt(var + eps), mean and biased variance over (H, W) of each image and channel")
    x = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(1)) * 3 + 2
    assert _same(St.instance_norm(x), torch.nn.functional.instance_norm(x, eps=1e-5)), \
        "the same as torch.nn.functional.instance_norm(x, eps=eps)"


def check_conditional_instance_norm():
    from . import style as St
    F_ = torch.nn.functional
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    assert _same(St.instance_norm(x), F_.instance_norm(x)), \
        "your instance_norm is not right yet: make check('instance_norm') pass first"
    torch.manual_seed(0)
    cin = St.ConditionalInstanceNorm(3, 2)
    with torch.no_grad():
        cin.gamma.copy_(torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
        cin.beta.copy_(torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, -1.0]]))
    G, B = cin.gamma.detach(), cin.beta.detach()
    n = F_.instance_norm(x)

    def affine(gamma, beta):                          # gamma, beta: (N, C)
        return n * gamma[:, :, None, None] + beta[:, :, None, None]
    y = cin(x, torch.tensor([0.0, 1.0]))
    assert _shape(y) == (2, 3, 4, 4), f"keep the shape of x; got {_shape(y)}"
    _expect(y, affine(G[1:].expand(2, 3), B[1:].expand(2, 3)), [
        ("gamma (scale) and beta (shift): instance_norm(x) * gamma + beta, not the other way round",
         affine(B[1:].expand(2, 3), G[1:].expand(2, 3))),
        ("normalize first, then scale and shift: instance_norm(x) * gamma + beta",
         F_.instance_norm(x * G[1][None, :, None, None] + B[1][None, :, None, None])),
    ], "a one-hot style picks that style's row of gamma (scale) and beta (shift): instance_norm(x) * gamma + beta",
       atol=1e-5)
    mix = cin(x, torch.tensor([0.25, 0.75]))
    w = torch.tensor([[0.25, 0.75]])
    _expect(mix, affine((w @ G).expand(2, 3), (w @ B).expand(2, 3)), [
        ("mixing styles mixes gamma and beta: gamma = style @ gamma, beta = style @ beta (not the main style's row)",
         affine(G[1:].expand(2, 3), B[1:].expand(2, 3))),
    ], "mixing styles mixes gamma and beta: style @ gamma, style @ beta", atol=1e-5)
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    per = cin(x, s)
    _expect(per, affine(s @ G, s @ B), [
        ("style (N, S): each image has its own style weights (row i of style for image i)",
         affine((s.mean(0, keepdim=True) @ G).expand(2, 3), (s.mean(0, keepdim=True) @ B).expand(2, 3))),
    ], "style (N, S): image i uses gamma = style[i] @ gamma, beta = style[i] @ beta", atol=1e-5)


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
