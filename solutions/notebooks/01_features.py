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
# # 1. Features and neighbours
#
# **Time for a full run: about 2 minutes on a laptop CPU** (about 30 s in fast mode, `COURSE_FAST=1`: a smoke test, see the README).
#
# What does a trained CNN compute? This notebook looks at it from the outside in:
#
# 1. the **first-layer filters**, which we can draw as images;
# 2. **features**: the vector a network computes for an image at some layer;
# 3. **nearest neighbours** in pixel space versus feature space;
# 4. **PCA**, from scratch, and 2-D maps of the feature space (PCA, t-SNE, UMAP);
# 5. **receptive fields** and the image patches that excite a channel the most.
#
# You complete seven functions in `helpers/features.py` (search for `YOUR CODE HERE`). After
# each one, a cell runs its **local check** (a few tiny cases that name the likely bug), and a
# **graded cell** tests it (with more, hidden, tests when your instructor grades). The library
# reloads automatically when you save it: no kernel restart needed.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt
from helpers import start_notebook, pick, fast_mode, claim
from helpers.models import load_model
from helpers.data import load_cifar10, imagenet_sample_files, imagenet_sample_crops
from helpers.display import (show_images, image_grid, show_filters, show_neighbors, show_embeddings, thumbnail_map,
                             show_patches)
from helpers.checks import check
from helpers import features as Fe

start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
model = load_model()       # EfficientNet-Lite0, ImageNet
cifar_model = load_model("cifar_net")
print(f"{model.name}: {len(model.classes)} classes; {cifar_model.name}: {cifar_model.classes}")

# %% [markdown]
# ## 1. First-layer filters
#
# The first layer of a CNN slides small filters of shape `(3, k, k)` over the RGB image. Each
# one is a tiny image itself: draw it, and you see what that filter responds to. Their values
# are arbitrary real numbers, so to draw them we scale **each filter on its own** to [0, 1].
#
# **Exercise 1: `normalize_filters`.** Open `helpers/features.py` and complete it.

# %%
check("normalize_filters")

# %% nbgrader={"grade": true, "grade_id": "nb1_normalize_filters", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: normalize_filters
check("normalize_filters")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(11)
_w = torch.randn(6, 3, 4, 5, generator=_g) * 3 + 1
_out = Fe.normalize_filters(_w)
_f = _w.flatten(1)
_ref = ((_w - _f.min(1).values[:, None, None, None]) / (_f.max(1).values - _f.min(1).values)[:, None, None, None]).permute(0, 2, 3, 1)
assert _out.shape == (6, 4, 5, 3) and torch.allclose(_out, _ref, atol=1e-6)
assert torch.allclose(_out.flatten(1).min(1).values, torch.zeros(6)) and torch.allclose(_out.flatten(1).max(1).values, torch.ones(6))
_w[2] = -0.5                                        # a constant filter becomes zeros, with no NaN
assert torch.equal(Fe.normalize_filters(_w)[2], torch.zeros(4, 5, 3))
### END HIDDEN TESTS

# %% [markdown]
# EfficientNet-Lite0's stem has 32 filters of only 3x3 pixels (and stride 2): too small to
# show much beyond colour and direction. The course's own CIFAR-10 network (`cifar_net`,
# trained by `tools/train_cifar.py`, AlexNet-like) starts with 64 filters of 5x5: there you
# can see oriented edges, colour blobs and colour-opponent pairs, as in AlexNet's famous
# figure.

# %%
show_filters(Fe.normalize_filters(Fe.first_conv_weights(model)), "EfficientNet-Lite0 stem", ncols=16)
show_filters(Fe.normalize_filters(Fe.first_conv_weights(cifar_model)), "cifar_net conv1", ncols=16)

# %% [markdown]
# **Why not draw deeper filters the same way?** A second-layer filter of `cifar_net` has 64
# input channels, not 3: it is a recipe that combines the *responses* of the 64 first-layer
# filters, not an image. Drawn channel by channel it looks like noise (below: 8 filters x their
# first 8 input channels; grey is 0, lighter positive, darker negative). To see what deeper units respond to we must look at the
# images that excite them (part 5) or compute an image that does (notebooks 2-4).

