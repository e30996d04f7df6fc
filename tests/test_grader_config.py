"""The grader's configuration: loading nbgrader_config.py never builds the object that loads
it (it used to recurse), the defaults live in one place, and the course-owned settings win."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autograde.config import nbgrader_config  # noqa: E402
from autograde.settings import Settings  # noqa: E402
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
    assert course.home == ROOT / "autograde" and course.settings == Settings.resolve()
    assert course.db_url == f"sqlite:///{ROOT / 'autograde' / 'gradebook.db'}"
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


def test_each_setting_comes_from_the_file_then_the_environment_then_a_flag(tmp_path):
    """One order for every key: default < nbgrader_config.py < COURSE_GRADER_<KEY> < flag."""
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.db_url = 'sqlite:///from-nbgrader.db'\n"
        "c.CourseGrader.cell_timeout_s = 7\n"
        "c.CourseGrader.call_timeout_s = 8\n"
        "c.CourseGrader.judge_budget_s = 9\n")
    env = {"COURSE_GRADER_CALL_TIMEOUT_S": "11", "COURSE_GRADER_JUDGE_BUDGET_S": "12",
           "COURSE_GRADER_LIMITS": '{"memory_bytes": 1024}', "COURSE_DATA": "/d1"}
    s = Settings.resolve(tmp_path, ROOT, environ=env, judge_budget_s=13)
    assert (s.cell_timeout_s, s.call_timeout_s, s.judge_budget_s) == (7, 11, 13)
    assert s.limits == {"memory_bytes": 1024} and s.db_url == "sqlite:///from-nbgrader.db"
    assert s.data_dirs[0] == "/d1" and s.run_cells == Settings().run_cells
    assert Settings.load(s.save(tmp_path / "s.json")) == s, "a job gets exactly the instructor's settings"
    for bad in ({"no_such_key": 1}, {"limits": {"memory": 1}}):
        try:
            Settings.resolve(tmp_path, ROOT, environ={}, **bad)
        except TypeError as e:
            assert "no_such_key" in str(e) or "'memory'" in str(e), e
        else:
            raise AssertionError(f"an unknown setting must be refused: {bad}")


def test_every_setting_is_documented_in_the_grader_readme():
    readme = (ROOT / "autograde" / "README.md").read_text()
    missing = [k for k in Settings.keys() if f"`{k}`" not in readme]
    assert not missing, f"autograde/README.md does not document: {missing}"
