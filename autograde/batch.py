"""A batch of grading on the instructor's side: which submissions, on Dask, and their results.

:func:`autograde` (``bash course.sh grade autograde``) finds what is new or changed
(:func:`pending`) and runs a :class:`Batch`: it connects to a Dask cluster (cluster.py),
registers the release (bundle.py) and keeps a few tasks per worker thread in flight
(remote.py's :func:`~autograde.remote.grade`); each result is written here, one at a time
in the main thread: the autograded folder, the gradebook records (SQLite or PostgreSQL,
the same code), then the state file last. A result is written once (it leaves the table of
running tasks when it is written) and every write is an upsert, so a task that Dask ran
twice (its first worker died) is recorded once.

Faults: a worker that dies mid-job costs that job only (Dask reruns it elsewhere; the job's
processes die with the worker); a submission whose task kills every worker it lands on is
recorded as a grader error after ``distributed.scheduler.allowed-failures``; Ctrl-C cancels
what is running, and the next run grades what has no state file yet.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
import warnings
from collections import deque
from pathlib import Path

from .bundle import ReleasePlugin, build_release
from .cluster import connect, dashboard, restore_environ
from .config import COURSE_ID
from .course import Course, GraderError
from .files import safe_rel, sha_tree
from .job import STATE_VERSION, Job, JobState, record, write_records
from .remote import Task, grade, make_task

DONE = {"graded"}


def pending(course: Course, assignments, students, force=False) -> tuple[list[Job], list[Job]]:
    """(to grade, already graded and unchanged): the jobs of every collected submission."""
    todo, skipped = [], []
    for a in assignments:
        for s in students:
            job = Job(course, a, s)
            if not job.submission.is_dir():
                continue
            st = job.read_state()
            if not force and st and st.status in DONE and st.hash == sha_tree(job.submission) \
                    and st.version == STATE_VERSION:
                skipped.append(job)
            else:
                todo.append(job)
    return todo, skipped


def autograde(course: Course, assignments=None, students=None, jobs: int = 2, force=False, log=print,
              scheduler: str | None = None) -> dict:
    """Grade every (assignment, student) not graded yet, on Dask: a local cluster of ``jobs``
    worker processes, or the running cluster at ``scheduler`` (default: the ``scheduler``
    setting). Safe to interrupt and re-run: finished ones are skipped (unless ``force``), an
    unfinished one is graded again from scratch."""
    assignments = assignments or course.assignments()
    missing = [a for a in assignments if not course._assignment_in_gradebook(a)]
    if missing:
        raise SystemExit(f"not released yet: {', '.join(missing)} (run: bash course.sh grade release)")
    students = students or course.students()
    todo, skipped = pending(course, assignments, students, force)
    if skipped:
        log(f"autograde: {len(skipped)} submission(s) already graded and unchanged (use --force to regrade)")
    res = Batch(course, todo, workers=jobs, scheduler=scheduler or course.settings.scheduler or None, log=log).run()
    return {**res, "skipped": len(skipped)}


class Batch:
    """One run of ``autograde`` over ``todo`` (jobs), on a Dask cluster; :meth:`run` returns
    ``{graded, failures, seconds, interrupted}``."""

    def __init__(self, course: Course, todo: list[Job], workers: int = 2, scheduler: str | None = None, log=print):
        self.course, self.workers, self.scheduler, self.log = course, workers, scheduler, log
        self.queue = deque(todo)
        self.total = len(todo)
        self.inflight: dict = {}           # Dask key -> (job, task, future)
        self.done, self.failures = 0, []
        self.batch_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        from distributed import as_completed
        from nbgrader.api import Gradebook
        from tqdm import tqdm
        t0 = time.time()
        if not self.queue:
            return {"graded": 0, "failures": [], "seconds": 0.0, "interrupted": False}
        assignments = sorted({j.assignment for j in self.queue})
        self.gb = Gradebook(self.course.db_url, COURSE_ID)
        client = cluster = self.release = None
        self.environ = dict(os.environ)      # a restarted worker's nanny writes into it again
        self.bar, interrupted = None, False
        try:
            self.release = build_release(self.course, assignments, self.gb)
            self.extensions = _extensions(self.gb, assignments)
            client, cluster, self.where = connect(self.scheduler, self.workers)
            self.client = client
            self.log(f"autograde: {self.total} submission(s) on {self.where}; dashboard: {dashboard(client)}")
            answers = client.register_plugin(ReleasePlugin(self.release))
            for w, r in (answers or {}).items():
                if isinstance(r, dict) and r.get("status") != "OK":
                    self.log(f"autograde: worker {w} could not set up: {r.get('exception') or r}")
            self.completed = as_completed()
            self.bar = tqdm(total=self.total, unit="job", desc="autograde", disable=None, dynamic_ncols=True)
            self.bar.set_postfix_str("errors=0")
            self.submit_more()
            for fut in self.completed:
                self.collect(fut)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.close(client, cluster)
        wall = time.time() - t0
        self.summarize(wall, interrupted)
        if interrupted:
            raise KeyboardInterrupt
        return {"graded": self.done, "failures": self.failures, "seconds": wall, "interrupted": interrupted}

    def submit_more(self) -> None:
        """Keep about two tasks per worker thread in flight (at least 4)."""
        try:
            want = max(4, 2 * sum(self.client.nthreads().values()))
        except Exception:  # noqa: BLE001
            want = 4
        while self.queue and len(self.inflight) < want:
            job = self.queue.popleft()
            task = make_task(job, self.release, self.extensions.get((job.assignment, job.student)), self.batch_id)
            fut = self.client.submit(grade, task, key=task.key, pure=False, retries=0)
            self.inflight[fut.key] = (job, task, fut)
            self.completed.add(fut)

    def collect(self, fut) -> None:
        """One finished (or failed) task: write its result, report it, submit the next."""
        entry = self.inflight.pop(fut.key, None)
        if entry is None:                 # already written: never twice
            return
        job, task, _ = entry
        if fut.status == "cancelled":     # not by us: the connection to the cluster was lost
            self.inflight[fut.key] = entry
            raise GraderError(f"lost the Dask cluster ({self.where}): {len(self.inflight) + len(self.queue)} "
                              "submission(s) not graded; run the same command again when it is back")
        if fut.status not in ("finished", "error"):    # "lost": its worker died holding the result;
            self.inflight[fut.key] = entry              # Dask computes it again: wait for that
            self.completed.add(fut)
            return
        t1 = time.time()
        with _no_interrupt_inside(), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=_sa_warning())   # nbgrader's add_submission
            if fut.status == "finished":
                try:
                    out = fut.result()
                except Exception as e:  # noqa: BLE001
                    out = {"state": None, "why": f"the result could not be fetched ({type(e).__name__}: {e})"}
            else:
                out = {"state": None, "why": _why_failed(fut)}
            fut.release()
            st = self.write_result(job, task, out, time.time() - t1)
        self.done += 1
        if st.status != "graded":
            self.failures.append((job.assignment, job.student, st.status))
            self.bar.set_postfix_str(f"errors={len(self.failures)}")
        self.bar.update(1)
        self.say(f"[{self.done}/{self.done + len(self.queue) + len(self.inflight)}] {job}: "
                 f"{st.score:g}/{st.max_auto:g} in {st.seconds:.0f} s"
                 + (f" ({st.status})" if st.status != "graded" else "")
                 + "".join(f"\n      ! {e}" for e in st.events[:3]))
        self.submit_more()

    def say(self, msg: str) -> None:
        from tqdm import tqdm
        if self.bar is None or self.bar.disable:
            self.log(msg)
        else:
            with tqdm.external_write_mode():
                self.log(msg)

    def close(self, client, cluster) -> None:
        if self.bar is not None:
            self.bar.close()
        if client is not None:
            with contextlib.suppress(Exception):
                client.cancel([f for _, _, f in self.inflight.values()], force=True)
            if cluster is None and self.release is not None:
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(self.release.plugin_name)
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
            restore_environ(self.environ)
        self.gb.close()

    def summarize(self, wall: float, interrupted: bool) -> None:
        left = self.total - self.done
        if interrupted:
            self.log(f"autograde: interrupted: {self.done} submission(s) written, {left} not finished "
                     "(run the same command again to grade them)")
        if self.done:
            self.log(f"autograde: {self.done} submission(s) in {wall:.0f} s ({wall / self.done:.1f} s each, "
                     f"{'the cluster' if self.scheduler else f'{self.workers} worker(s)'}): "
                     f"{self.done - len(self.failures)} graded, {len(self.failures)} failed; "
                     f"{3600 * self.done / wall:.0f} submissions per hour")

    # ------------------------------------------------------------------ writing one result
    def write_result(self, job: Job, task: Task, out: dict, fetch_s: float) -> JobState:
        """Write one job's result (idempotent): the autograded folder, the gradebook records,
        then the state file, which says the job is done."""
        t0 = time.time()
        if out.get("log"):
            job.log_path.parent.mkdir(parents=True, exist_ok=True)
            job.log_path.write_text(out["log"])
        if out.get("state") is None:
            return self.write_failed(job, out.get("why") or "the grading job gave no result", task.hash)
        st = JobState.from_dict(out["state"])
        if out.get("tree"):
            self.write_tree(job, task, out["tree"])
        try:
            if out.get("records"):
                write_records(job, out["records"], self.gb)
            else:
                record(job, st.cells, st.notebook, self.gb)
        except Exception as e:  # noqa: BLE001
            st.status = "grader error"
            st.events.append(f"the gradebook could not be written ({type(e).__name__}: {e})")
            st.total()
        st.hash, st.remote = task.hash, out.get("remote")
        st.engine = {"fetch_s": round(fetch_s, 4), "write_s": round(time.time() - t0, 4)}
        job.write_state(st)
        return st

    def write_failed(self, job: Job, why: str, submission_hash: str | None = None) -> JobState:
        """A job that produced no result: zero points recorded, a grader error, the reason."""
        st = JobState.failed(job, why, submission_hash)
        try:
            record(job, st.cells, "ok", self.gb)
        except Exception as e:  # noqa: BLE001
            st.events.append(f"gradebook not written: {e}")
            st.total()
        job.write_state(st)
        return st

    def write_tree(self, job: Job, task: Task, tree: dict) -> None:
        """autograded/<student>/<assignment>/ from a result, replacing what was there."""
        dest = job.workdir
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{job.assignment}.incoming-", dir=dest.parent))
        try:
            for rel, data in tree.items():
                f = tmp / safe_rel(rel)
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(task.content(rel, self.release.blobs) if data is None else data)
            os.chmod(tmp, 0o755)
            if dest.exists():
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _extensions(gb, assignments) -> dict:
    out = {}
    for a in assignments:
        with contextlib.suppress(Exception):
            for sub in gb.assignment_submissions(a):
                if sub.extension is not None:
                    out[(a, sub.student.id)] = sub.extension.total_seconds()
    return out


@contextlib.contextmanager
def _no_interrupt_inside():
    """Ctrl-C while a result is being written waits until it is written (main thread only)."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit = []
    old = signal.signal(signal.SIGINT, lambda *a: hit.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if hit:
            raise KeyboardInterrupt


def _sa_warning():
    from sqlalchemy.exc import SAWarning
    return SAWarning


def _why_failed(fut) -> str:
    try:
        exc = fut.exception(timeout=10)
    except Exception as e:  # noqa: BLE001
        return f"the grading task was lost ({type(e).__name__}: {e})"
    from distributed.scheduler import KilledWorker
    if isinstance(exc, KilledWorker):
        return ("the grading job killed every Dask worker it ran on, as many times as the scheduler allows "
                f"(distributed.scheduler.allowed-failures); it was not graded. Dask: {exc}")
    return f"the grading task failed on its worker ({type(exc).__name__}: {exc})"
