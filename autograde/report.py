"""The class report: what a class got, and which usual mistakes it made (``bash course.sh grade report``).

:func:`class_report` writes ``<course>/reports/index.html``, one self-contained page (the
pictures are inside it: any browser opens it from the disk, no server), and beside it
``class.json``, the same numbers as data. Per assignment:

- the distribution of the scores: a histogram of exactly what ``grades.csv`` holds (every
  student of the gradebook; one without a submission counts 0, as in nbgrader's export);
- per graded cell, how many got full, partial and zero marks (and how many answers still wait
  for grading by hand);
- the usual mistakes the class made, most common first, with the students who made each: a
  failed graded cell names its mistake when its local check did (``mistake`` in the job's
  state, from ``helpers.checks``' stored mistakes), and the rest are counted by kind (a wrong
  result that matches none of the usual mistakes, not done, an error, a hidden test).

It reads what ``autograde`` wrote (the gradebook and the state files), so it is safe to run
again at any time; run it after ``autograde`` (and after grading by hand, for the manual
scores).
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
from pathlib import Path

from .course import Course
from .results import NONE_OF_THE_USUAL, graded_states, hidden_lines, remove_lines

KINDS = {   # a failed cell without a named mistake: its kind (the judge's "failure"), in words
    "wrong": "a wrong result that matches none of the usual mistakes",
    "not done": "not done (still raises NotImplementedError)",
    "error": "an error in the student's code",
    "check": "a local check failed for another reason (an exercise it builds on)",
    "hidden test": "a hidden test failed",
    "test": "a test of the cell failed",
    "not judged": "not judged (the time budget was used up)",
    "": "failed (no detail recorded)",
}


def report_path(course: Course) -> Path:
    return course.home / "reports" / "index.html"


# ----------------------------------------------------------------------------- the data
def gather(course: Course, assignments=None) -> dict:
    """The report's numbers, as plain data (what ``class.json`` holds)."""
    from nbgrader.api import MissingEntry
    out = {"written": datetime.datetime.now().isoformat(timespec="seconds"), "assignments": []}
    with course.gradebook() as gb:
        students = sorted(s.id for s in gb.students)
        for a in assignments or course.assignments():
            try:
                asg = gb.find_assignment(a)
            except MissingEntry:
                continue
            scores, submitted = {}, []
            for sid in students:
                try:
                    sub = gb.find_submission(a, sid)
                except MissingEntry:
                    scores[sid] = 0.0
                    continue
                scores[sid] = max(0.0, sub.score - sub.late_submission_penalty)   # as grades.csv
                submitted.append(sid)
            marks = {}
            for nb in asg.notebooks:
                for subnb in gb.notebook_submissions(nb.name, a):
                    for g in subnb.grades:
                        marks.setdefault(g.name, []).append((subnb.student.id, _mark(g)))
            out["assignments"].append(_assignment(course, a, float(asg.max_score), scores, submitted, marks))
    return out


def _mark(g) -> str:
    if g.score is None or (g.needs_manual_grade and g.manual_score is None):
        return "by hand"
    if g.max_score and g.score >= g.max_score - 1e-9:
        return "full"
    return "zero" if g.score <= 1e-9 else "partial"


def _assignment(course: Course, a: str, max_score: float, scores: dict, submitted: list, marks: dict) -> dict:
    edges = score_edges(max_score)
    counts = histogram(list(scores.values()), edges)
    cells = []
    for c in course.grade_cells(a):
        by = {k: sorted(s for s, m in marks.get(c["grade_id"], []) if m == k) for k in ("full", "partial", "zero", "by hand")}
        cells.append({"grade_id": c["grade_id"], "kind": c["kind"], "points": c["points"],
                      **{k: v for k, v in by.items()}})
    named, kinds = {}, {}
    for student, st in graded_states(course, a).items():
        for c in st.cells:
            if c.get("kind") != "code" or c.get("status") == "passed":
                continue
            mistake = c.get("mistake") or ""
            if mistake and mistake != NONE_OF_THE_USUAL:
                entry = named.setdefault((c["grade_id"], mistake), {
                    "grade_id": c["grade_id"], "mistake": mistake, "message": _check_words(c.get("message", "")),
                    "students": []})
                entry["students"].append(student)
            else:
                kind = "wrong" if mistake == NONE_OF_THE_USUAL else c.get("failure", "")
                kinds.setdefault(c["grade_id"], {}).setdefault(kind if kind in KINDS else "", []).append(student)
    mistakes = sorted(named.values(), key=lambda m: (-len(m["students"]), m["grade_id"], m["mistake"]))
    for m in mistakes:
        m["students"].sort()
    return {"assignment": a, "max_score": max_score, "students": len(scores), "submitted": len(submitted),
            "scores": scores, "edges": edges, "counts": counts, "cells": cells, "mistakes": mistakes,
            "other_failures": {g: {k: sorted(v) for k, v in d.items()} for g, d in kinds.items()}}


