"""The grader on Dask, with real processes on loopback only.

A small class (alice: the solutions, bob: half done, carol: the untouched release, mallory: a
fork bomb from the hostile catalogue, and no notebook for the second one) across two short
assignments is graded three ways, each by the command line as an instructor runs it:

- on the default path (a LocalCluster of ``-j 2`` workers), interrupted by Ctrl-C after its
  first result and run again: it stops cleanly and the next run grades what was left;
- through ``--scheduler`` on a running ``dask scheduler`` with two ``dask worker`` processes
  (the environment's own ``dask`` command, ``--nthreads 1``): the gradebook ends the same,
  cell for cell;
- on that cluster again while one worker process is SIGKILLed in the middle of a job, and
  with a submission whose task ends every worker it lands on (``poison``: the workers preload
  ``tests/fixtures/dask_poison.py``): every submission is recorded exactly once (one state
  file, one gradebook record, one progress line), the killed job with the same scores, the
  poison as a grader error after Dask's allowed failures, and the batch goes on.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from autograde import sandbox  # noqa: E402
from autograde.course import Course  # noqa: E402
from minicourse import MORE, mini_root  # noqa: E402

WHY = sandbox.available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")
DASK = Path(sys.executable).parent / "dask"
A1, A2 = "01_features", "02_neighbors"
SETTINGS = dict(cell_timeout_s=20, call_timeout_s=20, notebook_wall_s=120, judge_budget_s=120, job_wall_s=400)
EXPECTED = {("alice", A1): 6.0, ("alice", A2): 4.0, ("bob", A1): 2.0, ("bob", A2): 2.0,
            ("carol", A1): 0.0, ("carol", A2): 0.0, ("mallory", A1): 4.0, ("mallory", A2): 0.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_GRADER_", "DASK_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


def _settings_file(home: Path):
    (home / "nbgrader_config.py").write_text(
        "c = get_config()\n" + "".join(f"c.CourseGrader.{k} = {v!r}\n" for k, v in SETTINGS.items()))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A released, collected course (home + root): copy it before grading."""
    import hostile
    from authoring import release as rel
    base = tmp_path_factory.mktemp("daskgrader")
    root = mini_root(base / "root", MORE)
    home = base / "home"
    home.mkdir()
    _settings_file(home)
    course = Course(home, root)
    course.release(log=print)
    stub = course.release_dir / A1 / "helpers"
    sol = root / "solutions" / "helpers"
    inbox = base / "inbox"
    for name, lib in (("alice", sol), ("bob", stub), ("carol", stub)):
        shutil.copytree(lib, inbox / name / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        for a in (A1, A2):
            shutil.copyfile(course.release_dir / a / f"{a}.ipynb", inbox / name / f"{a}.ipynb")
    (inbox / "bob" / "helpers" / "features.py").write_text(rel.strip_solutions(
        (sol / "features.py").read_text(), "helpers/features.py", keep={"normalize_filters", "pca"}))
    hostile.build(course.release_dir / A1, sol, base / "hostile")
    shutil.copytree(base / "hostile" / "fork_bomb", inbox / "mallory")
    course.collect(inbox, log=print)
    assert sorted(course.students()) == ["alice", "bob", "carol", "mallory"]
    return base


def _copy(pristine: Path, dest: Path) -> Course:
    shutil.copytree(pristine / "home", dest / "home")
    return Course(dest / "home", pristine / "root")


def _grade(course: Course, *args, timeout=900, **kw) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "autograde", "--home", str(course.home), "--root", str(course.root),
            "autograde", *args]
    r = subprocess.run(argv, cwd=ROOT, env=_env(**kw), capture_output=True, text=True, timeout=timeout)
    print(f"$ autograde {' '.join(args)}  (exit {r.returncode})\n{r.stdout[-4000:]}\n{r.stderr[-3000:]}")
    return r


