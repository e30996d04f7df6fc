"""Plain data between the sandboxed worker (student code) and the trusted judge.

The worker answers with ``encode(value)``: JSON for the structure plus raw byte blobs for
array contents. The judge reads it back with ``decode``, which accepts only numbers,
strings, None, lists, tuples, dicts, named tuples of the trusted library, NumPy arrays and
torch tensors of plain dtypes, with every size checked. Nothing from the student is ever
unpickled or executed by the judge: an object whose ``__eq__`` always returns True, a
tensor subclass, or a monkeypatched function simply cannot cross.

This file is imported on both sides (the worker gets its own copy in the sandbox).
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"}
MAX_DEPTH = 24
MAX_ITEMS = 200_000          # containers' items, all together
MAX_BLOB = 1 << 30           # one array's bytes
MAX_FRAME = (1 << 31) - 1


class DecodeError(ValueError):
    pass


# ---------------------------------------------------------------- framing (both directions)
def write_frame(fd: int, header: dict | bytes, blobs=()) -> None:
    import os
    head = header if isinstance(header, bytes) else json.dumps(header, allow_nan=False).encode()
    blobs = list(blobs)
    parts = [struct.pack("<QQ", len(head), len(blobs)), head]
    for b in blobs:
        b = memoryview(b).cast("B")
        parts += [struct.pack("<Q", len(b)), b]
    for p in parts:
        view = memoryview(p)
        while len(view):
            n = os.write(fd, view)
            view = view[n:]


def read_exact(read, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        c = read(n - got)
        if not c:
            raise EOFError("the other side closed the channel")
        chunks.append(c)
        got += len(c)
    return b"".join(chunks)


def read_frame(read, max_total: int = MAX_FRAME) -> tuple[bytes, list[bytes]]:
    nhead, nblobs = struct.unpack("<QQ", read_exact(read, 16))
    if nhead > 64 << 20 or nblobs > 10_000:
        raise DecodeError(f"implausible frame (header {nhead} bytes, {nblobs} blobs)")
    head = read_exact(read, nhead)
    blobs, total = [], nhead
    for _ in range(nblobs):
        (n,) = struct.unpack("<Q", read_exact(read, 8))
        total += n
        if n > MAX_BLOB or total > max_total:
            raise DecodeError(f"result too large ({total} bytes)")
        blobs.append(read_exact(read, n))
    return head, blobs


# ---------------------------------------------------------------- worker side: encode
def encode(obj, blobs: list, _depth: int = 0):
    """Plain-data form of ``obj`` (worker side). Raises TypeError for anything else."""
    if _depth > MAX_DEPTH:
        raise TypeError("the value is nested too deeply to return")
    if obj is None or isinstance(obj, (bool, str)) and type(obj) in (bool, str):
        return obj
    if type(obj) is int:
        return obj if abs(obj) < 2 ** 62 else {"__bigint__": str(obj)}
    if type(obj) is float:
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    try:
        import torch
    except ImportError:     # pragma: no cover
        torch = None
    if torch is not None and isinstance(obj, torch.Tensor):
        t = torch.Tensor.detach(obj).cpu()
        rg = bool(obj.requires_grad)
        if t.dtype == torch.bfloat16:
            t = t.float()
        a = np.array(torch.Tensor.numpy(torch.Tensor.resolve_conj(t)), order="C", copy=True)   # keeps 0-d
        return {"__tensor__": _array(a, blobs), "requires_grad": rg}
    if isinstance(obj, np.ndarray):
        if obj.dtype.name not in DTYPES:
            raise TypeError(f"cannot return a NumPy array of dtype {obj.dtype}")
        return {"__ndarray__": _array(np.array(obj, order="C", copy=True), blobs)}
    if isinstance(obj, np.generic):
        if obj.dtype.name not in DTYPES:
            raise TypeError(f"cannot return a NumPy scalar of dtype {obj.dtype}")
        return {"__npscalar__": _array(np.asarray(obj).reshape(1), blobs)}
    if torch is not None and isinstance(obj, torch.Size):
        return {"__tuple__": [int(v) for v in obj]}
    if torch is not None and isinstance(obj, torch.dtype):
        return {"__torchdtype__": str(obj).replace("torch.", "")}
    if isinstance(obj, np.dtype):
        return {"__npdtype__": obj.name}
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        cls = type(obj)
        return {"__namedtuple__": f"{cls.__module__}:{cls.__qualname__}", "fields": list(cls._fields),
                "values": [encode(v, blobs, _depth + 1) for v in tuple.__iter__(obj)]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, blobs, _depth + 1) for v in tuple.__iter__(obj)]}
    if isinstance(obj, list):
        return [encode(v, blobs, _depth + 1) for v in list.__iter__(obj)]
    if isinstance(obj, dict):
        return {"__dict__": [[encode(k, blobs, _depth + 1), encode(v, blobs, _depth + 1)]
                             for k, v in dict.items(obj)]}
    raise TypeError(f"cannot return an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                    "to the grader (return numbers, strings, tuples, lists, dicts, arrays or tensors)")


def _array(a: np.ndarray, blobs: list) -> dict:
    blobs.append(a.tobytes())
    return {"dtype": a.dtype.name, "shape": list(a.shape), "blob": len(blobs) - 1}


# ---------------------------------------------------------------- judge side: decode
def decode(head: bytes, blobs: list[bytes], resolve_namedtuple=None):
    """Rebuild a value from the worker's frame, accepting only plain data (judge side)."""
    try:
        tree = json.loads(head)
    except (ValueError, RecursionError) as e:
        raise DecodeError(f"not valid JSON: {e}") from None
    count = [0]
    used = set()
    return _dec(tree, blobs, resolve_namedtuple, 0, count, used)


