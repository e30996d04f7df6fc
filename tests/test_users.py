"""Acceptance tests: the users' own paths, run as the README writes them.

Each test works in a **fresh clone of HEAD** in a temporary folder, with ``../shared``
beside it and the project's environment reused (``.venv`` linked in), and calls the
README's commands as subprocesses, exactly as written there (:func:`readme` fails the test
when the README stops giving a command). Only committed work is tested here: commit first.

- *Instructor*: ``grade release``, ``collect`` of an inbox (folders and ``.zip`` files: the
  solutions, a half-done library, the untouched release), ``autograde -j 2`` (the expected
  score of every submission, and a re-run grades nothing twice), ``feedback``, ``export``,
  ``status``, and the formgrader serving the course on a loopback port.
- *Student*: for each notebook, a student tree with only that notebook's exercises done
  passes ``bash course.sh check -k nbN`` and runs the notebook with no error cell, in
  JupyterLab started by ``bash course.sh lab`` and driven by a real browser (headless
  Chromium) when one is installed, else with nbconvert. An untouched release fails the
  checks cleanly: one line per exercise, no traceback.
- *Self-learner*: with no network and no data, ``bash course.sh data`` says what to do and
  leaves nothing behind; ``python -m helpers.data status`` lists where each set was found.
"""
from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHOTS = ROOT / "build" / "screenshots"
README = (ROOT / "README.md").read_text()
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
SCRIPT = {"ko": re.compile(r"[\uac00-\ud7a3]"), "zh": re.compile(r"[\u4e00-\u9fff]")}
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from notebook_languages import IN_THE_BROWSER  # noqa: E402
CHROMIUM = next((p for p in ["/usr/bin/chromium", "/usr/lib/chromium/chromium", shutil.which("chromium") or ""]
                 if p and Path(p).exists()), None)
