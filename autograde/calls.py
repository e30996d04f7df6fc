"""How the judge reaches the student's code: a worker process, a call, and what the call did.

:class:`Worker` runs the student's library in a sandboxed process (worker.py) and calls its
functions over a pipe; :class:`ForkedWorker` does the same in a process forked from this one
(the mutation lab's: no sandbox, the same pickles and replies). A call ends with a value
(plain data, codec.py) and its effects on the arguments, which :func:`apply_effects` replays
on the caller's own objects; or with one of the :class:`StudentCallError` kinds.
"""
from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import codec, sandbox
from .files import copy_plain

HERE = Path(__file__).resolve().parent
MAX_STARTS = 4


class StudentCallError(Exception):
    """A call of the student's function did not give a usable value."""

    def __init__(self, func: str, message: str):
        super().__init__(message)
        self.func, self.message = func, message


class StudentRaised(StudentCallError):
    pass


class StudentTimeout(StudentCallError):
    pass


class StudentCrashed(StudentCallError):
    pass


class BadReturn(StudentCallError):
    pass


# ----------------------------------------------------------------------------- the worker
class Worker:
    """The student's library in a sandboxed process, called over a pipe."""

    def __init__(self, helpers_src: Path | None, runtime: Path, uid: int, limits: sandbox.Limits,
                 call_timeout: float = 30, start_timeout: float = 120, data_dirs=()):
        self.helpers_src, self.runtime, self.uid, self.limits = helpers_src, Path(runtime), uid, limits
        self.data_dirs = list(data_dirs)
        self.call_timeout, self.start_timeout = call_timeout, start_timeout
        self.proc = None
        self.starts = 0
        self.import_errors: dict = {}
        self.log_path = self.runtime / "worker.log"

    # -- life cycle
    def start(self):
        if self.starts >= MAX_STARTS:
            raise StudentCrashed("", "the grader gave up restarting your code after it crashed or hung "
                                 f"{MAX_STARTS} times")
        self.starts += 1
        wc = self.runtime / "wc"
        if wc.exists():
            shutil.rmtree(wc)
        wc.mkdir(parents=True)
        if self.helpers_src is not None and Path(self.helpers_src).is_dir():
            copy_plain(Path(self.helpers_src), wc / "helpers")
        grader = self.runtime / "grader"
        grader.mkdir(exist_ok=True)
        for f in ("worker.py", "codec.py", "loader.py"):
            shutil.copyfile(HERE / f, grader / f)
        sandbox.give_to(wc, self.uid)
        argv = sandbox.bwrap_argv([sys.executable, "-E", "-s", str(grader / "worker.py")], workdir=wc, uid=self.uid,
                                  limits=self.limits, env=sandbox.clean_env(data_dirs=self.data_dirs), ro=[grader],
                                  data_dirs=self.data_dirs)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     start_new_session=True, env={"PATH": "/usr/bin:/bin"})
        os.set_blocking(self.proc.stdin.fileno(), False)
        try:
            head, blobs = codec.read_frame(self._reader(time.monotonic() + self.start_timeout))
            hello = codec.decode(head, blobs)
        except TimeoutError:
            self.stop()
            raise StudentTimeout("", f"did not finish importing within {self.start_timeout:.0f} s") from None
        except (EOFError, codec.DecodeError) as e:
            msg = f"could not be imported: the process importing it ended ({self._death()}){self._tail()}"
            self.stop()
            raise StudentCrashed("", msg) from e
        if not isinstance(hello, dict) or hello.get("ready") is not True:
            self.stop()
            raise StudentCrashed("", "the process importing your library sent nonsense")
        self.import_errors = hello.get("import_errors") or {}

    def stop(self):
        if self.proc is not None:
            sandbox.kill_tree(self.proc)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            for f in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(Exception):
                    f.close()
            self.proc = None
            with contextlib.suppress(Exception):
                self._log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _death(self) -> str:
        if self.proc is None:
            return "not running"
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return "unresponsive"
        import signal
        sig = -rc if rc < 0 else rc - 128 if rc > 128 else 0     # bwrap's init reports 128 + signal
        if sig and sig in signal.Signals._value2member_map_:
            return f"killed by {signal.Signals(sig).name}"
        return f"exit code {rc}"

    def _tail(self, n: int = 12) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return ""
        return ("\nlast lines your code printed:\n  " + "\n  ".join(l[:300] for l in lines)) if lines else ""

    def _reader(self, deadline):
        fd = self.proc.stdout.fileno()

        def read(n):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                raise TimeoutError
            return os.read(fd, min(n, 1 << 20))
        return read

    def _send(self, blob: bytes, deadline):
        fd = self.proc.stdin.fileno()
        data = memoryview(codec.struct.pack("<QQ", 2, 1) + b"{}" + codec.struct.pack("<Q", len(blob)) + blob)
        while len(data):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            _, w, _ = select.select([], [fd], [], left)
            if w:
                try:
                    n = os.write(fd, data[: 1 << 20])
                except BlockingIOError:
                    continue
                data = data[n:]

    # -- one call
    def call(self, module: str, qualname: str, args: tuple, kwargs: dict, resolve):
        import cloudpickle
        func = f"{module.split('.')[-1]}.{qualname}"
        if not self.alive():
            self.stop()
            self.start()
        err = self.import_errors.get(module) or self.import_errors.get("helpers")
        if err:
            raise StudentRaised(func, f"importing your {module.replace('.', '/')}.py failed: "
                                      f"{err['type']}: {err['message']}" + _where(err))
        payload = cloudpickle.dumps({"module": module, "qualname": qualname, "args": args, "kwargs": kwargs})
        deadline = time.monotonic() + self.call_timeout
        try:
            self._send(payload, deadline)
            head, blobs = codec.read_frame(self._reader(deadline))
            reply = codec.decode(head, blobs, resolve)
        except TimeoutError:
            self.stop()
            raise StudentTimeout(func, f"did not finish within {self.call_timeout:.0f} s "
                                       "(an endless loop, or far too slow); it was stopped") from None
        except (EOFError, BrokenPipeError, ConnectionError):
            death = self._death()
            tail = self._tail()
            self.stop()
            hint = " (the memory or CPU limit?)" if "KILL" in death or "XCPU" in death else ""
            raise StudentCrashed(func, f"the process running it ended ({death}){hint}{tail}") from None
        except codec.DecodeError as e:
            self.stop()
            raise BadReturn(func, f"returned data the grader cannot read ({e})") from None
        if not isinstance(reply, dict):
            self.stop()
            raise BadReturn(func, "returned data the grader cannot read")
        if "error" in reply:
            e = reply["error"] if isinstance(reply["error"], dict) else {}
            raise _raised(func, str(e.get("type", "?")), f"raised {e.get('type', '?')}: {e.get('message', '')}" + _where(e))
        if "bad_return" in reply:
            raise BadReturn(func, f"returned something the grader does not accept: {reply['bad_return']}")
        if "ok" not in reply:
            raise BadReturn(func, "returned data the grader cannot read")
        return reply["ok"], reply.get("effects") or []


