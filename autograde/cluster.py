"""The Dask cluster a batch runs on: a local one by default, or a running one.

:func:`connect` gives a ``distributed.Client`` of a new ``LocalCluster`` of ``-j N`` worker
processes with one thread each, or of the running cluster at ``--scheduler`` (or the
``scheduler`` setting); :func:`dask_command` is ``bash course.sh grade scheduler | worker``:
``dask scheduler`` / ``dask worker`` for grading machines, with :data:`DASK_CONFIG`.
"""
from __future__ import annotations

import os
import signal
import sys
import warnings

from . import sandbox
from .course import ROOT

# Dask settings of a grading cluster: a worker thread gets one task at a time (a grading task is
# long: a second one queued behind it could wait while another machine idles, so no work
# stealing either); and the event loops' housekeeping runs less often (measured: BENCHMARKS.md).
DASK_CONFIG = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def connect(scheduler: str | None, workers: int):
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
    environ = dict(os.environ)
    try:
        with dask.config.set(DASK_CONFIG), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Port .* is already in use")   # another port is taken then
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:8787",
                                   silence_logs=logging.ERROR)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
        restore_environ(environ)
    return Client(cluster), cluster, f"a local Dask cluster ({max(1, workers)} worker process(es), 1 thread each)"


def restore_environ(before: dict) -> None:
    """Put this process's environment back as ``before``. Dask's nanny writes its workers'
    variables (``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED``, ...) into ``os.environ`` before each
    spawn and leaves them there: every process started afterwards (a notebook kernel, a
    command) would run single-threaded, twice as slow on 2 cores."""
    for k in set(os.environ) - set(before):
        del os.environ[k]
    os.environ.update(before)


def dashboard(client) -> str:
    """The Dask dashboard's address (open it in a browser: the task stream, the workers)."""
    try:
        if not client.scheduler_info().get("services", {}).get("dashboard"):
            return "none (this scheduler serves none)"
    except Exception:  # noqa: BLE001
        pass
    return client.dashboard_link


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
