"""Mapping transforms: canonical columns a vendor file does not hold as a column of its own.

Declared per canonical column under an entity's `derive:` in a mapping file (docs/mappings.md,
"Derived columns"). A small closed set, checked when the mapping loads; no code or SQL of the
user's ever runs:

    constant   {constant: EUR}
    key        {key: {columns: [Journal, Line], method: concat | hash, separator: "-", length: 32}}
    sequence   {sequence: {within: [Employee, Effective Date], start: 1}}
    regex      {regex: {column: Memo, pattern: 'PRG-\\d{3}', group: 0}}
    split      {split: {column: "Learner|Course", separator: "|", index: 0}}
    convert    {convert: {column: "Length (weeks)", multiply: 7, round: 0}}
    lookup     {lookup: {entity: enrollments, match: {worker_id: LearnerID, program_id: program_id},
                         nearest: {column: completion_date, to: started_at, direction: before},
                         where: {event_reason: termination}, take: enrollment_id}}

`column`/`columns`/`within` name columns of the vendor file (headers, matched trimmed and
case-insensitively). A derived value then goes through the column's value map, date format and
number format and is cast like a value read from a column. This module only parses and
validates; `ingestion.derive` applies the transforms (vectorised, pyarrow.compute and DuckDB).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

# The closed set of transform kinds, with the parameters each accepts (required first).
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant": ((), ()),
    "key": (("columns", "method"), ("separator", "length")),
    "sequence": (("within",), ("start",)),
    "regex": (("column", "pattern"), ("group",)),
    "split": (("column", "separator", "index"), ()),
    "convert": (("column",), ("multiply", "divide", "add", "round")),
    "lookup": (("entity", "match", "take"), ("nearest", "where")),
}
KEY_METHODS = ("concat", "hash")
DIRECTIONS = ("nearest", "before", "after")
DEFAULT_HASH_LENGTH = 32          # hex digits of SHA-256 kept: 128 bits
# A value no vendor text holds, between the parts of a hashed key (so ("ab", "c") != ("a", "bc")).
HASH_PART_SEPARATOR = "\x1f"


class TransformError(ValueError):
    """A transform declaration is malformed; the message names the mapping file and the column."""


@dataclass(frozen=True)
class Constant:
    value: str

    def inputs(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return f"constant {self.value!r}"


@dataclass(frozen=True)
class Key:
    columns: tuple[str, ...]
    method: str                  # concat | hash
    separator: str = "|"
    length: int = DEFAULT_HASH_LENGTH

    def inputs(self) -> tuple[str, ...]:
        return self.columns

    def describe(self) -> str:
        how = f"joined by {self.separator!r}" if self.method == "concat" else "SHA-256"
        return f"key ({how}) of {', '.join(self.columns)}"


@dataclass(frozen=True)
class Sequence:
    within: tuple[str, ...]
    start: int = 1

    def inputs(self) -> tuple[str, ...]:
        return self.within

    def describe(self) -> str:
        return f"sequence in file order within {', '.join(self.within)}"


@dataclass(frozen=True)
class Regex:
    column: str
    pattern: str
    group: int = 0

    def inputs(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        return f"regex {self.pattern!r} (group {self.group}) of {self.column}"


@dataclass(frozen=True)
class Split:
    column: str
    separator: str
    index: int

    def inputs(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        return f"part {self.index} of {self.column} split on {self.separator!r}"


@dataclass(frozen=True)
class Convert:
    column: str
    multiply: float = 1.0
    divide: float = 1.0
    add: float = 0.0
    round: int | None = None

    def inputs(self) -> tuple[str, ...]:
        return (self.column,)

    def describe(self) -> str:
        ops = [f"x {_num(self.multiply)}" if self.multiply != 1 else "", f"/ {_num(self.divide)}" if self.divide != 1
               else "", f"+ {_num(self.add)}" if self.add else ""]
        rounded = f", rounded to {self.round} decimals" if self.round is not None else ""
        return f"{self.column} {' '.join(o for o in ops if o)}{rounded}"


@dataclass(frozen=True)
class Nearest:
    column: str                  # date/timestamp column of the looked-up entity
    to: str                      # date/timestamp canonical column of this entity
    direction: str = "nearest"   # nearest | before (theirs <= ours) | after (theirs >= ours)
    within_days: float | None = None


@dataclass(frozen=True)
class Lookup:
    entity: str
    match: tuple[tuple[str, str], ...]               # (their canonical column, our column)
    take: Union[str, "SimpleTransform"]              # their canonical column, their vendor column, or a transform
    nearest: Nearest | None = None
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (their column, accepted values as text)

    def inputs(self) -> tuple[str, ...]:
        return ()                # our side is resolved at ingestion: a canonical column, else a vendor column

    def our_columns(self) -> tuple[str, ...]:
        return tuple(ours for _, ours in self.match) + ((self.nearest.to,) if self.nearest else ())

    def describe(self) -> str:
        keys = ", ".join(f"{theirs} = {ours}" for theirs, ours in self.match)
        near = (f", {self.nearest.direction} {self.nearest.column} to {self.nearest.to}" if self.nearest else "")
        take = self.take if isinstance(self.take, str) else self.take.describe()
        return f"lookup of {take} in {self.entity} where {keys}{near}"


SimpleTransform = Union[Constant, Key, Sequence, Regex, Split, Convert]
Transform = Union[SimpleTransform, Lookup]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# --------------------------------------------------------------------------- parsing

def _fail(where: str, message: str) -> TransformError:
    return TransformError(f"{where}: {message}")


def _text(where: str, name: str, v: Any, *, empty_ok: bool = False) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _fail(where, f"'{name}' must be text, got {type(v).__name__}")
    s = str(v)
    if not s and not empty_ok:
        raise _fail(where, f"'{name}' must not be empty")
    return s


def _int(where: str, name: str, v: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(where, f"'{name}' must be an integer, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f"{lo if lo is not None else '-inf'} .. {hi if hi is not None else 'inf'}"
        raise _fail(where, f"'{name}' must be within {bounds}, got {v}")
    return v


def _number(where: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise _fail(where, f"'{name}' must be a finite number, got {v!r}")
    return float(v)


def _names(where: str, name: str, v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise _fail(where, f"'{name}' must be a column name or a non-empty list of column names")
    return tuple(_text(where, name, x) for x in items)


def _params(where: str, kind: str, body: Any) -> dict[str, Any]:
    required, optional = KINDS[kind]
    if not isinstance(body, dict):
        raise _fail(where, f"{kind} needs a mapping of parameters ({', '.join(required + optional)}), "
                           f"got {type(body).__name__}")
    unknown = sorted(set(map(str, body)) - set(required) - set(optional))
    if unknown:
        raise _fail(where, f"unknown {kind} parameters {unknown}; allowed: {sorted(required + optional)}")
    missing = [k for k in required if k not in body]
    if missing:
        raise _fail(where, f"{kind} needs {missing}")
    return body


def regex_group_index(where: str, pattern: str, group: Any) -> int:
    """The capture group number of `group` (a number or a (?P<name>...) name) in `pattern`, checked
    against both Python's and RE2's syntax (pyarrow.compute runs RE2: no look-around, no backreference)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise _fail(where, f"invalid regular expression {pattern!r}: {exc}") from None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        pc.match_substring_regex(pa.array([""], pa.string()), pattern=pattern)
    except Exception as exc:  # ArrowInvalid: RE2 refuses it
        raise _fail(where, f"regular expression {pattern!r} is not supported (RE2 syntax: no look-around, "
                           f"no backreferences): {exc}") from None
    if group is None:
        return 1 if compiled.groups else 0
    if isinstance(group, str) and not group.isdigit():
        if group not in compiled.groupindex:
            raise _fail(where, f"regex has no group named {group!r} (groups: {sorted(compiled.groupindex)})")
        return compiled.groupindex[group]
    n = _int(where, "group", int(group) if isinstance(group, str) else group, 0)
    if n > compiled.groups:
        raise _fail(where, f"regex {pattern!r} has {compiled.groups} capture group(s), not group {n}")
    return n


