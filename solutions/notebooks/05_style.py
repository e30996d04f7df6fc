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
# # 5. Texture and style
#
# **Time for a full run: about 2.5 minutes on a laptop CPU** (about 15 s in fast mode, `COURSE_FAST=1`: a smoke test, see the README).
#
# What is *style*? This notebook builds the answers of the lecture, from the oldest to the
# fastest:
#
# 1. **Efros & Leung**: a texture grown pixel by pixel by copying from a sample (no network);
# 2. **Gram matrices**: the channel correlations of a CNN layer, a summary of texture that
#    forgets *where* things are;
# 3. **neural texture synthesis**: from noise, match the Gram matrices of a texture;
# 4. **Gatys style transfer**: the content of one image with the Gram matrices of a painting,
#    the effect of the style image's scale, and **blending** several styles;
# 5. **fast style transfer**: a feed-forward network trained to do it in one pass, with
#    **instance norm**; and one network for many styles with **conditional instance norm**.
#
# You complete seven functions in `helpers/style.py`. As before: a local check after each
# exercise, then a graded cell. Everything runs on `helpers.optim.optimize`, the image
# optimization loop of notebooks 3 and 4.

# %%
import time
import numpy as np
import torch
from helpers import start_notebook, pick, seed_everything, timed, claim, fast_note
from helpers.models import load_model
from helpers.data import sample_image, style_image, content_image, imagenet_sample_crops
from helpers.display import show_images, compare
from helpers.checks import check
from helpers import style as St
from helpers import stylenet as Sn

start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
model = load_model()       # EfficientNet-Lite0: its features define "style" here
paintings = style_image()  # {name: uint8 image}, the four public-domain paintings
photo = content_image()    # Tuebingen
print(list(paintings), photo.shape)

# %% [markdown]
# ## 1. Efros & Leung: texture by copying
#
# Efros & Leung (1999) grow a texture one pixel at a time. For the next pixel to fill, take
# its `w x w` neighbourhood in the output (only some of those pixels exist yet), find the
# patches of the **sample** that look most like it (sum of squared differences over the known
# pixels, weighted by a Gaussian so that near pixels count more), and copy the centre pixel of
# one of the good matches, chosen at random among those within `(1 + eps)` of the best.
#
# The comparison with *every* patch of the sample must be one vectorized operation: the sample's
# patches are the rows of a matrix `(P, K)` (`St.sample_patches`, made with `F.unfold`), so the
# distances to all `P` candidates are a few matrix-vector products, not a Python loop.
#
# **Exercise 1: `neighbourhood_ssd`**, **exercise 2: `pick_match`**. `St.efros_leung` then
# grows the texture with them (its loop over pixels is given).

# %%
check("neighbourhood_ssd", "pick_match", "efros_leung")

# %% nbgrader={"grade": true, "grade_id": "nb5_neighbourhood_ssd", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: neighbourhood_ssd
check("neighbourhood_ssd")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(11)
_P, _n, _w = torch.rand(400, 75, generator=_g), torch.rand(75, generator=_g), torch.rand(75, generator=_g) + 0.1
_m = (torch.rand(75, generator=_g) > 0.7).float()
_want = ((_P - _n) ** 2 * _w * _m).sum(1) / (_w * _m).sum()
assert torch.allclose(St.neighbourhood_ssd(_P, _n, _m, _w), _want, atol=1e-5)
_exact = St.neighbourhood_ssd(torch.stack([_n, _n * 0.5]), _n, torch.ones(75), _w)      # an exact match: 0, never below
assert (_exact >= 0).all() and float(_exact[0]) < 1e-6
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb5_pick_match", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: pick_match
check("pick_match")
### BEGIN HIDDEN TESTS
_d = torch.tensor([2.0, 4.0, 2.2, 2.39, 2.41, 9.0])
_picks = [St.pick_match(_d, 0.2, torch.Generator().manual_seed(s)) for s in range(300)]
assert set(_picks) == {0, 2, 3}
assert min(_picks.count(i) for i in (0, 2, 3)) > 60
_d = torch.tensor([7.0, 4.0, 6.0, 4.5, 8.0])        # 6.0 is exactly (1 + 0.5) * 4: it qualifies
assert {St.pick_match(_d, 0.5, torch.Generator().manual_seed(s)) for s in range(60)} == {1, 2, 3}
assert len({St.pick_match(_d, 0.5, torch.Generator().manual_seed(3)) for _ in range(10)}) == 1
### END HIDDEN TESTS

