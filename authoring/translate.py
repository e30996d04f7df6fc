"""The course in other languages: gettext catalogues of the notebooks' prose, one source of code.

    bash course.sh translate update      # refresh every catalogue from the English sources
    bash course.sh translate status      # what is not translated yet (exit 1 if anything)

The English notebook sources (``solutions/notebooks/NN_name.py``) are the only place a notebook
is written. The prose of each student notebook is cut into blocks (the paragraphs of its
markdown cells: text between blank lines; a fenced code block is never translated) and each
block is a message of ``solutions/locale/<lang>/NN_name.po``, a standard gettext catalogue
(Babel reads and writes it; any translation tool edits it). The message's id is the English
block itself, so an unchanged paragraph keeps its translation; ``update`` marks the
translation of a changed paragraph *fuzzy* (Babel's fuzzy matching finds the old one), and a
fuzzy or missing translation is never used: that block stays English in the translated
notebook until a translator confirms it (``status`` lists them).

The library's messages (the local checks' and the student-facing errors, the exercises'
docstring summaries, the figures' titles) are the catalogue ``solutions/helpers/locale/<lang>.po``
(see :mod:`authoring.messages`), shipped with the library and read at run time by
``helpers.i18n``.

The README's student section (``## For students``) is the catalogue
``solutions/locale/<lang>/README.po`` the same way (each item of a list is its own block).

``bash course.sh release`` writes ``notebooks/<lang>/NN_name.ipynb`` for every language of
:data:`LANGUAGES`: the English student notebook with each block replaced by its translation;
code cells are the English ones, byte for byte; and ``notebooks/<lang>/README.md``, the
README's student section in that language.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = {"ko": "한국어", "zh": "简体中文"}          # the released languages besides English
PROJECT = "cnn-vis"
_SEP = re.compile(r"(\n[ \t]*\n)")
_FENCE = re.compile(r"^\s*(```|~~~)")
README = "README"                       # the catalogue of the README's student section
_STUDENT_SECTION = re.compile(r"(?ms)^## For students\n.*?(?=^## )")
_ITEM = re.compile(r"(\n)(?=- )")      # before a top-level list item


def locale_dir(root: Path = ROOT) -> Path:
    return Path(root) / "solutions" / "locale"


def catalogue_path(root: Path, lang: str, notebook: str) -> Path:
    return locale_dir(root) / lang / f"{notebook}.po"


# ----------------------------------------------------------------------------- blocks
def split_blocks(text: str) -> list[str]:
    """``text`` as pieces: blocks and the blank-line separators between them, in order
    (``"".join`` gives ``text`` back). A fenced code block is one piece whatever its blank lines."""
    pieces, fence = [], False
    for piece in _SEP.split(text):
        if pieces and fence:                   # inside an open fence: glue to it
            pieces[-1] += piece
        else:
            pieces.append(piece)
        if not _SEP.fullmatch(piece):
            for line in piece.splitlines():
                if _FENCE.match(line):
                    fence = not fence
    return pieces


def translatable(block: str) -> bool:
    """A block with words in it: not a separator, a fenced code block, only math or only code."""
    if not block.strip() or _SEP.fullmatch(block) or _FENCE.match(block):
        return False
    rest = re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|<[^>]+>|!\[[^\]]*\]\([^)]*\)", "", block, flags=re.S)
    return bool(re.search(r"[A-Za-z]{2}", rest))


def prose_blocks(nb: dict) -> list[tuple[int, str]]:
    """(cell index, block) of every translatable block of the notebook's markdown cells."""
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out += [(i, b) for b in split_blocks(src) if translatable(b)]
    return out


def student_readme(root: Path = ROOT) -> str:
    """The README's student section: from ``## For students`` to the next section."""
    m = _STUDENT_SECTION.search((Path(root) / "README.md").read_text())
    if m is None:
        raise SystemExit("README.md has no '## For students' section (translate.py reads it)")
    return m.group(0)


def readme_pieces(text: str) -> list[str]:
    """``text`` as pieces like :func:`split_blocks`, each item of a list its own piece."""
    out = []
    for piece in split_blocks(text):
        out += [p for p in _ITEM.split(piece) if p] if translatable(piece) else [piece]
    return out


# ----------------------------------------------------------------------------- catalogues
def template(nb: dict, name: str):
    """The catalogue of a notebook's prose, without translations (a gettext template)."""
    return _template([(i, block) for i, block in prose_blocks(nb)], name)


def readme_template(text: str):
    """The catalogue of the README's student section, without translations."""
    return _template([(i, p) for i, p in enumerate(readme_pieces(text)) if translatable(p)], README)


def _template(blocks, name: str):
    from babel.messages.catalog import Catalog
    cat = Catalog(project=PROJECT, fuzzy=False)
    for i, block in blocks:
        cat.add(block, locations=[(name, i)])
    return cat


def read_catalogue(path: Path, lang: str):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po
    if not Path(path).exists():
        return Catalog(locale=lang, project=PROJECT, fuzzy=False)
    with open(path, "rb") as f:
        return read_po(f, locale=lang)


def write_catalogue(cat, path: Path) -> None:
    from babel.messages.pofile import write_po
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        write_po(f, cat, width=0, omit_header=False, sort_output=False, include_previous=True)
    tmp.replace(path)


