"""Nothing shipped to students gives an exercise away.

A student receives the stubbed library ``helpers/`` (local checks included) and the notebooks,
through the repository and through the nbgrader release. The former ``helpers/checks.py``
shipped reference implementations (an occlusion loop, guided backprop and PGD by hand, ...)
that a student could lift to pass the checks and the grader. Two scans of a shipped tree:

1. **Dynamic.** Every registered local check is run against the solutions' library while each
   exercise call is recorded: its arguments (deep-copied before the call) and its result. Then
   every shipped callable - each function and method defined in a ``.py`` file of the tree
   (taken from the solutions' module of the same name: the same code outside the exercises,
   which ``bash course.sh release --check`` ties) and each function a notebook defines - is
   called on a copy of each recorded call's arguments (when they bind to its signature; else
   without the keywords it lacks, else positional only), with every exercise stubbed as in
   a student's tree. A result equal to the exercise's (``allclose``, relative ``1e-6``) is an
   answer given away. Not tried: exercises, callables without parameters, and callables whose
   source (or that of a shipped function they call) writes files, downloads or draws.
   A result that equals one of the call's own arguments is not counted: returning an input
   computes nothing (identity-like plumbing such as ``_check_one(model, x)``).
2. **Static.** Each solution region of ``solutions/helpers/*.py`` (the statements between the
   markers), normalised - docstrings dropped, every name that is not a builtin or imported
   (locals, arguments, loop variables, module functions) numbered in order of first
   appearance; attributes, keywords, imported names and constants kept - must not occur as a
   contiguous run of statements, normalised alike, in any statement list of shipped code.
   Every region is kept, even one-liners: a match would be a copy of an answer all the same.

:func:`scan` runs both on a folder holding ``helpers/`` and notebooks: the project root (what
the release tool writes and ``autograde`` copies into each nbgrader assignment) and every local
nbgrader release ``autograde/release/<a>/`` (generated, git-ignored; skipped when absent).
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import importlib
import inspect
import json
import os
import random
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import helpers
from helpers.checks import core
try:
    from authoring.conventions import SOLUTION_BEGIN, SOLUTION_END, exercise_functions
except ImportError:     # before the authoring tools moved out of tools/
    from tools.conventions import SOLUTION_BEGIN, SOLUTION_END, exercise_functions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "helpers"
TREES = [ROOT] + sorted(p for p in (ROOT / "autograde" / "release").glob("*") if (p / "helpers").is_dir())
EXERCISES = [(mod, qual) for mod, quals in exercise_functions(ROOT / "helpers").items() for qual in quals]
SIDE_EFFECTS = re.compile(r"write_bytes|write_text|open\(|\.save\(|savefig|mkdir|unlink|rmtree|download|_fetch|"
                          r"urlopen|urlretrieve|subprocess|plt\.|\.show\(|widgets|IPython")
SECONDS = 2.0           # per call of a shipped callable: longer is interrupted (and counts as no answer)


# ----------------------------------------------------------------------------- shipped code
def notebooks(root: Path) -> list[Path]:
    return sorted(root.glob("notebooks/*.ipynb")) + sorted(root.glob("*.ipynb"))


def code_cells(nb: Path):
    """``(label, tree)`` of each code cell that parses (IPython ``%``/``!`` lines blanked)."""
    for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())
            with contextlib.suppress(SyntaxError):
                yield f"{nb.name} cell {i}", ast.parse(src)


def shipped_sources(root: Path):
    """``(label, source, tree)`` of every shipped ``.py`` file and notebook code cell."""
    for path in sorted((root / "helpers").rglob("*.py")):
        text = path.read_text()
        yield path.relative_to(root).as_posix(), text, ast.parse(text)
    for nb in notebooks(root):
        for label, tree in code_cells(nb):
            yield label, ast.unparse(tree), tree


def defs(tree, prefix=""):
    """``(qualname, node)`` of the functions and methods a module or class defines."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield from defs(node, f"{prefix}{node.name}.")


