"""Grading on Dask: every batch runs on a Dask cluster, a local one by default.

The instructor's side (:func:`autograde`, called by ``bash course.sh grade autograde``) starts a
``distributed.LocalCluster`` of ``-j N`` worker processes with one thread each, or connects to a
running cluster (``--scheduler tcp://HOST:8786`` or ``COURSE_GRADER_SCHEDULER``), and submits one
task per (student, assignment). Nothing is shared but the Dask connection:

- **Once per worker**, the released assignments travel as a Dask worker plugin
  (:class:`ReleasePlugin`): the instructor's ``source/<a>/`` files (the notebook with its hidden
  tests, the stubbed library), content-addressed, and the assignments' gradebook structure
  (cells, points, checksums: never a student's record). The scheduler keeps the plugin and
  hands it to every worker that joins, replacements included; each worker writes it once into
  a cache folder named by its hash (:func:`materialize`).
- **A task** (:class:`Task`) carries one submission's bytes (files identical to a released file
  go as their hash only), the grading settings and the release's hash. On the worker,
  :func:`grade` claims a sandbox slot of that machine (:func:`claimed_slot`), builds a scratch
  course (the cached release, a scratch SQLite gradebook made from the structure, the
  submission), runs ``python -m autograde _job`` there (the same job as ever: nbgrader with its
  kernel in sandbox A, the trusted judge against sandbox B), and returns plain data: the job's
  state (verdicts, points, messages, timings), its gradebook records (scores, comments, as
  nbgrader and the judge left them in the scratch gradebook), and the autograded folder (files
  that differ from the submission). The worker never sees the instructor's gradebook, other
  submissions or the solutions.
- **The instructor's side writes** everything from the results, one at a time in the main
  thread: the autograded folder, the gradebook records (SQLite or PostgreSQL, the same code),
  then the state file last. Each task's result is written once (a key is taken off the table
  of running tasks when it is written) and every write is an upsert, so a task that Dask ran
  twice (its first worker died) is recorded once.

Faults: a worker that dies mid-job costs that job only (Dask reruns it elsewhere; the job's
processes die with the worker); a submission whose task kills every worker it lands on is
recorded as a grader error after ``distributed.scheduler.allowed-failures``; Ctrl-C cancels
what is running, and the next run grades what has no state file yet.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import job as J
from . import sandbox
from .config import COURSE_ID
from .course import ROOT, Course, GraderError, sha_tree

SCHEDULER_ENV = "COURSE_GRADER_SCHEDULER"
CACHE_ENV = "COURSE_GRADER_CACHE"          # where workers keep the releases (default: the temp folder)
SLOT_DIR_ENV = "COURSE_GRADER_SLOT_DIR"    # the machine's slot locks (default: /tmp/cnnvis-grader-slots)
PLUGIN_PREFIX = "cnnvis-grader-release-"
MAX_SLOTS = 256                            # uids UID_BASE .. UID_BASE + 511
MAX_EXTRA_BYTES = 64 << 20                 # files a job wrote besides the notebook, carried back at most
# Dask settings of a grading cluster: a worker thread gets one task at a time (a grading task is
# long: a second one queued behind it could wait while another machine idles, so no work
# stealing either); and the event loops' housekeeping runs less often. A task only waits for its
# grading process, so profiling it is useless, and on a CPU-bound machine the defaults (a tick
# every 20 ms in every process, monitors every 100-500 ms) cost 8% of a core per idle
# LocalCluster of 2 workers; these cost 1.4%.
DASK_CONFIG = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}
STRUCTURE = ("assignment", "notebook", "base_cell", "grade_cells", "solution_cells", "task_cells", "source_cell")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(base: Path) -> dict[str, Path]:
    """relative path -> file, plain files only (links and special files are left out)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for n in sorted(filenames):
            p = Path(dirpath) / n
            if p.is_file() and not p.is_symlink():
                out[p.relative_to(base).as_posix()] = p
    return out


def _safe_rel(rel: str) -> str:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
        raise GraderError(f"refusing the path {rel!r}")
    return rel


