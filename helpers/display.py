"""Pictures: image grids, heatmap overlays, side-by-side comparisons. Used by every notebook.

Every function accepts images as NumPy arrays ``(H, W, 3)`` / ``(H, W)`` (uint8, or float
in [0, 1]), PIL images, or pixel-space tensors ``(3, H, W)`` / ``(1, 3, H, W)``. Each draws
and shows a figure; pass ``show=False`` to get the ``Figure`` back instead (for saving or
further drawing). Nothing here is an exercise.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .i18n import language, tr
from .utils import CourseError

FONTS = {   # fonts that have the letters of the course's other languages, by platform
    "ko": ["Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic", "Apple SD Gothic Neo"],
    "zh": ["Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", "SimHei", "WenQuanYi Micro Hei",
           "WenQuanYi Zen Hei"],
}


@functools.lru_cache(maxsize=None)
def _font_for(lang: str) -> str | None:
    """A font of this machine that draws ``lang``'s letters (put first among matplotlib's
    sans-serif fonts), or None."""
    from matplotlib import font_manager, rcParams
    wanted = FONTS.get(lang, [])
    found = next((f for f in wanted if f in {x.name for x in font_manager.fontManager.ttflist}), None)
    if found is None:      # installed after matplotlib made its list of fonts: add the files
        keys = ("nanum", "wqy", "cjk", "notosanskr", "notosanssc", "malgun", "gothic", "yahei", "msyh", "pingfang",
                "simhei")
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower() for k in keys):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    pass
        found = next((f for f in wanted if f in {x.name for x in font_manager.fontManager.ttflist}), None)
    if found:
        rcParams["font.sans-serif"] = [found] + [f for f in rcParams["font.sans-serif"] if f != found]
    return found


def _t(text):
    """A figure's words in the course's language (:mod:`helpers.i18n`), where this machine has
    a font for its letters; else in English (rather than empty boxes)."""
    lang = language()
    if lang == "en" or not isinstance(text, str) or _font_for(lang) is None:
        return text
    return tr(text, lang)


def as_display(img) -> np.ndarray:
    """An image as an array matplotlib can draw: ``(H, W, 3)`` float in [0, 1] or ``(H, W)``."""
    if isinstance(img, torch.Tensor):
        t = img.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim == 3 and t.shape[0] in (1, 3):
            t = t.permute(1, 2, 0)
        img = t.numpy()
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise CourseError(f"cannot show an array of shape {arr.shape} as an image")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535
    return np.clip(arr.astype(np.float32), 0, 1) if arr.ndim == 3 else arr.astype(np.float32)


def _finish(fig, show, suptitle=None):
    if suptitle:
        fig.suptitle(_t(suptitle))
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


def show_images(images, titles=None, ncols: int | None = None, size: float = 2.2,
                suptitle: str | None = None, cmap: str = "gray", show: bool = True):
    """Draw images in a grid with optional titles (one per image).

    ``images``: a list, or an array/tensor whose first axis runs over images.
    """
    images = list(images)
    if not images:
        raise CourseError("no images to show")
    if titles is not None and len(titles) != len(images):
        raise CourseError(f"got {len(titles)} titles for {len(images)} images")
    n = len(images)
    ncols = ncols or min(n, 8)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(as_display(images[i]), cmap=cmap)
            if titles is not None:
                ax.set_title(_t(str(titles[i])), fontsize=9)
    return _finish(fig, show, suptitle)


def image_grid(images, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile equally sized images into one float array ``(H', W', 3)`` (like torchvision's make_grid)."""
    arrs = [as_display(im) for im in images]
    if not arrs:
        raise CourseError("no images to tile")
    arrs = [a.astype(np.float32) / 255 if a.dtype == np.uint8 else a for a in arrs]
    arrs = [np.stack([a] * 3, -1) if a.ndim == 2 else a for a in arrs]
    h, w = arrs[0].shape[:2]
    if any(a.shape[:2] != (h, w) for a in arrs):
        raise CourseError("image_grid needs images of one size")
    ncols = ncols or math.ceil(math.sqrt(len(arrs)))
    nrows = math.ceil(len(arrs) / ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), pad_value, np.float32)
    for i, a in enumerate(arrs):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = a
    return out


