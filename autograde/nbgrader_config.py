# nbgrader configuration of the course, read by `bash course.sh grade ...` and by the plain
# `nbgrader` commands run in this folder (e.g. `../.venv/bin/nbgrader formgrader` to grade the
# written answers). The course-owned settings (assignments, exclude_overwriting, hidden tests
# cleared before execution, the sandboxed kernel) are built by autograde/config.py.
import pathlib

from autograde.config import nbgrader_config   # the project is on the environment's path (course.sh)

c = get_config()  # noqa: F821
c.merge(nbgrader_config(pathlib.Path(__file__).resolve().parent))

# The gradebook. SQLite (the default, autograde/gradebook.db) suits one grading machine. For
# a large class, several grading machines, or JupyterHub's formgrader service, use PostgreSQL
# (driver: psycopg2), or set COURSE_GRADER_DB_URL for one run:
# c.CourseDirectory.db_url = "postgresql+psycopg2://nbgrader:SECRET@db-host:5432/cnnvis"

# Grading settings: every key, its default and what it does is in autograde/README.md
# ("Settings"; the code: autograde/settings.py). Set any of them here, e.g.
# c.CourseGrader.run_cells = "all"          # every cell, in fast mode: pictures in the feedback
# c.CourseGrader.limits = {"memory_bytes": 8 << 30}