def _dec(o, blobs, resolve, depth, count, used):
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
        raise DecodeError("value too deep or too large")
    if o is None or type(o) in (bool, int, float, str):
        return o
    if type(o) is list:
        return [_dec(v, blobs, resolve, depth + 1, count, used) for v in o]
    if type(o) is not dict or len(o) == 0:
        raise DecodeError(f"unexpected {type(o).__name__}")
    key = next(iter(o))
    if key == "__tuple__":
        return tuple(_dec(v, blobs, resolve, depth + 1, count, used) for v in _list(o[key]))
    if key == "__dict__":
        out = {}
        for pair in _list(o[key]):
            if type(pair) is not list or len(pair) != 2:
                raise DecodeError("bad dict entry")
            k = _dec(pair[0], blobs, resolve, depth + 1, count, used)
            if not isinstance(k, (str, int, float, bool, tuple, type(None))):
                raise DecodeError("bad dict key")
            out[k] = _dec(pair[1], blobs, resolve, depth + 1, count, used)
        return out
    if key == "__bigint__":
        s = o[key]
        if type(s) is not str or len(s) > 4000:
            raise DecodeError("bad integer")
        return int(s)
    if key == "__float__":
        if o[key] not in ("nan", "inf", "-inf"):
            raise DecodeError("bad float")
        return float(o[key])
    if key == "__torchdtype__":
        import torch
        name = o[key]
        if name not in DTYPES | {"bfloat16"}:
            raise DecodeError("bad dtype")
        return getattr(torch, name)
    if key == "__npdtype__":
        if o[key] not in DTYPES:
            raise DecodeError("bad dtype")
        return np.dtype(o[key])
    if key in ("__ndarray__", "__tensor__", "__npscalar__"):
        a = _arr(o[key], blobs, used)
        if key == "__ndarray__":
            return a
        if key == "__npscalar__":
            if a.size != 1:
                raise DecodeError("bad scalar")
            return a.reshape(())[()]
        import torch
        t = torch.from_numpy(a)
        if o.get("requires_grad") is True and t.is_floating_point():
            t.requires_grad_(True)
        return t
    if key == "__namedtuple__":
        name, fields, values = o[key], _list(o.get("fields")), _list(o.get("values"))
        if type(name) is not str or not all(type(f) is str for f in fields) or len(fields) != len(values):
            raise DecodeError("bad named tuple")
        vals = [_dec(v, blobs, resolve, depth + 1, count, used) for v in values]
        cls = resolve(name, tuple(fields)) if resolve else None
        return cls(*vals) if cls is not None else tuple(vals)
    raise DecodeError(f"unknown tag {key!r}")


