"""Local checks for notebook 1 (helpers/features.py). Run: bash course.sh check -k nb1"""
import pytest

from helpers.checks import NB1


@pytest.mark.parametrize("name", list(NB1))
def test_nb1(name):
    NB1[name]()
