"""One grading task on a Dask worker (the untrusting side of a batch): plain data in and out.

A :class:`Task` carries one submission's bytes (files identical to a released file go as
their hash only), the instructor's grading settings and the release's name. :func:`grade`,
the Dask task, claims a sandbox slot of the machine (:func:`claimed_slot`), builds a scratch
course (the cached release, a scratch SQLite gradebook made from its structure, the
submission), runs ``python -m autograde _job JOBFILE`` there (nbgrader with its kernel in
sandbox A, the trusted judge against sandbox B: job.py) and returns plain data: the job's state,
its gradebook records, and the autograded folder (files that differ from the submission). The
worker never sees the instructor's gradebook, other submissions or the solutions.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .bundle import Release, sha
from .course import ROOT, GraderError
from .files import plain_files, safe_rel, sha_tree
from .job import Job
from .settings import ENV_PREFIX, Settings

MAX_SLOTS = 256                            # uids UID_BASE .. UID_BASE + 511
MAX_EXTRA_BYTES = 64 << 20                 # files a job wrote besides the notebook, carried back at most
GRADING_KEYS = ("run_cells", "cell_timeout_s", "notebook_wall_s", "call_timeout_s", "judge_budget_s",
                "job_wall_s", "limits", "lang")   # what the instructor decides; the rest is the machine's


@dataclass
class Task:
    """One (student, assignment) job as it travels to a worker: plain data only."""
    assignment: str
    student: str
    hash: str                                    # sha_tree of the submission: what is graded
    files: dict[str, bytes]                      # the submission's files the release does not hold
    refs: dict[str, str]                         # the others: path -> sha256 of the released file
    settings: dict                               # the instructor's grading settings (GRADING_KEYS)
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


def make_task(job: Job, release: Release, extension_s=None, batch_id="") -> Task:
    files, refs = {}, {}
    known = set(release.blobs)
    for rel, p in plain_files(job.submission).items():
        data = p.read_bytes()
        h = sha(data)
        if h in known:
            refs[rel] = h
        else:
            files[rel] = data
    settings = {k: getattr(job.course.settings, k) for k in GRADING_KEYS}
    settings["lang"] = job.course.lang                 # as released
    return Task(job.assignment, job.student, sha_tree(job.submission), files, refs, settings,
                release.plugin_name, extension_s, {"batch": batch_id})


@contextlib.contextmanager
def claimed_slot(slot_dir: Path):
    """A grading slot of this machine, held (a lock file) while one job runs: no two jobs on a
    machine share sandbox uids, whatever the number of worker processes and threads. A slot
    whose holder died is free again (the kernel drops the lock); its leftovers are killed."""
    d = Path(slot_dir)
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
    machine = Settings.resolve(file_config=None)            # this machine's: slots, data folders
    with claimed_slot(Path(machine.slot_dir)) as slot:
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
                f = sub / safe_rel(rel)
                f.parent.mkdir(parents=True, exist_ok=True)
                if rel in task.files:
                    f.write_bytes(task.files[rel])
                else:
                    shutil.copyfile(blobs / task.refs[rel], f)
            t_unpacked = time.time()
            settings = machine.replace(**task.settings, home=str(home), root=str(ROOT),
                                       db_url=f"sqlite:///{home / 'gradebook.db'}")
            out = _run_job(task, settings, slot, scratch)
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


def _run_job(task: Task, settings: Settings, slot: int, scratch: Path) -> dict:
    """``python -m autograde _job JOBFILE`` in the scratch course (the job's one file: its
    settings and what to grade), killed when the worker dies (its parent-death signal), when
    it runs past the job's wall time, or when Dask cancels the task."""
    result = scratch / "result.json"
    log = scratch / "job.log"
    jobfile = scratch / "job.json"
    jobfile.write_text(json.dumps({"settings": asdict(settings), "assignment": task.assignment,
                                   "student": task.student, "slot": slot, "extension_s": task.extension_s,
                                   "result": str(result)}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    with contextlib.suppress(Exception):     # what a Dask nanny sets for its worker is not for the job
        import dask                          # (one BLAS thread, malloc trimming: a slower judge)
        for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items():
            if env.get(k) == str(v):
                del env[k]
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = ["setpriv", "--pdeathsig", "KILL", "--", sys.executable, "-m", "autograde", "_job", str(jobfile)]
    wall = float(settings.job_wall_s)
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
    for rel, p in plain_files(workdir).items():
        data = p.read_bytes()
        if rel in task.files and task.files[rel] == data or rel in task.refs and task.refs[rel] == sha(data):
            tree[rel] = None
            continue
        if rel != nb:
            extra += len(data)
            if extra > MAX_EXTRA_BYTES:
                dropped.append(rel)
                continue
        tree[rel] = data
    return tree, dropped
