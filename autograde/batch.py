"""The instructor's commands over a whole class: autograde (on Dask: cluster.py), feedback, export."""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from authoring import conventions

from . import job as J
from .course import Course, sha_tree

DONE = {"graded"}


def pending(course: Course, assignments, students, force=False) -> tuple[list[J.Job], list[J.Job]]:
    """(to grade, already graded and unchanged): the jobs of every collected submission."""
    todo, skipped = [], []
    for a in assignments:
        for s in students:
            job = J.Job(course, a, s)
            if not job.submission.is_dir():
                continue
            st = job.read_state()
            if not force and st and st.get("status") in DONE and st.get("hash") == sha_tree(job.submission) \
                    and st.get("version") == J.STATE_VERSION:
                skipped.append(job)
            else:
                todo.append(job)
    return todo, skipped


def autograde(course: Course, assignments=None, students=None, jobs: int = 2, force=False, log=print,
              scheduler: str | None = None) -> dict:
    """Grade every (assignment, student) not graded yet, on Dask (cluster.py): a local cluster
    of ``jobs`` worker processes, or the running cluster at ``scheduler`` (default:
    $COURSE_GRADER_SCHEDULER). Safe to interrupt and re-run: finished ones are skipped (unless
    ``force``), an unfinished one is graded again from scratch."""
    from . import cluster
    assignments = assignments or course.assignments()
    missing = [a for a in assignments if not course._assignment_in_gradebook(a)]
    if missing:
        raise SystemExit(f"not released yet: {', '.join(missing)} (run: bash course.sh grade release)")
    students = students or course.students()
    todo, skipped = pending(course, assignments, students, force)
    if skipped:
        log(f"autograde: {len(skipped)} submission(s) already graded and unchanged (use --force to regrade)")
    res = cluster.autograde(course, todo, workers=jobs, scheduler=scheduler, log=log)
    return {**res, "skipped": len(skipped)}


def hidden_lines(course: Course, a: str) -> list[str]:
    return [line for c in course.grade_cells(a) for line in conventions.hidden_lines(c["source"])]


def feedback(course: Course, assignments=None, log=print) -> int:
    """nbgrader's feedback HTML (judge verdicts included) plus grading_report.html for every
    graded submission, including those nbgrader could not produce a notebook for."""
    n = 0
    for a in assignments or course.assignments():
        states = {p.stem: json.loads(p.read_text()) for p in sorted((course.state / "jobs" / a).glob("*.json"))} \
            if (course.state / "jobs" / a).is_dir() else {}
        if not states:
            continue
        api = course.api()
        with_nb = [s for s in states if (course.autograded / s / a / f"{a}.ipynb").exists()]
        if with_nb:
            r = api.generate_feedback(a, force=True)
            if not r["success"]:
                log(f"feedback {a}: nbgrader generate_feedback reported a problem; writing reports anyway\n"
                    + (r.get("error") or r.get("log") or "")[-1500:])
        secret = hidden_lines(course, a)
        for s, st in states.items():
            d = course.feedback_dir / s / a
            d.mkdir(parents=True, exist_ok=True)
            (d / "grading_report.html").write_text(
                "<!doctype html><meta charset='utf-8'><title>Grading report</title>"
                f"<h2>Grading report: {html.escape(a)}</h2><pre>{html.escape(st.get('summary', ''))}</pre>\n")
            for f in d.glob("*.html"):          # defence in depth: no hidden test line leaves
                text = f.read_text(errors="replace")
                hits = [line for line in secret if line in text or html.escape(line) in text]
                if hits:
                    for line in hits:
                        text = text.replace(html.escape(line), "[hidden test]").replace(line, "[hidden test]")
                    f.write_text(text)
                    log(f"feedback {a}/{s}: removed {len(hits)} hidden-test line(s) from {f.name}")
            n += 1
        log(f"feedback {a}: {len(states)} student(s) -> {course.feedback_dir.relative_to(course.home)}/<student>/{a}/")
    return n


def export(course: Course, to: Path | None = None, log=print) -> Path:
    """grades.csv (nbgrader's export: one row per student and assignment) and
    grades_by_cell.csv (every graded cell, auto and manual scores)."""
    from nbgrader.plugins.export import CsvExportPlugin
    to = Path(to or course.home / "grades.csv")
    with course.gradebook() as gb:
        plugin = CsvExportPlugin(to=str(to))
        plugin.export(gb)
        rows = []
        for a in gb.assignments:
            for nb in a.notebooks:
                for sub in gb.notebook_submissions(nb.name, a.name):
                    for g in sub.grades:
                        rows.append([a.name, sub.student.id, g.name, g.auto_score, g.manual_score, g.score, g.max_score])
    with open(to.with_name(to.stem + "_by_cell.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student_id", "grade_id", "auto_score", "manual_score", "score", "max_score"])
        w.writerows(sorted(rows))
    log(f"export: {to} and {to.with_name(to.stem + '_by_cell.csv')}")
    return to