# ============================================================================ the release, once per worker
@dataclass
class Release:
    """What every worker needs of the course, whatever the student: the released assignments
    (``source/<a>/``: the instructor's notebook with its hidden tests, the stubbed library) and
    their gradebook structure. Plain data; ``key`` is the hash of all of it."""
    blobs: dict[str, bytes]                      # sha256 -> content (each distinct file once)
    trees: dict[str, dict[str, str]]             # assignment -> {path in source/<a>/: sha256}
    gradebook: bytes                             # SQLite file: the assignments' cells, no student data
    config: dict                                 # nbgrader_config.py's plain settings (no gradebook URL)
    key: str = ""

    @property
    def plugin_name(self) -> str:
        return PLUGIN_PREFIX + self.key


def _structure(gb, assignments: list[str]) -> dict[str, list[dict]]:
    """The rows of the assignments' structure tables in nbgrader's gradebook (no student data),
    and its schema version."""
    from nbgrader.api import Base
    from sqlalchemy import select, text
    t = Base.metadata.tables
    db = gb.db

    def rows_of(name, where):
        return sorted((dict(r) for r in db.execute(select(t[name]).where(where)).mappings()), key=lambda r: r["id"])
    rows = {"course": rows_of("course", t["course"].c.id == COURSE_ID),
            "assignment": rows_of("assignment", t["assignment"].c.name.in_(assignments))}
    rows["notebook"] = rows_of("notebook", t["notebook"].c.assignment_id.in_([r["id"] for r in rows["assignment"]]))
    nids = [r["id"] for r in rows["notebook"]]
    rows["base_cell"] = rows_of("base_cell", t["base_cell"].c.notebook_id.in_(nids))
    bids = [r["id"] for r in rows["base_cell"]]
    for name in ("grade_cells", "solution_cells", "task_cells"):
        rows[name] = rows_of(name, t[name].c.id.in_(bids))
    rows["source_cell"] = rows_of("source_cell", t["source_cell"].c.notebook_id.in_(nids))
    try:
        version = db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a gradebook without alembic's table
        db.rollback()
        version = None
    rows["alembic_version"] = [{"version_num": version}] if version else []
    return rows


def _gradebook_file(rows: dict[str, list[dict]]) -> bytes:
    """A fresh SQLite gradebook holding only ``rows`` (the assignments' structure), made with
    SQLAlchemy directly (nbgrader's Gradebook would run ``alembic`` to stamp a new file)."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text
    with tempfile.TemporaryDirectory(prefix="cgrade-structure-") as tmp:
        path = Path(tmp) / "gradebook.db"
        engine = create_engine(f"sqlite:///{path}")
        try:
            Base.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                if rows.get("alembic_version"):
                    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                                 {"v": rows["alembic_version"][0]["version_num"]})
                for name in ("course",) + STRUCTURE:
                    if rows.get(name):
                        conn.execute(Base.metadata.tables[name].insert(), rows[name])
        finally:
            engine.dispose()
        return path.read_bytes()


def _portable_config(course: Course) -> dict:
    """nbgrader_config.py's settings as plain data, for the worker's scratch course: everything
    but the gradebook's address (workers never see it), the folders, and what config.py owns
    (rebuilt on the worker). Values that are not plain data (classes) are course-owned anyway."""
    out: dict = {}
    for sec, vals in (course.file_config or {}).items():
        if not isinstance(vals, dict) or sec == "CourseGrader":
            continue
        for k, v in vals.items():
            if sec == "CourseDirectory" and k in ("db_url", "root"):
                continue
            try:
                json.dumps(v)
            except (TypeError, ValueError):
                continue
            out.setdefault(sec, {})[k] = v
    return out


def build_release(course: Course, assignments: list[str], gb) -> Release:
    """The release of ``assignments`` as the instructor's gradebook ``gb`` knows them."""
    blobs, trees = {}, {}
    for a in assignments:
        trees[a] = {}
        for rel, p in _files(course.source / a).items():
            if "__pycache__" in rel.split("/"):
                continue
            data = p.read_bytes()
            h = _sha(data)
            blobs[h] = data
            trees[a][rel] = h
    rows = _structure(gb, assignments)
    r = Release(blobs=blobs, trees=trees, gradebook=_gradebook_file(rows), config=_portable_config(course))
    r.key = _sha(json.dumps([trees, rows, r.config], sort_keys=True, default=str).encode())[:20]
    return r


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "cnnvis-grader-cache")


