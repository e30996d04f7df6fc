"""The values the local checks compare with: recorded from the solutions and the catalogue.

For every check of ``helpers/checks/nbN.py``: run it on the complete library with
``expect`` recording (the solutions' result of each case is the expected value); then, for
every ``message`` mistake of the catalogue (``authoring/mistakes.py``), apply it and run its
exercise's check the same way: each case whose result differs from the expected one stores
that result under the mistake's id and message. The result is one ``nbN.npz`` per notebook,
beside the checks (``solutions/helpers/checks/``; the release copies it to the student's).

Runs in a process where ``helpers`` is the *solutions'* library (``authoring/release.py`` runs
it so: in ``solutions/``, with the project on ``PYTHONPATH``):

    python -m authoring.expected --write ../solutions/helpers/checks   # or --check DIR

and writes a notebook's file only when its values changed beyond the checks' tolerances
(:func:`differences`), so that another platform's last bits of rounding do not rewrite it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path


class RecordError(Exception):
    pass


def record(threads: int = 1, log=print) -> dict[int, dict]:
    """``{notebook: {"check/case": Case}}`` from the imported (solutions') library."""
    from helpers.checks import core

    from .mistakes import load, mutated

    def values(name: str) -> tuple[dict, tuple | None]:
        with core.Recorder() as rec, contextlib.redirect_stdout(io.StringIO()):
            failed = core.run(name, threads)
        return rec.values, failed

    cases: dict[int, dict] = {}
    for name, c in core.REGISTRY.items():
        got, failed = values(name)
        if failed is not None:
            raise RecordError(f"the solutions fail the property checks of {name}: {failed[0]}")
        for key, (arrays, atol, rtol) in got.items():
            if arrays is None:
                raise RecordError(f"{key}: the solution's result is not numbers")
            cases.setdefault(c.notebook, {})[key] = core.Case(arrays, atol, rtol)
    stopped = []
    for m in load():
        if not m.message:
            continue
        if m.exercise not in core.REGISTRY:
            raise RecordError(f"{m.id}: no check named {m.exercise!r}")
        with mutated(m):
            got, failed = values(m.exercise)
        stored = 0
        for key, (arrays, _, _) in got.items():
            case = cases[m.notebook].get(key)
            if case is None or arrays is None or core.same(arrays, case.expected, case.atol, case.rtol):
                continue
            case.mistakes.append((m.id, m.message, arrays))
            stored += 1
        if not stored:
            stopped.append(f"{m.id}: " + (f"stopped by a property first ({failed[0][2]})" if failed else
                                          "gives the expected result on every case of its check"))
    if stopped:
        raise RecordError("these `message` mistakes leave no stored trace (make them `property` mistakes, or "
                          "give the check a case that tells them apart):\n  " + "\n  ".join(stopped))
    log(f"recorded {sum(map(len, cases.values()))} cases and "
        f"{sum(len(c.mistakes) for nb in cases.values() for c in nb.values())} mistake values")
    return cases


def property_mistakes() -> dict[int, dict]:
    """``{notebook: {check: [[mistake id, words], ...]}}``: the catalogue's ``property``
    mistakes, stored beside the values so that a failure can be named (``core.mistake_of``)."""
    from .mistakes import load
    out: dict[int, dict] = {}
    for m in load():
        if m.caught_by:
            out.setdefault(m.notebook, {}).setdefault(m.exercise, []).append([m.id, m.caught_by])
    return out


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two notebooks' cases beyond the tolerances (empty: the same)."""
    from helpers.checks.core import same
    out = [f"case {k} {'added' if k in new else 'removed'}" for k in sorted(set(old) ^ set(new))]
    for k in sorted(set(old) & set(new)):
        a, b = old[k], new[k]
        if (a.atol, a.rtol) != (b.atol, b.rtol):
            out.append(f"{k}: tolerance")
        elif not same(a.expected, b.expected, b.atol, b.rtol):
            out.append(f"{k}: expected value")
        elif [(m[0], m[1]) for m in a.mistakes] != [(m[0], m[1]) for m in b.mistakes]:
            out.append(f"{k}: mistakes or messages")
        elif not all(same(x[2], y[2], b.atol, b.rtol, nan_equal=True) for x, y in zip(a.mistakes, b.mistakes)):
            out.append(f"{k}: a mistake's value")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", type=Path, metavar="DIR",
                      help="write DIR/nbN.npz where it is missing or its values changed beyond the tolerances")
    what.add_argument("--check", type=Path, metavar="DIR", help="only say what differs from DIR/nbN.npz (exit 1 if any)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads while recording (default 1)")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    from helpers.checks.core import load, load_properties, save
    properties = property_mistakes()
    try:
        cases = record(args.threads, log=lambda s: print(s, file=sys.stderr))
    except RecordError as e:
        print(f"release: {e}", file=sys.stderr)
        return 2
    folder = args.write or args.check
    names = {f"nb{nb}.npz" for nb in cases}
    diffs = [f"not in solutions/: {p.name}" for p in sorted(folder.glob("nb*.npz")) if p.name not in names]
    for nb, c in sorted(cases.items()):
        path = folder / f"nb{nb}.npz"
        changed = ["missing"] if not path.exists() else differences(load(path), c)
        if path.exists() and load_properties(path) != properties.get(nb, {}):
            changed.append("the property mistakes")
        diffs += [f"check data differs: {path.name}: {d}" for d in changed]
        if changed and args.write:
            save(path, c, properties.get(nb, {}))
    if args.write:
        for p in folder.glob("nb*.npz"):
            if p.name not in names:
                p.unlink()
    print("\n".join(diffs))
    return 1 if diffs and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