def overlay(image, heat, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a heatmap ``(h, w)`` (any range; upsampled to the image) over an image.

    Returns a float ``(H, W, 3)`` image in [0, 1]. The heatmap is min-max scaled first.
    """
    img = as_display(image)
    img = img.astype(np.float32) / 255 if img.dtype == np.uint8 else img
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    h = torch.as_tensor(np.asarray(heat, dtype=np.float32) if not isinstance(heat, torch.Tensor)
                        else heat.detach().float().cpu())
    h = h.squeeze()
    if h.ndim != 2:
        raise CourseError(f"a heatmap must be 2-D (h, w), got shape {tuple(h.shape)}")
    if tuple(h.shape) != img.shape[:2]:
        h = torch.nn.functional.interpolate(h[None, None], size=img.shape[:2], mode="bilinear",
                                            align_corners=False)[0, 0]
    h = h.numpy()
    h = (h - h.min()) / (h.max() - h.min() + 1e-12)
    colour = plt.get_cmap(cmap)(h)[..., :3]
    return np.clip((1 - alpha) * img + alpha * colour, 0, 1)


def show_heatmaps(image, heats: dict, alpha: float = 0.5, size: float = 2.6,
                  suptitle: str | None = None, show: bool = True):
    """The image, then each named heatmap overlaid on it, in one row."""
    images = [image] + [overlay(image, h, alpha) for h in heats.values()]
    titles = ["image"] + list(heats)
    return show_images(images, titles, ncols=len(images), size=size, suptitle=suptitle, show=show)


def compare(rows: dict, size: float = 2.2, suptitle: str | None = None, show: bool = True):
    """A table of images: ``{row label: {column title: image}}`` (side-by-side comparisons)."""
    if not rows:
        raise CourseError("nothing to compare")
    cols = list(dict.fromkeys(c for r in rows.values() for c in r))
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(size * len(cols), size * len(rows)), squeeze=False)
    for i, (label, row) in enumerate(rows.items()):
        for j, c in enumerate(cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if c in row:
                ax.imshow(as_display(row[c]), cmap="gray")
            if i == 0:
                ax.set_title(_t(str(c)), fontsize=9)
            if j == 0:
                ax.set_ylabel(_t(str(label)), fontsize=9)
    return _finish(fig, show, suptitle)


def show_predictions(image, preds, title: str | None = None, show: bool = True):
    """An image beside a bar chart of its top-k ``(class, probability)`` pairs."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2), gridspec_kw=dict(width_ratios=[1, 1.3]))
    a.imshow(as_display(image))
    a.axis("off")
    if title:
        a.set_title(_t(title))
    names = [c for c, _ in preds][::-1]
    probs = [p for _, p in preds][::-1]
    b.barh(range(len(names)), probs, color="tab:blue")
    b.set_yticks(range(len(names)), names)
    b.set_xlim(0, 1)
    b.set_xlabel(_t("probability"))
    for k, p in enumerate(probs):
        b.text(min(p + 0.02, 0.85), k, f"{p:.2f}", va="center", fontsize=8)
    return _finish(fig, show)


# ============================================================================ notebook 1: filters, neighbours, embeddings, patches
def show_filters(filters, title: str, ncols: int = 16, show: bool = True):
    """Draw first-layer filters as a grid of little colour images. ``filters``: filter images
    ``(C_out, kH, kW, 3)`` in ``[0, 1]`` (``features.normalize_filters`` of the weights)."""
    imgs = np.asarray(torch.as_tensor(filters).detach().cpu())
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise CourseError(f"filters must be images (C_out, kH, kW, 3), got shape {imgs.shape}: "
                          "pass normalize_filters(weights)")
    n = len(imgs)
    ncols = min(ncols, n)
    grid = image_grid(list(imgs), ncols=ncols, pad=1)
    nrows = math.ceil(n / ncols)
    fig, ax = plt.subplots(figsize=(min(0.55 * ncols, 9), min(0.55 * nrows, 9) + 0.4))
    ax.imshow(grid, interpolation="nearest")
    ax.set_title(_t(f"{title}: {n} filters of {imgs.shape[1]}x{imgs.shape[2]}"))
    ax.axis("off")
    return _finish(fig, show)


def show_neighbors(query_images, database_images, results: dict, k: int | None = None,
                   query_titles=None, size: float = 1.0, suptitle: str | None = None, show: bool = True):
    """For each query, one strip per feature space: the query, a gap, its nearest neighbours.

    ``results``: ``{space name: (Q, k) indices into database_images}``; ``query_titles``:
    one label per query (e.g. its class). Images of one strip are resized to one size.
    """
    from PIL import Image

    def tile(img, side):
        a = as_display(img)
        a = (a * 255).astype(np.uint8) if a.dtype != np.uint8 else a
        return np.asarray(Image.fromarray(a).convert("RGB").resize((side, side), Image.Resampling.BILINEAR))

    spaces = list(results)
    k = k or min(np.asarray(r).shape[1] for r in results.values())
    side = max(32, min(96, int(np.asarray(as_display(query_images[0])).shape[0])))
    gap, pad = side // 2, max(2, side // 16)
    rows = len(query_images) * len(spaces)
    fig, axes = plt.subplots(rows, 1, figsize=(size * (k + 1.5) + 1.6, size * rows + 0.5), squeeze=False)
    for q in range(len(query_images)):
        for s, space in enumerate(spaces):
            strip = np.full((side, side * (k + 1) + gap + pad * k, 3), 255, np.uint8)
            if s == 0:
                strip[:, :side] = tile(query_images[q], side)
            for j, idx in enumerate(np.asarray(results[space])[q][:k]):
                x0 = side + gap + j * (side + pad)
                strip[:, x0:x0 + side] = tile(database_images[int(idx)], side)
            ax = axes[q * len(spaces) + s, 0]
            ax.imshow(strip)
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            label = space if s or query_titles is None else f"{query_titles[q]}\n{space}"
            ax.set_ylabel(_t(label), fontsize=8, rotation=0, ha="right", va="center")
    if suptitle:
        fig.suptitle(_t(suptitle))
    fig.subplots_adjust(left=0.14, right=0.98, top=1 - 0.7 / (size * rows + 0.5), bottom=0.01, hspace=0.08)
    if show:
        plt.show()
        return None
    return fig


def show_embeddings(maps: dict, labels, classes, size: float = 4.2, show: bool = True):
    """Scatter plots of 2-D maps ``{title: (N, 2)}``, coloured by class, with one legend."""
    labels = np.asarray(labels)
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps) + 1.6, size), squeeze=False)
    for ax, (title, xy) in zip(axes[0], maps.items()):
        xy = np.asarray(xy)
        for c, name in enumerate(classes):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=4, color=cmap(c % 10), label=name, alpha=0.8, linewidths=0)
        ax.set_title(_t(title))
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(c % 10), label=n) for c, n in enumerate(classes)]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False, markerscale=1.2)
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / (size * len(maps) + 1.6), 1))
    if show:
        plt.show()
        return None
    return fig


