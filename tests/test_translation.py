"""The course in Korean and Simplified Chinese, from one source (issue 26).

The notebooks' prose and the library's messages are gettext catalogues (authoring/translate.py,
authoring/messages.py, helpers/i18n.py): code is written once, in English; an unchanged
paragraph keeps its translation, a changed one goes fuzzy and is not used; every released
language's catalogues are complete; the translated notebooks run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from authoring import messages, translate  # noqa: E402
from authoring.release import source_notebook  # noqa: E402
from authoring import notebooks as sources  # noqa: E402
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from notebook_languages import IN_THE_BROWSER  # noqa: E402

LANGS = list(translate.LANGUAGES)
NAMES = [p.stem for p in sources.sources(ROOT)]
HANGUL, HAN = re.compile(r"[\uac00-\ud7a3]"), re.compile(r"[\u4e00-\u9fff]")
SCRIPT = {"ko": HANGUL, "zh": HAN}


# ----------------------------------------------------------------------------- helpers.i18n
PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

msgid "no images to show"
msgstr "보여 줄 이미지가 없습니다"

#, python-brace-format
msgid "got {0} titles for {1} images"
msgstr "이미지 {1}장에 제목이 {0}개입니다"

#, python-brace-format
msgid "{0} (your result matches none of the usual mistakes{1})"
msgstr "{0} (결과가 흔한 실수 중 어느 것에도 해당하지 않습니다{1})"

msgid "take the square root"
msgstr "제곱근을 취하세요"

#, fuzzy
msgid "a changed message"
msgstr "낡은 번역"
'''


@pytest.fixture
def i18n(tmp_path, monkeypatch):
    from helpers import i18n as module
    (tmp_path / "ko.po").write_text(PO)
    monkeypatch.setattr(module, "LOCALE", tmp_path)
    module._catalogue.cache_clear()
    yield module
    module._catalogue.cache_clear()


def test_tr_translates_messages_and_templates_and_never_a_fuzzy_one(i18n, monkeypatch):
    tr = i18n.tr
    assert tr("no images to show", "ko") == "보여 줄 이미지가 없습니다"
    assert tr("got 3 titles for 4 images", "ko") == "이미지 4장에 제목이 3개입니다"
    # the values of a template are translated too when they are messages
    assert tr("take the square root (your result matches none of the usual mistakes: expected 2, got 3)", "ko") == \
        "제곱근을 취하세요 (결과가 흔한 실수 중 어느 것에도 해당하지 않습니다: expected 2, got 3)"
    assert tr("a changed message", "ko") == "a changed message", "a fuzzy translation is never used"
    assert tr("not in the catalogue", "ko") == "not in the catalogue"
    assert tr("no images to show", "en") == "no images to show"
    monkeypatch.setenv("COURSE_LANG", "ko")
    assert i18n.language() == "ko" and tr("no images to show") == "보여 줄 이미지가 없습니다"
    monkeypatch.delenv("COURSE_LANG")
    monkeypatch.chdir(i18n.LOCALE.parent)
    (i18n.LOCALE.parent / "zh").mkdir()
    monkeypatch.chdir(i18n.LOCALE.parent / "zh")
    assert i18n.language() == "zh", "a notebook in notebooks/zh/ speaks Chinese"


def test_a_course_error_speaks_the_course_language(i18n, monkeypatch):
    from helpers.utils import CourseError
    monkeypatch.setenv("COURSE_LANG", "ko")
    assert str(CourseError("got 1 titles for 2 images")) == "이미지 2장에 제목이 1개입니다"
    monkeypatch.setenv("COURSE_LANG", "en")
    assert str(CourseError("got 1 titles for 2 images")) == "got 1 titles for 2 images"


# ----------------------------------------------------------------------------- the notebooks
def test_blocks_cut_and_join_back_exactly():
    for name in NAMES:
        nb = source_notebook(ROOT / "solutions" / "notebooks" / f"{name}.py")
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                src = "".join(cell["source"])
                assert "".join(translate.split_blocks(src)) == src
    text = "Para one.\n\n```python\nx = 1\n\ny = 2\n```\n\nPara two."
    pieces = translate.split_blocks(text)
    assert "```python\nx = 1\n\ny = 2\n```" in pieces and not translate.translatable(pieces[2])


def test_a_changed_paragraph_goes_fuzzy_and_stays_english(tmp_path):
    from babel.messages.catalog import Catalog
    nb = {"cells": [{"cell_type": "markdown", "source": "# Title\n\nThe first paragraph.\n\nThe second one."},
                    {"cell_type": "code", "source": "x = 1  # a comment\n", "outputs": []}]}
    path = tmp_path / "ko" / "demo.po"
    cat = Catalog(locale="ko")
    cat.update(translate.template(nb, "demo"))
    for m in cat:
        if m.id:
            m.string = {"# Title": "# 제목", "The first paragraph.": "첫 문단.", "The second one.": "둘째 문단."}[m.id]
    translate.write_catalogue(cat, path)
    nb["cells"][0]["source"] = "# Title\n\nThe first paragraph, changed.\n\nThe second one."
    cat = translate.read_catalogue(path, "ko")
    cat.update(translate.template(nb, "demo"), no_fuzzy_matching=False)
    translate.write_catalogue(cat, path)
    cat = translate.read_catalogue(path, "ko")
    assert cat.get("The first paragraph, changed.").fuzzy, "a changed paragraph is marked fuzzy"
    assert translate.untranslated(cat) == ["The first paragraph, changed."]
    out = translate.translate_notebook(nb, cat, "ko")
    assert "".join(out["cells"][0]["source"]) == "# 제목\n\nThe first paragraph, changed.\n\n둘째 문단."
    assert out["cells"][1] == nb["cells"][1]


@pytest.mark.parametrize("lang", LANGS)
def test_translated_notebooks_have_the_english_code_byte_for_byte(lang):
    for name in NAMES:
        en = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        tr = json.loads((ROOT / "notebooks" / lang / f"{name}.ipynb").read_text())
        assert len(en["cells"]) == len(tr["cells"]), name
        for a, b in zip(en["cells"], tr["cells"]):
            assert a["cell_type"] == b["cell_type"] and a.get("metadata") == b.get("metadata")
            if a["cell_type"] == "code":
                assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), f"{name}: a code cell differs"
        first = "".join(tr["cells"][0]["source"])
        assert SCRIPT[lang].search(first), f"{lang}/{name}: the first cell is not translated: {first[:80]!r}"


@pytest.mark.parametrize("lang", LANGS)
def test_the_readme_student_section_is_released_in_each_language(lang):
    """notebooks/<lang>/README.md: every item of the README's 'For students' in that language,
    with the English commands, file names and identifiers (code spans) unchanged."""
    en = translate.student_readme(ROOT)
    tr = (ROOT / "notebooks" / lang / "README.md").read_text()
    assert tr == translate.translate_readme(en, translate.read_catalogue(
        translate.catalogue_path(ROOT, lang, translate.README), lang)), "run `bash course.sh release`"
    en_items = [p for p in translate.readme_pieces(en) if translate.translatable(p)]
    tr_items = translate.readme_pieces(tr)
    tr_items = [p for p in tr_items if p.strip() and not re.fullmatch(r"\s+", p)]
    assert len(en_items) == len(tr_items) >= 9
    code = re.compile(r"`[^`]+`")
    for a, b in zip(en_items, tr_items):
        assert SCRIPT[lang].search(b), f"not translated: {a[:60]!r}"
        assert sorted(code.findall(a)) == sorted(code.findall(b)), a[:60]


def test_the_readme_section_is_cut_into_items_and_comes_back_whole():
    text = "## For students\n\n- **A**: one `x`,\n  two.\n- **B**: three.\n\n```bash\nrun it\n```\n\n"
    pieces = translate.readme_pieces(text)
    assert "".join(pieces) == text
    assert [p for p in pieces if translate.translatable(p)] == [
        "## For students", "- **A**: one `x`,\n  two.", "- **B**: three."]
    cat = translate.read_catalogue(Path("/nonexistent.po"), "ko")
    cat.add("- **B**: three.", "- **나**: 셋.")
    assert translate.translate_readme(text, cat) == text.replace("- **B**: three.", "- **나**: 셋.")


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_of_a_released_language_is_complete_and_sound(lang):
    left = {}
    for name in [*NAMES, translate.README]:
        cat = translate.read_catalogue(translate.catalogue_path(ROOT, lang, name), lang)
        assert not translate.problems(cat), translate.problems(cat)[:5]
        if translate.untranslated(cat):
            left[name] = translate.untranslated(cat)
    lib = translate.read_catalogue(messages.library_path(ROOT, lang), lang)
    assert not translate.problems(lib), translate.problems(lib)[:5]
    if translate.untranslated(lib):
        left["library messages"] = translate.untranslated(lib)
    assert not left, "not translated (or fuzzy: confirm them), by catalogue:\n" + "\n".join(
        f"  {k}: {len(v)}: " + "; ".join(repr(x[:50]) for x in v[:4]) for k, v in left.items())


def test_the_catalogues_hold_what_the_sources_say():
    """`bash course.sh translate update` was run after the last change of the English text."""
    for name in NAMES:
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        want = {b for _, b in translate.prose_blocks(nb)}
        for lang in LANGS:
            have = {m.id for m in translate.read_catalogue(translate.catalogue_path(ROOT, lang, name), lang) if m.id}
            assert want <= have, f"{lang}/{name}: run `bash course.sh translate update`: {sorted(want - have)[:3]}"
    want = {m.id for m in translate.readme_template(translate.student_readme(ROOT)) if m.id}
    for lang in LANGS:
        have = {m.id for m in translate.read_catalogue(translate.catalogue_path(ROOT, lang, translate.README), lang) if m.id}
        assert want <= have, f"{lang}/README: run `bash course.sh translate update`: {sorted(want - have)[:3]}"
    want = {t for t, _, _ in messages.extract(ROOT)}
    for lang in LANGS:
        have = {m.id for m in translate.read_catalogue(messages.library_path(ROOT, lang), lang) if m.id}
        assert want <= have, f"{lang} library: run `bash course.sh translate update`: {sorted(want - have)[:3]}"


# ----------------------------------------------------------------------------- a student in Korean
def test_a_korean_student_runs_the_checks_in_korean(tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(ROOT / "helpers", tree / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "COURSE_LANG": "ko", "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-m", "helpers.checks", "-k", "nb1"], cwd=tree, env=env,
                       capture_output=True, text=True, timeout=300)
    lines = [line for line in r.stdout.splitlines() if line.startswith("nb1 [")]
    assert r.returncode == 1 and lines, r.stdout + r.stderr
    assert all(HANGUL.search(line) for line in lines), r.stdout
    assert not any("is not done yet" in line for line in lines), "the stub's message is translated"
    assert "Traceback" not in r.stdout + r.stderr


# ----------------------------------------------------------------------------- the translated notebooks run
@pytest.mark.parametrize("lang,name", [(lang, name) for lang in LANGS for name in NAMES
                                       if IN_THE_BROWSER[name] != lang])
def test_a_translated_notebook_runs_in_fast_mode(lang, name, tmp_path):
    """The solved notebook with its prose translated, run in fast mode in notebooks/<lang>/:
    no error cell, and what it prints in words (claims) in that language. The pairs the
    browser test runs (tests/fixtures/notebook_languages.py) are not run twice."""
    import nbformat
    from nbclient import NotebookClient
    nb = json.loads((ROOT / "solutions" / "notebooks" / f"{name}.ipynb").read_text())
    cat = translate.read_catalogue(translate.catalogue_path(ROOT, lang, name), lang)
    nb = nbformat.reads(json.dumps(translate.translate_notebook(nb, cat, lang)), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    here = tmp_path / lang
    here.mkdir()
    saved = {k: os.environ.get(k) for k in ("COURSE_FAST", "PYTHONPATH", "COURSE_LANG")}
    os.environ.update(COURSE_FAST="1", PYTHONPATH=str(ROOT / "solutions"))
    os.environ.pop("COURSE_LANG", None)             # the folder's language, as a student's
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(here)}}).execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"
              and not (o.get("ename") == "CourseError" and "raises-exception" in c.metadata.get("tags", []))]
    assert not errors, errors
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    claims = [line for line in printed.splitlines() if line.startswith("\u2713")]
    assert all(SCRIPT[lang].search(line) for line in claims), claims[:3]


# ----------------------------------------------------------------------------- an instructor in Korean
def test_an_instructor_releases_and_grades_in_korean(tmp_path):
    """``grade release --lang ko``: the released notebook's text in Korean, its code the English
    release's; a submission graded there gets its feedback's check messages in Korean."""
    from autograde import batch, results, sandbox
    from autograde.course import Course
    why = sandbox.available()
    if why:
        pytest.skip(f"no sandbox here: {why}")
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from minicourse import mini_course

    from authoring import mistakes as catalogue
    a = "01_features"
    course = mini_course(tmp_path, lang="ko")
    root = course.root
    english = Course(tmp_path / "en", root)
    english.write_sources()
    assert Course(course.home, root).lang == "ko", "the release's language is remembered"
    ko = json.loads((course.release_dir / a / f"{a}.ipynb").read_text())
    en = json.loads((english.source / a / f"{a}.ipynb").read_text())
    assert HANGUL.search("".join(ko["cells"][0]["source"]))
    assert [c["source"] for c in json.loads((course.source / a / f"{a}.ipynb").read_text())["cells"]
            if c["cell_type"] == "code"] == [c["source"] for c in en["cells"] if c["cell_type"] == "code"]

    m = next(x for x in catalogue.load() if x.id == "normalize_filters/per-channel")
    d = tmp_path / "inbox" / "minji"
    shutil.copytree(root / "solutions" / "helpers", d / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    f = d / "helpers" / "features.py"
    f.write_text(catalogue.mutated_file(f, m.function, m.edits))
    shutil.copyfile(course.release_dir / a / f"{a}.ipynb", d / f"{a}.ipynb")
    course.collect(tmp_path / "inbox", [a], log=lambda *x: None)
    res = batch.autograde(course, [a], jobs=1, log=lambda *x: None)
    assert res["graded"] == 1 and not res["failures"], res
    results.feedback(course, [a], log=lambda *x: None)
    report = (course.feedback_dir / "minji" / a / "grading_report.html").read_text()
    from helpers.i18n import tr
    korean = tr(m.message, "ko")
    assert korean != m.message and HANGUL.search(korean)
    import html
    assert html.escape(korean) in report, report[-2000:]
