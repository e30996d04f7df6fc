# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Feature inversion and DeepDream: what does a layer keep?
#
# **Time for a full run: under a minute on a laptop CPU** (about 10 s in fast mode, `COURSE_FAST=1`: a smoke test, see the README).
#
# Notebook 3 asked what image a class or a neuron *wants*. Here we ask what a layer *keeps*
# of a given image, and what happens when we amplify what it sees:
#
# 1. **the total-variation prior**, the regularizer that makes reconstructions look like images;
# 2. **feature inversion** (Mahendran & Vedaldi 2015): find an image whose features at a layer
#    match those of a photo, from early to late layers;
# 3. **DeepDream** (Mordvintsev et al. 2015): change the photo so that a layer's activations
#    grow, with jitter and an octave pyramid.
#
# Inversion runs on the shared optimization loop of notebook 3 (`helpers.optim.optimize`, with
# Adam); DeepDream repeats your own step. You complete four functions in `helpers/inversion.py`.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt
from tqdm.auto import tqdm
from helpers import start_notebook, pick, claim, fast_note
from helpers.models import load_model
from helpers.data import sample_image
from helpers.display import show_images
from helpers.checks import check
from helpers import inversion as In

start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
model = load_model()
print(model.name, "- main layers:", ", ".join(model.main_layers))

# %% [markdown]
# ## 1. The total-variation prior
#
# An image whose features match a photo's is far from unique; most such images are noise. The
# **total variation** penalizes differences between neighbouring pixels:
#
# $$ R_{V^\beta}(x) = \sum_{i,j} \left( (x_{i,j+1} - x_{i,j})^2 + (x_{i+1,j} - x_{i,j})^2 \right)^{\beta/2} $$
#
# summed over colour channels too. With `beta = 2` every difference costs its square (smooth
# images); with `beta = 1` an edge costs in proportion to its height, so sharp edges survive.
# At the last row and column the missing neighbour counts as a difference of 0.
#
# **Exercise 1: `total_variation`**, vectorized with slicing (no Python loops).

# %%
check("total_variation")

# %% nbgrader={"grade": true, "grade_id": "nb4_total_variation", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: total_variation
check("total_variation")
### BEGIN HIDDEN TESTS
_x = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(21), dtype=torch.float64)
_dx = torch.nn.functional.pad(_x[..., :, 1:] - _x[..., :, :-1], (0, 1))
_dy = torch.nn.functional.pad(_x[..., 1:, :] - _x[..., :-1, :], (0, 0, 0, 1))
for _b in (1.0, 2.0, 1.5):
    assert torch.isclose(In.total_variation(_x, _b), ((_dx ** 2 + _dy ** 2) ** (_b / 2)).sum())
    assert torch.isclose(In.total_variation(_x, _b, eps=0.05), ((_dx ** 2 + _dy ** 2 + 0.05) ** (_b / 2)).sum())
### END HIDDEN TESTS

