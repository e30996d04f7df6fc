"""The mutation catalogue (``tests/mutations.toml``: realistic student mistakes in every
exercise, as data; its header says what an entry holds), read into :data:`MUTATIONS`.

The machinery is in ``tests/mutation_lab.py``; ``tests/test_mutations.py`` runs it.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).with_name("mutations.toml")
FIELDS = {"at", "what", "edits", "phrase", "harmless", "check"}


@dataclass(frozen=True)
class Mutation:
    id: str                     # "<exercise>/<what>"
    module: str                 # the library module, "features"
    function: str               # the qualified name, "ConditionalInstanceNorm.forward"
    edits: tuple                # ((old, new), ...)
    phrase: str = ""
    harmless: str = ""
    check: str = ""


def load(path: Path = CATALOGUE) -> list[Mutation]:
    out = []
    for e in tomllib.loads(Path(path).read_text())["mutation"]:
        what = e.get("what", "?")
        assert set(e) <= FIELDS and {"at", "what", "edits"} <= set(e), f"{what}: fields {sorted(e)}"
        module, function = e["at"].split(".", 1)
        key = function.split(".")[0]
        if "." in function:  # a method: the exercise's key is the class name in snake case
            key = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        edits = tuple(tuple(pair) for pair in e["edits"])
        assert edits and all(len(pair) == 2 for pair in edits), what
        phrase, harmless = e.get("phrase", ""), e.get("harmless", "")
        assert bool(phrase) != bool(harmless), f"{what}: a phrase or a reason it is harmless"
        out.append(Mutation(f"{key}/{what}", module, function, edits, phrase, harmless, e.get("check", "")))
    assert len({m.id for m in out}) == len(out), "two mutations with the same id"
    return out


MUTATIONS: list[Mutation] = load()
