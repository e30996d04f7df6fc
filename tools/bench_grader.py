"""How fast the grader is: N complete submissions (every assignment) graded in one batch.

    bash course.sh python tools/bench_grader.py                  # 1 submission, -j 2
    bash course.sh python tools/bench_grader.py -n 20 -j 2       # a batch of 20

Builds a throw-away course in a temporary folder (release, then N copies of the solutions
collected as students s00, s01, ...), autogrades them all, and prints the wall time, the time
per submission and the job times of each assignment. Every copy must get full marks (a fast
wrong grader cannot win). Needs root and bubblewrap, like the grader. Not part of the test run.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograde import batch, job  # noqa: E402
from autograde.course import Course  # noqa: E402


def busy_jiffies():
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    f = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--students", type=int, default=1)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--run-cells", choices=["graded", "all", "none"], default="graded")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        base = Path(tmp)
        course = Course(base / "home", ROOT, run_cells=args.run_cells)
        course.release(log=lambda *a: None)
        names = [f"s{i:02d}" for i in range(args.students)]
        for s in names:
            shutil.copytree(ROOT / "solutions" / "helpers", base / "in" / s / "helpers",
                            ignore=shutil.ignore_patterns("__pycache__"))
            for a in course.assignments():
                shutil.copyfile(ROOT / "solutions" / "notebooks" / f"{a}.ipynb", base / "in" / s / f"{a}.ipynb")
        course.collect(base / "in", log=lambda *a: None)
        b0, t0 = busy_jiffies()
        start = time.perf_counter()
        res = batch.autograde(course, jobs=args.jobs, log=print)
        wall = time.perf_counter() - start
        b1, t1 = busy_jiffies()
        wrong = []
        print(f"{'assignment':14s} {'job s (median)':>15s} {'notebook run':>13s} {'judge':>7s}")
        for a in course.assignments():
            full = sum(c["points"] for c in course.grade_cells(a) if c["kind"] == "code")
            st = [job.Job(course, a, s).read_state() for s in names]
            wrong += [f"{a}/{s['student']}: {s['score']:g} of {full:g}" for s in st if s["score"] != full]
            print(f"{a:14s} {statistics.median(s['seconds'] for s in st):15.1f} "
                  f"{statistics.median(s['nbgrader']['seconds'] for s in st):13.1f} "
                  f"{statistics.median(s['judge_seconds'] for s in st):7.1f}")
    n = args.students
    print(f"{n} complete submission(s) ({len(course.assignments())} notebooks each), -j {args.jobs}, "
          f"run_cells={args.run_cells}: {wall:.1f} s wall, {wall / n:.1f} s per submission, "
          f"{3600 * n / wall:.0f} submissions per hour; CPU busy {100 * (b1 - b0) / max(1, t1 - t0):.0f}%")
    if res["failures"] or wrong:
        print("NOT all full marks:", res["failures"], wrong)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