def _check_words(message: str) -> str:
    """The local check's own words of a judge's message (``check NAME failed: ...``)."""
    head, sep, rest = message.partition(" failed: ")
    return rest if sep and head.startswith("check ") else message


def score_edges(max_score: float) -> list[float]:
    """The histogram's bin edges: one bar per point (centred on it) up to 20 points, else 20
    equal bins."""
    if max_score <= 0:
        return [-0.5, 0.5]
    if max_score <= 20:
        return [k - 0.5 for k in range(int(math.ceil(max_score)) + 2)]
    return [max_score * i / 20 for i in range(21)]


def histogram(values: list[float], edges: list[float]) -> list[int]:
    """Counts per bin ``[edges[i], edges[i+1])``, the last bin closed (numpy's rule)."""
    import numpy as np
    return [int(c) for c in np.histogram(np.asarray(values, dtype=float), bins=np.asarray(edges))[0]]


# ----------------------------------------------------------------------------- the pictures
def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figures(d: dict) -> dict[str, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figs = {}
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    ax.stairs(d["counts"], d["edges"], fill=True, color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (of {d['max_score']:g} points)", ylabel="students", xlim=(d["edges"][0], d["edges"][-1]),
           title=f"{d['assignment']}: {d['students']} students, {d['submitted']} submitted")
    ax.yaxis.get_major_locator().set_params(integer=True)
    figs["histogram"] = _png(fig)

    cells = d["cells"]
    if cells:
        fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(cells) + 1.0))
        left = [0.0] * len(cells)
        colors = {"full": "#55a868", "partial": "#dd8452", "zero": "#c44e52", "by hand": "#b0b0b0"}
        for k, color in colors.items():
            n = [len(c[k]) for c in cells]
            total = [max(1, sum(len(c[j]) for j in colors)) for c in cells]
            share = [x / t for x, t in zip(n, total)]
            ax.barh([c["grade_id"] for c in cells], share, left=left, color=color, label=k)
            left = [a + b for a, b in zip(left, share)]
        ax.invert_yaxis()
        ax.set(xlim=(0, 1), xlabel="share of the submissions")
        ax.legend(ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        figs["cells"] = _png(fig)

    top = d["mistakes"][:10]
    if top:
        fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(top) + 0.9))
        ax.barh([m["mistake"] for m in top], [len(m["students"]) for m in top], color="#8172b3")
        ax.invert_yaxis()
        ax.set(xlabel="students")
        ax.xaxis.get_major_locator().set_params(integer=True)
        figs["mistakes"] = _png(fig)
    return figs


