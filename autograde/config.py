"""The course's grading settings and the nbgrader configuration built from them.

Two things live here, each once:

- :class:`Settings`: the grader's own settings and their defaults (``c.CourseGrader.<name>``
  in ``nbgrader_config.py``, some also as command-line flags);
- :func:`nbgrader_config`: a pure function from (course folder, settings) to nbgrader's
  ``Config``. ``autograde/nbgrader_config.py`` (read by every plain ``nbgrader`` command,
  e.g. the formgrader) and :class:`autograde.course.Course` both call it; it never loads
  ``nbgrader_config.py`` itself, so loading that file cannot recurse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

COURSE_ID = "cnn-vis"


@dataclass
class Settings:
    """Grading settings (``c.CourseGrader.<name> = ...`` in nbgrader_config.py, or CLI flags)."""
    run_cells: str = "graded"      # graded: setup, checks and graded cells; all: every cell (fast mode); none
    cell_timeout_s: int = 60       # nbgrader's per-cell timeout in the sandboxed kernel
    notebook_wall_s: int = 300     # the whole sandboxed notebook run
    call_timeout_s: int = 30       # one call of a student function by the judge
    judge_budget_s: int = 180      # all of a notebook's judged cells together
    job_wall_s: int = 900          # one (student, assignment) job, everything included
    limits: dict = field(default_factory=dict)   # sandbox.Limits fields (defaults there)

    @classmethod
    def from_config(cls, cfg, **overrides) -> "Settings":
        """The settings of a loaded nbgrader config (its ``CourseGrader`` section), then
        ``overrides`` that are not None (command-line flags)."""
        s = cls()
        sec = cfg.get("CourseGrader", {}) if cfg is not None else {}
        for k in cls.__dataclass_fields__:
            if k in sec:
                setattr(s, k, sec[k])
        for k, v in overrides.items():
            if v is not None:
                if k not in cls.__dataclass_fields__:
                    raise TypeError(f"unknown grading setting {k!r}")
                setattr(s, k, v)
        return s


def released_files(source_dir: Path) -> list[str]:
    """The non-notebook files of one assignment's ``source/<a>/`` (the library), relative."""
    base = Path(source_dir)
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*")
                  if p.is_file() and p.suffix != ".ipynb" and "__pycache__" not in p.parts)


def nbgrader_config(home: Path, settings: Settings | None = None):
    """nbgrader's configuration of the course in ``home`` under ``settings``.

    Course-owned settings that keep grading safe (never overwrite the student's library,
    hidden tests cleared before the kernel runs, the sandboxed kernel) are set here and
    win over anything else.
    """
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)
    from traitlets.config import Config

    from .preprocessors import RunOnly
    settings = settings or Settings()
    home = Path(home).resolve()
    source = home / "source"
    c = Config()
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store", "__MACOSX"]
    c.CourseDirectory.max_file_size = 100_000   # kB: the weights file is 2 MB
    # Every non-notebook file of an assignment (the helpers library) is the student's own:
    # never overwrite it with the instructor's copy (an untouched stub would pass, and the
    # feedback folder would hand out the instructor's file).
    assignments = sorted(p.name for p in source.iterdir() if p.is_dir()) if source.is_dir() else []
    c.Autograde.exclude_overwriting = {a: released_files(source / a) for a in assignments}
    # Hidden tests never reach the student's kernel: they are cleared right after nbgrader
    # restores the test cells, before execution. Points are decided by the trusted judge.
    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                                          ClearHiddenTests, RunOnly, CheckCellMetadata]
    c.ClearHiddenTests.enforce_metadata = False
    c.Execute.timeout = int(settings.cell_timeout_s)
    c.Execute.startup_timeout = 120
    c.Execute.kernel_manager_class = "autograde.sandbox.SandboxKernelManager"
    c.RunOnly.mode = settings.run_cells
    return c