def thumbnail_map(xy, images, canvas: int = 1600, thumb: int = 32, seed: int = 0) -> np.ndarray:
    """Draw images at their 2-D positions on one canvas, as in the lecture's t-SNE figure.

    ``xy``: ``(N, 2)``; ``images``: ``uint8 (N, h, w, 3)``. The map is scaled to the canvas,
    cut into ``thumb``-sized cells, and each cell shows one image that falls in it (random
    choice among those, seeded), so nothing overlaps. Returns ``uint8 (canvas, canvas, 3)``.
    """
    from PIL import Image
    xy = np.asarray(xy, dtype=np.float64)
    xy = (xy - xy.min(0)) / (xy.max(0) - xy.min(0) + 1e-12)
    cells = canvas // thumb
    cell = np.minimum((xy * cells).astype(int), cells - 1)
    out = np.full((cells * thumb, cells * thumb, 3), 255, np.uint8)
    order = np.random.default_rng(seed).permutation(len(xy))
    taken = set()
    for i in order:
        cx, cy = cell[i]
        if (cx, cy) in taken:
            continue
        taken.add((cx, cy))
        im = Image.fromarray(np.asarray(images[i])).resize((thumb, thumb), Image.Resampling.BILINEAR)
        out[(cells - 1 - cy) * thumb:(cells - cy) * thumb, cx * thumb:(cx + 1) * thumb] = np.asarray(im)
    return out


