"""The student's side of the judge (untrusted): runs the student's library functions on request.

:func:`serve` reads call requests (pickled by the trusted judge) on one file descriptor and
answers on another with plain data only (``codec.encode``), plus what the call did to its
arguments (``codec.snapshot``/``effects``). Whatever this process does (student code runs
here) can only change the *values* it sends back; the judge decides what they are worth.

Two ways to run it, behind the judge's one interface (``calls.Worker``):

- **sandboxed** (grading): ``python worker.py`` inside the sandbox, in a private copy of the
  student's ``helpers/``, which it imports from there (``loader``), whatever else is on the path;
- **forked** (the mutation lab, ``calls.ForkedWorker``): a child process forked from a process
  that already holds the library to call.
"""
import os
import sys

try:                    # in the sandbox: the trusted copies beside this file
    import codec
    import loader
except ImportError:     # imported as autograde.worker (a forked worker)
    from . import codec, loader


def _where(tb, workdir: str) -> list[str]:
    """Traceback lines inside the student's own files only."""
    import traceback
    out = []
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(workdir + os.sep):
            rel = os.path.relpath(fs.filename, workdir)
            out.append(f"{rel}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}")
    return out[-6:]


def error_record(e: BaseException, workdir: str) -> dict:
    """How the judge learns what the student's code raised: the type's name (builtins by
    their plain name), the message, and where in the student's files."""
    t = type(e)
    msg = str(e)[:2000] if not isinstance(e, SyntaxError) else \
        f"{e.msg} ({e.filename and os.path.relpath(e.filename, workdir)}, line {e.lineno})"
    return {"type": f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__,
            "message": msg, "where": _where(e.__traceback__, workdir)}


def import_library(workdir: str) -> dict:
    """Import the student's ``helpers`` package from ``workdir`` and each of its modules;
    returns ``{module: error record}`` for those that failed."""
    import importlib
    errors = {}
    try:
        loader.import_package("helpers", workdir)        # the student's, whatever else is on the path
    except BaseException as e:  # noqa: BLE001 - anything the student's package does
        return {"helpers": error_record(e, workdir)}
    hdir = os.path.join(workdir, "helpers")
    for f in sorted(os.listdir(hdir)) if os.path.isdir(hdir) else []:
        if f.endswith(".py") and f != "__init__.py":
            try:
                importlib.import_module(f"helpers.{f[:-3]}")
            except BaseException as e:  # noqa: BLE001
                errors[f"helpers.{f[:-3]}"] = error_record(e, workdir)
    return errors


def serve(fd_in: int, fd_out: int, workdir: str, import_errors: dict) -> None:
    """Answer call requests until the judge closes ``fd_in``: first a hello (ready, and the
    modules that failed to import), then one reply per request."""
    import importlib

    import cloudpickle

    def read(n):
        return os.read(fd_in, min(n, 1 << 20))
    blobs = []
    codec.write_frame(fd_out, codec.encode({"ready": True, "import_errors": import_errors}, blobs), blobs)
    while True:
        try:
            head, blobs = codec.read_frame(read)
        except EOFError:
            return
        req = cloudpickle.loads(blobs[0])
        out_blobs = []
        try:
            fn = importlib.import_module(req["module"])
            for part in req["qualname"].split("."):
                fn = getattr(fn, part)
            args, kwargs = req["args"], req["kwargs"]
            snaps = codec.snapshot(args, kwargs)
            value = fn(*args, **kwargs)
            try:
                head = codec.encode({"ok": value, "effects": codec.effects(snaps)}, out_blobs)
            except TypeError as e:
                out_blobs = []
                head = codec.encode({"bad_return": str(e)[:500]}, out_blobs)
        except BaseException as e:  # noqa: BLE001 - report anything, including SystemExit
            out_blobs = []
            head = codec.encode({"error": error_record(e, workdir)}, out_blobs)
        codec.write_frame(fd_out, head, out_blobs)


def main():
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)           # student prints -> stderr (the judge keeps a tail for the feedback)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    import torch
    torch.set_num_threads(1)
    workdir = os.getcwd()   # the private copy of the student's helpers/ is here
    serve(proto_in, proto_out, workdir, import_library(workdir))


if __name__ == "__main__":
    main()
