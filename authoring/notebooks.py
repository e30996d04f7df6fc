"""The notebooks' sources: one jupytext percent-format text file per notebook.

    bash course.sh notebooks                      # check: every solved notebook matches its source
    bash course.sh notebooks run 02_saliency      # execute the source (full mode) into the solved notebook
    bash course.sh notebooks sync                 # cells from the sources, outputs kept where the code is unchanged

A notebook is written once, in ``solutions/notebooks/NN_name.py`` (jupytext's percent
format: ``# %%`` starts a code cell, ``# %% [markdown]`` a text cell; nbgrader's metadata and
tags sit on the cell's header line as ``nbgrader={...}`` and ``tags=[...]``; magics are
commented, ``# %load_ext ...``). From it the tools produce:

- the **solved notebook** ``solutions/notebooks/NN_name.ipynb``, executed in full mode, with
  its outputs committed for readers and for nbval (``run``); ``sync`` rewrites its cells from
  the source without running anything, keeping the outputs of every code cell whose source
  is unchanged (for edits of text, headers or metadata);
- the **student notebook** ``notebooks/NN_name.ipynb`` (``bash course.sh release``, see
  ``authoring/release.py``) and the grader's assignment source (``bash course.sh grade release``).

A test fails when a solved notebook's cells differ from its source (:func:`differences`).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEPT_METADATA = ("nbgrader", "tags")     # the cell metadata a source carries
FORMAT = "py:percent"


def source_dir(root: Path = ROOT) -> Path:
    return Path(root) / "solutions" / "notebooks"


def sources(root: Path = ROOT) -> list[Path]:
    """Every notebook source, in course order."""
    return sorted(p for p in source_dir(root).glob("[0-9][0-9]_*.py"))


def solved_path(src: Path) -> Path:
    return Path(src).with_suffix(".ipynb")


def read(src: Path):
    """The notebook of a source (an nbformat ``NotebookNode``), cells without outputs, with
    ids derived from their position (stable, valid nbformat ids)."""
    import jupytext
    nb = jupytext.read(str(src), fmt=FORMAT)
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("language_info", {"name": "python"})
    stem = Path(src).stem
    for i, cell in enumerate(nb.cells):
        cell.id = f"{stem[:2]}-{i:03d}"
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_METADATA}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def write_source(nb, src: Path) -> None:
    """Write a notebook's cells (no outputs, only the kept metadata) as a source."""
    import jupytext
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_METADATA}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata = {"kernelspec": nb.metadata.get("kernelspec") or {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}
    Path(src).write_text(jupytext.writes(nb, fmt=FORMAT))


def _key(cell) -> tuple:
    src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    md = {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_METADATA}
    return cell["cell_type"], src, json.dumps(md, sort_keys=True)


def differences(root: Path = ROOT) -> list[str]:
    """Where a committed solved notebook differs from its source (cells, sources, metadata)."""
    out = []
    for src in sources(root):
        solved = solved_path(src)
        if not solved.exists():
            out.append(f"{solved.name}: missing (run: bash course.sh notebooks run {src.stem})")
            continue
        want = [_key(c) for c in read(src).cells]
        have = [_key(c) for c in json.loads(solved.read_text())["cells"]]
        if want != have:
            first = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
            out.append(f"{solved.name}: differs from {src.name} from cell {first} on "
                       f"({len(have)} cells, the source has {len(want)}); run: bash course.sh notebooks sync")
    for solved in sorted(source_dir(root).glob("*.ipynb")):
        if not solved.with_suffix(".py").exists():
            out.append(f"{solved.name}: no source {solved.with_suffix('.py').name}")
    return out


def sync(root: Path = ROOT, names=None, log=print) -> list[Path]:
    """Rewrite solved notebooks' cells from their sources without executing: a code cell
    whose source is unchanged keeps its outputs; a changed or new one has none (run it).
    Returns the notebooks whose code changed (they need ``run``)."""
    import nbformat
    stale = []
    for src in _select(root, names):
        nb, solved = read(src), solved_path(src)
        old = nbformat.read(str(solved), as_version=4) if solved.exists() else None
        outputs = {}
        for c in (old.cells if old else []):
            if c.cell_type == "code":
                outputs.setdefault(c.source, (c.outputs, c.execution_count, c.metadata.get("execution")))
        missing = 0
        for c in nb.cells:
            if c.cell_type == "code":
                if c.source in outputs:
                    c.outputs, c.execution_count, _ = outputs[c.source]
                else:
                    missing += 1
        if old is not None:
            nb.metadata = {**old.metadata, **nb.metadata,   # the kernel's language_info is the executed one's
                           "language_info": old.metadata.get("language_info", nb.metadata.get("language_info"))}
        nbformat.write(nb, str(solved))
        if missing:
            stale.append(solved)
        log(f"{solved.name}: cells written from {src.name}" + (f"; {missing} code cell(s) changed: run it" if missing else ""))
    return stale


def run(root: Path = ROOT, names=None, fast: bool = False, log=print) -> None:
    """Execute sources (full mode unless ``fast``) into their solved notebooks, with the
    instructor's library (``solutions/``, the folder holding ``helpers/``, on ``PYTHONPATH``:
    the course's one path rule, as ``course.sh lab`` puts the project's own)."""
    import nbformat
    from nbclient import NotebookClient
    for src in _select(root, names):
        nb = read(src)
        saved = {k: os.environ.get(k) for k in ("COURSE_FAST", "PYTHONPATH", "MPLBACKEND")}
        os.environ.pop("MPLBACKEND", None)
        os.environ["PYTHONPATH"] = str(Path(root) / "solutions")
        if fast:
            os.environ["COURSE_FAST"] = "1"
        else:
            os.environ.pop("COURSE_FAST", None)
        t0 = time.time()
        try:
            NotebookClient(nb, timeout=1800, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": str(src.parent)}}).execute()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        nbformat.write(nb, str(solved_path(src)))
        log(f"{solved_path(src).name}: executed in {time.time() - t0:.0f} s ({'fast' if fast else 'full'} mode)")


def _select(root, names):
    all_ = sources(root)
    if not names:
        return all_
    out = []
    for n in names:
        hit = [p for p in all_ if p.stem == n or p.stem.startswith(n)]
        if len(hit) != 1:
            raise SystemExit(f"notebooks: no single source matches {n!r} (sources: {', '.join(p.stem for p in all_)})")
        out += hit
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bash course.sh notebooks", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", nargs="?", default="check", choices=["check", "run", "sync"])
    ap.add_argument("names", nargs="*", help="notebooks (NN or NN_name); default: all")
    ap.add_argument("--fast", action="store_true", help="run: execute in fast mode (not for committing)")
    args = ap.parse_args(argv)
    if args.command == "check":
        diffs = differences()
        print("\n".join(diffs) if diffs else "every solved notebook matches its source")
        return 1 if diffs else 0
    if args.command == "sync":
        stale = sync(names=args.names)
        return 1 if stale else 0
    run(names=args.names, fast=args.fast)
    return 0


if __name__ == "__main__":
    sys.exit(main())
