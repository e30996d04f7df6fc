"""The grader (autograde/): sandbox limits, the hostile catalogue, expected scores end to end.

The catalogue runs against a small assignment built from the real notebook 1 (its set-up
imports, three exercises with their checks and graded cells, one written answer), so that
twenty submissions grade in a couple of minutes; the expected-score test runs the real
course (every assignment under solutions/notebooks) once, in fast mode.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from autograde import batch, codec, results, sandbox  # noqa: E402
from autograde.course import Course  # noqa: E402
from minicourse import mini_course, mini_root  # noqa: E402

WHY = sandbox.available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")


# ----------------------------------------------------------------------------- fast unit tests
def test_sandbox_contains_memory_fork_bomb_network_and_files(tmp_path):
    """Before any hostile submission runs: the limits really hold here."""
    wc = tmp_path / "wc"
    wc.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    sandbox.give_to(wc, sandbox.UID_BASE + 90)
    code = f"""
import os, socket, numpy as np
out = {{}}
try:
    np.ones(30 * 10**9 // 8); out["alloc"] = "ALLOCATED"
except MemoryError: out["alloc"] = "MemoryError"
n = 0
try:
    while n < 5000:
        if os.fork() == 0:
            import time; time.sleep(3); os._exit(0)
        n += 1
except OSError: pass
out["forks"] = n
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2); out["net"] = "CONNECTED"
except OSError as e: out["net"] = type(e).__name__
try:
    open({str(secret)!r}).read(); out["read"] = "READ"
except OSError as e: out["read"] = type(e).__name__
try:
    open({str(tmp_path / 'escaped')!r}, "w").write("x"); out["write"] = "WROTE"
