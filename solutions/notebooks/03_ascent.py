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
# # 3. Gradient ascent and adversarial examples: what does the network want to see?
#
# **Time for a full run: about 2.5 minutes on a laptop CPU** (under a minute in fast mode, `COURSE_FAST=1`: a smoke test, see the README).
#
# Notebooks 1 and 2 looked at what a network does with a *given* image. Here we turn it
# around and **optimize the image**: hold the network fixed, and change the pixels by gradient
# ascent until a class score (or a neuron) is as high as it can be.
#
# 1. **class visualization**: ascend a class score from a neutral image, and the regularizers
#    (L2, blur, clipping, jitter) that turn noise into something a person can recognise;
# 2. **neuron visualization**: the same loop on one channel of an early, a middle and a late layer;
# 3. **multifaceted visualization**: one class has many faces: start the ascent from the mean
#    of each cluster of real images;
# 4. **fooling images**: ascend a *wrong* class from a real photo until the network believes it;
# 5. **adversarial attacks**: FGSM and PGD, and accuracy against the size of the perturbation.
#
# The class visualizations repeat **your** ascent step, with the regularizers between steps.
# The other optimizations here (and in notebooks 4 and 5) run through **one loop**,
# `helpers.optim.optimize`: an image parameterization, an objective, an optimizer (Adam, SGD
# or L-BFGS), and optional parts (transforms before the model, edits of the gradient, edits
# after each step). You complete seven functions in `helpers/ascent.py`.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt
from tqdm.auto import tqdm
from helpers import start_notebook, pick, claim, fast_note
from helpers.models import load_model
from helpers.data import sample_image, imagenet_sample, imagenet_sample_crops, load_cifar10
from helpers.display import show_images, contrast, magnified_difference
from helpers.checks import check
from helpers import ascent as As

start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
model = load_model()
CLASSES = ["flamingo", "goldfish", "tarantula", "pizza"]
print(model.name, "-", len(model.classes), "classes;", ", ".join(f"{c} = {model.class_index(c)}" for c in CLASSES))

# %% [markdown]
# ## 1. Gradient ascent on a class score
#
# Simonyan et al. (2014): find the image that maximizes the class score `S_c` (the logit,
# before the softmax), with an L2 penalty that keeps the image from growing without bound:
#
# $$ I^* = \arg\max_I \; S_c(I) - \lambda \lVert I \rVert_2^2 $$
#
# Start from the **zero image**: the network normalizes its input by subtracting the dataset's
# mean colour, so "zero" is the flat mean-colour image (`As.neutral_image`). We write the
# image as `base + delta` and optimize `delta`; the paper's `I` is the image minus the mean
# colour, our `delta`, so the penalty is on `delta`:
#
# $$ \delta^* = \arg\max_\delta \; S_c(\text{base} + \delta) - \lambda \lVert \delta \rVert_2^2 $$
#
# Each step: forward, backpropagate to the
# pixels, take a small step *up* the gradient. We divide the gradient by its mean absolute
# value so that the learning rate is the average change per pixel, whatever the scale of the
# score. **Jitter**: before each step, shift the image by a few random pixels (`torch.roll`),
# and shift the result back after it; the network then cannot rely on one exact pixel grid.
#
# **Exercise 1: `ascent_step`.**

# %%
check("ascent_step", "ascent_improves")

