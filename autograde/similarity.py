"""Similarity of the students' exercise code: which pairs of submissions to look at.

``similarity(course, "01_features")`` writes ``reports/similarity-01_features.html`` in the
course folder (one page, inline CSS, no server, nothing external) and
``reports/similarity-01_features.json`` (the numbers of every pair, exercise by exercise);
re-running overwrites both. A flagged pair is a prompt to read two codes side by side, never a
verdict (:data:`NEVER_A_VERDICT`, at the top of the page).

**What is compared.** The exercises of an assignment are those its graded cells check
(``check("name")``); :func:`authoring.conventions.exercise_functions` finds their functions in
the release's stubs (``release/<a>/helpers/``, else ``source/<a>/helpers/``). For each student,
read with ``ast`` from their ``helpers/*.py``: each of those functions as written, and the
module-level code of those modules that is neither an exercise nor in the release as it stands
(a helper function of their own, a changed one: copied code can hide there). A module that does
not parse has its functions cut out by their ``def`` lines instead, and the report says so. Each
exercise is compared only with the same exercise of the other student, and the code of one's
own only with the other's code of their own (a body moved into a helper function is compared
with the other's helpers, not with their exercise: a limit).

**The given code never counts**, twice over: the lines of a student's function that are lines of
the release's stub of it (signature, docstring, given lines, in order: ``difflib``) are left out
before the comparison, and the release's stubs and modules are copydetect's boilerplate (any
run of given code that is left, re-indented or moved, is dropped). Leaving the given lines out
matters: with the boilerplate alone, the runs that straddle the end of a given line and the
start of the student's (``.cpu()`` + ``x = ``) are shared by everybody, and the independent
solution below measured 19 to 30 % instead of 8 to 18 %. Students who changed nothing (the
release as given) have no code of their own and are never flagged.

**How.** copydetect 0.5.0 (MOSS's winnowing): the code is tokenized by Pygments and normalized
(every name becomes ``V``, every string ``S``; comments, blank lines and spaces dropped), so
renaming variables, rewording comments or re-spacing changes nothing. Every run of ``noise_t``
characters of normalized code is hashed; winnowing keeps the smallest hash of each window of
``guarantee_t - noise_t + 1`` (any common run of ``guarantee_t`` is certain to be found). A
student's similarity to another: the share of their own normalized code, over all exercises,
covered by runs also in the other's; the token overlap: that shared length (a name, a digit, an
operator count one each).

**Settings**, measured by ``tests/test_similarity.py`` (``pytest -s`` prints them) on six
exercises of notebook 1, 436 tokens of own code for the reference solutions (bodies of 31 to 98
tokens): a copy with renamed variables, other comments and blank lines scores 100 % / 100 %; the
same with other calls for the same things and two statements swapped 90 % / 86 %; an independent
correct solution 8 to 18 % against any of them; the untouched release 0 % against everything
(100 % against another untouched release, and the reference 67 % / 84 % against it, when the
given code is kept).

- ``noise_t = guarantee_t = 12`` (window 1: every run kept; the code is small). The highest
  independent pair is 37 % at k = 8, 24 % at 10, 18 % at 12, 12 % at 16, 8 % at 25
  (copydetect's default); the shortest body (``receptive_field``, 31 tokens) with two
  statements swapped is still seen at 12 (39 %) and no more at 16. 12 keeps the independent
  pairs under 40 % of the flag threshold (at 10: half of it; at 8: three quarters).
- ``display_t = 0.25``: pairs from 25 % (either side) are listed for context, not flagged.
- ``FLAG_THRESHOLD = 0.5`` on the larger side and ``MIN_OVERLAP = 40`` tokens: flagged when at
  least half of one student's own code is also in the other's. 0.5 is about three times the
  highest independent pair and well under the edited copy; the larger side catches a student who
  copied part of someone's work (their side is high, the other's low); the floor (about half an
  exercise body) keeps someone who wrote only a line or two from being flagged by a stock phrase.
"""
from __future__ import annotations