def _list(v):
    if type(v) is not list:
        raise DecodeError("expected a list")
    return v


def _arr(spec, blobs, used) -> np.ndarray:
    if type(spec) is not dict:
        raise DecodeError("bad array")
    dtype, shape, i = spec.get("dtype"), spec.get("shape"), spec.get("blob")
    if dtype not in DTYPES or type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape) \
            or len(shape) > 16 or type(i) is not int or not 0 <= i < len(blobs) or i in used:
        raise DecodeError("bad array header")
    used.add(i)
    dt = np.dtype(dtype)
    n = 1
    for s in shape:
        n *= s
    if n * dt.itemsize != len(blobs[i]):
        raise DecodeError("array size does not match its data")
    return np.frombuffer(blobs[i], dtype=dt).reshape(shape).copy()


# ----------------------------------------------------------------------------- effects of a call
def module_signature(m) -> dict:
    """``{sub-module name: {"type", "inplace", "hooks"}}``: what a call may change in a module
    and must put back (a layer replaced, an in-place flag, hooks left registered)."""
    import torch
    out = {}
    for name, sub in torch.nn.Module.named_modules(m):
        t = type(sub)
        hooks = sum(len(getattr(sub, h, {})) for h in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                                                          "_backward_pre_hooks"))
        out[name] = {"type": f"{t.__module__}.{t.__qualname__}", "inplace": getattr(sub, "inplace", None),
                     "hooks": hooks}
    return out


def snapshot(args, kwargs):
    """Before a call of the student's function (worker side): what to watch among its
    arguments (tensors, modules, random generators) and the process's global torch random
    state, to report what the call did to them."""
    import torch
    snaps = [(None, None, "torch_global_rng", torch.random.get_rng_state())]
    for path, v in [(["args", i], a) for i, a in enumerate(args)] + [(["kwargs", k], a) for k, a in kwargs.items()]:
        if isinstance(v, torch.Tensor) and v.numel() <= 5_000_000:
            snaps.append((path, v, "tensor", torch.Tensor.detach(v).clone()))
        elif isinstance(v, torch.nn.Module):
            snaps.append((path, v, "module", module_signature(v)))
        elif isinstance(v, torch.Generator):
            snaps.append((path, v, "torch_generator", None))
        elif type(v).__module__.startswith("numpy.random") and hasattr(v, "bit_generator"):
            snaps.append((path, v, "np_generator", None))
    return snaps


def effects(snaps) -> list[dict]:
    """After the call: what it did to the watched arguments, as plain data (changed tensor
    contents and gradients, new generator states, replaced layers or hooks left behind, a
    global random state that changed).
    The judge replays these on its own objects (``calls.apply_effects``)."""
    import torch
    eff = []
    for path, v, kind, before in snaps:
        if kind == "tensor":
            now = torch.Tensor.detach(v)
            changed = now.shape != before.shape or now.dtype != before.dtype or \
                now.cpu().numpy().tobytes() != before.cpu().numpy().tobytes()
            g = v.grad
            eff.append({"path": path, "kind": "tensor", "data": now if changed else None, "grad": g})
        elif kind == "torch_global_rng":     # drew from (or re-seeded) the global stream: the caller's changes too
            if not torch.equal(torch.random.get_rng_state(), before):
                eff.append({"path": None, "kind": kind})
        elif kind == "torch_generator":      # a random generator advances: the caller's copy must too
            eff.append({"path": path, "kind": kind, "state": v.get_state()})
        elif kind == "np_generator":
            eff.append({"path": path, "kind": kind, "state": v.bit_generator.state})
        else:
            after = module_signature(v)
            if after != before:
                eff.append({"path": path, "kind": "module", "modules": after, "before": before})
    return eff
