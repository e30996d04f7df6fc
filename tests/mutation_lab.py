"""The mutation lab: every mistake of the catalogue against the local checks and the graded cells.

The catalogue is ``solutions/mistakes/nbN.toml`` (format and :func:`mutated`:
``authoring/mistakes.py``). :func:`run_check` runs a local check the way a notebook does
(``check(name)``: passed, or one line). :func:`run_graded` runs a graded cell the way the
grader's judge does (``autograde/judge.py``): the cell's source, hidden tests included,
executed in a namespace built from the notebook's import statements only (``Judge.context``),
with every exercise of the library replaced by a proxy that sends the arguments through
cloudpickle (copies), and sends back only plain data (``autograde/codec.py``) plus what the
call did to its tensor and generator arguments, as the sandboxed worker does. In-process, so
that the whole catalogue runs in seconds.

Also a command line: ``python tests/mutation_lab.py [--root DIR] [--notebooks DIR] [-k TEXT]``
prints one line per mistake (what the local check said, whether the graded cells gave full
marks) and the counts; ``--root /tmp/old`` measures an older copy of ``solutions/`` (its
``helpers/`` and, by default, its ``notebooks/``).
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from authoring.mistakes import CatalogueRot, load, mutated

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- local checks
def run_check(name: str, helpers_pkg: str = "helpers") -> tuple[bool, str]:
    """``check(name)`` as a notebook runs it: (passed, the message of its line, or "")."""
    core = importlib.import_module(f"{helpers_pkg}.checks.core")
    importlib.import_module(f"{helpers_pkg}.checks")           # registers every check
    importlib.import_module(helpers_pkg).seed_everything(0)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = core.run(name)
    return (True, "") if result is None else (False, f"[{result[0][1]}] {result[0][0]}: {result[0][2]}")


# ----------------------------------------------------------------------------- graded cells
@functools.lru_cache(maxsize=None)
def _notebook(path: str):
    if str(ROOT) not in sys.path:      # after helpers' folder: tools/ only
        sys.path.append(str(ROOT))
    from authoring.notebooks import read
    return read(Path(path))


@functools.lru_cache(maxsize=None)
def graded_cells(notebooks_dir: Path) -> dict[str, tuple[Path, dict]]:
    """``{grade_id: (notebook source, cell)}`` of every graded code cell."""
    out = {}
    for p in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.py")):
        for cell in _notebook(str(p)).cells:
            md = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and md.get("grade"):
                out[md["grade_id"]] = (p, cell)
    return out


@contextlib.contextmanager
def _as_in_another_process():
    """cloudpickle rebuilds a class defined in a function (a test's model) as the class itself
    when it loads in the process that pickled it, closure and all: a list the class's methods
    append to would then be shared. The worker is another process, where it is a copy."""
    from cloudpickle import cloudpickle as cp
    saved = cp._lookup_class_or_track
    cp._lookup_class_or_track = lambda tracker_id, class_def: class_def
    try:
        yield
    finally:
        cp._lookup_class_or_track = saved


class _WorkerRandom:
    """The worker's own global random state (torch, NumPy, Python): another process, which
    starts with the libraries' default seeds and keeps its state from call to call. The
    judge's state (seeded before each cell) is left as it was."""

    def __init__(self):
        import random

        import torch
        self.torch = torch.Generator().get_state()            # torch's default seed
        self.np = None                                         # NumPy's: seeded from the OS at start
        self.py = random.Random().getstate()

    @contextlib.contextmanager
    def inside(self):
        import random
        import numpy as np
        import torch
        saved = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
        torch.random.set_rng_state(self.torch)
        if self.np is not None:
            np.random.set_state(self.np)
        random.setstate(self.py)
        try:
            yield
        finally:
            self.torch, self.np, self.py = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
            torch.random.set_rng_state(saved[0])
            np.random.set_state(saved[1])
            random.setstate(saved[2])


def _proxy(fn, qualname, worker_random):
    import cloudpickle
    from autograde import codec
    from autograde.codec import effects, snapshot
    from autograde.judge import _apply_effects, _raised, _resolve_namedtuple

    def proxy(*args, **kwargs):
        blob = cloudpickle.dumps((args, kwargs))
        with _as_in_another_process():
            a, k = cloudpickle.loads(blob)
        try:
            with worker_random.inside():
                snaps = snapshot(a, k)
                value = fn(*a, **k)
                eff = effects(snaps)
        except Exception as e:  # noqa: BLE001 - the judge sees the type's name and the message
            t = type(e)
            name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
            raise _raised(qualname, name, f"raised {name}: {e}") from None
        blobs = []
        try:
            head = json.dumps(codec.encode(value, blobs), allow_nan=False).encode()
        except TypeError as e:
            from autograde.judge import BadReturn
            raise BadReturn(qualname, f"returned something the grader does not accept: {e}") from None
        value = codec.decode(head, blobs, _resolve_namedtuple)
        _apply_effects(eff, args, kwargs)
        return value
    functools.update_wrapper(proxy, fn)
    return proxy


@functools.lru_cache(maxsize=None)
def _exercises() -> tuple:
    """The exercises, as the judge finds them: in the released library (the stubs name them)."""
    from authoring.conventions import exercise_functions
    return tuple((mod, tuple(names)) for mod, names in exercise_functions(ROOT / "helpers").items())


@contextlib.contextmanager
def proxies(helpers_pkg: str = "helpers"):
    """Every exercise of the library replaced by a judge-like proxy of its current version."""
    undo = []
    worker_random = _WorkerRandom()
    try:
        for mod_name, names in _exercises():
            mod = importlib.import_module(f"{helpers_pkg}.{mod_name.split('.', 1)[1]}")
            for qual in names:
                *owner_path, leaf = qual.split(".")
                owner = mod
                for part in owner_path:
                    owner = getattr(owner, part)
                current = owner.__dict__[leaf]
                undo.append((owner, leaf, current))
                setattr(owner, leaf, _proxy(current, qual, worker_random))
        yield
    finally:
        for owner, leaf, current in reversed(undo):
            setattr(owner, leaf, current)


_CONTEXTS: dict = {}


def run_graded(grade_id: str, notebooks_dir: Path, helpers_pkg: str = "helpers") -> tuple[bool, str]:
    """A graded cell judged as the grader does: (full marks, the judge's message)."""
    from autograde.judge import Judge
    src, cell = graded_cells(notebooks_dir)[grade_id]
    if src not in _CONTEXTS:
        _CONTEXTS[src] = Judge.context(None, _notebook(str(src)))
    helpers = importlib.import_module(helpers_pkg)
    with proxies(helpers_pkg), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ok, msg = Judge.run_cell(SimpleNamespace(helpers=helpers),
                                 {"source": cell.source, "grade_id": grade_id}, dict(_CONTEXTS[src]))
    return ok, msg


# ----------------------------------------------------------------------------- one mistake
def judge_mutation(m, notebooks_dir: Path, helpers_pkg: str = "helpers") -> dict:
    """Apply mistake ``m``; run its local check and its graded cells. Returns what happened:
    ``named`` when the check's message is the mistake's own message (a ``message`` mistake)
    or contains its words (a ``property`` mistake)."""
    nb = importlib.import_module(f"{helpers_pkg}.{m.module}").NOTEBOOK
    t0 = time.perf_counter()
    with mutated(m, helpers_pkg):
        ok, line = run_check(m.exercise, helpers_pkg)
        t1 = time.perf_counter()
        cells = [g for g in graded_cells(notebooks_dir) if g == f"nb{nb}_{m.exercise}"]
        graded = {g: run_graded(g, notebooks_dir, helpers_pkg) for g in cells}
    kind, _, message = line.partition("] ")
    message = message.partition(": ")[2]
    named = (bool(m.message) and message == m.message) or \
        (bool(m.caught_by) and m.caught_by.casefold() in message.casefold())
    return {"id": m.id, "check_passed": ok, "line": line, "message": message,
            "kind": kind.strip("[") if line else "passed", "named": named,
            "graded": graded, "full_marks": bool(graded) and all(v[0] for v in graded.values()),
            "seconds": time.perf_counter() - t0, "check_seconds": t1 - t0}


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT / "solutions",
                    help="the folder holding helpers/ (and notebooks/) to measure (default: solutions/)")
    ap.add_argument("--notebooks", type=Path, default=None)
    ap.add_argument("-k", dest="select", default="", help="only the mutations whose id contains one of these (comma-separated)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(args.root), str(ROOT), str(ROOT / "tests")]
    import matplotlib
    matplotlib.use("Agg")
    import torch
    torch.set_num_threads(1)   # tiny tensors: a second thread only adds contention
    import helpers
    assert Path(helpers.__file__).resolve().parent == (args.root / "helpers").resolve(), helpers.__file__
    MUTATIONS = load()
    nbdir = args.notebooks or args.root / "notebooks"
    results = []
    t0 = time.perf_counter()
    for m in MUTATIONS:
        if args.select and not any(k in m.id for k in args.select.split(",")):
            continue
        try:
            r = judge_mutation(m, nbdir)
        except CatalogueRot as e:
            r = {"id": m.id, "rot": str(e)}
        r["harmless"], r["message_wanted"] = m.harmless, m.message or m.caught_by
        results.append(r)
        if "rot" in r:
            print(f"ROT      {m.id}: {r['rot']}", flush=True)
            continue
        what = "harmless" if m.harmless else "NAMED" if r["named"] else "vague" if not r["check_passed"] else "MISSED"
        marks = "full marks" if r["full_marks"] else "no graded cell" if not r["graded"] else "marks lost"
        print(f"{what:8s} {m.id:45s} {marks:10s} {r['seconds']:5.2f}s ({r['check_seconds']:4.2f}s)  {r['line'][:150]}",
              flush=True)
    real = [r for r in results if "rot" not in r and not r["harmless"]]
    named = sum(r["named"] for r in real)
    vague = sum(not r["check_passed"] and not r["named"] for r in real)
    missed = sum(r["check_passed"] for r in real)
    full = sum(r["full_marks"] for r in real)
    print(f"\n{len(results)} mutations ({len(results) - len(real)} harmless or rotten): "
          f"{len(real)} real: {named} caught and named, {vague} caught vaguely, {missed} missed by the local checks; "
          f"{full} given full marks by the graded cells; {time.perf_counter() - t0:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
