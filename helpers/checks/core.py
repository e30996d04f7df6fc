"""How a local check compares your result with the expected one, and names your mistake.

A check (``nb1.py`` ... ``nb5.py``) is a list of cases: it builds small inputs, calls your
function, checks properties that leave no trace in the result (your input left unchanged,
no hook left behind, the random state of the caller untouched, ...) with plain ``assert``
statements, and hands each result to :func:`expect` under the case's name.

:func:`expect` compares the result with the expected value stored in ``nbN.npz`` beside
this file. When they differ, it looks among the usual mistakes stored for that case (the
results that each mistake of the course's catalogue gives on the same inputs) for the one
nearest to yours, and fails with that mistake's message; when none is near, it says what
the case expects and that your result matches none of the usual mistakes. The stored
values were written by the course's release tool from the instructor's solutions; this
file holds no code that computes an exercise's answer.
"""
from __future__ import annotations

import contextlib

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NEAR = 1e-3                 # a mistake is "near" when every value is within 0.1 % of the mistake's scale
INDEX = "__index__"         # the member of nbN.npz that lists the cases and the mistakes' messages


class CheckFailed(AssertionError):
    """A local check did not pass. ``lines``: ``[(name, status, message), ...]`` with status
    ``"FAILED"``, ``"ERROR"`` or ``"not done"``; ``name`` and ``message`` are the first's;
    ``mistakes``: for each line, the usual mistake it names (see :func:`run`), or "".
    In a notebook it shows as those lines, without a traceback."""

    def __init__(self, lines, mistakes=None):
        self.lines = list(lines)
        self.mistakes = list(mistakes or [""] * len(self.lines))
        self.name, self.status, self.message = self.lines[0]
        super().__init__("\n".join(format_line(*line) for line in self.lines))

    def _render_traceback_(self):      # IPython shows these lines instead of a traceback
        return [f"\x1b[31m{format_line(*line)}\x1b[0m" for line in self.lines]


NONE_OF_THE_USUAL = "none of the usual mistakes"     # the mistake of a wrong result that matches none stored


class Wrong(AssertionError):
    """A case's result is wrong: ``mistake`` is the catalogue id of the usual mistake it
    matches (``"normalize_filters/per-channel"``), or :data:`NONE_OF_THE_USUAL`."""

    def __init__(self, message: str, mistake: str):
        super().__init__(message)
        self.mistake = mistake


def format_line(name: str, status: str, message: str) -> str:
    """One check's line, in the course's language (:mod:`helpers.i18n`)."""
    from ..i18n import tr
    return f"[{tr(status)}] {name}: {tr(message)}"


# ----------------------------------------------------------------------------- values
def as_arrays(value, prefix: str = "") -> dict[str, np.ndarray] | None:
    """``value`` (a tensor, an array, a number, or tuples, lists and dicts of them) as
    ``{field: array}``; ``None`` when it holds something else (then it can only be wrong)."""
    import torch
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex() or value.dtype in (torch.bfloat16,):
            value = value.to(torch.complex128 if value.is_complex() else torch.float64)
        return {prefix: _plain(value.numpy())}
    if isinstance(value, (np.ndarray, np.generic, bool, int, float)):
        return {prefix: _plain(np.asarray(value))}
    if isinstance(value, (tuple, list)):
        parts = [as_arrays(v, f"{prefix}{i}/") for i, v in enumerate(value)]
        return None if any(p is None for p in parts) else {k.rstrip("/"): a for p in parts for k, a in p.items()}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        parts = [as_arrays(v, f"{prefix}{k}/") for k, v in value.items()]
        return None if any(p is None for p in parts) else {k.rstrip("/"): a for p in parts for k, a in p.items()}
    return None


def _plain(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        return a
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.complexfloating):
        return a.astype(np.complex128)
    return a


def same(got: dict | None, want: dict, atol: float, rtol: float, nan_equal: bool = False) -> bool:
    """The same fields, shapes and values (within ``atol + rtol * |want|``); booleans and
    integers exactly."""
    if got is None or set(got) != set(want):
        return False
    for k, w in want.items():
        g = got[k]
        if g.shape != w.shape:
            return False
        if w.dtype == bool or g.dtype == bool or (w.dtype.kind == "i" and g.dtype.kind == "i"):
            if not np.array_equal(g, w):
                return False
        elif g.dtype.kind not in "iufc" or not np.allclose(g, w, atol=atol, rtol=rtol, equal_nan=nan_equal):
            return False
    return True