CACHE_KEEP_S = 24 * 3600        # a release not used for a day leaves the cache


def _prune(root: Path, keep: str) -> None:
    """Remove releases not used for CACHE_KEEP_S (and unfinished copies an hour old)."""
    now = time.time()
    for d in root.iterdir() if root.is_dir() else []:
        try:
            if d.name == keep:
                continue
            if d.name.startswith(".incoming-"):
                if now - d.stat().st_mtime > 3600:
                    shutil.rmtree(d, ignore_errors=True)
            elif now - (d / "READY").stat().st_mtime > CACHE_KEEP_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def materialize(release: Release) -> Path:
    """The release as files in this machine's cache (``<cache>/<key>/``: ``blobs/``,
    ``source/<a>/``, ``gradebook.db``, ``nbgrader_config.json``), written once: whoever comes
    later (another worker process of the machine, the next batch) finds it there. Each use
    marks it (``READY``'s time); releases unused for a day are removed."""
    root = cache_root()
    dest = root / release.key
    if (dest / "READY").is_file():
        with contextlib.suppress(OSError):
            os.utime(dest / "READY")
        return dest
    _prune(root, release.key)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        for h, data in release.blobs.items():
            (tmp / "blobs").mkdir(exist_ok=True)
            (tmp / "blobs" / h).write_bytes(data)
        for a, tree in release.trees.items():
            for rel, h in tree.items():
                f = tmp / "source" / a / _safe_rel(rel)
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(release.blobs[h])
        (tmp / "gradebook.db").write_bytes(release.gradebook)
        (tmp / "nbgrader_config.json").write_text(json.dumps(release.config))
        (tmp / "READY").write_text(release.key)
        try:
            os.rename(tmp, dest)
        except OSError:             # another process of this machine was first
            if not (dest / "READY").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:                # pragma: no cover - the pinned environment has it
    _WorkerPlugin = object


class ReleasePlugin(_WorkerPlugin):
    """Brings the release to every worker once: registered by the batch, kept by the scheduler,
    set up on each worker when it joins (replacements included)."""

    def __init__(self, release: Release):
        self.release = release
        self.name = release.plugin_name
        self.path: Path | None = None

    def setup(self, worker=None):
        self.path = materialize(self.release)
        why = sandbox.available()
        if why:
            raise GraderError(f"this worker cannot sandbox student code: {why}")

    def ensure(self) -> Path:
        if self.path is None or not (self.path / "READY").is_file():
            self.path = materialize(self.release)
        return self.path


# ============================================================================ a task, on a worker
@dataclass
class Task:
    """One (student, assignment) job as it travels to a worker: plain data only."""
    assignment: str
    student: str
    hash: str                                    # sha_tree of the submission: what is graded
    files: dict[str, bytes]                      # the submission's files the release does not hold
    refs: dict[str, str]                         # the others: path -> sha256 of the released file
    settings: dict                               # autograde.config.Settings, as a dict
    release: str                                 # the ReleasePlugin's name
    extension_s: float | None = None             # the instructor's extension for this submission
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"grade-{self.assignment}-{self.student}-{self.meta.get('batch', '')}"

    def payload_bytes(self) -> int:
        return sum(map(len, self.files.values()))

    def content(self, rel: str, blobs) -> bytes:
        return self.files[rel] if rel in self.files else blobs[self.refs[rel]]


def make_task(job: J.Job, release: Release, extension_s=None, batch_id="") -> Task:
    files, refs = {}, {}
    known = set(release.blobs)
    for rel, p in _files(job.submission).items():
        data = p.read_bytes()
        h = _sha(data)
        if h in known:
            refs[rel] = h
        else:
            files[rel] = data
    return Task(job.assignment, job.student, sha_tree(job.submission), files, refs,
                dict(job.course.settings.__dict__), release.plugin_name, extension_s, {"batch": batch_id})