def translation(cat, block: str) -> str | None:
    """The confirmed translation of ``block``: None when missing or fuzzy."""
    m = cat.get(block)
    if m is None or m.fuzzy or not m.string:
        return None
    return m.string


def untranslated(cat) -> list[str]:
    """The ids of the messages with no confirmed translation."""
    return [m.id for m in cat if m.id and (m.fuzzy or not m.string)]


def student_notebooks(root: Path = ROOT) -> dict[str, dict]:
    """{name: the English student notebook} of every source."""
    from authoring import notebooks
    from authoring.release import source_notebook, student_notebook
    return {p.stem: student_notebook(source_notebook(p)) for p in notebooks.sources(root)}


def update(root: Path = ROOT, languages=None, log=print) -> list[Path]:
    """Refresh every notebook catalogue from the sources: new blocks added untranslated,
    changed ones fuzzy (with the previous English kept as a comment), removed ones obsolete."""
    written = []
    templates = {name: template(nb, name) for name, nb in student_notebooks(root).items()}
    templates[README] = readme_template(student_readme(root))
    for name, tmpl in templates.items():
        for lang in languages or LANGUAGES:
            path = catalogue_path(root, lang, name)
            cat = read_catalogue(path, lang)
            cat.update(tmpl, no_fuzzy_matching=False, update_header_comment=False)
            write_catalogue(cat, path)
            written.append(path)
            missing = untranslated(cat)
            if missing:
                log(f"{path.relative_to(root)}: {len(missing)} of {len(tmpl)} block(s) to translate or confirm")
    return written


# ----------------------------------------------------------------------------- notebooks
def translate_notebook(nb: dict, cat, lang: str, summaries: dict | None = None) -> dict:
    """``nb`` with its prose in ``lang`` where ``cat`` has a confirmed translation; code cells
    untouched. ``summaries``: {exercise: its docstring's first line in ``lang``}, shown under
    the block that introduces the exercise."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        out = []
        for piece in split_blocks(src):
            t = translation(cat, piece) if translatable(piece) else None
            out.append(piece if t is None else t)
            m = re.search(r"\*\*Exercise \d+: `(\w+)`", piece)
            if m and summaries and summaries.get(m.group(1)):
                out.append(f"\n\n> `{m.group(1)}`: {summaries[m.group(1)]}")
        cell["source"] = "".join(out).splitlines(keepends=True)
    nb.setdefault("metadata", {})["course_language"] = lang
    return nb


def translate_readme(text: str, cat) -> str:
    """The README's student section with each piece in ``cat``'s language where confirmed."""
    return "".join((translation(cat, p) or p) if translatable(p) else p for p in readme_pieces(text))


_SPANS = {"placeholders {n}": re.compile(r"\{\d+\}"), "code spans `...`": re.compile(r"``[^`]+``|`[^`]+`"),
          "formulas $...$": re.compile(r"\$[^$]+\$"), "links (...)": re.compile(r"\]\(([^)]+)\)")}


def problems(cat) -> list[str]:
    """What a translation must keep from its English message and does not: the holes of a
    template, the code spans, the formulas and link targets (each the same, as many times),
    a heading's level, a list's items."""
    out = []
    for m in cat:
        if not m.id or not m.string:
            continue
        for what, rx in _SPANS.items():
            if sorted(rx.findall(m.id)) != sorted(rx.findall(m.string)):
                out.append(f"{what} differ: {m.id[:60]!r}")
        head = lambda t: re.match(r"#*", t).group(0)  # noqa: E731
        if head(m.id) != head(m.string):
            out.append(f"heading level differs: {m.id[:60]!r}")
        items = lambda t: len(re.findall(r"^\s*(?:\d+\.|[-*])\s", t, re.M))  # noqa: E731
        if items(m.id) != items(m.string):
            out.append(f"list items differ: {m.id[:60]!r}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    sp.add_parser("update", help="refresh every catalogue from the English sources")
    sp.add_parser("status", help="list what is not translated yet; exit 1 if anything")
    v = sp.add_parser("validate", help="check translations keep what they must (placeholders, code, formulas)")
    v.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "validate":
        bad = 0
        for f in args.files:
            lang = f.stem if f.parent.name == "locale" else f.parent.name
            cat = read_catalogue(f, lang)
            found = problems(cat)
            bad += len(found)
            done = sum(1 for m in cat if m.id and m.string and not m.fuzzy)
            print(f"{f}: {done} of {sum(1 for m in cat if m.id)} translated, {len(found)} problem(s)"
                  + "".join(f"\n    {x}" for x in found[:30]))
        return 1 if bad else 0
    if args.cmd == "update":
        from authoring import messages
        n = len(update()) + len(messages.update())
        print(f"updated {n} catalogue(s)")
        return 0
    from authoring import messages
    missing = 0
    for lang in LANGUAGES:
        for name in [*student_notebooks(), README]:
            left = untranslated(read_catalogue(catalogue_path(ROOT, lang, name), lang))
            missing += len(left)
            print(f"{lang} {name}: {len(left)} block(s) not translated" + "".join(f"\n    {b[:70]!r}" for b in left[:5]))
        left = messages.untranslated_messages(ROOT, lang)
        missing += len(left)
        print(f"{lang} library messages: {len(left)} not translated" + "".join(f"\n    {b[:70]!r}" for b in left[:5]))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
