"""Local checks for notebook 4 (helpers/inversion.py). Run: bash course.sh check -k nb4"""
import pytest

from helpers.checks import NB4


@pytest.mark.parametrize("name", list(NB4))
def test_nb4(name):
    NB4[name]()
