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
# # 2. Saliency and occlusion: which pixels matter?
#
# **Time for a full run: about 3 minutes on a laptop CPU** (under a minute in fast mode, `COURSE_FAST=1`: a smoke test, see the README).
#
# A network says "tiger cat". *Why?* Which parts of the image did it use? This notebook builds
# the classic answers, from the most direct to the most refined:
#
# 1. **occlusion**: hide a patch, see how much the class probability drops;
# 2. **saliency**: the gradient of the class score with respect to the pixels;
# 3. **segmentation** that needs no labels, seeded by the saliency map;
# 4. **guided backpropagation**: a cleaner gradient image, for a class or for one neuron;
# 5. **CAM, Grad-CAM and guided Grad-CAM**: where in the image the evidence for a class lies.
#
# Then part two asks whether any of these maps can be trusted:
#
# 6. **SmoothGrad and Integrated Gradients**: two better-founded gradient maps;
# 7. **the sanity check**: does the map change when the network's weights are randomized?
# 8. **deletion and insertion**: do the pixels a map ranks first really carry the class?
#
# You complete thirteen functions: exercises 1-7 in `helpers/saliency.py`, exercises 8-13 in
# `helpers/trust.py` (each docstring carries the exercise's number). As before: a local check
# after each exercise, then a graded cell.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt
from helpers import start_notebook, pick, skip_if_not_done, claim, fast_note
from helpers.models import load_model
from helpers.data import sample_image, imagenet_sample, imagenet_sample_crops
from helpers.display import (show_images, overlay, show_heatmaps, compare, gradient_image, saliency_image, emphasis,
                             show_cascade, plot_cascade_similarity, show_curves, plot_path)
from helpers.checks import check
from helpers import saliency as Sa
from helpers import features as Fe
from helpers import trust as Tr

start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
model = load_model()
photos = {"cat": sample_image("chelsea"), "espresso": sample_image("coffee"),
          "goldfish": imagenet_sample(1), "sports car": imagenet_sample(817)}
inputs = {k: model.to_input(v) for k, v in photos.items()}
targets = {}
for k, x in inputs.items():
    name, p = model.predict(x, topk=1)[0][0]
    targets[k] = model.class_index(name)
    print(f"{k:11s} -> {name} ({p:.2f})")

# %% [markdown]
# ## 1. Occlusion
#
# Zeiler & Fergus: slide a grey square over the image; at each position, record how much the
# probability of the class drops. Where hiding hurts most, the network was looking.
# A 224 px image with a 16 px window and stride 8 has 27 x 27 = 729 positions (fast mode uses
# stride 32: isolated squares, a smoke test): run them in **batches** of occluded copies (one
# forward pass per batch), with no autograd.
# `Sa.window_masks(H, W, window, stride)` gives every window as a boolean mask.
#
# **Exercise 1: `occlusion_map`.**

# %%
check("occlusion_map")

# %% nbgrader={"grade": true, "grade_id": "nb2_occlusion_map", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: occlusion_map
check("occlusion_map")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=7)
_x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
_got = Sa.occlusion_map(_m, _x, 2, window=6, stride=5, baseline=0.25, batch_size=3)
with torch.no_grad():
    _p0 = _m(_x).softmax(-1)[0, 2]
    _tot, _cnt = torch.zeros(16, 16), torch.zeros(16, 16)
    for _y in range(0, 11, 5):
        for _xx in range(0, 11, 5):
            _o = _x.clone(); _o[..., _y:_y + 6, _xx:_xx + 6] = 0.25
            _tot[_y:_y + 6, _xx:_xx + 6] += _p0 - _m(_o).softmax(-1)[0, 2]
            _cnt[_y:_y + 6, _xx:_xx + 6] += 1
assert torch.allclose(_got, torch.where(_cnt > 0, _tot / _cnt.clamp_min(1), 0.0), atol=1e-6)
### END HIDDEN TESTS

# %%
WINDOW, STRIDE = 16, pick(8, 32)
occ = Sa.occlusion_map(model, inputs["cat"], targets["cat"], WINDOW, STRIDE, progress=True)
show_heatmaps(photos_224 := model.to_image(inputs["cat"]), {f"occlusion {WINDOW} px / {STRIDE}": occ},
              suptitle=f"drop in p({model.classes[targets['cat']]}) when a grey square hides each spot"
                       + fast_note("stride 32: isolated squares"))

# %% [markdown]
# ## 2. Saliency via backpropagation
#
# Simonyan et al.: the gradient of the **unnormalized** class score (the logit, not the
# softmax probability) with respect to the image says how much each pixel would change the
# score. Take its absolute value and the maximum over the three colours: one value per pixel.
# One backward pass, instead of hundreds of forward passes.
#
# **Exercise 2: `saliency_map`.**

# %%
check("saliency_map")

# %% nbgrader={"grade": true, "grade_id": "nb2_saliency_map", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: saliency_map
check("saliency_map")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=8)
_x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4))
_xx = _x.clone().requires_grad_(True)
_m(_xx)[0, 1].backward()
assert torch.allclose(Sa.saliency_map(_m, _x, 1), _xx.grad[0].abs().amax(0), atol=1e-7)
### END HIDDEN TESTS

# %%
sal = {k: Sa.saliency_map(model, x, targets[k]) for k, x in inputs.items()}
images = [model.to_image(x) for x in inputs.values()]
show_images(images + [saliency_image(s) for s in sal.values()],
            titles=[model.classes[t] for t in targets.values()] + ["saliency"] * 4, ncols=4, cmap="hot", size=2.4)