def shipped_callables(root: Path):
    """``([(label, callable)], [notebook namespaces])``: what a student could call."""
    found, spaces = [], []          # (label, qualname, module or namespace, source of the def)
    for path in sorted((root / "helpers").rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        mod = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        text = path.read_text()
        for qual, node in defs(ast.parse(text)):
            if (mod, qual) not in EXERCISES:
                found.append((f"{rel}.py:{node.lineno} {qual}", qual, importlib.import_module(mod),
                              ast.get_source_segment(text, node)))
    for nb in notebooks(root):
        space = {"__name__": "notebook", "torch": torch, "np": np, "helpers": helpers}
        spaces.append(space)
        cells = list(code_cells(nb))
        for kinds in ((ast.Import, ast.ImportFrom), (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for label, tree in cells:
                for node in (n for n in tree.body if isinstance(n, kinds)):
                    imported = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                        a.name for a in getattr(node, "names", [])]
                    if not all(n.split(".")[0] in ("torch", "numpy", "helpers", "math") for n in imported):
                        continue            # imports of torch, NumPy and the library only: no widgets
                    try:
                        exec(compile(ast.Module([node], []), label, "exec"), space)
                    except Exception:  # noqa: BLE001 - a definition that fails on its own is skipped
                        continue
                    if isinstance(node, ast.ClassDef):
                        found += [(f"{label}: {q}", q, space, ast.unparse(n)) for q, n in defs(node, node.name + ".")]
                    elif not imported:
                        found.append((f"{label}: {node.name}", node.name, space, ast.unparse(node)))
    # a callable that writes, downloads or draws, directly or through a shipped function it calls
    bad = {qual.split(".")[-1] for _, qual, _, src in found if SIDE_EFFECTS.search(src)}
    while True:
        more = {qual.split(".")[-1] for _, qual, _, src in found
                if any(re.search(rf"\b{re.escape(b)}\(", src) for b in bad)} - bad
        if not more:
            break
        bad |= more
    out = []
    for label, qual, where, _ in found:
        if qual.split(".")[-1] in bad:
            continue
        obj = where.get(qual.split(".")[0]) if isinstance(where, dict) else getattr(where, qual.split(".")[0], None)
        for part in qual.split(".")[1:]:
            obj = getattr(obj, part, None)
        with contextlib.suppress(TypeError, ValueError):
            if callable(obj) and inspect.signature(obj).parameters:
                out.append((label, obj, inspect.signature(obj)))
    return out, spaces


# ----------------------------------------------------------------------------- part 1: dynamic
def numbers(value):
    """A result as ``{field: array}`` (a module by its state), or None."""
    return core.as_arrays(value.state_dict() if isinstance(value, torch.nn.Module) else value)


@contextlib.contextmanager
def replaced(make, spaces=()):
    """Every exercise replaced by ``make(name, fn)``: in its module or class, and wherever a
    module of the library or a notebook namespace holds it under a name."""
    saved = []
    namespaces = [vars(m) for n, m in list(sys.modules.items()) if n.split(".")[0] == "helpers"] + list(spaces)
    for mod, qual in EXERCISES:
        owner = importlib.import_module(mod)
        for part in qual.split(".")[:-1]:
            owner = getattr(owner, part)
        attr = qual.split(".")[-1]
        fn = vars(owner)[attr]
        new = make(qual, fn)
        if isinstance(owner, type):
            saved.append((owner, attr, fn))
            setattr(owner, attr, new)
        for space in namespaces:
            for k in [k for k, v in space.items() if v is fn]:
                saved.append((space, k, fn))
                space[k] = new
    try:
        yield
    finally:
        for where, k, v in reversed(saved):
            setattr(where, k, v) if isinstance(where, type) else where.__setitem__(k, v)


def stub(name, fn):
    def not_done(*args, **kwargs):
        raise NotImplementedError(f"exercise `{name}` is a stub in a student's tree")
    return not_done


@pytest.fixture(scope="module")
def calls():
    """``[(exercise, (args, kwargs), result arrays)]`` of every exercise call the checks make."""
    recorded = []

    def capture(name, fn):
        def wrapper(*args, **kwargs):
            try:
                before = copy.deepcopy((args, kwargs))
            except Exception:  # noqa: BLE001 - arguments that cannot be copied cannot be replayed
                before = None
            out = fn(*args, **kwargs)
            want = numbers(out)
            if before is not None and want and any(a.size for a in want.values()):
                recorded.append((name, before, want))
            return out
        return wrapper
    with replaced(capture):
        failed = [r[0] for name in core.REGISTRY if (r := core.run(name)) is not None]
    assert not failed, f"the checks must pass on the solutions: {failed}"
    return recorded


class _Slow(Exception):
    pass


@contextlib.contextmanager
def sandbox(tmp: Path):
    """Global state that a shipped callable may change (seeds, threads, grad mode, deterministic
    algorithms, environment, working folder) restored afterwards; a slow call interrupted."""
    state = (torch.get_rng_state(), np.random.get_state(), random.getstate(), torch.get_num_threads(),
             torch.is_grad_enabled(), torch.are_deterministic_algorithms_enabled(), dict(os.environ), os.getcwd())
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(_Slow()))
    os.chdir(tmp)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        torch.set_rng_state(state[0]), np.random.set_state(state[1]), random.setstate(state[2])
        torch.set_num_threads(state[3]), torch.set_grad_enabled(state[4])
        torch.use_deterministic_algorithms(state[5], warn_only=True)
        os.environ.clear(), os.environ.update(state[6]), os.chdir(state[7])
        import matplotlib.pyplot as plt
        plt.close("all")


def attempt(f, sig, args, kwargs):
    """``f``'s result on copies of the first of (args, kwargs), (args, the keywords it takes),
    (args) that binds; None when none binds or the call fails."""
    params = sig.parameters
    any_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for kw in (kwargs, {k: v for k, v in kwargs.items() if any_kw or k in params}, {}):
        try:
            sig.bind(*args, **kw)
        except TypeError:
            continue
        grad = torch.is_grad_enabled()
        try:
            a, k = copy.deepcopy((args, kw))
            signal.setitimer(signal.ITIMER_REAL, SECONDS)
            return numbers(f(*a, **k))
        except BaseException as e:  # noqa: BLE001 - anything a wrong call raises (SystemExit too)
            if isinstance(e, KeyboardInterrupt):
                raise
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            torch.set_grad_enabled(grad)
    return None


def dynamic_matches(root: Path, calls, tmp: Path) -> list[str]:
    candidates, spaces = shipped_callables(root)
    hits = {}
    with replaced(stub, spaces), sandbox(tmp):
        for name, (args, kwargs), want in calls:
            inputs = [x for x in map(numbers, (*args, *kwargs.values())) if x]
            for label, f, sig in candidates:
                if (label, name) in hits:
                    continue
                got = attempt(f, sig, args, kwargs)
                if got and core.same(got, want, 1e-9, 1e-6) and not any(core.same(got, x, 1e-9, 1e-6) for x in inputs):
                    hits[label, name] = f"{label} returns the expected result of exercise {name}"
    return list(hits.values())


# ----------------------------------------------------------------------------- part 2: static
def is_doc(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def normal(stmts, keep: set) -> str:
    """The statements as text, docstrings dropped, names outside ``keep`` numbered in order of first appearance."""
    names = {}

    def rename(n):
        return n if n in keep else names.setdefault(n, f"_{len(names)}")

    def dump(node):
        if isinstance(node, list):
            return "[" + ",".join(dump(x) for x in node if not is_doc(x)) + "]"
        if not isinstance(node, ast.AST):
            return repr(node)
        parts = []
        for f, v in ast.iter_fields(node):
            if f in ("ctx", "type_comment", "kind"):
                continue
            if (f == "id" and isinstance(node, ast.Name)) or (f == "arg" and isinstance(node, ast.arg)) or (
                    f == "name" and isinstance(v, str) and not isinstance(node, ast.alias)):
                v = rename(v)
            elif f == "names" and isinstance(node, (ast.Global, ast.Nonlocal)):
                v = [rename(x) for x in v]
            parts.append(dump(v))
        return f"{type(node).__name__}({','.join(parts)})"
    return dump(list(stmts))


def statement_lists(tree):
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield node, [s for s in body if not is_doc(s)]


def solution_regions():
    """``(label, statements)``: the top-level statements of each solution region."""
    for path in sorted(SOLUTIONS.glob("*.py")):
        text = path.read_text()
        tree, lines = ast.parse(text), [line.strip() for line in text.splitlines()]
        begins = [i for i, line in enumerate(lines, 1) if line.startswith(SOLUTION_BEGIN)]
        ends = [i for i, line in enumerate(lines, 1) if line.startswith(SOLUTION_END)]
        for b, e in zip(begins, ends):
            funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.lineno < b <= n.end_lineno]
            owner = min(funcs, key=lambda n: n.end_lineno - n.lineno).name if funcs else path.stem
            for node, body in statement_lists(tree):
                run = [s for s in body if b < s.lineno and s.end_lineno < e]
                if run and not b < getattr(node, "lineno", 0) < e:
                    yield f"{owner} ({path.name}:{b})", run


def static_matches(root: Path) -> list[str]:
    sources = list(shipped_sources(root))
    keep = set(dir(builtins)) | {(a.asname or a.name).split(".")[0] for t in [ast.parse(p.read_text()) for p in SOLUTIONS.glob("*.py")]
                                 + [t for _, _, t in sources] for n in ast.walk(t)
                                 if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    patterns = {}           # statement types -> {normal form: exercise}
    for label, stmts in solution_regions():
        patterns.setdefault(tuple(type(s) for s in stmts), {})[normal(stmts, keep)] = label
    hits = []
    for where, _, tree in sources:
        for _, body in statement_lists(tree):
            types = [type(s) for s in body]
            for key, forms in patterns.items():
                for i in range(len(body) - len(key) + 1):
                    if tuple(types[i:i + len(key)]) == key and (label := forms.get(normal(body[i:i + len(key)], keep))):
                        hits.append(f"{where}:{body[i].lineno} holds the solution of {label}")
    return hits


# ----------------------------------------------------------------------------- the tests
def scan(root: Path, calls, tmp: Path) -> list[str]:
    """Everything in the shipped tree ``root`` that gives an exercise away (parts 1 and 2)."""
    return dynamic_matches(root, calls, tmp) + static_matches(root)


@pytest.mark.parametrize("root", TREES, ids=lambda p: "project" if p == ROOT else p.relative_to(ROOT).as_posix())
def test_nothing_shipped_gives_an_exercise_away(root, calls, tmp_path):
    found = scan(root, calls, tmp_path)
    assert not found, "shipped code gives exercises away:\n" + "\n".join(found)


def test_the_scans_see_the_answers(calls):
    """Not vacuous: the checks' calls were recorded, and the static scan finds every solution
    region in the solutions' own library."""
    assert calls or not core.REGISTRY, "no exercise call was recorded while the checks ran"
    regions = {label for label, _ in solution_regions()}
    assert len(regions) >= len(EXERCISES), "fewer solution regions than exercises"
    found = {h.split(" holds the solution of ")[1] for h in static_matches(ROOT / "solutions")}
    assert found == regions, f"regions not found in their own file: {sorted(regions - found)}"
