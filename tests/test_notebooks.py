"""One source per notebook: the jupytext files in solutions/notebooks are the only place a
notebook is written; the committed solved notebooks must match them cell for cell."""
import json
import shutil
from pathlib import Path

from tools import notebooks as N
from tools.conventions import HIDDEN_BEGIN, MODEL_ANSWER, SOLUTION_BEGIN

ROOT = Path(__file__).resolve().parents[1]


def test_every_solved_notebook_matches_its_source():
    diffs = N.differences(ROOT)
    assert not diffs, "edit the source, then `bash course.sh notebooks sync` (text) or `run NN` (code):\n" + \
        "\n".join(diffs)
    assert [p.stem for p in N.sources(ROOT)] == [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]


def test_a_changed_source_is_caught_and_sync_keeps_unchanged_outputs(tmp_path):
    root = tmp_path
    (root / "solutions" / "notebooks").mkdir(parents=True)
    src = ROOT / "solutions" / "notebooks" / "04_inversion.py"
    shutil.copyfile(src, root / "solutions" / "notebooks" / src.name)
    shutil.copyfile(src.with_suffix(".ipynb"), root / "solutions" / "notebooks" / f"{src.stem}.ipynb")
    assert N.differences(root) == []
    text = src.read_text()
    first_md = text.index("# %% [markdown]\n# ## 1.")          # a text edit: no code changes
    edited = text[:first_md] + "# %% [markdown]\n# A new paragraph.\n\n" + text[first_md:]
    (root / "solutions" / "notebooks" / src.name).write_text(edited.replace("pick(", "pick(  ", 1))
    diffs = N.differences(root)
    assert len(diffs) == 1 and "differs from 04_inversion.py" in diffs[0]
    stale = N.sync(root, log=lambda *a: None)
    assert N.differences(root) == [] and len(stale) == 1      # one code cell changed: it has no outputs now
    nb = json.loads((root / "solutions" / "notebooks" / f"{src.stem}.ipynb").read_text())
    old = json.loads(src.with_suffix(".ipynb").read_text())
    outputs = [c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"]
    assert sum(1 for o in outputs if not o) == 1 + sum(1 for c in old["cells"] if c["cell_type"] == "code"
                                                         and not c.get("outputs"))
    (root / "solutions" / "notebooks" / "99_extra.ipynb").write_text(json.dumps(old))
    assert any("no source 99_extra.py" in d for d in N.differences(root))


def test_sources_carry_grading_metadata_and_release_strips_it():
    for src in N.sources(ROOT):
        nb = N.read(src)
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        if src.stem.startswith("00_"):
            assert not graded
            continue
        assert graded and all(c.metadata["nbgrader"]["grade_id"].startswith(f"nb{int(src.stem[:2])}_") for c in graded)
        student = json.loads((ROOT / "notebooks" / f"{src.stem}.ipynb").read_text())
        text = json.dumps(student)
        assert HIDDEN_BEGIN not in text and SOLUTION_BEGIN not in text and MODEL_ANSWER not in text
        assert [c["cell_type"] for c in student["cells"]] == [c.cell_type for c in nb.cells]
        assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")
