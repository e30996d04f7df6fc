"""Tiny helpers to write course notebooks from Python (used while authoring).

The committed solved notebooks in solutions/notebooks are the source of truth; this only
saves typing JSON. Cells: md("text"), code("src", nbgrader=dict(...), tags=[...]).
"""
from __future__ import annotations

import nbformat

SETUP = '''%load_ext autoreload
%autoreload 2
%config InlineBackend.figure_formats = ["jpeg"]
%config InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "pil_kwargs": {"quality": 90}}
import sys, pathlib
# find the helpers package: beside this notebook (nbgrader) or one folder up (the course)
for _p in (pathlib.Path.cwd(), pathlib.Path.cwd().parent):
    if (_p / "helpers").is_dir():
        sys.path.insert(0, str(_p))
        break'''


def md(src, **nbgrader):
    c = nbformat.v4.new_markdown_cell(src.strip("\n"))
    if nbgrader:
        c.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return c


def code(src, tags=None, **nbgrader):
    c = nbformat.v4.new_code_cell(src.strip("\n"))
    if tags:
        c.metadata["tags"] = list(tags)
    if nbgrader:
        c.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return c


def solution(src, grade_id):
    return code(src, solution=True, grade=False, locked=False, grade_id=grade_id)


def tests(src, grade_id, points):
    return code(src, solution=False, grade=True, locked=True, points=points, grade_id=grade_id)


def answer(grade_id, points, model_answer):
    """A manually graded written answer: the solved notebook holds the model answer; the
    release tool replaces the whole cell with "YOUR ANSWER HERE"."""
    return md("**Model answer.** " + model_answer.strip(), solution=True, grade=True, locked=False,
              points=points, grade_id=grade_id)


def notebook(cells, path):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return nb