def distance(got: dict | None, ref: dict) -> float:
    """How far ``got`` is from ``ref``, relative to ``ref``'s scale (``inf``: not comparable)."""
    if got is None or set(got) != set(ref):
        return float("inf")
    worst = 0.0
    for k, r in ref.items():
        g = got[k]
        if g.shape != r.shape or g.dtype.kind not in "biufc":
            return float("inf")
        if r.dtype == bool or g.dtype == bool:
            if not np.array_equal(g, r):
                return float("inf")
            continue
        g, r = g.astype(np.complex128 if "c" in (g.dtype.kind, r.dtype.kind) else np.float64), r
        both_nan = np.isnan(g) & np.isnan(r) if g.size else np.zeros(0, bool)
        diff = np.where(both_nan, 0.0, np.abs(g - r))
        if np.isnan(diff).any():
            return float("inf")
        scale = float(np.abs(r[~np.isnan(r)]).max()) if (~np.isnan(r)).any() else 0.0
        worst = max(worst, float(diff.max()) / max(scale, 1e-12) if diff.size else 0.0)
    return worst


def describe(arrays: dict | None) -> str:
    """A short description of a value for a message: its numbers when there are few."""
    if arrays is None:
        return "something that is not numbers"
    parts = []
    for k, a in arrays.items():
        text = np.array2string(a, precision=4, separator=", ", threshold=12) if a.size <= 12 else f"shape {a.shape}"
        parts.append(f"{k} = {text}" if k else text)
    return "; ".join(parts)


# ----------------------------------------------------------------------------- stored data
@dataclass
class Case:
    """One stored case: the expected value, its tolerance and the usual mistakes' values."""
    expected: dict
    atol: float
    rtol: float
    mistakes: list = field(default_factory=list)      # [(id, message, arrays), ...] in catalogue order


_LOADED: dict[Path, dict] = {}


def load(path: Path) -> dict[str, Case]:
    """``{"check/case": Case}`` from a ``.npz`` file written by :func:`save` (cached)."""
    return _load(Path(path))[0]


def load_properties(path: Path) -> dict[str, list]:
    """``{check: [[mistake id, words], ...]}``: the usual mistakes that a check's property
    test catches (no stored value), by words of the message that test gives."""
    return _load(Path(path))[1]


def _load(path: Path) -> tuple[dict, dict]:
    stamp = path.stat().st_mtime_ns if path.exists() else None
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1:]
    if stamp is None:
        raise FileNotFoundError(f"{path.name} is missing beside the checks: run `bash course.sh release` "
                                "(instructors), or restore it from the course's files (students)")
    with np.load(path, allow_pickle=False) as z:
        index = json.loads(z[INDEX].item())
        pools = {k: z[k] for k in z.files if k != INDEX}

    def value(fields: dict) -> dict:        # {field: [pool, offset, shape]} -> {field: array}
        return {f: _plain(pools[pool][at:at + int(np.prod(shape, dtype=np.int64))].reshape(shape))
                for f, (pool, at, shape) in fields.items()}
    cases = {key: Case(value(c["expected"]), c["atol"], c["rtol"],
                       [(mid, index["messages"][mid], value(fields)) for mid, fields in c["mistakes"]])
             for key, c in index["cases"].items()}
    _LOADED[path] = (stamp, cases, index.get("properties", {}))
    return cases, index.get("properties", {})


