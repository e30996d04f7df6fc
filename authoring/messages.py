"""The library's messages as a gettext catalogue: what ``helpers.i18n.tr`` translates.

:func:`extract` reads, from what students see (the library with its solutions stubbed, the
local checks, the catalogue of mistakes, the notebooks' code), every message a student can
meet:

- the errors and the checks' failures: the message of ``CourseError(...)``,
  ``AssertionError(...)``, ``Wrong(...)``, ``NotImplementedError(...)``, ``assert ..., message``
  and the third argument (``why``) of ``expect``;
- the usual mistakes' messages (``solutions/mistakes/nbN.toml``) and the exercise stub's;
- the check lines' words (passed, FAILED, ...), the exercises' docstring summaries;
- in the notebooks' code, the figures' titles (``title=``, ``titles=[...]``, ``suptitle=``)
  and the claims (``claim(holds, "...")``).

A message written as an f-string becomes a template: each ``{...}`` part is a numbered hole
(``"got {0} images, expected {1}"``), with the expressions as a comment for the translator;
``tr`` fills the holes with the values of the message it meets. :func:`update` writes
``solutions/helpers/locale/<lang>.po`` (Babel: new messages untranslated, changed ones fuzzy).
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS = {"CourseError", "AssertionError", "Wrong", "NotImplementedError"}
TITLE_KEYWORDS = {"title", "titles", "suptitle", "query_titles"}
WORDS = ["passed", "FAILED", "ERROR", "not done", "all local checks passed",
         "none of the usual mistakes", "(run without COURSE_FAST to see it)", "fast mode",
         "fewer steps: not converged", "\u2717 this run does not show:",
         "[fast mode] this smaller run cannot show:"]


def library_path(root: Path, lang: str) -> Path:
    return Path(root) / "solutions" / "helpers" / "locale" / f"{lang}.po"


def template_of(node: ast.AST) -> tuple[str, list[str]] | None:
    """(template, the holes' expressions) of a string constant or an f-string, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, []
    if isinstance(node, ast.JoinedStr):
        text, holes = [], []
        for part in node.values:
            if isinstance(part, ast.Constant):
                text.append(str(part.value).replace("{", "{{").replace("}", "}}"))
            else:
                text.append("{%d}" % len(holes))
                holes.append(ast.unparse(part.value))
        return "".join(text), holes
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = template_of(node.left), template_of(node.right)
        if a and b:
            shift = len(a[1])
            right = b[0]
            for i in reversed(range(len(b[1]))):
                right = right.replace("{%d}" % i, "{%d}" % (i + shift))
            return a[0] + right, a[1] + b[1]
    return None


def _messages_in(tree: ast.AST, where: str, code_of_notebook: bool = False):
    """(message template, holes, where) of every message node of a module or a cell."""
    for node in ast.walk(tree):
        found = []
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if not code_of_notebook:
                if name in CALLS and node.args:
                    found.append(node.args[0])
                if name == "expect":
                    found += node.args[2:3] + [k.value for k in node.keywords if k.arg == "why"]
            if name == "claim" and len(node.args) >= 2:
                found.append(node.args[1])
            if name in ("set_title", "suptitle", "set_xlabel", "set_ylabel") and node.args:
                found.append(node.args[0])
            for k in node.keywords:
                if k.arg in TITLE_KEYWORDS:
                    found += list(k.value.elts) if isinstance(k.value, (ast.List, ast.Tuple)) else [k.value]
        elif isinstance(node, ast.Assert) and node.msg is not None and not code_of_notebook:
            found.append(node.msg)
        for f in found:
            t = template_of(f)
            if t and any(c.isalpha() for c in t[0]):
                yield t[0], t[1], f"{where}:{getattr(f, 'lineno', 0)}"


def extract(root: Path = ROOT) -> list[tuple[str, list[str], str]]:
    """Every message (template, holes, where), first place first, each message once."""
    from authoring import notebooks
    from authoring.conventions import stub_message
    from authoring.release import source_notebook, strip_solutions, student_notebook
    root = Path(root)
    helpers = root / "solutions" / "helpers"
    out: dict[str, tuple[str, list[str], str]] = {}

    def add(text, holes, where):
        if text.strip() and text not in out:
            out[text] = (text, holes, where)

    for w in WORDS:
        add(w, [], "helpers/checks/core.py:0")
    add(": expected {0}, got {1}", ["the expected value", "your value"], "helpers/checks/core.py:0")   # a detail
    stub = stub_message("\x00", "\x01").replace("{", "{{").replace("}", "}}")
    add(stub.replace("\x00", "{0}").replace("\x01", "{1}"), ["exercise", "file"], "authoring/conventions.py:0")
    for p in sorted(helpers.rglob("*.py")):
        rel = p.relative_to(helpers.parent).as_posix()
        for t in _messages_in(ast.parse(strip_solutions(p.read_text(), rel)), rel):
            add(*t)
    for p in sorted((root / "solutions" / "mistakes").glob("nb*.toml")):
        for e in tomllib.loads(p.read_text())["mistake"]:
            if e.get("message"):
                add(e["message"], [], f"mistakes/{p.name}:0")
    for module, names in exercise_names(helpers).items():
        for name, summary in docstring_summaries(helpers / f"{module}.py", names).items():
            add(summary, [], f"{module.replace('.', '/')}.py:0")
    for src in notebooks.sources(root):
        nb = student_notebook(source_notebook(src))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            code = "".join(cell["source"])
            code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for t in _messages_in(tree, f"{src.stem}.py#cell{i}", code_of_notebook=True):
                add(*t)
    return list(out.values())


def exercise_names(helpers: Path) -> dict[str, list[str]]:
    """{module: [qualified names of its exercises]} of the complete library (its solution
    regions are what make a function an exercise)."""
    from authoring.conventions import exercises_in
    from authoring.release import strip_solutions
    out = {}
    for p in sorted(Path(helpers).glob("*.py")):
        names = exercises_in(strip_solutions(p.read_text(), f"helpers/{p.name}"))
        if names:
            out[p.stem] = names
    return out


def docstring_summaries(path: Path, names: list[str]) -> dict[str, str]:
    """{qualified name: its docstring's first sentence line, without "Notebook N, exercise K."}."""
    tree = ast.parse(Path(path).read_text())
    out = {}
    for q in names:
        node = tree
        for part in q.split("."):
            node = next((n for n in ast.iter_child_nodes(node)
                         if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
            if node is None:
                break
        doc = ast.get_docstring(node) if node is not None else None
        if doc:
            first = doc.strip().split("\n\n")[0].replace("\n", " ")
            out[q] = re.sub(r"^Notebook \d+, exercise \d+\.\s*", "", first)
    return out


def template(root: Path = ROOT):
    from babel.messages.catalog import Catalog
    cat = Catalog(project="cnn-vis", fuzzy=False)
    for text, holes, where in extract(root):
        comments = [" ".join(f"{{{i}}} = {h}" for i, h in enumerate(holes))] if holes else []
        file, _, line = where.rpartition(":")
        loc = [(file, int(line) or None)] if line.isdigit() else [(where, None)]
        cat.add(text, locations=loc, auto_comments=comments, flags=("python-brace-format",) if holes else ())
    return cat


def update(root: Path = ROOT, languages=None) -> list[Path]:
    from authoring.translate import LANGUAGES, read_catalogue, write_catalogue
    tmpl = template(root)
    written = []
    for lang in languages or LANGUAGES:
        path = library_path(root, lang)
        cat = read_catalogue(path, lang)
        cat.update(tmpl, no_fuzzy_matching=False, update_header_comment=False)
        write_catalogue(cat, path)
        written.append(path)
    return written


def untranslated_messages(root: Path, lang: str) -> list[str]:
    from authoring.translate import read_catalogue, untranslated
    return untranslated(read_catalogue(library_path(root, lang), lang))
