"""Nothing shipped to students gives an exercise away: the former ``helpers/checks.py`` shipped
reference implementations (an occlusion loop, guided backprop and PGD by hand...) to lift.

:func:`scan` looks at a shipped tree (``helpers/`` and the notebooks) in two ways:

1. **Dynamic: no shipped callable computes an answer.** The registered checks run on the
   solutions' library while each exercise call is recorded (arguments deep-copied before the
   call, the first ``PER_EXERCISE`` of each exercise; the result). Every shipped callable - the
   functions and methods of the tree's ``.py`` files, run from the solutions' modules of the same
   names (identical outside the exercises: ``bash course.sh release --check``), and the functions
   the notebooks define - is called on copies of those arguments (as given, else without the
   keywords it lacks, else positional only), every exercise stubbed as in a student's tree. A
   result equal to the exercise's (same structure, within 1e-6 of its scale) that is none of the
   call's own arguments is an answer given away. Not tried: exercises, callables without
   parameters, and callables that write, download or draw (``SIDE_EFFECTS`` in their source or
   in a shipped function they call). Each call: one thread, a temporary folder, ``SECONDS`` at
   most; a callable that raised is not retried on that exercise's calls of the same :func:`kind`.
2. **Static: no solution body is shipped, renamed or not.** Each solution region of
   ``solutions/helpers/*.py`` is normalised (docstrings dropped; names that are neither builtins
   nor imported - locals, arguments, module functions - numbered in order of appearance;
   attributes, keywords, imported names, constants kept) and must not occur as a contiguous run
   of statements, normalised alike, in a shipped ``.py`` file or notebook code cell. Every region
   is kept, one-liners too: a copy of one is an answer all the same.

Scanned: the project root (what the release tool writes and ``autograde`` copies unchanged into
each nbgrader assignment) and each local release ``autograde/release/<a>/`` (git-ignored).
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
from authoring.conventions import SOLUTION_BEGIN, SOLUTION_END, exercise_functions
from helpers.checks import core

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "helpers"
TREES = [ROOT] + sorted(p for p in (ROOT / "autograde" / "release").glob("*") if (p / "helpers").is_dir())
EXERCISES = [(mod, qual) for mod, quals in exercise_functions(ROOT / "helpers").items() for qual in quals]
SIDE_EFFECTS = re.compile(r"write_bytes|write_text|open\(|\.save\(|savefig|mkdir|unlink|rmtree|download|_fetch|"
                          r"urlopen|urlretrieve|subprocess|plt\.|\.show\(|widgets|IPython")
PER_EXERCISE = 8        # efros_leung alone calls pick_match 200 times
SECONDS = 2.0
FAILED = {}             # what attempt() returns when the call raised


# ----------------------------------------------------------------------------- shipped code
def shipped_sources(root: Path):
    """``(label, tree)`` of every shipped ``.py`` file and notebook code cell that parses."""
    for path in sorted((root / "helpers").rglob("*.py")):
        yield path.relative_to(root).as_posix(), ast.parse(path.read_text())
    for nb in sorted(root.glob("notebooks/*.ipynb")) + sorted(root.glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            lines = "".join(cell["source"]).splitlines() if cell["cell_type"] == "code" else []
            with contextlib.suppress(SyntaxError):      # IPython's %magic and !shell lines blanked
                yield f"{nb.name} cell {i}", ast.parse("\n".join("" if s.lstrip()[:1] in "%!" else s for s in lines))


def defs(tree, prefix=""):
    """``(qualname, node)`` of the functions and methods a module or class defines."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield from defs(node, f"{prefix}{node.name}.")


