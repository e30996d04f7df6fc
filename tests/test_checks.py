"""The local checks' machinery (helpers/checks/core.py) on tiny hand-made cases: how a result
is compared with the stored value, which mistake is named, and what a failing check shows."""
import re

import numpy as np
import pytest
import torch

from helpers.checks import CheckFailed, check, core


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Register checks that run ``body(expect)`` against data saved in a temporary file."""
    data = tmp_path / "nb9.npz"

    def register(name, body, cases=None):
        if cases is not None:
            core.save(data, cases)
        monkeypatch.setitem(core.REGISTRY, name, core.Check(name, 9, body, data))
    return register


def arrays(x):
    return core.as_arrays(x)


def test_values_become_named_arrays_of_a_few_types():
    got = arrays((torch.tensor([1.5], dtype=torch.float16), np.int32(3), {"w": torch.ones(2, dtype=torch.bool)}))
    assert set(got) == {"0", "1", "2/w"}
    assert got["0"].dtype == np.float64 and got["1"].dtype == np.int64 and got["2/w"].dtype == bool
    assert arrays(["text"]) is None and arrays(object()) is None


def test_same_uses_the_tolerance_and_exact_integers():
    a = arrays(torch.tensor([1.0, 2.0]))
    assert core.same(arrays(torch.tensor([1.0, 2.0 + 1e-7])), a, 1e-6, 0)
    assert not core.same(arrays(torch.tensor([1.0, 2.1])), a, 1e-6, 0)
    assert not core.same(arrays(torch.tensor([[1.0, 2.0]])), a, 1e-6, 0), "another shape is not the same"
    assert not core.same(arrays(torch.tensor([1, 3])), arrays(torch.tensor([1, 2])), 10, 10), "integers exactly"


def test_save_and_load_round_trip_with_fixed_bytes(tmp_path):
    cases = {"c/one": core.Case(arrays(torch.tensor([0.1, 0.2])), 1e-6, 0.0,
                                [("c/m", "the message", arrays(torch.tensor([0.2, 0.4])))]),
             "c/two": core.Case(arrays((3, torch.tensor([True, False]))), 0.0, 0.0)}
    core.save(tmp_path / "a.npz", cases)
    core.save(tmp_path / "b.npz", cases)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes(), "no dates in the file"
    back = core.load(tmp_path / "a.npz")
    assert list(back) == ["c/one", "c/two"]
    assert core.same(back["c/one"].expected, cases["c/one"].expected, 0, 0)
    assert back["c/one"].mistakes[0][:2] == ("c/m", "the message")
    assert back["c/two"].expected["1"].dtype == bool and int(back["c/two"].expected["0"]) == 3


def _cases():
    want = arrays(torch.tensor([1.0, 2.0, 3.0]))
    return {"t/first": core.Case(arrays(torch.tensor(5.0)), 1e-6, 0.0, [("t/early", "early mistake", arrays(6.0))]),
            "t/case": core.Case(want, 1e-6, 0.0, [
                ("t/early", "early mistake", arrays(torch.tensor([2.0, 4.0, 6.0]))),
                ("t/double", "you doubled it", arrays(torch.tensor([2.0, 4.0, 6.0]))),
                ("t/neg", "sign", arrays(torch.tensor([-1.0, -2.0, -3.0]))),
                ("t/row", "a row, not a vector", arrays(torch.tensor([[1.0, 2.0, 3.0]])))])}


def _body(first, result):
    def run():
        core.expect("first", first, "five")
        core.expect("case", result, "the values 1, 2, 3")
    return run


@pytest.mark.parametrize("result, message", [
    (torch.tensor([2.0, 4.0, 6.0]), "you doubled it"),          # early mistake ruled out: case 'first' passed
    (torch.tensor([-1.0, -2.0, -3.0 + 1e-5]), "sign"),           # not within the tolerance, but near
    (torch.tensor([[1.0, 2.0, 3.0]]), "a row, not a vector"),     # a mistake of another shape
    (torch.tensor([7.0, 8.0, 9.0]), "the values 1, 2, 3 (your result matches none of the usual mistakes: "
                                    "expected [1., 2., 3.], got [7., 8., 9.])"),
    (torch.tensor([1.0, 2.0]), "the values 1, 2, 3 (expected a result of shape (3,), got (2,))"),
    ("three", "the values 1, 2, 3 (your result matches none of the usual mistakes: expected [1., 2., 3.], got "
              "something that is not numbers)"),
])
def test_a_wrong_result_names_the_nearest_mistake_or_says_none(fake, result, message):
    fake("t", _body(5.0, result), _cases())
    with pytest.raises(CheckFailed) as e:
        check("t")
    assert e.value.lines == [("t", "FAILED", message)]


def test_a_mistake_that_would_have_failed_an_earlier_case_is_not_named(fake):
    fake("t", _body(6.0, torch.tensor([2.0, 4.0, 6.0])), _cases())
    with pytest.raises(CheckFailed, match=r"\[FAILED\] t: early mistake"):
        check("t")


def test_check_prints_passed_and_raises_one_line_per_failure(fake, capsys):
    fake("t", _body(5.0, torch.tensor([1.0, 2.0, 3.0])), _cases())
    assert check("t") is True
    assert capsys.readouterr().out == "[passed] t: all local checks passed\n"
    fake("bare", lambda: (_ for _ in ()).throw(AssertionError()))

    def crash():
        from helpers import features
        features.receptive_field([(3, 1, 1)])        # the library raises a CourseError inside its code
    fake("crash", crash)
    fake("todo", lambda: (_ for _ in ()).throw(NotImplementedError("exercise `x` is not done yet")))
    with pytest.raises(CheckFailed) as e:
        check("t", "bare", "crash", "todo")
    assert capsys.readouterr().out == "[passed] t: all local checks passed\n"
    (n1, s1, m1), (n2, s2, m2), (n3, s3, m3) = e.value.lines
    assert (n1, s1) == ("bare", "FAILED") and re.fullmatch(r"a check failed at \S+\.py:\d+ in \S+", m1), m1
    assert (n2, s2) == ("crash", "ERROR") and m2.startswith("CourseError:") and "(at features.py:" in m2, m2
    assert (n3, s3, m3) == ("todo", "not done", "exercise `x` is not done yet")
    assert str(e.value).splitlines()[0].startswith("[FAILED] bare: a check failed at")
    assert len(e.value._render_traceback_()) == 3, "a notebook shows the lines, not a traceback"
    with pytest.raises(ValueError, match="unknown check 'normalise_filters'; did you mean 'normalize_filters'"):
        check("normalise_filters")


def test_a_check_leaves_the_callers_random_state_and_threads_alone(fake):
    fake("noisy", lambda: (torch.rand(3), np.random.rand(3), torch.set_num_threads(1)))
    torch.manual_seed(5)
    np.random.seed(5)
    threads = torch.get_num_threads()
    state, np_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    check("noisy")
    assert torch.equal(torch.random.get_rng_state(), state) and (np.random.get_state()[1] == np_state).all()
    assert torch.get_num_threads() == threads


# ----------------------------------------------------------------------------- what the checks may do
# The shipped check modules call your functions, compare with stored values and test properties.
# They build their inputs with a few constructors and never compute an answer: no gradients, no
# network of their own, no formula of an exercise. Every call in helpers/checks/nbN.py must be one
# of these (a deliberate allow-list: a pasted reference, e.g. `torch.einsum(...)`, `.softmax(-1)`,
# `torch.autograd.grad`, `.backward()`, `torch.quantile`, `KMeans`, `torch.roll`, fails the test).
ALLOWED_CALLS = {
    # the checks' own machinery and inputs
    "check_of", "expect", "close", "require", "signs_of_rows", "shape_of",
    "formula_model", "linear_model", "batchnorm_net", "tiny_cnn", "_seeded", "_attack_inputs",
    # building inputs
    "tensor", "zeros", "ones", "full", "full_like", "zeros_like", "rand", "randn", "arange", "Generator",
    "manual_seed", "default_rng", "integers", "clone", "view", "float", "double", "copy_", "fill_", "no_grad", "stack",
    # properties of your results
    "equal", "isfinite", "get_rng_state", "state_dict", "modules", "items", "all", "any", "min", "max", "abs",
    "diagonal", "unique",
    # Python
    "isinstance", "type", "len", "int", "tuple", "list", "set", "sorted", "range", "zip", "getattr", "hasattr",
    "str", "dict", "AssertionError", "append",
}
PLUMBING_UNDER_TEST = {"St.efros_leung"}     # checks of the course's own code that calls the exercises
LIBRARY = {"Fe": "features", "Sa": "saliency", "Tr": "trust", "As": "ascent", "In": "inversion", "St": "style"}


def _calls(path):
    """(line, callee, is a library call) of every call in a module; a name bound to what an
    exercise returned (an instance of an exercise's class: `cin = St.ConditionalInstanceNorm(...)`)
    or to a function of the module itself is called as "yours"."""
    import ast
    tree = ast.parse(path.read_text())
    yours = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute) \
                and getattr(n.value.func.value, "id", "") in LIBRARY:
            yours |= {t.id for t in n.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in LIBRARY:
                yield node.lineno, f"{f.value.id}.{f.attr}", True
            elif isinstance(f, ast.Name) and f.id in yours:
                continue
            else:
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "?")
                yield node.lineno, name, False
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.MatMult, ast.Pow)):
            yield node.lineno, "a matrix product or a power", False
        elif isinstance(node, ast.Lambda):
            yield node.lineno, "a lambda", False


def test_the_check_modules_compute_no_answers():
    """nbN.py calls only exercises (of the library modules), its machinery, input builders
    and property tests; core.py and inputs.py never import an exercise module or take a
    gradient."""
    from pathlib import Path

    from authoring.conventions import exercise_functions
    here = Path(core.__file__).parent
    released = exercise_functions(Path(__file__).resolve().parents[1] / "helpers")
    exercises = {f"{alias}.{q.split('.')[0]}" for alias, mod in LIBRARY.items() for q in released[f"helpers.{mod}"]}
    bad = []
    for path in sorted(here.glob("nb*.py")):
        for line, name, library in _calls(path):
            if (library and name not in exercises | PLUMBING_UNDER_TEST) or (not library and name not in ALLOWED_CALLS):
                bad.append(f"{path.name}:{line} {name}")
    assert not bad, "the checks may only call exercises, their machinery, input builders and property tests:\n" + \
        "\n".join(bad)
    import ast
    for path in (here / "core.py", here / "inputs.py", here / "__init__.py"):
        tree = ast.parse(path.read_text())
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | \
            {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names} | \
            {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"backward", "autograd", "grad", "functional", "einsum", "softmax"}, \
            f"{path.name}: the checks' machinery computes no answer"
        assert not imported & set(LIBRARY.values()), f"{path.name} imports an exercise module"