import ast
import difflib
import html
import itertools
import json
import re
import tempfile
import textwrap
from pathlib import Path

from authoring.conventions import exercise_functions, exercise_key, exercises_in

from .course import GraderError

NOISE_T = 12            # k: the shortest run of normalized code that counts
GUARANTEE_T = 12        # any common run this long is certain to be found (window = 1)
DISPLAY_THRESHOLD = 0.25  # listed in the report's table of similar pairs
FLAG_THRESHOLD = 0.5    # flagged: this share of one side's own code ...
MIN_OVERLAP = 40        # ... and at least this many matched characters of normalized code
MAX_SHOWN = 200         # flagged pairs shown side by side (all are in the table and the JSON)

OTHER = "(other code)"   # the unit of a module's code that is neither an exercise nor the release's
NEVER_A_VERDICT = ("A flagged pair is a prompt to look at two codes side by side, never a verdict: "
                   "short exercises with one natural solution, the course's own examples and help that "
                   "was allowed all look alike. Read the code, and talk with the students, before "
                   "concluding anything.")


# ---------------------------------------------------------------------------- what is compared
def checked_exercises(cells: list[dict]) -> list[str]:
    """The exercise names that graded cells check: ``check("a")``, ``check("a", "b")``, in order."""
    names = []
    for c in cells:
        for args in re.findall(r"\bcheck\(([^)]*)\)", c["source"]):
            names += [n for n in re.findall(r"""["'](\w+)["']""", args) if n not in names]
    return names


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    """{qualified name: node} of the functions and methods of a module."""
    out = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, prefix + [child.name])
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.setdefault(".".join(prefix + [child.name]), child)
    visit(tree, [])
    return out


