"""Plain files of a folder: the one way the grader walks, copies and fingerprints a tree.

Only plain files and folders count: links (which could point anywhere) and special files
are left out everywhere, so a submission cannot make the grader read or write outside it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path


class TooLarge(ValueError):
    pass


def plain_files(base: Path, skip=("__pycache__",)) -> dict[str, Path]:
    """``{relative path (posix): file}`` of the plain files under ``base``, sorted; folders
    named in ``skip`` and anything reached through a link are left out."""
    base = Path(base)
    out = {}
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not os.path.islink(os.path.join(dirpath, d)))
        for n in sorted(filenames):
            p = Path(dirpath) / n
            if stat.S_ISREG(os.lstat(p).st_mode):
                out[p.relative_to(base).as_posix()] = p
    return out


def copy_plain(src: Path, dest: Path, max_bytes: int | None = None, max_files: int | None = None) -> None:
    """Copy the plain files of ``src`` into ``dest`` (created); :class:`TooLarge` when they
    exceed ``max_bytes`` or ``max_files``."""
    files = plain_files(src)
    if max_files is not None and len(files) > max_files:
        raise TooLarge(f"over {max_files} files")
    if max_bytes is not None and sum(p.stat().st_size for p in files.values()) > max_bytes:
        raise TooLarge(f"over {max_bytes >> 20} MB")
    Path(dest).mkdir(parents=True, exist_ok=True)
    for rel, p in files.items():
        (Path(dest) / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, Path(dest) / rel, follow_symlinks=False)


def safe_rel(rel: str) -> str:
    """``rel`` if it is a relative path inside a folder (no absolute path, no ``..``), else a
    ValueError: for paths that arrive as data (a task, a result)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
        raise ValueError(f"refusing the path {rel!r}")
    return rel


def sha_tree(path: Path) -> str:
    """A fingerprint of the plain files under ``path`` (names and contents): "missing" for none."""
    path = Path(path)
    if not path.exists():
        return "missing"
    h = hashlib.sha256()
    for rel, p in plain_files(path, skip=()).items():
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:20]
