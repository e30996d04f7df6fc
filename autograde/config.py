"""nbgrader's configuration of the course, built from the grader's settings (settings.py).

:func:`nbgrader_config` is a pure function from (course folder, settings) to nbgrader's
``Config``. ``autograde/nbgrader_config.py`` (read by every plain ``nbgrader`` command, e.g.
the formgrader) and :class:`autograde.course.Course` both call it; it never loads
``nbgrader_config.py`` itself, so loading that file cannot recurse.
"""
from __future__ import annotations

from pathlib import Path

COURSE_ID = "cnn-vis"


def released_files(source_dir: Path) -> list[str]:
    """The non-notebook files of one assignment's ``source/<a>/`` (the library), relative."""
    base = Path(source_dir)
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*")
                  if p.is_file() and p.suffix != ".ipynb" and "__pycache__" not in p.parts)


def nbgrader_config(home: Path, settings=None):
    """nbgrader's configuration of the course in ``home`` under ``settings``.

    Course-owned settings that keep grading safe (never overwrite the student's library,
    hidden tests cleared before the kernel runs, the sandboxed kernel) are set here and
    win over anything else.
    """
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)
    from traitlets.config import Config

    from .preprocessors import RunOnly
    from .settings import Settings
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