def shipped_callables(root: Path):
    """``([(label, callable, signature)], [notebook namespaces])``: what a student could call."""
    found, spaces = [], {}          # (label, qualname, module or namespace, def node)
    for path in sorted((root / "helpers").rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        mod = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        found += [(f"{rel}.py:{n.lineno} {q}", q, importlib.import_module(mod), n)
                  for q, n in defs(ast.parse(path.read_text())) if (mod, q) not in EXERCISES]
    cells = [(label, node) for label, tree in shipped_sources(root) if " cell " in label for node in tree.body]
    for label, node in sorted(cells, key=lambda c: not isinstance(c[1], (ast.Import, ast.ImportFrom))):
        space = spaces.setdefault(label.split(" cell ")[0], {"torch": torch, "np": np, "helpers": helpers})
        imported = [getattr(node, "module", None) or ""] if isinstance(node, ast.ImportFrom) else [
            a.name for a in getattr(node, "names", ())]
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) and all(
                n.split(".")[0] in ("torch", "numpy", "helpers", "math") for n in imported):
            with contextlib.suppress(Exception):        # imports (of torch, NumPy, the library) first
                exec(compile(ast.Module([node], []), label, "exec"), space)
                found += [(f"{label}: {q}", q, space, n) for q, n in ([] if imported else defs(ast.Module([node], [])))]
    called = [(q, {getattr(c.func, "id", getattr(c.func, "attr", "")) for c in ast.walk(n) if isinstance(c, ast.Call)})
              for _, q, _, n in found]
    bad = {q.split(".")[-1] for _, q, _, n in found if SIDE_EFFECTS.search(ast.unparse(n))}
    while more := {q.split(".")[-1] for q, names in called if names & bad} - bad:      # and what calls them
        bad |= more
    out = []
    for label, qual, where, _ in found:
        first, *rest = qual.split(".")
        obj = where.get(first) if isinstance(where, dict) else getattr(where, first, None)
        for part in rest:
            obj = getattr(obj, part, None)
        with contextlib.suppress(TypeError, ValueError):
            if qual.split(".")[-1] not in bad and callable(obj) and inspect.signature(obj).parameters:
                out.append((label, obj, inspect.signature(obj)))
    return out, list(spaces.values())


# ----------------------------------------------------------------------------- part 1: dynamic
def numbers(value):
    """A result as ``{field: array}`` (a module by its weights), or None."""
    return core.as_arrays(value.state_dict() if isinstance(value, torch.nn.Module) else value)


def equal(got, want) -> bool:
    """Same fields and shapes, within 1e-6 of ``want``'s scale; booleans (``close``'s False) are not 0."""
    return bool(got) and got is not FAILED and core.distance(got, want) <= 1e-6 and all(
        (got[k].dtype == bool) == (want[k].dtype == bool) for k in want)


@contextlib.contextmanager
def replaced(make, spaces=()):
    """Each exercise replaced by ``make(name, fn)`` in its module or class and wherever a module
    of the library or a notebook namespace holds it."""
    saved = []
    for mod, qual in EXERCISES:
        owner = importlib.import_module(mod)
        for part in qual.split(".")[:-1]:
            owner = getattr(owner, part)
        attr, fn = qual.split(".")[-1], getattr(owner, qual.split(".")[-1])
        if isinstance(owner, type):
            saved.append((owner, attr, fn))
            setattr(owner, attr, make(qual, fn))
        for space in [vars(m) for n, m in list(sys.modules.items()) if n.split(".")[0] == "helpers"] + list(spaces):
            saved += [(space, k, fn) for k, v in space.items() if v is fn]
            space.update({k: make(qual, fn) for k, v in space.items() if v is fn})
    try:
        yield
    finally:
        for where, k, v in reversed(saved):
            setattr(where, k, v) if isinstance(where, type) else where.__setitem__(k, v)


def stub(*args, **kwargs):
    raise NotImplementedError("an exercise: a stub in a student's tree")


def too_slow(*_):
    raise TimeoutError


