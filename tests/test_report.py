"""The class report and the feedback that names a mistake (issue 25), on a real batch.

A class of 13 built from the mistake catalogue (tests/fixtures/minicourse.py's three-exercise
notebook 1): three complete, one untouched release, students sharing a mistake, one with two
mistakes, one with a property mistake (no stored value: named by its check's words), one with
a wrong answer that is none of the usual mistakes. Graded by the real grader (sandboxes, Dask),
then ``feedback``, ``export`` and ``report``: the report names each mistake with exactly its
students, its histogram counts what grades.csv holds, and headless Chromium renders every plot.
"""
from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from authoring import mistakes as catalogue  # noqa: E402
from autograde import batch, report, results, sandbox  # noqa: E402
from minicourse import mini_course  # noqa: E402

WHY = sandbox.available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")
SHOTS = ROOT / "build" / "screenshots"
A = "01_features"

CLASS = {            # student -> the catalogue mistakes their library makes ("" : none)
    "full_1": [], "full_2": [], "full_3": [],
    "perchannel_1": ["normalize_filters/per-channel"], "perchannel_2": ["normalize_filters/per-channel"],
    "perchannel_3": ["normalize_filters/per-channel"],
    "global_stride": ["normalize_filters/global", "receptive_field/stride-first"],
    "nosqrt_1": ["pairwise_distances/no-sqrt"], "nosqrt_2": ["pairwise_distances/no-sqrt"],
    "noclamp_1": ["pairwise_distances/no-clamp"],          # a property mistake
    "stride_1": ["receptive_field/stride-first"],
}
UNKNOWN = "unknown_1"      # normalize_filters scaled by a half: none of the usual mistakes
UNTOUCHED = "untouched"


