"""One source per notebook: the jupytext files in solutions/notebooks are the only place a
notebook is written; the committed solved notebooks must match them cell for cell."""
import json
import shutil
from pathlib import Path

from authoring import notebooks as N
from authoring.conventions import HIDDEN_BEGIN, MODEL_ANSWER, SOLUTION_BEGIN

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


def _stream_lines(nb: dict):
    for i, c in enumerate(nb["cells"]):
        for o in c.get("outputs", []) if c["cell_type"] == "code" else []:
            if o.get("output_type") == "stream":
                text = o["text"] if isinstance(o["text"], str) else "".join(o["text"])
                yield from ((i, line) for line in text.splitlines())


def test_the_committed_runs_show_every_claim_the_text_makes():
    """A notebook's claims about its results are checked on its run (``helpers.claim``): the
    committed full runs show none that fails and none marked fast-mode-only. (Fast mode: nbval
    runs every solved notebook in fast mode and compares each claim's line with the committed
    one, so a claim the fast run contradicts fails there, unless it is declared full-run only.)"""
    from helpers.utils import FAST_ONLY, NOT_SHOWN, SHOWN
    shown = 0
    for src in N.sources(ROOT):
        nb = json.loads(N.solved_path(src).read_text())
        for i, line in _stream_lines(nb):
            assert not line.startswith((NOT_SHOWN, FAST_ONLY)), f"{src.stem} cell {i}: {line}"
            shown += line.startswith(SHOWN)
    assert shown >= 1, "no claim found in the committed runs"


def test_claim_prints_what_the_run_shows(capsys, monkeypatch):
    from helpers.utils import FAST_ONLY, NOT_SHOWN, claim, fast_note
    monkeypatch.delenv("COURSE_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert claim(1 < 2, "one is less than two") is None, "a cell ending in a claim echoes nothing"
    claim(False, "never", fast_too=False)
    assert capsys.readouterr().out.splitlines() == ["\u2713 one is less than two", f"{NOT_SHOWN} never"]
    assert fast_note() == ""
    monkeypatch.setenv("COURSE_FAST", "1")
    claim(False, "needs the full run", fast_too=False)
    claim(True, "about the full run, even when a small run happens to show it", fast_too=False)
    claim(False, "must hold in fast mode too")
    assert capsys.readouterr().out.splitlines() == [
        f"{FAST_ONLY} needs the full run (run without COURSE_FAST to see it)",
        f"{FAST_ONLY} about the full run, even when a small run happens to show it (run without COURSE_FAST to see it)",
        f"{NOT_SHOWN} must hold in fast mode too"]
    assert fast_note("4 steps") == " (fast mode: 4 steps)"


# Numbers the notebooks' prose may state without a cell of the same run printing them: parameters
# of the code and facts that do not come from a run. Any other percentage or decimal in a text
# cell is a result typed by hand, which a rerun (or fast mode) can contradict: print it from
# the run instead (or check it with helpers.claim).
PROSE_NUMBERS = {
    "01_features": {"10%": "chance level with 10 classes"},
    "02_saliency": {"0.15": "SmoothGrad's sigma, a parameter", "15 %": "sigma as a share of the range"},
    "03_ascent": {"2.5": "the full-run time, measured by `bash course.sh notebooks run` (README)",
                  "0.9": "the threshold of the claim printed above it (helpers.claim checks it)"},
    "04_inversion": {"0.05": "the lambda scale of the beta = 1 runs, a parameter",
                     "15%": "the threshold of the claim printed above it (helpers.claim checks it)"},
    "05_style": {"2.5": "the full-run time (README)"},
}


def test_the_prose_states_no_result_typed_by_hand():
    import re
    pattern = re.compile(r"\d+(?:\.\d+)?\s?%|\b\d+\.\d+\b")
    found = []
    for src in N.sources(ROOT):
        for cell in N.read(src).cells:
            if cell.cell_type != "markdown" or cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            text = re.sub(r"\$[^$]*\$", "", cell.source)          # formulas are not results
            found += [(src.stem, m.group()) for m in pattern.finditer(text)
                      if m.group() not in PROSE_NUMBERS.get(src.stem, {})]
    assert not found, f"numbers typed into the text (print them from the run, or list them here): {found}"


def test_claims_that_fast_mode_must_show_are_compared_by_nbval():
    """nbval runs every solved notebook in fast mode and compares each cell's output with the
    committed full run, except in cells marked NBVAL_IGNORE_OUTPUT. A claim that must hold in
    fast mode too sits in a compared cell (a fast run that contradicts it fails nbval); a claim
    about the full run only (fast_too=False) sits in an ignored cell (its fast line differs)."""
    import ast
    compared = 0
    for src in N.sources(ROOT):
        for i, cell in enumerate(N.read(src).cells):
            if cell.cell_type != "code" or "claim(" not in cell.source:
                continue
            ignored = "NBVAL_IGNORE_OUTPUT" in cell.source
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "claim":
                    full_only = any(k.arg == "fast_too" and isinstance(k.value, ast.Constant) and k.value.value is False
                                    for k in node.keywords)
                    assert full_only == ignored, \
                        f"{src.stem} cell {i}: a {'full-run-only' if full_only else 'fast-mode'} claim in a cell " \
                        f"{'not ' if full_only else ''}marked NBVAL_IGNORE_OUTPUT"
                    compared += not ignored
    assert compared >= 5, "few claims are checked in fast mode"
