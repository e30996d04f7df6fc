"""Fast style transfer (notebook 5, plumbing): Johnson et al.'s feed-forward network.

:class:`TransformerNet` (small enough for a CPU; instance, batch or conditional instance
norm from :mod:`helpers.style`, where the norms are exercises), its training with the
perceptual losses of :mod:`helpers.style` (:func:`train_stylizer`), and the networks the
course ships (:func:`load_stylizer`, :func:`stylize`; trained by ``tools/train_style.py``,
weights in ``helpers/weights/``). Nothing here is an exercise.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import WEIGHTS_DIR
from .style import (CONTENT_LAYER, STYLE_LAYERS, STYLES, ConditionalInstanceNorm, InstanceNorm, _check_layers,
                    _smoothness, check_style_weights, content_loss, features, style_grams, style_loss, to_pixels)
from .utils import CourseError, check_positive_int, unknown


# ============================================================================ the network
class BatchNorm(nn.BatchNorm2d):
    def forward(self, x, style=None):
        return super().forward(x)


class ConvLayer(nn.Module):
    """Reflection padding, convolution, normalization (optional), ReLU (optional)."""

    def __init__(self, cin, cout, kernel, stride=1, norm="instance", n_styles=1, relu=True, upsample=False):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.norm = {"instance": lambda: InstanceNorm(cout), "batch": lambda: BatchNorm(cout),
                     "conditional": lambda: ConditionalInstanceNorm(cout, n_styles),
                     None: lambda: None}[norm]()
        self.relu = relu

    def forward(self, x, style=None):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x, style)
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    def __init__(self, channels, norm, n_styles):
        super().__init__()
        self.a = ConvLayer(channels, channels, 3, norm=norm, n_styles=n_styles)
        self.b = ConvLayer(channels, channels, 3, norm=norm, n_styles=n_styles, relu=False)

    def forward(self, x, style=None):
        return x + self.b(self.a(x, style), style)


NORMS = ("instance", "batch", "conditional")


class TransformerNet(nn.Module):
    """Johnson et al.'s feed-forward style network, small enough for a CPU.

    Reflection-padded convolutions all along: a 9 x 9 convolution, two stride-2
    convolutions (total stride 4), ``res_blocks`` residual blocks, two "nearest-neighbour
    upsample + 3 x 3 convolution" layers (no checkerboard artefacts, unlike transposed
    convolutions) and a 9 x 9 convolution to RGB, squashed into ``[0, 1]`` by a sigmoid.
    Every layer but the last is followed by a normalization (``norm``: ``"instance"``,
    ``"batch"`` or ``"conditional"`` with ``n_styles`` styles) and a ReLU. Input and
    output: pixel-space images ``(N, 3, H, W)``; sides that are not multiples of 4 are
    reflection-padded and cropped back, so the output has the input's size.
    """
    stride = 4

    def __init__(self, channels: Sequence[int] = (12, 24, 48), res_blocks: int = 3, norm: str = "instance",
                 n_styles: int = 1, styles: Sequence[str] | None = None, kernel: int = 9):
        super().__init__()
        if norm not in NORMS:
            raise unknown("norm", norm, NORMS)
        c1, c2, c3 = [check_positive_int(c, "channels") for c in channels]
        self.config = dict(channels=[c1, c2, c3], res_blocks=int(res_blocks), norm=norm, n_styles=int(n_styles),
                           styles=list(styles) if styles else None, kernel=int(kernel))
        self.norm, self.n_styles = norm, int(n_styles)
        self.styles = list(styles) if styles else [f"style {i}" for i in range(self.n_styles)]
        if len(self.styles) != self.n_styles:
            raise CourseError(f"got {len(self.styles)} style names for {self.n_styles} styles")
        kw = dict(norm=norm, n_styles=n_styles)
        self.layers = nn.ModuleList([
            ConvLayer(3, c1, kernel, **kw), ConvLayer(c1, c2, 3, 2, **kw), ConvLayer(c2, c3, 3, 2, **kw),
            *[ResidualBlock(c3, **kw) for _ in range(res_blocks)],
            ConvLayer(c3, c2, 3, upsample=True, **kw), ConvLayer(c2, c1, 3, upsample=True, **kw),
            ConvLayer(c1, 3, kernel, norm=None, relu=False)])

    @property
    def min_size(self) -> int:
        """The smallest input side: twice the total stride (the reflection padding needs it)."""
        return 2 * self.stride

    def style_vector(self, style=None, device=None) -> torch.Tensor | None:
        """Style weights ``(S,)`` from a style name, an index, a ``{name: weight}`` dict or a
        list/tensor of ``S`` weights (normalized to sum to 1). ``None`` for a one-style net."""
        if self.norm != "conditional":
            if style is not None:
                raise CourseError("this network was trained for one style: call it without style=")
            return None
        if style is None:
            raise CourseError(f"this network holds {self.n_styles} styles: pass style= a name "
                              f"({', '.join(self.styles)}), an index, or weights")
        if isinstance(style, str):
            if style not in self.styles:
                raise unknown("style", style, self.styles)
            style = self.styles.index(style)
        if isinstance(style, (int, np.integer)) and not isinstance(style, bool):
            if not 0 <= style < self.n_styles:
                raise CourseError(f"style index must be in 0..{self.n_styles - 1}, got {style}")
            v = torch.zeros(self.n_styles)
            v[int(style)] = 1
            return v.to(device)
        if isinstance(style, dict):
            for k in style:
                if k not in self.styles:
                    raise unknown("style", k, self.styles)
            style = [float(style.get(k, 0.0)) for k in self.styles]
        return torch.tensor(check_style_weights(self.n_styles, style), device=device)

    def forward(self, x: torch.Tensor, style=None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise CourseError(f"the stylizer takes images (N, 3, H, W), got {got}")
        h, w = x.shape[-2:]
        if min(h, w) < self.min_size:
            raise CourseError(f"the content image is {h} x {w} px, smaller than the network allows: it "
                              f"downsamples by {self.stride} (its total stride), so each side needs at least "
                              f"{self.min_size} px")
        if isinstance(style, torch.Tensor) and self.norm == "conditional":
            s = style.to(x.device)
        else:
            s = self.style_vector(style, x.device)
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        for layer in self.layers:
            x = layer(x, s)
        return torch.sigmoid(x[..., :h, :w])


# ============================================================================ training
def _batch_pixels(images, size, device):
    if isinstance(images, torch.Tensor):
        x = images.float()
        x = x.div(255) if images.dtype == torch.uint8 else x
        x = x.permute(0, 3, 1, 2) if x.shape[-1] == 3 and x.shape[1] != 3 else x
    else:
        arr = np.asarray(images)
        x = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / (255.0 if arr.dtype == np.uint8 else 1.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1).to(device)


def train_stylizer(net: TransformerNet, model, styles, contents, *, steps: int = 1000, batch_size: int = 4,
                   size: int = 256, style_size: int | None = None, lr: float = 1e-3,
                   content_layer: str = CONTENT_LAYER, style_layers: Sequence[str] = STYLE_LAYERS,
                   content_weight: float = 1.0, style_weight: float = 10.0, tv_weight: float = 1.0,
                   seed: int = 0, log_every: int = 50, time_limit: float | None = None,
                   progress: bool = True) -> list[float]:
    """Train a :class:`TransformerNet` with the perceptual losses of Johnson et al.

    ``styles``: one style image, or a list of ``net.n_styles`` for a conditional network
    (each batch then trains one random style). ``contents``: ``uint8 (N, h, w, 3)`` photos
    (random ones each step, random crops of side ``size``, random flips). The losses are
    those of :func:`helpers.style.gatys` (same normalizations) but computed on the network's outputs, with
    the content target the photo's own features. Adam with ``lr``. The network and the
    feature model are on the same device. ``time_limit`` (seconds): stop early when it is
    reached (``net.trained_steps`` says how many steps ran). Returns the mean loss of every
    ``log_every`` steps.
    """
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if len(styles) != net.n_styles:
        raise CourseError(f"the network has {net.n_styles} style(s), got {len(styles)} style images")
    layers = _check_layers(model, list(style_layers))
    device = model.device
    net.to(device).train()
    grams = [style_grams(model, s, layers, style_size or size) for s in styles]
    sw = [{k: style_weight / len(layers) / float(t.pow(2).mean().clamp_min(1e-12)) for k, t in g.items()}
          for g in grams]
    names = list(dict.fromkeys(layers + [content_layer]))
    tv = _smoothness("train_stylizer") if tv_weight else None
    n = len(contents)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps), eta_min=lr * 0.1)
    hmax, wmax = contents.shape[1], contents.shape[2]
    logged, running, start = [], 0.0, time.perf_counter()
    net.trained_steps = 0
    bar = tqdm(range(steps), desc="training", disable=not progress, leave=False)
    for step in bar:
        idx = torch.randint(n, (batch_size,), generator=g)
        side = min(hmax, wmax)        # a random square crop of 60-100 % of the short side, resized to size
        crop = int(torch.randint(int(0.6 * side), side + 1, (1,), generator=g))
        y0 = int(torch.randint(hmax - crop + 1, (1,), generator=g))
        x0 = int(torch.randint(wmax - crop + 1, (1,), generator=g))
        batch = contents[idx.numpy() if isinstance(contents, np.ndarray) else idx][:, y0:y0 + crop, x0:x0 + crop]
        x = _batch_pixels(batch, size, device)
        if torch.rand(1, generator=g) < 0.5:
            x = x.flip(-1)
        s_id = int(torch.randint(net.n_styles, (1,), generator=g))
        style = F.one_hot(torch.tensor(s_id), net.n_styles).float().to(device) if net.norm == "conditional" else None
        with torch.no_grad():
            p = model.activations(x, [content_layer])[content_layer]
        cw = content_weight / float(p.pow(2).mean().clamp_min(1e-12))
        y = net(x, style)
        acts = features(model, y, names)
        loss = cw * content_loss(acts[content_layer], p) + style_loss(acts, grams[s_id], sw[s_id]) \
            + (tv_weight / y[0].numel() / batch_size * tv(y) if tv else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        net.trained_steps = step + 1
        out_of_time = time_limit is not None and time.perf_counter() - start > time_limit
        if (step + 1) % log_every == 0 or step == steps - 1 or out_of_time:
            k = (step % log_every) + 1
            logged.append(running / k)
            running = 0.0
            bar.set_postfix(loss=f"{logged[-1]:.4g}")
        if out_of_time:
            break
    bar.close()
    net.eval()
    return logged


# ============================================================================ shipped networks
def stylizer_path(name: str) -> Path:
    return WEIGHTS_DIR / f"style_{name}.pt"


STYLIZERS = [*STYLES, "conditional"]


def save_stylizer(net: TransformerNet, path, meta: dict | None = None):
    """Save a network's config and its weights in float16 (a few hundred kB)."""
    state = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu() for k, v in net.state_dict().items()}
    torch.save({"config": net.config, "state": state, "meta": dict(meta or {})}, path)


