"""Test set-up: which ``helpers`` is tested, seeding, shared fixtures.

``COURSE_TARGET=solutions`` (the default) tests the instructor's library in
``solutions/helpers``; ``COURSE_TARGET=student`` tests the student's ``helpers/`` (what
``bash course.sh check`` runs).
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = os.environ.get("COURSE_TARGET", "solutions")
_base = ROOT / "solutions" if TARGET == "solutions" else ROOT
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "solutions")]
sys.path.insert(0, str(_base))
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # in this process only: nbval's kernels must keep the inline backend

import helpers  # noqa: E402

assert Path(helpers.__file__).resolve().parent == _base / "helpers", helpers.__file__

import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    helpers.seed_everything(0)
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.fixture(scope="session")
def lite0():
    from helpers.models import load_model
    return load_model()


@pytest.fixture
def tiny():
    from helpers.models import tiny_cnn
    return tiny_cnn()