# %%
# NBVAL_IGNORE_OUTPUT
SIDE, OUT = pick(64, 32), pick(128, 48)
samples, grown, seconds = {}, {}, {}
for name in ["brick", "grass", "gravel"]:
    samples[name] = sample_image(name)[100:100 + SIDE, 100:100 + SIDE]
    t = time.perf_counter()
    grown[name] = St.efros_leung(samples[name], OUT, window=11, eps=0.1, seed=0)
    seconds[name] = time.perf_counter() - t
    print(f"{name}: {SIDE} -> {OUT} px in {seconds[name]:.1f} s")

# %%
show_images([im for n in samples for im in (samples[n], grown[n])],
            [t for n in samples for t in (f"{n}: sample", "Efros-Leung")], ncols=6, size=2.2)
print("every output pixel is a pixel of its sample:",
      all(set(np.unique(grown[n])) <= set(np.unique(samples[n])) for n in samples))

# %% [markdown]
# The grown textures continue the structure of the sample: bricks keep their mortar lines,
# gravel its stones. Try `window=5` (structures fall apart: the neighbourhood is too small to
# see a brick) and `eps=0` (the same patch copied again and again: "garbage growing").
#
# ## 2. Gram matrices
#
# A CNN layer gives features `(C, H, W)`. Reshape them to `F` of shape `(C, HW)`: the Gram
# matrix `G = F F^T` holds, for every pair of channels, how much they fire *together*, summed
# over all positions. It forgets where things are, and keeps which features co-occur: a
# summary of texture. We divide by the number of positions `HW`, so `G` is an **average** over
# positions and does not grow with the image size (so style images of any size compare).
#
# The **content loss** at one layer is the mean squared difference of the features; the
# **style loss** is a weighted sum over layers of the mean squared difference of the Gram
# matrices.
#
# **Exercise 3: `gram_matrix`**, **exercise 4: `content_loss`**, **exercise 5: `style_loss`**.

# %%
check("gram_matrix", "content_loss", "style_loss")

