"""Local checks of the exercises: small cases with stored expected values, that name your mistake.

A notebook calls ``check("normalize_filters")`` after an exercise; ``bash course.sh check``
runs the same checks, one line each; the graded cells call them too. A check passes, or
raises :class:`CheckFailed` with one line that names the likely bug. Each check takes well
under a second.

The checks of notebook N are in ``nbN.py``: each is a list of cases (small inputs where the
usual mistakes each give a *different* wrong answer). Their expected values, and the wrong
values that the usual mistakes give, are stored in ``nbN.npz`` (see ``core.py``). Passing
these checks does not guarantee full marks: the grader has more tests.
"""
from __future__ import annotations

import importlib
import pkgutil

from .core import REGISTRY, CheckFailed, format_line, run

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name[:2] == "nb" and m.name[2:].isdigit()):
    importlib.import_module(f"{__name__}.{_module}")     # nbN.py: notebook N's checks register themselves

CHECKS = list(REGISTRY)                                    # every check's name, in notebook order
NOTEBOOKS = {n: [c for c in CHECKS if REGISTRY[c].notebook == n] for n in sorted({c.notebook for c in REGISTRY.values()})}

__all__ = ["check", "CheckFailed", "CHECKS", "NOTEBOOKS"]


def check(*names: str) -> bool:
    """Run the local checks of exercises ``names``: print ``[passed] name: ...`` for each one
    that passes; raise :class:`CheckFailed` (one line per check that did not pass) otherwise."""
    if not names:
        raise TypeError('name the exercise to check, e.g. check("normalize_filters")')
    unknown_names = [n for n in names if n not in REGISTRY]
    if unknown_names:
        from ..utils import unknown
        raise unknown("check", unknown_names[0], CHECKS)
    failed, mistakes, first = [], [], None
    for name in names:
        result = run(name)
        if result is None:
            print(format_line(name, "passed", "all local checks passed"))
        else:
            failed.append(result[0])
            mistakes.append(getattr(result[1], "mistake", ""))
            first = first or result[1]
    if failed:
        raise CheckFailed(failed, mistakes) from first
    return True


def main(argv=None) -> int:
    """``bash course.sh check [-k nb2] [name ...]``: run the local checks, one line each."""
    import argparse
    ap = argparse.ArgumentParser(prog="bash course.sh check",
                                 description="Run the local checks of the exercises against your helpers/.")
    ap.add_argument("-k", dest="select", action="append", default=[],
                    help="only the checks of a notebook (nb1 ... nb5) or of exercises whose name contains this")
    ap.add_argument("names", nargs="*", help="exercise names (default: all)")
    args = ap.parse_args(argv)
    chosen = [(n, name) for n, names in NOTEBOOKS.items() for name in names
              if (not args.names or name in args.names)
              and (not args.select or any(k in (f"nb{n}", name) or k in name for k in args.select))]
    unknown_names = [n for n in args.names if n not in REGISTRY]
    if unknown_names or not chosen:
        from ..utils import unknown
        print(f"error: {unknown('check', (unknown_names or args.select or ['?'])[0], CHECKS)}")
        return 2
    counts = {"passed": 0, "not done": 0, "failed": 0}
    for n, name in chosen:
        result = run(name)
        line = (name, "passed", "all local checks passed") if result is None else result[0]
        print(f"nb{n} {format_line(*line)}", flush=True)
        counts[line[1] if line[1] in counts else "failed"] += 1
    print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" (of {len(chosen)} checks)")
    return 0 if counts["passed"] == len(chosen) else 1
