"""python -m autograde COMMAND (or: bash course.sh grade COMMAND)

  release                 source/ from solutions/, nbgrader generate_assignment, checks
  collect DIR             copy submissions (per-student folders or .zip files) into submitted/
  autograde [-j N]        grade every new or changed submission, N at a time (sandboxed)
  feedback                feedback/<student>/<assignment>/ (nbgrader HTML + grading_report.html)
  export [--to FILE]      grades.csv and grades_by_cell.csv
  status                  what is released, collected and graded
  formgrader [OPTIONS]    nbgrader's formgrader (grade the written answers by hand): JupyterLab
                          in the course folder, opened at /formgrader (OPTIONS go to jupyter lab)
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .course import Course


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="autograde", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--home", help="the nbgrader course folder (default: autograde/)")
    ap.add_argument("--root", help="the project (solutions/, tools/); default: this checkout")
    sp = ap.add_subparsers(dest="cmd", required=True)
    r = sp.add_parser("release")
    r.add_argument("--force", action="store_true")
    c = sp.add_parser("collect")
    c.add_argument("incoming")
    c.add_argument("-a", "--assignment", action="append")
    g = sp.add_parser("autograde")
    g.add_argument("-j", "--jobs", type=int, default=2)
    g.add_argument("-a", "--assignment", action="append")
    g.add_argument("-s", "--student", action="append")
    g.add_argument("--force", action="store_true", help="regrade even unchanged, already graded submissions")
    g.add_argument("--run-cells", choices=["graded", "all", "none"], help="which cells the sandboxed kernel runs")
    f = sp.add_parser("feedback")
    f.add_argument("-a", "--assignment", action="append")
    e = sp.add_parser("export")
    e.add_argument("--to")
    sp.add_parser("status")
    sp.add_parser("formgrader", help="nbgrader's formgrader in JupyterLab (options are passed to jupyter lab)")
    j = sp.add_parser("_job")          # internal: one job of a batch
    j.add_argument("assignment")
    j.add_argument("student")
    j.add_argument("--slot", type=int, default=0)
    j.add_argument("--settings-json")
    args, extra = ap.parse_known_args(argv)
    if extra and args.cmd != "formgrader":
        ap.error(f"unrecognized arguments: {' '.join(extra)}")

    over = {}
    if getattr(args, "run_cells", None):
        over["run_cells"] = args.run_cells
    if getattr(args, "settings_json", None):
        over.update(json.loads(args.settings_json))
    course = Course(args.home, args.root, **over)
    if args.cmd == "release":
        course.release(force=args.force)
    elif args.cmd == "collect":
        course.collect(args.incoming, args.assignment)
    elif args.cmd == "autograde":
        from .batch import autograde
        res = autograde(course, args.assignment, args.student, jobs=args.jobs, force=args.force)
        return 1 if res["failures"] and any(st == "grader error" for _, _, st in res["failures"]) else 0
    elif args.cmd == "feedback":
        from .batch import feedback
        feedback(course, args.assignment)
    elif args.cmd == "export":
        from .batch import export
        export(course, args.to)
    elif args.cmd == "status":
        from .batch import pending
        for a in course.assignments():
            todo, done = pending(course, [a], course.students())
            print(f"{a}: released={course._assignment_in_gradebook(a)} collected={len(todo) + len(done)} "
                  f"graded={len(done)} to grade={len(todo)}")
    elif args.cmd == "formgrader":
        return formgrader(course, extra)
    elif args.cmd == "_job":
        from .job import Job, run_job
        st = run_job(Job(course, args.assignment, args.student), args.slot)
        print(st["summary"])
    return 0


def formgrader(course: Course, extra: list[str]) -> int:
    """Replace this process by JupyterLab serving the course folder, opened at the formgrader
    (nbgrader's server extension reads nbgrader_config.py from the folder it starts in)."""
    course.home.mkdir(parents=True, exist_ok=True)
    os.chdir(course.home)
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={course.home}",
            "--ServerApp.default_url=/formgrader"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    print(f"formgrader: JupyterLab in {course.home}; open /formgrader on the address it prints", flush=True)
    os.execv(sys.executable, argv + extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