def _gradebook(course: Course) -> dict:
    """Every grade and comment of every submission: {(student, assignment, cell): (...)}."""
    con = sqlite3.connect(course.home / "gradebook.db")
    try:
        rows = con.execute(
            "select s.student_id, a.name, c.name, g.auto_score, g.needs_manual_grade from grade g "
            "join submitted_notebook n on g.notebook_id = n.id join submitted_assignment s on n.assignment_id = s.id "
            "join assignment a on s.assignment_id = a.id join base_cell c on g.cell_id = c.id").fetchall()
        out = {(s, a, c): ("grade", score, bool(manual)) for s, a, c, score, manual in rows}
        for s, a, c, text in con.execute(
                "select s.student_id, a.name, c.name, m.auto_comment from comment m "
                "join submitted_notebook n on m.notebook_id = n.id join submitted_assignment s on n.assignment_id = s.id "
                "join assignment a on s.assignment_id = a.id join base_cell c on m.cell_id = c.id"):
            out[(s, a, c + "/comment")] = ("comment", text)
        subs = con.execute("select s.student_id, a.name, count(*) from submitted_assignment s join assignment a "
                           "on s.assignment_id = a.id group by 1, 2").fetchall()
        assert all(n == 1 for *_, n in subs), f"a submission recorded twice: {subs}"
        nbs = con.execute("select count(*) from submitted_notebook").fetchone()[0]
        assert nbs == len(subs), "one submitted notebook per submission"
    finally:
        con.close()
    return out


def _scores(course: Course) -> dict:
    out = {}
    for f in (course.state / "jobs").rglob("*.json"):
        st = json.loads(f.read_text())
        out[(st["student"], st["assignment"])] = st["score"]
    return out


def _lines(stdout: str) -> list[tuple[str, str]]:
    """(assignment, student) of every progress line ``[k/n] a s: ...``."""
    return re.findall(r"^\[\d+/\d+\] (\S+) (\S+): ", stdout, re.M)


# ----------------------------------------------------------------------------- no cluster needed
def test_sandbox_slots_never_collide_on_one_machine(tmp_path, monkeypatch):
    """Whatever the number of worker processes and threads, two jobs running at the same time
    on a machine get different slots (uids); a slot whose holder died is free again."""
    from autograde import remote
    monkeypatch.setattr(remote.sandbox, "kill_slot", lambda k: 0)   # other sandboxes of this machine live on
    with remote.claimed_slot(tmp_path) as a, remote.claimed_slot(tmp_path) as b:
        assert a != b
        nxt = max(a, b) + 1
        holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                                   "f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True)\n"
                                   "time.sleep(120)", str(tmp_path / f"{nxt}.lock")], stdout=subprocess.PIPE)
        try:
            holder.stdout.readline()
            with remote.claimed_slot(tmp_path) as c:
                assert c not in (a, b, nxt)       # another process (another worker) holds nxt
        finally:
            holder.kill()
            holder.wait()
        with remote.claimed_slot(tmp_path) as d:
            assert d == nxt                       # its holder died: free again
    assert sandbox.slot_uids(3) == (sandbox.UID_BASE + 6, sandbox.UID_BASE + 7)


def test_the_release_cache_is_written_once_and_pruned(tmp_path):
    from autograde import bundle
    blob = b"x = 1\n"
    release = bundle.Release(blobs={bundle.sha(blob): blob},
                             trees={"01_a": {"helpers/a.py": bundle.sha(blob)}}, gradebook=b"db", config={}, key="k1")
    d = bundle.materialize(release, tmp_path)
    assert (d / "source" / "01_a" / "helpers" / "a.py").read_bytes() == blob and (d / "READY").is_file()
    (d / "gradebook.db").write_bytes(b"changed")
    assert bundle.materialize(release, tmp_path) == d and (d / "gradebook.db").read_bytes() == b"changed"   # once
    old = time.time() - bundle.CACHE_KEEP_S - 60
    os.utime(d / "READY", (old, old))
    release.key = "k2"
    assert bundle.materialize(release, tmp_path).name == "k2" and not d.exists(), "a release unused for a day is removed"


