"""One image-optimization loop for notebooks 3, 4 and 5.

Neuron and Fourier visualization, feature inversion, texture synthesis and style transfer
all "optimize the pixels of an image against an objective" with a standard optimizer.
:func:`optimize` is that loop, once: an image parameterization, an objective, an optimizer
(Adam, SGD, L-BFGS), and optional parts (transforms applied before the model, gradient
edits, edits after each step, an early stop), with a progress bar and snapshots for a strip
or an animation. Each technique is a small objective on top of it. (Class visualization and
DeepDream repeat the students' own normalized steps instead: ``ascent_step``, ``dream_step``.)
:func:`normalized_step` is the step those exercises use. Nothing here is an exercise.

Images are pixel-space tensors ``(1, 3, H, W)`` in ``[0, 1]``, like everywhere in the course.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .utils import CourseError, check_images, check_positive_int

# ------------------------------------------------------------------ parameterizations
class PixelImage(nn.Module):
    """The image as free pixels: ``image = base + delta`` with ``delta`` the parameter.

    ``base`` ``(N, 3, H, W)``: usually one image; a batch optimizes N images at once.

    ``base`` is the neutral image the optimization starts from (a grey or mean-colour
    image, or a photo) and ``delta`` starts at ``init - base`` (zero by default). Writing
    the image as an offset makes "start from the zero image" and an L2 penalty on the
    offset mean what the lecture means (the zero of the network's mean-subtracted input).
    ``clamp=True`` keeps ``base + delta`` a valid image after every step.
    """

    def __init__(self, base: torch.Tensor, init: torch.Tensor | None = None, clamp: bool = True):
        super().__init__()
        base = check_images(base, "base").float()
        self.register_buffer("base", base.clone())
        start = torch.zeros_like(base) if init is None else check_images(init, "init").float() - base
        if start.shape != base.shape:
            raise CourseError(f"init has shape {tuple(init.shape)}, base has {tuple(base.shape)}")
        self.delta = nn.Parameter(start.clone())
        self.clamp = clamp

    def forward(self) -> torch.Tensor:
        return self.base + self.delta

    @torch.no_grad()
    def project(self):
        """Keep the image valid (called by :func:`optimize` after every step)."""
        if self.clamp:
            self.delta.copy_((self.base + self.delta).clamp(0, 1) - self.base)


# Lucid's colour decorrelation: the square root of ImageNet's colour covariance (by SVD)
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImage(nn.Module):
    """Lucid's image parameterization: a 1/f-scaled spectrum, decorrelated colour, sigmoid.

    The parameter is the image's Fourier spectrum, scaled so that every frequency band
    moves at the same rate (natural images have 1/f spectra), mapped through ImageNet's
    colour correlation and squashed into ``[0, 1]``. Gradient steps in this space favour
    smooth, natural-looking images; it is the "better recipe" of notebook 3 (Olah et al.,
    *Feature Visualization*, Distill 2017).
    """

    def __init__(self, size: int | tuple[int, int], sd: float = 0.01, decay: float = 1.0, seed: int = 0):
        super().__init__()
        h, w = (size, size) if isinstance(size, int) else size
        self.h, self.w = int(h), int(w)
        fy = torch.fft.fftfreq(self.h)[:, None]
        fx = torch.fft.rfftfreq(self.w)[None, :]
        freqs = (fx ** 2 + fy ** 2).sqrt()
        self.register_buffer("scale", 1.0 / freqs.clamp_min(1.0 / max(self.h, self.w)) ** decay)
        g = torch.Generator().manual_seed(seed)
        self.spectrum = nn.Parameter(torch.randn(1, 3, self.h, self.w // 2 + 1, 2, generator=g) * sd)
        self.register_buffer("color", _COLOR.clone())

    def forward(self) -> torch.Tensor:
        spec = torch.view_as_complex(self.spectrum) * self.scale
        img = torch.fft.irfft2(spec, s=(self.h, self.w), norm="ortho") / 4.0
        img = torch.einsum("ij,njhw->nihw", self.color, img)
        return torch.sigmoid(img)

    def project(self):
        pass


# ------------------------------------------------------------------ transforms (Lucid)
class RandomTransforms:
    """Differentiable random transforms applied to the image before the model, each step.

    The network then cannot rely on one exact pixel position, which removes much of the
    high-frequency noise of plain gradient ascent. The gradient flows back through the
    transform, so the change lands on the untransformed image: a shift is "undone" after
    every step by construction. ``pad`` pixels of grey, a random shift of up to ``jitter``
    pixels, a random scale from ``scales`` and a rotation from ``angles`` (degrees), then a
    second small shift of ``jitter2``. ``RandomTransforms(jitter=8)`` is just jitter.
    """

    def __init__(self, jitter: int = 8, pad: int = 0, scales: Sequence[float] = (1.0,),
                 angles: Sequence[float] = (0.0,), jitter2: int = 0, seed: int = 0):
        self.jitter, self.pad, self.jitter2 = int(jitter), int(pad), int(jitter2)
        self.scales, self.angles = list(scales), list(angles)
        self.gen = torch.Generator().manual_seed(seed)

    @classmethod
    def lucid(cls, seed: int = 0) -> "RandomTransforms":
        """Lucid's standard set: pad 12, jitter 8, scale 0.9-1.1, rotate +-10 degrees, jitter 4."""
        return cls(jitter=8, pad=12, scales=[1 + (i - 5) / 50 for i in range(11)],
                   angles=list(range(-10, 11)), jitter2=4, seed=seed)

    def _int(self, n):
        return int(torch.randint(-n, n + 1, (1,), generator=self.gen)) if n > 0 else 0

    def _choice(self, xs):
        return xs[int(torch.randint(len(xs), (1,), generator=self.gen))]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, [self.pad] * 4, value=0.5)
        x = torch.roll(x, (self._int(self.jitter), self._int(self.jitter)), dims=(-2, -1))
        s, a = self._choice(self.scales), self._choice(self.angles)
        if s != 1.0 or a != 0.0:
            x = _scale_rotate(x, float(s), float(a))
        if self.jitter2:
            x = torch.roll(x, (self._int(self.jitter2), self._int(self.jitter2)), dims=(-2, -1))
        return x