def _segment(lines: list[str], node: ast.AST) -> str:
    """A statement's lines as written (decorators included), dedented."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return textwrap.dedent("".join(lines[start - 1:node.end_lineno])).rstrip() + "\n"


def _not_given(body: list, given: list, wanted: set[str], prefix: str = "") -> list:
    """Statements of ``body`` that are neither a function of ``wanted`` (qualified names) nor, as
    they stand, in ``given`` (the release's statements at the same level); classes that hold one
    of ``wanted`` are looked into."""
    same = {ast.dump(s) for s in given}
    classes = {s.name: s.body for s in given if isinstance(s, ast.ClassDef)}
    out = []
    for s in body:
        name = prefix + getattr(s, "name", "")
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in wanted:
            continue
        if isinstance(s, ast.ClassDef) and any(w.startswith(name + ".") for w in wanted):
            out += _not_given(s.body, classes.get(s.name, []), wanted, name + ".")
        elif ast.dump(s) not in same:
            out.append(s)
    return out


def _cut(source: str, qualname: str) -> str | None:
    """Function ``qualname`` (its last name) of a module that does not parse, cut by its lines:
    from its ``def`` line to the next line as little indented (not blank, a comment or a closing
    bracket)."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = re.match(rf"([ \t]*)(async\s+)?def\s+{re.escape(qualname.split('.')[-1])}\s*\(", line)
        if m:
            indent, end = len(m.group(1).expandtabs()), i + 1
            while end < len(lines):
                s = lines[end].strip()
                if s and not s.startswith(("#", ")", "]", "}")) and \
                        len(lines[end].expandtabs()) - len(lines[end].expandtabs().lstrip()) <= indent:
                    break
                end += 1
            return textwrap.dedent("".join(lines[i:end])).rstrip() + "\n"
    return None


def exercise_code(source: str | None, release: str, qualnames: list[str], where: str) -> tuple[dict, list[str]]:
    """What a student's module ``where`` (``source``; None: missing) brings to the comparison:
    ``{qualname: its function as written}`` for ``qualnames``, and under ``OTHER`` its
    module-level code that is not in ``release`` (the released module) as it stands and is no
    exercise; and notes for the report (missing, unparseable, stubs left). A module that does
    not parse has its functions cut by their lines (:func:`_cut`), nothing else."""
    if source is None:
        return {}, [f"no {where}"]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as e:
        code = {q: c for q in qualnames if (c := _cut(source, q)) is not None}
        line = getattr(e, "lineno", None)
        return code, [f"{where} does not parse ({type(e).__name__}{f' at line {line}' if line else ''}): its "
                      f"functions were cut out by their def lines, the rest of the file is not compared"] + \
            [f"no function {q} in {where}" for q in qualnames if q not in code]
    lines = source.splitlines(keepends=True)
    found, notes = _functions(tree), []
    code = {q: _segment(lines, found[q]) for q in qualnames if q in found}
    notes += [f"no function {q} in {where}" for q in qualnames if q not in found]
    stubs = [q for q in exercises_in(source) if q in qualnames]
    if stubs:
        notes.append(f"not done (still the stub): {', '.join(stubs)}")
    try:
        given = ast.parse(release).body
    except SyntaxError:
        given = []
    skip = set(qualnames) | set(exercises_in(release) if given else [])   # other exercises: their own assignment
    other = _not_given(tree.body, given, skip)
    if other:
        code[OTHER] = "".join(_segment(lines, s) for s in other)
        notes.append(f"{where}: {len(other)} module-level statement(s) not in the release, compared too")
    return code, notes


def _read(p: Path) -> str | None:
    try:
        return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None
    except OSError:
        return None


def own_lines(code: str, given: str) -> str:
    """The lines of ``code`` (a student's function) that are not lines of ``given`` (the release's
    stub of it) in the same order (``difflib``, lines compared without their spaces at either
    end), dedented: the student's body without the signature, docstring and given lines around
    it."""
    ours, theirs = given.splitlines(keepends=True), code.splitlines(keepends=True)
    sm = difflib.SequenceMatcher(None, [x.strip() for x in ours], [x.strip() for x in theirs], autojunk=False)
    keep = [line for tag, _, _, j1, j2 in sm.get_opcodes() if tag in ("replace", "insert") for line in theirs[j1:j2]]
    return textwrap.dedent("".join(keep))


# ---------------------------------------------------------------------------- the comparison
def similarity(course, assignment: str, log=print, threshold: float = FLAG_THRESHOLD, *,
               noise_t: int = NOISE_T, guarantee_t: int = GUARANTEE_T, display_t: float = DISPLAY_THRESHOLD,
               min_overlap: int = MIN_OVERLAP, remove_given: bool = True) -> Path:
    """Compare the exercise code of every pair of submissions of ``assignment`` (see the module's
    docstring); write ``reports/similarity-<assignment>.html`` and ``.json`` in the course folder
    (overwritten). Returns the HTML's path. ``remove_given=False`` keeps the given code (no
    boilerplate, whole functions: only to see what removing it changes)."""
    a = assignment
    if a not in course.assignments():
        raise GraderError(f"unknown assignment {a!r}; the course has: {', '.join(course.assignments()) or 'none'}")
    given_dir = next((d for d in (course.release_dir / a / "helpers", course.source / a / "helpers") if d.is_dir()),
                     None)
    if given_dir is None or not course.source_notebook(a).is_file():
        raise GraderError(f"{a} is not released: no release/{a}/helpers/ or source/{a}/ (run release first)")
    names = checked_exercises(course.grade_cells(a))
    modules = {m: [q for q in quals if exercise_key(q) in names] for m, quals in exercise_functions(given_dir).items()}
    modules = {m: quals for m, quals in modules.items() if quals}
    if not modules:
        raise GraderError(f"{a} has no exercise to compare: its graded cells check none of the library's "
                          f"exercises (checked: {', '.join(names) or 'none'})")
    unknown = [n for n in names if n not in {exercise_key(q) for quals in modules.values() for q in quals}]
    if unknown:
        log(f"similarity {a}: no stubbed function in the release for {', '.join(unknown)}; not compared")
    students = [s for s in course.students() if (course.submitted / s / a).is_dir()]
    if not students:
        raise GraderError(f"nothing collected for {a}: no submitted/<student>/{a}/ (run collect first)")
    try:
        from copydetect import CopyDetector
    except ImportError:
        raise GraderError("the similarity report needs copydetect: pip install copydetect==0.5.0") from None

    where = {m: f"helpers/{m.split('.', 1)[1].replace('.', '/')}.py" for m in modules}
    # units compared: each exercise, and each module's code not in the release; file u<i>.py of each folder
    units = [(m, q) for m, quals in modules.items() for q in quals] + [(m, OTHER) for m in modules]
    release = {m: _read(given_dir.parent / where[m]) or "" for m in modules}
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        tmp = Path(tmp)
        (tmp / "given").mkdir()
        stubs = {}
        for m in modules:      # the boilerplate: the release's stubs of the exercises, and its modules whole
            stubs.update({(m, q): c for q, c in exercise_code(release[m], release[m], modules[m], where[m])[0].items()})
            (tmp / "given" / f"module_{m}.py").write_text(release[m])
        (tmp / "given" / "stubs.py").write_text("\n".join(stubs.values()))
        files, notes = {}, {}
        for s in students:
            code, notes[s] = {}, []
            for m in modules:
                c, n = exercise_code(_read(course.submitted / s / a / where[m]), release[m], modules[m], where[m])
                code.update({(m, q): v for q, v in c.items()})
                notes[s] += n
            for i, u in enumerate(units):
                files[s, u] = tmp / "students" / s / f"u{i}.py"
                files[s, u].parent.mkdir(parents=True, exist_ok=True)
                files[s, u].write_text(own_lines(code.get(u, ""), stubs.get(u, "")) if remove_given
                                       else code.get(u, ""))
        det = CopyDetector(test_dirs=[str(tmp / "students")], boilerplate_dirs=[str(tmp / "given")] if remove_given
                           else [], extensions=["py"], noise_t=noise_t, guarantee_t=guarantee_t, display_t=display_t,
                           same_name_only=True, ignore_leaf=True, silent=True, autoopen=False,
                           out_file=str(tmp / "copydetect.html"))
        det.run()
        fd = {k: det.file_data.get(str(f)) for k, f in files.items()}
        raw = {k: d.raw_code if d else "" for k, d in fd.items()}
        own = {k: int(d.token_coverage) if d else 0 for k, d in fd.items()}
        ti = {f: i for i, f in enumerate(det.test_files)}
        ri = {f: j for j, f in enumerate(det.ref_files)}
        pairs = []
        for x, y in itertools.combinations(students, 2):
            per = {}
            for u in units:
                fx, fy = str(files[x, u]), str(files[y, u])
                if not len(det.similarity_matrix) or fx not in ti or fy not in ri or \
                        det.similarity_matrix[ti[fx], ri[fy], 0] < 0:
                    continue
                sx, sy = (float(v) for v in det.similarity_matrix[ti[fx], ri[fy]])
                overlap = int(det.token_overlap_matrix[ti[fx], ri[fy]])
                if overlap > 0:
                    sl = det.slice_matrix.get((fx, fy)) or det.slice_matrix.get((fy, fx))[::-1]
                    per[u] = {"similarity_a": sx, "similarity_b": sy, "overlap": overlap, "_slices": sl}
            cx, cy = sum(own[x, u] for u in units), sum(own[y, u] for u in units)
            sx = sum(v["similarity_a"] * own[x, u] for u, v in per.items()) / cx if cx else 0.0
            sy = sum(v["similarity_b"] * own[y, u] for u, v in per.items()) / cy if cy else 0.0
            overlap = sum(v["overlap"] for v in per.values())
            pairs.append({"a": x, "b": y, "similarity_a": round(sx, 4), "similarity_b": round(sy, 4),
                          "overlap": overlap, "flagged": max(sx, sy) >= threshold and overlap >= min_overlap,
                          "exercises": {_label(u, where): {k: round(v, 4) if isinstance(v, float) else v
                                                           for k, v in d.items() if not k.startswith("_")}
                                        for u, d in per.items()},
                          "_per": per})
    pairs.sort(key=lambda p: (-p["flagged"], -max(p["similarity_a"], p["similarity_b"]), p["a"], p["b"]))
    settings = {"noise_t": noise_t, "guarantee_t": guarantee_t, "window": guarantee_t - noise_t + 1,
                "display_threshold": display_t, "flag_threshold": threshold, "min_overlap": min_overlap,
                "remove_given": remove_given, "copydetect": _version()}
    out = course.home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    data = {"assignment": a, "students": students, "exercises": [q for _, q in units if q != OTHER],
            "settings": settings, "own_tokens": {s: sum(own[s, u] for u in units) for s in students},
            "notes": {s: n for s, n in notes.items() if n},
            "pairs": [{k: v for k, v in p.items() if not k.startswith("_")} for p in pairs]}
    (out / f"similarity-{a}.json").write_text(json.dumps(data, indent=1) + "\n")
    page = out / f"similarity-{a}.html"
    page.write_text(_page(data, pairs, units, where, raw))
    n_flag = sum(p["flagged"] for p in pairs)
    log(f"similarity {a}: {len(students)} students, {len(pairs)} pairs compared, {n_flag} flagged -> "
        f"{page.relative_to(course.home)}")
    return page


def _label(unit: tuple[str, str], where: dict) -> str:
    m, q = unit
    return f"{where[m]}: code not in the release" if q == OTHER else q


def _version() -> str:
    from importlib.metadata import version
    return version("copydetect")


# ---------------------------------------------------------------------------- the page
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em} h3{font-size:1.05em}
.verdict{border-left:6px solid #c60;background:#fff4e5;padding:.8em 1em;margin:1em 0}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.flag td{background:#fde8e8}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
pre{background:#f8f8f8;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:12px;line-height:1.35;margin:0}
mark{background:#ffd27a} .muted{color:#666;font-size:.9em}
"""


def _highlight(code: str, slices) -> str:
    """``code`` escaped, with the ``slices`` (2 x M array of starts and ends) in <mark>."""
    if slices is None or len(slices[0]) == 0:
        return html.escape(code)
    out, at = [], 0
    for start, end in sorted(zip((int(v) for v in slices[0]), (int(v) for v in slices[1]))):
        start, end = max(start, at), min(end, len(code))
        if end <= start:
            continue
        out += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        at = end
    return "".join(out + [html.escape(code[at:])])


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def _page(data: dict, pairs: list[dict], units: list, where: dict, raw: dict) -> str:
    e, st, a = html.escape, data["settings"], data["assignment"]
    flagged = [p for p in pairs if p["flagged"]]
    similar = [p for p in pairs
               if not p["flagged"] and max(p["similarity_a"], p["similarity_b"]) >= st["display_threshold"]]
    shown = {(p["a"], p["b"]) for p in flagged[:MAX_SHOWN]}

    def row(p, cls=""):
        link = f"<a href='#{e(p['a'])}--{e(p['b'])}'>{e(p['a'])}</a>" if (p["a"], p["b"]) in shown else e(p["a"])
        return (f"<tr class='{cls}'><td>{link}</td><td>{e(p['b'])}</td><td class=n>{_pct(p['similarity_a'])}</td>"
                f"<td class=n>{_pct(p['similarity_b'])}</td><td class=n>{p['overlap']}</td></tr>")
    head = "<tr><th>student</th><th>student</th><th>of the first's code</th><th>of the second's code</th>" \
           "<th>token overlap</th></tr>"
    h = [f"<!doctype html><html><head><meta charset='utf-8'><title>Similarity: {e(a)}</title>"
         f"<style>{_CSS}</style></head><body>",
         f"<h1>Similarity of the exercise code: {e(a)}</h1>",
         f"<p class=verdict><b>{e(NEVER_A_VERDICT)}</b></p>",
         f"<p>{len(data['students'])} students, {len(pairs)} pairs compared, <b>{len(flagged)} flagged</b>. "
         f"Exercises compared, each with the same exercise of the other student: {e(', '.join(data['exercises']))}; "
         "and the code of those modules that is not the release's (a helper function of one's own).</p>",
         "<p><b>Given code was removed</b>" + ("" if st["remove_given"] else " <b>(not in this run: it was kept)</b>")
         + ": the lines of each function that are the release's (signature, docstring, given lines) are left out, "
         "the release's stubs and modules are copydetect's boilerplate, and module-level code identical to the "
         "release is not compared. Names, strings, comments and spacing do not count either: the code is compared "
         "after every name becomes V and every string S. The flagged pairs below show, exercise by exercise, the "
         "lines that were compared.</p>",
         f"<p><b>Thresholds</b>: a pair is flagged when the code the two share covers at least "
         f"{_pct(st['flag_threshold'])} of either student's own code and is at least {st['min_overlap']} tokens "
         f"long; pairs from {_pct(st['display_threshold'])} are listed for context. copydetect {e(st['copydetect'])} "
         f"(MOSS's winnowing): noise threshold k = {st['noise_t']}, guarantee threshold {st['guarantee_t']} "
         f"(window {st['window']}). A student's similarity: the share of their own code (what is left once the "
         "given code is removed) covered by code also in the other's, over all exercises; token overlap: that "
         "shared length, in tokens of normalized code (a name, a digit, an operator: one each).</p>",
         "<h2>Flagged pairs</h2>"]
    h.append(f"<table>{head}{''.join(row(p, 'flag') for p in flagged)}</table>" if flagged else "<p>None.</p>")
    if similar:
        h += ["<h2>Similar, under the flag threshold</h2>", f"<table>{head}{''.join(row(p) for p in similar)}</table>"]
    if len(flagged) > MAX_SHOWN:
        h.append(f"<p>The first {MAX_SHOWN} flagged pairs are shown below; the others are in the table.</p>")
    for p in flagged[:MAX_SHOWN]:
        x, y = p["a"], p["b"]
        h.append(f"<h2 id='{e(x)}--{e(y)}'>{e(x)} ({_pct(p['similarity_a'])}) and {e(y)} "
                 f"({_pct(p['similarity_b'])}): {p['overlap']} tokens in common</h2>")
        for u in units:
            if not (raw[x, u].strip() or raw[y, u].strip()):
                continue
            d = p["_per"].get(u)
            sl = d["_slices"] if d else [None, None]
            share = f"{_pct(d['similarity_a'])} and {_pct(d['similarity_b'])}" if d else "nothing in common"
            h += [f"<h3>{e(_label(u, where))}: {share}</h3><div class=pair>",
                  f"<div><b>{e(x)}</b><pre>{_highlight(raw[x, u], sl[0])}</pre></div>",
                  f"<div><b>{e(y)}</b><pre>{_highlight(raw[y, u], sl[1])}</pre></div></div>"]
    h.append("<h2>Students</h2><table><tr><th>student</th><th>own tokens</th><th>notes</th></tr>")
    for s in data["students"]:
        n = data["notes"].get(s, [])
        if not data["own_tokens"][s]:
            n = ["no code of their own once the given code is removed"] + n
        h.append(f"<tr><td>{e(s)}</td><td class=n>{data['own_tokens'][s]}</td><td>{e('; '.join(n))}</td></tr>")
    h.append("</table><p class=muted>Written by autograde/similarity.py; the numbers of every pair, exercise by "
             f"exercise, are in similarity-{e(a)}.json next to this page.</p></body></html>\n")
    return "\n".join(h)