# %%
photo = model.to_input(sample_image("astronaut"), size=128)
noisy = (photo + 0.1 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
flat = torch.nn.functional.avg_pool2d(photo, 8).repeat_interleave(8, -1).repeat_interleave(8, -2)
tv = {}
for name, im in {"photo": photo, "photo + noise": noisy, "8 px blocks": flat}.items():
    tv[name] = {beta: In.total_variation(im, beta).item() for beta in (2, 1)}
    print(f"{name:14s} TV beta=2: {tv[name][2]:8.1f}   beta=1: {tv[name][1]:8.1f}")
noise_factor = tv["photo + noise"][2] / tv["photo"][2]
blocks = {beta: tv["8 px blocks"][beta] / tv["photo"][beta] for beta in (1, 2)}
print(f"noise multiplies the beta = 2 total variation by {noise_factor:.1f}; the blocky image has "
      f"{blocks[1]:.0%} of the photo's TV under beta = 1, {blocks[2]:.0%} under beta = 2")
claim(noise_factor > 2, "noise at least doubles the beta = 2 total variation")
claim(blocks[1] < blocks[2], "beta = 1 rates the blocky image lower, relative to the photo, than beta = 2 does")

# %% [markdown]
# The blocky image keeps the photo's colours with a few sharp edges: sharp edges are cheap
# under `beta = 1` (an edge costs its height), smooth gradations are cheap under `beta = 2`
# (small differences cost their square). Noise, many small differences everywhere, is
# expensive under both.
#
# ## 2. Feature inversion
#
# Given the features `Phi_0 = Phi(x_0)` of a photo at one layer, find
#
# $$ x^* = \arg\min_x \; \frac{\lVert \Phi(x) - \Phi_0 \rVert^2}{\lVert \Phi_0 \rVert^2} + \lambda\, \frac{R_{V^\beta}(x)}{HW} $$
#
# (dividing by `||Phi_0||^2` makes layers comparable, dividing by the number of pixels makes
# `lambda` independent of the image size).
#
# **Exercise 2: `inversion_loss`.** Then `In.invert` runs Adam on the shared loop, starting
# from the mean-colour image plus a little noise.

# %%
check("inversion_loss")

# %% nbgrader={"grade": true, "grade_id": "nb4_inversion_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: inversion_loss
check("inversion_loss")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(22)
_f, _t = torch.randn(1, 4, 3, 3, generator=_g), torch.randn(1, 4, 3, 3, generator=_g)
_im = torch.rand(1, 3, 6, 5, generator=_g)
_want = ((_f - _t) ** 2).sum() / (_t ** 2).sum() + 0.7 * In.total_variation(_im, 1.0, eps=1e-8) / 30
assert torch.isclose(In.inversion_loss(_f, _t, _im, lam=0.7, beta=1.0), _want)
_flat = torch.full((1, 3, 6, 5), 0.4)               # beta < 2: eps = 1e-8 inside the TV (90 values of 1e-4)
assert abs(float(In.inversion_loss(_t, _t, _flat, lam=2.0, beta=1.0)) - 2.0 * 90 * 1e-4 / 30) < 1e-6
### END HIDDEN TESTS

# %% [markdown]
# The lecture's figure: the same photo reconstructed from the features of five layers, early
# to late. For each layer we report the remaining feature mismatch and how close the
# reconstruction is to the photo (PSNR in dB, and SSIM: 1 is identical).

# %%
# NBVAL_IGNORE_OUTPUT
SIZE, STEPS = pick(128, 64), pick(150, 15)
x0 = model.to_input(sample_image("astronaut"), size=SIZE)
layers = ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.5"]
recs = {}
for layer in tqdm(layers, desc="inverting", leave=False):
    recs[layer] = In.invert(model, x0, layer, steps=STEPS, lam=5.0, progress=False)
show_images([x0[0]] + [r.image[0] for r in recs.values()],
            ["original"] + [f"{k}\nSSIM {r.ssim:.2f}" for k, r in recs.items()], ncols=6, size=2.3,
            suptitle="reconstructions from the features of one layer, early to late"
                     + fast_note(f"{STEPS} steps: the deeper layers are not converged"))
print(f"{'layer':9s} {'feature loss':>12s} {'PSNR dB':>8s} {'SSIM':>6s}")
for k, r in recs.items():
    print(f"{k:9s} {r.feature_loss:12.4f} {r.psnr:8.1f} {r.ssim:6.2f}")

# %%
# NBVAL_IGNORE_OUTPUT
ssim = [recs[k].ssim for k in layers]
claim(ssim[0] > 0.7 and ssim[-1] < 0.2 and ssim == sorted(ssim, reverse=True),
      "the reconstruction's SSIM falls from near the photo at the first layer to little at the last, layer by layer",
      fast_too=False)
claim(max(r.feature_loss for r in recs.values()) < 0.15,
      "at every layer the reconstruction's features are within 15% of the photo's (relative squared error)",
      fast_too=False)

# %% [markdown]
# The first layer keeps almost everything: its reconstruction is nearly the photo (the SSIM
# line above); from `blocks.1` on, less and less. Deeper layers
# keep *what* is there and roughly *where*, but not the exact colours, textures and positions:
# the network has thrown them away because they do not matter for the class.
#
# ### The effect of `beta` and `lambda`
#
# At one middle layer: a stronger prior (larger `lambda`) gives smoother images with less
# detail. The two rows use different `lambda`s, scaled so that they look about equally smooth:
# compare their edges. `beta = 1` is the total variation of Rudin, Osher and Fatemi, known to
# keep edges sharp while it flattens the regions between them; `beta = 2` blurs everything alike.

# %%
# NBVAL_IGNORE_OUTPUT
grid, titles, smoothness = [], [], {}
for beta in (1.0, 2.0):
    for lam in (0.5, 5.0, 50.0):
        r = In.invert(model, x0, "blocks.3", steps=pick(100, 10), lam=lam * (0.05 if beta == 1 else 1.0),
                      beta=beta, progress=False)
        smoothness[beta, lam] = In.total_variation(r.image, 2.0).item()
        grid.append(r.image[0]); titles.append(f"beta {beta:g}, lambda {lam * (0.05 if beta == 1 else 1.0):g}\nSSIM {r.ssim:.2f}")
show_images(grid, titles, ncols=3, size=2.6, suptitle="inverting blocks.3: prior strength (columns) and beta (rows)"
            + fast_note("10 steps: not converged"))
claim(all(smoothness[b, 0.5] > smoothness[b, 5.0] > smoothness[b, 50.0] for b in (1.0, 2.0)),
      "for both betas, a larger lambda gives a smoother image (a lower total variation)", fast_too=False)

# %%
x_grad = photo.clone().requires_grad_(True)     # the 128 px photo of part 1, in both modes
value = {beta: In.total_variation(x_grad, beta, eps=1e-8) for beta in (1.0, 2.0)}
pull = {beta: torch.autograd.grad(v, x_grad)[0].abs().mean().item() for beta, v in value.items()}
ratio, pull_ratio = (value[1.0] / value[2.0]).item(), pull[1.0] / pull[2.0]
print(f"on this photo the beta = 1 TV is {ratio:.1f} times the beta = 2 TV, and its gradient {pull_ratio:.1f} times")
claim(ratio > 2 and pull_ratio > 2, "the beta = 1 TV is larger than the beta = 2 TV, and pulls harder")

# %% [markdown]
# (Pixel differences are small, and `|d|` is larger than `d^2` for small `d`: the `beta = 1`
# TV is several times the `beta = 2` TV and pulls harder (the line above). So the `beta = 1`
# runs scale `lambda` down, by 0.05: a choice made by eye so that the two rows look about
# equally smooth, not a law.)
#
# ## 3. DeepDream
#
# Pick a layer and amplify whatever it responds to: forward the photo to the layer, **set the
# layer's gradient equal to its activation** (the gradient of `1/2 ||a||^2`), backpropagate to
# the pixels and take a normalized step. Whatever the layer sees a little of, it will see more
# of. Two tricks make it work at full resolution:
#
# - **jitter**: roll the image by a random offset before each step, and back after it;
# - **octaves**: start on a small version of the photo, where the layer's patterns cover a
#   larger part of the image; then upsample the *detail* dreamed so far onto the next larger
#   version, and continue.
#
# **Exercises 3 and 4: `dream_step` and `octave_sizes`.**

# %%
check("dream_step", "octave_sizes")

# %% nbgrader={"grade": true, "grade_id": "nb4_dream_step", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: dream_step
check("dream_step")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=23)
_x = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(24)) * 0.5 + 0.2
_new, _o = In.dream_step(_m, _x, "act1", lr=0.03, shift=(-4, 6))
_r = torch.roll(_x, (-4, 6), dims=(-2, -1)).requires_grad_(True)
_a = _m.activations(_r, "act1", keep_graph=True)["act1"]
(0.5 * (_a ** 2).sum()).backward()
_want = torch.roll((_r.detach() + 0.03 * _r.grad / _r.grad.abs().mean()).clamp(0, 1), (4, -6), dims=(-2, -1))
assert torch.allclose(_new, _want, atol=1e-6) and abs(_o - 0.5 * (_a.detach() ** 2).sum().item()) < 1e-3
_big, _ = In.dream_step(_m, _x, "act1", lr=3.0, shift=(1, 1))
assert _big.min() >= 0 and _big.max() <= 1
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb4_octave_sizes", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: octave_sizes
check("octave_sizes")
### BEGIN HIDDEN TESTS
assert In.octave_sizes(300, 451, 3, 1.5) == [(133, 200), (200, 301), (300, 451)]
assert In.octave_sizes(90, 270, 2, 1.5, min_size=60) == [(60, 180), (90, 270)]   # exactly min_size is fine
for _h, _w in ((90, 270), (270, 90)):                                                 # the short side counts
    try:
        In.octave_sizes(_h, _w, 3, 1.5, min_size=60)
        raise AssertionError("a smallest octave of 40 x 120 is below min_size 60: it must raise")
    except ValueError:
        pass