except OSError as e: out["write"] = type(e).__name__
out["uid"] = os.getuid()
print(out)
"""
    argv = sandbox.bwrap_argv([sys.executable, "-c", code], workdir=wc, uid=sandbox.UID_BASE + 90,
                              limits=sandbox.Limits(nproc=64, memory_bytes=4 << 30), env=sandbox.clean_env())
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = eval(r.stdout.strip().splitlines()[-1])
    assert out["alloc"] == "MemoryError" and out["forks"] < 64, out
    assert out["net"] != "CONNECTED" and out["read"] != "READ" and out["write"] != "WROTE", out
    assert out["uid"] == sandbox.UID_BASE + 90 and not (tmp_path / "escaped").exists()


def test_codec_accepts_plain_data_and_rejects_everything_else():
    import numpy as np
    import torch
    blobs = []
    head = codec.encode({"ok": (torch.arange(6.0).reshape(2, 3), np.uint8(3), [1, "a", None], float("nan"))}, blobs)
    v = codec.decode(json.dumps(head).encode(), blobs)["ok"]
    assert torch.equal(v[0], torch.arange(6.0).reshape(2, 3)) and v[1] == 3 and v[2] == [1, "a", None]

    class Eq:
        def __eq__(self, o):
            return True
    for bad in (Eq(), np.array([Eq()], dtype=object), "x" * 0 + Eq.__name__ and type("S", (str,), {})("s")):
        with pytest.raises(TypeError):
            codec.encode(bad, [])
    blobs = []                      # a tensor subclass crosses only as a plain tensor (its overrides stay behind)
    sub = torch.zeros(2).as_subclass(type("AlwaysEqual", (torch.Tensor,), {"__eq__": lambda s, o: True}))
    back = codec.decode(json.dumps(codec.encode(sub, blobs)).encode(), blobs)
    assert type(back) is torch.Tensor and not torch.equal(back, torch.ones(2))
    for head, blobs in [(b'{"__tensor__": {"dtype": "object", "shape": [1], "blob": 0}}', [b"x"]),
                        (b'{"__ndarray__": {"dtype": "float32", "shape": [4], "blob": 0}}', [b"\0" * 3]),
                        (b'{"__pickle__": "gASV"}', []), (b"not json", [])]:
        with pytest.raises(codec.DecodeError):
            codec.decode(head, blobs)


def test_a_call_that_changes_the_global_random_state_changes_the_callers():
    """The worker reports what a call did to the process's global torch random state, and the
    judge's own state moves on too: a check that the caller's random numbers were left alone
    (``randomized_weights`` without ``fork_rng``) sees through the sandbox."""
    import torch
    from autograde.calls import apply_effects

    def judged(call):                   # worker side, then across the codec, then the judge side
        snaps = codec.snapshot((), {})
        call()
        blobs = []
        eff = codec.decode(json.dumps(codec.encode(codec.effects(snaps), blobs)).encode(), blobs)
        before = torch.random.get_rng_state()
        apply_effects(eff, (), {})
        return not torch.equal(torch.random.get_rng_state(), before)

    def forked():
        with torch.random.fork_rng():
            torch.manual_seed(3)
            torch.rand(2)
    assert judged(lambda: torch.manual_seed(3)) and judged(lambda: torch.rand(1))
    assert not judged(forked) and not judged(lambda: torch.rand(2, generator=torch.Generator().manual_seed(0)))


def test_collect_is_safe_and_idempotent(tmp_path):
    root = mini_root(tmp_path / "root")
    course = Course(tmp_path / "home", root)
    inc = tmp_path / "in"
    (inc / "alice" / "work" / "helpers").mkdir(parents=True)
    (inc / "alice" / "work" / "01_features.ipynb").write_text("{}")
    (inc / "alice" / "work" / "helpers" / "features.py").write_text("x = 1\n")
    os.symlink("/etc/passwd", inc / "alice" / "work" / "helpers" / "link.py")
    with zipfile.ZipFile(inc / "bob.zip", "w") as z:
        z.writestr("../../evil.txt", "no")
        z.writestr("bob/notebooks/01_features.ipynb", "{}")
        z.writestr("bob/helpers/features.py", "y = 2\n")
    (inc / "carol.zip").write_bytes(b"not a zip")
    r = course.collect(inc, ["01_features"], log=lambda *a: None)
    assert r == {"alice": {"01_features": "collected"}, "bob": {"01_features": "collected"},
                 "carol": {"01_features": "unreadable"}}
    assert not (course.submitted / "alice" / "01_features" / "helpers" / "link.py").exists()
    assert not (tmp_path / "evil.txt").exists() and not (course.home / "evil.txt").exists()
    assert (course.submitted / "bob" / "01_features" / "01_features.ipynb").exists()
    assert course.collect(inc, ["01_features"], log=lambda *a: None)["alice"] == {"01_features": "unchanged"}


# ----------------------------------------------------------------------------- the catalogue
@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return mini_course(tmp_path_factory.mktemp("grader"))


def test_release_hides_tests_and_solutions_and_grades_the_students_own_files(mini):
    a = "01_features"
    text = (mini.release_dir / a / f"{a}.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "Model answer" not in text
    assert "NotImplementedError" in (mini.release_dir / a / "helpers" / "features.py").read_text()
    cfg = mini.config()
    excluded = set(cfg.Autograde.exclude_overwriting[a])
    assert "helpers/features.py" in excluded and excluded == set(mini.released_files(a))
    names = [p.__name__ for p in cfg.Autograde.sanitize_preprocessors]
    assert names.index("ClearHiddenTests") == names.index("OverwriteCells") + 1   # before execution


def test_hostile_catalogue(mini, tmp_path):
    import hostile
    a = "01_features"
    hits = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.5)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                hits.append(srv.accept())
            except OSError:
                pass
    threading.Thread(target=accept, daemon=True).start()
    targets = [mini.home / "gradebook.db", mini.source / a / f"{a}.ipynb",
               mini.root / "solutions" / "helpers" / "features.py",
               mini.submitted / "good" / a / "helpers" / "features.py"]
    inc = tmp_path / "incoming"
    cases = hostile.build(mini.release_dir / a, mini.root / "solutions" / "helpers", inc,
                          port=srv.getsockname()[1], target_dir=str(mini.home), targets=targets)
    mini.collect(inc, [a], log=lambda *a: None)
    db_before = (mini.home / "gradebook.db").stat().st_size
    try:
        res = batch.autograde(mini, [a], jobs=2, log=print)
    finally:
        stop.set()
        srv.close()
    results.feedback(mini, [a], log=print)
    out = results.export(mini, tmp_path / "grades.csv", log=print)
    points = {c["grade_id"]: c["points"] for c in mini.grade_cells(a) if c["kind"] == "code"}
    assert res["failures"] == [] and res["graded"] == len(cases)

    con = sqlite3.connect(mini.home / "gradebook.db")
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    got = dict(con.execute("select s.student_id, sum(g.auto_score) from grade g join submitted_notebook n on "
                           "g.notebook_id = n.id join submitted_assignment s on n.assignment_id = s.id "
                           "join grade_cells c on g.cell_id = c.id where c.cell_type = 'code' "
                           "group by s.student_id").fetchall())
    maxes = {r[0] for r in con.execute("select max_score from grade_cells where cell_type = 'code'")}
    con.close()
    assert set(got) == set(cases), "every submission has a gradebook record, the missing notebook included"
    assert maxes == set(points.values()), "the points of test cells come from the instructor, not the student"
    assert (mini.home / "gradebook.db").stat().st_size >= db_before

    why = {"corrupt_json": "could not be read", "missing_notebook": "not in your submission",
           "renamed_helpers_file": "missing from your helpers", "syntax_error": "SyntaxError",
           "import_error": "no_such_module_for_grading", "infinite_loop": "did not finish",
           "ignores_ctrl_c": "did not finish", "alloc_30gb": "MemoryError", "fork_bomb": "BlockingIOError",
           "kills_kernel": "SIGKILL", "deletes_test_cells": "not done yet", "edits_test_cells": "not done yet",
           "changes_points": "not done yet", "input_transformer": "not done yet",
           "monkeypatches_allclose": "check normalize_filters failed", "patches_the_checks": "check normalize_filters failed",
           "always_equal": "does not accept",
           "sandbox_probe": "not done yet",
           "fake_passed_output": "not done yet", "good": "passed", "own_helper_function": "passed"}
    secret = results.hidden_lines(mini, a)
    assert secret
    for case in cases:
        lo, hi = hostile.expected(case, points)
        assert lo <= got[case] <= hi, f"{case}: {got[case]} points, expected {lo}..{hi}"
        fb = mini.feedback_dir / case / a
        report = (fb / "grading_report.html").read_text()
        assert why[case] in report, f"{case}: the feedback does not say {why[case]!r}:\n{report}"
        for f in fb.glob("*.html"):
            text = f.read_text()
            assert not any(line in text for line in secret), f"{case}: hidden test in {f.name}"
    assert "[grader] 2 / 2 points" in (mini.feedback_dir / "good" / a / f"{a}.html").read_text()
    assert "0 / 2 points" in (mini.feedback_dir / "fake_passed_output" / a / f"{a}.html").read_text()

    # the probes: nothing secret readable, nothing written outside, no network
    for case, name in [("sandbox_probe", "probe.json")]:
        probe = json.loads((mini.autograded / case / a / name).read_text())
        assert set(probe["read"]) >= {str(t) for t in targets}
        assert all(not isinstance(v, int) for v in probe["read"].values()), probe["read"]
        assert not any("gradebook" in g or "source" in g for g in probe["glob"]), probe["glob"]
        assert "WROTE" not in probe["write"].values(), probe["write"]
        assert "CONNECTED" not in probe["net"].values(), probe["net"]
    assert not hits, "a sandboxed submission reached a port on the host"
    assert not list(mini.home.rglob("escaped.txt")) and not Path("/work/main/escaped.txt").exists()
    assert "good" in out.read_text()

    # idempotent: a second run grades nothing, a forced one only what is asked
    again = batch.autograde(mini, [a], jobs=2, log=lambda *x: None)
    assert again["graded"] == 0 and again["skipped"] == len(cases)


def test_autograde_resumes_after_interruption(mini, tmp_path):
    """A batch killed half-way: the next run grades exactly what is missing."""
    import hostile
    from autograde import job as J
    a = "01_features"
    inc = tmp_path / "in"
    hostile.build(mini.release_dir / a, mini.root / "solutions" / "helpers", tmp_path / "all")
    inc.mkdir()
    for s in ("good", "missing_notebook"):
        shutil.copytree(tmp_path / "all" / s, inc / ("resume_" + s))
    mini.collect(inc, [a], log=lambda *x: None)
    for s in ("resume_good", "resume_missing_notebook"):
        J.Job(mini, a, s).state_path.unlink(missing_ok=True)
    from autograde.remote import claimed_slot
    with claimed_slot(mini.settings.slot_dir) as slot:                                  # the one that finished before the kill
        st = J.run_job(J.Job(mini, a, "resume_missing_notebook"), slot)
    assert st.status == "graded"
    r = batch.autograde(mini, [a], ["resume_good", "resume_missing_notebook"], jobs=1, log=lambda *x: None)
    assert r["graded"] == 1 and r["skipped"] == 1
    assert J.Job(mini, a, "resume_good").read_state().score == sum(
        c["points"] for c in mini.grade_cells(a) if c["kind"] == "code")


# ----------------------------------------------------------------------------- PostgreSQL
def _postgres_bin():
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


@pytest.fixture
def postgres(tmp_path):
    import pwd
    import tempfile
    pg = _postgres_bin()
    if pg is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("no PostgreSQL driver for SQLAlchemy (pip install -r requirements-test.txt)")
    user = "coursepg"
    try:
        pwd.getpwnam(user)
    except KeyError:
        if subprocess.run(["useradd", "--system", "--no-create-home", user], capture_output=True).returncode:
            pytest.skip("initdb refuses root and no user could be created for PostgreSQL")
    d = Path(tempfile.mkdtemp(prefix="coursepg-"))
    os.chmod(d, 0o755)
    shutil.chown(d, user)
    run = ["runuser", "-u", user, "--"]
    r = subprocess.run(run + [str(pg / "initdb"), "-D", str(d / "data"), "--auth=trust", "-U", "grader"],
                       capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(d, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr[-300:]}")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = subprocess.run(run + [str(pg / "pg_ctl"), "-D", str(d / "data"), "-l", str(d / "log"), "-w", "-o",
                              f"-p {port} -k {d} -h 127.0.0.1", "start"], capture_output=True, text=True)
    try:
        if r.returncode:
            pytest.skip(f"PostgreSQL did not start: {r.stderr[-300:]}")
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run + [str(pg / "pg_ctl"), "-D", str(d / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def test_postgresql_gradebook(postgres, tmp_path, monkeypatch):
    import csv
    import hostile
    monkeypatch.setenv("COURSE_GRADER_DB_URL", postgres)
    root = mini_root(tmp_path / "root")
    course = Course(tmp_path / "home", root, cell_timeout_s=10, call_timeout_s=10)
    assert course.db_url == postgres
    course.release(log=print)
    a = "01_features"
    hostile.build(course.release_dir / a, root / "solutions" / "helpers", tmp_path / "all")
    inc = tmp_path / "in"
    for s in ("good", "missing_notebook"):
        shutil.copytree(tmp_path / "all" / s, inc / s)
    course.collect(inc, [a], log=print)
    assert batch.autograde(course, [a], jobs=2, log=print)["failures"] == []
    out = results.export(course, tmp_path / "grades.csv", log=print)
    assert not (course.home / "gradebook.db").exists(), "the SQLite file was used instead of PostgreSQL"
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    full = sum(c["points"] for c in course.grade_cells(a) if c["kind"] == "code")
    assert float(rows["good"]["raw_score"]) == full and float(rows["missing_notebook"]["raw_score"]) == 0
    assert float(rows["good"]["max_score"]) == course.points(a)
    # the records graded on the workers (a scratch SQLite gradebook each) written here, in full
    points = {c["grade_id"]: c["points"] for c in course.grade_cells(a)}
    code = {g for g, c in zip(points, course.grade_cells(a)) if c["kind"] == "code"}
    with course.gradebook() as gb:
        assert sorted(s.student.id for s in gb.assignment_submissions(a)) == ["good", "missing_notebook"]
        for s, want in (("good", lambda g: points[g] if g in code else 0.0), ("missing_notebook", lambda g: 0.0)):
            nb = gb.find_submission_notebook(a, a, s)
            assert {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades} == \
                {g: (want(g), False) for g in points}, s
            assert {c.name: c.auto_comment for c in nb.comments} == \
                {"nb1_q1": "No response." if s == "good" else None}, s
