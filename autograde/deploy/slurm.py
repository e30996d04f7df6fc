"""Grading workers as Slurm jobs (dask-jobqueue): a Dask scheduler here, N jobs of 8 workers.

    bash course.sh python -m pip install dask-jobqueue==0.9.0
    bash course.sh python autograde/deploy/slurm.py --jobs 5

Then, while it runs: ``bash course.sh grade autograde --scheduler tcp://THIS-HOST:8786``.
Each Slurm job runs ``8`` single-thread workers of the course (one grading slot per core) as
root (the sandbox needs it: a partition of nodes set aside for grading), in the course's
checkout at the same path on every node. Edit the queue, memory and wall time below; PBS, SGE
and LSF have ``PBSCluster``, ``SGECluster``, ``LSFCluster`` with the same arguments.
"""
from __future__ import annotations

import argparse
import socket
from pathlib import Path

COURSE = Path(__file__).resolve().parents[2]       # this checkout; the same path on every node


def main(argv=None) -> None:
    import dask
    from dask_jobqueue import SLURMCluster
    dask.config.set({"distributed.scheduler.worker-saturation": 1.0})   # one grading task per thread at a time
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=5, help="Slurm jobs (nodes) of 8 workers")
    ap.add_argument("--queue", default="grading")
    ap.add_argument("--host", default=socket.gethostbyname(socket.gethostname()),
                    help="the address the nodes reach this machine at")
    ap.add_argument("--dry-run", action="store_true", help="print the job script and stop")
    args = ap.parse_args(argv)
    cluster = SLURMCluster(
        queue=args.queue, cores=8, processes=8, memory="48GB", walltime="02:00:00",   # 8 workers x 1 thread
        python=str(COURSE / ".venv" / "bin" / "python"),
        job_script_prologue=[f"cd {COURSE}", f"export PYTHONPATH={COURSE}"],
        scheduler_options={"host": args.host, "port": 8786, "dashboard_address": f"{args.host}:8787"},
    )
    if args.dry_run:
        print(cluster.job_script())
        cluster.close()
        return
    cluster.scale(jobs=args.jobs)            # or cluster.adapt(minimum_jobs=1, maximum_jobs=...)
    print(f"scheduler: {cluster.scheduler_address}  dashboard: {cluster.dashboard_link}", flush=True)
    try:
        input("grading workers are starting as Slurm jobs; press Enter to stop them\n")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