def slot_dir() -> Path:
    return Path(os.environ.get(SLOT_DIR_ENV) or "/tmp/cnnvis-grader-slots")


@contextlib.contextmanager
def claimed_slot():
    """A grading slot of this machine, held (a lock file) while one job runs: no two jobs on a
    machine share sandbox uids, whatever the number of worker processes and threads. A slot
    whose holder died is free again (the kernel drops the lock); its leftovers are killed."""
    d = slot_dir()
    d.mkdir(parents=True, exist_ok=True)
    for k in range(MAX_SLOTS):
        f = open(d / f"{k}.lock", "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        try:
            sandbox.kill_slot(k)
            yield k
        finally:
            sandbox.kill_slot(k)
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
        return
    raise GraderError(f"all {MAX_SLOTS} grading slots of this machine are taken")


def _cancelled() -> bool:
    """Whether Dask has given up on the task this thread runs (the batch was interrupted)."""
    try:
        from distributed import get_worker
        w = get_worker()
        key = w.get_current_task()
        if key is None:
            return False
        ts = w.state.tasks.get(key)
        return ts is None or ts.state in ("cancelled", "released", "forgotten")
    except Exception:  # noqa: BLE001 - not in a worker, or the worker's internals moved
        return False


def _worker_info() -> dict:
    info = {"host": os.uname().nodename, "pid": os.getpid(), "worker": f"pid {os.getpid()}"}
    with contextlib.suppress(Exception):
        from distributed import get_worker
        w = get_worker()
        info.update(worker=w.address, name=str(w.name))
    return info


def grade(task: Task) -> dict:
    """Grade one submission on this worker (the Dask task). Returns plain data (see the module)."""
    t_start = time.time()
    plugin = None
    with contextlib.suppress(Exception):
        from distributed import get_worker
        plugin = get_worker().plugins.get(task.release)
    if plugin is None:
        raise GraderError(f"this worker has no copy of the course release {task.release} (the batch's "
                          "worker plugin): was it started with the course environment?")
    cache = plugin.ensure()
    blobs = cache / "blobs"
    info = _worker_info()
    with claimed_slot() as slot:
        scratch = Path(tempfile.mkdtemp(prefix=f"cgrade-{slot}-job-"))
        os.chmod(scratch, 0o700)
        try:
            home = scratch / "home"
            (home / "source").mkdir(parents=True)
            shutil.copytree(cache / "source" / task.assignment, home / "source" / task.assignment)
            shutil.copyfile(cache / "gradebook.db", home / "gradebook.db")
            shutil.copyfile(cache / "nbgrader_config.json", home / "nbgrader_config.json")
            sub = home / "submitted" / task.student / task.assignment
            sub.mkdir(parents=True)
            for rel in sorted(set(task.files) | set(task.refs)):
                f = sub / _safe_rel(rel)
                f.parent.mkdir(parents=True, exist_ok=True)
                if rel in task.files:
                    f.write_bytes(task.files[rel])
                else:
                    shutil.copyfile(blobs / task.refs[rel], f)
            t_unpacked = time.time()
            out = _run_job(task, home, slot, scratch)
            t_ran = time.time()
            if out.get("state") is not None:
                out["tree"], dropped = _pack(home / "autograded" / task.student / task.assignment, task, blobs)
                if dropped:
                    out["state"]["events"].append(
                        f"files your code wrote were not kept (over {MAX_EXTRA_BYTES >> 20} MB): "
                        + ", ".join(dropped[:5]))
            t_end = time.time()
            out["remote"] = {**info, "slot": slot, "t_start": t_start, "t_end": t_end,
                             "task_s": round(t_end - t_start, 3), "process_s": round(t_ran - t_unpacked, 3),
                             "unpack_s": round(t_unpacked - t_start, 3), "pack_s": round(t_end - t_ran, 3),
                             "payload_bytes": task.payload_bytes(),
                             "result_bytes": sum(len(v) for v in (out.get("tree") or {}).values() if v)}
            return out
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _run_job(task: Task, home: Path, slot: int, scratch: Path) -> dict:
    """``python -m autograde _job`` in the scratch course, killed when the worker dies (its
    parent-death signal), when it runs past the job's wall time, or when Dask cancels the task."""
    result = scratch / "result.json"
    log = scratch / "job.log"
    env = {k: v for k, v in os.environ.items()
           if k not in (sandbox.JOB_ENV, "COURSE_GRADER_HOME", "COURSE_GRADER_ROOT")}
    with contextlib.suppress(Exception):     # what a Dask nanny sets for its worker is not for the job
        import dask                          # (one BLAS thread, malloc trimming: a slower judge)
        for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items():
            if env.get(k) == str(v):
                del env[k]
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               COURSE_GRADER_DB_URL=f"sqlite:///{home / 'gradebook.db'}")
    argv = ["setpriv", "--pdeathsig", "KILL", "--", sys.executable, "-m", "autograde", "--home", str(home),
            "--root", str(ROOT), "_job", task.assignment, task.student, "--slot", str(slot),
            "--settings-json", json.dumps(task.settings), "--result", str(result)]
    if task.extension_s:
        argv += ["--extension-s", str(task.extension_s)]
    wall = float(task.settings.get("job_wall_s") or 900)
    with open(log, "wb") as lf:
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                             cwd=ROOT, start_new_session=True)
        t0, why = time.monotonic(), None
        try:
            while True:
                try:
                    p.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - t0 > wall:
                    why = f"the grading job ran past {wall:.0f} s"
                elif _cancelled():
                    why = "the batch was interrupted"
                if why:
                    sandbox.kill_tree(p)
                    p.wait()
                    break
        finally:
            if p.poll() is None:
                sandbox.kill_tree(p)
                p.wait()
            sandbox.kill_slot(slot)
    tail = log.read_bytes()[-20000:].decode(errors="replace")
    if why is None and result.is_file():
        with contextlib.suppress(ValueError):
            out = json.loads(result.read_text())
            out["log"] = tail
            return out
    return {"state": None, "records": None, "log": tail,
            "why": why or f"the grading job ended without a result (exit {p.returncode}); its log's end:\n"
                          + "\n".join(tail.splitlines()[-8:])}


