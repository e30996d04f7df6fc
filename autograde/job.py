"""Grade one submission of one assignment (one student): the unit of work of a batch.

A :class:`Job` names the unit: one course, one assignment, one student. In a batch it runs as
``python -m autograde _job`` on a Dask worker, in a scratch course that holds the assignment's
release, a scratch gradebook and this one submission (cluster.py); its state and gradebook
records (:func:`export_records`) go back to the instructor's side, which writes them
(:func:`write_records`).

1. Sanity checks of the submission (notebook present and readable, library files present).
2. ``nbgrader autograde`` for this student, its kernel in the sandbox (sandbox.py), hidden
   tests cleared before execution (config.py). This gives the autograded notebook (for the
   feedback and for grading the written answers by hand) and the gradebook records.
3. The trusted judge (judge.py) decides the points of every autograded cell, against the
   student's library running in a second sandbox.
4. The judge's points replace whatever nbgrader computed, in the gradebook; the verdicts
   are added to the autograded notebook so the feedback shows them.
5. A JSON record under .state/ (what the batch resumes from, what feedback reports).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .course import Course
from .files import sha_tree

STATE_VERSION = 1


def retry_while_locked(attempt, tries: int = 5, locked=lambda outcome: False):
    """``attempt()`` again (after 1, 3, 5... s) while SQLite says the database is locked, as it
    may under a parallel batch: when it raises such an error, or when ``locked(outcome)``."""
    for i in range(tries):
        try:
            outcome = attempt()
        except Exception as e:  # noqa: BLE001 - only "database is locked" is retried
            if "locked" not in str(e) or i == tries - 1:
                raise
        else:
            if not locked(outcome) or i == tries - 1:
                return outcome
        time.sleep(1 + 2 * i)


@contextlib.contextmanager
def gradebook_lock(course: Course):
    course.home.mkdir(parents=True, exist_ok=True)
    with open(course.home / ".gradebook.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Job:
    """One (course, assignment, student): what is graded, and where its files and records are."""
    course: Course
    assignment: str
    student: str

    def __str__(self) -> str:
        return f"{self.assignment} {self.student}"

    @property
    def submission(self) -> Path:
        """submitted/<student>/<assignment>/: what the student handed in (never changed)."""
        return self.course.submitted / self.student / self.assignment

    @property
    def workdir(self) -> Path:
        """autograded/<student>/<assignment>/: nbgrader's working copy, the sandboxed kernel's folder."""
        return self.course.autograded / self.student / self.assignment

    @property
    def notebook(self) -> str:
        return f"{self.assignment}.ipynb"

    @property
    def state_path(self) -> Path:
        return self.course.state / "jobs" / self.assignment / f"{self.student}.json"

    @property
    def log_path(self) -> Path:
        return self.course.state / "logs" / f"{self.assignment}--{self.student}.log"

    def read_state(self) -> "JobState | None":
        try:
            return JobState.from_dict(json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write_state(self, state: "JobState") -> None:
        p = self.state_path
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_dict(), indent=1))
        os.replace(tmp, p)


@dataclass
class JobState:
    """What grading one submission found: the record under ``.state/`` that a batch resumes
    from and the feedback reports (the one type for it, wherever a job ends)."""
    assignment: str
    student: str
    hash: str                                  # sha_tree of the submission that was graded
    status: str = "graded"                     # or "grader error"
    events: list = field(default_factory=list)  # what the student (and the instructor) should know
    cells: list = field(default_factory=list)   # per graded cell: grade_id, points, kind, score, status, message
    score: float = 0.0
    max_auto: float = 0.0
    notebook: str = "missing"                  # ok | missing | unreadable | unknown
    started: float = 0.0
    seconds: float = 0.0
    summary: str = ""
    nbgrader: dict | None = None               # the sandboxed notebook run
    judge_seconds: float | None = None
    annotated: bool | None = None
    traceback: str | None = None
    remote: dict | None = None                 # where it ran (a Dask worker)
    engine: dict | None = None                 # the batch's own costs
    version: int = STATE_VERSION

    @classmethod
    def failed(cls, job: "Job", why: str, submission_hash: str | None = None) -> "JobState":
        """A job that produced no result: zero points, a grader error, the reason."""
        cells = [{"grade_id": c["grade_id"], "points": c["points"], "kind": c["kind"], "score": 0.0,
                  "status": "failed" if c["kind"] == "code" else "manual", "message": f"not graded: {why}"}
                 for c in job.course.grade_cells(job.assignment)]
        st = cls(job.assignment, job.student, submission_hash or sha_tree(job.submission), "grader error", [why],
                 cells, notebook="unknown", started=time.time())
        st.total()
        return st

    def total(self) -> None:
        """The scores from the cells, and the summary text."""
        self.score = sum(r["score"] for r in self.cells if r["kind"] == "code")
        self.max_auto = sum(r["points"] for r in self.cells if r["kind"] == "code")
        self.summary = summary_text(self)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "JobState":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# ----------------------------------------------------------------------------- checks
def check_notebook(path: Path) -> tuple[str, str]:
    """('ok'|'missing'|'unreadable', explanation)."""
    if not path.exists():
        return "missing", f"{path.name} is not in your submission: nothing to grade for this notebook"
    import nbformat
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # noqa: BLE001 - any parse error
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        return "unreadable", f"{path.name} could not be read as a notebook ({type(e).__name__}: {msg})"
    return "ok", ""


def library_problems(job: Job) -> list[str]:
    sub = job.submission
    want = [f for f in job.course.released_files(job.assignment) if f.startswith("helpers/") and f.endswith(".py")]
    have = {p.relative_to(sub).as_posix() for p in sub.rglob("*.py")} if sub.exists() else set()
    out = []
    if not (sub / "helpers").is_dir():
        out.append("there is no helpers/ folder in your submission: every exercise of the library scores 0")
    else:
        missing = [f for f in want if f not in have]
        if missing:
            out.append("missing from your helpers/: " + ", ".join(missing) +
                       " (a renamed or deleted file cannot be graded)")
    return out


# ----------------------------------------------------------------------------- nbgrader
_REASONS = [
    (r"DeadKernelError|Kernel died|kernel.*(died|dead)", "the notebook's kernel died (the memory limit, or code that ended its own process)"),
    (r"CellTimeoutError|Timeout waiting for execute reply|timed out", "a cell ran past the time limit and was stopped"),
    (r"NotJSONError|Notebook does not appear to be JSON|JSONDecodeError|Unreadable Notebook", "the notebook file is not valid JSON"),
    (r"[Mm]issing grade cell|missing.*cell|cell.*missing", "graded cells were deleted from the notebook"),
    (r"checksum", "locked cells were changed"),
]


def _reason(log: str) -> str:
    for pat, why in _REASONS:
        if re.search(pat, log or ""):
            return why
    last = [l for l in (log or "").splitlines() if "ERROR" in l or "Error" in l]
    return (last[-1][:300] if last else "nbgrader reported a failure")


def run_nbgrader(job: Job, runtime: Path, uid: int, mode: str) -> dict:
    course = job.course
    rt = runtime / f"kernel-{mode}"
    rt.mkdir(parents=True)
    sandbox.give_to(rt, uid)
    workdir = job.workdir
    box = sandbox.KernelBox(runtime=rt, workdir=workdir, uid=uid, limits=course.settings.limits,
                            data_dirs=course.settings.data_dirs,       # what SandboxKernelManager starts
                            env={"COURSE_LANG": course.lang})
    fired = threading.Event()
    done = threading.Event()

    def watchdog():
        if not done.wait(course.settings.notebook_wall_s):
            fired.set()
            sandbox.kill_uid(uid)
    t = threading.Thread(target=watchdog, daemon=True)
    t.start()
    try:
        with sandbox.kernel_box(box):
            r = retry_while_locked(
                lambda: course.api(RunOnly__mode=mode).autograde(job.assignment, job.student, force=True,
                                                                 create=True),
                tries=4, locked=lambda r: not r.get("success") and "database is locked" in (r.get("log") or "") + (
                    r.get("error") or ""))
    finally:
        done.set()
        sandbox.kill_uid(uid)
        removed = sandbox.take_back(workdir) if workdir.exists() else []
    r = {"success": bool(r.get("success")), "log": (r.get("log") or "")[-20000:], "error": r.get("error") or ""}
    if fired.is_set():
        r["success"] = False
        r["reason"] = f"the notebook run took longer than {course.settings.notebook_wall_s} s and was stopped"
    elif not r["success"]:
        r["reason"] = _reason(r["log"] + r["error"])
    r["removed"] = removed
    return r


# ----------------------------------------------------------------------------- gradebook
@contextlib.contextmanager
def _gradebook(job: Job, gb=None):
    """``gb`` (an open nbgrader Gradebook, left open) or the course's, opened for the block."""
    if gb is not None:
        yield gb
        return
    with job.course.gradebook() as opened:
        yield opened


