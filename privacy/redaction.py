"""Free text out of the survey export, cleaned before theming or any quote.

In this order: e-mail addresses (pattern) → ``[EMAIL]``; national ids on the HR
roster → ``[NATIONAL_ID]``; first/last names on the roster → ``[NAME]``; phone
numbers (pattern: 7 or more digits with the usual separators, an optional
extension) → ``[PHONE]``.

Roster matching is set-based so it scales to a million employees: the dbt model
turns each text into its terms (``text_terms``: its words, and every run of up to
six letter/digit groups holding a digit, written without separators, which is how
an id is compared), turns the roster into terms the same way (``name_tokens``,
``id_key``), joins them, and hands ``redact`` only the terms found in that text.

A roster word counts as a name only when it starts with a capital letter
(particles such as "de" or "van" stay) and is matched as written, so "Rose" is
redacted and "rose" is not; the first word of a sentence is a name only next to
another roster word ("My manager" stays, "My Larsson" does not). A national id
matches whatever its separators ("ZZ 261191 T" = "ZZ261191T", "811105-3875").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyarrow as pa

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
NAME = "[NAME]"
NATIONAL_ID = "[NATIONAL_ID]"
MIN_PHONE_DIGITS = 7
MAX_ID_GROUPS = 6

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# a word: letters and digits, joined by an apostrophe or hyphen ("O'Neill", "Jean-Luc")
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# a group of an id: letters and digits; groups of one id are one separator apart
_GROUP = re.compile(r"[^\W_]+")
_ID_SEPARATOR = re.compile(r"[ .\-/]?")
_PHONE = re.compile(r"(?<![\w+])(?:\+|\b00)?\(?\d[\d \t().\-/]*\d(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,6})?(?![\w])")
_PARTICLES = frozenset({"de", "da", "das", "do", "dos", "del", "della", "di", "du", "la", "le", "van", "von",
                        "der", "den", "ten", "ter", "zu", "y", "e", "af", "av"})


def tokens(text: str | None) -> list[str]:
    """The words of a text."""
    return _WORD.findall(text) if text else []


def name_tokens(name: str | None) -> list[str]:
    """The words of a roster name that count as a name in free text."""
    return [t for t in tokens(name) if t[0].isupper()]


def id_key(national_id: str | None) -> str | None:
    """A national id as compared: its letters and digits, upper case."""
    if not national_id:
        return None
    return "".join(_GROUP.findall(national_id)).upper() or None


def _id_spans(text: str):
    """(start, end, key) of every run of up to MAX_ID_GROUPS groups holding a digit."""
    groups = list(_GROUP.finditer(text))
    for i, first in enumerate(groups):
        key = ""
        for k in range(i, min(i + MAX_ID_GROUPS, len(groups))):
            if k > i and not _ID_SEPARATOR.fullmatch(text[groups[k - 1].end():groups[k].start()]):
                break
            key += groups[k].group(0).upper()
            if any(c.isdigit() for c in key):
                yield first.start(), groups[k].end(), key


def text_terms(text: str | None) -> list[str]:
    """What the dbt model joins against the roster: words and id keys, each once."""
    if not text:
        return []
    return list(dict.fromkeys(tokens(text) + [key for _, _, key in _id_spans(text)]))


def _phone(match: re.Match) -> str:
    text = match.group(0)
    return PHONE if sum(c.isdigit() for c in text) >= MIN_PHONE_DIGITS else text


def redact(text: str | None, names: Iterable[str] = (), national_ids: Iterable[str] = ()) -> str | None:
    """``names``: roster name words found in the text; ``national_ids``: id keys found."""
    if not text:
        return text
    out = _EMAIL.sub(EMAIL, text)
    names, id_keys = set(names or ()), {id_key(i) for i in national_ids or ()} - {None}
    if id_keys:
        out = _replace_ids(out, id_keys)
    if names:
        out = _replace_names(out, names)
    return _PHONE.sub(_phone, out)


def _replace_ids(text: str, id_keys: set[str]) -> str:
    parts, last = [], 0
    for start, end, key in sorted(_id_spans(text), key=lambda s: (s[0], -s[1])):
        if start >= last and key in id_keys:
            parts += [text[last:start], NATIONAL_ID]
            last = end
    return "".join(parts) + text[last:]


def _replace_names(text: str, names: set[str]) -> str:
    words = list(_WORD.finditer(text))
    is_name = [m.group(0) in names for m in words]

    def joined(i: int, j: int) -> bool:
        return not text[min(words[i].end(), words[j].end()):max(words[i].start(), words[j].start())].strip()

    def next_to_name(i: int) -> bool:
        for step in (-1, 1):
            here, j = i, i + step
            # across name particles: "Isabel de Werd", "Ana van der Berg"
            while 0 <= j < len(words) and words[j].group(0) in _PARTICLES and joined(here, j):
                here, j = j, j + step
            if 0 <= j < len(words) and is_name[j] and joined(here, j):
                return True
        return False

    def starts_sentence(i: int) -> bool:
        before = text[:words[i].start()].rstrip()
        return not before or before[-1] in ".!?"

    parts, last = [], 0
    for i, m in enumerate(words):
        # a capital at the start of a sentence is grammar, not a name ("My manager": My is a
        # Swedish first name), unless another roster word is next to it
        if is_name[i] and (not starts_sentence(i) or next_to_name(i)):
            parts += [text[last:m.start()], NAME]
            last = m.end()
    return "".join(parts) + text[last:]


# ---- vectorised forms registered as DuckDB functions by privacy.dbt_plugin

def text_terms_arrow(texts: pa.Array) -> pa.Array:
    return pa.array([text_terms(t) for t in texts.to_pylist()], pa.list_(pa.string()))


def name_tokens_arrow(names: pa.Array) -> pa.Array:
    return pa.array([name_tokens(n) for n in names.to_pylist()], pa.list_(pa.string()))


def id_key_arrow(national_ids: pa.Array) -> pa.Array:
    return pa.array([id_key(i) for i in national_ids.to_pylist()], pa.string())


def redact_arrow(texts: pa.Array, names: pa.Array, national_ids: pa.Array) -> pa.Array:
    return pa.array([redact(t, n, i) for t, n, i in zip(texts.to_pylist(), names.to_pylist(),
                                                        national_ids.to_pylist())], pa.string())
