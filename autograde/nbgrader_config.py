# nbgrader configuration of the course (used by `bash course.sh grade ...` and by the plain
# `nbgrader` commands, e.g. `cd autograde && nbgrader formgrader` to grade written answers).
# The course's own settings (assignments, exclude_overwriting, hidden tests cleared before
# execution, the sandboxed kernel) come from autograde/course.py; change grading settings here.
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from autograde.course import Course  # noqa: E402

c = get_config()  # noqa: F821
c.merge(Course(pathlib.Path(__file__).resolve().parent).base_config())

# The gradebook. SQLite (the default) suits one grading machine. For a large class, several
# grading machines, or JupyterHub's formgrader service, use PostgreSQL (driver: psycopg2):
#   c.CourseDirectory.db_url = "postgresql+psycopg2://nbgrader:SECRET@db-host:5432/cnnvis"
# (or set COURSE_GRADER_DB_URL for one run).
# c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Grading settings (see autograde/README.md); CLI flags override some of them.
c.CourseGrader.run_cells = "graded"     # graded | all (every cell, fast mode: pictures in the feedback) | none
c.CourseGrader.cell_timeout_s = 60      # one notebook cell in the sandboxed kernel
c.CourseGrader.notebook_wall_s = 300    # the whole notebook run
c.CourseGrader.call_timeout_s = 30      # one call of a student function by the judge
c.CourseGrader.judge_budget_s = 180     # all judged cells of one notebook
c.CourseGrader.job_wall_s = 900         # one (student, assignment), everything included
c.CourseGrader.limits = {"cpu_s": 300, "memory_bytes": 6 << 30, "nproc": 256, "fsize_bytes": 200 << 20}
