"""The instructor's commands over a whole class: autograde in parallel, feedback, export."""
from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tools import conventions

from . import job as J
from .course import ROOT, Course, sha_tree

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


def autograde(course: Course, assignments=None, students=None, jobs: int = 2, force=False, log=print) -> dict:
    """Grade every (assignment, student) not graded yet, ``jobs`` at a time, each in its own
    process. Safe to interrupt and re-run: finished ones are skipped (unless ``force``), an
    unfinished one is graded again from scratch."""
    assignments = assignments or course.assignments()
    missing = [a for a in assignments if not course._assignment_in_gradebook(a)]
    if missing:
        raise SystemExit(f"not released yet: {', '.join(missing)} (run: bash course.sh grade release)")
    students = students or course.students()
    todo, skipped = pending(course, assignments, students, force)
    if skipped:
        log(f"autograde: {len(skipped)} submission(s) already graded and unchanged (use --force to regrade)")
    free = list(range(max(1, jobs)))
    running = {}
    t0 = time.time()
    n_done, failures = 0, []
    logs = course.state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop(J.sandbox.JOB_ENV, None)
    while todo or running:
        while todo and free:
            job = todo.pop(0)
            slot = free.pop(0)
            lf = open(job.log_path, "w")
            p = subprocess.Popen([sys.executable, "-m", "autograde", "--home", str(course.home), "--root",
                                  str(course.root), "_job", job.assignment, job.student, "--slot", str(slot)]
                                 + _setting_args(course),
                                 stdout=lf, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT)
            running[slot] = (p, job, time.time(), lf)
        time.sleep(0.2)
        for slot, (p, job, ts, lf) in list(running.items()):
            late = time.time() - ts > course.settings.job_wall_s
            if p.poll() is None and not late:
                continue
            if late:
                J.sandbox.kill_tree(p)
                p.wait()
            lf.close()
            J.sandbox.kill_slot(slot)
            del running[slot]
            free.append(slot)
            st = job.read_state()
            if late or st is None or st.get("started", 0) < ts - 1:
                why = f"the grading job ran past {course.settings.job_wall_s} s" if late else \
                    f"the grading job ended without a result (exit {p.returncode}); see {lf.name}"
                st = _failed_job(job, why)
            n_done += 1
            if st.get("status") != "graded":
                failures.append((job.assignment, job.student, st.get("status")))
            log(f"[{n_done}/{n_done + len(todo) + len(running)}] {job}: {st['score']:g}/{st['max_auto']:g} "
                f"in {st.get('seconds', 0):.0f} s" + (f" ({st['status']})" if st.get("status") != "graded" else "")
                + "".join(f"\n      ! {e}" for e in st.get("events", [])[:3]))
    wall = time.time() - t0
    if n_done:
        log(f"autograde: {n_done} submission(s) in {wall:.0f} s ({wall / n_done:.1f} s each, {jobs} worker(s))")
    return {"graded": n_done, "skipped": len(skipped), "failures": failures, "seconds": wall}


def _setting_args(course):
    return ["--settings-json", json.dumps(course.settings.__dict__)]


def _failed_job(job: J.Job, why: str) -> dict:
    """Record a job that produced no result: zero points, a grader error, the reason."""
    cells = job.course.grade_cells(job.assignment)
    results = [{"grade_id": c["grade_id"], "points": c["points"], "kind": c["kind"], "score": 0.0,
                "status": "failed" if c["kind"] == "code" else "manual", "message": f"not graded: {why}"}
               for c in cells]
    state = {"version": J.STATE_VERSION, "assignment": job.assignment, "student": job.student,
             "hash": sha_tree(job.submission),
             "status": "grader error", "events": [why], "cells": results, "score": 0.0,
             "max_auto": sum(r["points"] for r in results if r["kind"] == "code"), "started": time.time(),
             "notebook": "unknown"}
    try:
        J.record(job, results, "ok")
    except Exception as e:  # noqa: BLE001
        state["events"].append(f"gradebook not written: {e}")
    state["summary"] = J.summary_text(state)
    job.write_state(state)
    return state


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