def _pack(workdir: Path, task: Task, blobs: Path) -> tuple[dict, list[str]]:
    """The autograded folder: path -> bytes, or None for a file identical to the submission's
    (the instructor's side has those). The notebook always; other new files up to a limit."""
    tree, dropped, extra = {}, [], 0
    nb = f"{task.assignment}.ipynb"
    for rel, p in _files(workdir).items():
        data = p.read_bytes()
        if rel in task.files and task.files[rel] == data or rel in task.refs and task.refs[rel] == _sha(data):
            tree[rel] = None
            continue
        if rel != nb:
            extra += len(data)
            if extra > MAX_EXTRA_BYTES:
                dropped.append(rel)
                continue
        tree[rel] = data
    return tree, dropped


# ============================================================================ starting a cluster
def dask_command(kind: str, extra: list[str], environ=None) -> tuple[list[str], dict]:
    """(argv, environment) of ``dask scheduler`` / ``dask worker`` for grading machines, with
    :data:`DASK_CONFIG` (unless the environment says otherwise); workers run one job per
    thread (``--nthreads 1`` unless given) and refuse to start where student code cannot be
    sandboxed."""
    env = dict(os.environ if environ is None else environ)
    for k, v in DASK_CONFIG.items():
        env.setdefault("DASK_" + k.upper().replace(".", "__").replace("-", "_"), str(v))
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    extra = list(extra)
    if kind == "worker":
        if not extra or extra[0].startswith("-"):
            raise SystemExit("give the scheduler's address first, e.g. tcp://10.0.0.10:8786")
        why = sandbox.available()
        if why:
            raise SystemExit(f"this machine cannot grade: {why}")
        if not any(a == "--nthreads" or a.startswith("--nthreads=") for a in extra):
            extra += ["--nthreads", "1"]
    elif kind != "scheduler":
        raise ValueError(kind)
    return [sys.executable, "-m", "dask", kind, *extra], env