try:
    In.octave_sizes(300, 451, 3, 0.7)
    raise AssertionError("scale < 1 must raise")
except ValueError:
    pass
assert In.octave_sizes(42, 30, 2, 4.0, min_size=1) == [(10, 8), (42, 30)]       # Python's round: 10.5 -> 10, 7.5 -> 8
from helpers.utils import CourseError
try:
    In.octave_sizes(64, 64, 4, 2.0, min_size=16)
    raise AssertionError("a smallest octave of 8 x 8 is below min_size 16: it must raise")
except CourseError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# `In.deep_dream` runs the octaves with your `dream_step`: each octave starts from the photo
# at that size plus the detail dreamed so far, and takes its steps with a random jitter. The
# same photo dreamed at a lower and a higher layer:

# %%
# NBVAL_IGNORE_OUTPUT
LONG = pick(384, 160)
dreams = {}
for layer in ("blocks.2", "blocks.4"):
    dreams[layer] = In.deep_dream(model, sample_image("coffee"), layer, octaves=pick(4, 2), steps=pick(10, 3),
                                  lr=0.015, jitter=32, size=LONG)
original = model.to_input(sample_image("coffee"), size=None)
original = torch.nn.functional.interpolate(original, size=dreams["blocks.2"].image.shape[-2:], mode="bilinear",
                                           antialias=True)