def _write(job: Job, gb, change) -> None:
    """Run ``change(gradebook)`` and commit, under the course's lock, retried while SQLite says
    the database is locked; rolled back on failure."""
    def attempt():
        with gradebook_lock(job.course), _gradebook(job, gb) as g:
            try:
                change(g)
                g.db.commit()
            except BaseException:
                g.db.rollback()
                raise
    retry_while_locked(attempt)


def _submission(g, job: Job, **kw):
    g.update_or_create_student(job.student)
    return g.update_or_create_submission(job.assignment, job.student, **kw)


def record(job: Job, results: list[dict], nb_state: str, gb=None) -> None:
    """Write the judge's points into the gradebook (creating the records if needed)."""
    def change(g):
        _submission(g, job)
        by_id = {r["grade_id"]: r for r in results}
        subnb = g.find_submission_notebook(job.assignment, job.assignment, job.student)
        for grade in subnb.grades:
            r = by_id.get(grade.name)
            if r is not None and r["kind"] == "code":
                grade.auto_score = float(r["score"])
                grade.needs_manual_grade = False
            elif nb_state != "ok":     # no notebook: nothing to grade by hand either
                grade.auto_score = 0.0
                grade.needs_manual_grade = False
    _write(job, gb, change)


def export_records(job: Job, gb=None) -> dict | None:
    """What grading wrote in the gradebook for this submission, as plain data: the submission's
    timestamp, and per notebook its late penalty, every grade's automatic score and whether it
    needs grading by hand, every comment's automatic text. None when there is no record."""
    from nbgrader.api import MissingEntry
    with _gradebook(job, gb) as g:
        try:
            sub = g.find_submission(job.assignment, job.student)
        except MissingEntry:
            return None
        return {"timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
                "notebooks": {nb.name: {
                    "late_submission_penalty": nb.late_submission_penalty,
                    "grades": {gr.name: {"auto_score": gr.auto_score, "needs_manual_grade": bool(gr.needs_manual_grade)}
                               for gr in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments}} for nb in sub.notebooks}}


