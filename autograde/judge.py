"""The trusted judge: decides the points of every autograded cell.

It runs in the grader's own (trusted) process and executes the instructor's test cells,
hidden tests included, against a copy of the *released* library in which every exercise
function is replaced by a proxy. A proxy call sends the arguments to the worker (the
student's library, in the sandbox) and gets back plain data (see codec.py): numbers,
strings, containers, arrays, tensors, plus what the call did to its tensor and module
arguments (gradients, in-place changes, replaced layers, leftover hooks). All comparisons
(``torch.allclose`` and friends) run here, where the student's code never ran; nothing the
student writes can rewrite a test cell, patch a comparison or smuggle an always-equal
object in.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import io
import sys
import time
import traceback
from pathlib import Path
from typing import NamedTuple

from authoring.conventions import exercise_functions, hidden_line_numbers

from .calls import StudentCallError, StudentRaised, Worker, apply_effects, resolve_namedtuple
from .loader import import_package



class Verdict(NamedTuple):
    """What the judge found in one graded cell. ``mistake``: the usual mistake its local check
    named (a catalogue id such as ``"normalize_filters/per-channel"``, or ``"none of the usual
    mistakes"``), else ""; ``failure``: what kind of failure it was (:data:`FAILURES`), else ""."""
    ok: bool
    message: str
    mistake: str = ""
    failure: str = ""


FAILURES = ("mistake", "wrong", "not done", "error", "check", "hidden test", "test")


class Judge:
    """Runs the instructor's test cells (hidden tests included) in this, trusted, process, on a
    library ``helpers`` whose ``exercises`` (``{"helpers.<module>": [qualname, ...]}``) are
    replaced by proxies while it is installed: each call goes to ``worker`` (the sandboxed
    :class:`Worker`, or a :class:`ForkedWorker`) and comes back as plain data."""

    def __init__(self, helpers, exercises: dict, worker: Worker, lang: str = "en"):
        self.helpers, self.exercises, self.worker, self.lang = helpers, exercises, worker, lang
        self._originals: list = []

    @classmethod
    def of_release(cls, assignment_source: Path, worker: Worker, lang: str = "en") -> "Judge":
        """The judge of an assignment: its released library (the trusted copy, imported from
        ``source/<a>/`` whatever else is on the path) and the exercises its stubs name."""
        src = Path(assignment_source)
        helpers = import_package("helpers", src)
        if Path(helpers.__file__).resolve().parent != (src / "helpers").resolve():
            raise RuntimeError(f"judge imported the wrong helpers: {helpers.__file__}")
        return cls(helpers, exercise_functions(src / "helpers"), worker, lang)

    def install(self):
        """Put proxies in place of the exercises (undone by :meth:`uninstall`)."""
        for mod_name, names in self.exercises.items():
            mod = importlib.import_module(mod_name)
            for qual in names:
                *owner_path, leaf = qual.split(".")
                owner = mod
                for part in owner_path:
                    owner = getattr(owner, part)
                self._originals.append((owner, leaf, owner.__dict__[leaf]))
                setattr(owner, leaf, self._proxy(mod_name, qual, getattr(owner, leaf), is_method=bool(owner_path)))

    def uninstall(self):
        for owner, leaf, original in reversed(self._originals):
            setattr(owner, leaf, original)
        self._originals = []

    def _proxy(self, module, qualname, orig, is_method):
        worker = self.worker

        def proxy(*args, **kwargs):
            value, effects = worker.call(module, qualname, args, kwargs, resolve_namedtuple)
            apply_effects(effects, args, kwargs)
            return value
        functools.update_wrapper(proxy, orig)
        proxy.__course_exercise__ = qualname
        return proxy

    @staticmethod
    def context(notebook: dict) -> dict:
        """The names the test cells may use: every import of the notebook's other code cells."""
        ns = {"__name__": "__graded__"}
        for cell in notebook["cells"]:
            md = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] != "code" or md.get("grade"):
                continue
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    with contextlib.suppress(Exception):
                        exec(compile(ast.Module([node], []), "<imports>", "exec"), ns)
        return ns

    def run(self, notebook: dict, cells: list[dict], budget_s: float) -> list[dict]:
        if not self._originals:
            self.install()
        base = self.context(notebook)
        t_end = time.monotonic() + budget_s
        results = []
        for cell in cells:
            if cell["kind"] != "code":
                continue
            r = {"grade_id": cell["grade_id"], "points": cell["points"], "score": 0.0}
            if time.monotonic() > t_end:
                r.update(status="not judged", message=f"not judged: the grading time budget ({budget_s:.0f} s) "
                                                       "was used up by earlier tests")
                results.append(r)
                continue
            v = self.run_cell(cell, dict(base))
            r.update(status="passed" if v.ok else "failed", message=v.message, score=cell["points"] if v.ok else 0.0,
                     mistake=v.mistake, failure=v.failure)
            results.append(r)
        return results

    def translate(self, message: str) -> str:
        """A verdict's message in the release's language (the trusted library's catalogue)."""
        i18n = sys.modules.get(f"{self.helpers.__name__}.i18n")
        if i18n is None:
            return message
        return _translate_parts(message, lambda m: i18n.tr(m, self.lang))

    def run_cell(self, cell: dict, ns: dict) -> Verdict:
        src = cell["source"]
        name = f"<graded cell {cell['grade_id']}>"
        hidden = hidden_line_numbers(src)
        with contextlib.suppress(Exception):
            self.helpers.seed_everything(0)
        out = io.StringIO()
        try:
            code = compile(src, name, "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(code, ns)
        except Exception as e:  # noqa: BLE001 - a failing test, whatever it raised
            v = failure_verdict(e, name, hidden)
            return v._replace(message=self.translate(v.message)) if self.lang != "en" else v
        return Verdict(True, "passed (all tests, hidden ones included)")


def _translate_parts(message: str, tr) -> str:
    """``check NAME failed: MESSAGE; ...`` with each check's message translated."""
    parts = []
    for part in message.split("; check "):
        head, sep, rest = part.partition(" failed: ")
        parts.append(head + sep + tr(rest) if sep else tr(part))
    return "; check ".join(parts)


def failure_verdict(e: BaseException, cell_name: str, hidden: set) -> Verdict:
    """What a failed graded cell says: the student's call that failed, the local check that
    failed (its own message, and the usual mistake it named), a hidden test (no detail), or
    the test's error."""
    failed = _failed_check(e)
    mistake = next((m for m in getattr(failed, "mistakes", []) if m), "") if failed is not None else ""
    if failed is not None and isinstance(failed.__cause__, StudentCallError):
        e = failed.__cause__
    if isinstance(e, StudentCallError):
        what = f"your `{e.func}`" if e.func else "your library"
        if isinstance(e, StudentRaised) and "NotImplementedError" in e.message and "exercise `" in e.message:
            return Verdict(False, f"not done yet: {what} still raises NotImplementedError", "", "not done")
        # a check's probe may stop the student's call (no autograd, a batch too large): still named
        return Verdict(False, f"{what} {e.message}", mistake, "mistake" if mistake else "error")
    if failed is not None:
        message = "; ".join(f"check {name} failed: {message}" for name, _, message in failed.lines)
        status = failed.lines[0][1]
        kind = {"not done": "not done", "ERROR": "error"}.get(status, "check")
        if mistake:
            kind = "wrong" if mistake == NONE_OF_THE_USUAL else "mistake"
        return Verdict(False, message, mistake, kind)
    tb = traceback.extract_tb(e.__traceback__)
    in_cell = [fs for fs in tb if fs.filename == cell_name]
    if in_cell and in_cell[-1].lineno in hidden:
        return Verdict(False, f"a hidden test failed ({type(e).__name__})", "", "hidden test")
    return Verdict(False, f"a test failed: {type(e).__name__}: {e}" if str(e) else f"a test failed: {type(e).__name__}",
                   "", "test")


NONE_OF_THE_USUAL = "none of the usual mistakes"      # helpers.checks.core.NONE_OF_THE_USUAL


def _failed_check(e: BaseException):
    """``e`` when it is the local checks' CheckFailed (``check("name")`` in a graded cell), else None."""
    core = sys.modules.get("helpers.checks.core")
    cls = getattr(core, "CheckFailed", None)
    return e if cls is not None and isinstance(e, cls) else None