class _Forked:
    """The part of ``subprocess.Popen`` a :class:`Worker` uses, for a forked child process."""

    def __init__(self, pid: int, to_child: int, from_child: int):
        self.pid, self.returncode = pid, None
        self.stdin, self.stdout = os.fdopen(to_child, "wb", buffering=0), os.fdopen(from_child, "rb", buffering=0)

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self):
        import signal
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode


class ForkedWorker(Worker):
    """The judge's other way to reach the student's code (the mutation lab's): a child forked
    from this process, which holds the library to call; ``prepare()`` runs in the child first
    (e.g. applies a mistake to it). Calls go through the same pipes, pickles and plain-data
    replies as the sandboxed worker's, so the judge sees exactly what it would see there;
    only the sandbox is missing. The child starts with a fresh process's random state."""

    def __init__(self, workdir: Path, prepare=None, call_timeout: float = 60):
        super().__init__(None, Path(workdir), 0, None, call_timeout=call_timeout)
        self.prepare = prepare

    def start(self):
        from . import worker
        self.starts += 1
        child_in, to_child = os.pipe()          # (read end, write end)
        from_child, child_out = os.pipe()
        pid = os.fork()
        if pid == 0:                                        # the child: serve, then leave at once
            status = 0
            try:
                os.setsid()
                os.close(to_child)
                os.close(from_child)
                import random

                import numpy as np
                import torch
                torch.random.set_rng_state(torch.Generator().get_state())     # a new process's state
                np.random.seed(None)
                random.seed()
                errors = {}
                if self.prepare is not None:
                    try:
                        self.prepare()
                    except BaseException as e:  # noqa: BLE001
                        errors["helpers"] = worker.error_record(e, str(self.runtime))
                worker.serve(child_in, child_out, str(self.runtime), errors)
            except BaseException:  # noqa: BLE001
                status = 1
            finally:
                os._exit(status)
        os.close(child_in)
        os.close(child_out)
        self.proc = _Forked(pid, to_child, from_child)
        os.set_blocking(to_child, False)
        head, blobs = codec.read_frame(self._reader(time.monotonic() + self.start_timeout))
        hello = codec.decode(head, blobs)
        self.import_errors = hello.get("import_errors") or {}

    def _death(self) -> str:
        return f"exit code {self.proc.poll()}" if self.proc is not None else "not running"

    def _tail(self, n: int = 12) -> str:
        return ""


_SAFE = {n: getattr(__import__("builtins"), n) for n in (
    "ValueError", "TypeError", "IndexError", "KeyError", "RuntimeError", "ZeroDivisionError", "AttributeError",
    "NotImplementedError", "ArithmeticError", "OverflowError", "LookupError", "MemoryError", "RecursionError")}
_CLASSES: dict = {}