def write_records(job: Job, records: dict, gb=None) -> None:
    """Write records of :func:`export_records` (made by grading elsewhere, against a scratch
    gradebook) into this course's gradebook. Idempotent: one submission per (student,
    assignment), created or updated; the hand-grading fields (manual scores and comments) are
    never touched, as nbgrader's own autograde leaves them."""
    from nbgrader.api import MissingEntry

    def change(g):
        _submission(g, job, **({"timestamp": records["timestamp"]} if records.get("timestamp") else {}))
        for name, r in records.get("notebooks", {}).items():
            try:
                subnb = g.find_submission_notebook(name, job.assignment, job.student)
            except MissingEntry:
                continue
            if "late_submission_penalty" in r:
                subnb.late_submission_penalty = r["late_submission_penalty"]
            for grade in subnb.grades:
                v = r.get("grades", {}).get(grade.name)
                if v is not None:
                    grade.auto_score = None if v["auto_score"] is None else float(v["auto_score"])
                    grade.needs_manual_grade = bool(v["needs_manual_grade"])
            for comment in subnb.comments:
                if comment.name in r.get("comments", {}):
                    comment.auto_comment = r["comments"][comment.name]
    _write(job, gb, change)


def annotate(job: Job, results: list[dict], summary: str) -> bool:
    """Add the judge's verdicts to the autograded notebook (they show in the feedback)."""
    import nbformat
    path = job.workdir / job.notebook
    if not path.exists():
        return False
    nb = nbformat.read(str(path), as_version=4)
    by_id = {r["grade_id"]: r for r in results if r["kind"] == "code"}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        r = by_id.get(gid)
        if r is not None and cell.cell_type == "code":
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[grader] {r['score']:g} / {r['points']:g} points: {r['message']}\n"))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("## Grading report\n\n```\n" + summary + "\n```"))
    nbformat.write(nb, str(path))
    return True


def summary_text(state: JobState) -> str:
    lines = [f"{state.assignment} / {state.student}: {state.score:g} of {state.max_auto:g} "
             "autograded points (written answers are graded by hand)"]
    for e in state.events:
        lines.append(f"! {e}")
    for r in state.cells:
        if r["kind"] == "code":
            lines.append(f"- {r['grade_id']}: {r['score']:g} / {r['points']:g}: {r['message']}")
        else:
            lines.append(f"- {r['grade_id']}: {r['points']:g} points, graded by hand")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the job