def load_stylizer(name: str = "starry_night", device=None) -> TransformerNet:
    """A shipped feed-forward style network, in eval mode.

    ``name``: one of the paintings (``starry_night``, ``the_scream``, ``shipwreck``,
    ``woman-with-hat-matisse``: one instance-norm network each) or ``"conditional"`` (one
    conditional-instance-norm network for all four; pass ``style=`` to :func:`stylize`).
    Trained by ``tools/train_style.py``; weights in ``helpers/weights/style_<name>.pt``.
    """
    if name not in STYLIZERS:
        raise unknown("stylizer", name, STYLIZERS)
    path = stylizer_path(name)
    if not path.exists():
        raise CourseError(f"no weights at {path}; train them with `bash course.sh train style {name}`")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    net = TransformerNet(**ck["config"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state"].items()})
    net.meta = ck.get("meta", {})
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval().to(device or "cpu")


@torch.no_grad()
def stylize(net: TransformerNet, image, style=None, size: int | None = None) -> torch.Tensor:
    """Stylize one image with a feed-forward network: ``(1, 3, H, W)`` in ``[0, 1]``.

    ``image``: any image (array, tensor ...); ``size``: its long side (default: as it is).
    ``style``: for a conditional network, a style name, an index, or weights over its styles
    (a list, or ``{name: weight}``) - mixing two styles interpolates their scales and shifts.
    """
    if not isinstance(net, TransformerNet):
        raise CourseError(f"stylize takes a TransformerNet (see load_stylizer), got {type(net).__name__}")
    device = next(net.parameters()).device
    x = to_pixels(image, size, device)
    was = net.training
    net.eval()
    try:
        return net(x, style).clamp(0, 1)
    finally:
        net.train(was)
