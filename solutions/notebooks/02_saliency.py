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
# **Time for a full run: about 1.5 minutes on a laptop CPU** (30 s in fast mode, `COURSE_FAST=1`).
#
# A network says "tabby cat". *Why?* Which parts of the image did it use? This notebook builds
# the classic answers, from the most direct to the most refined:
#
# 1. **occlusion**: hide a patch, see how much the class probability drops;
# 2. **saliency**: the gradient of the class score with respect to the pixels, and a
#    segmentation that needs no labels;
# 3. **guided backpropagation**: a cleaner gradient image, for a class or for one neuron;
# 4. **CAM, Grad-CAM and guided Grad-CAM**: where in the image the evidence for a class lies.
#
# You complete seven functions in `helpers/saliency.py`. As before: a local check after each
# exercise, then a graded cell.

# %%
import sys, pathlib   # find helpers/: beside this notebook (nbgrader) or one folder up (the course)
sys.path[:0] = [str(p) for p in (pathlib.Path.cwd(), pathlib.Path.cwd().parent) if (p / "helpers").is_dir()][:1]

import numpy as np
import torch
import matplotlib.pyplot as plt
from helpers import start_notebook, pick, skip_if_not_done
from helpers.models import load_model
from helpers.data import sample_image, imagenet_sample, imagenet_sample_crops
from helpers.display import show_images, overlay, show_heatmaps, compare, gradient_image, saliency_image, emphasis
from helpers.checks import check
from helpers import saliency as Sa
from helpers import features as Fe

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
# A 224 px image with a 16 px window and stride 8 has 27 x 27 = 729 positions: run them in
# **batches** of occluded copies (one forward pass per batch), with no autograd.
# `Sa.window_masks(H, W, window, stride)` gives every window as a boolean mask.
#
# **Exercise 1: `occlusion_map`.**

# %%
check("occlusion_map")

# %% nbgrader={"grade": true, "grade_id": "nb2_occlusion_map", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: occlusion_map
from helpers.checks import check_occlusion_map_exact
check_occlusion_map_exact()
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
              suptitle=f"drop in p({model.classes[targets['cat']]}) when a grey square hides each spot")

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
from helpers.checks import check_saliency_map_exact
check_saliency_map_exact()
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
from helpers.checks import check_grabcut_seeds_exact
check_grabcut_seeds_exact()
### BEGIN HIDDEN TESTS
_s = torch.rand(9, 11, generator=torch.Generator().manual_seed(5))
_seeds = Sa.grabcut_seeds(_s, 0.8, 0.1)
_q = [torch.quantile(_s.flatten(), q) for q in (0.8, 0.1, 0.5)]
assert (_seeds[(_s >= _q[0]).numpy()] == 1).all() and (_seeds[(_s <= _q[1]).numpy()] == 0).all()
_mid = ((_s < _q[0]) & (_s > _q[1])).numpy()
assert ((_seeds[_mid] == 3) == (_s.numpy()[_mid] > _q[2].item())).all()
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
check("guided_relu_backward")
check("guided_backprop")

# %% nbgrader={"grade": true, "grade_id": "nb2_guided_relu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: guided_relu_backward
from helpers.checks import check_guided_relu_backward_exact
check_guided_relu_backward_exact()
### BEGIN HIDDEN TESTS
_x = torch.randn(50, generator=torch.Generator().manual_seed(6)) * 5
_g = torch.randn(50, generator=torch.Generator().manual_seed(7))
assert torch.equal(Sa.guided_relu_backward(_x, _g, 6.0), torch.where((_x > 0) & (_x < 6) & (_g > 0), _g, 0.0))
assert torch.equal(Sa.guided_relu_backward(_x, _g), torch.where((_x > 0) & (_g > 0), _g, 0.0))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_guided_backprop", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: guided_backprop
from helpers.checks import check_guided_backprop_tiny
check_guided_backprop_tiny()
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
# patches notebook 1 showed: the image patch where the channel fires most (left of each pair)
# the guided gradient of that one unit, and the patch dimmed where that gradient is small. The
# gradient concentrates on the part of the patch the unit responds to (a stripe pattern, a
# mesh, an edge). Deep in a network of depthwise and strided convolutions the raw gradient is
# noisy; its smoothed magnitude is easier to read.

# %%
with skip_if_not_done("this figure"):   # it uses notebook 1's receptive_field and top_activations
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
check("class_activation_map")
check("grad_cam")

# %% nbgrader={"grade": true, "grade_id": "nb2_class_activation_map", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: class_activation_map
from helpers.checks import check_class_activation_map_exact
check_class_activation_map_exact()
### BEGIN HIDDEN TESTS
_f = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(10))
_w = torch.randn(7, 5, generator=torch.Generator().manual_seed(11))
assert torch.allclose(Sa.class_activation_map(_f, _w, 4), (_w[4][:, None, None] * _f).sum(0), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb2_grad_cam", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# graded: grad_cam
from helpers.checks import check_grad_cam_tiny
check_grad_cam_tiny()
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

def explore_occlusion(window=32, stride=16, target="tabby"):
    x = inputs["cat"]
    m = Sa.occlusion_map(model, x, target, window, max(stride, 4))
    show_heatmaps(model.to_image(x), {f"p({target}) drop, window {window}, stride {stride}": m})

_ = widgets.interact_manual(explore_occlusion, window=widgets.IntSlider(value=32, min=8, max=96, step=8),
                            stride=widgets.IntSlider(value=16, min=4, max=64, step=4),
                            target=widgets.Dropdown(options=["tabby", "tiger cat", "Egyptian cat", "lynx", "doormat"], value="tabby"))
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
