"""A real browser: JupyterLab from the project's environment, driven by headless Chromium.

For each solved notebook (in a temporary copy of the course, so nothing committed is
touched): open it in JupyterLab, run all cells through the UI in fast mode, wait for the
kernel to go idle, save, and check that no cell shows an error and that at least one
image was rendered. A screenshot of each is saved under build/screenshots/. JupyterLab and
the browser are stopped whatever happens.

Needs Debian's ``chromium`` (``bash course.sh test`` installs it when it can) and the
Python ``playwright`` package (requirements-test.txt); skipped with the reason otherwise.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = next((p for p in ["/usr/bin/chromium", "/usr/lib/chromium/chromium", shutil.which("chromium") or ""]
                 if p and Path(p).exists()), None)
NOTEBOOKS = sorted(p.name for p in (ROOT / "solutions" / "notebooks").glob("*.ipynb"))

playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                 "(pip install -r requirements-test.txt)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed and could not be "
                                "(bash course.sh test installs it with apt-get when run as root or with sudo)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free loopback port with a one-off token, over a copy of solutions/."""
    work = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "solutions" / "helpers", work / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "solutions" / "notebooks", work / "notebooks")
    (work / "course.sh").write_text("")  # marks the project root for helpers.data
    data = ROOT.parent / "shared" / "data"
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "COURSE_FAST": "1", "PYTHONPATH": str(work),
           "COURSE_DATA": os.environ.get("COURSE_DATA", str(data))}
    env.pop("MPLBACKEND", None)
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.open_browser=False", "--allow-root"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("JupyterLab exited: " + (work / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start in 60 s")
        yield url, token, work
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


def _shutdown_sessions(url, token):
    """Stop every kernel the lab holds, so that each notebook's kernel starts on a quiet
    machine (JupyterLab keeps the earlier notebooks' kernels, with their models, running)."""
    try:
        with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10) as r:
            sessions = json.load(r)
        for s in sessions:
            req = urllib.request.Request(f"{url}/api/sessions/{s['id']}?token={token}", method="DELETE")
            urllib.request.urlopen(req, timeout=30).close()
    except OSError:
        pass


def _kernel_idle(page):
    return page.evaluate("""() => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return !!k && k.status === 'idle' && !w.sessionContext.isBusy ? true : false;
    }""")


_STARTED = """() => window.jupyterapp.shell.currentWidget.content.widgets.some(
    c => c.model.type === 'code' && (c.model.executionCount !== null || c.promptNode.textContent.includes('*')))"""
_PENDING = """() => window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === 'code' &&
    (c.model.executionCount === null || c.promptNode.textContent.includes('*'))).length"""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, browser, name):
    url, token, work = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/tree/notebooks/{name}?token={token}", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=60_000)
        page.evaluate("""async () => {
            const w = window.jupyterapp.shell.currentWidget;
            await w.context.ready; await w.sessionContext.ready; await w.revealed;
            window.jupyterapp.shell.activateById(w.id);
        }""")
        deadline = time.time() + 120
        while not _kernel_idle(page) and time.time() < deadline:
            time.sleep(0.5)
        assert _kernel_idle(page), "the kernel did not start"
        started = False
        for attempt in range(2):  # the first command can be lost while JupyterLab settles: retry once
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            for _ in range(30):
                time.sleep(0.5)
                if page.evaluate(_STARTED):
                    started = True
                    break
            if started:
                break
        assert started, "Run All did not start any cell"
        deadline = time.time() + 600
        while time.time() < deadline:
            if page.evaluate(_PENDING) == 0 and _kernel_idle(page):
                break
            time.sleep(1)
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        time.sleep(1)
        page.screenshot(path=str(SHOTS / f"{Path(name).stem}.png"), full_page=False)
        images = page.locator(".jp-OutputArea-output img").count()
        errors_dom = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                                  ":text('Traceback')").count()
        nb = json.loads((work / "notebooks" / name).read_text())
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        not_run = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("execution_count") is None]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert not not_run, f"{name}: cells {not_run} did not run"
        assert errors_dom == 0
        assert images >= 1, f"{name}: no image was rendered"
    finally:
        try:
            page.screenshot(path=str(SHOTS / f"{Path(name).stem}-last.png"))
        except Exception:
            pass
        page.close()
        _shutdown_sessions(url, token)