# %% nbgrader={"grade": true, "grade_id": "nb5_gram_matrix", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: gram_matrix
check("gram_matrix")
### BEGIN HIDDEN TESTS
_f = torch.randn(3, 5, 4, 6, generator=torch.Generator().manual_seed(12))
_want = torch.einsum("nchw,ndhw->ncd", _f, _f) / 24
assert torch.allclose(St.gram_matrix(_f), _want, atol=1e-5)
assert torch.allclose(St.gram_matrix(_f[1]), _want[1], atol=1e-5)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb5_content_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# graded: content_loss
check("content_loss")
### BEGIN HIDDEN TESTS
_a, _b = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(13)).unbind(0)
assert torch.allclose(St.content_loss(_a[None], _b[None]), torch.nn.functional.mse_loss(_a, _b))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "nb5_style_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: style_loss
check("style_loss")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(14)
_fs = {"p": torch.randn(2, 3, 4, 4, generator=_g), "q": torch.randn(2, 6, 2, 3, generator=_g)}
_ts = {"p": torch.randn(3, 3, generator=_g), "q": torch.randn(2, 6, 6, generator=_g)}
_want = 0.5 * ((St.gram_matrix(_fs["p"]) - _ts["p"]) ** 2).mean() + 3 * ((St.gram_matrix(_fs["q"]) - _ts["q"]) ** 2).mean()
assert torch.allclose(St.style_loss(_fs, _ts, {"p": 0.5, "q": 3.0}), _want, rtol=1e-5)
assert torch.allclose(St.style_loss(_fs, {"p": _ts["p"]}), ((St.gram_matrix(_fs["p"]) - _ts["p"]) ** 2).mean(), rtol=1e-5)
assert torch.allclose(St.style_loss({**_fs, "c": torch.randn(2, 4, 3, 3, generator=_g)}, _ts, {"p": 0.5, "q": 3.0}), _want, rtol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Neural texture synthesis
#
# Gatys et al. (2015): start from noise and change the pixels until the Gram matrices of the
# image match those of the texture, at several layers (`St.synthesize_texture`, Adam on the
# pixels). Each layer's loss is divided by its target's mean squared entry, so every layer
# counts about equally.
#
# Which layers matter? Matching only the first layer (stride 2, small receptive fields)
# reproduces colours and fine grain; each deeper block sees a larger part of the image, and
# adding it recovers **larger structures**.

# %%
# NBVAL_IGNORE_OUTPUT
LAYER_SETS = {"bn1": ["bn1"], "+ blocks 0-1": ["bn1", "blocks.0", "blocks.1"],
              "+ block 2": ["bn1", "blocks.0", "blocks.1", "blocks.2"], "+ block 3": St.STYLE_LAYERS}
textures = {"brick": sample_image("brick"), "starry night": paintings["starry_night"]}
rows = {}
for tname, tex in textures.items():
    rows[tname] = {"texture": tex}
    for label, layers in LAYER_SETS.items():
        r = St.synthesize_texture(model, tex, layers, size=pick(128, 48), steps=pick(150, 4), texture_size=256)
        rows[tname][label] = r.image
compare(rows, size=2.3, suptitle=fast_note("4 steps: still noise") or None)

# %% [markdown]
# With `bn1` alone the brick texture is grain; each deeper block adds larger structures:
# edges, then brick-like shapes and mortar lines (roughly: a 128 px image is small for the
# deeper blocks' receptive fields, and the last two columns look much alike). The starry sky
# goes from coloured noise to brush strokes and swirls. (Fast mode: noise everywhere.)
#
# ## 4. Gatys style transfer
#
# Now add a **content loss** (the features of a photo at one middle layer, `blocks.3`) to the
# style loss, plus a small total-variation penalty (`helpers.inversion.total_variation`)
# against noise, and optimize the pixels starting from the photo:
#
# `loss = content_weight * content + style_weight * style + tv_weight * TV`
#
# `St.gatys` does it on `helpers.optim.optimize` (Adam by default, L-BFGS as an option).
# 300 steps at 256 px already give a recognisable Starry Night with EfficientNet-Lite0 (the
# paper uses VGG-19; pass its layer names if you have it).

# %%
# NBVAL_IGNORE_OUTPUT
t = time.perf_counter()
starry = St.gatys(model, photo, paintings["starry_night"], size=pick(256, 64), steps=pick(300, 5), snapshots=4)
print(f"Gatys, {tuple(starry.image.shape[-2:])} px, {starry.steps} Adam steps: {time.perf_counter() - t:.1f} s")
show_images([St.to_pixels(photo, 256), St.to_pixels(paintings["starry_night"], 256)] + starry.strip()[0][1:],
            ["content", "style"] + starry.strip()[1][1:], ncols=5, size=2.8,
            suptitle=fast_note(f"{starry.steps} steps at 64 px: barely started") or None)

# %% [markdown]
# **Every painting.** The same photo with each style (smaller and shorter runs, to keep the
# notebook quick):

# %%
# NBVAL_IGNORE_OUTPUT
row = {"content": photo}
for name, painting in paintings.items():
    row[name] = St.gatys(model, photo, painting, size=pick(192, 64), steps=pick(150, 3), progress=False).image
compare({"style": {"content": photo, **paintings}, "Gatys": row}, size=2.4,
        suptitle=fast_note("3 steps: barely started") or None)

# %% [markdown]
# **Style scale.** The Gram matrices of a style image depend on how large its brush strokes
# are *in pixels*. Shrinking the style image before taking its Grams makes the strokes
# larger relative to the content; enlarging it makes them finer (`style_size`: the long side
# of the style image, in pixels).

# %%
# NBVAL_IGNORE_OUTPUT
scales = pick([96, 192, 384], [64, 96, 128])
out = [St.gatys(model, photo, paintings["the_scream"], size=pick(192, 64), style_size=s, steps=pick(150, 3),
                progress=False).image for s in scales]
show_images(out, [f"style image at {s} px" for s in scales], ncols=3, size=3.2,
            suptitle=fast_note("3 steps: barely started") or None)

# %% [markdown]
# **Blending styles.** Average the Gram matrices of two styles with weights `(1 - a, a)` and
# use the result as the target: a strip from one painting to the other.

# %%
# NBVAL_IGNORE_OUTPUT
alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
pair = [paintings["starry_night"], paintings["the_scream"]]
strip = [St.gatys(model, photo, pair, [1 - a, a], size=pick(160, 64), steps=pick(120, 3), progress=False).image
         for a in alphas]
show_images(strip, [f"{1 - a:.2f} starry / {a:.2f} scream" for a in alphas], ncols=5, size=2.6,
            suptitle=fast_note("3 steps: barely started") or None)

# %% [markdown]
# **Adam or L-BFGS?** Gatys et al. used L-BFGS: each of its steps runs up to 20 evaluations
# with a line search. Given a twentieth of Adam's steps, so at most Adam's number of network
# evaluations (in a full run: fast mode gives L-BFGS fewer), the two reach similar losses
# here; L-BFGS needs no learning rate to tune, Adam gives a smooth progress bar.

# %%
# NBVAL_IGNORE_OUTPUT
budget = pick(200, 4)
runs = {"Adam": St.gatys(model, photo, paintings["shipwreck"], size=pick(192, 64), steps=budget, progress=False),
        "L-BFGS": St.gatys(model, photo, paintings["shipwreck"], size=pick(192, 64), steps=max(1, budget // 20),
                           optimizer="lbfgs", lr=1.0, progress=False)}
for k, r in runs.items():
    print(f"{k}: final loss {r.losses[-1]:.3f}")
show_images([r.image for r in runs.values()], list(runs), ncols=2, size=3.2)
final = [r.losses[-1] for r in runs.values()]
claim(max(final) / min(final) < 1.25, "on the same budget, Adam and L-BFGS end within 25% of each other's loss",
      fast_too=False)

# %%
# the library refuses what would silently go wrong
from helpers import CourseError
for bad in ([1.0], [0.0, 0.0]):
    try:
        St.gatys(model, photo, pair, bad, steps=1)
    except CourseError as e:
        print("CourseError:", e)

# %% [markdown]
# ## 5. Fast style transfer: one forward pass
#
# Gatys needs hundreds of passes through the network per image. Johnson et al. (2016) train a
# **transformer network** once per style: an image goes in, the stylized image comes out, in
# one pass. It is trained with the same perceptual losses (content + Gram + TV, measured by
# the frozen EfficientNet-Lite0) on many photos. `Sn.TransformerNet` is a small version:
# reflection padding everywhere (no dark borders), two stride-2 convolutions, residual blocks,
# and nearest-neighbour upsampling followed by a convolution (no checkerboard artefacts).
#
# **Instance norm** (Ulyanov et al.) normalizes each channel of *each image* to zero mean and
# unit variance, at training and test time alike. Batch norm uses statistics of the batch
# during training and running averages at test time: the contrast of one photo leaks into the
# result, and the network must learn to undo it.
#
# **Exercise 6: `instance_norm`.**

# %%
check("instance_norm")

# %% nbgrader={"grade": true, "grade_id": "nb5_instance_norm", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: instance_norm
check("instance_norm")
### BEGIN HIDDEN TESTS
_x = torch.randn(2, 7, 3, 9, generator=torch.Generator().manual_seed(15)) * 5 - 2
assert torch.allclose(St.instance_norm(_x, eps=1e-3), torch.nn.functional.instance_norm(_x, eps=1e-3), atol=1e-5)
_x[0, 3] = 1.5                                     # a constant channel, and a large eps inside the square root
assert torch.allclose(St.instance_norm(_x, eps=2.0), torch.nn.functional.instance_norm(_x, eps=2.0), atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# **Train a small one.** A short training run on a CPU (100 steps each; the times are printed)
# cannot match the shipped networks (trained on a GPU), but it shows the idea, and the
# difference between batch norm and
# instance norm: the same network, the same steps, the same photos (the ImageNet samples, 128
# px crops), only the normalization differs.

# %%
# NBVAL_IGNORE_OUTPUT
train_photos = imagenet_sample_crops(160, every=pick(2, 50))
demo = {}
for norm in ["batch", "instance"]:
    seed_everything(0)
    net = Sn.TransformerNet(norm=norm)
    t = time.perf_counter()
    losses = Sn.train_stylizer(net, model, paintings["starry_night"], train_photos, steps=pick(100, 2), batch_size=4,
                               size=pick(128, 32), style_size=160, lr=5e-3, style_weight=6.0, log_every=pick(20, 1))
    demo[norm] = net
    print(f"{norm} norm: {pick(100, 2)} steps in {time.perf_counter() - t:.0f} s, loss {losses[0]:.2f} -> {losses[-1]:.2f}")
test_photos = {"Tuebingen": photo, "cat": sample_image("chelsea"), "astronaut": sample_image("astronaut")}
compare({f"{k} norm": {p: Sn.stylize(n, img, size=256) for p, img in test_photos.items()} for k, n in demo.items()},
        size=2.6, suptitle=fast_note("2 steps: untrained") or None)

# %% [markdown]
# **The shipped networks.** `Sn.load_stylizer(name)` loads a network trained by
# `tools/train_style.py`, one per painting, on a GPU; the lines below say how (from the
# weights file), how large it is, and how fast it stylizes a photo here.

# %%
# NBVAL_IGNORE_OUTPUT
nets = {name: Sn.load_stylizer(name) for name in St.STYLES}
big = St.to_pixels(photo, 512)
_, sec = timed(Sn.stylize, nets["starry_night"], big, repeat=3)
print(f"one {tuple(big.shape[-2:])} photo in {sec:.2f} s on {torch.get_num_threads()} CPU threads")
meta, path = nets["starry_night"].meta, Sn.stylizer_path("starry_night")
print(f"trained: {meta['steps']} steps of {meta['batch_size']} photos at {meta['size']} px, {meta['seconds']:.0f} s "
      f"on {meta['device']}; {sum(p.numel() for p in nets['starry_night'].parameters()):,} weights in "
      f"{path.stat().st_size / 1000:.0f} kB")

# %%
rows = {}
for p, img in test_photos.items():
    rows[p] = {"photo": img, **{n: Sn.stylize(net, img, size=pick(384, 96)) for n, net in nets.items()}}
compare(rows, size=2.4)

# %%
# the network's total stride is 4: tiny images cannot go through it
try:
    Sn.stylize(nets["the_scream"], np.zeros((5, 40, 3), np.uint8))
except CourseError as e:
    print("CourseError:", e)

# %% [markdown]
# ## 6. One network, many styles: conditional instance norm
#
# Dumoulin et al. (2017) noticed that networks for different styles can share **all their
# convolutions**: only the scale `gamma` and shift `beta` after each instance norm need to
# differ. A **conditional instance norm** layer holds one row of `gamma` and `beta` per style;
# a one-hot style vector picks a row, and a mixture of styles mixes the rows, which
# interpolates between the styles in one pass.
#
# **Exercise 7: `ConditionalInstanceNorm.forward`.**

# %%
check("conditional_instance_norm")

# %% nbgrader={"grade": true, "grade_id": "nb5_conditional_instance_norm", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# graded: conditional_instance_norm
check("conditional_instance_norm")
### BEGIN HIDDEN TESTS
_c = St.ConditionalInstanceNorm(5, 3)
with torch.no_grad():
    _c.gamma.normal_(generator=torch.Generator().manual_seed(16)); _c.beta.normal_(generator=torch.Generator().manual_seed(17))
_x = torch.randn(4, 5, 3, 3, generator=torch.Generator().manual_seed(18))
_s = torch.softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(19)), 1)
_want = torch.nn.functional.instance_norm(_x) * (_s @ _c.gamma)[:, :, None, None] + (_s @ _c.beta)[:, :, None, None]
assert torch.allclose(_c(_x, _s), _want, atol=1e-5)
### END HIDDEN TESTS

# %%
cin = Sn.load_stylizer("conditional")
n_shared = sum(p.numel() for k, p in cin.named_parameters() if "gamma" not in k and "beta" not in k)
n_style = sum(p.numel() for k, p in cin.named_parameters() if "gamma" in k or "beta" in k) // cin.n_styles
print(f"{cin.n_styles} styles: {n_shared} shared weights, {n_style} per style")
show_images([Sn.stylize(cin, photo, style=s, size=pick(384, 96)) for s in cin.styles], cin.styles, ncols=4, size=3)

# %%
a_to_b = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
show_images([Sn.stylize(cin, photo, style={"starry_night": 1 - a, "woman-with-hat-matisse": a}, size=pick(320, 96))
             for a in a_to_b], [f"{1 - a:.1f} starry / {a:.1f} Matisse" for a in a_to_b], ncols=6, size=2.4)

# %% [markdown]
# ## Questions (graded by your instructor)
#
# **Q1.** Why do Gram matrices capture style (or texture) but not content? What exactly do
# they throw away, and what would go wrong if you matched the raw features of the painting
# instead?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb5_q1", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** `G = F F^T / HW` sums over all positions, so it keeps only which channels fire together
# (second-order statistics of the features) and discards where they fire: any spatial
# rearrangement of the feature vectors gives the same Gram matrix (a test checks it). Texture
# is exactly a stationary, position-free statistic; content is the arrangement. Matching
# the painting's raw features would instead force the image to reproduce the painting's
# layout: the result would be the painting (or a mix of two layouts), not the photo's scene
# painted in its style.

# %% [markdown]
# **Q2.** Efros-Leung and neural texture synthesis both make new texture from a sample.
# Compare them: what does each need, what does each do well, and where does each fail?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb5_q2", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** Efros-Leung needs only the sample: it copies actual pixels, so local detail is perfectly
# sharp and colours are exact, but it is slow (a search per pixel), can copy the same region
# over and over ("garbage growing" with small eps), cannot produce anything not in the sample,
# and only keeps structures up to the window size. Neural synthesis needs a trained network:
# it matches statistics of features, so it invents new variations and captures structures as
# large as the deepest matched layer's receptive field, and generalizes to style transfer;
# but its images can be blurry or noisy in places, and long straight structures (brick
# mortar lines) come out broken, because Gram matrices keep no positions.

# %% [markdown]
# **Q3.** Why does instance normalization help feed-forward style transfer compared with batch
# normalization, and why can conditional instance norm represent many styles with so few
# extra parameters?

# %% [markdown] nbgrader={"grade": true, "grade_id": "nb5_q3", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer.** The stylized output should not depend on the content image's contrast or brightness;
# instance norm removes each image's own channel means and variances at every layer (at test
# time too), so the network need not learn to undo them, while batch norm mixes statistics
# across the batch in training and uses running averages at test time, which gives
# inconsistent contrast and a worse style. Dumoulin et al. observed that after normalization,
# a style is largely described by a per-channel affine transform: the convolutions compute
# generic features that all styles share, and each style only needs its own gamma and beta
# (2 x channels per norm layer), a tiny fraction of the weights; mixing the gammas and betas
# interpolates styles.
