"""Plumbing shared by every notebook: seeding, fast mode, devices, friendly errors.

Nothing here is an exercise; students get this file unchanged.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import random
import re
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

FAST_ENV = "COURSE_FAST"


class CourseError(ValueError):
    """A mistake in how a course function was called, explained in one sentence (in the
    course's language: :mod:`helpers.i18n`)."""

    def __init__(self, message="", *args):
        from .i18n import tr
        super().__init__(tr(message), *args)


# ----------------------------------------------------------------------------- exercises
# An exercise stub raises "exercise `NAME` in helpers/MODULE.py is not done yet: ..." (the
# release tool writes it: tools/conventions.py); each exercise module says its NOTEBOOK.
_STUB = re.compile(r"exercise `([\w.]+)` in helpers/(\w+)\.py is not done yet")


_NOTES: set[str] = set()


def not_done(error: BaseException) -> str | None:
    """When ``error`` is the ``NotImplementedError`` of an exercise stub, the exercise it
    names, like "notebook 1's exercise `receptive_field` (helpers/features.py)"; else None."""
    m = _STUB.search(str(error)) if isinstance(error, NotImplementedError) else None
    if m is None:
        return None
    import sys
    nb = getattr(sys.modules.get(f"{__package__}.{m.group(2)}"), "NOTEBOOK", None)
    return (f"notebook {nb}'s " if nb else "") + f"exercise `{m.group(1)}` (helpers/{m.group(2)}.py)"


def note_once(message: str) -> None:
    """Print ``[note] message`` the first time it comes up in this process."""
    if message not in _NOTES:
        _NOTES.add(message)
        print(f"[note] {message}")


@contextlib.contextmanager
def skip_if_not_done(what: str = "this cell"):
    """In a notebook: run the block, or print one line and skip the rest of it when it calls
    an exercise that is not done yet (e.g. another notebook's). Other errors pass through."""
    try:
        yield
    except NotImplementedError as e:
        exercise = not_done(e)
        if exercise is None:
            raise
        print(f"[skipped] {what} needs {exercise}, which is not done yet")


def read_image(path, mode: str = "RGB"):
    """Open and decode an image file as a PIL image in ``mode``, fully loaded.

    Any problem with the file (missing, a folder, empty, not an image, truncated, corrupt)
    is a :class:`CourseError` that says what was received and what is accepted."""
    from PIL import Image
    p = Path(path)
    accepted = "an image file PIL can read (JPEG, PNG, BMP, GIF, TIFF, WebP, ...)"
    if not p.exists():
        raise CourseError(f"no image file at {p}")
    if p.is_dir():
        raise CourseError(f"{p} is a folder; expected {accepted}")
    size = p.stat().st_size
    if size == 0:
        raise CourseError(f"{p} is an empty file (0 bytes); expected {accepted}")
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert(mode) if mode and im.mode != mode else im.copy()
    except Image.DecompressionBombError:
        raise CourseError(f"{p} is too large an image to open safely; expected at most "
                          f"{Image.MAX_IMAGE_PIXELS} pixels") from None
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds (UnidentifiedImageError, OSError, SyntaxError, ...)
        why = "it is not an image PIL recognizes" if type(e).__name__ == "UnidentifiedImageError" else \
            "it is truncated or corrupt" if "truncated" in str(e) or isinstance(e, (OSError, SyntaxError)) else \
            f"{type(e).__name__}: {e}"
        raise CourseError(f"could not read {p} ({size} bytes) as an image: {why}; expected {accepted}") from None


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch and (by default) turn on deterministic algorithms.

    Call it at the top of every notebook and test so that figures and numbers repeat.
    Returns a ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def fast_mode() -> bool:
    """True when only small numbers should be used: ``COURSE_FAST=1`` or while nbgrader grades.

    Fast mode runs the same code paths with fewer steps, smaller images and fewer data
    points. Full mode (the default) is what a student runs.
    """
    flag = os.environ.get(FAST_ENV, "").strip().lower()
    if flag in {"1", "true", "yes", "on"}:
        return True
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def pick(full, fast):
    """``full`` normally, ``fast`` in fast mode (see :func:`fast_mode`)."""
    return fast if fast_mode() else full


SHOWN, NOT_SHOWN, FAST_ONLY = "\u2713", "\u2717 this run does not show:", "[fast mode] this smaller run cannot show:"


def claim(holds, text: str, fast_too: bool = True) -> None:
    """A statement the notebook's text makes about the result just computed, checked on this run.

    Prints ``"✓ text"`` when the run shows it, ``"✗ this run does not show: text"`` when it
    does not. A claim about the full run only (``fast_too=False``: fewer steps, images or
    photos cannot show it) prints, in fast mode, that this smaller run cannot show it, whatever
    ``holds`` is: the figure above it is then a smoke test, not a result. The course's tests
    hold every claim: the committed full runs show none failing, and a fast run (the tests run
    every notebook in fast mode) must print the same line as the full run for the others.
    """
    from .i18n import tr
    if fast_mode() and not fast_too:
        print(f"{tr(FAST_ONLY)} {tr(text)} {tr('(run without COURSE_FAST to see it)')}")
    elif holds:
        print(f"{SHOWN} {tr(text)}")
    else:
        print(f"{tr(NOT_SHOWN)} {tr(text)}")


def fast_note(text: str = "fewer steps: not converged") -> str:
    """``" (fast mode: <text>)"`` in fast mode, else ``""``: for the title of a figure that fast
    mode cannot converge."""
    from .i18n import tr
    return f" ({tr('fast mode')}: {tr(text)})" if fast_mode() else ""


def use_threads(n: int = 2) -> int:
    """Let PyTorch use ``n`` CPU threads, unless ``OMP_NUM_THREADS`` says otherwise.

    The course is sized for 2 cores. Where several jobs share the cores (a grader running
    submissions in parallel, a busy CI machine), set ``OMP_NUM_THREADS=1``: two threads that
    must wait for each other on a core that another process holds can run 10 times slower
    than one. Returns the number of threads in use.
    """
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        n = int(env)
    torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def start_notebook(seed: int = 0, threads: int = 2) -> torch.Generator:
    """The first call of every notebook: library code you edit is reloaded automatically
    (``%autoreload 2``: no kernel restart), figures are compact JPEGs, everything is seeded
    (:func:`seed_everything`) and PyTorch uses ``threads`` CPU threads (:func:`use_threads`).
    Outside IPython only the seeding and the threads apply."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
    except ImportError:
        ip = None
    if ip is not None:
        if "autoreload" not in ip.extension_manager.loaded:
            ip.run_line_magic("load_ext", "autoreload")
        ip.run_line_magic("autoreload", "2")
        ip.run_line_magic("config", 'InlineBackend.figure_formats = ["jpeg"]')
        ip.run_line_magic("config", 'InlineBackend.print_figure_kwargs = '
                                    '{"bbox_inches": "tight", "pil_kwargs": {"quality": 90}}')
    use_threads(threads)
    return seed_everything(seed)


def get_device(prefer_gpu: bool = True) -> torch.device:
    """The GPU when there is one (CUDA or Apple MPS) and ``prefer_gpu``; else the CPU."""
    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    if prefer_gpu and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def close_names(name: str, options: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` entries of ``options`` that look like ``name`` (for 'did you mean')."""
    options = [str(o) for o in options]
    found = difflib.get_close_matches(str(name), options, n=n, cutoff=0.5)
    low = str(name).lower()
    for o in options:
        if len(found) >= n:
            break
        if low and low in o.lower() and o not in found:
            found.append(o)
    return found


def unknown(kind: str, name, options: Sequence[str], show_all: bool = False) -> CourseError:
    """A :class:`CourseError` for an unknown name: close names first, then the known ones."""
    options = list(options)
    close = close_names(name, options)
    parts = [f"did you mean {', '.join(repr(c) for c in close)}?"] if close else []
    if show_all or len(options) <= 12:
        parts.append("known: " + ", ".join(map(str, options)))
    elif not close:
        parts.append(f"{len(options)} names exist, e.g. " + ", ".join(map(str, options[:5])))
    return CourseError(f"unknown {kind} {name!r}; " + "; ".join(parts))


def check_images(x, name: str = "x", one: bool = False, device=None) -> torch.Tensor:
    """``x`` detached (and on ``device``, e.g. ``model.device``), or a clear error unless it is
    a pixel-space batch ``(N, 3, H, W)`` in ``[0, 1]`` (``one=True``: exactly one image,
    ``(1, 3, H, W)``). The one validation of image batches: every technique of the course calls it."""
    want = "one image (1, 3, H, W)" if one else "RGB images (N, 3, H, W)"
    if not isinstance(x, torch.Tensor):
        raise CourseError(f"{name} must be {want} as a pixel-space tensor, got {type(x).__name__}; "
                          "use model.to_input(image)")
    if x.ndim != 4 or x.shape[1] != 3:
        hint = " (a grey image? convert it to RGB first)" if x.ndim == 4 and x.shape[1] == 1 else \
            " (one image without the batch dimension? use x[None] or model.to_input(image))" if x.ndim == 3 else ""
        raise CourseError(f"{name} must be {want}, got shape {tuple(x.shape)}{hint}")
    if one and x.shape[0] != 1:
        raise CourseError(f"{name} must be one image (1, 3, H, W), got a batch of {x.shape[0]}: pass x[i:i+1]")
    x = x.detach()
    if not x.is_floating_point():
        raise CourseError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; use model.to_input(image)")
    if x.numel() and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise CourseError(f"{name} must be a pixel-space image in [0, 1]; got values in "
                          f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return x if device is None else x.to(device)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or a clear error when it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CourseError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise CourseError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def timed(fn, *args, repeat: int = 3, **kwargs):
    """``(result, best seconds of repeat)`` of ``fn(*args, **kwargs)``: for the speed claims in
    the notebooks."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return out, best