def _cell(exercise: str) -> str:
    return f"nb1_{exercise}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    course = mini_course(base)
    solutions = course.root / "solutions" / "helpers"
    notebook = course.release_dir / A / f"{A}.ipynb"
    by_id = {m.id: m for m in catalogue.load()}
    inbox = base / "inbox"

    def student(name: str, helpers: Path, edit=None):
        d = inbox / name
        shutil.copytree(helpers, d / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(notebook, d / f"{A}.ipynb")
        if edit:
            edit(d / "helpers")

    for name, ids in CLASS.items():
        def apply(h, ids=ids):
            for mid in ids:
                m = by_id[mid]
                f = h / f"{m.module}.py"
                f.write_text(catalogue.mutated_file(f, m.function, m.edits))
        student(name, solutions, apply)

    def half(h):
        f = h / "features.py"
        f.write_text(f.read_text().replace("return w.permute(0, 2, 3, 1)", "return 0.5 * w.permute(0, 2, 3, 1)", 1))
    student(UNKNOWN, solutions, half)
    assert "0.5 * w.permute" in (inbox / UNKNOWN / "helpers" / "features.py").read_text()
    student(UNTOUCHED, course.release_dir / A / "helpers")

    course.collect(inbox, [A], log=lambda *a: None)
    res = batch.autograde(course, [A], jobs=2, log=print)
    assert res["graded"] == len(CLASS) + 2 and not [f for f in res["failures"] if f[2] == "grader error"], res
    results.feedback(course, [A], log=print)
    results.export(course, course.home / "grades.csv", log=print)
    page = report.class_report(course, log=print)
    return course, page, json.loads((page.parent / "class.json").read_text())


def test_the_report_names_each_mistake_with_exactly_its_students(graded):
    course, page, data = graded
    (d,) = data["assignments"]
    got = {m["mistake"]: m["students"] for m in d["mistakes"]}
    want = {}
    for s, ids in CLASS.items():
        for mid in ids:
            want.setdefault(mid, []).append(s)
    assert got == {k: sorted(v) for k, v in want.items()}
    by_cell = {m["mistake"]: m["grade_id"] for m in d["mistakes"]}
    assert all(by_cell[mid] == _cell(mid.split("/")[0]) for mid in want)
    # the rest are counted by kind, never as a named mistake
    other = d["other_failures"]
    assert other[_cell("normalize_filters")]["wrong"] == [UNKNOWN]
    assert all(other[_cell(e)]["not done"] == [UNTOUCHED]
               for e in ("normalize_filters", "pairwise_distances", "receptive_field"))
    # the page says it, in words a teacher reads
    text = page.read_text()
    per_channel = next(m for m in catalogue.load() if m.id == "normalize_filters/per-channel").message
    assert "normalize_filters/per-channel" in text and per_channel.split(":")[0] in text
    assert "perchannel_1, perchannel_2, perchannel_3" in text


def test_the_histogram_counts_what_grades_csv_holds(graded):
    course, _, data = graded
    (d,) = data["assignments"]
    rows = [r for r in csv.DictReader((course.home / "grades.csv").open()) if r["assignment"] == A]
    scores = [float(r["score"]) for r in rows]
    assert len(scores) == d["students"] == len(CLASS) + 2
    assert d["counts"] == report.histogram(scores, d["edges"]) and sum(d["counts"]) == len(scores)
    assert {r["student_id"]: float(r["score"]) for r in rows} == d["scores"]
    full = sum(c["points"] for c in course.grade_cells(A) if c["kind"] == "code")
    assert [d["scores"][s] for s in ("full_1", "full_2", "full_3")] == [full] * 3 and d["scores"][UNTOUCHED] == 0
    cells = {c["grade_id"]: c for c in d["cells"]}
    assert cells[_cell("normalize_filters")]["zero"] == sorted(
        [UNKNOWN, UNTOUCHED, "global_stride", "perchannel_1", "perchannel_2", "perchannel_3"])
    # every written answer was left as released: nbgrader scores an unchanged answer 0 itself
    assert len(cells["nb1_q1"]["zero"]) == len(CLASS) + 2 and not cells["nb1_q1"]["by hand"]


def test_grades_by_cell_names_the_mistake(graded):
    course, _, _ = graded
    rows = list(csv.DictReader((course.home / "grades_by_cell.csv").open()))
    mistake = {(r["student_id"], r["grade_id"]): r["mistake"] for r in rows}
    assert mistake[("perchannel_2", _cell("normalize_filters"))] == "normalize_filters/per-channel"
    assert mistake[("noclamp_1", _cell("pairwise_distances"))] == "pairwise_distances/no-clamp"
    assert mistake[(UNKNOWN, _cell("normalize_filters"))] == "none of the usual mistakes"
    assert mistake[("full_1", _cell("normalize_filters"))] == ""


def test_feedback_names_the_mistake_and_leaks_no_hidden_test(graded):
    course, page, _ = graded
    msg = {m.id: m.message for m in catalogue.load()}
    report_of = lambda s: (course.feedback_dir / s / A / "grading_report.html").read_text()  # noqa: E731
    import html
    assert html.escape(msg["normalize_filters/per-channel"]) in report_of("perchannel_1")
    assert html.escape(msg["receptive_field/stride-first"]) in report_of("global_stride")
    assert html.escape(msg["normalize_filters/global"]) in report_of("global_stride")
    notebook = (course.feedback_dir / "nosqrt_1" / A / f"{A}.html").read_text()
    assert html.escape(msg["pairwise_distances/no-sqrt"]) in notebook, "the failing cell of the feedback names it"
    unknown = report_of(UNKNOWN)
    assert "none of the usual mistakes" in unknown and "normalize_filters" in unknown
    secret = results.hidden_lines(course, A)
    assert secret, "the mini course has hidden tests"
    leaked = [(f, line) for f in [*course.feedback_dir.rglob("*.html"), *page.parent.rglob("*")]
              for line in secret if line in f.read_text(errors="replace") or html.escape(line) in f.read_text(errors="replace")]
    assert not leaked, leaked[:3]


def test_the_report_renders_in_a_real_browser(graded):
    course, page, data = graded
    chromium = next((p for p in ["/usr/bin/chromium", "/usr/lib/chromium/chromium", shutil.which("chromium") or ""]
                     if p and Path(p).exists()), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        pytest.skip("no browser here (Debian's chromium and the playwright package)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            tab = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            tab.goto(page.as_uri())
            tab.wait_for_load_state("load")
            images = tab.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            tab.screenshot(path=str(SHOTS / "class-report.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == 3 * len(data["assignments"]), images      # histogram, cells, mistakes
    assert all(done and width > 100 for _, done, width in images), images
