"""Local checks for notebook 5 (helpers/style.py). Run: bash course.sh check -k nb5"""
import pytest

from helpers.checks import NB5


@pytest.mark.parametrize("name", list(NB5))
def test_nb5(name):
    NB5[name]()
