"""The release tool: write the student version of the course from the solutions.

    bash course.sh release          # write helpers/ and notebooks/ from solutions/
                                    # (= python -m authoring.release, run in the project folder)
    bash course.sh release --check  # exit 1 (listing the files) if they differ from what it would write

The complete library lives in ``solutions/helpers``, every exercise body between
``### BEGIN SOLUTION`` and ``### END SOLUTION``. The student ``helpers/`` is that library
with each such region replaced by a stub that raises ``NotImplementedError`` naming the
exercise; everything else (plumbing, weights) is copied unchanged. The student notebooks
are made from the notebook sources ``solutions/notebooks/NN_name.py`` (see
``authoring/notebooks.py``): solution regions stubbed, hidden tests removed, model answers
replaced by a placeholder, no outputs.

First, the values the local checks compare with (``solutions/helpers/checks/nbN.npz``) are
recorded from the solutions and the catalogue of mistakes (``authoring/expected.py``, in a
process of its own where ``helpers`` is the solutions' library); a file is rewritten only
when its values changed beyond the checks' tolerances.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from authoring import notebooks, translate
from authoring.conventions import (ANSWER_PLACEHOLDER, CODE_PLACEHOLDER, HIDDEN_BEGIN, HIDDEN_END, MARK_SCHEME_BEGIN,
                               MARK_SCHEME_END, SOLUTION_BEGIN, SOLUTION_END, stub_lines, strip_region)

ROOT = Path(__file__).resolve().parents[1]
_DEF = re.compile(r"^(\s*)(?:async\s+)?(?:def|class)\s+(\w+)")


class ReleaseError(Exception):
    pass


def strip_solutions(text: str, where: str, keep=()) -> str:
    """Replace each solution region of a Python source with a stub naming its function.

    The stub names the exercise by its qualified name (``f``, or ``Class.method``).
    ``keep``: qualified names of exercises whose solution stays (markers dropped), as if a
    student had completed them (the tests build partly done libraries this way)."""
    out, inside, stack, kept = [], False, [], False
    for lineno, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if not inside:
            m = _DEF.match(line)
            if m:
                ind = len(m.group(1))
                stack = [(i, n) for i, n in stack if i < ind] + [(ind, m.group(2))]
            if stripped.startswith(SOLUTION_BEGIN):
                indent = line[: len(line) - len(line.lstrip())]
                live = [n for i, n in stack if i < len(indent)]
                name = ".".join(live) if live else Path(where).stem
                kept = name in keep
                if not kept:
                    out += stub_lines(indent, name, where)
                inside, start = True, lineno
                continue
            if stripped.startswith(SOLUTION_END):
                raise ReleaseError(f"{where}:{lineno}: {SOLUTION_END} without {SOLUTION_BEGIN}")
            out.append(line)
        elif stripped.startswith(SOLUTION_END):
            inside = False
        elif stripped.startswith(SOLUTION_BEGIN):
            raise ReleaseError(f"{where}:{lineno}: nested {SOLUTION_BEGIN}")
        elif kept:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}:{start}: {SOLUTION_BEGIN} is never closed")
    return "".join(out)


def student_notebook(nb: dict) -> dict:
    """The student copy of a solved notebook: no outputs, no solutions, no hidden tests."""
    nb = json.loads(json.dumps(nb))
    cells = []
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            src = strip_region(src, SOLUTION_BEGIN, SOLUTION_END, CODE_PLACEHOLDER)
            src = strip_region(src, HIDDEN_BEGIN, HIDDEN_END, None)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell["cell_type"] == "markdown":
            src = strip_region(src, MARK_SCHEME_BEGIN, MARK_SCHEME_END, None)
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                src = ANSWER_PLACEHOLDER
        cell["source"] = src.splitlines(keepends=True)
        cell.get("metadata", {}).pop("execution", None)
        cells.append(cell)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)   # saved widget state of the solved run
    return nb


def dump_notebook(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def plan(root: Path = ROOT) -> dict[Path, bytes]:
    """Every file of the student tree (relative path -> content) as the tool writes it."""
    files: dict[Path, bytes] = {}
    src = root / "solutions" / "helpers"
    for p in sorted(src.rglob("*")):
        if p.is_dir() or "__pycache__" in p.parts or p.suffix == ".pyc":
            continue
        rel = Path("helpers") / p.relative_to(src)
        if p.suffix == ".py":
            files[rel] = strip_solutions(p.read_text(), rel.as_posix()).encode()
        else:
            files[rel] = p.read_bytes()
    english = {p.stem: student_notebook(source_notebook(p)) for p in notebooks.sources(root)}
    for name, nb in english.items():
        files[Path("notebooks") / f"{name}.ipynb"] = dump_notebook(nb).encode()
    for lang in translate.LANGUAGES:               # the same notebooks, their prose translated
        summaries = exercise_summaries(root, lang)
        for name, nb in english.items():
            cat = translate.read_catalogue(translate.catalogue_path(root, lang, name), lang)
            files[Path("notebooks") / lang / f"{name}.ipynb"] = dump_notebook(
                translate.translate_notebook(nb, cat, lang, summaries)).encode()
        cat = translate.read_catalogue(translate.catalogue_path(root, lang, translate.README), lang)
        files[Path("notebooks") / lang / "README.md"] = translate.translate_readme(
            translate.student_readme(root), cat).encode()
    return files


def exercise_summaries(root: Path, lang: str) -> dict[str, str]:
    """{exercise (qualified name and key): its docstring's summary in ``lang``}, where the
    library's catalogue has a confirmed translation."""
    from authoring import messages
    from authoring.conventions import exercise_key
    helpers = Path(root) / "solutions" / "helpers"
    cat = translate.read_catalogue(messages.library_path(root, lang), lang)
    out = {}
    for module, names in messages.exercise_names(helpers).items():
        for q, summary in messages.docstring_summaries(helpers / f"{module}.py", names).items():
            t = translate.translation(cat, summary)
            if t:
                out[q] = out[exercise_key(q)] = t
    return out


def source_notebook(src: Path) -> dict:
    """The full notebook (solutions, hidden tests, model answers; no outputs) of a source,
    as plain JSON data: what the grader's assignment source is made of."""
    return json.loads(json.dumps(notebooks.read(src)))


def _existing(root: Path) -> set[Path]:
    found = set()
    for top in ("helpers", "notebooks"):
        for p in (root / top).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts \
                    and p.suffix != ".pyc":
                found.add(p.relative_to(root))
    return found


def check_data(root: Path = ROOT, write: bool = False) -> list[str]:
    """Record the checks' values from the solutions; with ``write``, update the files that
    changed. Returns what differs from the files (before writing)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-m", "authoring.expected", "--write" if write else "--check",
                        str(root / "solutions" / "helpers" / "checks")], cwd=root / "solutions", env=env,
                       capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise ReleaseError(f"recording the checks' values failed:\n{r.stderr.strip() or r.stdout.strip()}")
    return [line for line in r.stdout.splitlines() if line.strip()]


def differences(root: Path = ROOT) -> list[str]:
    diffs = check_data(root)
    want = plan(root)
    diffs += [f"differs: {rel}" for rel, data in want.items()
              if not (root / rel).exists() or (root / rel).read_bytes() != data]
    diffs += [f"not in solutions/: {rel}" for rel in sorted(_existing(root) - set(want))]
    return diffs


def write(root: Path = ROOT, log=print) -> list[Path]:
    for line in check_data(root, write=True):
        log(line.replace("differs", "updated"))
    want = plan(root)
    for rel in sorted(_existing(root) - set(want)):
        (root / rel).unlink()
    written = []
    for rel, data in want.items():
        dest = root / rel
        if dest.exists() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        written.append(rel)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write the student helpers/ and notebooks/ from solutions/.")
    ap.add_argument("--check", action="store_true", help="only report differences; exit 1 if any")
    args = ap.parse_args(argv)
    try:
        if args.check:
            diffs = differences()
            print("\n".join(diffs) if diffs else "student tree is in sync with solutions/")
            return 1 if diffs else 0
        written = write()
    except ReleaseError as e:
        print(f"release: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} file(s)" + "".join(f"\n  {w}" for w in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
