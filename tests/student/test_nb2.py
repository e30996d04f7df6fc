"""Local checks for notebook 2 (helpers/saliency.py). Run: bash course.sh check -k nb2"""
import pytest

from helpers.checks import NB2


@pytest.mark.parametrize("name", list(NB2))
def test_nb2(name):
    NB2[name]()
