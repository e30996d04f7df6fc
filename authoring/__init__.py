"""The course's authoring format, in one package (never shipped to students): imported by the
release tool, the grader (``autograde/``) and the tests; ``tools/`` holds only scripts.

- ``conventions``: the markers, the stub's text, how an exercise is found, hidden lines;
- ``notebooks``: the notebook sources (jupytext percent files) and the solved notebooks;
- ``release``: the student tree written from ``solutions/`` (``python -m authoring.release``);
- ``mistakes``: the catalogue of usual mistakes (``solutions/mistakes/nbN.toml``) and how one
  is applied to the library;
- ``expected``: the values the local checks compare with, recorded from the solutions and the
  catalogue.
"""