# %%
w2 = cifar_model.net.conv2[0].weight.detach()          # (96, 64, 5, 5)
w2 = w2[:8, :8].reshape(64, 5, 5)
tiles = 0.5 + w2 / (2 * w2.abs().max())                 # one scale for all: grey is 0, white +, black -
plt.figure(figsize=(4.2, 4.4))
plt.imshow(image_grid([t.numpy() for t in tiles], ncols=8), interpolation="nearest")
plt.title("cifar_net conv2: 8 filters x 8 input channels")
plt.axis("off")
plt.show()

# %% [markdown]
# ## 2. Features
#
# The **feature vector** of an image at a layer is that layer's output, flattened. The
# penultimate layer (just before the classifier) is the usual choice: for EfficientNet-Lite0
# it is the global average pool, 1280 numbers per image.
#
# **Exercise 2: `extract_features`.** Run the model on batches of images with no autograd
# (`torch.no_grad()`), read the layer with `model.activations(x, layer)`, flatten, and
# concatenate. A progress bar shows how far it is.

# %%
check("extract_features")

# %% nbgrader={"grade": true, "grade_id": "nb1_extract_features", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: extract_features
check("extract_features")
### BEGIN HIDDEN TESTS
from helpers.models import tiny_cnn
_m = tiny_cnn(seed=3)
_imgs = np.random.default_rng(5).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
_f = Fe.extract_features(_m, _imgs, layer="act1", batch_size=2, progress=False)
with torch.no_grad():
    _ref = _m.net.act1(_m.net.conv1(_m.to_input(list(_imgs)))).flatten(1)
assert _f.shape == (5, 4 * 16 * 16) and torch.allclose(_f, _ref, atol=1e-5)
assert Fe.extract_features(_m, list(_imgs[:1]), progress=False).shape == (1, 8)
_big = np.random.default_rng(6).integers(0, 256, (3, 12, 20, 3), dtype=np.uint8)
assert Fe.extract_features(_m, _big, layer="conv1", size=None, batch_size=2, progress=False).shape == (3, 4 * 12 * 20)
### END HIDDEN TESTS

# %% [markdown]
# We take CIFAR-10 test images (200 per class, 30 in fast mode) and describe each one three ways: its raw
# pixels (3072 numbers), the features of `cifar_net` (trained on CIFAR-10; its penultimate
# layer has 256 numbers) and those of EfficientNet-Lite0 (trained on ImageNet, never saw
# CIFAR-10; the 32 px images are upsampled to 96 px).

# %%
# NBVAL_IGNORE_OUTPUT
# (sizes differ in fast mode)
N_PER_CLASS = pick(200, 30)
cifar_x, cifar_y, classes = load_cifar10("test", per_class=N_PER_CLASS)
feats = {
    "pixels": torch.from_numpy(cifar_x.reshape(len(cifar_x), -1) / 255.0).float(),
    "cifar_net": Fe.extract_features(cifar_model, cifar_x, batch_size=250),
    "EfficientNet-Lite0": Fe.extract_features(model, cifar_x, batch_size=50, size=(96, 96)),
}
for name, f in feats.items():
    print(f"{name:20s} {tuple(f.shape)}")

# %% [markdown]
# ## 3. Nearest neighbours: pixel space versus feature space
#
# To find an image's nearest neighbours we need the distance from every query to every
# database item. Computing them one pair at a time in Python is slow; one matrix product
# does it all at once. For the Euclidean (L2) distance expand the square:
# $\|q - x\|^2 = \|q\|^2 + \|x\|^2 - 2\,q \cdot x$. The cosine distance is
# $1 - \frac{q \cdot x}{\|q\|\,\|x\|}$.
#
# **Exercise 3: `pairwise_distances`**, then **exercise 4: `nearest_neighbors`** (the `k`
# smallest distances of each row, nearest first).

# %%
check("pairwise_distances", "nearest_neighbors")