@contextlib.contextmanager
def sandbox(tmp: Path):
    """Global state a callable may change (seeds, threads, environment, folder, the library's module
    and class attributes such as ``Recorder.active`` or the notes shown...) restored after."""
    state = (torch.get_rng_state(), np.random.get_state(), random.getstate(), torch.get_num_threads(),
             torch.are_deterministic_algorithms_enabled(), dict(os.environ), os.getcwd())
    owners = [m for n, m in list(sys.modules.items()) if n.split(".")[0] == "helpers"]
    owners += [c for m in owners for c in vars(m).values() if isinstance(c, type) and c.__module__ == m.__name__]
    attrs = [(o, k, v, copy.copy(v) if isinstance(v, (set, dict, list)) else None)
             for o in owners for k, v in list(vars(o).items()) if not k.startswith("__")]
    old = signal.signal(signal.SIGALRM, too_slow)
    os.chdir(tmp), torch.set_num_threads(1)       # a second thread only waits on a busy machine
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0), signal.signal(signal.SIGALRM, old)
        torch.set_rng_state(state[0]), np.random.set_state(state[1]), random.setstate(state[2])
        torch.set_num_threads(state[3]), torch.use_deterministic_algorithms(state[4], warn_only=True)
        os.environ.clear(), os.environ.update(state[5]), os.chdir(state[6])
        for owner, k, v, content in attrs:
            if content is not None:
                v.clear(), v.extend(content) if isinstance(v, list) else v.update(content)
            if getattr(owner, k, None) is not v:
                setattr(owner, k, v)
        import matplotlib.pyplot as plt
        plt.close("all")


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    """``[(exercise, (args, kwargs), result arrays)]``: the exercise calls the checks make."""
    recorded = []

    def capture(name, fn):
        def wrapper(*args, **kwargs):
            before = None
            if sum(n == name for n, *_ in recorded) < PER_EXERCISE:
                with contextlib.suppress(Exception):    # arguments that cannot be copied cannot be replayed
                    before = copy.deepcopy((args, kwargs))
            out = fn(*args, **kwargs)
            if before is not None and (want := numbers(out)) and any(a.size for a in want.values()):
                recorded.append((name, before, want))
            return out
        return wrapper
    with replaced(capture), sandbox(tmp_path_factory.mktemp("checks")):
        failed = [r[0] for name in core.REGISTRY if (r := core.run(name)) is not None]
    assert not failed, f"the checks must pass on the solutions: {failed}"
    return recorded


def attempt(f, sig, args, kwargs):
    """``f``'s result (arrays) on copies of the first of (args, kwargs), (args, the keywords it
    takes), (args) that binds: None when none binds, FAILED when the call raises."""
    any_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    for kw in (kwargs, {k: v for k, v in kwargs.items() if any_kw or k in sig.parameters}, {}):
        try:
            sig.bind(*args, **kw)
        except TypeError:
            continue
        state = torch.is_grad_enabled(), torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
        try:
            a, k = copy.deepcopy((args, kw))
            signal.setitimer(signal.ITIMER_REAL, SECONDS)
            return numbers(f(*a, **k))
        except (Exception, SystemExit):  # noqa: BLE001 - whatever a wrong call raises
            return FAILED
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            torch.set_grad_enabled(state[0]), torch.set_num_threads(state[1])     # e.g. after use_threads(16)
            torch.use_deterministic_algorithms(state[2], warn_only=True)
    return None


