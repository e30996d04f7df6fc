"""python -m autograde COMMAND (or: bash course.sh grade COMMAND)

  release [--lang ko]     source/ from solutions/ (in English, Korean or Chinese), nbgrader
                          generate_assignment, checks
  collect DIR             copy submissions (per-student folders or .zip files) into submitted/
  autograde [-j N]        grade every new or changed submission on Dask: a local cluster of N
                          worker processes, or a running one (--scheduler tcp://HOST:8786)
  feedback                feedback/<student>/<assignment>/ (nbgrader HTML + grading_report.html)
  export [--to FILE]      grades.csv and grades_by_cell.csv
  report                  reports/index.html: the class's scores and its usual mistakes, by name
  similarity [-a A]       reports/similarity-<A>.html: pairs of submissions whose exercise code is
                          alike (copydetect), a prompt to look, never a verdict
  status                  what is released, collected and graded
  formgrader [OPTIONS]    nbgrader's formgrader (grade the written answers by hand): JupyterLab
                          in the course folder, opened at /formgrader (OPTIONS go to jupyter lab)
  scheduler [OPTIONS]     a Dask scheduler for grading machines (dask scheduler OPTIONS)
  worker ADDRESS [OPTIONS]  this machine as Dask grading workers (dask worker ADDRESS --nthreads 1
                          OPTIONS); needs root and bubblewrap, like the grader
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .course import Course
from .settings import Settings


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="autograde", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--home", help="the nbgrader course folder (default: autograde/)")
    ap.add_argument("--root", help="the project (solutions/, tools/); default: this checkout")
    sp = ap.add_subparsers(dest="cmd", required=True)
    r = sp.add_parser("release")
    r.add_argument("--force", action="store_true")
    r.add_argument("--lang", choices=["en", "ko", "zh"],
                   help="the notebooks' language (default: that of the last release, else en); "
                        "the feedback's messages follow it")
    c = sp.add_parser("collect")
    c.add_argument("incoming")
    c.add_argument("-a", "--assignment", action="append")
    g = sp.add_parser("autograde")
    g.add_argument("-j", "--jobs", type=int, default=2, help="worker processes of the local Dask cluster")
    g.add_argument("--scheduler", help="a running Dask cluster's scheduler, e.g. tcp://HOST:8786 "
                                       "(default: the scheduler setting, else a local cluster of -j workers)")
    g.add_argument("-a", "--assignment", action="append")
    g.add_argument("-s", "--student", action="append")
    g.add_argument("--force", action="store_true", help="regrade even unchanged, already graded submissions")
    g.add_argument("--run-cells", choices=["graded", "all", "none"], help="which cells the sandboxed kernel runs")
    f = sp.add_parser("feedback")
    f.add_argument("-a", "--assignment", action="append")
    e = sp.add_parser("export")
    e.add_argument("--to")
    rp = sp.add_parser("report", help="the class report: scores and the usual mistakes, by name")
    rp.add_argument("-a", "--assignment", action="append")
    sm = sp.add_parser("similarity", help="pairs of submissions whose exercise code is alike")
    sm.add_argument("-a", "--assignment", action="append")
    sp.add_parser("status")
    sp.add_parser("formgrader", help="nbgrader's formgrader in JupyterLab (options are passed to jupyter lab)")
    sp.add_parser("scheduler", help="a Dask scheduler for grading workers (options are passed to dask scheduler)")
    sp.add_parser("worker", help="Dask grading workers on this machine (options are passed to dask worker)")
    j = sp.add_parser("_job")          # internal: one job of a batch, on a grading worker
    j.add_argument("jobfile", help="job.json: the settings, what to grade, where to write the result")
    args, extra = ap.parse_known_args(argv)
    if extra and args.cmd not in ("formgrader", "scheduler", "worker"):
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd == "_job":
        return run_jobfile(args.jobfile)

    settings = Settings.resolve(args.home, args.root, run_cells=getattr(args, "run_cells", None),
                                scheduler=getattr(args, "scheduler", None))
    course = Course(settings=settings)
    if args.cmd == "release":
        course.release(force=args.force, lang=args.lang)
    elif args.cmd == "collect":
        course.collect(args.incoming, args.assignment)
    elif args.cmd == "autograde":
        from .batch import autograde
        from .course import GraderError
        try:
            res = autograde(course, args.assignment, args.student, jobs=args.jobs, force=args.force)
        except KeyboardInterrupt:
            return 130
        except (GraderError, OSError) as e:
            print(f"autograde: {e}", file=sys.stderr)
            return 2
        return 1 if res["failures"] and any(st == "grader error" for _, _, st in res["failures"]) else 0
    elif args.cmd == "feedback":
        from .results import feedback
        feedback(course, args.assignment)
    elif args.cmd == "export":
        from .results import export
        export(course, args.to)
    elif args.cmd == "report":
        from .report import class_report
        class_report(course, args.assignment)
    elif args.cmd == "similarity":
        from .course import GraderError
        from .similarity import similarity
        chosen = args.assignment or [a for a in course.assignments()
                                     if any((course.submitted / s / a).is_dir() for s in course.students())]
        if not chosen:
            print("similarity: nothing collected yet (run collect first)", file=sys.stderr)
            return 2
        try:
            for a in chosen:
                similarity(course, a)
        except GraderError as e:
            print(f"similarity: {e}", file=sys.stderr)
            return 2
    elif args.cmd == "status":
        from .batch import pending
        from .report import report_status
        for a in course.assignments():
            todo, done = pending(course, [a], course.students())
            print(f"{a}: released={course._assignment_in_gradebook(a)} collected={len(todo) + len(done)} "
                  f"graded={len(done)} to grade={len(todo)}")
        print(report_status(course))
    elif args.cmd == "formgrader":
        return formgrader(course, extra)
    elif args.cmd in ("scheduler", "worker"):
        from .cluster import dask_command
        try:
            argv, env = dask_command(args.cmd, extra)
        except SystemExit as e:
            print(f"autograde {args.cmd}: {e}", file=sys.stderr)
            return 2
        print(f"autograde {args.cmd}: {' '.join(argv[1:])}", flush=True)
        os.execve(argv[0], argv, env)
    return 0


def run_jobfile(path: str) -> int:
    """One grading job on a worker, as remote.py wrote it down: ``{settings, assignment,
    student, slot, extension_s, result}``; the state and the gradebook records go to
    ``result`` (JSON), the summary to stdout."""
    from .job import Job, export_records, run_job
    spec = json.loads(open(path).read())
    course = Course(settings=Settings(**spec["settings"]))
    job = Job(course, spec["assignment"], spec["student"])
    if spec.get("extension_s"):
        import datetime
        with course.gradebook() as gb:
            gb.update_or_create_student(job.student)
            gb.update_or_create_submission(job.assignment, job.student,
                                           extension=datetime.timedelta(seconds=spec["extension_s"]))
    st = run_job(job, spec.get("slot", 0))
    records = None
    try:
        records = export_records(job)
    except Exception as e:  # noqa: BLE001
        st.status = "grader error"
        st.events.append(f"the gradebook records could not be read ({type(e).__name__}: {e})")
    with open(spec["result"], "w") as f:
        json.dump({"state": st.to_dict(), "records": records}, f)
    print(st.summary)
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