def test_grading_machines_start_with_the_course_settings():
    from autograde import cluster
    argv, env = cluster.dask_command("worker", ["tcp://10.0.0.10:8786", "--nworkers", "8"], environ={})
    assert argv[1:] == ["-m", "dask", "worker", "tcp://10.0.0.10:8786", "--nworkers", "8", "--nthreads", "1"]
    assert env["PYTHONPATH"] == str(ROOT) and env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] == "1.0"
    argv, env = cluster.dask_command("scheduler", ["--port", "8786"],
                                     environ={"DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "2"})
    assert argv[3:] == ["scheduler", "--port", "8786"] and env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] == "2"
    with pytest.raises(SystemExit, match="address"):
        cluster.dask_command("worker", ["--nworkers", "2"])


def test_a_local_cluster_leaves_this_process_environment_alone():
    """Dask's nanny writes its workers' OMP_NUM_THREADS=1 (and PYTHONHASHSEED, ...) into the
    instructor's os.environ before spawning them: every process started afterwards, a notebook
    kernel included, then ran on one thread (the test suite's notebooks took twice as long)."""
    from autograde import cluster
    before = dict(os.environ)
    client, local, _ = cluster.connect(None, 1)
    try:
        assert dict(os.environ) == before, {k for k in set(os.environ) ^ set(before)}
    finally:
        client.close()
        local.close()


# ----------------------------------------------------------------------------- a real cluster
@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes (one thread each) on 127.0.0.1,
    with the course environment; stopped at the end whatever happens."""
    from distributed import Client
    logs = tmp_path_factory.mktemp("dasklogs")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    # one task at a time per worker thread, and a task is failed once it has ended 2 workers
    cfg = dict(DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0",
               DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    procs = []

    def start(argv, name):
        out = open(logs / f"{name}.log", "w")
        procs.append((subprocess.Popen(argv, cwd=ROOT, env=_env(**cfg), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True), out))
    try:
        start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler")
        for i in range(2):
            start([str(DASK), "worker", addr, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                   "--name", f"grader-{i}", "--no-dashboard", "--memory-limit", "0",
                   "--preload", str(ROOT / "tests" / "fixtures" / "dask_poison.py")], f"worker-{i}")
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
        yield addr
    finally:
        for p, _ in procs:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(10)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        for _, out in procs:
            out.close()
        for f in sorted(logs.glob("*.log")):
            print(f"--- {f.name}\n" + f.read_text()[-1500:])


@pytest.fixture(scope="module")
def local_run(pristine, tmp_path_factory):
    """The default path, interrupted by Ctrl-C after its first result, then run again."""
    course = _copy(pristine, tmp_path_factory.mktemp("local"))
    argv = [sys.executable, "-m", "autograde", "--home", str(course.home), "--root", str(course.root),
            "autograde", "-j", "2"]
    p = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    seen = []
    try:
        for line in p.stdout:
            seen.append(line)
            if line.startswith("[1/"):
                os.killpg(p.pid, signal.SIGINT)       # Ctrl-C in a terminal: the whole process group
                break
        rest, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    first = "".join(seen) + rest
    print(first)
    return course, p.returncode, first, _grade(course, "-j", "2")


def test_ctrl_c_stops_the_default_batch_and_the_next_run_resumes(local_run):
    course, rc, first, again = local_run
    assert rc == 130 and "interrupted" in first, first[-3000:]
    assert "local Dask cluster (2 worker process(es)" in first and "dashboard: http" in first
    done = _lines(first)
    assert 1 <= len(done) < len(EXPECTED)
    assert again.returncode == 0, again.stdout[-3000:]
    assert f"{len(done)} submission(s) already graded" in again.stdout
    n = len(EXPECTED) - len(done)
    assert f"[{n}/{n}]" in again.stdout and not set(done) & set(_lines(again.stdout)), "graded twice"
    assert re.search(rf"{n} graded, 0 failed; \d+ submissions per hour", again.stdout)
    assert _scores(course) == EXPECTED


def test_a_running_cluster_grades_as_the_default_path(local_run, pristine, scheduler, tmp_path):
    local = local_run[0]
    course = _copy(pristine, tmp_path)
    r = _grade(course, "--scheduler", scheduler)
    assert r.returncode == 0 and f"[{len(EXPECTED)}/{len(EXPECTED)}]" in r.stdout, r.stdout[-3000:]
    assert f"the Dask cluster at {scheduler}" in r.stdout
    assert _scores(course) == _scores(local) == EXPECTED
    assert _gradebook(course) == _gradebook(local), "the gradebook differs from the default path's"
    states = [json.loads(f.read_text()) for f in (course.state / "jobs").rglob("*.json")]
    assert {st["remote"]["name"] for st in states} == {"grader-0", "grader-1"}, "both workers graded"
    assert (course.autograded / "alice" / A1 / f"{A1}.ipynb").is_file()
    assert "[grader] 2 / 2 points" in (course.autograded / "alice" / A1 / f"{A1}.ipynb").read_text()
    # the same command again, through the environment variable: nothing is graded twice
    again = _grade(course, COURSE_GRADER_SCHEDULER=scheduler)
    assert again.returncode == 0 and f"{len(EXPECTED)} submission(s) already graded" in again.stdout
    assert "[1/" not in again.stdout


def test_a_worker_killed_mid_job_costs_that_job_only(local_run, pristine, scheduler, tmp_path):
    import psutil
    from distributed import Client
    course = _copy(pristine, tmp_path)
    poison = tmp_path / "poison"
    shutil.copytree(course.submitted / "alice", poison / "poison")
    course.collect(poison, [A1], log=print)
    argv = [sys.executable, "-m", "autograde", "--home", str(course.home), "--root", str(course.root),
            "autograde", "--scheduler", scheduler, "-s", "alice", "-s", "bob", "-s", "mallory", "-s", "poison"]
    p = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    try:
        with Client(scheduler, timeout="60s") as c:
            deadline = time.time() + 300
            while killed is None and time.time() < deadline and p.poll() is None:
                for addr, keys in c.processing().items():
                    keys = [k for k in keys if "-poison-" not in str(k)]
                    if not keys:
                        continue
                    pid = c.run(os.getpid, workers=[addr])[addr]
                    job = [q for q in psutil.Process(pid).children(recursive=True) if "_job" in q.cmdline()]
                    if job and time.time() - job[0].create_time() > 2:    # its grading process is running
                        family = psutil.Process(pid).children(recursive=True)
                        os.kill(pid, signal.SIGKILL)
                        killed = (str(keys[0]), pid, family)
                        break
                time.sleep(0.2)
        out, _ = p.communicate(timeout=900)
    finally:
        if p.poll() is None:
            p.kill()
    print(out)
    assert killed is not None, "no job was caught running"
    key, pid, family = killed
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"the killed worker's grading processes survived it: {[q.cmdline() for q in alive]}"

    jobs = [(s, a) for (s, a) in EXPECTED if s in ("alice", "bob", "mallory")] + [("poison", A1)]
    assert p.returncode == 1, out[-3000:]            # the poison is a grader error
    lines = _lines(out)
    assert sorted(lines) == sorted((a, s) for s, a in jobs), f"each submission exactly once: {lines}"
    assert f"[{len(jobs)}/{len(jobs)}]" in out
    scores = _scores(course)
    local = _scores(local_run[0])
    assert {k: v for k, v in scores.items() if k[0] != "poison"} == {k: local[k] for k, _ in scores.items()
                                                                      if k[0] != "poison"}
    st = json.loads((course.state / "jobs" / A1 / "poison.json").read_text())
    assert st["status"] == "grader error" and st["score"] == 0
    assert "killed every Dask worker it ran on" in st["summary"], st["summary"]
    rerun = [json.loads(f.read_text()) for f in (course.state / "jobs").rglob("*.json")]
    killed_job = [s for s in rerun if f"grade-{s['assignment']}-{s['student']}-" in key]
    assert len(killed_job) == 1 and killed_job[0]["remote"]["pid"] != pid, "the killed job was graded elsewhere"
    book = _gradebook(course)
    assert {k: v for k, v in book.items() if k[0] != "poison"} == \
        {k: v for k, v in _gradebook(local_run[0]).items() if k[0] in ("alice", "bob", "mallory")}
    assert all(v[1] in (0.0, None) for k, v in book.items() if k[0] == "poison")