def kind(value):
    """What mostly decides whether a call fails: the type (a tensor's dimensions, a string itself)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return type(value).__name__, value.ndim
    return value if isinstance(value, (str, type(None))) else type(value).__name__


def dynamic_matches(root: Path, calls, tmp: Path) -> list[str]:
    candidates, spaces = shipped_callables(root)
    hits, failed = {}, set()
    with replaced(lambda name, fn: stub, spaces), sandbox(tmp):
        for name, (args, kwargs), want in calls:
            inputs = [x for x in map(numbers, (*args, *kwargs.values())) if x]
            kinds = (name, *map(kind, args), *((k, kind(v)) for k, v in kwargs.items()))
            for label, f, sig in candidates:
                if (label, name) not in hits and (label, kinds) not in failed:
                    got = attempt(f, sig, args, kwargs)
                    if got is FAILED:
                        failed.add((label, kinds))
                    elif equal(got, want) and not any(equal(got, x) for x in inputs):
                        hits[label, name] = f"{label} returns the expected result of exercise {name}"
    return list(hits.values())


# ----------------------------------------------------------------------------- part 2: static
def is_doc(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def normal(stmts, keep: set) -> str:
    """The statements as text: docstrings dropped, names not in ``keep`` numbered in order of appearance."""
    names = {}

    def dump(node):
        if isinstance(node, list):
            return "[" + ",".join(dump(x) for x in node if not is_doc(x)) + "]"
        if not isinstance(node, ast.AST):
            return repr(node)
        parts = []
        for f, v in ast.iter_fields(node):
            if (f == "id" and isinstance(node, ast.Name)) or (f == "arg" and isinstance(node, ast.arg)) or (
                    f == "name" and isinstance(v, str) and not isinstance(node, ast.alias)):
                v = v if v in keep else names.setdefault(v, f"_{len(names)}")
            elif f == "names" and isinstance(node, (ast.Global, ast.Nonlocal)):
                v = [x if x in keep else names.setdefault(x, f"_{len(names)}") for x in v]
            parts += [] if f in ("ctx", "type_comment", "kind") else [dump(v)]
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
            funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.lineno < b <= n.end_lineno]
            owner = min(funcs, key=lambda n: n.end_lineno - n.lineno).name if funcs else path.stem
            for node, body in statement_lists(tree):
                run = [s for s in body if b < s.lineno and s.end_lineno < e]
                if run and not b < getattr(node, "lineno", 0) < e:
                    yield f"{owner} ({path.name}:{b})", run


def static_matches(root: Path) -> list[str]:
    sources = list(shipped_sources(root))
    trees = [ast.parse(p.read_text()) for p in SOLUTIONS.glob("*.py")] + [t for _, t in sources]
    keep = set(dir(builtins)) | {(a.asname or a.name).split(".")[0] for t in trees for n in ast.walk(t)
                                 if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    patterns = {}           # statement types -> {normal form: exercise}
    for label, stmts in solution_regions():
        patterns.setdefault(tuple(type(s) for s in stmts), {})[normal(stmts, keep)] = label
    hits = []
    for where, tree in sources:
        for _, body in statement_lists(tree):
            types = [type(s) for s in body]
            for key, forms in patterns.items():
                for i in range(len(body) - len(key) + 1):
                    if tuple(types[i:i + len(key)]) == key and (label := forms.get(normal(body[i:i + len(key)], keep))):
                        hits.append(f"{where}:{body[i].lineno} holds the solution of {label}")
    return hits


# ----------------------------------------------------------------------------- the tests
def scan(root: Path, calls, tmp: Path) -> list[str]:
    """What in the shipped tree ``root`` (``helpers/`` and notebooks) gives an exercise away."""
    return dynamic_matches(root, calls, tmp) + static_matches(root)


@pytest.mark.parametrize("root", TREES, ids=lambda p: "project" if p == ROOT else p.relative_to(ROOT).as_posix())
def test_nothing_shipped_gives_an_exercise_away(root, calls, tmp_path):
    found = scan(root, calls, tmp_path)
    assert not found, "shipped code gives exercises away:\n" + "\n".join(found)


def test_the_scans_are_not_vacuous(calls):
    """The checks' exercise calls were recorded; the static scan finds each solution region in its own file."""
    assert calls or not core.REGISTRY, "no exercise call was recorded while the checks ran"
    regions = {label for label, _ in solution_regions()}
    assert len(regions) >= len(EXERCISES), "fewer solution regions than exercises"
    found = {h.split(" holds the solution of ")[1] for h in static_matches(ROOT / "solutions")}
    assert found == regions, f"solution regions the static scan misses: {sorted(regions - found)}"
