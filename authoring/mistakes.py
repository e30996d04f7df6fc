"""The catalogue of usual mistakes: ``solutions/mistakes/nbN.toml``, one place per mistake.

Each ``[[mistake]]`` is a small textual edit of an exercise's solution:

- ``at``: the library module and the exercise's qualified name (``"style.ConditionalInstanceNorm.forward"``);
- ``what``: a short name (the mistake's id is ``"<exercise>/<what>"``);
- ``edits``: ``[old, new]`` pairs inside its ``### BEGIN SOLUTION`` region; every ``old`` must
  occur exactly once there, so that the catalogue cannot rot silently;

and one of

- ``message``: what a student whose result matches this mistake reads. The release tool runs
  the mistake on its check's inputs and stores the results beside the checks
  (``helpers/checks/nbN.npz``); the check names the stored mistake nearest to a wrong result;
- ``property``: for a mistake that leaves no trace in the result (the caller's tensor or
  random state changed, autograd in a no-grad loop, ...): words of the message of the
  property the check tests (written as code in ``helpers/checks/nbN.py``);
- ``harmless``: why the edit does not change what the function is for (then the check and
  the graded cell must both pass, so the claim is tested).

:func:`mutated` applies a mistake to the imported library for the duration of a block.
"""
from __future__ import annotations

import __future__
import ast
import contextlib
import functools
import importlib
import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "solutions" / "mistakes"
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
FIELDS = {"at", "what", "edits", "message", "property", "harmless"}


class CatalogueRot(AssertionError):
    """A mistake no longer applies to the solution: fix the catalogue."""


@dataclass(frozen=True)
class Mistake:
    id: str                     # "<exercise>/<what>"
    notebook: int
    module: str                 # the library module, "features"
    function: str               # the qualified name, "ConditionalInstanceNorm.forward"
    edits: tuple                # ((old, new), ...)
    exercise: str               # its check's name: the function's, or for a method the class's in snake case
    message: str = ""
    caught_by: str = ""         # the TOML's `property`: words of the property check's message
    harmless: str = ""


def exercise_key(qualname: str) -> str:
    head = qualname.split(".")[0]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", head).lower() if "." in qualname else head


def load(folder: Path = CATALOGUE) -> list[Mistake]:
    out = []
    for path in sorted(Path(folder).glob("nb*.toml")):
        notebook = int(path.stem[2:])
        for e in tomllib.loads(path.read_text())["mistake"]:
            what = e.get("what", "?")
            assert set(e) <= FIELDS and {"at", "what", "edits"} <= set(e), f"{path.name} {what}: fields {sorted(e)}"
            module, function = e["at"].split(".", 1)
            edits = tuple(tuple(pair) for pair in e["edits"])
            assert edits and all(len(pair) == 2 for pair in edits), what
            kinds = [k for k in ("message", "property", "harmless") if e.get(k)]
            assert len(kinds) == 1, f"{path.name} {what}: exactly one of message, property, harmless"
            key = exercise_key(function)
            out.append(Mistake(f"{key}/{what}", notebook, module, function, edits, key, e.get("message", ""),
                               e.get("property", ""), e.get("harmless", "")))
    assert len({m.id for m in out}) == len(out), "two mistakes with the same id"
    return out


# ----------------------------------------------------------------------------- applying one
def _function_node(tree: ast.Module, qualname: str):
    node = tree
    for part in qualname.split("."):
        node = next((n for n in ast.iter_child_nodes(node)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise CatalogueRot(f"no {qualname} in the module")
    return node


@functools.lru_cache(maxsize=None)
def _parsed(path: str, mtime: float):
    text = Path(path).read_text()
    return text, ast.parse(text)


def mutated_source(path: Path, qualname: str, edits) -> tuple[str, int]:
    """The source of function ``qualname`` of file ``path`` with ``edits`` applied inside its
    solution region (each old snippet must occur exactly once there), dedented, and the line
    number where it starts."""
    text, tree = _parsed(str(path), Path(path).stat().st_mtime)
    node = _function_node(tree, qualname)
    lines = text.splitlines(keepends=True)
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    end = node.end_lineno        # the last statement: a closing marker may follow it
    while end < len(lines) and lines[end].strip().startswith("#"):
        end += 1
    func = lines[start:end]
    b = next((i for i, line in enumerate(func) if line.strip().startswith(SOLUTION_BEGIN)), None)
    e = next((i for i, line in enumerate(func) if line.strip().startswith(SOLUTION_END)), None)
    if b is None or e is None or e < b:
        raise CatalogueRot(f"{qualname} has no solution region")
    region = "".join(func[b + 1:e])
    for old, new in edits:
        n = region.count(old)
        if n != 1:
            raise CatalogueRot(f"{qualname}: the snippet {old!r} occurs {n} times in the solution region "
                               "(it must occur exactly once): the catalogue is out of date")
        region = region.replace(old, new)
    src = "".join(func[:b + 1]) + region + "".join(func[e:])
    return textwrap.dedent(src), start + 1


def mutated_file(path: Path, qualname: str, edits) -> str:
    """The whole text of file ``path`` with ``edits`` applied in ``qualname``'s solution
    region: a student's file that makes this mistake (the tests build classes this way)."""
    src, first = mutated_source(path, qualname, edits)
    n = len(mutated_source(path, qualname, ())[0].splitlines(keepends=True))
    lines = Path(path).read_text().splitlines(keepends=True)
    indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
    return "".join(lines[:first - 1]) + textwrap.indent(src, indent) + "".join(lines[first - 1 + n:])


@contextlib.contextmanager
def mutated(mistake: Mistake, helpers_pkg: str = "helpers"):
    """``mistake`` applied to the imported library for the duration of the block."""
    mod = importlib.import_module(f"{helpers_pkg}.{mistake.module}")
    src, first = mutated_source(Path(mod.__file__), mistake.function, mistake.edits)
    code = compile("\n" * (first - 1) + src, mod.__file__, "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    ns = dict(vars(mod))
    exec(code, ns)
    *owner_path, leaf = mistake.function.split(".")
    owner = mod
    for part in owner_path:
        owner = getattr(owner, part)
    original = owner.__dict__[leaf]
    setattr(owner, leaf, ns[leaf])
    try:
        yield
    finally:
        setattr(owner, leaf, original)
