"""Notebook 3: gradient ascent and adversarial examples.

Exercises (complete the bodies marked ``YOUR CODE HERE``):

1. :func:`ascent_step` - one step of gradient ascent on a class score, with L2 and jitter.
2. :func:`clip_small_values` - zero the pixels whose colour vector is small.
3. :func:`clip_small_gradients` - zero the pixels that contribute little to the score.
4. :func:`facet_starts` - cluster one class's images and average each cluster.
5. :func:`fooling_image` - ascend a wrong class until the network believes it.
6. :func:`fgsm` - the fast gradient sign attack.
7. :func:`pgd` - projected gradient descent, the iterative attack.

Images are pixel-space tensors ``(N, 3, H, W)`` in ``[0, 1]``; an epsilon of ``8 / 255`` means
"no pixel moves by more than 8 grey levels". :func:`class_visualization` repeats your
:func:`ascent_step` with its regularizers; the Fourier and neuron visualizations run on the
shared loop :func:`helpers.optim.optimize`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .optim import FourierImage, RandomTransforms, Result, blur, normalized_step, optimize
from .utils import CourseError, check_images, check_positive_int

NOTEBOOK = 3   # the notebook whose exercises this module holds


# ============================================================================ validation
def check_epsilon(eps, name="eps") -> float:
    """``eps`` as a float in (0, 1] (pixel units), or a clear error."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)):
        raise CourseError(f"{name} must be a number in pixel units, e.g. 8/255, got {eps!r}")
    if not 0 < eps <= 1:
        raise CourseError(f"{name} must be in (0, 1] for images in [0, 1] (8/255 = {8 / 255:.4f} is "
                          f"typical), got {eps}")
    return float(eps)


def _labels(model, y, n):
    if isinstance(y, (int, str, np.integer)):
        y = [y] * n
    if isinstance(y, torch.Tensor):
        y = y.reshape(-1).tolist()
    y = [model.class_index(t) for t in y]
    if len(y) != n:
        raise CourseError(f"got {len(y)} labels for {n} images")
    return torch.tensor(y, device=model.device)


def neutral_image(model, size: int | tuple[int, int] = 224) -> torch.Tensor:
    """The "zero image" of the lecture: every pixel the dataset's mean colour ``(1, 3, H, W)``.

    The network sees exactly zero after its normalization, so ascent from here starts from
    no evidence for any class.
    """
    h, w = (size, size) if isinstance(size, int) else size
    return torch.tensor(model.mean, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, h, w).clone().to(model.device)


# ============================================================================ 1. one ascent step
def ascent_step(model, delta: torch.Tensor, base: torch.Tensor, target: int, lr: float = 0.01,
                l2: float = 0.0, shift: tuple[int, int] = (0, 0)):
    """Notebook 3, exercise 1. One step of gradient ascent on ``S_target(base + delta) - l2 * ||delta||^2``.

    ``model``: a wrapped model (:class:`helpers.models.WrappedModel`, as everywhere in the
    course): ``model(x)`` gives the logits ``(N, classes)``; ``target`` a class index (or a
    name: ``model.class_index(target)`` turns either into the index).
    ``delta`` ``(1, 3, H, W)``: the image's offset from the neutral ``base`` (same shape);
    ``S_target`` is the raw class score (the logit, before softmax). The step:

    1. roll ``delta`` by ``shift = (dy, dx)`` pixels (``torch.roll`` over the last two dims:
       random jitter), and roll ``base`` the same way;
    2. forward the rolled image, compute the objective, backprop to the rolled ``delta``;
    3. take a normalized step ``delta += lr * g / mean(|g|)`` (``g`` the gradient; that is
       ``optim.normalized_step(delta, g, lr)``), so ``lr`` is the average change per pixel
       whatever the scale of the score;
    4. roll the result back by ``-shift``: the jitter is undone after the step.

    Returns ``(new_delta, objective)``: a detached tensor like ``delta`` and the objective
    (a float) *before* the step. Do not change ``delta`` in place.
    """
    # YOUR CODE HERE: exercise `ascent_step`
    raise NotImplementedError("exercise `ascent_step` in helpers/ascent.py is not done yet: write its body here")


# ============================================================================ 2-3. clipping
def clip_small_values(delta: torch.Tensor, percentile: float) -> torch.Tensor:
    """Notebook 3, exercise 2. Zero the pixels of ``delta`` ``(1, 3, H, W)`` whose colour vector is small.

    A pixel's size is the L2 norm of its 3 colour values; pixels whose size is **below**
    the ``percentile``-th percentile of all sizes (``torch.quantile`` with
    ``percentile / 100``) become 0 in all three channels. ``percentile=0`` changes nothing.
    Returns a new tensor (Yosinski et al. 2015, "clipping pixels with small norm").
    """
    # YOUR CODE HERE: exercise `clip_small_values`
    raise NotImplementedError("exercise `clip_small_values` in helpers/ascent.py is not done yet: write its body here")


