"""The course's authoring conventions, in one place.

Used by the release tool (``authoring/release.py``), the grader (``autograde/``) and the tests.
The student library reads one of them back at run time: :func:`stub_message` is what an
exercise stub raises, and ``helpers.utils.not_done`` recognizes it (a test ties the two).

- **Solutions**: in ``solutions/helpers/*.py`` an exercise body sits between
  :data:`SOLUTION_BEGIN` and :data:`SOLUTION_END`; the release replaces it with a stub that
  raises ``NotImplementedError(stub_message(...))`` naming the exercise.
- **An exercise** is a function (or method) of the released library whose body raises such
  a stub (:func:`exercise_functions`); its graded cell is ``nbN_<key>`` (:func:`exercise_key`).
- **Hidden tests**: lines of a graded cell between :data:`HIDDEN_BEGIN` and :data:`HIDDEN_END`
  (removed from the student notebook, cleared before the student's kernel runs, kept by the
  judge).
- **Written answers**: a markdown cell with nbgrader ``solution: true``, holding the model
  answer (it starts with :data:`MODEL_ANSWER`); students get :data:`ANSWER_PLACEHOLDER`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARK_SCHEME_BEGIN, MARK_SCHEME_END = "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ==="
MODEL_ANSWER = "**Model answer.**"
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
CODE_PLACEHOLDER = ["# YOUR CODE HERE\n", "raise NotImplementedError()\n"]
_STUB_START = "exercise `"


def stub_message(name: str, where: str) -> str:
    """What the stub of exercise ``name`` (a qualified name) in ``where`` raises."""
    return f"{_STUB_START}{name}` in {where} is not done yet: write its body here"


def stub_lines(indent: str, name: str, where: str) -> list[str]:
    """The lines that replace a solution region."""
    return [f"{indent}# YOUR CODE HERE: exercise `{name}`\n",
            f'{indent}raise NotImplementedError("{stub_message(name, where)}")\n']


def _raises_stub(node: ast.AST) -> bool:
    return isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
        getattr(node.exc.func, "id", "") == "NotImplementedError" and bool(node.exc.args) and \
        isinstance(node.exc.args[0], ast.Constant) and str(node.exc.args[0].value).startswith(_STUB_START)


def exercises_in(source: str) -> list[str]:
    """Qualified names (``f``, ``Class.method``) of the functions whose body raises a stub."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, prefix + [child.name])
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_raises_stub(sub) for sub in ast.walk(child)):
                    found.append(".".join(prefix + [child.name]))
    visit(ast.parse(source), [])
    return found


def exercise_functions(helpers_dir: Path) -> dict[str, list[str]]:
    """``{"helpers.<module>": [qualname, ...]}`` of the stubbed exercises of a released library."""
    out = {}
    for p in sorted(Path(helpers_dir).glob("*.py")):
        names = exercises_in(p.read_text())
        if names:
            out[f"helpers.{p.stem}"] = names
    return out


def exercise_key(qualname: str) -> str:
    """The name of an exercise in grade ids and checks: the function's name, or for a
    method the class name in snake case (``ConditionalInstanceNorm.forward`` ->
    ``conditional_instance_norm``)."""
    if "." not in qualname:
        return qualname
    return re.sub(r"(?<!^)(?=[A-Z])", "_", qualname.split(".")[0]).lower()


def strip_region(src: str, begin: str, end: str, replacement: list[str] | None) -> str:
    """``src`` with every ``begin`` ... ``end`` region (markers included) removed, or replaced
    by ``replacement`` lines at the marker's indentation."""
    out, inside = [], False
    for line in src.splitlines(keepends=True):
        s = line.strip()
        if s.startswith(begin):
            inside = True
            if replacement is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + r for r in replacement]
            continue
        if inside and s.startswith(end):
            inside = False
            continue
        if not inside:
            out.append(line)
    return "".join(out).rstrip("\n")


def hidden_line_numbers(src: str) -> set[int]:
    """1-based numbers of the lines of a test cell that are hidden (markers included)."""
    hidden, inside = set(), False
    for i, line in enumerate(src.splitlines(), 1):
        if line.strip().startswith(HIDDEN_BEGIN):
            inside = True
        if inside:
            hidden.add(i)
        if line.strip().startswith(HIDDEN_END):
            inside = False
    return hidden


def hidden_lines(src: str, min_length: int = 12) -> list[str]:
    """The hidden test lines of a cell (stripped, markers excluded), those of at least
    ``min_length`` characters: what must never appear in anything a student receives."""
    lines = src.splitlines()
    return [lines[i - 1].strip() for i in sorted(hidden_line_numbers(src))
            if not lines[i - 1].strip().startswith(("### BEGIN", "### END")) and len(lines[i - 1].strip()) >= min_length]


def notebook_modules(helpers_dir: Path) -> dict[int, list[str]]:
    """``{notebook: [module, ...]}``: each exercise module of the library says ``NOTEBOOK = N``."""
    out = {}
    for p in sorted(Path(helpers_dir).glob("*.py")):
        m = re.search(r"^NOTEBOOK = (\d+)", p.read_text(), re.M)
        if m:
            out.setdefault(int(m.group(1)), []).append(p.stem)
    return out