# %% nbgrader={"grade": true, "grade_id": "nb3_ascent_step", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: ascent_step
check("ascent_step", "ascent_improves")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=11)
_b = 0.3 + 0.2 * torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(10))   # not constant: jitter rolls it
_d = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(12)) * 0.05
_new, _obj = As.ascent_step(_m, _d, _b, 1, lr=0.05, l2=0.3, shift=(3, -2))
_r = torch.roll(_d, (3, -2), dims=(-2, -1)).requires_grad_(True)
_o = _m(torch.roll(_b, (3, -2), dims=(-2, -1)) + _r)[0, 1] - 0.3 * (_r ** 2).sum()
_g, = torch.autograd.grad(_o, _r)
assert abs(_obj - _o.item()) < 1e-5
assert torch.allclose(_new, torch.roll(_r.detach() + 0.05 * _g / _g.abs().mean(), (-3, 2), dims=(-2, -1)), atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# Your step, by hand, for 100 steps on "goldfish" at 128 px (15 in fast mode). The score
# climbs quickly and the probability gets near 1, but look at the image: high-frequency
# colour noise with at best a hint of the class. (The images are contrast-stretched for display, `contrast`: the real
# changes are small.)

# %%
# NBVAL_IGNORE_OUTPUT
target = model.class_index("goldfish")
base = As.neutral_image(model, 128)
delta, scores = torch.zeros_like(base), []
rng = np.random.default_rng(0)
for step in tqdm(range(pick(100, 15)), desc="ascent by hand", leave=False):
    shift = tuple(int(s) for s in rng.integers(-8, 9, size=2))
    delta, score = As.ascent_step(model, delta, base, target, lr=0.01, l2=1e-3, shift=shift)
    scores.append(score)
p = model(base + delta).softmax(-1)[0, target].item()
fig, ax = plt.subplots(1, 2, figsize=(7, 3))
ax[0].plot(scores); ax[0].set(xlabel="step", ylabel="objective", title="S_c - l2 ||delta||^2")
ax[1].imshow(contrast(base + delta)[0].permute(1, 2, 0)); ax[1].axis("off")
ax[1].set_title(f"p(goldfish) = {p:.2f}")
plt.suptitle(fast_note(f"{len(scores)} steps") or None); plt.tight_layout(); plt.show()
claim(p > 0.95, "the probability of goldfish gets near 1 (above 0.95)", fast_too=False)

# %% [markdown]
# ## 2. Regularizers: from noise to a recognisable image
#
# Yosinski et al. (2015) add three more regularizers to L2, each a small edit inside the loop:
#
# - **Gaussian blur** every few steps: penalizes high frequencies;
# - **clipping pixels with small values** to 0 (back to the neutral colour): only pixels that
#   matter keep a colour;
# - **clipping pixels with small gradients**, i.e. a small *contribution* `|sum_c x * dS/dx|`
#   (how much the score would change if the pixel were reset): the background goes neutral.
#
# Together with **jitter** they remove much of the noise.
#
# **Exercises 2 and 3: `clip_small_values` and `clip_small_gradients`.**

# %%
check("clip_small_values", "clip_small_gradients")

# %% nbgrader={"grade": true, "grade_id": "nb3_clip_small_values", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: clip_small_values
check("clip_small_values")
### BEGIN HIDDEN TESTS
_d = torch.randn(1, 3, 7, 9, generator=torch.Generator().manual_seed(13))
_n = _d.norm(dim=1, keepdim=True)
_keep = _d.clone()
assert torch.equal(As.clip_small_values(_d, 37), _d * (_n >= torch.quantile(_n.flatten(), 0.37)))
assert torch.equal(_d, _keep)                       # not in place
_e = torch.tensor([3.0, 0.0, 1.0, 2.0, 4.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5) / 3 ** 0.5   # norms 3, 0, 1, 2, 4
assert torch.equal(As.clip_small_values(_e, 50), _e * torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0]))   # the 50th: 2, kept
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb3_clip_small_gradients", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: clip_small_gradients
check("clip_small_gradients")
### BEGIN HIDDEN TESTS
_d = torch.randn(1, 3, 7, 9, generator=torch.Generator().manual_seed(14))
_g = torch.randn(1, 3, 7, 9, generator=torch.Generator().manual_seed(15))
_c = (_d * _g).sum(1, keepdim=True).abs()
_keep = _d.clone()
assert torch.equal(As.clip_small_gradients(_d, _g, 63), _d * (_c >= torch.quantile(_c.flatten(), 0.63)))
assert torch.equal(_d, _keep)                       # not in place
_e, _h = torch.ones(1, 3, 1, 5), torch.tensor([3.0, 0.0, 1.0, 2.0, 4.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5) / 3
assert torch.equal(As.clip_small_gradients(_e, _h, 50), _e * torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0]))
### END HIDDEN TESTS