def save(path: Path, cases: dict[str, Case], properties: dict | None = None) -> None:
    """Write ``cases`` (and the ``properties`` mistakes, see :func:`load_properties`) as a
    ``.npz`` file: an index (JSON) and one flat array per type of value, whose bytes depend on
    them only (no dates)."""
    pools: dict[str, list] = {}
    sizes: dict[str, int] = {}

    def put(arrays: dict) -> dict:
        out = {}
        for f, a in arrays.items():
            a = _compact(a)
            pool = a.dtype.name
            out[f] = [pool, sizes.get(pool, 0), list(a.shape)]
            pools.setdefault(pool, []).append(a.reshape(-1))
            sizes[pool] = sizes.get(pool, 0) + a.size
        return out
    index, messages = {}, {}
    for key, c in cases.items():
        mistakes = []
        for mid, message, arrays in c.mistakes:
            messages[mid] = message
            mistakes.append([mid, put(arrays)])
        index[key] = {"atol": c.atol, "rtol": c.rtol, "expected": put(c.expected), "mistakes": mistakes}
    members = {pool: np.concatenate(parts) for pool, parts in pools.items()}
    members[INDEX] = np.array(json.dumps({"version": 2, "cases": index, "messages": messages,
                                             "properties": properties or {}}, sort_keys=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            member = io.BytesIO()
            np.lib.format.write_array(member, members[name].copy(order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    Path(path).write_bytes(buf.getvalue())
    _LOADED.pop(Path(path), None)


def _compact(a: np.ndarray) -> np.ndarray:
    """Float64 values that are float32 values (most results are) stored as float32: half the bytes."""
    if a.dtype == np.float64:
        small = a.astype(np.float32)
        if np.array_equal(small.astype(np.float64), a, equal_nan=True):
            return small
    return a


# ----------------------------------------------------------------------------- expect
class Recorder:
    """Used by the release tool (not by the checks): while it is active, :func:`expect`
    records each case's value instead of comparing it."""
    active: "Recorder | None" = None

    def __init__(self):
        self.values: dict[str, tuple] = {}        # "check/case" -> (arrays or None, atol, rtol)

    def __enter__(self):
        Recorder.active = self
        return self

    def __exit__(self, *exc):
        Recorder.active = None


_running: list[tuple[str, Path, list]] = []  # the checks running now: (name, data file, cases passed), innermost last


def expect(case: str, got, why: str, atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """Pass when ``got`` equals the stored expected value of ``case``; else fail with the
    message of the nearest usual mistake, or with ``why`` (what the case expects).

    Only the mistakes that gave the expected value in every case this check has passed so
    far are candidates: a mistake that would have failed an earlier case is not yours."""
    name, data, passed = _running[-1]
    key = f"{name}/{case}"
    arrays = as_arrays(got)
    if Recorder.active is not None:
        Recorder.active.values[key] = (arrays, atol, rtol)
        return
    cases = load(data)
    stored = cases.get(key)
    if stored is None:
        raise RuntimeError(f"no stored value for the case {key!r} in {data.name}: run `bash course.sh release`")
    if same(arrays, stored.expected, stored.atol, stored.rtol):
        passed.append(key)
        return
    ruled_out = {m[0] for k in passed for m in cases[k].mistakes}
    mistakes = [m for m in stored.mistakes if m[0] not in ruled_out]
    exact = [m for m in mistakes if same(arrays, m[2], stored.atol, stored.rtol, nan_equal=True)]
    if exact:
        raise Wrong(exact[0][1], exact[0][0])
    near = sorted((distance(arrays, m[2]), i) for i, m in enumerate(mistakes))
    if near and near[0][0] <= NEAR:
        raise Wrong(mistakes[near[0][1]][1], mistakes[near[0][1]][0])
    shapes = {k: a.shape for k, a in (arrays or {}).items()}
    want_shapes = {k: a.shape for k, a in stored.expected.items()}
    if arrays is not None and shapes != want_shapes:
        raise Wrong(f"{why} (expected a result of shape {_shapes(want_shapes)}, got {_shapes(shapes)})",
                    NONE_OF_THE_USUAL)
    detail = ""
    if sum(a.size for a in stored.expected.values()) <= 12:
        detail = f": expected {describe(stored.expected)}, got {describe(arrays)}"
    raise Wrong(f"{why} (your result matches none of the usual mistakes{detail})", NONE_OF_THE_USUAL)


def _shapes(shapes: dict) -> str:
    if list(shapes) == [""]:
        return str(tuple(shapes[""]))
    return ", ".join(f"{k} {tuple(s)}" for k, s in shapes.items())


def recording() -> bool:
    """True while the release tool records values (the checks then skip :func:`require`)."""
    return Recorder.active is not None


# ----------------------------------------------------------------------------- the registry
@dataclass
class Check:
    name: str
    notebook: int
    run: object                  # the function that runs the cases
    data: Path                   # nbN.npz


REGISTRY: dict[str, Check] = {}


def check_of(name: str):
    """Register the decorated function as the local check of exercise ``name`` (the module
    says its ``NOTEBOOK``)."""
    def register(fn):
        import sys
        notebook = sys.modules[fn.__module__].NOTEBOOK
        REGISTRY[name] = Check(name, notebook, fn, HERE / f"nb{notebook}.npz")
        return fn
    return register


def run(name: str, threads: int = 1):
    """Run the check ``name`` on ``threads`` torch threads: ``None`` when it passes, else
    ``((name, status, message), exception)``; a failure's exception says which usual mistake
    it is in ``mistake`` (see :func:`mistake_of`)."""
    import random

    import torch
    c = REGISTRY[name]
    threads = torch.get_num_threads()
    np_state, py_state = np.random.get_state(), random.getstate()
    _running.append((name, c.data, []))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            np.random.seed(0)
            random.seed(0)
            torch.set_num_threads(threads)    # tiny tensors: a second thread only waits (10 times slower when busy)
            c.run()
    except NotImplementedError as e:
        return (name, "not done", str(e)), e
    except AssertionError as e:
        e.mistake = mistake_of(name, e)
        return (name, "FAILED", str(e) or f"a check failed at {_where(e)}"), e
    except Exception as e:  # noqa: BLE001 - a crash: say where in the student's code
        line = (name, "ERROR", f"{type(e).__name__}: {e} (at {_where(e)})")
        with contextlib.suppress(AttributeError, TypeError):
            e.mistake = mistake_of(name, e, line[2])
        return line, e
    finally:
        _running.pop()
        torch.set_num_threads(threads)
        np.random.set_state(np_state)
        random.setstate(py_state)
    return None


def mistake_of(name: str, e: BaseException, message: str | None = None) -> str:
    """The usual mistake a failure of check ``name`` names: the catalogue id of the stored
    mistake its result matched, or of the property mistake whose words its message holds;
    :data:`NONE_OF_THE_USUAL` for a wrong result that matches none; "" for another failure
    (an exercise it builds on, say)."""
    if getattr(e, "mistake", None) is not None:
        return e.mistake
    try:
        properties = load_properties(REGISTRY[name].data).get(name, [])
    except (OSError, ValueError, KeyError):
        return ""
    message = str(e) if message is None else message
    return next((mid for mid, words in properties if words.casefold() in message.casefold()), "")


def require(name: str) -> None:
    """Inside a check: fail unless the check of exercise ``name`` (which this one builds on) passes."""
    if recording():
        return
    result = run(name)
    if result is not None and result[0][1] == "not done":     # this check is not done either
        raise NotImplementedError(f"{result[0][2]} (check('{name}') first)")
    if result is not None:
        raise AssertionError(f"your {name} is not right yet: make check('{name}') pass first")


def _where(e: BaseException) -> str:
    """``file:line in function`` of the innermost frame in the library outside the checks
    (the student's code), else the innermost frame of the checks, else the innermost one."""
    import os
    import traceback
    frames = traceback.extract_tb(e.__traceback__)
    library = str(HERE.parent)
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(library + os.sep)]
    theirs = [f for f in mine if not os.path.abspath(f.filename).startswith(str(HERE) + os.sep)]
    f = (theirs or mine or frames or [None])[-1]
    return "?" if f is None else f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}"


# ----------------------------------------------------------------------------- properties
def close(a, b, atol: float = 1e-6) -> bool:
    """Two of your own results agree (a property, e.g. "the result does not depend on batch_size")."""
    x, y = as_arrays(a), as_arrays(b)
    return x is not None and y is not None and same(x, y, atol, 0.0)


def signs_of_rows(rows):
    """+1 or -1 per row of ``rows`` (K, D): the sign of the row's entry of largest magnitude, so
    that ``rows * signs[:, None]`` is the same whichever sign each row came with."""
    import torch
    rows = torch.as_tensor(rows).detach().double()
    s = torch.sign(rows.gather(1, rows.abs().argmax(1, keepdim=True)))[:, 0]
    return torch.where(s == 0, torch.ones_like(s), s)


def shape_of(t) -> tuple | str:
    return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__