# ----------------------------------------------------------------------------- the page
CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;text-align:left}th{background:#f5f5f5}
td.n{text-align:right}img{max-width:100%}.muted{color:#666}code{background:#f3f3f3;padding:0 .2em}"""


def _students(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(html.escape(s) for s in names[:limit])
    return shown + (f" <span class='muted'>and {len(names) - limit} more</span>" if len(names) > limit else "")


def _section(d: dict) -> str:
    figs = _figures(d)
    a = html.escape(d["assignment"])
    parts = [f"<h2 id='{a}'>{a}</h2>",
             f"<p>{d['students']} students in the gradebook, {d['submitted']} with a submission; "
             f"the maximum is {d['max_score']:g} points. Scores as in <code>grades.csv</code> (after any "
             "late penalty; a student without a submission counts 0).</p>",
             f"<img alt='histogram of the scores of {a}' src='data:image/png;base64,{figs['histogram']}'>"]
    if "cells" in figs:
        parts += ["<h3>Per graded cell</h3>",
                  f"<img alt='full, partial and zero marks per cell of {a}' src='data:image/png;base64,{figs['cells']}'>",
                  "<table><tr><th>cell</th><th>points</th><th>full</th><th>partial</th><th>zero</th><th>by hand</th></tr>"]
        parts += [f"<tr><td>{html.escape(c['grade_id'])}</td><td class=n>{c['points']:g}</td>"
                  + "".join(f"<td class=n>{len(c[k])}</td>" for k in ("full", "partial", "zero", "by hand")) + "</tr>"
                  for c in d["cells"]]
        parts.append("</table>")
    parts.append("<h3>The usual mistakes of the class</h3>")
    if d["mistakes"]:
        if "mistakes" in figs:
            parts.append(f"<img alt='the most common named mistakes of {a}' "
                         f"src='data:image/png;base64,{figs['mistakes']}'>")
        parts.append("<table><tr><th>cell</th><th>mistake</th><th>what the check says</th><th>students</th>"
                     "<th>who</th></tr>")
        parts += [f"<tr><td>{html.escape(m['grade_id'])}</td><td><code>{html.escape(m['mistake'])}</code></td>"
                  f"<td>{html.escape(m['message'])}</td><td class=n>{len(m['students'])}</td>"
                  f"<td>{_students(m['students'])}</td></tr>" for m in d["mistakes"]]
        parts.append("</table>")
    else:
        parts.append("<p class=muted>No failed cell named one of the usual mistakes.</p>")
    if d["other_failures"]:
        parts.append("<h3>Other failed cells</h3><table><tr><th>cell</th><th>what</th><th>students</th><th>who</th></tr>")
        for g, kinds in d["other_failures"].items():
            parts += [f"<tr><td>{html.escape(g)}</td><td>{html.escape(KINDS.get(k, k))}</td>"
                      f"<td class=n>{len(v)}</td><td>{_students(v)}</td></tr>" for k, v in kinds.items()]
        parts.append("</table>")
    return "\n".join(parts)


def class_report(course: Course, assignments=None, log=print) -> Path:
    """Write ``reports/index.html`` and ``reports/class.json``; return the page's path."""
    data = gather(course, assignments)
    out = report_path(course)
    out.parent.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>Class report</h1><p class=muted>Written {html.escape(data['written'])} from the gradebook "
            "and the grading records (<code>bash course.sh grade report</code>). A mistake is named when the "
            "failed cell's local check recognised it; the students' feedback names the same mistake.</p>"]
    if not data["assignments"]:
        body.append("<p>Nothing graded yet: run <code>bash course.sh grade autograde</code> first.</p>")
    else:
        body.append("<p>" + " · ".join(f"<a href='#{html.escape(d['assignment'])}'>{html.escape(d['assignment'])}</a>"
                                       for d in data["assignments"]) + "</p>")
    body += [_section(d) for d in data["assignments"]]
    page = ("<!doctype html><html lang='en'><meta charset='utf-8'><title>Class report</title>"
            f"<style>{CSS}</style><body>" + "\n".join(body) + "</body></html>\n")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(page)
    tmp.replace(out)
    (out.parent / "class.json").write_text(json.dumps(data, indent=1))
    secret = [line for d in data["assignments"] for line in hidden_lines(course, d["assignment"])]
    for f in (out, out.parent / "class.json"):     # defence in depth: no hidden test line in a report
        if remove_lines(f, secret):
            log(f"report: removed hidden-test lines from {f.name}")
    n_mistakes = sum(len(d["mistakes"]) for d in data["assignments"])
    log(f"report: {out.relative_to(course.home)} ({len(data['assignments'])} assignment(s), "
        f"{n_mistakes} named mistake(s)); the numbers in {(out.parent / 'class.json').relative_to(course.home)}")
    return out


def report_status(course: Course) -> str:
    """One line for ``status``: where the report is and whether grading happened since."""
    out = report_path(course)
    if not out.exists():
        return "report: not written yet (bash course.sh grade report)"
    states = list((course.state / "jobs").rglob("*.json")) if (course.state / "jobs").is_dir() else []
    newer = [p for p in states if p.stat().st_mtime > out.stat().st_mtime]
    when = datetime.datetime.fromtimestamp(out.stat().st_mtime).isoformat(timespec="minutes")
    return (f"report: {out.relative_to(course.home)} (written {when}"
            + (f"; {len(newer)} submission(s) graded since: run `bash course.sh grade report` again)" if newer else ")"))

