"""The nbgrader course: where things are, which assignments exist, release and collect.

Assignments are discovered from the notebook sources ``solutions/notebooks/NN_name.py``: every notebook with
at least one nbgrader grade cell is an assignment named like the notebook (the setup
notebook has none and is not graded). Nothing is hard-coded: notebooks added later are
picked up by the next ``release``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from authoring import notebooks as notebook_sources
from authoring import release as release_tool
from authoring import translate
from authoring.conventions import HIDDEN_BEGIN, MODEL_ANSWER, SOLUTION_BEGIN

from .config import COURSE_ID, nbgrader_config, released_files
from .files import TooLarge, copy_plain, sha_tree
from .settings import Settings, load_file_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = ROOT / "autograde"
MAX_SUBMISSION_BYTES = 200 << 20     # per student, unpacked
MAX_SUBMISSION_FILES = 2000


class GraderError(RuntimeError):
    """A problem of the grader or of the course set-up, reported to the instructor (the student
    library's own error class, ``helpers.utils.CourseError``, is a different thing)."""


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return s[:64]


class Course:
    """The course folder of nbgrader (``settings.home``) and what the grader knows of it. Its
    settings are resolved once (``settings.py``): pass them, or the flags to resolve them with."""

    def __init__(self, home=None, root=None, settings: Settings | None = None, **flags):
        self.settings = settings or Settings.resolve(home, root, **flags)
        self.home, self.root = Path(self.settings.home), Path(self.settings.root)
        self.file_config = load_file_config(self.home)

    # ------------------------------------------------------------------ places
    source = property(lambda s: s.home / "source")
    release_dir = property(lambda s: s.home / "release")
    submitted = property(lambda s: s.home / "submitted")
    autograded = property(lambda s: s.home / "autograded")
    feedback_dir = property(lambda s: s.home / "feedback")
    state = property(lambda s: s.home / ".state")

    @property
    def db_url(self) -> str:
        return self.settings.db_url

    @property
    def lang(self) -> str:
        """The language the assignments are released in (and the feedback's messages): the
        ``lang`` setting, else that of the last ``release``, else English."""
        if self.settings.lang:
            return self.settings.lang
        stamp = self.state / "release" / "lang"
        return stamp.read_text().strip() if stamp.exists() else "en"

    def assignments(self) -> list[str]:
        """Every notebook source (``solutions/notebooks/NN_name.py``) with graded cells, in
        course order."""
        return [a for a, nb in self._notebooks().items()
                if any(c.get("metadata", {}).get("nbgrader", {}).get("grade") for c in nb["cells"])]

    def _notebooks(self) -> dict:
        """{name: the full notebook of its source} (read once per Course)."""
        if getattr(self, "_nb_cache", None) is None:
            try:
                self._nb_cache = {p.stem: release_tool.source_notebook(p) for p in notebook_sources.sources(self.root)}
            except Exception as e:  # noqa: BLE001 - a broken source: say which
                raise GraderError(f"a notebook source under {self.root / 'solutions' / 'notebooks'} "
                                  f"could not be read: {e}") from None
        return self._nb_cache

    def source_notebook(self, a: str) -> Path:
        return self.source / a / f"{a}.ipynb"

    def students(self) -> list[str]:
        return sorted(p.name for p in self.submitted.iterdir() if p.is_dir()) if self.submitted.is_dir() else []

    # ------------------------------------------------------------------ nbgrader config
    def config(self, **extra):
        """nbgrader's configuration: nbgrader_config.py, then the course-owned settings
        (built fresh from source/ and the settings), then the gradebook and ``extra``
        (``Section__name=value``)."""
        from traitlets.config import Config
        c = Config()
        if self.file_config is not None:
            c.merge(self.file_config)
        c.merge(nbgrader_config(self.home, self.settings))
        c.CourseDirectory.db_url = self.db_url
        for k, v in extra.items():
            sec, name = k.split("__")
            c[sec][name] = v
        return c

    def api(self, **extra):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        c = self.config(**extra)
        return NbGraderAPI(CourseDirectory(config=c), config=c)

    def gradebook(self):
        from nbgrader.api import Gradebook
        return Gradebook(self.db_url, COURSE_ID)

    def released_files(self, a: str) -> list[str]:
        return released_files(self.source / a)

    # ------------------------------------------------------------------ release
    def write_sources(self) -> dict[str, bool]:
        """source/<a>/: the notebook made from its source (no outputs) and the stubbed helpers,
        written with the project's release tool. Returns {assignment: changed}."""
        plan = release_tool.plan(self.root)
        helpers = {p: data for p, data in plan.items() if p.parts[0] == "helpers"}
        changed = {}
        lang = self.lang
        summaries = release_tool.exercise_summaries(self.root, lang) if lang != "en" else {}
        for a in self.assignments():
            nb = self._notebooks()[a]
            if lang != "en":          # the prose in the release's language; the code as it is
                cat = translate.read_catalogue(translate.catalogue_path(self.root, lang, a), lang)
                nb = translate.translate_notebook(nb, cat, lang, summaries)
            want = {Path(f"{a}.ipynb"): release_tool.dump_notebook(nb).encode(), **helpers}
            dest = self.source / a
            before = sha_tree(dest)
            for p in (dest.rglob("*") if dest.exists() else []):
                if p.is_file() and p.relative_to(dest) not in want:
                    p.unlink()
            for relp, data in want.items():
                f = dest / relp
                if not f.exists() or f.read_bytes() != data:
                    f.parent.mkdir(parents=True, exist_ok=True)
                    f.write_bytes(data)
            changed[a] = sha_tree(dest) != before
        return changed

    def release(self, force: bool = False, log=print, lang: str | None = None) -> list[str]:
        """source/ from solutions/ (the notebooks' prose in ``lang``, default: as before, else
        English), then nbgrader generate_assignment, then check the release."""
        self.home.mkdir(parents=True, exist_ok=True)
        if lang:
            self.settings.lang = lang
            (self.state / "release").mkdir(parents=True, exist_ok=True)
            (self.state / "release" / "lang").write_text(lang + "\n")
        self.write_sources()
        api = self.api()
        done = []
        for a in self.assignments():
            stamp = self.state / "release" / f"{a}.sha"
            sha = sha_tree(self.source / a) + self.db_url
            in_db = self._assignment_in_gradebook(a)
            if not force and in_db and (self.release_dir / a).is_dir() and stamp.exists() and stamp.read_text() == sha:
                log(f"release {a}: up to date")
                done.append(a)
                continue
            r = api.generate_assignment(a, force=True, create=True)
            if not r["success"]:
                raise GraderError(f"nbgrader generate_assignment {a} failed:\n{r.get('error') or r.get('log')}")
            self.check_release(a)
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(sha)
            cells = self.grade_cells(a)
            auto = sum(c["points"] for c in cells if c["kind"] == "code")
            by_hand = sum(c["points"] for c in cells) - auto
            log(f"release {a}: release/{a}/ written ({len(self.released_files(a))} library files; "
                f"{auto:g} points autograded, {by_hand:g} for written answers graded by hand)")
            done.append(a)
        return done

    def _assignment_in_gradebook(self, a: str) -> bool:
        try:
            with self.gradebook() as gb:
                return bool(gb.find_assignment(a).notebooks)
        except Exception:
            return False

    def check_release(self, a: str) -> None:
        """The release must hold no hidden tests, model answers or solution bodies."""
        rel = self.release_dir / a
        text = (rel / f"{a}.ipynb").read_text()
        for bad in (HIDDEN_BEGIN, SOLUTION_BEGIN, MODEL_ANSWER):
            if bad in text:
                raise GraderError(f"release/{a}/{a}.ipynb still contains {bad!r}")
        for p in self.released_files(a):      # source/ was written by the release tool
            if not (rel / p).is_file() or (rel / p).read_bytes() != (self.source / a / p).read_bytes():
                raise GraderError(f"release/{a}/{p} differs from the stubbed library")
        for p in (rel / "helpers").rglob("*.py"):
            if SOLUTION_BEGIN in p.read_text():
                raise GraderError(f"release/{a}/{p.relative_to(rel)} contains a solution region")

    def grade_cells(self, a: str) -> list[dict]:
        """[{grade_id, points, kind: 'code'|'markdown', source}] from the instructor's notebook."""
        nb = json.loads(self.source_notebook(a).read_text())
        out = []
        for cell in nb["cells"]:
            md = cell.get("metadata", {}).get("nbgrader", {})
            if md.get("grade"):
                src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                out.append({"grade_id": md["grade_id"], "points": float(md.get("points", 0)),
                            "kind": cell["cell_type"], "source": src})
        return out

    def points(self, a: str) -> float:
        return sum(c["points"] for c in self.grade_cells(a))

    # ------------------------------------------------------------------ collect
    def collect(self, incoming: Path, assignments: list[str] | None = None, log=print) -> dict:
        """Copy each student's submission (a folder or a .zip in ``incoming``) into
        submitted/<student>/<assignment>/ (the notebook and the helpers/ folder).
        Idempotent: an unchanged submission is left as it is. Returns {student: {a: status}}."""
        incoming = Path(incoming)
        if not incoming.is_dir():
            raise GraderError(f"{incoming} is not a folder of submissions")
        assignments = assignments or self.assignments()
        report = {}
        for entry in sorted(incoming.iterdir()):
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            if entry.is_dir() and not entry.is_symlink():
                student, opener = _slug(entry.name), (lambda e=entry: _copy_tree_safely(e))
            elif entry.is_file() and entry.suffix.lower() == ".zip":
                student, opener = _slug(entry.stem), (lambda e=entry: _unzip_safely(e))
            else:
                log(f"collect: skipping {entry.name} (not a folder or a .zip)")
                continue
            if not student:
                log(f"collect: skipping {entry.name} (no usable student id)")
                continue
            problem = None
            try:
                staged = opener()
            except GraderError as e:
                staged = None
                log(f"collect: {entry.name}: {e}")
                problem = str(e)
            report[student] = {}
            try:
                for a in assignments:
                    report[student][a] = self._place(student, a, staged, problem if staged is None else None)
            finally:
                if staged is not None:
                    shutil.rmtree(staged, ignore_errors=True)
        for s, r in report.items():
            log(f"collect {s}: " + ", ".join(f"{a} {st}" for a, st in r.items()))
        return report

    def _place(self, student: str, a: str, staged: Path | None, problem: str | None) -> str:
        dest = self.submitted / student / a
        tmp = Path(tempfile.mkdtemp(prefix=".collect-", dir=self._mk(self.submitted)))
        try:
            status = "collected"
            if staged is None:
                (tmp / "COLLECT_PROBLEM.txt").write_text(problem or "unreadable submission")
                status = "unreadable"
            else:
                nbs = _shallowest(staged, lambda p: p.is_file() and p.name == f"{a}.ipynb")
                if nbs:
                    shutil.copyfile(nbs, tmp / f"{a}.ipynb")
                else:
                    status = "no notebook"
                helpers = _shallowest(staged, lambda p: p.is_dir() and p.name == "helpers")
                if helpers:
                    shutil.copytree(helpers, tmp / "helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                elif status == "collected":
                    status = "no helpers/"
            if dest.exists() and sha_tree(dest) == sha_tree(tmp):
                return "unchanged"
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, dest)
            return status
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _mk(p: Path) -> Path:
        p.mkdir(parents=True, exist_ok=True)
        return p


def _shallowest(base: Path, pred):
    found = [p for p in base.rglob("*") if ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts
             and pred(p)]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def _copy_tree_safely(src: Path) -> Path:
    """A private copy of a submission folder: plain files and folders only (links skipped),
    with limits on size and count."""
    out = Path(tempfile.mkdtemp(prefix="course-collect-"))
    try:
        copy_plain(src, out, max_bytes=MAX_SUBMISSION_BYTES, max_files=MAX_SUBMISSION_FILES)
    except TooLarge as e:
        shutil.rmtree(out, ignore_errors=True)
        raise GraderError(f"submission too large ({e})") from None
    return out


def _unzip_safely(z: Path) -> Path:
    """Extract a zip: no absolute paths or '..', no links, limits on size and count."""
    out = Path(tempfile.mkdtemp(prefix="course-collect-"))
    try:
        with zipfile.ZipFile(z) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_SUBMISSION_FILES or sum(i.file_size for i in infos) > MAX_SUBMISSION_BYTES:
                raise GraderError(f"zip too large (over {MAX_SUBMISSION_BYTES >> 20} MB or {MAX_SUBMISSION_FILES} files)")
            for info in infos:
                name = info.filename.replace("\\", "/")
                parts = [p for p in name.split("/") if p not in ("", ".")]
                if not parts or ".." in parts or name.startswith("/") or info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    continue
                dest = out.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as fi, open(dest, "wb") as fo:
                    shutil.copyfileobj(fi, fo)
    except zipfile.BadZipFile as e:
        shutil.rmtree(out, ignore_errors=True)
        raise GraderError(f"{z.name} is not a valid zip file ({e})") from None
    except GraderError:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
