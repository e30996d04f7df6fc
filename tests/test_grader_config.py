"""The grader's configuration: loading nbgrader_config.py never builds the object that loads
it (it used to recurse), the defaults live in one place, and the course-owned settings win."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograde.config import Settings, nbgrader_config  # noqa: E402
from autograde.course import Course  # noqa: E402


def test_nbgrader_loads_the_course_config_in_a_fresh_process():
    """What `nbgrader ...` and the formgrader do in autograde/: load nbgrader_config.py."""
    code = ("from traitlets.config.loader import PyFileConfigLoader\n"
            "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
            "print(c.CourseDirectory.course_id, c.Execute.kernel_manager_class, c.RunOnly.mode)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "autograde", capture_output=True, text=True,
                       timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["cnn-vis", "autograde.sandbox.SandboxKernelManager", "graded"]


def test_course_on_the_default_folder_builds_its_config():
    course = Course()                       # autograde/ of this checkout, with its nbgrader_config.py
    assert course.home == ROOT / "autograde" and course.settings == Settings()
    c = course.config()
    assert c.CourseDirectory.root == str(ROOT / "autograde") and c.RunOnly.mode == "graded"


def test_settings_from_the_file_and_flags_and_course_owned_settings_win(tmp_path):
    (tmp_path / "source" / "01_x" / "helpers").mkdir(parents=True)
    (tmp_path / "source" / "01_x" / "helpers" / "a.py").write_text("")
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseGrader.run_cells = 'all'\n"
        "c.CourseGrader.cell_timeout_s = 7\n"
        "c.Autograde.exclude_overwriting = {}\n")       # cannot switch off the protection
    course = Course(tmp_path, ROOT, call_timeout_s=3, run_cells=None)
    assert (course.settings.run_cells, course.settings.cell_timeout_s, course.settings.call_timeout_s) == ("all", 7, 3)
    c = course.config()
    assert c.Execute.timeout == 7 and c.RunOnly.mode == "all"
    assert c.Autograde.exclude_overwriting == {"01_x": ["helpers/a.py"]}
    assert nbgrader_config(tmp_path).Execute.timeout == Settings().cell_timeout_s