# %% [markdown]
# ## 3. Segmentation without supervision
#
# The saliency map is bright on the object. Simonyan et al. used it to *segment* the object
# with no segmentation labels: seed GrabCut (a graph-cut segmentation in OpenCV) with the most
# salient pixels as foreground and the least salient as background, and let it grow the
# regions along colour edges.
#
# **Exercise 3: `grabcut_seeds`**: turn the saliency map into GrabCut's four labels by
# quantiles. `Sa.segment(image, saliency)` then runs GrabCut.

# %%
check("grabcut_seeds")

# %% nbgrader={"grade": true, "grade_id": "nb2_grabcut_seeds", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: grabcut_seeds
check("grabcut_seeds")
### BEGIN HIDDEN TESTS
_s = torch.rand(9, 11, generator=torch.Generator().manual_seed(5))
_seeds = Sa.grabcut_seeds(_s, 0.8, 0.1)
_q = [torch.quantile(_s.flatten(), q) for q in (0.8, 0.1, 0.5)]
assert (_seeds[(_s >= _q[0]).numpy()] == 1).all() and (_seeds[(_s <= _q[1]).numpy()] == 0).all()
_mid = ((_s < _q[0]) & (_s > _q[1])).numpy()
assert ((_seeds[_mid] == 3) == (_s.numpy()[_mid] > _q[2].item())).all()
_flat = torch.zeros(6, 5)
_flat[2, 3], _flat[4, 1] = 3.0, 1.0                  # mostly 0: both quantiles are 0, sure background wins
assert (Sa.grabcut_seeds(_flat, 0.9, 0.2) == np.where(_flat.numpy() > 0, 1, 0)).all()
### END HIDDEN TESTS

# %%
masks = {k: Sa.segment(img, sal[k]) for k, img in zip(inputs, images)}   # GrabCut: about 1 s per photo
cut = [np.where(m[..., None], img, (img * 0.25).astype(np.uint8)) for m, img in zip(masks.values(), images)]
show_images(cut, titles=[f"{k}: {m.mean():.0%} foreground" for k, m in masks.items()], ncols=4, size=2.6,
            suptitle="GrabCut seeded by saliency (no segmentation labels used)")

# %% [markdown]
# ## 4. Guided backpropagation
#
# The plain gradient is noisy: negative gradients flowing back through every ReLU mix
# evidence *for* and *against*. **Guided backpropagation** (Springenberg et al.) changes the
# backward rule of each ReLU: pass the gradient only where the unit was active in the forward
# pass **and** the gradient is positive. EfficientNet-Lite0 uses ReLU6 (`min(max(x, 0), 6)`),
# whose active range is `0 < x < 6`. (Captum's and pytorch-grad-cam's guided backprop only
# handle `nn.ReLU`: on this network they silently return the plain gradient. Yours will not.)
#
# **Exercise 4: `guided_relu_backward`** (the rule), then **exercise 5: `guided_backprop`**:
# the context manager `Sa.guided(model)` swaps every ReLU/ReLU6 for one that uses your rule;
# inside it, take the gradient of a class score or of one channel's activation.

# %%
check("guided_relu_backward", "guided_backprop")

# %% nbgrader={"grade": true, "grade_id": "nb2_guided_relu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: guided_relu_backward
check("guided_relu_backward")
### BEGIN HIDDEN TESTS
_x = torch.randn(50, generator=torch.Generator().manual_seed(6)) * 5
_g = torch.randn(50, generator=torch.Generator().manual_seed(7))
assert torch.equal(Sa.guided_relu_backward(_x, _g, 6.0), torch.where((_x > 0) & (_x < 6) & (_g > 0), _g, 0.0))
assert torch.equal(Sa.guided_relu_backward(_x, _g), torch.where((_x > 0) & (_g > 0), _g, 0.0))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_guided_backprop", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: guided_backprop
check("guided_backprop")
### BEGIN HIDDEN TESTS
import warnings
from captum.attr import GuidedBackprop
from helpers.models import tiny_cnn
warnings.filterwarnings("ignore", module="captum")
_m = tiny_cnn(seed=9)
_x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(8))
assert torch.allclose(Sa.guided_backprop(_m, _x, target=2), GuidedBackprop(_m).attribute(_x.clone().requires_grad_(True), target=2)[0], atol=1e-6)
_u = Sa.guided_backprop(_m, _x, layer="act2", channel=1, unit=(3, 4))
assert (_u.abs().sum(0)[:, 7:] == 0).all() and (_u.abs().sum(0)[7:] == 0).all()
### END HIDDEN TESTS

# %%
x = inputs["cat"]
plain = Sa.plain_gradient(model, x, "blocks.5", 40)
guided = Sa.guided_backprop(model, x, layer="blocks.5", channel=40)
cls_guided = Sa.guided_backprop(model, x, target=targets["cat"])
show_images([photos_224, gradient_image(plain), gradient_image(guided), gradient_image(cls_guided)],
            titles=["image", "plain gradient, blocks.5 ch 40", "guided, blocks.5 ch 40", f"guided, class {model.classes[targets['cat']]}"],
            ncols=4, size=2.7)