# ============================================================================ the instructor's side
def _connect(scheduler: str | None, workers: int, log):
    """(client, cluster or None, where): a Client of the given scheduler, or of a new LocalCluster."""
    import logging

    import dask
    from distributed import Client, LocalCluster
    if scheduler:
        client = Client(scheduler, timeout="60s")
        return client, None, f"the Dask cluster at {scheduler}"
    # The worker processes ignore SIGINT (inherited across exec): Ctrl-C in the terminal reaches
    # the whole process group, and only this process should act on it (it cancels and closes).
    import threading
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        with dask.config.set(DASK_CONFIG), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Port .* is already in use")   # another port is taken then
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:8787",
                                   silence_logs=logging.ERROR)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    return Client(cluster), cluster, f"a local Dask cluster ({max(1, workers)} worker process(es), 1 thread each)"


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


def write_tree(job: J.Job, task: Task, tree: dict, blobs: dict) -> None:
    """autograded/<student>/<assignment>/ from a result, replacing what was there."""
    dest = job.workdir
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{job.assignment}.incoming-", dir=dest.parent))
    try:
        for rel, data in tree.items():
            f = tmp / _safe_rel(rel)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(task.content(rel, blobs) if data is None else data)
        os.chmod(tmp, 0o755)
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_result(job: J.Job, task: Task, out: dict, gb, blobs: dict, fetch_s: float) -> dict:
    """Write one job's result on the instructor's side (idempotent): the autograded folder,
    the gradebook records, then the state file, which says the job is done."""
    t0 = time.time()
    st = out.get("state")
    if out.get("log"):
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        job.log_path.write_text(out["log"])
    if st is None:
        return _failed_job(job, out.get("why") or "the grading job gave no result", gb, task.hash)
    if out.get("tree"):
        write_tree(job, task, out["tree"], blobs)
    try:
        if out.get("records"):
            J.write_records(job, out["records"], gb)
        else:
            J.record(job, st["cells"], st.get("notebook", "missing"), gb)
    except Exception as e:  # noqa: BLE001
        st["status"] = "grader error"
        st["events"].append(f"the gradebook could not be written ({type(e).__name__}: {e})")
        st["summary"] = J.summary_text(st)
    st["hash"] = task.hash
    if out.get("remote"):
        st["remote"] = out["remote"]
    st["engine"] = {"fetch_s": round(fetch_s, 4), "write_s": round(time.time() - t0, 4)}
    job.write_state(st)
    return st


def _failed_job(job: J.Job, why: str, gb, submission_hash: str | None = None) -> dict:
    """Record a job that produced no result: zero points, a grader error, the reason."""
    cells = job.course.grade_cells(job.assignment)
    results = [{"grade_id": c["grade_id"], "points": c["points"], "kind": c["kind"], "score": 0.0,
                "status": "failed" if c["kind"] == "code" else "manual", "message": f"not graded: {why}"}
               for c in cells]
    state = {"version": J.STATE_VERSION, "assignment": job.assignment, "student": job.student,
             "hash": submission_hash or sha_tree(job.submission), "status": "grader error", "events": [why],
             "cells": results, "score": 0.0, "max_auto": sum(r["points"] for r in results if r["kind"] == "code"),
             "started": time.time(), "seconds": 0.0, "notebook": "unknown"}
    try:
        J.record(job, results, "ok", gb)
    except Exception as e:  # noqa: BLE001
        state["events"].append(f"gradebook not written: {e}")
    state["summary"] = J.summary_text(state)
    job.write_state(state)
    return state


