"""Local checks for notebook 3 (helpers/ascent.py). Run: bash course.sh check -k nb3"""
import pytest

from helpers.checks import NB3


@pytest.mark.parametrize("name", list(NB3))
def test_nb3(name):
    NB3[name]()