# what a user's shell would not have: the test run's own settings
_DROP = ("PYTHONPATH", "COURSE_FAST", "COURSE_DATA", "COURSE_TARGET", "COURSE_VENV", "VIRTUAL_ENV", "MPLBACKEND",
         "COURSE_GRADER_HOME", "COURSE_GRADER_ROOT", "COURSE_GRADER_DB_URL", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR")


def readme(cmd: str) -> str:
    """``cmd`` as the README gives it (a line of a ``bash`` block, comment dropped, or an
    inline code span); the test fails when the README no longer says it."""
    lines = {line.split(" #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)
             for line in block.splitlines()}
    spans = set(re.findall(r"`([^`\n]+)`", README))
    assert cmd in lines | spans, f"the README no longer gives the command {cmd!r}"
    return cmd


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(HOME=str(home), COURSE_NO_APT="1", **extra)
    return env


def sh(cmd: str, cwd: Path, home: Path, timeout: float = 600, **extra) -> subprocess.CompletedProcess:
    """Run a command line in bash as a user would type it; prints it and its output's tail."""
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=_env(home, **extra), capture_output=True, text=True,
                       timeout=timeout)
    print(f"$ {cmd}  (exit {r.returncode})\n" + (r.stdout + r.stderr)[-3000:])
    return r


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clone(dest: Path) -> Path:
    """A fresh clone of HEAD at ``dest/course`` with the project's environment linked in."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest / "course")], check=True)
    (dest / "course" / ".venv").symlink_to(Path(sys.prefix))
    return dest / "course"


@pytest.fixture(scope="session")
def users(tmp_path_factory):
    """``base/course`` (the clone), ``base/shared`` (linked) and a home folder for the users."""
    if not (ROOT / ".git").exists():
        pytest.fail("the acceptance tests clone the project: run them in a git checkout")
    base = tmp_path_factory.mktemp("users")
    (base / "shared").symlink_to(SHARED)
    _clone(base)
    (base / "home").mkdir()
    return base


def _server(cmd: str, cwd: Path, home: Path, port: int, token: str, log: Path, **extra):
    """Start a Jupyter server command (the README's, plus loopback options) and wait for it."""
    full = f"{cmd} --no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}" \
           + (" --allow-root" if os.geteuid() == 0 and "formgrader" not in cmd else "")
    print(f"$ {full}")
    out = open(log, "w")
    proc = subprocess.Popen(["bash", "-c", full], cwd=cwd, env=_env(home, **extra), stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).close()
            return proc, url, out
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    _stop(proc, out)
    raise AssertionError(f"`{full}` did not serve on {url}:\n" + log.read_text()[-3000:])


def _stop(proc, out=None):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if out:
        out.close()


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read().decode()


# ============================================================================ instructor
def _grade_cells(nb_path: Path) -> list[tuple[str, float]]:
    nb = json.loads(nb_path.read_text())
    return [(c["metadata"]["nbgrader"]["grade_id"], float(c["metadata"]["nbgrader"].get("points", 0)))
            for c in nb["cells"] if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade")]


def test_instructor_grades_a_class_with_the_readme_commands(users):
    sys.path.insert(0, str(ROOT))
    from autograde import sandbox
    why = sandbox.available()
    if why:
        pytest.skip(f"grading needs its sandbox here: {why}")
    course, home = users / "course", users / "home"
    ag = course / "autograde"

    r = sh(readme("bash course.sh grade release"), course, home)
    assert r.returncode == 0, r.stderr[-3000:]
    assignments = sorted(p.name for p in (ag / "release").iterdir())
    assert assignments == [n[:-6] for n in NOTEBOOKS if not n.startswith("00_")]

    # The inbox: alice the solutions (folders), bob half of every notebook's exercises (a zip
    # with the files one folder down), carol the untouched release (a zip).
    sys.path.insert(0, str(ROOT))
    from authoring import conventions, release as rel
    solutions = course / "solutions" / "helpers"
    stubbed = ag / "release" / assignments[0] / "helpers"
    expected = {"alice": {}, "bob": {}, "carol": {}}
    half = {}
    for a in assignments:
        cells = _grade_cells(ag / "source" / a / f"{a}.ipynb")
        ex = [gid.split("_", 1)[1] for gid, _ in cells]
        half[a] = set(ex[: (len(ex) + 1) // 2])
        expected["alice"][a] = sum(p for _, p in cells)
        expected["bob"][a] = sum(p for gid, p in cells if gid.split("_", 1)[1] in half[a])
        expected["carol"][a] = 0.0
    inbox = home / "inbox"
    alice, bob, carol = inbox / "alice", home / "bob" / "bob-submission", home / "carol"
    shutil.copytree(solutions, alice / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(stubbed, bob / "helpers")
    shutil.copytree(stubbed, carol / "helpers")
    for n, modules in conventions.notebook_modules(solutions).items():
        a = next(x for x in assignments if x.startswith(f"0{n}_"))
        kept = []
        for module in modules:
            names = conventions.exercises_in((stubbed / f"{module}.py").read_text())
            keep = {q for q in names if conventions.exercise_key(q) in half[a]}
            kept += keep
            (bob / "helpers" / f"{module}.py").write_text(
                rel.strip_solutions((solutions / f"{module}.py").read_text(), f"helpers/{module}.py", keep=keep))
        assert sorted(map(conventions.exercise_key, kept)) == sorted(half[a]), \
            f"{a}: the graded cells must be named nbN_<exercise key>: {sorted(half[a])} vs {kept}"
    for a in assignments:
        for d in (alice, bob, carol):
            shutil.copyfile(ag / "release" / a / f"{a}.ipynb", d / f"{a}.ipynb")
    for name, d in (("bob", bob.parent), ("carol", carol)):
        with zipfile.ZipFile(inbox / f"{name}.zip", "w") as z:
            for p in sorted(d.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(d).as_posix())

    r = sh(readme("bash course.sh grade collect ~/inbox"), course, home)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in (ag / "submitted").iterdir()) == ["alice", "bob", "carol"]

    r = sh(readme("bash course.sh grade autograde -j 2"), course, home, timeout=1500)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    n_jobs = 3 * len(assignments)
    assert f"[{n_jobs}/{n_jobs}]" in r.stdout
    states = {p: p.read_bytes() for p in (ag / ".state" / "jobs").rglob("*.json")}
    assert len(states) == n_jobs

    r = sh(readme("bash course.sh grade autograde -j 2"), course, home)
    assert r.returncode == 0 and f"{n_jobs} submission(s) already graded" in r.stdout, r.stdout[-2000:]
    assert "[1/" not in r.stdout, "a re-run graded a submission again"
    assert {p: p.read_bytes() for p in (ag / ".state" / "jobs").rglob("*.json")} == states

    r = sh(readme("bash course.sh grade feedback"), course, home, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for s in expected:
        for a in assignments:
            d = ag / "feedback" / s / a
            assert (d / "grading_report.html").is_file() and (d / f"{a}.html").is_file(), f"no feedback in {d}"

    r = sh(readme("bash course.sh grade export"), course, home)
    assert r.returncode == 0, r.stderr[-3000:]
    got = {(row["student_id"], row["assignment"]): float(row["raw_score"])
           for row in csv.DictReader((ag / "grades.csv").open())}
    want = {(s, a): v for s, by_a in expected.items() for a, v in by_a.items()}
    assert got == want, f"grades.csv differs from the expected scores: got {got}, want {want}"
    assert all(0 < expected["bob"][a] < expected["alice"][a] for a in assignments)

    r = sh(readme("bash course.sh grade report"), course, home)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((ag / "reports" / "class.json").read_text())
    assert [d["assignment"] for d in data["assignments"]] == assignments
    for d in data["assignments"]:
        assert d["scores"] == {s: expected[s][d["assignment"]] for s in expected}, "the report's scores are grades.csv's"
        assert sum(d["counts"]) == 3 and not d["mistakes"], "the solutions, half and untouched make no usual mistake"
        not_done = {s for kinds in d["other_failures"].values() for s in kinds.get("not done", [])}
        assert not_done == {"bob", "carol"}, d["other_failures"]
    assert "<img" in (ag / "reports" / "index.html").read_text()

    r = sh(readme("bash course.sh grade similarity"), course, home)
    assert r.returncode == 0, r.stderr[-3000:]
    flagged = {}
    for a in assignments:
        pairs = json.loads((ag / "reports" / f"similarity-{a}.json").read_text())["pairs"]
        flagged[a] = {frozenset((p["a"], p["b"])) for p in pairs if p["flagged"]}
        assert flagged[a] <= {frozenset(("alice", "bob"))}, f"{a}: only bob's done half is alice's code: {flagged[a]}"
        assert (ag / "reports" / f"similarity-{a}.html").is_file()
    assert any(flagged.values()), "bob's done half is the solutions' code: flagged somewhere"

    r = sh(readme("bash course.sh grade status"), course, home)
    assert r.returncode == 0
    for a in assignments:
        assert f"{a}: released=True collected=3 graded=3 to grade=0" in r.stdout
    assert "report: reports/index.html (written" in r.stdout

    port, token = _free_port(), secrets.token_hex(16)
    proc, url, out = _server(readme("bash course.sh grade formgrader"), course, home, port, token,
                             users / "formgrader.log")
    try:
        status, page = _get(f"{url}/formgrader/manage_assignments", token)
        assert status == 200 and "Manage Assignments" in page
        status, body = _get(f"{url}/formgrader/api/assignments", token)
        assert sorted(x["name"] for x in json.loads(body)) == assignments
        status, body = _get(f"{url}/formgrader/api/submissions/{assignments[0]}", token)
        assert sorted(x["student"] for x in json.loads(body)) == ["alice", "bob", "carol"]
    finally:
        _stop(proc, out)


# ============================================================================ student
def _student_tree(users, n: int) -> Path:
    """What a student has, with only notebook ``n``'s exercises done (their module solved)."""
    dest = users / f"student-nb{n}"
    if not dest.exists():
        shutil.copytree(users / "course", dest, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "solutions", "autograde", "tests", "tools", "build"))
        sys.path.insert(0, str(ROOT))
        from authoring.conventions import notebook_modules
        for m in notebook_modules(users / "course" / "solutions" / "helpers").get(n, []):
            shutil.copyfile(users / "course" / "solutions" / "helpers" / f"{m}.py", dest / "helpers" / f"{m}.py")
        (dest.parent / f"home-nb{n}").mkdir()
    return dest


def test_student_checks_fail_cleanly_on_an_untouched_release(users):
    from helpers.checks import NOTEBOOKS as CHECKS   # the names only
    course, home = users / "course", users / "home"
    for cmd, n_checks in ((readme("bash course.sh check"), sum(map(len, CHECKS.values()))),
                          (readme("bash course.sh check -k nb1"), len(CHECKS[1]))):
        r = sh(cmd, course, home)
        lines = [line for line in r.stdout.splitlines() if re.match(r"nb\d \[", line)]
        assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
        assert "Traceback" not in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
        assert len(lines) == n_checks and all("[not done]" in line for line in lines), r.stdout
        assert r.stdout.strip().splitlines()[-1] == f"0 passed, {n_checks} not done, 0 failed (of {n_checks} checks)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_runs_a_notebook_with_only_its_own_exercises_done(users, name):
    """The student's notebook, in the language :data:`IN_THE_BROWSER` gives it (notebooks/ko/,
    notebooks/zh/: the English code cells, byte for byte), run from its folder in JupyterLab:
    no error, its first cell rendered in that language, its claims printed in it."""
    n = int(name[:2])
    lang = IN_THE_BROWSER[name.removesuffix(".ipynb")]
    path = f"{lang}/{name}"
    tree = _student_tree(users, n)
    home = users / f"home-nb{n}"
    if n >= 1:
        from helpers.checks import NOTEBOOKS as CHECKS
        r = sh(readme(f"bash course.sh check -k nb{n}") if n == 1 else f"bash course.sh check -k nb{n}", tree, home)
        assert r.returncode == 0 and r.stdout.count("[passed]") == len(CHECKS[n]), r.stdout[-3000:]
    if CHROMIUM and _playwright() is not None:
        nb = _run_in_jupyterlab(tree, home, path, users)
        assert SCRIPT[lang].search(FIRST_MARKDOWN[path]), FIRST_MARKDOWN[path][:200]
    else:
        print("no browser here (Debian's chromium and the playwright package): running the notebook with nbconvert")
        nb = _run_with_nbconvert(tree, home, path)
    _assert_ran_clean(nb, path)
    printed = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                      for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
    claims = [line for line in printed.splitlines() if line.startswith("\u2713")]
    assert all(SCRIPT[lang].search(line) for line in claims), claims[:3]


def _playwright():
    try:
        import playwright.sync_api
        return playwright.sync_api
    except ImportError:
        return None


def _assert_ran_clean(nb: dict, name: str):
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    errors = [(i, o) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: cell {errors[0][0]}: {errors[0][1].get('ename')}: {errors[0][1].get('evalue')}"
    not_run = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("execution_count") is None]
    assert not not_run, f"{name}: cells {not_run} did not run"
    images = sum(1 for c in code for o in c.get("outputs", []) if set(o.get("data", {})) & {"image/png", "image/jpeg"})
    assert images >= 1, f"{name}: no image"
    for c in code:
        for o in c.get("outputs", []):
            text = o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
            assert not any(bad in text for bad in _not_passed(name)), \
                f"{name}: a local check did not pass:\n{text[-1500:]}"


def _not_passed(name: str) -> list[str]:
    """How a check line that did not pass starts, in the language of notebook ``name``
    (``ko/01_features.ipynb``: Korean too)."""
    words = ["not done", "FAILED", "ERROR"]
    lang = name.split("/")[0] if "/" in name else None
    if lang:
        sys.path.insert(0, str(ROOT))
        from authoring import messages, translate
        cat = translate.read_catalogue(messages.library_path(ROOT, lang), lang)
        words += [translate.translation(cat, w) or w for w in words]
    return [f"[{w}]" for w in words]


def _run_with_nbconvert(tree: Path, home: Path, name: str) -> dict:
    """``name`` (relative to notebooks/, e.g. ko/01_features.ipynb) run from its own folder."""
    folder = (tree / "notebooks" / name).parent
    out = folder / f".ran-{Path(name).name}"
    r = sh(f"{tree / '.venv' / 'bin' / 'python'} -m jupyter nbconvert --to notebook --execute --allow-errors "
           f"--ExecutePreprocessor.timeout=600 --output {out.name} {Path(name).name}", folder, home, timeout=1200,
           COURSE_FAST="1", PYTHONPATH=str(tree))   # what `course.sh lab` sets: the folder holding helpers/
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


_ACTIVE = """() => { const w = window.jupyterapp.shell.currentWidget;
    return w && w.context ? w.context.path : null; }"""
_KERNEL_IDLE = """() => { const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && !w.sessionContext.isBusy; }"""
_STATE = """() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === 'code');
    return {total: cells.length,
            run: cells.filter(c => c.model.executionCount !== null).length,
            busy: cells.filter(c => c.model.executionState === 'running').length,
            outputs: cells.reduce((n, c) => n + c.model.outputs.length, 0)}; }"""


FIRST_MARKDOWN: dict = {}       # notebook -> the text of its first rendered markdown cell


def _run_in_jupyterlab(tree: Path, home: Path, name: str, users) -> dict:
    """``bash course.sh lab`` in the student's tree (a new home: no workspace to restore),
    the notebook opened in headless Chromium, its outputs cleared, Run All through the UI,
    saved; returns the saved notebook (every output in it was produced by this run)."""
    sync_api = _playwright()
    port, token = _free_port(), secrets.token_hex(16)
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)     # no "news?" pop-up over the screenshot
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    (settings.parent / "notebook-extension").mkdir(exist_ok=True)   # every cell in the DOM (no windowing)
    (settings.parent / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    proc, url, out = _server(readme("COURSE_FAST=1 bash course.sh lab") + " --LabApp.expose_app_in_browser=True",
                             tree, home, port, token, users / f"lab-{name.replace('/', '-')}.log")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name.removesuffix('.ipynb').replace('/', '-')}.png"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            try:
                page.goto(f"{url}/lab/tree/{name}?reset&token={token}", timeout=90_000)
                page.wait_for_function(f"() => window.jupyterapp && ({_ACTIVE})() === {json.dumps(name)}",
                                       timeout=90_000)
                page.evaluate("""async () => { const w = window.jupyterapp.shell.currentWidget;
                    await w.context.ready; await w.sessionContext.ready; await w.revealed; }""")
                page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
                page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
                page.wait_for_function(f"() => ({_STATE})().outputs === 0", timeout=30_000)
                started = False
                for _ in range(2):      # the first command can be lost while JupyterLab settles: retry once
                    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                    for _ in range(40):
                        time.sleep(0.5)
                        st = page.evaluate(_STATE)
                        if st["run"] or st["busy"]:
                            started = True
                            break
                    if started:
                        break
                assert started, f"{name}: Run All did not start any cell"
                deadline, quiet = time.time() + 900, 0
                while time.time() < deadline:
                    st = page.evaluate(_STATE)
                    if st["busy"] == 0 and page.evaluate(_KERNEL_IDLE):
                        quiet += 1          # idle, nothing queued: done (or stopped at an error)
                        if st["run"] == st["total"] or quiet >= 6:
                            break
                    else:
                        quiet = 0
                    time.sleep(0.5)
                assert page.evaluate(_ACTIVE) == name, f"the active document is {page.evaluate(_ACTIVE)}, not {name}"
                page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
                page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty",
                                       timeout=60_000)
                page.screenshot(path=str(shot))
                assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                    ":text('Traceback')").count() == 0, f"{name}: a traceback is shown"
                assert page.locator(".jp-OutputArea-output img").count() >= 1, f"{name}: no image was rendered"
                FIRST_MARKDOWN[name] = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown").first.inner_text()
            finally:
                try:
                    page.screenshot(path=str(shot))
                except Exception:  # noqa: BLE001 - the screenshot is for people; never hide the real failure
                    pass
                browser.close()
    finally:
        _stop(proc, out)
    return json.loads((tree / "notebooks" / name).read_text())


# ============================================================================ self-learner
def _offline_prefix() -> list[str] | None:
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which("unshare") and subprocess.run(prefix + ["true"], capture_output=True).returncode == 0:
            return prefix
    return None


def test_self_learner_offline_without_data_is_told_what_to_do(tmp_path):
    prefix = _offline_prefix()
    if prefix is None:
        pytest.skip("cannot take the network away here (unshare -n)")
    course = _clone(tmp_path)       # no ../shared beside this one: no data anywhere
    (tmp_path / "home").mkdir()
    cmd = readme("bash course.sh data")
    r = subprocess.run(prefix + ["bash", "-c", cmd], cwd=course, env=_env(tmp_path / "home"),
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    print(out[-3000:])
    assert r.returncode != 0, out
    assert "Traceback" not in out, out
    for name in ("cifar10", "imagenet-samples", "styles", "content"):
        assert f"error: {name}: could not download" in out and "Nothing was written" in out, out
    assert "copy the data set" in out and "COURSE_DATA" in out
    left = [p for p in (course / "data").rglob("*")] if (course / "data").exists() else []
    assert not left, f"partial files were left: {left[:5]}"
    r = sh(readme("bash course.sh python -m helpers.data status"), course, tmp_path / "home")
    assert r.returncode == 0
    assert readme("bash course.sh data cifar10") in r.stdout, "the missing-data message must give the README's command"


def test_self_learner_sees_where_each_data_set_was_found(users):
    r = sh(readme("bash course.sh python -m helpers.data status"), users / "course", users / "home")
    assert r.returncode == 0, r.stderr
    for name in ("cifar10", "imagenet-samples", "styles", "content"):
        line = next(line for line in r.stdout.splitlines() if line.startswith(name + " "))
        assert line.split()[-1] == str(users / "shared" / "data" / name), line
