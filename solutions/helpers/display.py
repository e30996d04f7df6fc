"""Pictures: image grids, heatmap overlays, side-by-side comparisons. Used by every notebook.

Every function accepts images as NumPy arrays ``(H, W, 3)`` / ``(H, W)`` (uint8, or float
in [0, 1]), PIL images, or pixel-space tensors ``(3, H, W)`` / ``(1, 3, H, W)``. Each draws
and shows a figure; pass ``show=False`` to get the ``Figure`` back instead (for saving or
further drawing). Nothing here is an exercise.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .utils import CourseError


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
        fig.suptitle(suptitle)
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
                ax.set_title(str(titles[i]), fontsize=9)
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
                ax.set_title(str(c), fontsize=9)
            if j == 0:
                ax.set_ylabel(str(label), fontsize=9)
    return _finish(fig, show, suptitle)


def show_predictions(image, preds, title: str | None = None, show: bool = True):
    """An image beside a bar chart of its top-k ``(class, probability)`` pairs."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2), gridspec_kw=dict(width_ratios=[1, 1.3]))
    a.imshow(as_display(image))
    a.axis("off")
    if title:
        a.set_title(title)
    names = [c for c, _ in preds][::-1]
    probs = [p for _, p in preds][::-1]
    b.barh(range(len(names)), probs, color="tab:blue")
    b.set_yticks(range(len(names)), names)
    b.set_xlim(0, 1)
    b.set_xlabel("probability")
    for k, p in enumerate(probs):
        b.text(min(p + 0.02, 0.85), k, f"{p:.2f}", va="center", fontsize=8)
    return _finish(fig, show)
