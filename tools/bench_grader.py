"""How fast the grader is: a class of N complete submissions (every assignment) graded in one batch.

    bash course.sh python tools/bench_grader.py                  # 1 submission (the solutions), -j 2
    bash course.sh python tools/bench_grader.py -n 20 -j 2       # a class of 20: 100 jobs
    bash course.sh python tools/bench_grader.py -n 20 --scheduler tcp://HOST:8786   # on a running cluster

Builds a throw-away course in a temporary folder (release, then N students s00, s01, ...
collected: in turn the solutions, a half-done library (the first half of every notebook's
exercises solved) and the untouched release, each with every notebook), autogrades them all
in one batch, and prints the wall time, the throughput, the job times of each assignment and,
for the Dask engine, its cost per job (submission transfer, scheduling, result transfer and
writing the result on the instructor's side). Every job must get exactly its expected score (a
fast wrong grader cannot win). ``--json FILE`` keeps the numbers. Needs root and bubblewrap,
like the grader. Not part of the test run.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from autograde import batch, job  # noqa: E402
from autograde.course import Course  # noqa: E402
from authoring import conventions  # noqa: E402
from authoring import release as release_tool  # noqa: E402

KINDS = ("solutions", "half", "untouched")


class CpuMeter:
    """CPU seconds used by this process and every process it starts from now on (the grading
    jobs, their sandboxes, the Dask workers): the grader's own work, whatever else runs on the
    machine. Counted by a cgroup of its own (cpuacct, cgroup v1 or v2; needs root), else by
    getrusage (which misses processes whose parent exits before reaping them)."""

    def __init__(self):
        self.kind, self.group, self.start = "getrusage", None, 0.0
        name = f"bench-grader-{os.getpid()}"
        for base, stat in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"), (Path("/sys/fs/cgroup"), "cpu.stat"),
                           (Path("/sys/fs/cgroup/unified"), "cpu.stat")):
            try:
                if not (base / stat).exists() and not (base / "cgroup.procs").exists():
                    continue
                g = base / name
                g.mkdir(exist_ok=True)
                (g / "cgroup.procs").write_text(str(os.getpid()))
                self.group, self.stat, self.base, self.kind = g, stat, base, f"cgroup {base}"
                self.read()
                break
            except OSError:
                with contextlib.suppress(OSError):
                    (base / name).rmdir()
                self.group = None
        self.start = self.read()

    def read(self) -> float:
        if self.group is None:
            import resource
            return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                          resource.getrusage(resource.RUSAGE_CHILDREN)))
        text = (self.group / self.stat).read_text()
        if self.stat == "cpuacct.usage":
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6

    def stop(self) -> float:
        used = self.read() - self.start
        if self.group is not None:
            with contextlib.suppress(OSError):
                (self.base / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(50):            # the last processes of the batch may still be exiting
                try:
                    self.group.rmdir()
                    break
                except OSError:
                    time.sleep(0.2)
        return used


def busy_jiffies():
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    f = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


def build_class(course: Course, n: int, inbox: Path) -> dict:
    """``n`` students in ``inbox`` (s00 the solutions, s01 half done, s02 untouched, s03 ...);
    returns {(assignment, student): expected autograded points}."""
    solutions = course.root / "solutions" / "helpers"
    assignments = course.assignments()
    stubbed = course.release_dir / assignments[0] / "helpers"
    half, points = {}, {}
    for a in assignments:
        cells = [c for c in course.grade_cells(a) if c["kind"] == "code"]
        keys = [c["grade_id"].split("_", 1)[1] for c in cells]
        half[a] = set(keys[: (len(keys) + 1) // 2])
        points[a] = {c["grade_id"].split("_", 1)[1]: c["points"] for c in cells}
    half_lib = inbox.parent / "half-helpers"
    shutil.copytree(stubbed, half_lib)
    for nb, modules in conventions.notebook_modules(solutions).items():
        a = next(x for x in assignments if x.startswith(f"{nb:02d}_"))
        for module in modules:
            names = conventions.exercises_in((stubbed / f"{module}.py").read_text())
            keep = {q for q in names if conventions.exercise_key(q) in half[a]}
            (half_lib / f"{module}.py").write_text(release_tool.strip_solutions(
                (solutions / f"{module}.py").read_text(), f"helpers/{module}.py", keep=keep))
    expected = {}
    for i in range(n):
        s, kind = f"s{i:02d}", KINDS[i % len(KINDS)]
        lib = {"solutions": solutions, "half": half_lib, "untouched": stubbed}[kind]
        shutil.copytree(lib, inbox / s / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        for a in assignments:
            shutil.copyfile(course.release_dir / a / f"{a}.ipynb", inbox / s / f"{a}.ipynb")
            expected[(a, s)] = {"solutions": sum(points[a].values()), "untouched": 0.0,
                                "half": sum(p for k, p in points[a].items() if k in half[a])}[kind]
    return expected


def engine_costs(states: list[dict]) -> dict | None:
    """The Dask engine's seconds per job, from the timings each job's state carries: on the
    worker, the task minus the grading process (unpacking the submission, packing the result,
    claiming a slot); between tasks, the gap a worker waited for its next task (scheduling and
    the submission's transfer); on the instructor's side, fetching the result and writing it."""
    rem = [s for s in states if s.get("remote")]
    if not rem:
        return None
    worker_side = [s["remote"]["task_s"] - s["remote"]["process_s"] for s in rem]
    gaps = []
    by_worker: dict = {}
    for s in rem:
        by_worker.setdefault(s["remote"]["worker"], []).append((s["remote"]["t_start"], s["remote"]["t_end"]))
    for spans in by_worker.values():
        spans.sort()
        gaps += [b[0] - a[1] for a, b in zip(spans, spans[1:]) if b[0] >= a[1]]
    fetch = [s["engine"]["fetch_s"] for s in rem if s.get("engine")]
    write = [s["engine"]["write_s"] for s in rem if s.get("engine")]
    mean = lambda v: sum(v) / len(v) if v else 0.0   # noqa: E731
    out = {"worker_side_s": mean(worker_side), "dispatch_gap_s": mean(gaps), "fetch_s": mean(fetch),
           "write_s": mean(write), "payload_bytes": mean([s["remote"]["payload_bytes"] for s in rem]),
           "result_bytes": mean([s["remote"]["result_bytes"] for s in rem]), "workers": len(by_worker)}
    out["per_job_s"] = out["worker_side_s"] + out["dispatch_gap_s"] + out["fetch_s"] + out["write_s"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--students", type=int, default=1)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--scheduler", help="grade on this running Dask cluster (default: a local one, -j workers)")
    ap.add_argument("--run-cells", choices=["graded", "all", "none"], default="graded")
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        base = Path(tmp)
        course = Course(base / "home", ROOT, run_cells=args.run_cells)
        course.release(log=lambda *a: None)
        expected = build_class(course, args.students, base / "in")
        course.collect(base / "in", log=lambda *a: None)
        kw = {"jobs": args.jobs, "log": print}
        if args.scheduler:
            kw["scheduler"] = args.scheduler
        if "scheduler" in inspect.signature(batch.autograde).parameters:
            engine = f"Dask ({args.scheduler or f'LocalCluster of {args.jobs} workers'})"
        else:
            engine = f"process pool of {args.jobs}"
        b0, t0 = busy_jiffies()
        meter = CpuMeter()
        start = time.perf_counter()
        res = batch.autograde(course, **kw)
        wall = time.perf_counter() - start
        own = meter.stop()
        b1, t1 = busy_jiffies()
        wrong, states = [], []
        print(f"{'assignment':14s} {'job s (median)':>15s} {'notebook run':>13s} {'judge':>7s}")
        for a in course.assignments():
            st = [job.Job(course, a, s).read_state().to_dict() for (a2, s) in expected if a2 == a]
            states += st
            wrong += [f"{a}/{s['student']}: {s['score']:g}, expected {expected[(a, s['student'])]:g}"
                      for s in st if abs(s["score"] - expected[(a, s["student"])]) > 1e-9]
            nb = [s["nbgrader"]["seconds"] for s in st if s.get("nbgrader")]
            jd = [s["judge_seconds"] for s in st if "judge_seconds" in s]
            print(f"{a:14s} {statistics.median(s['seconds'] for s in st):15.1f} "
                  f"{statistics.median(nb) if nb else 0:13.1f} {statistics.median(jd) if jd else 0:7.1f}")
    n, n_jobs = args.students, len(expected)
    busy = (b1 - b0) / max(1, t1 - t0)
    cores = os.cpu_count() or 1
    core_s_per_job = wall * cores * busy / n_jobs      # CPU time of the machine per job
    own_s_per_job = own / n_jobs                       # CPU time of the grader's processes per job
    out = {"engine": engine, "students": n, "jobs": n_jobs, "workers": args.jobs, "run_cells": args.run_cells,
           "wall_s": round(wall, 1), "per_submission_s": round(wall / n, 1),
           "submissions_per_hour": round(3600 * n / wall, 1), "jobs_per_hour": round(3600 * n_jobs / wall, 1),
           "cpu_busy": round(busy, 3), "cores": cores, "core_s_per_job": round(core_s_per_job, 2),
           "own_cpu_s_per_job": round(own_s_per_job, 2), "cpu_meter": meter.kind,
           "job_s_mean": round(statistics.mean(s["seconds"] for s in states), 2)}
    print(f"{engine}: {n} complete submission(s) ({len(course.assignments())} notebooks each, {n_jobs} jobs), "
          f"run_cells={args.run_cells}: {wall:.1f} s wall, {wall / n:.1f} s per submission, "
          f"{3600 * n / wall:.0f} submissions ({3600 * n_jobs / wall:.0f} jobs) per hour; "
          f"CPU busy {100 * busy:.0f}% of {cores} cores: {core_s_per_job:.1f} core-s per job "
          f"({own_s_per_job:.1f} s of CPU in the grader's own processes)")
    costs = engine_costs(states)
    if costs:
        out["engine_cost"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in costs.items()}
        print(f"engine cost per job: {costs['per_job_s']:.3f} s = worker side {costs['worker_side_s']:.3f} "
              f"(unpack, pack, slot) + dispatch gap {costs['dispatch_gap_s']:.3f} (scheduling, submission "
              f"transfer: {costs['payload_bytes'] / 1e3:.0f} kB) + fetch {costs['fetch_s']:.3f} (result: "
              f"{costs['result_bytes'] / 1e3:.0f} kB) + write {costs['write_s']:.3f} (instructor's side)")
    # 600 students x 5 notebooks in 30 minutes on 8-core grading machines (8 workers each), from
    # the CPU time of the grader's own processes per job (the machine's busy time counts others')
    need = 600 * 5 * own_s_per_job / (8 * 1800)
    out["machines_8core_600x5_in_30min"] = math.ceil(need)
    print(f"projection: 600 students x 5 notebooks in 30 min needs {need:.1f} -> {math.ceil(need)} "
          f"8-core grading machine(s) at {own_s_per_job:.1f} core-s per job")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if res["failures"] or wrong:
        print("NOT the expected scores:", res["failures"], wrong)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