def autograde(course: Course, todo: list[J.Job], *, workers: int = 2, scheduler: str | None = None,
              log=print) -> dict:
    """Grade ``todo`` on Dask; see the module. Returns {graded, failures, seconds, ...}."""
    from distributed import as_completed
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    t0 = time.time()
    n_done, failures = 0, []
    if not todo:
        return {"graded": 0, "failures": [], "seconds": 0.0, "interrupted": False}
    assignments = sorted({j.assignment for j in todo})
    gb = Gradebook(course.db_url, COURSE_ID)
    client = cluster = None
    inflight: dict = {}
    queue = deque(todo)
    bar = None
    interrupted = False
    try:
        release = build_release(course, assignments, gb)
        blobs = release.blobs
        extensions = _extensions(gb, assignments)
        client, cluster, where = _connect(scheduler, workers, log)
        log(f"autograde: {len(todo)} submission(s) on {where}; dashboard: {_dashboard(client)}")
        answers = client.register_plugin(ReleasePlugin(release))
        bad = {w: r for w, r in (answers or {}).items() if isinstance(r, dict) and r.get("status") != "OK"}
        for w, r in bad.items():
            log(f"autograde: worker {w} could not set up: {r.get('exception') or r}")
        batch_id = uuid.uuid4().hex[:8]
        ac = as_completed()
        bar = tqdm(total=len(todo), unit="job", desc="autograde", disable=None, dynamic_ncols=True)
        bar.set_postfix_str("errors=0")

        def say(msg):
            if bar.disable:
                log(msg)
            else:
                with tqdm.external_write_mode():
                    log(msg)

        def refill():
            try:
                want = max(4, 2 * sum(client.nthreads().values()))
            except Exception:  # noqa: BLE001
                want = 4
            while queue and len(inflight) < want:
                job = queue.popleft()
                task = make_task(job, release, extensions.get((job.assignment, job.student)), batch_id)
                fut = client.submit(grade, task, key=task.key, pure=False, retries=0)
                inflight[fut.key] = (job, task, fut)
                ac.add(fut)
        refill()
        for fut in ac:
            entry = inflight.pop(fut.key, None)
            if entry is None:           # already written: never twice
                continue
            job, task, _ = entry
            if fut.status == "cancelled":     # not by us: the connection to the cluster was lost
                inflight[fut.key] = entry
                raise GraderError(f"lost the Dask cluster ({where}): {len(inflight) + len(queue)} submission(s) "
                                  "not graded; run the same command again when it is back")
            if fut.status not in ("finished", "error"):    # "lost": its worker died holding the result;
                inflight[fut.key] = entry                   # Dask computes it again: wait for that
                ac.add(fut)
                continue
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
                st = write_result(job, task, out, gb, blobs, time.time() - t1)
            n_done += 1
            if st.get("status") != "graded":
                failures.append((job.assignment, job.student, st.get("status")))
                bar.set_postfix_str(f"errors={len(failures)}")
            bar.update(1)
            say(f"[{n_done}/{n_done + len(queue) + len(inflight)}] {job}: {st['score']:g}/{st['max_auto']:g} "
                f"in {st.get('seconds', 0):.0f} s" + (f" ({st['status']})" if st.get("status") != "graded" else "")
                + "".join(f"\n      ! {e}" for e in st.get("events", [])[:3]))
            refill()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            with contextlib.suppress(Exception):
                client.cancel([f for _, _, f in inflight.values()], force=True)
            if cluster is None:
                with contextlib.suppress(Exception):
                    client.unregister_worker_plugin(release.plugin_name)
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        gb.close()
    wall = time.time() - t0
    left = len(todo) - n_done
    if interrupted:
        log(f"autograde: interrupted: {n_done} submission(s) written, {left} not finished "
            "(run the same command again to grade them)")
    if n_done:
        log(f"autograde: {n_done} submission(s) in {wall:.0f} s ({wall / n_done:.1f} s each, "
            f"{'the cluster' if scheduler else f'{workers} worker(s)'}): {n_done - len(failures)} graded, "
            f"{len(failures)} failed; {3600 * n_done / wall:.0f} submissions per hour")
    if interrupted:
        raise KeyboardInterrupt
    return {"graded": n_done, "failures": failures, "seconds": wall, "interrupted": interrupted}


def _dashboard(client) -> str:
    """The Dask dashboard's address (open it in a browser: the task stream, the workers)."""
    try:
        if not client.scheduler_info().get("services", {}).get("dashboard"):
            return "none (this scheduler serves none)"
    except Exception:  # noqa: BLE001
        pass
    return client.dashboard_link


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