# %% [markdown]
# `As.class_visualization` is the lecture's recipe: your `ascent_step` repeated (L2 and a
# random jitter in each step), with blur and your clipping functions applied to `delta`
# between steps. The ablation below switches the regularizers on one at a time, left to right
# (at 112 px to keep it quick).

# %%
# NBVAL_IGNORE_OUTPUT
SIZE, STEPS = pick(112, 64), pick(100, 12)
settings = {
    "no regularizer": dict(),
    "L2": dict(l2=1e-2),
    "+ blur": dict(l2=1e-2, blur_every=4, blur_sigma=1.0),
    "+ clipping": dict(l2=1e-2, blur_every=4, blur_sigma=1.0, clip_value=20, clip_grad=20),
    "+ jitter": dict(l2=1e-2, blur_every=4, blur_sigma=1.0, clip_value=20, clip_grad=20, jitter=SIZE // 14),
}
ablation = {}
for name, kw in tqdm(settings.items(), desc="ablation", leave=False):   # the 4 classes as one batch
    ablation[name] = As.class_visualization(model, CLASSES, steps=STEPS, size=SIZE, lr=0.02, progress=False, **kw).image
images, titles, probs = [], [], []
for i, c in enumerate(CLASSES):
    for name, imgs in ablation.items():
        p = model(imgs[i:i + 1]).softmax(-1)[0, model.class_index(c)].item()
        images.append(imgs[i]); titles.append(f"{c}: {name}\np = {p:.2f}"); probs.append(p)
show_images(contrast(torch.stack(images)), titles, ncols=len(settings), size=2.3,
            suptitle="class visualization, regularizers added left to right"
                     + fast_note(f"{STEPS} steps at {SIZE} px: not converged"))
claim(sum(p > 0.9 for p in probs) >= len(probs) - 2,
      f"at least {len(probs) - 2} of the {len(probs)} images reach a probability above 0.9 for their class",
      fast_too=False)

# %% [markdown]
# Nearly every image reaches a probability above 0.9 (the line above): the network is satisfied
# by all of them. The regularized ones are smoother, and here and there show a part *we* might
# pick out (look for legs radiating from a spider's body); at this size and number of steps
# they stay rough. The regularizers are a **prior** on natural images: they decide which of
# the many images the network likes we get to see. A better prior gives clearly better
# pictures (in a full run: fast mode's few steps leave grey noise):
#
# ### A better recipe
#
# Olah et al. (*Feature Visualization*, Distill 2017) go further: optimize the image in a
# **Fourier basis** scaled like natural images (1/f), with **decorrelated colours**, and apply
# random **pad, jitter, scale and rotation** every step (transforms the network should be
# robust to). Same loop, a different parameterization (`FourierImage`), Adam instead of
# normalized steps:

# %%
# NBVAL_IGNORE_OUTPUT
lucid = [As.fourier_visualization(model, As.class_objective(model, c), steps=pick(100, 10),
                                  size=pick(160, 64), progress=False).image[0] for c in tqdm(CLASSES, leave=False)]
probs = [model(x[None]).softmax(-1)[0, model.class_index(c)].item() for x, c in zip(lucid, CLASSES)]
show_images(lucid, [f"{c}  p = {p:.2f}" for c, p in zip(CLASSES, probs)], ncols=4, size=3,
            suptitle="Fourier parameterization + transformation robustness (Lucid's recipe)"
                     + fast_note("10 steps at 64 px: not converged"))

# %% [markdown]
# ## 3. What do the neurons want?
#
# The same loop with a different objective: the mean activation of one **channel** of a
# layer (`As.channel_objective`). Early layers want colours and edges, middle layers textures
# and patterns, late layers object parts. The forward pass stops at the layer, so early
# layers are cheap.

# %%
# NBVAL_IGNORE_OUTPUT
neurons = {"blocks.1": [3, 10, 20], "blocks.3": [5, 30, 60], "blocks.5": [10, 40, 100]}
imgs, titles = [], []
for layer, chans in neurons.items():
    for ch in chans:
        r = As.fourier_visualization(model, As.channel_objective(model, layer, ch), steps=pick(64, 8),
                                     size=pick(128, 48), progress=False)
        imgs.append(r.image[0]); titles.append(f"{layer} channel {ch}")
show_images(imgs, titles, ncols=3, size=2.6, suptitle="channels of an early, a middle and a late block"
            + fast_note("8 steps at 48 px: not converged"))

# %% [markdown]
# ## 4. Multifaceted visualization
#
# One class can look very different: a horse seen from the left or the right, close up or in
# a field. A single visualization averages these **facets** into a mess. Nguyen, Yosinski &
# Clune (2016): cluster real images of the class by their features, and start the ascent from
# the **mean image of each cluster** instead of from zero. Each start pulls the result towards
# one facet. (A **centre bias** lets the object grow from the middle first.)
#
# We use 300 horse photos from CIFAR-10 (40 in fast mode; small, but many per class), scaled up
# to 128 px, and
# ascend ImageNet's "sorrel" (a chestnut horse) from each cluster's mean, with small steps so
# that the start still shapes the result.
#
# **Exercise 4: `facet_starts`.**

# %%
check("facet_starts")

# %% nbgrader={"grade": true, "grade_id": "nb3_facet_starts", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: facet_starts
check("facet_starts")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(16)
_f = torch.cat([torch.randn(4, 3, generator=_g) - 8, torch.randn(7, 3, generator=_g) + 8])
_i = torch.rand(11, 3, 2, 2, generator=_g)
_m, _l = As.facet_starts(_i, _f, 2)
assert isinstance(_l, torch.Tensor) and isinstance(_m, torch.Tensor)
assert _l.tolist() == [1] * 4 + [0] * 7 and torch.allclose(_m[1], _i[:4].mean(0)) and torch.allclose(_m[0], _i[4:].mean(0))
from sklearn.cluster import KMeans
_f3 = torch.cat([torch.randn(2, 3, generator=_g) + 9, torch.randn(5, 3, generator=_g) - 9, torch.randn(3, 3, generator=_g) * 0.3])
_i3 = torch.rand(10, 3, 2, 2, generator=_g)
_raw = KMeans(n_clusters=3, n_init=10, random_state=4).fit_predict(_f3.double().numpy())
_rank = {c: r for r, c in enumerate(sorted(range(3), key=lambda c: (-(_raw == c).sum(), c)))}
_m3, _l3 = As.facet_starts(_i3, _f3, 3, seed=4)
assert _l3.tolist() == [_rank[c] for c in _raw] and all(torch.allclose(_m3[k], _i3[_l3 == k].mean(0)) for k in range(3))
_cloud = torch.rand(15, 2, generator=_g)           # no clear clusters: the seed decides
_raw = KMeans(n_clusters=4, n_init=10, random_state=9).fit_predict(_cloud.double().numpy())
_rank = {c: r for r, c in enumerate(sorted(range(4), key=lambda c: (-(_raw == c).sum(), c)))}
assert As.facet_starts(torch.rand(15, 3, 2, 2, generator=_g), _cloud, 4, seed=9)[1].tolist() == [_rank[c] for c in _raw]
### END HIDDEN TESTS

# %%
# NBVAL_IGNORE_OUTPUT
cif, lab, cnames = load_cifar10("test", per_class=pick(300, 40), progress=False)
horses = model.to_input(list(cif[lab == cnames.index("horse")]), size=(128, 128))
with torch.no_grad():   # penultimate features, 50 photos per forward pass
    feats = torch.cat([model.activations(b, model.penultimate)[model.penultimate].flatten(1) for b in horses.split(50)])
K = 4
means, labels = As.facet_starts(horses, feats, K)
facets = []
for k in tqdm(range(K), desc="facets", leave=False):
    r = As.class_visualization(model, "sorrel", steps=pick(60, 8), lr=0.002, init=means[k:k + 1],
                               l2=1e-3, blur_every=4, blur_sigma=0.7, jitter=8, center_bias=0.5, progress=False)
    facets.append(r.image[0])
examples = [horses[(labels == k).nonzero()[0, 0]] for k in range(K)]
show_images(examples + list(means) + list(contrast(torch.stack(facets))),
            [f"cluster {k}: {(labels == k).sum().item()} photos" for k in range(K)] + ["cluster mean"] * K
            + ["facet of 'sorrel'"] * K, ncols=K, size=2.5,
            suptitle="multifaceted visualization: one start per cluster of horse photos")

# %% [markdown]
# ## 5. Fooling images
#
# Start from a real photo instead of the neutral image, pick **another** class, and ascend its
# score until the network predicts it. How much must the image change?
#
# **Exercise 5: `fooling_image`**: stop as soon as the target class wins.

# %%
check("fooling_image")

# %% nbgrader={"grade": true, "grade_id": "nb3_fooling_image", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: fooling_image
check("fooling_image")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=6)
_x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
_f, _s = As.fooling_image(_m, _x, 1, lr=0.01, max_steps=300)
_y = _x.clone()
for _k in range(_s):
    assert int(_m(_y).argmax()) != 1
    _y.requires_grad_(True); _gg, = torch.autograd.grad(_m(_y)[0, 1], _y)
    _y = (_y.detach() + 0.01 * _gg / _gg.abs().mean()).clamp(0, 1)
