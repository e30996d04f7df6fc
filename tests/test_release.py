"""The single source of truth: the student tree is what the release tool writes from solutions/."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
from authoring import release  # noqa: E402
from authoring.conventions import SOLUTION_BEGIN, exercise_functions, stub_message  # noqa: E402


def test_student_tree_is_in_sync_with_solutions():
    diffs = release.differences(ROOT)
    assert not diffs, "run `bash course.sh release` and commit:\n" + "\n".join(diffs)


def test_strip_solutions_names_the_enclosing_function():
    src = (
        "def a(x):\n"
        "    '''doc'''\n"
        "    check(x)\n"
        "    ### BEGIN SOLUTION\n"
        "    return x + 1\n"
        "    ### END SOLUTION\n"
        "\n"
        "class B:\n"
        "    def m(self):\n"
        "        if True:\n"
        "            ### BEGIN SOLUTION\n"
        "            y = 2\n"
        "            ### END SOLUTION\n"
        "        return y\n"
    )
    out = release.strip_solutions(src, "helpers/x.py")
    assert "x + 1" not in out and "y = 2" not in out and "check(x)" in out
    assert 'raise NotImplementedError("exercise `a` in helpers/x.py' in out
    assert '            raise NotImplementedError("exercise `B.m`' in out
    ast.parse(out)


@pytest.mark.parametrize("src, msg", [
    ("    ### BEGIN SOLUTION\n    x = 1\n", "never closed"),
    ("    ### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_strip_solutions_rejects_broken_markers(src, msg):
    with pytest.raises(release.ReleaseError, match=msg):
        release.strip_solutions(src, "x.py")


def test_student_notebook_has_no_outputs_solutions_or_hidden_tests():
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}],
         "source": "a = 1\n### BEGIN SOLUTION\nsecret = 42\n### END SOLUTION\n"},
        {"cell_type": "code", "metadata": {}, "execution_count": 4, "outputs": [],
         "source": "assert a == 1\n### BEGIN HIDDEN TESTS\nassert secret == 42\n### END HIDDEN TESTS\n"},
        {"cell_type": "markdown", "metadata": {"nbgrader": {"solution": True}}, "source": "Model answer"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = release.student_notebook(nb)
    text = json.dumps(out)
    assert "42" not in text and "Model answer" not in text and '"hi"' not in text
    assert out["cells"][0]["execution_count"] is None and out["cells"][0]["outputs"] == []
    assert "raise NotImplementedError()" in "".join(out["cells"][0]["source"])
    assert "".join(out["cells"][1]["source"]) == "assert a == 1"


def test_every_stub_names_its_exercise_and_the_library_recognizes_it():
    """One stub per solution region, named by its qualified name (found by the grader's
    rule), and helpers.utils.not_done reads the stub's message back."""
    import importlib
    from helpers.utils import not_done
    stubs = exercise_functions(ROOT / "helpers")
    regions = sum(p.read_text().count(SOLUTION_BEGIN) for p in (ROOT / "solutions" / "helpers").rglob("*.py"))
    assert sum(map(len, stubs.values())) == regions > 0
    assert "ConditionalInstanceNorm.forward" in stubs["helpers.style"]
    for module, names in stubs.items():
        text = (ROOT / "helpers" / f"{module.split('.')[1]}.py").read_text()
        nb = importlib.import_module(module).NOTEBOOK
        for name in names:
            msg = stub_message(name, f"helpers/{module.split('.')[1]}.py")
            assert msg in text
            assert not_done(NotImplementedError(msg)) == \
                f"notebook {nb}'s exercise `{name}` (helpers/{module.split('.')[1]}.py)"


def test_every_student_module_imports():
    mods = [p.stem for p in (ROOT / "helpers").glob("*.py") if p.stem != "__init__"]
    code = "import importlib, helpers, pathlib\n" \
           f"assert pathlib.Path(helpers.__file__).parent == pathlib.Path({str(ROOT / 'helpers')!r})\n" \
           + "".join(f"importlib.import_module('helpers.{m}')\n" for m in mods)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tools", env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_the_checks_stored_values_hold_with_another_thread_count():
    """The local checks' expected values (helpers/checks/nbN.npz, recorded on one thread) are
    recomputed on two threads: float32 reductions in another order must stay within every
    case's tolerance (as they must on another platform or BLAS)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "authoring.expected", "--check",
                        str(ROOT / "solutions" / "helpers" / "checks"), "--threads", "2"],
                       cwd=ROOT / "solutions", env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