def _scale_rotate(x: torch.Tensor, scale: float, degrees: float) -> torch.Tensor:
    """Zoom by ``scale`` and rotate by ``degrees`` about the centre; grey fills the corners."""
    t = math.radians(degrees)
    c, s = math.cos(t) / scale, math.sin(t) / scale
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of an image batch (torchvision's), kernel of about 4 sigma."""
    if sigma <= 0:
        return x
    # imported here, not at the top: importing torchvision also imports torch._dynamo, which
    # every process that imports this module would pay (BENCHMARKS.md, "import costs")
    from torchvision.transforms.v2.functional import gaussian_blur

    k = 2 * math.ceil(2 * sigma) + 1
    return gaussian_blur(x, [k, k], [float(sigma), float(sigma)])


# ------------------------------------------------------------------ the loop
@dataclass
class Result:
    """What :func:`optimize` returns.

    ``image``: the final image ``(1, 3, H, W)`` in [0, 1], detached; ``losses``: the
    objective at every step (what was minimized); ``snapshots``: ``(step, image)`` pairs;
    ``steps``: how many steps ran (fewer than asked when ``stop`` ended the loop early).
    """
    image: torch.Tensor
    losses: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    steps: int = 0

    def strip(self):
        """Images and titles of the snapshots, for ``show_images(*result.strip())``."""
        return [im for _, im in self.snapshots], [f"step {s}" for s, _ in self.snapshots]


def normalized_step(x: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    """``x + lr * grad / mean(|grad|)``, the mean taken per image (over everything but the
    first dimension): each image moves by ``lr`` per value on average, whatever the scale of
    its objective (``lr < 0`` descends). A new, detached tensor; ``x`` is not changed."""
    scale = grad.detach().abs().flatten(1).mean(1).clamp_min(1e-12)
    return x.detach() + lr * grad.detach() / scale.view(-1, *[1] * (grad.ndim - 1))


OPTIMIZERS = ("adam", "sgd", "lbfgs")


def optimize(param: nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, *,
             lr: float = 0.05, optimizer: str = "adam", transform: Callable | None = None,
             penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
             grad_edit: Callable | None = None, after_step: Callable | None = None,
             stop: Callable | None = None, snapshots: int | Sequence[int] = 0,
             progress: bool = True, desc: str = "optimizing") -> Result:
    """Minimize ``loss_fn`` over the parameters of an image parameterization.

    ``param``: a :class:`PixelImage` or :class:`FourierImage` (any module whose ``forward``
    returns the image and that has a ``project`` method). Each step: ``image = param()``;
    ``x = transform(image)`` (if given); ``loss = loss_fn(x) + penalty(image)``; backward;
    ``grad_edit(param)`` may change the gradients in place; the optimizer steps;
    ``after_step(step, param)`` may change the parameters in place (blur, clipping);
    ``param.project()`` keeps the image valid; ``stop(step, image, loss)`` may end the loop.

    ``optimizer``: ``"adam"``, ``"sgd"`` or ``"lbfgs"`` (one function evaluation budget of
    20 per step). (The classic class-visualization and DeepDream update, a step divided by the
    gradient's mean absolute value, is your ``ascent_step`` and ``dream_step``, repeated by
    ``class_visualization`` and ``deep_dream``.) To *maximize* a score, return its negative.
    ``snapshots``: a number of evenly spaced steps, or a list of step numbers, at which a
    copy of the image is kept (step 0 is the start). Returns a :class:`Result`.
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    if not isinstance(param, nn.Module) or not hasattr(param, "project"):
        raise CourseError("param must be an image parameterization such as PixelImage(base) or FourierImage(size)")
    if optimizer not in OPTIMIZERS:
        from .utils import unknown
        raise unknown("optimizer", optimizer, OPTIMIZERS)
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise CourseError(f"lr must be a positive number, got {lr!r}")
    params = [p for p in param.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr)
    else:
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=20, history_size=10, line_search_fn="strong_wolfe")
    if isinstance(snapshots, int):
        keep = set() if snapshots <= 0 else {round(i * steps / max(snapshots - 1, 1)) for i in range(snapshots)}
    else:
        keep = {int(s) for s in snapshots}
    result = Result(image=None)

    def evaluate():
        image = param()
        x = transform(image) if transform is not None else image
        loss = loss_fn(x)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise CourseError("loss_fn must return a single-number tensor (the value to minimize)")
        if penalty is not None:
            loss = loss + penalty(image)
        return image, loss

    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    step = 0
    for step in bar:
        if step in keep:
            result.snapshots.append((step, param().detach().clone()))
        if optimizer == "lbfgs":
            def closure():
                opt.zero_grad()
                _, loss = evaluate()
                loss.backward()
                if grad_edit is not None:
                    grad_edit(param)
                return loss
            loss = opt.step(closure)
            with torch.no_grad():
                image = param()
        else:
            for p in params:
                p.grad = None
            image, loss = evaluate()
            loss.backward()
            if grad_edit is not None:
                grad_edit(param)
            opt.step()
        with torch.no_grad():
            if after_step is not None:
                after_step(step, param)
            param.project()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise CourseError(f"the loss became {value} at step {step}: lower the learning rate")
        result.losses.append(value)
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{value:.4g}")
        if stop is not None and stop(step, image.detach(), value):
            step += 1
            result.steps = step
            break
    else:
        result.steps = steps
        step = steps
    bar.close()
    result.image = param().detach().clone()
    if steps in keep or (result.steps < steps and keep):
        result.snapshots.append((result.steps, result.image))
    return result
