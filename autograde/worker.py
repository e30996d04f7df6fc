"""The sandboxed worker: runs the student's library functions for the judge (untrusted side).

Started by judge.py inside the sandbox, in a private copy of the student's ``helpers/``.
It reads call requests (pickled by the trusted judge) on fd 0 and answers on fd 1 with
plain data only (codec.encode). Everything the student's code prints goes to stderr.
Whatever this process does (student code runs here) can only change the *values* it
sends back; the judge decides what they are worth.
"""
import os
import sys

PROTO_IN, PROTO_OUT = os.dup(0), os.dup(1)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.dup2(2, 1)           # student prints -> stderr (the judge keeps a tail for the feedback)
sys.stdout = os.fdopen(1, "w", buffering=1)

import importlib  # noqa: E402
import traceback  # noqa: E402

import codec  # noqa: E402  (beside this file, read-only in the sandbox)
import loader  # noqa: E402

WORKDIR = os.getcwd()          # the private copy of the student's helpers/ is here


def _read(n):
    return os.read(PROTO_IN, min(n, 1 << 20))


def _where(tb) -> list[str]:
    """Traceback lines inside the student's own files only."""
    out = []
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(WORKDIR + os.sep):
            rel = os.path.relpath(fs.filename, WORKDIR)
            out.append(f"{rel}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}")
    return out[-6:]


def _error(e: BaseException) -> dict:
    t = type(e)
    msg = str(e)[:2000] if not isinstance(e, SyntaxError) else f"{e.msg} ({e.filename and os.path.relpath(e.filename, WORKDIR)}, line {e.lineno})"
    return {"type": f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__,
            "message": msg, "where": _where(e.__traceback__)}


def main():
    import cloudpickle
    import torch
    torch.set_num_threads(1)
    import_errors = {}
    try:
        loader.import_package("helpers", WORKDIR)      # the student's, whatever else is on the path
    except BaseException as e:  # noqa: BLE001 - anything the student's package does
        import_errors["helpers"] = _error(e)
    hdir = os.path.join(WORKDIR, "helpers")
    for f in sorted(os.listdir(hdir)) if os.path.isdir(hdir) else []:
        if f.endswith(".py") and f != "__init__.py" and "helpers" not in import_errors:
            try:
                importlib.import_module(f"helpers.{f[:-3]}")
            except BaseException as e:  # noqa: BLE001
                import_errors[f"helpers.{f[:-3]}"] = _error(e)
    blobs = []
    hello = codec.encode({"ready": True, "import_errors": import_errors}, blobs)
    codec.write_frame(PROTO_OUT, hello, blobs)
    while True:
        try:
            head, blobs = codec.read_frame(_read)
        except EOFError:
            return
        req = cloudpickle.loads(blobs[0])
        out_blobs = []
        try:
            mod = importlib.import_module(req["module"])
            fn = mod
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
            head = codec.encode({"error": _error(e)}, out_blobs)
        codec.write_frame(PROTO_OUT, head, out_blobs)


if __name__ == "__main__":
    main()
