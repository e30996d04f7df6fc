"""The catalogue of mistakes (solutions/mistakes/nbN.toml) against the local checks and the graded cells.

Every realistic mistake in the catalogue, applied to the instructor's library one at a time:
its local check must fail with the mistake's own message (a ``message`` mistake: the check
found its stored value) or with a message containing its words (a ``property`` mistake), and
its graded cell (hidden tests included, judged as the grader's judge does it:
tests/mutation_lab.py) must not give full marks. A mistake marked harmless must pass both
(the claim is tested). Runs in-process on one thread: seconds for the whole catalogue.
"""
import ast
from collections import Counter
from pathlib import Path

import pytest
import torch

import mutation_lab as lab
from authoring.mistakes import load

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "solutions" / "notebooks"
CHECKS = ROOT / "solutions" / "helpers" / "checks"
MUTATIONS = load()


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors: a second thread only adds contention (ten times slower on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_every_exercise_has_three_real_mistakes():
    from authoring.conventions import exercise_functions, exercise_key
    exercises = {(mod.split(".")[1], q) for mod, names in exercise_functions(ROOT / "helpers").items() for q in names}
    assert len(exercises) >= 38
    real = Counter((m.module, m.function) for m in MUTATIONS if not m.harmless)
    thin = sorted(f"{mod}.{q} ({real[mod, q]})" for mod, q in exercises if real[mod, q] < 3)
    assert not thin, f"exercises with fewer than 3 non-harmless mutations: {thin}"
    unknown = {(m.module, m.function) for m in MUTATIONS} - exercises
    assert not unknown, f"mutations of functions that are not exercises: {unknown}"
    ids = Counter(m.id for m in MUTATIONS)
    assert all(n == 1 for n in ids.values()), [i for i, n in ids.items() if n > 1]
    assert all(m.id.split("/")[0] == exercise_key(m.function) for m in MUTATIONS)


def test_every_assert_in_the_checks_has_a_message():
    bare = [f"{p.name}:{n.lineno}" for p in sorted(CHECKS.glob("*.py"))
            for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Assert) and n.msg is None]
    assert not bare, f"bare asserts in the checks ({bare}): a failing one would print no message"


def test_every_mistake_kind_is_used_as_documented():
    """A ``message`` mistake's message is stored (the release recorded its value); a
    ``property`` mistake names words of a property written in its check's module."""
    from helpers.checks.core import REGISTRY, load
    stored = {mid for c in REGISTRY.values() for case in load(c.data).values() for mid, _, _ in case.mistakes}
    for m in MUTATIONS:
        if m.message:
            assert m.id in stored, f"{m.id}: no stored value (run `bash course.sh release`)"
        if m.caught_by:
            text = (CHECKS / f"nb{m.notebook}.py").read_text()
            assert m.caught_by in text, f"{m.id}: no property of nb{m.notebook}.py says {m.caught_by!r}"


def test_the_solutions_pass_every_check_and_graded_cell():
    from helpers.checks import CHECKS as NAMES
    failed = {name: line for name in NAMES for ok, line in [lab.run_check(name)] if not ok}
    assert not failed, failed
    cells = lab.graded_cells(NOTEBOOKS)
    bad = {g: v.message for g in cells for v in [lab.run_graded(g, NOTEBOOKS)] if not v.ok}
    assert not bad, bad


OWN_RANDOM_STATE = {"randomized_weights/unseeded"}


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation(m):
    r = lab.judge_mutation(m, NOTEBOOKS)     # a snippet that no longer applies raises CatalogueRot
    assert r["graded"], f"no graded cell for {m.id}"
    if m.harmless:
        assert r["check_passed"], f"claimed harmless ({m.harmless}), but the check says: {r['line']}"
        assert r["full_marks"], f"claimed harmless ({m.harmless}), but the graded cell says: {r['graded']}"
        return
    assert r["kind"] in ("FAILED", "ERROR"), f"the local check did not catch it: {r['line']}"
    assert r["named"], f"the local check's message does not name it (expected {m.message or m.caught_by!r}): " \
                       f"{r['line']}"
    assert not r["full_marks"], f"the graded cell gives full marks: {r['graded']}"
    # the grader records the mistake (what the class report counts): this one, or one that the
    # checks cannot tell from it (the same message, given for the same values)
    # (an unseeded draw is the exception: the grader's worker has a random state of its own, by
    # design, so the draw differs from the stored one: wrong, without a name)
    words = {x.id: x.message or x.caught_by for x in MUTATIONS}
    recorded = [v.mistake for v in r["graded"].values() if not v.ok]
    if m.id in OWN_RANDOM_STATE:
        assert recorded == ["none of the usual mistakes"] * len(recorded), recorded
    else:
        assert all(words.get(x) == words[m.id] for x in recorded), f"the grader does not record {m.id}: {r['graded']}"