# %% [markdown]
# **The neurons of notebook 1, seen by guided backprop.** For channels of `blocks.3` whose top
# patches notebook 1 showed, three tiles per unit: the image patch where the channel fires
# most, the guided gradient of that one unit, and the patch dimmed where that gradient is
# small. Look at where, inside its field, the unit's gradient is large: often a small part of
# the patch. Deep in a network of depthwise and strided convolutions the raw gradient is
# noisy; its smoothed magnitude is easier to read.

# %%
with skip_if_not_done("this figure"):   # it uses notebook 1's extract_features, receptive_field, top_activations
    rf = Fe.layer_receptive_field(model, "blocks.3")
    view = Fe.RF(80, rf.stride, rf.offset + (rf.size - 80) // 2)   # the central 80 px of each field
    pool = imagenet_sample_crops(224, every=pick(1, 5))
    channels = [9, 33, 47, 60]
    acts = Fe.channel_activations(model, pool, "blocks.3", channels, batch_size=25)
    tiles, titles = [], []
    for j, ch in enumerate(channels):
        v, idx, r, c = Fe.top_activations(acts, j, k=2)
        for i, rr, cc in zip(idx.tolist(), r.tolist(), c.tolist()):
            g = Sa.guided_backprop(model, model.to_input(pool[i], size=None), "blocks.3", ch, unit=(rr, cc))
            g_img = (gradient_image(g) * 255).astype(np.uint8)
            patch = Fe.crop_patches(pool, [i], [rr], [cc], view)[0]
            g_crop = Fe.crop_patches(g_img[None], [0], [rr], [cc], view)[0]
            g_abs = Fe.crop_patches(np.abs(g.permute(1, 2, 0).numpy())[None], [0], [rr], [cc], view, fill=0)[0]
            tiles += [patch, g_crop, emphasis(patch, g_abs)]
            titles += [f"ch {ch}: patch", "guided backprop", "patch x |guided|"]
    show_images(tiles, titles, ncols=6, size=1.9,
                suptitle=f"blocks.3 units: the central 80 px of their top patches, and what the unit responds to")

# %% [markdown]
# ## 5. CAM, Grad-CAM and guided Grad-CAM
#
# EfficientNet-Lite0 ends with global average pooling and one linear layer. So the score of
# class $c$ is $\sum_k w_{c,k} \frac{1}{hw}\sum_{ij} A_k(i,j)$, and
# $\text{CAM}_c(i,j) = \sum_k w_{c,k} A_k(i,j)$ shows *where* the score comes from
# (Zhou et al. 2016).
#
# **Grad-CAM** (Selvaraju et al.) works at any layer: weight each channel by its gradient
# averaged over space, $\alpha_k = \frac{1}{hw}\sum_{ij} \partial S_c / \partial A_k(i,j)$, and
# take $\text{ReLU}(\sum_k \alpha_k A_k)$. On a GAP + FC network at the last layer,
# $\alpha_k = w_{c,k} / hw$: Grad-CAM is ReLU(CAM) up to a positive scale (a test checks it).
# **Guided Grad-CAM** multiplies the upsampled Grad-CAM with guided backprop: class-specific
# *and* fine-grained.
#
# **Exercise 6: `class_activation_map`**, **exercise 7: `grad_cam`**.

# %%
check("class_activation_map", "grad_cam")

# %% nbgrader={"grade": true, "grade_id": "nb2_class_activation_map", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: class_activation_map
check("class_activation_map")
### BEGIN HIDDEN TESTS
_f = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(10))
_w = torch.randn(7, 5, generator=torch.Generator().manual_seed(11))
assert torch.allclose(Sa.class_activation_map(_f, _w, 4), (_w[4][:, None, None] * _f).sum(0), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_grad_cam", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: grad_cam
check("grad_cam")
### BEGIN HIDDEN TESTS
from captum.attr import LayerGradCam
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=12)
_x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(13))
for _layer in ["conv2", "act1"]:
    _ref = LayerGradCam(_m, _m.layer(_layer)).attribute(_x, target=0, relu_attributions=True)[0, 0]
    assert torch.allclose(Sa.grad_cam(_m, _x, 0, _layer), _ref, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# **All methods side by side**: for each photo, its top class, then occlusion, saliency,
# guided backprop, CAM, Grad-CAM and guided Grad-CAM.

# %%
from tqdm.auto import tqdm
rows = {}
for k, x in tqdm(inputs.items(), desc="six maps per photo", leave=False):
    t = targets[k]
    img = model.to_image(x)
    occ_k = Sa.occlusion_map_local(model, x, t, 32, pick(16, 32))   # the same map, faster (see its docstring)
    rows[f"{k}\n{model.classes[t]}"] = {
        "image": img,
        "occlusion": overlay(img, occ_k),
        "saliency": saliency_image(sal[k]),
        "guided backprop": gradient_image(Sa.guided_backprop(model, x, target=t)),
        "CAM": overlay(img, Sa.cam(model, x, t)),
        "Grad-CAM": overlay(img, Sa.grad_cam(model, x, t)),
        "guided Grad-CAM": gradient_image(Sa.guided_grad_cam(model, x, t)),
    }
compare(rows, size=2.0)

# %% [markdown]
# **Explore**: change the occlusion window, the stride and the target class (the widget works
# in JupyterLab; run headless, the cell draws the default choice once).

# %%
# NBVAL_IGNORE_OUTPUT
import ipywidgets as widgets

def explore_occlusion(window=32, stride=16, target=model.classes[targets["cat"]]):
    x = inputs["cat"]
    m = Sa.occlusion_map(model, x, target, window, max(stride, 4))
    show_heatmaps(model.to_image(x), {f"p({target}) drop, window {window}, stride {stride}": m})

_ = widgets.interact_manual(explore_occlusion, window=widgets.IntSlider(value=32, min=8, max=96, step=8),
                            stride=widgets.IntSlider(value=16, min=4, max=64, step=4),
                            target=widgets.Dropdown(options=["tiger cat", "Egyptian cat", "tabby", "lynx", "doormat"],
                                                    value=model.classes[targets["cat"]]))
explore_occlusion()

# %% [markdown]
# ## Questions (graded by your instructor)
#
# **Q1.** Give a situation where the occlusion map and the saliency map of the same image and
# class disagree, and explain which one you would trust for it and why.

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q1", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Saliency is a local, first-order quantity: it says how the score changes for an
# infinitesimal change of each pixel. Occlusion measures the effect of removing a whole
# region. They disagree when the network relies on redundant evidence (two eyes: hiding one
# barely changes the probability, so occlusion is weak, while the gradient is large on both),
# when the score is saturated (probability near 1: occlusion drops are small though gradients
# of the logit are not), or on high-frequency textures where the gradient is large but the
# region is not needed. For "what region is necessary" occlusion is more faithful; for
# "which pixels is the score sensitive to right now" saliency is.

# %% [markdown]
# **Q2.** What does guided backprop show that the plain gradient does not, and what is the
# catch (hint: try it on the same image for two different classes)?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q2", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Blocking negative gradients at every ReLU keeps only paths that increase the activations,
# so the image shows crisp edges and object parts that excite the unit, without the noise of
# cancelling positive and negative contributions. The catch: guided backprop is barely class
# (or neuron) discriminative: it largely reconstructs image edges regardless of the target
# (Adebayo et al., "Sanity checks"); that is why guided Grad-CAM multiplies it with the
# class-specific Grad-CAM.

# %% [markdown]
# **Q3.** Why does CAM need a global-average-pooling + linear head, and what does Grad-CAM do
# instead that lets it work at any layer?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q3", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** CAM rewrites the class score as a spatial sum, which is only exact when the last features
# are averaged over space and fed linearly to the class score: then the FC weights say how
# much each channel counts. Grad-CAM replaces those weights by the spatial average of the
# gradient of the score with respect to the chosen layer's channels, a first-order estimate of
# each channel's importance that exists for any differentiable head and any layer; at the
# last layer of a GAP + FC net it equals the CAM weights up to the 1/hw factor.


# %% [markdown]
# # Part two: can we trust these maps?
#
# Six methods, six different pictures of "why". It is tempting to believe the prettiest one.
# Since these methods were published the field has learned to **test** a map before
# believing it. This part builds two more gradient maps with a sounder footing, then two
# tests every map should pass:
#
# - **the sanity check** (Adebayo et al., *Sanity checks for saliency maps*, NeurIPS 2018):
#   randomize the network's weights, layer by layer from the top. A map that explains the
#   network must change when the network does. A map that stays the same shows the image,
#   not the network.
# - **deletion and insertion** (Petsiuk et al., *RISE*, BMVC 2018): remove the pixels in the
#   map's order, most important first. If the map is faithful, the class probability falls
#   fast. Or start from a blurred image and reveal the pixels in that order: the probability
#   should rise fast.
#
# You complete exercises 8-13 in `helpers/trust.py`; the loops over methods and photos and the
# figures are provided.

# %% [markdown]
# ## 6. SmoothGrad and Integrated Gradients
#
# **SmoothGrad** (Smilkov et al. 2017): the gradient of a ReLU network is noisy: it jumps
# from pixel to pixel as units switch on and off. Average the saliency maps of `n` noisy
# copies `x + noise`, with Gaussian noise of standard deviation `sigma` **in pixel units**
# (0.15 is 15 % of the [0, 1] range). Draw the noise from a seeded `torch.Generator`, so that
# a run repeats.
#
# **Exercise 8: `smoothgrad`.**

# %%
check("smoothgrad")

# %% nbgrader={"grade": true, "grade_id": "nb2_smoothgrad", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: smoothgrad
check("smoothgrad")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=21)
_x = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(22))
_got = Tr.smoothgrad(_m, _x, 1, n=5, sigma=0.3, generator=torch.Generator().manual_seed(5), batch_size=2)
_noise = 0.3 * torch.randn((5, 3, 12, 10), generator=torch.Generator().manual_seed(5))
_xs = (_x + _noise).requires_grad_(True)
_m(_xs)[:, 1].sum().backward()
assert torch.allclose(_got, _xs.grad.abs().amax(1).mean(0), atol=1e-6)
assert torch.allclose(Tr.smoothgrad(_m, _x, 2, n=3, sigma=0.0), Sa.saliency_map(_m, _x, 2), atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# **Integrated Gradients** (Sundararajan et al. 2017): the gradient at `x` only says what
# happens for a tiny change. Integrate it along the straight path from a **baseline** `x'`
# (a black image: "no information") to the image:
#
# $$\text{IG}(x) = (x - x') \odot \int_0^1 \nabla f\big(x' + \alpha (x - x')\big)\, d\alpha
# \;\approx\; (x - x') \odot \frac{1}{m} \sum_{k=1}^{m} \nabla f\Big(x' + \tfrac{k}{m} (x - x')\Big)$$
#
# with `m = steps` and `f` the class logit: the **right Riemann sum** (Captum calls it
# `riemann_right`). Its promise is **completeness**: the attributions add up to
# `f(x) - f(x')`, exactly in the limit of many steps.
#
# **Exercise 9: `integrated_gradients`.**

# %%
check("integrated_gradients")

# %% nbgrader={"grade": true, "grade_id": "nb2_integrated_gradients", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: integrated_gradients
check("integrated_gradients")
### BEGIN HIDDEN TESTS
import warnings
from captum.attr import IntegratedGradients
from helpers.models import tiny_cnn
warnings.filterwarnings("ignore", module="captum")
_m = tiny_cnn(seed=23)
_x = torch.rand(1, 3, 11, 13, generator=torch.Generator().manual_seed(24))
_b = torch.rand(1, 3, 11, 13, generator=torch.Generator().manual_seed(25)) * 0.5
for _steps, _base in [(5, None), (7, _b)]:
    _ref = IntegratedGradients(_m).attribute(_x, torch.zeros_like(_x) if _base is None else _base, target=2,
                                             n_steps=_steps, method="riemann_right")[0]
    _got = Tr.integrated_gradients(_m, _x, 2, baseline=_base, steps=_steps, batch_size=3)
    assert _got.shape == (3, 11, 13) and torch.allclose(_got, _ref, atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# **SmoothGrad and Integrated Gradients on the four photos.** Integrated Gradients is signed
# (red: pushes the class up, blue: down); we show its magnitude, summed over the colours,
# next to plain saliency and SmoothGrad. Two baselines for IG: black, and the photo blurred
# (the blurred photo keeps the colours, so IG credits only what the blur removed: edges and
# texture).

# %%
# NBVAL_IGNORE_OUTPUT
SG_N, IG_STEPS = pick(25, 4), pick(32, 4)
rows = {}
for k, x in tqdm(inputs.items(), desc="SmoothGrad and IG", leave=False):
    t = targets[k]
    sg = Tr.smoothgrad(model, x, t, n=SG_N, generator=torch.Generator().manual_seed(0))
    ig_black = Tr.integrated_gradients(model, x, t, steps=IG_STEPS)
    ig_blur = Tr.integrated_gradients(model, x, t, baseline=Tr.blurred(x), steps=IG_STEPS)
    rows[f"{k}\n{model.classes[t]}"] = {
        "image": model.to_image(x), "saliency": saliency_image(sal[k]),
        f"SmoothGrad (n={SG_N})": saliency_image(sg),
        "IG, black baseline": saliency_image(ig_black.abs().sum(0)),
        "IG, blurred baseline": saliency_image(ig_blur.abs().sum(0)),
    }
    for name, ig, base in [("black", ig_black, None), ("blurred", ig_blur, Tr.blurred(x))]:
        c = Tr.completeness(model, x, t, ig, baseline=base)
        print(f"{k:11s} IG ({name:7s} baseline, {IG_STEPS} steps): sum {c['sum']:7.2f}, "
              f"f(x) - f(baseline) {c['difference']:7.2f}, gap {c['relative_gap']:.0%}")
compare(rows, size=2.0)

# %% [markdown]
# **How many steps?** Completeness holds for the integral; what you computed is a sum, one
# *quadrature rule* for it. The right Riemann sum (the exercise: the paper's formula) takes the
# gradient at `alpha = 1/m, 2/m, ..., 1`; the trapezoid rule also at `alpha = 0`, with half
# weights at the ends; Gauss-Legendre (Captum's default) at `m` points crowded towards both
# ends, weighted so that polynomials integrate exactly. The table gives each rule's
# completeness gap on the cat (black baseline), Captum computing the other two rules. The figure
# shows why the numbers behave as they do: the class score along the path itself (forward
# passes only, `Tr.path_scores`), with the 32 points of two rules marked.

# %%
# NBVAL_IGNORE_OUTPUT
from captum.attr import IntegratedGradients
x, t = inputs["cat"], targets["cat"]
black = torch.zeros_like(x)
RULE_STEPS = pick([16, 32, 64, 128], [4, 8])
rules = {"right Riemann (yours)": lambda m: Tr.integrated_gradients(model, x, t, steps=m),
         "trapezoid (Captum)": lambda m: IntegratedGradients(model).attribute(
             x, black, target=t, n_steps=m, method="riemann_trapezoid", internal_batch_size=16)[0],
         "Gauss-Legendre (Captum)": lambda m: IntegratedGradients(model).attribute(
             x, black, target=t, n_steps=m, method="gausslegendre", internal_batch_size=16)[0]}
gaps = {rule: [Tr.completeness(model, x, t, attribute(m))["relative_gap"] for m in RULE_STEPS]
        for rule, attribute in tqdm(rules.items(), desc="three rules", leave=False)}
print(f"completeness gap on the cat, black baseline    " + "".join(f"{m:>8d}" for m in RULE_STEPS) + "  steps")
for rule, g in gaps.items():
    print(f"  {rule:45s}" + "".join(f"{v:8.1%}" for v in g))
alphas, scores = Tr.path_scores(model, x, t, points=pick(257, 65))
lo, hi = Tr.rise_interval(alphas, scores)
print(f"the score rises from {scores[0]:.1f} (black) to {scores[-1]:.1f} (the photo); 80% of that rise happens "
      f"between alpha = {lo:.3f} and {hi:.3f}: {hi - lo:.1%} of the path")
gauss = (np.polynomial.legendre.leggauss(32)[0] + 1) / 2
plot_path(alphas, scores, {"right Riemann": np.arange(1, 33) / 32, "Gauss-Legendre": gauss},
          title="the cat's class score from a black image (alpha 0) to the photo (alpha 1)")

# %% [markdown]
# The score does not climb steadily along the path: almost all of its rise happens in a sliver
# of the path near the black end (the printed interval), and inside that sliver it jumps back
# and forth as ReLU6 units switch. A rule only sees the slope at its points; with points
# farther apart than the sliver is wide, one or two points land in it, and how steep the curve
# happens to be there decides the sum. That is why no rule's gap falls steadily to a few
# percent as the steps double: it jumps up and down (Gauss-Legendre, whose points crowd near
# the ends, is lucky at some counts and not at others), or it stalls. The rule changes *which*
# points land in the rise, not how fast the sum converges. What helps: steps much finer than
# the rise (hundreds here), or a baseline closer to the photo, whose path is short: compare the
# blurred baseline's gaps above in a full run (where `f(x) - f(baseline)` is itself near 0, a
# relative gap means little).

# %%
claim(hi - lo < 0.1, "the score makes 80% of its rise within a tenth of the path")

# %%
# NBVAL_IGNORE_OUTPUT
claim(all(any(later > earlier for earlier, later in zip(g, g[1:])) or g[-1] > 0.05 for g in gaps.values()),
      "no rule's gap shrinks steadily to a few percent as the steps double", fast_too=False)

# %% [markdown]
# ## 7. The sanity check: randomize the network
#
# Adebayo et al.'s **cascading randomization**: re-initialize the classifier's weights, then
# also the layer below, and so on down to the first convolution, and compute every map again
# on each of these ever more random networks. After the first step the classifier is random,
# so the predictions mean nothing; a map that still looks like the original explains the
# image, not the network.
#
# `Tr.cascade_layers(model)` lists the layers with weights, from the top. **Exercise 10:
# `randomized_weights(model, down_to, seed)`**: the weights of a *copy* of the model whose
# layers from the top down to `down_to` are re-initialized (their modules' own
# `reset_parameters()`, seeded once; BatchNorm back to "normalize nothing"). The original model
# must never change. `Tr.randomize_from_top` builds the model copy from your weights.

# %%
check("randomized_weights")

# %% nbgrader={"grade": true, "grade_id": "nb2_randomized_weights", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: randomized_weights
check("randomized_weights")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=26)
_before = {k: v.clone() for k, v in _m.state_dict().items()}
_w = Tr.randomized_weights(_m, "conv2", seed=3)
assert all(torch.equal(_before[k], v) for k, v in _m.state_dict().items())
assert set(_w) == set(_before)
assert all(not torch.equal(_w[k], _before[k]) for k in ["net.fc.weight", "net.fc.bias", "net.conv2.weight"])
assert all(torch.equal(_w[k], _before[k]) for k in ["net.conv1.weight", "net.conv1.bias"])
_w2 = Tr.randomized_weights(_m, "conv1", seed=3)
assert torch.equal(_w2["net.fc.weight"], _w["net.fc.weight"]) and not torch.equal(_w2["net.conv1.weight"], _before["net.conv1.weight"])
### END HIDDEN TESTS

# %% [markdown]
# **The cascade on the cat**, in the paper's layout: one row per method, one column per step
# of randomization from the top (each map scaled by its own 99th percentile), then the rank
# correlation (Spearman) of each step's map with the original map. Occlusion here uses 32 px
# windows every 16 px. (Fast mode: two steps only, the classifier and then the whole network,
# and fewer SmoothGrad copies and IG steps: a smoke test.)

# %%
# NBVAL_IGNORE_OUTPUT
methods = Tr.standard_methods(smoothgrad_n=pick(16, 2), ig_steps=pick(16, 2), occlusion_stride=pick(16, 32))
cascade = Tr.cascading_randomization(model, inputs["cat"], targets["cat"], methods,
                                     layers=Tr.cascade_steps(model, pick(5, 2)))
show_cascade(cascade, size=1.5)
plot_cascade_similarity(cascade)
for name, r in cascade.spearman.items():
    print(f"{name:22s} rank correlation with the original map: " + "  ".join(f"{v:5.2f}" for v in r[1:]))

# %%
# NBVAL_IGNORE_OUTPUT
rho = {name: r[1:] for name, r in cascade.spearman.items()}        # one value per randomization step
first, second = cascade.steps[1], cascade.steps[2]
print(f"guided backprop after {first}: {rho['guided backprop'][0]:.2f}, after {second} too: "
      f"{rho['guided backprop'][1]:.2f}; saliency, IG and Grad-CAM after {first}: "
      + ", ".join(f"{rho[m][0]:.2f}" for m in ("saliency", "Integrated Gradients", "Grad-CAM"))
      + f"; SmoothGrad after the top two steps: {rho['SmoothGrad'][0]:.2f}, {rho['SmoothGrad'][1]:.2f}; "
      f"IG over the cascade: {min(rho['Integrated Gradients']):.2f} to {max(rho['Integrated Gradients']):.2f}")
claim(min(rho["guided backprop"][:2]) > 0.9,
      "guided backprop's map hardly changes when the top two layers are re-initialized", fast_too=False)
claim(max(rho[m][0] for m in ("saliency", "Integrated Gradients", "Grad-CAM")) < 0.7,
      "saliency, Integrated Gradients and Grad-CAM change at the first step", fast_too=False)
claim(min(rho["Integrated Gradients"]) > 0.15,
      "Integrated Gradients (black baseline) stays correlated with its original map down to a random network",
      fast_too=False)
claim(bool(np.isnan(cascade.spearman["occlusion"][-1])),
      "occlusion becomes a constant map (an undefined correlation) on the most randomized network", fast_too=False)
claim(min(rho["SmoothGrad"][:2]) > max(rho["saliency"][:2]),
      "SmoothGrad stays closer to its original map than saliency through the top two steps", fast_too=False)

# %% [markdown]
# **What this figure shows on EfficientNet-Lite0** (one photo, one seed; the numbers are in the
# lines above):
#
# - **Guided backprop fails the test at the top.** After the first two steps (the classifier,
#   then the layers down to `blocks.6`) its map is unchanged although the network's prediction
#   is now meaningless. With every layer random down to the stem it draws the cat's outline more
#   sharply than ever: it shows the image's edges, as Adebayo et al. found on Inception and VGG.
# - **Saliency, Integrated Gradients and Grad-CAM change at the first step**: they do depend
#   on what the top of the network learned. **SmoothGrad** too: its blobs move at the first
#   step (its correlations are in the lines above).
# - **Integrated Gradients with a black baseline** keeps the eyes and the outline even on a
#   fully random network: it multiplies the gradient by `x - x'`, the image itself, so the
#   image's structure survives whatever the gradient is. The rank correlation captures this
#   only in part: look at the maps, not just at the number.
# - **Occlusion** becomes a constant map (no line: the correlation is undefined) once the
#   early blocks are random: the random network's probability no longer moves at all.
#
# What it does *not* show: one photo, one seed, one network. A rank correlation of a few
# tenths over 50 000 pixels is far from "independent". And a map that changes is not thereby
# faithful: passing this test is necessary, not sufficient. Faithfulness is the next
# section's question.

# %% [markdown]
# ## 8. Deletion and insertion
#
# A map ranks the pixels. **Deletion**: replace the top-ranked pixels by black, a fixed
# fraction more at each step, and record the class probability; a faithful map makes it fall
# fast (small area under the curve). **Insertion**: start from a blurred copy and reveal the
# original pixels in the map's order; the probability should rise fast (large area). Both run
# many images per forward pass, with no autograd.
#
# **Exercise 11: `ranked_masks`** (mask `k` holds the `k * H * W // steps` top pixels, ties to
# the lower row-major index), **exercise 12: `deletion_curve`**, **exercise 13:
# `insertion_curve`** (hint: insertion is deletion seen from the other side).

# %%
check("ranked_masks", "deletion_curve", "insertion_curve")

# %% nbgrader={"grade": true, "grade_id": "nb2_ranked_masks", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: ranked_masks
check("ranked_masks")
### BEGIN HIDDEN TESTS
_s = torch.tensor([[0.3, 0.9, 0.1], [0.9, 0.5, 0.2]])
_r = Tr.ranked_masks(_s, 1 / 3)
assert _r.shape == (4, 2, 3) and _r.dtype == torch.bool
assert _r[1].nonzero().tolist() == [[0, 1], [1, 0]]
assert _r[2].nonzero().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
assert not _r[0].any() and _r[3].all()
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_deletion_curve", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: deletion_curve
check("deletion_curve")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=27)
_x = torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(28))
_s = torch.rand(6, 5, generator=torch.Generator().manual_seed(29))
_got = Tr.deletion_curve(_m, _x, 1, _s, fraction=0.2, baseline=0.25, batch_size=4)
_order = torch.argsort(_s.flatten(), descending=True, stable=True)
_want = []
for _k in range(6):
    _img = _x.clone().view(1, 3, -1)
    _img[..., _order[:_k * 30 // 5]] = 0.25
    _want.append(float(_m(_img.view(1, 3, 6, 5)).softmax(-1)[0, 1]))
assert _got.shape == (6,) and torch.allclose(_got, torch.tensor(_want), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_insertion_curve", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: insertion_curve
check("insertion_curve")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=30)
_x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(31))
_s = torch.rand(8, 8, generator=torch.Generator().manual_seed(32))
_got = Tr.insertion_curve(_m, _x, 0, _s, fraction=0.25, blur_sigma=1.5, batch_size=2)
_start = Tr.blurred(_x, 1.5)
_want = Tr.deletion_curve(_m, _start, 0, _s, fraction=0.25, baseline=_x)
assert _got.shape == (5,) and torch.allclose(_got, _want, atol=1e-6)
with torch.no_grad():
    assert abs(float(_got[0]) - float(_m(_start).softmax(-1)[0, 0])) < 1e-6
    assert abs(float(_got[-1]) - float(_m(_x).softmax(-1)[0, 0])) < 1e-6
### END HIDDEN TESTS

# %% [markdown]
# **Every map on the cat**: the six methods and two maps that know nothing of the network (a
# random order, and the centre first), their deletion and insertion curves, each labelled
# with its area.

# %%
x, t = inputs["cat"], targets["cat"]
maps = {name: fn(model, x, t) for name, fn in methods.items()}
maps["random order"] = Tr.random_map(*x.shape[-2:])
maps["centre first"] = Tr.centre_map(*x.shape[-2:])
curves = Tr.curves_on_photo(model, x, t, maps, fraction=pick(0.05, 0.25))
show_curves(curves)

# %% [markdown]
# **The table: mean areas over many photos.** One photo proves little. Below: the ImageNet
# sample photos of 20 classes at 160 px (every 50th class; the class is the one the network
# predicts at that size), every method's deletion and insertion areas, ranked by insertion
# minus deletion. SmoothGrad uses 8 copies and IG 8 steps here, and occlusion windows of a
# quarter of the side every eighth, to fit the time budget. (Fast mode runs 4 photos at 64 px,
# 2 copies and 2 steps, with curves of 5 points: enough to see the code work, too few to rank
# anything.)

# %%
# NBVAL_IGNORE_OUTPUT
SIDE, EVERY = pick(160, 64), pick(50, 250)
table_photos = torch.from_numpy(imagenet_sample_crops(SIDE, every=EVERY)).permute(0, 3, 1, 2).float() / 255
table_methods = Tr.standard_methods(smoothgrad_n=pick(8, 2), ig_steps=pick(8, 2),
                                    occlusion_window=SIDE // 4, occlusion_stride=SIDE // 8)
table = Tr.faithfulness_table(model, table_photos, None, table_methods, fraction=pick(0.1, 0.25),
                              notes={"occlusion": f"(window {SIDE // 4} px, stride {SIDE // 8})"})
print(f"{len(table_photos)} photos at {SIDE} px" + fast_note("a smoke test, not a ranking"))
table

# %% [markdown]
# **What the table shows** (the sentences below are written from the table above):

# %%
# NBVAL_IGNORE_OUTPUT
ins = {m: float(v.mean()) for m, v in table.insertion.items()}
dele = {m: float(v.mean()) for m, v in table.deletion.items()}
methods_only = [m for m in ins if m not in ("random order", "centre first")]
top = sorted(methods_only, key=lambda m: -ins[m])[:3]
print("Insertion ranks " + ", ".join(f"{m} ({ins[m]:.2f})" for m in top) + " first: the regions they point at "
      f"restore the class fastest; plain saliency reaches {ins['saliency']:.2f}, a random order "
      f"{ins['random order']:.2f}.")
beaten = [m for m in methods_only if dele[m] > dele["random order"]]
print(f"Deletion with black pixels: a random order ({dele['random order']:.3f}) does better than "
      f"{len(beaten)} of the {len(methods_only)} methods ({', '.join(beaten) or 'none'}).")
claim(ins["saliency"] - ins["random order"] < 0.1 < max(ins.values()) - ins["random order"],
      "in insertion, plain saliency is barely above a random order, while the best methods are well above it",
      fast_too=False)
claim(len(beaten) >= len(methods_only) - 1,
      "in deletion with black pixels a random order beats all methods but at most one", fast_too=False)

# %% [markdown]
# Black pixels scattered all over the photo destroy the class quickly whatever the map says:
# an artefact of the removal, not evidence (see Q6). Deletion alone cannot rank these methods;
# insertion and the two baselines are needed. With 20 photos, differences of a few hundredths
# should not be over-read; the ranking depends on the removal (black, grey, blur), the image
# size and the step fraction.

# %% [markdown]
# ## Questions on part two (graded by your instructor)
#
# **Q4.** A map looks sharp and object-shaped on the trained network, and it looks almost the
# same after the classifier and the top blocks were randomized. What does that tell you about
# the map, and what does it *not* tell you?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q4", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** The map does not depend on what the top of the network learned: once
# those weights are random the prediction is meaningless, yet the map is unchanged, so it
# cannot be explaining that prediction. What it shows comes from the image and from the
# architecture (in guided backprop, the ReLU masks of the lower layers act like an edge
# detector: Adebayo et al., and Nie et al. 2018, show it reconstructs the image). It does
# *not* tell you the map is useless for everything (it can still be a good edge or object
# detector), nor that a map that does change is faithful: passing the test is necessary, not
# sufficient.

# %% [markdown]
# **Q5.** SmoothGrad looks cleaner than the plain saliency map. Does a cleaner map explain
# the network better? Which of this notebook's measurements would you use to decide, and why
# can a noisy-looking map be the more faithful one?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q5", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Not necessarily: the averaging smooths what *we* find hard to read, and a
# cleaner image is a statement about our eyes, not about the network. Faithfulness is measured,
# not seen: deletion (does removing the top-ranked pixels destroy the class fast?) and
# insertion (does revealing them restore it fast?), averaged over many images and compared
# with baselines that know nothing (random order, centre first), and the randomization test
# (does the map depend on the weights?). A noisy map can be more faithful because the
# network's evidence really is scattered over many small, high-frequency details (textures,
# edges), and a map that reports that honestly looks noisy; smoothing can move credit onto
# object-shaped regions the network does not use.

# %% [markdown]
# **Q6.** Deletion replaces pixels by black, insertion starts from a blurred photo. What can
# go wrong with these "removals", and how would that bias the comparison between methods?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb2_q6", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** The modified images are out of the training distribution: black squares
# and sharp-edged holes are features the network reacts to by themselves, so the probability
# can fall because of the artefact rather than because evidence was removed. Methods whose
# maps are blobby (Grad-CAM, occlusion) remove compact regions and create few edges; maps
# that are scattered pixels (saliency) create many small holes, which hurts a network more
# per pixel: so the metric partly rewards the map's shape. The blurred start of insertion
# keeps colours and coarse shapes, so it favours methods that point at fine texture. Hence:
# compare against baselines (random, centre), use both curves, and more than one kind of
# removal (black, grey, blur, noise) before concluding.