assert int(_m(_y).argmax()) == 1 and torch.allclose(_f, _y, atol=1e-5)
### END HIDDEN TESTS

# %%
# NBVAL_IGNORE_OUTPUT
pairs = [("chelsea", "goldfish"), ("coffee", "tarantula")]
rows, titles, mean_changes, fooled_ok = [], [], [], []
for photo, wrong in pairs:
    x = model.to_input(sample_image(photo))
    before = model.predict(x, 1)[0][0]
    fooled, steps = As.fooling_image(model, x, wrong, lr=0.002, max_steps=100)
    after = model.predict(fooled, 1)[0][0]
    change = (fooled - x).abs()
    print(f"{photo}: {before[0]} ({before[1]:.2f}) -> {after[0]} ({after[1]:.2f}) in {steps} steps; "
          f"largest change {change.max().item() * 255:.1f} grey levels, mean {change.mean().item() * 255:.2f}")
    rows += [x[0], fooled[0], magnified_difference(x, fooled)[0]]
    titles += [f"{before[0]} {before[1]:.2f}", f"{after[0]} {after[1]:.2f}", "difference, magnified"]
    mean_changes.append(change.mean().item() * 255)
    fooled_ok.append(after[0] == wrong)
show_images(rows, titles, ncols=3, size=3)