def show_patches(results: dict, layer: str, rf, title: str | None = None, size: float = 1.5, show: bool = True):
    """Top-k patch grids from ``features.max_activating_patches``, one 3x3 grid per channel
    (``rf``: the layer's receptive field, ``features.RF``)."""
    chans = list(results)
    ncols = min(len(chans), 4)
    nrows = math.ceil(len(chans) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * 2 * ncols, size * 2 * nrows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, ch in zip(axes.flat, chans):
        patches, vals = results[ch]
        g = image_grid(list(patches), ncols=math.ceil(math.sqrt(len(patches))), pad=max(1, rf.size // 24))
        ax.imshow(g, interpolation="nearest" if rf.size < 32 else "antialiased")
        ax.set_title(_t(f"channel {ch}"), fontsize=9)
    return _finish(fig, show, title or f"{layer}: top-{len(results[chans[0]][0])} patches "
                   f"(receptive field {rf.size} px, stride {rf.stride})")


# ============================================================================ notebook 2: gradients and maps as images
def gradient_image(g: torch.Tensor) -> np.ndarray:
    """A gradient ``(3, H, W)`` as a displayable ``float (H, W, 3)`` image: centred on grey,
    scaled by its 99th percentile of absolute values, so sign and structure both show."""
    g = torch.as_tensor(g).detach().float().cpu()
    scale = torch.quantile(g.abs().flatten(), 0.99).clamp_min(1e-12)
    return (0.5 + 0.5 * (g / scale).clamp(-1, 1)).permute(1, 2, 0).numpy()


def saliency_image(s: torch.Tensor, q: float = 0.99) -> np.ndarray:
    """A non-negative map ``(H, W)`` scaled to [0, 1] by its ``q`` quantile (for display)."""
    s = torch.as_tensor(s).detach().float().cpu()
    return (s / torch.quantile(s.flatten(), q).clamp_min(1e-12)).clamp(0, 1).numpy()


def emphasis(patch: np.ndarray, g: torch.Tensor, sigma: float = 3.0) -> np.ndarray:
    """``patch`` (``uint8 (h, w, 3)``) dimmed where the gradient ``g`` (``(3, h, w)`` or
    ``(h, w, 3)``) is small: shows which part of the patch a unit responds to."""
    from torchvision.transforms.v2.functional import gaussian_blur
    g = torch.as_tensor(np.asarray(g, dtype=np.float32))
    m = g.abs().sum(0 if g.shape[0] == 3 else -1)
    k = int(4 * sigma) | 1
    m = gaussian_blur(m[None, None], [k, k], [sigma, sigma])[0, 0]
    m = (m / m.max().clamp_min(1e-12)).numpy()[..., None]
    return (np.asarray(patch, np.float32) / 255 * (0.15 + 0.85 * m)).clip(0, 1)


# ============================================================================ notebook 3: visualizations and attacks
def contrast(images: torch.Tensor) -> torch.Tensor:
    """Stretch each image of a batch ``(N, 3, H, W)`` to fill ``[0, 1]`` (for display only).

    Visualizations from gradient ascent change the neutral image by small amounts; shown
    as they are they look grey. The 1st and 99th percentiles of each image map to 0 and 1.
    """
    x = images.detach().float()
    if x.ndim == 3:
        x = x[None]
    flat = x.flatten(1)
    lo = torch.quantile(flat, 0.01, dim=1).view(-1, 1, 1, 1)
    hi = torch.quantile(flat, 0.99, dim=1).view(-1, 1, 1, 1)
    return ((x - lo) / (hi - lo).clamp_min(1e-8)).clamp(0, 1)


def magnified_difference(x: torch.Tensor, y: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """``0.5 + scale * (y - x)`` for display: grey where nothing changed. ``scale=None``
    picks the factor that maps the largest change to the edge of ``[0, 1]``."""
    d = (y - x).detach()
    if scale is None:
        scale = 0.5 / d.abs().max().clamp_min(1e-8)
    return (0.5 + scale * d).clamp(0, 1)


# ============================================================================ notebook 2, part two: can we trust a map?
def show_cascade(result, size: float = 1.6, show: bool = True):
    """The cascading randomization (``trust.cascading_randomization``'s result) in Adebayo et
    al.'s layout: one row per method, one column per step (the original model, then
    randomized from the top down to each layer); each map scaled to [0, 1] by its own 99th
    percentile."""
    from .trust import pixel_map
    rows = {}
    for name, ms in result.maps.items():
        rows[name] = {("original" if j == 0 else f"down to\n{step}"): saliency_image(pixel_map(m).clamp_min(0))
                      for j, (step, m) in enumerate(zip(result.steps, ms))}
    if result.image is not None:
        rows = {"image": {"original": result.image}, **rows}
    return compare(rows, size=size, show=show,
                   suptitle="cascading randomization: layers re-initialized from the top down to ...")


def plot_cascade_similarity(result, metric: str = "spearman", show: bool = True):
    """The similarity of each method's map with its original map (``"spearman"`` or
    ``"ssim"``) against the layers randomized, one line per method (NaN: a constant map)."""
    from .utils import unknown
    if metric not in ("spearman", "ssim"):
        raise unknown("similarity", metric, ["spearman", "ssim"])
    values = result.spearman if metric == "spearman" else result.ssim
    fig, ax = plt.subplots(figsize=(7, 3.6))
    steps = range(len(result.steps))
    for name, v in values.items():
        ax.plot(steps, v, marker="o", label=name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(list(steps), ["original"] + [f"-> {s}" for s in result.steps[1:]], rotation=30, ha="right")
    low = np.nanmin([np.nanmin(v) if np.isfinite(v).any() else 0.0 for v in values.values()])
    ax.set_ylim(min(-0.3 if metric == "spearman" else -0.05, low - 0.05), 1.05)
    ax.set_xlabel(_t("layers re-initialized, from the top down to"))
    ax.set_ylabel(_t("rank correlation with the original map" if metric == "spearman" else "SSIM with the original map"))
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _finish(fig, show)


def show_curves(curves: dict, show: bool = True):
    """Deletion and insertion curves side by side, ``{name: (deletion, insertion)}`` (from
    ``trust.curves_on_photo``), each labelled with its area."""
    from .trust import curve_area
    if not isinstance(curves, dict) or not curves:
        raise CourseError("curves is a dict {name: (deletion curve, insertion curve)}, see curves_on_photo")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, (ax, title) in enumerate(zip(axes, ["deletion (lower area is better)", "insertion (higher area is better)"])):
        for name, pair in curves.items():
            c = torch.as_tensor(pair[k]).double()
            ax.plot(np.linspace(0, 1, len(c)), c.numpy(), label=f"{name} ({curve_area(c):.3f})")
        ax.set_title(_t(title))
        ax.set_xlabel(_t("fraction of pixels " + ("removed" if k == 0 else "revealed")))
        ax.set_ylabel(_t("probability of the class"))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return _finish(fig, show)


def plot_path(alphas, scores, nodes: dict | None = None, title: str = "", show: bool = True):
    """The class score along Integrated Gradients' path (``alphas`` from the baseline, 0, to the
    image, 1), with the points where each quadrature rule of ``nodes`` ({rule: alphas})
    evaluates the gradient marked below the curve; a zoom on the steepest part on the right."""
    a, f = np.asarray(alphas, float), np.asarray(scores, float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    steep = int(np.argmax(np.abs(np.diff(f))))
    lo, hi = max(a[steep] - 0.06, 0.0), min(a[steep] + 0.06, 1.0)
    for ax, (x0, x1) in zip(axes, [(0.0, 1.0), (lo, hi)]):
        ax.plot(a, f, color="black", lw=1.5, label="score (logit)")
        ymin, ymax = f.min(), f.max()
        for i, (rule, pts) in enumerate((nodes or {}).items()):
            pts = np.asarray(pts, float)
            y = ymin - (i + 1) * 0.08 * (ymax - ymin)
            ax.plot(pts, np.full_like(pts, y), "|", ms=9, mew=1.5, label=f"{rule}: {len(pts)} points")
        ax.set_xlim(x0, x1)
        ax.set_xlabel(_t("alpha (0: baseline, 1: image)"))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(_t("class score"))
    axes[0].set_title(_t("the whole path"))
    axes[1].set_title(_t(f"zoom on alpha {lo:.2f} .. {hi:.2f}"))
    axes[1].legend(fontsize=8, loc="lower right")
    return _finish(fig, show, title or None)
