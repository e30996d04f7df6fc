"""The release bundle: what every grading worker needs of the course, whatever the student.

:func:`build_release` packs, on the instructor's side, the released assignments
(``source/<a>/``: the instructor's notebook with its hidden tests, the stubbed library),
content-addressed, and the assignments' gradebook structure (cells, points, checksums: never a
student's record), with nbgrader_config.py's plain settings. :class:`ReleasePlugin` brings it
to every Dask worker once: the scheduler keeps the plugin and hands it to every worker that
joins, replacements included; each machine writes it once into a cache folder named by its
hash (:func:`materialize`), and removes releases unused for a day.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .config import COURSE_ID
from .course import Course, GraderError
from .files import plain_files, safe_rel
from .settings import Settings

PLUGIN_PREFIX = "cnnvis-grader-release-"
STRUCTURE = ("assignment", "notebook", "base_cell", "grade_cells", "solution_cells", "task_cells", "source_cell")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Release:
    """What every worker needs of the course, whatever the student: the released assignments
    (``source/<a>/``: the instructor's notebook with its hidden tests, the stubbed library) and
    their gradebook structure. Plain data; ``key`` is the hash of all of it."""
    blobs: dict[str, bytes]                      # sha256 -> content (each distinct file once)
    trees: dict[str, dict[str, str]]             # assignment -> {path in source/<a>/: sha256}
    gradebook: bytes                             # SQLite file: the assignments' cells, no student data
    config: dict                                 # nbgrader_config.py's plain settings (no gradebook URL)
    key: str = ""

    @property
    def plugin_name(self) -> str:
        return PLUGIN_PREFIX + self.key


def _structure(gb, assignments: list[str]) -> dict[str, list[dict]]:
    """The rows of the assignments' structure tables in nbgrader's gradebook (no student data),
    and its schema version."""
    from nbgrader.api import Base
    from sqlalchemy import select, text
    t = Base.metadata.tables
    db = gb.db

    def rows_of(name, where):
        return sorted((dict(r) for r in db.execute(select(t[name]).where(where)).mappings()), key=lambda r: r["id"])
    rows = {"course": rows_of("course", t["course"].c.id == COURSE_ID),
            "assignment": rows_of("assignment", t["assignment"].c.name.in_(assignments))}
    rows["notebook"] = rows_of("notebook", t["notebook"].c.assignment_id.in_([r["id"] for r in rows["assignment"]]))
    nids = [r["id"] for r in rows["notebook"]]
    rows["base_cell"] = rows_of("base_cell", t["base_cell"].c.notebook_id.in_(nids))
    bids = [r["id"] for r in rows["base_cell"]]
    for name in ("grade_cells", "solution_cells", "task_cells"):
        rows[name] = rows_of(name, t[name].c.id.in_(bids))
    rows["source_cell"] = rows_of("source_cell", t["source_cell"].c.notebook_id.in_(nids))
    try:
        version = db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a gradebook without alembic's table
        db.rollback()
        version = None
    rows["alembic_version"] = [{"version_num": version}] if version else []
    return rows


def _gradebook_file(rows: dict[str, list[dict]]) -> bytes:
    """A fresh SQLite gradebook holding only ``rows`` (the assignments' structure), made with
    SQLAlchemy directly (nbgrader's Gradebook would run ``alembic`` to stamp a new file)."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text
    with tempfile.TemporaryDirectory(prefix="cgrade-structure-") as tmp:
        path = Path(tmp) / "gradebook.db"
        engine = create_engine(f"sqlite:///{path}")
        try:
            Base.metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                if rows.get("alembic_version"):
                    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                                 {"v": rows["alembic_version"][0]["version_num"]})
                for name in ("course",) + STRUCTURE:
                    if rows.get(name):
                        conn.execute(Base.metadata.tables[name].insert(), rows[name])
        finally:
            engine.dispose()
        return path.read_bytes()


def _portable_config(course: Course) -> dict:
    """nbgrader_config.py's settings as plain data, for the worker's scratch course: everything
    but the gradebook's address (workers never see it), the folders, and what config.py owns
    (rebuilt on the worker). Values that are not plain data (classes) are course-owned anyway."""
    out: dict = {}
    for sec, vals in (course.file_config or {}).items():
        if not isinstance(vals, dict) or sec == "CourseGrader":
            continue
        for k, v in vals.items():
            if sec == "CourseDirectory" and k in ("db_url", "root"):
                continue
            try:
                json.dumps(v)
            except (TypeError, ValueError):
                continue
            out.setdefault(sec, {})[k] = v
    return out


def build_release(course: Course, assignments: list[str], gb) -> Release:
    """The release of ``assignments`` as the instructor's gradebook ``gb`` knows them."""
    blobs, trees = {}, {}
    for a in assignments:
        trees[a] = {}
        for rel, p in plain_files(course.source / a).items():
            if "__pycache__" in rel.split("/"):
                continue
            data = p.read_bytes()
            h = sha(data)
            blobs[h] = data
            trees[a][rel] = h
    rows = _structure(gb, assignments)
    r = Release(blobs=blobs, trees=trees, gradebook=_gradebook_file(rows), config=_portable_config(course))
    r.key = sha(json.dumps([trees, rows, r.config], sort_keys=True, default=str).encode())[:20]
    return r


CACHE_KEEP_S = 24 * 3600        # a release not used for a day leaves the cache


def _prune(root: Path, keep: str) -> None:
    """Remove releases not used for CACHE_KEEP_S (and unfinished copies an hour old)."""
    now = time.time()
    for d in root.iterdir() if root.is_dir() else []:
        try:
            if d.name == keep:
                continue
            if d.name.startswith(".incoming-"):
                if now - d.stat().st_mtime > 3600:
                    shutil.rmtree(d, ignore_errors=True)
            elif now - (d / "READY").stat().st_mtime > CACHE_KEEP_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def materialize(release: Release, cache: Path) -> Path:
    """The release as files in this machine's cache (``<cache>/<key>/``: ``blobs/``,
    ``source/<a>/``, ``gradebook.db``, ``nbgrader_config.json``), written once: whoever comes
    later (another worker process of the machine, the next batch) finds it there. Each use
    marks it (``READY``'s time); releases unused for a day are removed."""
    root = Path(cache)
    dest = root / release.key
    if (dest / "READY").is_file():
        with contextlib.suppress(OSError):
            os.utime(dest / "READY")
        return dest
    _prune(root, release.key)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        for h, data in release.blobs.items():
            (tmp / "blobs").mkdir(exist_ok=True)
            (tmp / "blobs" / h).write_bytes(data)
        for a, tree in release.trees.items():
            for rel, h in tree.items():
                f = tmp / "source" / a / safe_rel(rel)
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(release.blobs[h])
        (tmp / "gradebook.db").write_bytes(release.gradebook)
        (tmp / "nbgrader_config.json").write_text(json.dumps(release.config))
        (tmp / "READY").write_text(release.key)
        try:
            os.rename(tmp, dest)
        except OSError:             # another process of this machine was first
            if not (dest / "READY").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:                # pragma: no cover - the pinned environment has it
    _WorkerPlugin = object


class ReleasePlugin(_WorkerPlugin):
    """Brings the release to every worker once: registered by the batch, kept by the scheduler,
    set up on each worker when it joins (replacements included)."""

    def __init__(self, release: Release):
        self.release = release
        self.name = release.plugin_name
        self.path: Path | None = None

    def setup(self, worker=None):
        self.ensure()
        why = sandbox.available()
        if why:
            raise GraderError(f"this worker cannot sandbox student code: {why}")

    def ensure(self) -> Path:
        """The release's folder in this machine's cache (the machine's settings say where)."""
        if self.path is None or not (self.path / "READY").is_file():
            self.path = materialize(self.release, Path(Settings.resolve(file_config=None).cache))
        return self.path
