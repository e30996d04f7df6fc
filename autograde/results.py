"""What the instructor hands out after grading: feedback for each student, grades as CSV.

``bash course.sh grade feedback`` and ``bash course.sh grade export``; both read only what a
batch wrote (the state files under ``.state/jobs/`` and the gradebook).
"""
from __future__ import annotations

import csv
import html
from pathlib import Path

from authoring import conventions

from .course import Course
from .job import JobState


def hidden_lines(course: Course, a: str) -> list[str]:
    """Every hidden-test line of assignment ``a``: they must never reach a student."""
    return [line for c in course.grade_cells(a) for line in conventions.hidden_lines(c["source"])]


def graded_states(course: Course, a: str) -> dict[str, JobState]:
    """student -> the state file of their graded (or failed) submission of ``a``."""
    d = course.state / "jobs" / a
    return {p.stem: JobState.from_dict(_read_json(p)) for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


def feedback(course: Course, assignments=None, log=print) -> int:
    """nbgrader's feedback HTML (judge verdicts included) plus grading_report.html for every
    graded submission, including those nbgrader could not produce a notebook for."""
    n = 0
    for a in assignments or course.assignments():
        states = graded_states(course, a)
        if not states:
            continue
        with_nb = [s for s in states if (course.autograded / s / a / f"{a}.ipynb").exists()]
        if with_nb:
            r = course.api().generate_feedback(a, force=True)
            if not r["success"]:
                log(f"feedback {a}: nbgrader generate_feedback reported a problem; writing reports anyway\n"
                    + (r.get("error") or r.get("log") or "")[-1500:])
        secret = hidden_lines(course, a)
        for s, st in states.items():
            d = course.feedback_dir / s / a
            d.mkdir(parents=True, exist_ok=True)
            (d / "grading_report.html").write_text(
                "<!doctype html><meta charset='utf-8'><title>Grading report</title>"
                f"<h2>Grading report: {html.escape(a)}</h2><pre>{html.escape(st.summary)}</pre>\n")
            for f in d.glob("*.html"):
                removed = _remove_lines(f, secret)     # defence in depth: no hidden test line leaves
                if removed:
                    log(f"feedback {a}/{s}: removed {removed} hidden-test line(s) from {f.name}")
            n += 1
        log(f"feedback {a}: {len(states)} student(s) -> {course.feedback_dir.relative_to(course.home)}/<student>/{a}/")
    return n


def _remove_lines(f: Path, secret: list[str]) -> int:
    text = f.read_text(errors="replace")
    hits = [line for line in secret if line in text or html.escape(line) in text]
    for line in hits:
        text = text.replace(html.escape(line), "[hidden test]").replace(line, "[hidden test]")
    if hits:
        f.write_text(text)
    return len(hits)


def export(course: Course, to: Path | None = None, log=print) -> Path:
    """grades.csv (nbgrader's export: one row per student and assignment) and
    grades_by_cell.csv (every graded cell, auto and manual scores)."""
    from nbgrader.plugins.export import CsvExportPlugin
    to = Path(to or course.home / "grades.csv")
    with course.gradebook() as gb:
        CsvExportPlugin(to=str(to)).export(gb)
        rows = [[a.name, sub.student.id, g.name, g.auto_score, g.manual_score, g.score, g.max_score]
                for a in gb.assignments for nb in a.notebooks
                for sub in gb.notebook_submissions(nb.name, a.name) for g in sub.grades]
    by_cell = to.with_name(to.stem + "_by_cell.csv")
    with open(by_cell, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student_id", "grade_id", "auto_score", "manual_score", "score", "max_score"])
        w.writerows(sorted(rows))
    log(f"export: {to} and {by_cell}")
    return to


def _read_json(p: Path) -> dict:
    import json
    return json.loads(p.read_text())