def parse_simple(where: str, kind: str, body: Any) -> SimpleTransform:
    if kind == "constant":
        if body is None or isinstance(body, (list, dict)):
            raise _fail(where, f"constant must be a single value (text, number or true/false), got {body!r}")
        return Constant(("true" if body else "false") if isinstance(body, bool) else str(body))
    p = _params(where, kind, body)
    if kind == "key":
        method = p["method"]
        if method not in KEY_METHODS:
            raise _fail(where, f"key method must be one of {list(KEY_METHODS)}, got {method!r}")
        if method == "hash" and "separator" in p:
            raise _fail(where, "a hashed key has no separator (its parts are kept apart by the hash)")
        if method == "concat" and "length" in p:
            raise _fail(where, "'length' applies to method: hash only")
        return Key(_names(where, "columns", p["columns"]), method,
                   _text(where, "separator", p.get("separator", "|"), empty_ok=True),
                   _int(where, "length", p.get("length", DEFAULT_HASH_LENGTH), 8, 64))
    if kind == "sequence":
        return Sequence(_names(where, "within", p["within"]), _int(where, "start", p.get("start", 1), 0))
    if kind == "regex":
        pattern = _text(where, "pattern", p["pattern"])
        return Regex(_text(where, "column", p["column"]), pattern, regex_group_index(where, pattern, p.get("group")))
    if kind == "split":
        return Split(_text(where, "column", p["column"]), _text(where, "separator", p["separator"]),
                     _int(where, "index", p["index"], 0, 1000))
    if kind == "convert":
        if not {"multiply", "divide", "add"} & set(p):
            raise _fail(where, "convert needs at least one of multiply, divide, add")
        divide = _number(where, "divide", p.get("divide", 1))
        if divide == 0:
            raise _fail(where, "convert cannot divide by 0")
        rnd = p.get("round")
        return Convert(_text(where, "column", p["column"]), _number(where, "multiply", p.get("multiply", 1)), divide,
                       _number(where, "add", p.get("add", 0)), None if rnd is None else _int(where, "round", rnd, 0, 9))
    raise _fail(where, f"{kind} cannot be used here")