def clip_small_gradients(delta: torch.Tensor, grad: torch.Tensor, percentile: float) -> torch.Tensor:
    """Notebook 3, exercise 3. Zero the pixels of ``delta`` that contribute little to the score.

    A pixel's contribution is ``|sum over colours of delta * grad|`` (a first-order estimate
    of how much the score would change if the pixel were set to 0, Yosinski et al. 2015).
    Pixels whose contribution is **below** the ``percentile``-th percentile become 0 in all
    channels; ``percentile=0`` changes nothing. Returns a new tensor.
    """
    # YOUR CODE HERE: exercise `clip_small_gradients`
    raise NotImplementedError("exercise `clip_small_gradients` in helpers/ascent.py is not done yet: write its body here")


# ============================================================================ class visualization
def class_visualization(model, target, steps: int = 200, size: int = 224, lr: float = 0.01,
                        l2: float = 0.0, blur_every: int = 0, blur_sigma: float = 0.5,
                        clip_value: float = 0.0, clip_grad: float = 0.0, clip_every: int = 10,
                        jitter: int = 0, seed: int = 0, snapshots: int = 0, progress: bool = True,
                        init: torch.Tensor | None = None, center_bias: float = 0.0) -> Result:
    """The lecture's class visualization: ``argmax_I S_c(I) - l2 ||I||^2`` from the zero image,
    by repeating your :func:`ascent_step`.

    Each step is ``ascent_step(model, delta, base, target, lr, l2, shift)`` with ``shift`` a
    random roll of up to ``jitter`` pixels (0: none); the image is kept valid (clamped to
    [0, 1]); then the other regularizers edit ``delta``: ``blur_every`` (Gaussian blur of sigma
    ``blur_sigma`` every that many steps), ``clip_value`` and ``clip_grad`` (percentiles for
    :func:`clip_small_values` and :func:`clip_small_gradients`, every ``clip_every`` steps; the
    gradient's direction is the step just taken). ``init`` starts from another image instead
    (multifaceted visualization; L2 and clipping then measure the change from ``init``, and
    ``size`` is ignored); ``center_bias`` > 0 restricts the first steps to a central region
    that grows to the whole image (Nguyen et al. 2016).

    ``target`` may be a list of classes, visualized one after the other with the same
    settings. Returns a :class:`~helpers.optim.Result` (``result.image`` is ``(N, 3, H, W)``,
    one image per target; ``losses``: minus the objective at every step, summed over the
    targets; ``snapshots``: ``(step, images)``).
    """
    many = isinstance(target, (list, tuple))
    targets = [model.class_index(t) for t in (target if many else [target])]
    if not targets:
        raise CourseError("got an empty list of classes")
    steps = check_positive_int(steps, "steps", minimum=0)
    if init is None:
        base = neutral_image(model, size)
    else:  # start (and measure L2 and clipping) from the given image
        if many:
            raise CourseError("init starts one visualization: pass one target with it")
        base = check_images(init, "init", one=True).to(model.device)
    mask = _center_mask(tuple(base.shape[-2:]), model.device) if center_bias > 0 else None
    keep = set() if snapshots <= 0 else {round(i * steps / max(snapshots - 1, 1)) for i in range(snapshots)}
    gen = torch.Generator().manual_seed(seed)
    images, losses, kept = [], [0.0] * steps, {}
    bar = tqdm(total=steps * len(targets), desc="class " + ", ".join(model.classes[t] for t in targets),
               disable=not progress, leave=False)
    for t in targets:
        delta = torch.zeros_like(base)
        for step in range(steps):
            if step in keep:
                kept.setdefault(step, []).append(base + delta)
            shift = tuple(int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen)) if jitter else (0, 0)
            new, objective = ascent_step(model, delta, base, t, lr=lr, l2=l2, shift=shift)
            change = new - delta
            if mask is not None and step < center_bias * steps:   # an ever wider window in the centre
                change = change * (mask <= 0.35 + 0.65 * step / max(center_bias * steps, 1)).float()
            delta = (base + delta + change).clamp(0, 1) - base
            if blur_every and (step + 1) % blur_every == 0:
                delta = blur(delta, blur_sigma)
            if (step + 1) % clip_every == 0:
                if clip_value > 0:
                    delta = clip_small_values(delta, clip_value)
                if clip_grad > 0:
                    delta = clip_small_gradients(delta, change, clip_grad)
            losses[step] -= objective
            bar.update(1)
        images.append((base + delta).clamp(0, 1))
        if steps in keep:
            kept.setdefault(steps, []).append(images[-1])
    bar.close()
    return Result(image=torch.cat(images).detach(), losses=losses,
                  snapshots=[(s, torch.cat(ims).detach()) for s, ims in sorted(kept.items())], steps=steps)


