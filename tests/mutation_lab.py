"""The mutation lab: every mistake of the catalogue against the local checks and the graded cells.

The catalogue is ``solutions/mistakes/nbN.toml`` (format and :func:`mutated`:
``authoring/mistakes.py``). :func:`run_check` runs a local check the way a notebook does
(``check(name)``: passed, or one line). :func:`run_graded` runs a graded cell with the
grader's own judge (``autograde/judge.py``): the cell's source, hidden tests included, in a
namespace built from the notebook's import statements only, with every exercise replaced by a
proxy to a worker process (a child forked from this one, holding the library with the mistake
applied: ``ForkedWorker``), which gets pickled copies of the arguments and sends back only
plain data (``autograde/codec.py``) plus what the call did to its arguments, as the sandboxed
worker does. The whole catalogue runs in about a minute.

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


@functools.lru_cache(maxsize=None)
def _exercises() -> tuple:
    """The exercises, as the judge finds them: in the released library (the stubs name them)."""
    from authoring.conventions import exercise_functions
    return tuple((mod, tuple(names)) for mod, names in exercise_functions(ROOT / "helpers").items())


def run_graded(grade_id: str, notebooks_dir: Path, mistake=None, helpers_pkg: str = "helpers"):
    """A graded cell judged by the grader's judge (:class:`autograde.judge.Judge`): this
    process's library is its trusted copy, and the student's code (this library with
    ``mistake`` applied) runs in a child forked before the proxies go in
    (:class:`autograde.calls.ForkedWorker`): the same pickles, plain-data replies and effects
    as the sandboxed worker. Returns (full marks, the judge's message)."""
    from autograde.calls import ForkedWorker
    from autograde.judge import Judge
    src, cell = graded_cells(notebooks_dir)[grade_id]
    if src not in _CONTEXTS:
        _CONTEXTS[src] = Judge.context(_notebook(str(src)))
    helpers = importlib.import_module(helpers_pkg)
    stack = contextlib.ExitStack()
    prepare = (lambda: stack.enter_context(mutated(mistake, helpers_pkg))) if mistake is not None else None
    worker = ForkedWorker(Path(helpers.__file__).resolve().parents[1], prepare)
    judge = Judge(helpers, {f"{helpers_pkg}.{m.split('.', 1)[1]}": list(q) for m, q in _exercises()}, worker)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        worker.start()                # the child is forked before the proxies go in
        judge.install()
        try:
            return judge.run_cell({"source": cell.source, "grade_id": grade_id}, dict(_CONTEXTS[src]))
        finally:
            judge.uninstall()
            worker.stop()


_CONTEXTS: dict = {}


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
    graded = {g: run_graded(g, notebooks_dir, m, helpers_pkg) for g in cells}
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
