"""Test set-up: the instructor's library (``solutions/helpers``) is the one tested, seeding,
shared fixtures. (The student's ``helpers/`` is exercised by ``tests/test_users.py``, through
``bash course.sh check`` and the notebooks, in a fresh clone.)
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_base = ROOT / "solutions"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "solutions")]
sys.path.insert(0, str(_base))
sys.path.append(str(ROOT))     # after solutions/: `tools` and `autograde` (helpers/ stays the solutions')
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