# %%
claim(all(fooled_ok) and max(mean_changes) < 3,
      "both photos are fooled with a mean change of less than 3 grey levels per pixel")

# %% [markdown]
# The fooled image looks unchanged to us: a change of about one grey level per pixel on
# average (a few dozen at most, at single pixels: the printed lines), spread over the whole
# image, is enough. This is the puzzle of **adversarial examples** (Szegedy et al. 2014).
#
# ## 6. Adversarial attacks
#
# An attack looks for the worst change within a budget `eps` (in pixel units here: `8/255`
# means no pixel moves more than 8 grey levels), always giving a valid image.
#
# - **FGSM** (Goodfellow et al. 2015): one step of size `eps` along the *sign* of the gradient
#   of the loss: `x + eps * sign(grad_x L(x, y))`; targeted attacks step *down* the loss of
#   the target class instead.
# - **PGD** (Madry et al. 2018): many smaller FGSM steps, each followed by a **projection**
#   back into the `eps` box around the original image and into `[0, 1]`.
#
# **Exercises 6 and 7: `fgsm` and `pgd`.**

# %%
check("fgsm", "pgd")

# %% nbgrader={"grade": true, "grade_id": "nb3_fgsm", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: fgsm
check("fgsm")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=9)
_x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(17))
_xr = _x.clone().requires_grad_(True)
torch.nn.functional.cross_entropy(_m(_xr), torch.tensor([2, 0, 1])).backward()
assert torch.allclose(As.fgsm(_m, _x, [2, 0, 1], 0.05), (_x + 0.05 * _xr.grad.sign()).clamp(0, 1), atol=1e-6)
assert torch.allclose(As.fgsm(_m, _x, [2, 0, 1], 0.05, targeted=True), (_x - 0.05 * _xr.grad.sign()).clamp(0, 1), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb3_pgd", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: pgd
check("pgd")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=9)
_x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(18))
_y = torch.tensor([2, 0, 1])
_a = _x.clone()
for _k in range(4):
    _a.requires_grad_(True)
    _gg, = torch.autograd.grad(torch.nn.functional.cross_entropy(_m(_a), _y), _a)
    _a = torch.min(torch.max(_a.detach() - 0.01 * _gg.sign(), _x - 0.03), _x + 0.03).clamp(0, 1)