def _center_mask(size, device):
    """Distance from the centre, 0 at the centre and 1 at the corners, ``(1, 1, H, W)``."""
    h, w = (size, size) if isinstance(size, int) else size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return ((yy ** 2 + xx ** 2).sqrt() / 2 ** 0.5).view(1, 1, h, w).to(device)


def fourier_visualization(model, objective, steps: int = 200, size: int = 224, lr: float = 0.05,
                          seed: int = 0, snapshots: int = 0, progress: bool = True,
                          desc: str = "visualizing") -> Result:
    """The better recipe (Lucid): Fourier parameterization, decorrelated colour, random
    pad, jitter, scale and rotation every step, Adam. ``objective(x)`` returns the value to
    *maximize* for the transformed image batch ``x``."""
    steps = check_positive_int(steps, "steps", minimum=0)
    param = FourierImage(size, seed=seed).to(model.device)
    return optimize(param, lambda x: -objective(x), steps, lr=lr, optimizer="adam",
                    transform=RandomTransforms.lucid(seed), snapshots=snapshots, progress=progress, desc=desc)


def class_objective(model, target):
    """``objective(x)``: the class score of ``target`` (a logit), for :func:`fourier_visualization`."""
    target = model.class_index(target)
    return lambda x: model(x)[0, target]


def channel_objective(model, layer: str, channel: int):
    """``objective(x)``: the mean activation of ``channel`` of ``layer`` over the whole map."""
    n = _channels(model, layer)
    if not 0 <= int(channel) < n:
        raise CourseError(f"layer {layer!r} has {n} channels, got channel {channel}")
    return lambda x: model.activations(x, layer, keep_graph=True)[layer][0, int(channel)].mean()


def _channels(model, layer):
    with torch.no_grad():
        a = model.activations(torch.zeros(1, 3, 64, 64, device=model.device), layer)[layer]
    if a.ndim != 4:
        raise CourseError(f"layer {layer!r} has no channels (output shape {tuple(a.shape)})")
    return a.shape[1]


# ============================================================================ 4. multifaceted
def facet_starts(images: torch.Tensor, features: torch.Tensor, k: int, seed: int = 0):
    """Notebook 3, exercise 4. Cluster one class's images by their features and average each cluster's images.

    ``images`` ``(N, 3, H, W)``; ``features`` ``(N, D)`` (e.g. penultimate-layer features of
    the same images). Run scikit-learn's ``KMeans(n_clusters=k, n_init=10,
    random_state=seed)`` on the features, then return ``(means, labels)``, both torch tensors:
    ``means`` ``(k, 3, H, W)``, the mean image of each cluster, **largest cluster first**;
    ``labels`` ``(N,)`` int64 (a ``torch.LongTensor``: the notebook indexes images with it),
    renumbered so that cluster 0 is the largest (ties: lower original cluster number first). These means are the starting points of multifaceted
    visualization (Nguyen, Yosinski & Clune 2016).
    """
    k = check_positive_int(k, "k")
    if len(images) != len(features):
        raise CourseError(f"got {len(images)} images but {len(features)} feature rows")
    if k > len(images):
        raise CourseError(f"cannot make {k} clusters from {len(images)} images")
    # YOUR CODE HERE: exercise `facet_starts`
    raise NotImplementedError("exercise `facet_starts` in helpers/ascent.py is not done yet: write its body here")


# ============================================================================ 5. fooling images
def fooling_image(model, x: torch.Tensor, target, lr: float = 0.002, max_steps: int = 100):
    """Notebook 3, exercise 5. Change image ``x`` ``(1, 3, H, W)`` until the model predicts class ``target``.

    Repeat: if the model's top-1 class for the current image is ``target``, stop; else
    take a normalized ascent step on the target's score, its logit ``model(x)[0, target]``
    (before softmax, as in :func:`ascent_step`): ``x <- clamp(x + lr * g / mean(|g|), 0, 1)``
    with ``g`` the gradient of that logit (``optim.normalized_step``). Give up after
    ``max_steps`` steps.
    Returns ``(fooled, steps)``: the image (detached) and the number of steps taken
    (0 if ``x`` is already classified as ``target``). Stop **as soon as** the target wins.
    """
    x = check_images(x, one=True)
    target = model.class_index(target)
    max_steps = check_positive_int(max_steps, "max_steps", minimum=0)
    # YOUR CODE HERE: exercise `fooling_image`
    raise NotImplementedError("exercise `fooling_image` in helpers/ascent.py is not done yet: write its body here")