def _judge(job: Job, cells, runtime, uid, out, state: JobState):
    from .calls import Worker
    from .judge import Judge
    course, sub = job.course, job.submission
    try:
        src_nb = json.loads(course.source_notebook(job.assignment).read_text())
        helpers_src = sub / "helpers" if (sub / "helpers").is_dir() else None
        (runtime / "judge").mkdir()
        w = Worker(helpers_src, runtime / "judge", uid, sandbox.Limits.from_dict(course.settings.limits),
                   call_timeout=course.settings.call_timeout_s, data_dirs=course.settings.data_dirs)
        t1 = time.time()
        try:
            verdicts = Judge.of_release(course.source / job.assignment, w, course.lang).run(src_nb, cells,
                                                                             course.settings.judge_budget_s)
            out["verdicts"] = {v["grade_id"]: v for v in verdicts}
        finally:
            w.stop()
            sandbox.kill_uid(uid)
            state.judge_seconds = round(time.time() - t1, 1)
    except BaseException as e:  # noqa: BLE001 - reported by the job
        out["error"] = e


def run_job(job: Job, slot: int = 0) -> JobState:
    """Grade ``job`` with the sandbox uids of ``slot``; returns (and writes) its state."""
    t0 = time.time()
    course, a, sub = job.course, job.assignment, job.submission
    kernel_uid, worker_uid = sandbox.slot_uids(slot)
    state = JobState(a, job.student, sha_tree(sub), started=t0)
    cells = course.grade_cells(a)
    results = [{"grade_id": c["grade_id"], "points": c["points"], "kind": c["kind"], "score": 0.0,
                "status": "manual" if c["kind"] != "code" else "failed", "message": "not graded"} for c in cells]
    runtime = Path(tempfile.mkdtemp(prefix=f"cgrade-{slot}-"))
    os.chmod(runtime, 0o711)
    nb_state = "missing"
    try:
        why = sandbox.available()
        if why:
            raise sandbox.SandboxUnavailable(why)
        if (sub / "COLLECT_PROBLEM.txt").exists():
            state.events.append("your submission could not be unpacked: " +
                                (sub / "COLLECT_PROBLEM.txt").read_text()[:300])
        nb_state, nb_msg = check_notebook(sub / job.notebook)
        if nb_state != "ok":
            state.events.append(nb_msg)
        state.events += library_problems(job)
        if nb_state == "ok":
            # the notebook run (feedback) and the judge (points) are independent: run both at once
            judged: dict = {}
            th = threading.Thread(target=_judge, args=(job, cells, runtime, worker_uid, judged, state))
            th.start()
            t1 = time.time()
            try:
                r = run_nbgrader(job, runtime, kernel_uid, course.settings.run_cells)
                state.nbgrader = {"success": r["success"], "reason": r.get("reason")}
                if r["removed"]:
                    state.events.append("links and special files your code created were removed: " +
                                        ", ".join(r["removed"][:5]))
                if not r["success"]:
                    state.events.append(f"the notebook run did not complete: {r['reason']}. Its points are "
                                        "still decided by the tests; the notebook is kept without outputs "
                                        "for grading by hand")
                    r2 = run_nbgrader(job, runtime, kernel_uid, "none")
                    state.nbgrader["fallback"] = r2["success"]
                state.nbgrader["seconds"] = round(time.time() - t1, 1)
            finally:
                th.join()
            if "error" in judged:
                raise judged["error"]
            for r in results:
                v = judged["verdicts"].get(r["grade_id"])
                if v:
                    r.update(score=v["score"], status=v["status"], message=v["message"],
                             mistake=v.get("mistake", ""), failure=v.get("failure", ""))
        else:
            for r in results:
                if r["kind"] == "code":
                    r["message"] = "0: no readable notebook"
                else:
                    r["status"], r["message"] = "zero", "no readable notebook"
    except Exception as e:  # noqa: BLE001 - a grader problem: record it, zero points, flag it
        import traceback
        state.status = "grader error"
        state.events.append(f"the grader itself failed ({type(e).__name__}: {e}); the instructor will look at it")
        state.traceback = traceback.format_exc()[-4000:]
        for r in results:
            if r["kind"] == "code":
                r.update(score=0.0, status="failed", message="not graded: grader error")
    finally:
        sandbox.kill_slot(slot)
        shutil.rmtree(runtime, ignore_errors=True)
    state.cells, state.notebook = results, nb_state
    try:
        record(job, results, nb_state)
    except Exception as e:  # noqa: BLE001
        state.status = "grader error"
        state.events.append(f"the gradebook could not be written ({type(e).__name__}: {e})")
    state.total()
    with contextlib.suppress(Exception):
        state.annotated = annotate(job, results, state.summary)
    state.seconds = round(time.time() - t0, 1)
    job.write_state(state)
    return state
