"""nbgrader preprocessors of the course (used by autograde, see config.py)."""
from __future__ import annotations

import ast

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Enum

SKIP_TAG = "skip-execution"      # nbclient does not run cells with this tag


def _code(src: str) -> str:
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def is_check_cell(src: str) -> bool:
    """A cell made only of ``check("...")`` calls (the local checks after an exercise)."""
    try:
        tree = ast.parse(_code(src))
    except SyntaxError:
        return False
    return bool(tree.body) and all(
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and getattr(n.value.func, "id", "") == "check"
        for n in tree.body)


class RunOnly(NbGraderPreprocessor):
    """Choose which cells the sandboxed kernel runs while autograding.

    ``graded`` (the default): the set-up cell (the first code cell), the local-check cells
    and the graded test cells: what the feedback needs, in seconds. ``all``: every cell (in
    fast mode, as nbgrader sets NBGRADER_EXECUTION): the feedback also shows the student's
    pictures. ``none``: nothing runs (used to keep a notebook gradable by hand when its run
    could not finish). Points never depend on this: the trusted judge decides them.
    """
    mode = Enum(["graded", "all", "none"], default_value="graded").tag(config=True)

    def preprocess(self, nb, resources):
        first = True
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            md = cell.metadata.get("nbgrader", {})
            run = self.mode == "all" or (self.mode == "graded" and (
                first or md.get("grade") or md.get("solution") or is_check_cell(cell.source)))
            first = False
            tags = [t for t in cell.metadata.get("tags", []) if t != SKIP_TAG]
            if not run:
                tags.append(SKIP_TAG)
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
        return nb, resources
