"""The similarity report (``autograde/similarity.py``) on real files: a mini course of six
exercises of notebook 1, its real release stubs, and six students:

- A: the reference solutions (``solutions/helpers/features.py``);
- B: A's code with the variables renamed, other comments, blank lines added and removed;
- C: an independent correct solution (``tests/fixtures/other_solution/features.py``, checked
  here to pass the local checks);
- D, E: the release as given (every exercise still a stub);
- F: A's code with a syntax error (its functions cut out by their lines, and the report says so);
- G: B's code edited a little more: other calls for the same thing (``clamp(min=...)``,
  ``pow(2)``, ``torch.gather``...), two statements swapped.

The pairs among A, B, F and G must be flagged; no pair with C, D or E may be. The numbers are
printed (``pytest -s``): they are what the settings of ``similarity.py`` are chosen from.
"""
from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from authoring.conventions import SOLUTION_BEGIN, SOLUTION_END  # noqa: E402
from autograde import similarity as S  # noqa: E402
from autograde.course import Course, GraderError  # noqa: E402
from minicourse import mini_root  # noqa: E402

A = "01_features"
EXERCISES = ["normalize_filters", "pairwise_distances", "nearest_neighbors", "pca", "receptive_field",
             "top_activations"]
OTHER = ROOT / "tests" / "fixtures" / "other_solution" / "features.py"
COPIES = {("A", "B"), ("A", "F"), ("B", "F"), ("A", "G"), ("B", "G"), ("F", "G")}
RENAMES = {"flat": "flattened", "lo": "smallest", "hi": "largest", "sq": "squared_dist", "order": "ranking",
           "mean": "average", "xc": "centred", "vt": "v_transposed", "var": "variances", "comps": "top",
           "k_eff": "effective_k", "maps": "channel_maps", "best": "peaks", "where": "peak_at", "pos": "flat_pos"}


def splice(target: str, functions: str) -> str:
    """``target`` (a module's source) with its top-level functions replaced by those of the same
    name in ``functions``."""
    new = {n.name: ast.get_source_segment(functions, n) for n in ast.parse(functions).body
           if isinstance(n, ast.FunctionDef)}
    lines = target.splitlines(keepends=True)
    for n in sorted((n for n in ast.parse(target).body if isinstance(n, ast.FunctionDef) and n.name in new),
                    key=lambda n: -n.lineno):
        lines[n.lineno - 1:n.end_lineno] = [new[n.name] + "\n"]
    return "".join(lines)


def without_markers(src: str) -> str:
    """The solutions' module as a student who wrote the reference bodies would hand it in."""
    return "".join(line for line in src.splitlines(keepends=True)
                   if not line.strip().startswith((SOLUTION_BEGIN, SOLUTION_END)))


def disguised(src: str) -> str:
    """The solutions' module with the solution regions disguised: local names renamed (not
    attributes), every comment reworded, a comment and blank lines added, then the markers
    dropped."""
    regions, inside = set(), False
    for i, line in enumerate(src.splitlines(), 1):
        if line.strip().startswith(SOLUTION_BEGIN):
            inside = True
        elif line.strip().startswith(SOLUTION_END):
            inside = False
        elif inside:
            regions.add(i)
    edits, prev = {}, None
    for t in tokenize.generate_tokens(io.StringIO(src).readline):
        if t.start[0] in regions:
            if t.type == tokenize.NAME and t.string in RENAMES and prev != ".":
                edits.setdefault(t.start[0], []).append((t.start[1], t.end[1], RENAMES[t.string]))
            elif t.type == tokenize.COMMENT:
                edits.setdefault(t.start[0], []).append((t.start[1], t.end[1], "# my own way of doing it"))
        prev = t.string
    out = []
    for i, line in enumerate(src.splitlines(keepends=True), 1):
        for start, end, new in sorted(edits.get(i, []), reverse=True):
            line = line[:start] + new + line[end:]
        if line.strip().startswith(SOLUTION_BEGIN):
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# worked this out on paper first\n", "\n"]
        elif line.strip().startswith(SOLUTION_END):
            continue
        else:
            out.append(line)
            if i in regions and line.rstrip().endswith(")"):
                out.append("\n")
    return "".join(out)


