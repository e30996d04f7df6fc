"""How long the class report and the similarity report take for a class (default 100 students).

    bash course.sh python tools/bench_reports.py [-n 100]

Builds a class from the real release of every assignment: each student's library is the
solutions with 0 to 2 of the catalogue's usual mistakes per notebook (drawn with a fixed
seed); their grading results are written as the grader writes them (the state files and the
gradebook records, a failed cell naming its mistake) without running the sandboxes, so that
the reports are timed, not the grading (that is tools/bench_grader.py). Then times
``grade report`` and ``grade similarity`` for every assignment and prints the numbers.
"""
from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from authoring import mistakes as catalogue
from autograde import job as jobs
from autograde.course import Course
from autograde.report import class_report
from autograde.similarity import similarity

ROOT = Path(__file__).resolve().parents[1]


def build_class(course: Course, n: int, seed: int = 0) -> dict:
    """Collect ``n`` submissions of every assignment; returns {(assignment, student): mistake ids}."""
    rng = random.Random(seed)
    by_nb: dict[int, list] = {}
    for m in catalogue.load():
        if m.message:
            by_nb.setdefault(m.notebook, []).append(m)
    inbox = course.home.parent / "inbox"
    made = {}
    for i in range(n):
        s = f"student{i:03d}"
        for a in course.assignments():
            nb = int(a[:2])
            chosen = rng.sample(by_nb.get(nb, []), k=min(len(by_nb.get(nb, [])), rng.choice([0, 1, 1, 2])))
            chosen = list({m.exercise: m for m in chosen}.values())      # one mistake per exercise
            d = inbox / s
            if not (d / "helpers").exists():          # (no weights: the reports do not read them)
                shutil.copytree(ROOT / "solutions" / "helpers", d / "helpers",
                                ignore=shutil.ignore_patterns("__pycache__", "locale", "weights"))
            for m in chosen:
                f = d / "helpers" / f"{m.module}.py"
                f.write_text(catalogue.mutated_file(f, m.function, m.edits))
            shutil.copyfile(course.release_dir / a / f"{a}.ipynb", d / f"{a}.ipynb")
            made[a, s] = chosen
    course.collect(inbox, log=lambda *x: None)
    return made


def write_results(course: Course, made: dict) -> None:
    """The state files and gradebook records a batch would write for these submissions."""
    with course.gradebook() as gb:
        for (a, s), chosen in made.items():
            job = jobs.Job(course, a, s)
            wrong = {f"nb{int(a[:2])}_{m.exercise}": m for m in chosen}
            cells = []
            for c in course.grade_cells(a):
                r = {"grade_id": c["grade_id"], "points": c["points"], "kind": c["kind"]}
                m = wrong.get(c["grade_id"])
                if c["kind"] != "code":
                    r.update(score=0.0, status="manual", message="graded by hand")
                elif m is None:
                    r.update(score=c["points"], status="passed", message="passed (all tests, hidden ones included)")
                else:
                    r.update(score=0.0, status="failed", message=f"check {m.exercise} failed: {m.message}",
                             mistake=m.id, failure="mistake")
                cells.append(r)
            st = jobs.JobState(a, s, "synthetic", cells=cells, notebook="ok", started=time.time())
            st.total()
            jobs.record(job, cells, "ok", gb)
            job.write_state(st)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--students", type=int, default=100)
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        course = Course(base / "home", ROOT)
        t0 = time.perf_counter()
        course.release(log=lambda *x: None)
        t1 = time.perf_counter()
        made = build_class(course, args.students)
        write_results(course, made)
        t2 = time.perf_counter()
        print(f"release {t1 - t0:.0f} s; class of {args.students} x {len(course.assignments())} assignments "
              f"built and recorded in {t2 - t1:.0f} s")
        t = time.perf_counter()
        class_report(course)
        report_s = time.perf_counter() - t
        sims = {}
        for a in course.assignments():
            t = time.perf_counter()
            similarity(course, a, log=lambda *x: None)
            sims[a] = time.perf_counter() - t
        print(f"report: {report_s:.1f} s for {len(made)} submissions")
        print("similarity: " + ", ".join(f"{a} {s:.1f} s" for a, s in sims.items())
              + f"; all {sum(sims.values()):.1f} s ({args.students * (args.students - 1) // 2} pairs each)")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
