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
            (d / "grading_report.html").write_text(grading_report(st))
            for f in d.glob("*.html"):
                removed = remove_lines(f, secret)      # defence in depth: no hidden test line leaves
                if removed:
                    log(f"feedback {a}/{s}: removed {removed} hidden-test line(s) from {f.name}")
            n += 1
        log(f"feedback {a}: {len(states)} student(s) -> {course.feedback_dir.relative_to(course.home)}/<student>/{a}/")
    return n


REPORT_CSS = ("body{font:15px/1.45 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}"
              "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;"
              "text-align:left}th{background:#f5f5f5}.ok{color:#2a7a2a}.no{color:#b22}code{background:#f3f3f3}")
NONE_OF_THE_USUAL = "none of the usual mistakes"


def grading_report(st: JobState) -> str:
    """A student's grading_report.html: the points, what went wrong in each graded cell in the
    words of its local check (naming the usual mistake when the check recognised it), never a
    hidden test's code or values."""
    e = html.escape
    rows = []
    for c in st.cells:
        if c["kind"] != "code":
            rows.append(f"<tr><td>{e(c['grade_id'])}</td><td>{c['points']:g} points</td>"
                        "<td>a written answer: graded by hand</td></tr>")
            continue
        ok = c.get("status") == "passed"
        what = e(c.get("message", ""))
        mistake = c.get("mistake") or ""
        if mistake and mistake != NONE_OF_THE_USUAL:
            what += (f"<br><b>A usual mistake</b> (<code>{e(mistake)}</code>): your local check says the same; "
                     "fix it and run the check again.")
        elif mistake == NONE_OF_THE_USUAL:
            what += "<br>Your result is wrong in a way the checks do not know: compare it with the docstring."
        rows.append(f"<tr><td>{e(c['grade_id'])}</td><td class='{'ok' if ok else 'no'}'>"
                    f"{c['score']:g} / {c['points']:g}</td><td>{what}</td></tr>")
    events = "".join(f"<li>{e(x)}</li>" for x in st.events)
    return ("<!doctype html><html lang='en'><meta charset='utf-8'><title>Grading report</title>"
            f"<style>{REPORT_CSS}</style><h2>Grading report: {e(st.assignment)}</h2>"
            f"<p>{e(st.student)}: <b>{st.score:g} of {st.max_auto:g}</b> automatically graded points "
            "(written answers are graded by hand).</p>"
            + (f"<ul>{events}</ul>" if events else "")
            + "<table><tr><th>cell</th><th>points</th><th>what the grader found</th></tr>"
            + "".join(rows) + "</table></html>\n")


def remove_lines(f: Path, secret: list[str]) -> int:
    """Replace every ``secret`` line found in file ``f`` (as is or HTML-escaped); how many."""
    text = f.read_text(errors="replace")
    hits = [line for line in secret if line in text or html.escape(line) in text]
    for line in hits:
        text = text.replace(html.escape(line), "[hidden test]").replace(line, "[hidden test]")
    if hits:
        f.write_text(text)
    return len(hits)


def export(course: Course, to: Path | None = None, log=print) -> Path:
    """grades.csv (nbgrader's export: one row per student and assignment) and
    grades_by_cell.csv (every graded cell, auto and manual scores, and the usual mistake a
    failed cell's check named: a catalogue id, "none of the usual mistakes", or empty)."""
    from nbgrader.plugins.export import CsvExportPlugin
    to = Path(to or course.home / "grades.csv")
    mistakes = {(a, s, c["grade_id"]): c.get("mistake", "")
                for a in course.assignments() for s, st in graded_states(course, a).items() for c in st.cells}
    with course.gradebook() as gb:
        CsvExportPlugin(to=str(to)).export(gb)
        rows = [[a.name, sub.student.id, g.name, g.auto_score, g.manual_score, g.score, g.max_score,
                 mistakes.get((a.name, sub.student.id, g.name), "")]
                for a in gb.assignments for nb in a.notebooks
                for sub in gb.notebook_submissions(nb.name, a.name) for g in sub.grades]
    by_cell = to.with_name(to.stem + "_by_cell.csv")
    with open(by_cell, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student_id", "grade_id", "auto_score", "manual_score", "score", "max_score",
                    "mistake"])
        w.writerows(sorted(rows))
    log(f"export: {to} and {by_cell}")
    return to


def _read_json(p: Path) -> dict:
    import json
    return json.loads(p.read_text())