# %% nbgrader={"grade": true, "grade_id": "nb1_pairwise_distances", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: pairwise_distances
check("pairwise_distances")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(2)
_q, _x = torch.randn(4, 6, generator=_g), torch.randn(9, 6, generator=_g)
assert torch.allclose(Fe.pairwise_distances(_q, _x, "l2"), torch.cdist(_q, _x), atol=1e-4)
assert torch.allclose(Fe.pairwise_distances(_q, _x, "cosine"), 1 - torch.nn.functional.cosine_similarity(_q[:, None], _x[None], dim=-1), atol=1e-5)
_dup = torch.rand(40, 7, generator=_g) * 3 + 1           # identical rows: no NaN from a negative rounding error
_dd = Fe.pairwise_distances(_dup, _dup.clone(), "l2")
assert torch.isfinite(_dd).all() and torch.diagonal(_dd).abs().max() < 1e-2 and torch.allclose(_dd, torch.cdist(_dup, _dup), atol=1e-2)
_zq = torch.cat([torch.zeros(1, 6), _q])             # an all-zero row: distance 1 to everything, no NaN
assert torch.allclose(Fe.pairwise_distances(_zq, _x, "cosine")[0], torch.ones(9), atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb1_nearest_neighbors", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: nearest_neighbors
check("nearest_neighbors")
### BEGIN HIDDEN TESTS
from sklearn.neighbors import NearestNeighbors
_rng = np.random.default_rng(4)
_db, _qq = _rng.normal(size=(50, 5)), _rng.normal(size=(7, 5))
_d, _i = Fe.nearest_neighbors(torch.tensor(_qq), torch.tensor(_db), k=4, metric="cosine")
_d2, _i2 = NearestNeighbors(n_neighbors=4, metric="cosine").fit(_db).kneighbors(_qq)
assert np.array_equal(_i.numpy(), _i2) and np.allclose(_d.numpy(), _d2, atol=1e-6)
_line = torch.tensor([[3.0], [1.0], [5.0], [1.0], [5.0], [2.0]])       # ties at distance 1 and 2 from 3
assert Fe.nearest_neighbors(torch.tensor([[3.0]]), _line, k=5)[1].tolist() == [[0, 5, 1, 2, 3]]
### END HIDDEN TESTS

# %% [markdown]
# Five CIFAR-10 test images and their 8 nearest neighbours among the others, in pixel space
# and in each feature space (L2). Pixel neighbours share colours and layout (a blue
# background, a dark blob); feature neighbours more often share the *object*, above all in
# `cifar_net`'s space (trained on these images); ImageNet's network, which never saw CIFAR-10,
# still mixes some up. The precision below counts it.

# %%
K = 8
queries = np.arange(0, len(cifar_x), len(cifar_x) // 5)[:5] + 3   # every other class: airplane, bird, deer, frog, ship
neighbours = {name: Fe.nearest_neighbors(f[queries], f, k=K + 1)[1][:, 1:]   # drop the query itself
              for name, f in feats.items()}
show_neighbors(cifar_x[queries], cifar_x, neighbours, query_titles=[classes[c] for c in cifar_y[queries]],
                  suptitle="CIFAR-10: query (left) and its 8 nearest neighbours")

# %% [markdown]
# How much better? **Precision@k**: the fraction of each image's k nearest neighbours that
# have its class, averaged over all images (chance is 10%). We also check our neighbours
# against scikit-learn's `NearestNeighbors`.

# %%
from sklearn.neighbors import NearestNeighbors
K = 10
precision = {}
for name, f in feats.items():
    for metric in ["l2", "cosine"]:
        _, idx = Fe.nearest_neighbors(f, f, k=K, metric=metric, exclude_self=True)
        precision[name, metric] = Fe.precision_at_k(cifar_y[idx.numpy()], cifar_y)
    ref = NearestNeighbors(n_neighbors=K + 1).fit(f.numpy()).kneighbors(f.numpy(), return_distance=False)
    ours = Fe.nearest_neighbors(f, f, k=K + 1)[1].numpy()
    agree = (np.sort(ref, 1) == np.sort(ours, 1)).all(1).mean()
    print(f"{name:20s} neighbour sets equal to scikit-learn's for {agree:.0%} of the images")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"precision@{K} on {len(cifar_x)} CIFAR-10 test images (chance: 0.10)")
print(f"{'features':20s} {'L2':>6s} {'cosine':>7s}")
for name in feats:
    print(f"{name:20s} {precision[name, 'l2']:6.3f} {precision[name, 'cosine']:7.3f}")
fig, ax = plt.subplots(figsize=(6, 2.6))
names = list(feats)
for j, metric in enumerate(["l2", "cosine"]):
    ax.barh(np.arange(len(names)) + 0.2 * (2 * j - 1), [precision[n, metric] for n in names], height=0.38, label=metric)
ax.set_yticks(range(len(names)), names)
ax.axvline(0.1, color="grey", ls="--", lw=1)
ax.text(0.105, -0.6, "chance", color="grey", fontsize=8)
ax.set_xlim(0, 1); ax.set_xlabel(f"precision@{K}"); ax.legend(loc="lower right")
ax.set_title("Nearest neighbours share the class far more often in feature space")
plt.tight_layout(); plt.show()

# %% [markdown]
# The same on real photos: one ImageNet sample per class, 1000 photos (120 in fast mode, and
# other queries: the four below are not among them). Each query's neighbours are other
# classes, of course; in feature space they are often *related* classes.

# %%
N_IMAGENET = pick(1000, 120)
files = imagenet_sample_files()[:: 1000 // N_IMAGENET][:N_IMAGENET]
photos = imagenet_sample_crops(224, every=1000 // N_IMAGENET)[:N_IMAGENET]   # 224 x 224 centre crops
small = torch.from_numpy(np.stack([model.to_image(model.to_input(p, size=(32, 32))) for p in photos]).reshape(len(photos), -1) / 255.0).float()
photo_feats = Fe.extract_features(model, photos, batch_size=25)
names = [f.stem.split("_", 1)[1].replace("_", " ") for f in files]
q = [names.index(n) for n in ["tabby", "goldfish", "sports car", "pizza"] if n in names] or [0, 1, 2, 3]
res = {"pixels (32x32)": Fe.nearest_neighbors(small[q], small, k=7)[1][:, 1:],
       "Lite0 features": Fe.nearest_neighbors(photo_feats[q], photo_feats, k=7, metric="cosine")[1][:, 1:]}
show_neighbors(photos[q], photos, res, query_titles=[names[i] for i in q], size=1.25,
                  suptitle="ImageNet samples: query and its 6 nearest neighbours")

# %% [markdown]
# ## 4. PCA, and maps of the feature space
#
# Feature vectors have hundreds of dimensions. To look at them we map them to 2-D.
# **Principal component analysis** finds the orthogonal directions of largest variance:
# centre the data, take its singular value decomposition $X_c = U S V^\top$; the rows of
# $V^\top$ are the components, $S^2 / \sum S^2$ the explained variance ratios, and
# $X_c V$ the projection.
#
# **Exercise 5: `pca`.**

# %%
check("pca")

# %% nbgrader={"grade": true, "grade_id": "nb1_pca", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: pca
check("pca")
### BEGIN HIDDEN TESTS
from sklearn.decomposition import PCA
_x = np.random.default_rng(8).normal(size=(40, 6)) * np.arange(1, 7) + np.array([5.0, -3.0, 8.0, 1.0, -7.0, 4.0])
_r = Fe.pca(torch.tensor(_x), 3)
assert np.allclose(_r.mean.numpy(), _x.mean(0), atol=1e-4)
_ref = PCA(3).fit(_x)
_s = np.sign((_r.components.numpy() * _ref.components_).sum(1))
assert np.allclose(_r.components.numpy() * _s[:, None], _ref.components_, atol=1e-4)
assert np.allclose(_r.explained_variance_ratio.numpy(), _ref.explained_variance_ratio_, atol=1e-5)
assert np.allclose(_r.projection.numpy() * _s, _ref.transform(_x), atol=1e-3)
### END HIDDEN TESTS

# %%
# NBVAL_IGNORE_OUTPUT
# (the variances depend on the number of images)
from sklearn.decomposition import PCA
f = feats["cifar_net"]
ours = Fe.pca(f, 10)
ref = PCA(10).fit(f.numpy())
signs = np.sign((ours.components.numpy() * ref.components_).sum(1))
print("components equal to scikit-learn's up to sign:", np.allclose(ours.components.numpy() * signs[:, None], ref.components_, atol=1e-3))
print("explained variance ratio of the first 10 components:", np.round(ours.explained_variance_ratio.numpy(), 2))

# %% [markdown]
# PCA is linear: it keeps the directions of largest variance, which need not separate the
# classes. **t-SNE** (scikit-learn) and **UMAP** (umap-learn) are non-linear: they place
# points so that each point's *nearest neighbours* stay near. Below, the `cifar_net`
# features of the CIFAR-10 test images, three ways, coloured by the true class (which none
# of the three methods saw).

# %%
from tqdm.auto import tqdm
methods = {"PCA (ours)": lambda f: Fe.pca(f, 2).projection.numpy(),
           "t-SNE": lambda f: Fe.embed_2d(f, "tsne"),      # about 15 s for 2000 points
           "UMAP": lambda f: Fe.embed_2d(f, "umap")}       # about 15 s (numba compiles on first use)
maps = {name: fn(f) for name, fn in tqdm(methods.items(), desc="2-D maps", leave=False)}
show_embeddings(maps, cifar_y, classes)

# %% [markdown]
# The lecture's picture: the images themselves drawn at their t-SNE positions. Look for the
# regions: ships and planes on blue, cars and trucks, animals by colour and pose.

# %%
canvas = thumbnail_map(maps["t-SNE"], cifar_x, canvas=1280, thumb=32)
plt.figure(figsize=(9, 9)); plt.imshow(canvas); plt.axis("off")
plt.title(f"t-SNE of cifar_net features, {len(cifar_x)} CIFAR-10 test images"); plt.show()

# %% [markdown]
# ## 5. Receptive fields and maximally activating patches
#
# A unit of a convolutional layer sees only part of the input: its **receptive field**.
# Going through the layers from the input, each sliding window of kernel $k$, stride $s$,
# padding $p$ (and dilation $d$) changes the field of a unit as follows, where $j$ is the
# product of all strides before the layer:
#
# - size: $r \leftarrow r + (k_{\text{eff}} - 1)\, j$ with $k_{\text{eff}} = (k - 1) d + 1$,
# - offset of unit 0 (its first input pixel): $o \leftarrow o - p\, j$,
# - stride: $j \leftarrow j\, s$.
#
# **Exercise 6: `receptive_field`**: compute `(size, stride, offset)` from the list of
# `(kernel, stride, padding, dilation)`. `Fe.conv_geometry(model, layer)` reads that list
# from the network itself.

# %%
check("receptive_field")

# %% nbgrader={"grade": true, "grade_id": "nb1_receptive_field", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: receptive_field
check("receptive_field")
### BEGIN HIDDEN TESTS
# AlexNet's conv1..conv5 with its pools: a 163 px field at conv5 (stride 16), 195 px after the last pool (stride 32)
_alex = [(11, 4, 2, 1), (3, 2, 0, 1), (5, 1, 2, 1), (3, 2, 0, 1), (3, 1, 1, 1), (3, 1, 1, 1), (3, 1, 1, 1)]
assert tuple(Fe.receptive_field(_alex)) == (163, 16, -66)
assert tuple(Fe.receptive_field(_alex + [(3, 2, 0, 1)])) == (195, 32, -66)
assert tuple(Fe.receptive_field([(3, 2, 1, 1), (3, 1, 2, 2)])) == (11, 2, -5)
### END HIDDEN TESTS

# %%
for layer in ["conv_stem", "blocks.1", "blocks.2", "blocks.3", "blocks.5"]:
    print(f"{layer:10s} {Fe.layer_receptive_field(model, layer)}")

# %% [markdown]
# To see what a channel responds to, run many images, keep for each image the position where
# the channel fires most, and crop the receptive field of the best ones.
#
# **Exercise 7: `top_activations`**: from activations `(N, C, H, W)`, the `k` images with the
# largest maximum of one channel, with where that maximum is.

# %%
check("top_activations")

# %% nbgrader={"grade": true, "grade_id": "nb1_top_activations", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: top_activations
check("top_activations")
### BEGIN HIDDEN TESTS
_a = torch.randn(12, 3, 5, 4, generator=torch.Generator().manual_seed(9))
_v, _i, _r, _c = Fe.top_activations(_a, 2, k=5)
_best = _a[:, 2].flatten(1).max(1)
_order = torch.argsort(_best.values, descending=True)[:5]
assert _i.tolist() == _order.tolist() and torch.allclose(_v, _best.values[_order])
assert (_a[_i, 2, _r, _c] == _v).all() and _r.tolist() == (_best.indices[_order] // 4).tolist()
_t = torch.zeros(4, 1, 2, 3)
_t[0, 0, 1, 2], _t[1, 0, 0, 0], _t[1, 0, 1, 1], _t[2, 0, 0, 1], _t[3, 0, 1, 0] = 4.0, 6.0, 5.0, 4.0, 1.0
assert Fe.top_activations(_t, 0, k=3)[1].tolist() == [1, 0, 2]   # one entry per image; ties: lower index first
_t[2, 0, 1, 2] = 4.0                                   # image 2: equal maxima at (0, 1) and (1, 2): the first
_, _, _r2, _c2 = Fe.top_activations(_t, 0, k=3)
assert [int(v) for v in _r2] == [0, 1, 0] and [int(v) for v in _c2] == [0, 2, 1]
### END HIDDEN TESTS

# %% [markdown]
# Top-9 patches of EfficientNet-Lite0 channels on the ImageNet samples: an early layer
# (`blocks.1`, 19 px fields: colours, edges, simple textures) and a late one (`blocks.3`,
# 147 px fields: larger textures and parts of objects). Grey marks field outside the image.

# %%
early, rf_early = Fe.max_activating_patches(model, photos, "blocks.1", [0, 3, 5, 7, 9, 13, 17, 21], k=9, batch_size=25)
show_patches(early, "blocks.1", rf_early)
late, rf_late = Fe.max_activating_patches(model, photos, "blocks.3", [1, 5, 9, 14, 21, 33, 47, 60], k=9, batch_size=25)
show_patches(late, "blocks.3", rf_late, size=1.8)
claim((rf_early.size, rf_late.size) == (19, 147), "a unit of blocks.1 sees 19 px, one of blocks.3 sees 147 px")

# %%
# cifar_net on CIFAR-10: conv2 (small fields) and conv4 (most of the 32 px image)
for layer, chans in [("conv2", [0, 10, 20, 30]), ("conv4", [0, 10, 20, 30])]:
    res, rf = Fe.max_activating_patches(cifar_model, cifar_x, layer, chans, k=9, batch_size=500)
    show_patches(res, layer, rf, size=1.2)

# %% [markdown]
# **Explore**: pick a layer and a channel, press *Run Interact*, and see its top patches (the
# controls work in JupyterLab; the figure under them is the default choice, drawn once when the
# cell runs, also where widgets do not render).

# %%
# NBVAL_IGNORE_OUTPUT
import ipywidgets as widgets

explore_photos = photos[:300]   # up to 300 photos: a few seconds per choice

def explore(layer="blocks.2", channel=4):
    res, rf = Fe.max_activating_patches(model, explore_photos, layer, [channel], k=9, batch_size=25, progress=False)
    show_patches(res, layer, rf, size=2.0)

# interact_manual: the patches are recomputed when you press the button, not at every move of the slider
_ = widgets.interact_manual(explore, layer=widgets.Dropdown(options=["blocks.0", "blocks.1", "blocks.2", "blocks.3",
                                                                    "blocks.4"], value="blocks.2"),
                            channel=widgets.IntSlider(value=4, min=0, max=15))
explore()   # the default choice, as a plain figure

# %% [markdown]
# ## Questions (graded by your instructor)
#
# **Q1.** On CIFAR-10, why are the nearest neighbours in feature space so much more often of
# the query's class than those in pixel space? Give one pair of images that is close in pixel
# space but not in feature space, and say why.

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb1_q1", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Pixel distance compares colours at the same positions: it is dominated by the background,
# overall brightness and where the object sits, and a small shift or a change of colour moves
# an image far away. The penultimate features were trained to make the classes linearly
# separable, so they are largely invariant to position, colour and background and respond to
# object parts. Example: a bird on blue sky and an airplane on blue sky are close in pixels
# (mostly blue) but far apart in feature space; a white car and a red car are far in pixels,
# close in features.

# %% [markdown]
# **Q2.** In the t-SNE map, two class clusters lie far apart. What can you conclude about the
# distance between those classes in feature space, and what can you not?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb1_q2", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** t-SNE preserves neighbourhoods (which points are near which), not distances: within a
# cluster, near means similar. The distances *between* clusters, cluster sizes and densities
# are not meaningful (they depend on perplexity and the optimization), so a large gap does not
# mean the classes are more different than two clusters with a small gap. One can conclude
# that the clusters' members are rarely each other's nearest neighbours.

# %% [markdown]
# **Q3.** Why do the top patches of `blocks.3` need larger crops than those of `blocks.1`,
# and why are deeper filters not drawn as images like the first layer?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb1_q3", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Each layer adds (k - 1) times the accumulated stride to the receptive field, so after more
# strided layers a unit sees a larger input region (19 px at blocks.1, 147 px at blocks.3);
# the patch must cover what the unit sees. Deeper filters act on the many channels of the
# previous layer, not on RGB pixels, so their weights are not an image; what they respond to
# only shows through the input (patches, gradients, optimized images).