assert torch.allclose(As.pgd(_m, _x, _y, 0.03, alpha=0.01, steps=4, targeted=True), _a, atol=1e-6)
_a = (_x + (torch.rand(_x.shape, generator=torch.Generator().manual_seed(7)) * 2 - 1) * 0.03).clamp(0, 1)
for _k in range(2):
    _a.requires_grad_(True)
    _gg, = torch.autograd.grad(torch.nn.functional.cross_entropy(_m(_a), _y), _a)
    _a = torch.min(torch.max(_a.detach() + 0.02 * _gg.sign(), _x - 0.03), _x + 0.03).clamp(0, 1)
assert torch.allclose(As.pgd(_m, _x, _y, 0.03, alpha=0.02, steps=2, random_start=True, seed=7), _a, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# One photo, attacked: untargeted FGSM and PGD at `eps = 2/255`, and a targeted PGD at
# `eps = 4/255` that makes the network see a goldfish.

# %%
# NBVAL_IGNORE_OUTPUT
x = model.to_input(sample_image("chelsea"))
y = model.class_index(model.predict(x, 1)[0][0][0])
eps = 2 / 255
advs = {"FGSM": As.fgsm(model, x, y, eps), "PGD": As.pgd(model, x, y, eps, steps=pick(10, 3)),
        "PGD -> goldfish": As.pgd(model, x, "goldfish", 4 / 255, steps=pick(20, 3), targeted=True)}
show_images([x[0]] + [a[0] for a in advs.values()] + [torch.ones_like(x[0])]
            + [magnified_difference(x, a)[0] for a in advs.values()],
            ["original\n" + "{} {:.2f}".format(*model.predict(x, 1)[0][0])]
            + [f"{k}\n" + "{} {:.2f}".format(*model.predict(a, 1)[0][0]) for k, a in advs.items()]
            + ["differences, magnified:"] + ["x{:.0f}".format(0.5 / (a - x).abs().max().item()) for a in advs.values()], ncols=4, size=2.6)

# %% [markdown]
# How robust is the network? Top-1 accuracy on 200 ImageNet samples (one every 5 classes) as
# the budget grows. FGSM's gradient does not depend on `eps`, so it is computed once per
# image; PGD (3 steps) runs on a subset of 24 because each point costs 3 gradient passes.
# (Fast mode: 10 images, PGD with 2 steps on 6 of them: a smoke test.)

# %%
# NBVAL_IGNORE_OUTPUT
every = pick(5, 100)
crops = imagenet_sample_crops(224, every=every, progress=False)
X, Y = model.to_input(list(crops), size=None), torch.arange(0, 1000, every)
epsilons = [0, 0.25 / 255, 0.5 / 255, 1 / 255, 2 / 255]
acc_fgsm = As.accuracy_under_attack(model, X, Y, epsilons, "fgsm")
n_pgd = pick(24, 6)
acc_pgd = As.accuracy_under_attack(model, X[:n_pgd], Y[:n_pgd], epsilons[:4], "pgd", steps=pick(3, 2))
acc_fgsm_same = As.accuracy_under_attack(model, X[:n_pgd], Y[:n_pgd], epsilons[:4], "fgsm")   # PGD's images
plt.figure(figsize=(5, 3.2))
plt.plot([e * 255 for e in epsilons], acc_fgsm, "o-", label=f"FGSM ({len(X)} images)")
plt.plot([e * 255 for e in epsilons[:4]], acc_pgd, "s-", label=f"PGD, {pick(3, 2)} steps ({n_pgd} images)")
plt.xlabel("eps (grey levels out of 255)"); plt.ylabel("top-1 accuracy"); plt.ylim(0, 1); plt.legend()
plt.title(model.name + fast_note("10 images")); plt.grid(alpha=0.3); plt.show()
print("FGSM:", ", ".join(f"{e * 255:g}/255 -> {a:.2f}" for e, a in zip(epsilons, acc_fgsm)))
print("PGD: ", ", ".join(f"{e * 255:g}/255 -> {a:.2f}" for e, a in zip(epsilons, acc_pgd)))
claim(acc_fgsm[3] < 0.5 < acc_fgsm[0], "one grey level (1/255) of FGSM breaks the network on most images it got right",
      fast_too=False)
print(f"on PGD's {n_pgd} images: FGSM", ", ".join(f"{a:.2f}" for a in acc_fgsm_same), "| PGD",
      ", ".join(f"{a:.2f}" for a in acc_pgd))
claim(all(p <= f for p, f in zip(acc_pgd[2:], acc_fgsm_same[2:])),
      "on the same images, PGD does at least as much damage as FGSM at 0.5/255 and 1/255", fast_too=False)

# %% [markdown]
# A change of one grey level in every pixel, invisible to us, breaks the network on most
# images; PGD, on the same images and budget, does even more damage (the lines above). Our
# attacks agree with Captum's `FGSM` and `PGD`: the course's test suite checks both; the cell
# below checks FGSM on two images.

# %%
import warnings
from captum.robust import FGSM, PGD
ce = lambda out, t: torch.nn.functional.cross_entropy(out, t).reshape(1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ours, theirs = As.fgsm(model, X[:2], Y[:2], 1 / 255), FGSM(model, ce, 0, 1).perturb(X[:2], 1 / 255, Y[:2])
same = ((ours - theirs).abs() < 1e-6).float().mean().item()
print("FGSM agrees with Captum's on over 99% of the pixels (the rest: gradients of ~0, sign is a coin toss):", same > 0.99)

# %% [markdown]
# ## Questions
#
# **Q1.** Nearly every image of the ablation reaches a probability above 0.9, yet only some look like
# the class. What does that tell you about what "the network's idea of a goldfish" means, and
# about the role of the regularizers?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb3_q1", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Many very different images maximize the class score; the network's "idea" is not one image
# but a huge set, most of which are high-frequency patterns that no natural image contains
# (the network was never trained to say anything sensible about them). The regularizers are a
# prior that restricts the search to natural-looking images (smooth, small, robust to shifts),
# so what we see is the intersection of "the network likes it" and "it looks like a photo":
# the picture depends as much on the prior as on the network.

# %% [markdown]
# **Q2.** Fooling images and adversarial examples need only about a grey level of change per pixel. Why
# is a linear explanation (Goodfellow et al.) plausible for this, given the image has 150 000
# dimensions?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb3_q2", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** For a roughly linear score w.x, the change eps * sign(w) raises the score by eps * ||w||_1,
# which grows with the number of dimensions: a tiny per-pixel change adds up over 150 528
# inputs into a large change of the logit. Networks built from ReLUs and linear layers are
# close to piecewise linear, so this argument holds locally; high dimension, not some strange
# non-linearity, makes small perturbations powerful.

# %% [markdown]
# **Q3.** Why is PGD with a few steps stronger than FGSM with the same `eps`, and why must an
# attack's result be clamped to `[0, 1]` and projected into the `eps` box after every step?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb3_q3", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** FGSM takes one step along the gradient at the clean image; when the loss curves, that
# direction stops being the best after a short distance. PGD re-evaluates the gradient after
# each small step and follows the curved loss surface, finding a worse point within the same
# box. The projection keeps the promise of the threat model (no pixel moves more than eps) and
# the clamp keeps a valid image; doing it every step keeps every gradient evaluated at a point
# that is itself a legal input.