def _raised(func: str, type_name: str, message: str) -> StudentRaised:
    """A StudentRaised that is also an instance of the judge's own class of the same name
    (a builtin exception, or the library's CourseError), so that a test expecting the
    student's function to raise (``except ValueError``) sees it as the notebook would."""
    base = _SAFE.get(type_name)
    if base is None and type_name in ("helpers.utils.CourseError", "CourseError"):
        base = getattr(sys.modules.get("helpers.utils"), "CourseError", None)
    if base is None:
        return StudentRaised(func, message)
    cls = _CLASSES.get(base)
    if cls is None:
        cls = _CLASSES[base] = type(f"Student{base.__name__}", (base, StudentRaised), {"__init__": Exception.__init__,
                                                                                       "__str__": lambda s: s.message})
    e = cls(message)
    e.func, e.message = func, message
    return e


def _where(err: dict) -> str:
    where = err.get("where") if isinstance(err, dict) else None
    if isinstance(where, list) and where:
        return "\n    at " + "\n    at ".join(str(w)[:300] for w in where[-3:])
    return ""


# ----------------------------------------------------------------------------- proxies
class _Altered:
    pass


def _altered_module(type_name: str):
    import torch.nn as nn

    class AlteredByStudentCode(nn.Module, _Altered):
        """Stands for a layer the student's function replaced and did not restore."""

        def __init__(self):
            super().__init__()
            self.original_type = type_name

        def forward(self, *a, **k):
            raise RuntimeError(f"this layer was replaced by {type_name} and not restored")
    return AlteredByStudentCode()


def apply_effects(effects, args, kwargs):
    import torch
    for eff in effects if isinstance(effects, list) else []:
        if not isinstance(eff, dict):
            continue
        if eff.get("kind") == "torch_global_rng":   # the student's code changed the worker's global random
            torch.rand(1)                           # state: the judge's own global state moves on as well
            continue
        path = eff.get("path")
        try:
            target = args[path[1]] if path[0] == "args" else kwargs[path[1]]
        except (TypeError, IndexError, KeyError):
            continue
        if eff.get("kind") == "tensor" and isinstance(target, torch.Tensor):
            data, grad = eff.get("data"), eff.get("grad")
            if isinstance(data, torch.Tensor):
                with torch.no_grad():
                    if data.shape == target.shape:
                        target.copy_(data.to(target.dtype))
                    else:
                        target.data = data.to(target.dtype)
            if isinstance(grad, torch.Tensor) and target.is_floating_point():
                target.grad = grad.to(target.dtype).reshape(target.shape) if grad.numel() == target.numel() else grad
        elif eff.get("kind") == "torch_generator" and isinstance(target, torch.Generator):
            if isinstance(eff.get("state"), torch.Tensor):
                with contextlib.suppress(Exception):
                    target.set_state(eff["state"].to(torch.uint8))
        elif eff.get("kind") == "np_generator" and hasattr(target, "bit_generator"):
            if isinstance(eff.get("state"), dict):
                with contextlib.suppress(Exception):
                    target.bit_generator.state = eff["state"]
        elif eff.get("kind") == "module" and isinstance(target, torch.nn.Module):
            _apply_module_changes(target, _layers(eff.get("before")), _layers(eff.get("modules")))


def _layers(signature) -> dict:
    """A module signature (codec.module_signature) from the worker, its malformed entries dropped."""
    if not isinstance(signature, dict):
        return {}
    return {name: {"type": str(e.get("type")), "inplace": e.get("inplace"), "hooks": e["hooks"]}
            for name, e in signature.items()
            if isinstance(name, str) and isinstance(e, dict) and isinstance(e.get("hooks"), int)}


def _apply_module_changes(target, before: dict, after: dict) -> None:
    """Make the judge's copy of a module show what the student's call left in theirs: a layer
    replaced (a stand-in that fails when used), an in-place flag changed, hooks left behind."""
    for name in sorted(set(before) | set(after), key=lambda n: n.count(".")):
        b, a = before.get(name), after.get(name)
        if not name:                                        # the module itself: only hooks
            if a and b and a["hooks"] > b["hooks"]:
                for _ in range(a["hooks"] - b["hooks"]):
                    target.register_forward_hook(lambda *x: None)
            continue
        if b == a:
            continue
        try:
            sub = target.get_submodule(name)
        except AttributeError:
            continue
        if a is None or b is None or a["type"] != b["type"]:
            parent_name, _, leaf = name.rpartition(".")
            parent = target.get_submodule(parent_name) if parent_name else target
            setattr(parent, leaf, _altered_module(a["type"] if a else "nothing"))
            continue
        if a["inplace"] != b["inplace"] and hasattr(sub, "inplace"):
            sub.inplace = a["inplace"]
        for _ in range(max(0, a["hooks"] - b["hooks"])):
            sub.register_forward_hook(lambda *x: None)



def resolve_namedtuple(name: str, fields: tuple):
    """A named tuple type of the trusted library with the same name and fields, if any."""
    mod, _, qual = name.partition(":")
    if not (mod == "helpers" or mod.startswith("helpers.")):
        return None
    m = sys.modules.get(mod)
    cls = m
    for part in qual.split("."):
        cls = getattr(cls, part, None)
    if isinstance(cls, type) and issubclass(cls, tuple) and tuple(getattr(cls, "_fields", ())) == fields:
        return cls
    return None
