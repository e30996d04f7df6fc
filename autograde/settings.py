"""The grader's settings: one object, resolved once, every key documented in README.md.

Each key's value comes from, in order (a later one wins): its default here; the course's
``nbgrader_config.py`` (``c.CourseGrader.<key> = ...``; the gradebook's address also as
nbgrader's own ``c.CourseDirectory.db_url``); the environment (``COURSE_GRADER_<KEY>``, and
``COURSE_DATA`` for the data folders); the command line's flags. :meth:`Settings.resolve`
does that, once, on the instructor's side. A grading job then gets all of it in one file
(:meth:`Settings.save` / :meth:`Settings.load`): no flags, no environment.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "COURSE_GRADER_"


def default_data_dirs(root: Path, environ=None) -> list[str]:
    """The course data folders, by the course's one rule (as ``helpers.data`` looks for them):
    ``$COURSE_DATA`` (several: separated by ``os.pathsep``), ``<project>/data``,
    ``<project>/../shared/data``."""
    environ = os.environ if environ is None else environ
    named = [p for p in environ.get("COURSE_DATA", "").split(os.pathsep) if p.strip()]
    return named + [str(Path(root) / "data"), str(Path(root).parent / "shared" / "data")]


def load_file_config(home: Path):
    """The course folder's ``nbgrader_config.py`` (a grading worker's scratch course has
    ``nbgrader_config.json`` instead: the instructor's settings as plain data), or None."""
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader
    for name, loader in (("nbgrader_config.py", PyFileConfigLoader), ("nbgrader_config.json", JSONFileConfigLoader)):
        if (Path(home) / name).exists():
            return loader(name, path=str(home)).load_config()
    return None


@dataclass
class Settings:
    """The grader's settings (see the module). Paths are strings: the object travels as JSON."""
    home: str = str(ROOT / "autograde")     # the nbgrader course folder
    root: str = str(ROOT)                   # the project: notebook sources, solutions/
    db_url: str = ""                        # the gradebook ("": SQLite home/gradebook.db)
    scheduler: str = ""                     # a running Dask cluster ("": a local one per batch)
    cache: str = ""                         # where a worker machine keeps the releases ("": the temp folder)
    slot_dir: str = "/tmp/cnnvis-grader-slots"   # a machine's grading-slot locks
    data_dirs: list = field(default_factory=list)  # data folders mounted read-only in the sandbox
    run_cells: str = "graded"      # graded: setup, checks and graded cells; all: every cell (fast mode); none
    cell_timeout_s: int = 60       # nbgrader's per-cell timeout in the sandboxed kernel
    notebook_wall_s: int = 300     # the whole sandboxed notebook run
    call_timeout_s: int = 30       # one call of a student function by the judge
    judge_budget_s: int = 180      # all of a notebook's judged cells together
    job_wall_s: int = 900          # one (student, assignment) job, everything included
    limits: dict = field(default_factory=dict)   # sandbox.Limits fields (defaults there)
    lang: str = ""                 # the notebooks' and the feedback's language: en, ko, zh ("": as released)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def resolve(cls, home=None, root=None, file_config="load", environ=None, **flags) -> "Settings":
        """Defaults, then ``file_config`` (a loaded nbgrader config; by default the course
        folder's own, found where ``home`` is), then ``environ`` (``os.environ`` by default),
        then ``flags`` that are not None."""
        environ = os.environ if environ is None else environ
        if file_config == "load":
            where = home or environ.get(ENV_PREFIX + "HOME") or cls().home
            file_config = load_file_config(Path(where))
        s = cls()
        section = dict(file_config.get("CourseGrader", {})) if file_config is not None else {}
        if file_config is not None and file_config.get("CourseDirectory", {}).get("db_url"):
            section.setdefault("db_url", file_config["CourseDirectory"]["db_url"])
        for k in cls.keys():
            if k in section:
                setattr(s, k, section[k])
            if ENV_PREFIX + k.upper() in environ:
                value = environ[ENV_PREFIX + k.upper()]
                setattr(s, k, json.loads(value) if isinstance(getattr(s, k), (int, dict, list)) else value)
        for k, v in {"home": home, "root": root, **flags}.items():
            if k not in cls.__dataclass_fields__:
                raise TypeError(f"unknown grading setting {k!r}")
            if v is not None:
                setattr(s, k, str(v) if k in ("home", "root") else v)
        if s.lang not in ("", "en", "ko", "zh"):
            raise TypeError(f"unknown language {s.lang!r}: the course is in en, ko and zh")
        from .sandbox import Limits
        unknown = set(s.limits) - set(Limits.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown sandbox limit(s) {sorted(unknown)}; the limits are {list(Limits.__dataclass_fields__)}")
        s.home, s.root = str(Path(s.home).resolve()), str(Path(s.root).resolve())
        if not s.db_url:
            s.db_url = f"sqlite:///{Path(s.home) / 'gradebook.db'}"
        if not s.cache:
            s.cache = str(Path(tempfile.gettempdir()) / "cnnvis-grader-cache")
        if not s.data_dirs:
            s.data_dirs = default_data_dirs(Path(s.root), environ)
        return s

    def save(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(asdict(self), indent=1))
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> "Settings":
        data = json.loads(Path(path).read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def replace(self, **changes) -> "Settings":
        return Settings(**{**asdict(self), **changes})
