"""The course's messages in your language: ``tr(message)``.

English is the course's language and every message is written in English in the code. A
translation of the library's messages (the local checks', the errors', the figures' titles)
lives in ``helpers/locale/<lang>.po``, a gettext catalogue: each entry maps an English message,
or a message *template* (``"got {0} images, expected {1}"``: the parts in braces are values
filled in at run time), to its translation. :func:`tr` returns the translation of a message
when the catalogue has a confirmed one (not fuzzy), else the English message unchanged.

The language is ``COURSE_LANG`` (``en``, ``ko``, ``zh``) when set; else that of the folder a
notebook runs in (``notebooks/ko/`` is Korean, ``notebooks/zh/`` Simplified Chinese); else
English. ``COURSE_LANG=ko bash course.sh check -k nb1`` gives the checks' messages in Korean.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path

LANGUAGES = ("en", "ko", "zh")
LOCALE = Path(__file__).resolve().parent / "locale"
_HOLE = re.compile(r"\{(\d+)\}")


def language() -> str:
    """The language of the messages: ``COURSE_LANG``, or the notebook folder's, or ``en``."""
    lang = os.environ.get("COURSE_LANG", "").strip().lower().split("_")[0].split("-")[0]
    if lang in LANGUAGES:
        return lang
    try:
        here = Path.cwd().name
    except OSError:
        return "en"
    return here if here in LANGUAGES else "en"


@functools.lru_cache(maxsize=None)
def _catalogue(lang: str) -> tuple[dict, list]:
    """({English: translation}, [(pattern, translated template)]) of ``locale/<lang>.po``."""
    path = LOCALE / f"{lang}.po"
    if lang == "en" or not path.exists():
        return {}, []
    from babel.messages.pofile import read_po
    with open(path, "rb") as f:
        cat = read_po(f, locale=lang)
    exact, templates = {}, []
    for m in cat:
        if not m.id or m.fuzzy or not m.string or not isinstance(m.id, str):
            continue
        if not _HOLE.search(m.id):
            exact[m.id] = m.string
            continue
        literal = _HOLE.sub("", m.id).replace("{{", "{").replace("}}", "}")
        if len(literal.strip()) >= 8:                 # a template must say something of its own
            templates.append((_pattern(m.id), m.string, len(literal)))
    templates.sort(key=lambda t: -t[2])               # the most specific first
    return exact, [(p, s) for p, s, _ in templates]


def _pattern(template: str) -> re.Pattern:
    parts, last = [], 0
    for m in _HOLE.finditer(template):
        parts.append(re.escape(template[last:m.start()].replace("{{", "{").replace("}}", "}")))
        parts.append(f"(?P<h{m.group(1)}_{len(parts)}>.*?)")
        last = m.end()
    parts.append(re.escape(template[last:].replace("{{", "{").replace("}}", "}")))
    return re.compile("".join(parts), re.S)


def tr(message: str, lang: str | None = None, _depth: int = 0) -> str:
    """``message`` in ``lang`` (default: :func:`language`), or unchanged when the catalogue has
    no confirmed translation. A message made from a template is translated with its values
    kept (and those values translated too when they are messages themselves)."""
    if not isinstance(message, str) or not message:
        return message
    lang = lang or language()
    if lang == "en":
        return message
    exact, templates = _catalogue(lang)
    if message in exact:
        return exact[message]
    for pattern, translated in templates:
        m = pattern.fullmatch(message)
        if m is None:
            continue
        values = {}
        for key, value in m.groupdict().items():
            values.setdefault(key.split("_")[0][1:], value)
        if _depth < 2:
            values = {k: tr(v, lang, _depth + 1) for k, v in values.items()}
        return _HOLE.sub(lambda h: values.get(h.group(1), h.group(0)), translated.replace("{{", "\x00").replace(
            "}}", "\x01")).replace("\x00", "{").replace("\x01", "}")
    return message