def _one_kind(where: str, spec: Any, allowed: tuple[str, ...]) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise _fail(where, f"a transform is a mapping with exactly one of {list(allowed)}, got {spec!r}")
    kind, body = next(iter(spec.items()))
    if kind not in allowed:
        raise _fail(where, f"unknown transform {kind!r}; allowed: {list(allowed)}")
    return str(kind), body


def parse_transform(where: str, spec: Any) -> Transform:
    """One `derive:` entry (`{kind: parameters}`) -> its transform; TransformError when malformed."""
    kind, body = _one_kind(where, spec, tuple(KINDS))
    if kind != "lookup":
        return parse_simple(where, kind, body)
    p = _params(where, kind, body)
    match = p["match"]
    if not isinstance(match, dict) or not match:
        raise _fail(where, "lookup 'match' must map their columns to ours: {their column: our column, ...}")
    pairs = tuple((_text(where, "match", k), _text(where, "match", v)) for k, v in match.items())
    take = p["take"]
    if isinstance(take, dict):
        take_kind, take_body = _one_kind(f"{where}.take", take, ("key", "regex", "split", "convert"))
        take = parse_simple(f"{where}.take", take_kind, take_body)
    else:
        take = _text(where, "take", take)
    nearest = None
    if p.get("nearest") is not None:
        n = p["nearest"]
        if not isinstance(n, dict):
            raise _fail(where, "lookup 'nearest' must be {column: ..., to: ..., direction: ..., within_days: ...}")
        unknown = sorted(set(map(str, n)) - {"column", "to", "direction", "within_days"})
        if unknown or "column" not in n or "to" not in n:
            raise _fail(where, f"lookup 'nearest' needs column and to (optional: direction, within_days); "
                               f"unknown: {unknown}")
        direction = n.get("direction", "nearest")
        if direction not in DIRECTIONS:
            raise _fail(where, f"nearest direction must be one of {list(DIRECTIONS)}, got {direction!r}")
        within = n.get("within_days")
        if within is not None and _number(where, "within_days", within) < 0:
            raise _fail(where, "within_days must not be negative")
        nearest = Nearest(_text(where, "column", n["column"]), _text(where, "to", n["to"]), direction,
                          None if within is None else float(within))
    where_spec = p.get("where") or {}
    if not isinstance(where_spec, dict):
        raise _fail(where, "lookup 'where' must map their columns to a value or a list of values")
    filters = []
    for col, values in where_spec.items():
        vals = values if isinstance(values, list) else [values]
        if not vals or any(v is None or isinstance(v, (list, dict)) for v in vals):
            raise _fail(where, f"lookup 'where' {col!r} needs a value or a list of values")
        filters.append((_text(where, "where", col),
                        tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in vals)))
    return Lookup(str(p["entity"]), pairs, take, nearest, tuple(filters))


__all__ = [
    "KINDS", "KEY_METHODS", "DIRECTIONS", "DEFAULT_HASH_LENGTH", "HASH_PART_SEPARATOR", "TransformError",
    "Constant", "Key", "Sequence", "Regex", "Split", "Convert", "Nearest", "Lookup", "SimpleTransform",
    "Transform", "parse_transform", "parse_simple", "regex_group_index",
]