EDITS = [(".clamp_min(", ".clamp(min="), (".view(-1, 1, 1, 1)", ".reshape(-1, 1, 1, 1)"),
         ("(q * q).sum(1, keepdim=True)", "q.pow(2).sum(1, keepdim=True)"),
         ("return d.gather(1, ranking), ranking", "return torch.gather(d, 1, ranking), ranking"),
         ("variances = s ** 2", "variances = s * s"),
         ("        size += (effective_k - 1) * stride\n        offset -= p * stride\n",
          "        offset -= p * stride\n        size += (effective_k - 1) * stride\n"),
         ("flat_pos // w, flat_pos % w", "torch.div(flat_pos, w, rounding_mode=\"floor\"), flat_pos % w")]


def edited(src: str) -> str:
    """:func:`disguised`'s output with :data:`EDITS` made (each must apply)."""
    for old, new in EDITS:
        assert old in src, old
        src = src.replace(old, new)
    return src


def run_checks(helpers_dir: Path, names) -> dict:
    """``helpers.checks.run(name)`` of each exercise for the library ``helpers_dir``, in a fresh
    interpreter (this one has the solutions' ``helpers``): {name: None when it passes, else why}."""
    code = ("import json, sys; from helpers.checks import core; import helpers.checks; "
            "print(json.dumps({n: (core.run(n) or [None])[0] for n in sys.argv[1:]}))")
    r = subprocess.run([sys.executable, "-c", code, *names], cwd=helpers_dir.parent, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("similarity")
    root = mini_root(base / "root", {A: (EXERCISES, "nb1_q1")})
    c = Course(base / "home", root)
    c.write_sources()              # the release tool's stubs in source/<a>/ (nbgrader's release is not needed)
    given = c.source / A / "helpers"
    solutions = (root / "solutions" / "helpers" / "features.py").read_text()
    sources = {"A": without_markers(solutions), "B": disguised(solutions),
               "C": splice((given / "features.py").read_text(), OTHER.read_text()),
               "D": None, "E": None, "F": without_markers(solutions) + "\ndef unfinished(x:\n    return x\n",
               "G": edited(disguised(solutions))}
    inc = base / "incoming"
    for s, src in sources.items():
        shutil.copytree(given, inc / s / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(c.source_notebook(A), inc / s / f"{A}.ipynb")
        if src is not None:
            (inc / s / "helpers" / "features.py").write_text(src)
    c.collect(inc, [A], log=lambda *x: None)
    return c


def test_the_other_solution_and_the_disguised_copies_pass_the_local_checks(course, tmp_path):
    lib = tmp_path / "helpers"
    shutil.copytree(ROOT / "solutions" / "helpers", lib, ignore=shutil.ignore_patterns("__pycache__"))
    for s in ("C", "B", "G"):
        shutil.copyfile(course.submitted / s / A / "helpers" / "features.py", lib / "features.py")
        if s == "C":    # its stubs (extract_features) from the solutions, so that nothing else is missing
            (lib / "features.py").write_text(splice((ROOT / "solutions" / "helpers" / "features.py").read_text(),
                                                    OTHER.read_text()))
            assert "torch.linalg.eigh" in (lib / "features.py").read_text()
        assert run_checks(lib, EXERCISES) == {n: None for n in EXERCISES}, s
    b = (course.submitted / "B" / A / "helpers" / "features.py").read_text()
    a = (course.submitted / "A" / A / "helpers" / "features.py").read_text()
    assert "k_eff = " in a and "k_eff = " not in b and "effective_k = " in b and b.count("\n") > a.count("\n")


def _numbers(data):
    return {(p["a"], p["b"]): p for p in data["pairs"]}


def test_flags_the_copies_and_only_them(course):
    page = S.similarity(course, A, log=print)
    assert page == course.home / "reports" / f"similarity-{A}.html"
    data = json.loads(page.with_suffix(".json").read_text())
    pairs = _numbers(data)
    print("\nsimilarity (first side, second side, token overlap), "
          f"k={S.NOISE_T}, guarantee={S.GUARANTEE_T}, own tokens: {data['own_tokens']}")
    for (x, y), p in sorted(pairs.items()):
        print(f"  {x}-{y}: {100 * p['similarity_a']:5.1f} % {100 * p['similarity_b']:5.1f} % "
              f"{p['overlap']:4d}{'  FLAGGED' if p['flagged'] else ''}")
    assert len(pairs) == 21 and data["students"] == list("ABCDEFG")
    assert data["exercises"] == EXERCISES
    assert {k for k, p in pairs.items() if p["flagged"]} == COPIES
    assert pairs["A", "B"]["similarity_a"] >= 0.9 and pairs["A", "B"]["similarity_b"] >= 0.9
    for x, y in [("A", "C"), ("B", "C"), ("C", "F"), ("C", "G")]:   # an independent solution: well under
        assert max(pairs[x, y]["similarity_a"], pairs[x, y]["similarity_b"]) < S.FLAG_THRESHOLD / 2, (x, y)
    assert data["own_tokens"]["D"] == data["own_tokens"]["E"] == 0    # the release as given: nothing of theirs
    for k, p in pairs.items():
        if "D" in k or "E" in k:
            assert p["similarity_a"] == p["similarity_b"] == 0 and p["overlap"] == 0, k
    assert any("does not parse" in n for n in data["notes"]["F"])
    assert any("not done" in n for n in data["notes"]["D"])
    text = page.read_text()
    assert S.NEVER_A_VERDICT.replace("'", "&#x27;") in text
    assert "<h2 id='A--B'>" in text and "<h2 id='A--F'>" in text and "<mark>" in text
    for x, y in [(x, y) for (x, y) in pairs if (x, y) not in COPIES]:
        assert f"id='{x}--{y}'" not in text
    assert not any(bad in text for bad in ("http", "<script", "<link", "src=", "@import"))     # self-contained
    assert f"noise threshold k = {S.NOISE_T}" in text and f"{100 * S.FLAG_THRESHOLD:.0f} %" in text
    assert S.similarity(course, A, log=lambda *x: None) == page and page.read_text() == text   # re-run: the same


def test_release_against_release_and_the_settings_measured(course):
    """What the boilerplate and k do: the given code alone makes the untouched releases identical
    (D-E 100 % without it); a shorter k raises the independent pairs towards the flag threshold."""
    data = json.loads(S.similarity(course, A, log=lambda *x: None, remove_given=False)
                      .with_suffix(".json").read_text())
    pairs = _numbers(data)
    print(f"\ngiven code kept: D-E {pairs['D', 'E']['similarity_a']:.2f}, "
          f"A-D {pairs['A', 'D']['similarity_a']:.2f}/{pairs['A', 'D']['similarity_b']:.2f}, "
          f"A-C {pairs['A', 'C']['similarity_a']:.2f}/{pairs['A', 'C']['similarity_b']:.2f}")
    assert pairs["D", "E"]["similarity_a"] == 1 and pairs["D", "E"]["flagged"]
    honest = {}
    for k in (8, 10, 12, 16, 25):
        pairs = _numbers(json.loads(S.similarity(course, A, log=lambda *x: None, noise_t=k, guarantee_t=k)
                                    .with_suffix(".json").read_text()))
        honest[k] = max(max(p["similarity_a"], p["similarity_b"]) for (x, y), p in pairs.items() if "C" in (x, y))
        print(f"  k={k:2d}: A-B {pairs['A', 'B']['similarity_a']:.2f}/{pairs['A', 'B']['similarity_b']:.2f} "
              f"(overlap {pairs['A', 'B']['overlap']}), A-G {pairs['A', 'G']['similarity_a']:.2f}/"
              f"{pairs['A', 'G']['similarity_b']:.2f} (overlap {pairs['A', 'G']['overlap']}), "
              f"highest pair with C {honest[k]:.2f}")
    assert honest[8] > honest[S.NOISE_T] > honest[25]
    S.similarity(course, A, log=lambda *x: None)      # leave the report of the defaults


def test_bad_input_is_a_clear_error(course, tmp_path):
    with pytest.raises(GraderError, match="unknown assignment"):
        S.similarity(course, "99_nothing")
    empty = Course(tmp_path / "home", course.root)
    with pytest.raises(GraderError, match="not released"):
        S.similarity(empty, A)
    empty.write_sources()
    with pytest.raises(GraderError, match="nothing collected"):
        S.similarity(empty, A)