# ============================================================================ 6-7. attacks
def fgsm(model, x: torch.Tensor, y, eps: float, targeted: bool = False) -> torch.Tensor:
    """Notebook 3, exercise 6. The fast gradient sign method (Goodfellow et al. 2015) on a batch ``(N, 3, H, W)``.

    ``y``: the true labels (untargeted: move *up* the cross-entropy loss of ``y``) or the
    target labels (``targeted=True``: move *down* the loss of ``y``); an int, a class
    name, or one per image. One step of size ``eps`` along the sign of the gradient of
    the cross-entropy (``F.cross_entropy`` of the logits, mean over the batch), then clamp
    to ``[0, 1]``. Returns the adversarial batch (detached).
    """
    x = check_images(x)
    eps = check_epsilon(eps)
    y = _labels(model, y, len(x))
    # YOUR CODE HERE: exercise `fgsm`
    raise NotImplementedError("exercise `fgsm` in helpers/ascent.py is not done yet: write its body here")


def pgd(model, x: torch.Tensor, y, eps: float, alpha: float | None = None, steps: int = 10,
        targeted: bool = False, random_start: bool = False, seed: int = 0) -> torch.Tensor:
    """Notebook 3, exercise 7. Projected gradient descent, L-infinity (Madry et al. 2018): iterated FGSM.

    Start from ``x`` (or, with ``random_start``, from ``x`` plus uniform noise in
    ``[-eps, eps]``, clamped to [0, 1]: one tensor like ``x``, drawn in one call on a new
    generator, ``(torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1)
    * eps``; ``uniform_(-eps, eps, generator=...)`` on a tensor like ``x``, or one draw per
    image in order from that one generator, give the same numbers).
    Then ``steps`` times: a gradient-sign step of size ``alpha`` (default ``2.5 * eps /
    steps``) on the cross-entropy as in :func:`fgsm`, then **project**: clip the change to
    ``[-eps, eps]`` around the original ``x``, and clamp to ``[0, 1]``. The result is always
    a valid image within ``eps`` of ``x``. Returns the adversarial batch (detached).
    """
    x = check_images(x)
    eps = check_epsilon(eps)
    steps = check_positive_int(steps, "steps")
    alpha = 2.5 * eps / steps if alpha is None else check_epsilon(alpha, "alpha")
    y = _labels(model, y, len(x))
    # YOUR CODE HERE: exercise `pgd`
    raise NotImplementedError("exercise `pgd` in helpers/ascent.py is not done yet: write its body here")


@torch.no_grad()
def _correct(model, x, y):
    return (model(x).argmax(1) == y).sum().item()


def accuracy_under_attack(model, images: torch.Tensor, labels, epsilons, attack: str = "fgsm",
                          batch_size: int = 25, progress: bool = True, **kwargs) -> list[float]:
    """Top-1 accuracy of ``model`` on ``images`` attacked with each epsilon (0 = clean).

    ``attack``: ``"fgsm"`` or ``"pgd"`` (``kwargs`` go to :func:`pgd`). Both run your
    exercises. FGSM's gradient sign does not depend on epsilon, so :func:`fgsm` runs once per
    batch, at ``eps = 1``: where a pixel went to 1 (from below 1) its sign was +1, where it
    went to 0 (from above 0) -1, else 0; ``clamp(x + eps * sign, 0, 1)`` is then FGSM at any
    epsilon (a pixel already at 1 with sign +1, or at 0 with sign -1, stays put either way).
    """
    if attack not in ("fgsm", "pgd"):
        from .utils import unknown
        raise unknown("attack", attack, ["fgsm", "pgd"])
    images = check_images(images)
    y = _labels(model, labels, len(images))
    epsilons = [float(e) for e in epsilons]
    for e in epsilons:
        if e != 0:
            check_epsilon(e, "each epsilon")
    correct = [0] * len(epsilons)
    batches = range(0, len(images), batch_size)
    for i in tqdm(batches, desc=f"{attack} attack", disable=not progress, leave=False):
        xb, yb = images[i:i + batch_size].to(model.device), y[i:i + batch_size]
        if attack == "fgsm":
            far = fgsm(model, xb, yb, 1.0).to(xb.device)
            sign = (far == 1).float() * (xb < 1) - (far == 0).float() * (xb > 0)
            for j, e in enumerate(epsilons):
                correct[j] += _correct(model, xb if e == 0 else (xb + e * sign).clamp(0, 1), yb)
        else:
            for j, e in enumerate(epsilons):
                adv = xb if e == 0 else pgd(model, xb, yb, e, **kwargs)
                correct[j] += _correct(model, adv, yb)
    return [c / len(images) for c in correct]