show_images([original[0]] + [d.image[0] for d in dreams.values()],
            ["photo"] + [f"DeepDream at {k}" for k in dreams], ncols=3, size=4,
            suptitle=fast_note("2 octaves of 3 steps at 160 px") or None)

# %% [markdown]
# The lower layer (`blocks.2`) paints swirls and textures; the higher layer (`blocks.4`)
# finds object parts it knows (eyes, fur, animal faces). Below: the end of each octave, from
# the smallest to the full size, at the higher layer. The objective grows within every octave.

# %%
# NBVAL_IGNORE_OUTPUT
d = dreams["blocks.4"]
show_images([im[0] for im in d.octave_images], [f"octave {i + 1}: {im.shape[-2]} x {im.shape[-1]}"
                                                for i, im in enumerate(d.octave_images)], ncols=len(d.octave_images), size=2.8)
print("1/2 ||a||^2 at the first and last step of each octave:",
      "; ".join(f"{o[0]:.3g} -> {o[-1]:.3g}" for o in d.objectives))

# %%
claim(all(o[-1] > o[0] for o in d.objectives), "the objective grows within every octave")

# %% [markdown]
# ## Questions
#
# **Q1.** Reconstructions from deeper layers have lower PSNR and SSIM, yet the feature loss
# is low at every layer (within 15% of the target's energy: the table and the line above). What does that say about what deep features are *invariant* to,
# and why is that useful for classification?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb4_q1", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Many images give nearly the same deep features: the optimizer found one whose features
# closely match the photo's (within 15%), yet it differs from the photo in exact colours, textures and positions.
# Deep layers have become invariant to those factors (through pooling, striding and
# non-linearities that discard them), keeping what identifies the object and roughly where.
# Invariance to nuisance changes (small shifts, lighting, texture details) is what a
# classifier needs: two photos of the same class should map to nearby features.

# %% [markdown]
# **Q2.** Why does the total-variation prior matter so much more for deep layers than for the
# first ones?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb4_q2", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Early layers constrain almost every pixel (the features are nearly invertible), so the
# data term alone pins the image down. At deep layers the set of images with matching
# features is huge; without a prior the optimizer returns whatever member is closest to its
# start, typically high-frequency noise. The TV prior picks the smooth, natural-looking member
# of that set, so what we see from deep layers is largely shaped by the prior.

# %% [markdown]
# **Q3.** In DeepDream, why does setting the layer's gradient equal to its activation amplify
# *what is already there*, and what do octaves add?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb4_q3", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** The gradient of 1/2 ||a||^2 with respect to the activations is a itself: each unit is pushed
# up in proportion to how active it already is, so the step strengthens the patterns the
# layer already detects (a feedback loop), rather than one chosen class. Octaves run the same
# process on smaller copies first: a layer's receptive field then covers a larger part of the
# image, so larger structures emerge, and carrying the detail up to larger sizes adds finer
# patterns on top of them.
