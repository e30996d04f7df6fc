"""The course's authoring side (never shipped to students): the catalogue of usual mistakes
(``mistakes.py``) and the values the local checks compare with (``expected.py``)."""
