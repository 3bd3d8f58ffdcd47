"""Raw values -> canonical Arrow types, one column at a time, with per-row errors.

Every column is first tried with a vectorised Arrow cast (fast path). When that
fails for any value, the column of that batch is parsed value by value in
Python (slow path), which is the definition of what is accepted: the fast path
may only ever accept a subset of what the slow path accepts, so the result does
not depend on which path ran. Values that cannot be cast become null in the
typed column and are reported as (row index, raw value, message) so the caller
can quarantine the record.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from .mapping import EntityMapping, ValueMap
from .schemas import DECIMAL_TYPE, TIMESTAMP_TYPE, ColumnSpec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# decimal(18,2): at most 16 digits before the point.
DECIMAL_MAX_ABS = Decimal(10) ** 16

_INT_RE = re.compile(r"^[+-]?\d+(?:\.0*)?$")
_FLOAT_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A date column may receive a midnight datetime (spreadsheets store dates so).
_MIDNIGHT_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?$")
_FRACTION_RE = re.compile(r"(\.\d{6})\d+")

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_BOOL_KEYS = pa.array(_TRUE + _FALSE)
_BOOL_VALUES = pa.array([True] * len(_TRUE) + [False] * len(_FALSE))


class CastError(ValueError):
    """One value cannot be read as its canonical type; the message says why."""


@dataclass(frozen=True)
class CastResult:
    array: pa.Array
    failures: list[tuple[int, str | None, str]]   # (row index in batch, raw value, message)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# ---------------------------------------------------------------- slow path: one value

def parse_int(s: str) -> int:
    t = s.strip()
    if not _INT_RE.match(t):
        raise CastError(f"{s!r} is not an integer")
    v = int(t.split(".")[0])
    if not INT64_MIN <= v <= INT64_MAX:
        raise CastError(f"numeric overflow: {s!r} does not fit a 64-bit integer")
    return v


def parse_float(s: str) -> float:
    t = s.strip()
    if not _FLOAT_RE.match(t):
        raise CastError(f"{s!r} is not a number")
    v = float(t)
    if not math.isfinite(v):
        raise CastError(f"numeric overflow: {s!r} is not a finite 64-bit float")
    return v


def parse_decimal(s: str) -> Decimal:
    t = s.strip()
    if not _FLOAT_RE.match(t):
        raise CastError(f"{s!r} is not a number")
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise CastError(f"{s!r} is not a number") from None
    q = d.quantize(Decimal("0.01"))
    if q != d:
        # Rounding money silently would change totals; the record goes to quarantine.
        raise CastError(f"{s!r} has more than 2 decimal places")
    if abs(q) >= DECIMAL_MAX_ABS:
        raise CastError(f"numeric overflow: {s!r} does not fit decimal(18,2)")
    return q


def parse_date(s: str, fmt: str | None = None) -> date:
    t = s.strip()
    if fmt:
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError as exc:
            raise CastError(f"{s!r} is not a date in format {fmt!r} ({exc})") from None
    m = _MIDNIGHT_RE.match(t)
    if m:
        t = m.group(1)
    if not _ISO_DATE_RE.match(t):
        raise CastError(f"{s!r} is not a date in ISO format YYYY-MM-DD")
    try:
        return date.fromisoformat(t)
    except ValueError as exc:
        raise CastError(f"{s!r} is not a valid date ({exc})") from None


def parse_timestamp(s: str, fmt: str | None = None, tz: str = "UTC") -> datetime:
    """Timestamp -> aware UTC datetime; values without an offset are in `tz`.

    Local times that fall in a DST gap or overlap resolve with fold=0 (the
    earlier offset), which is what most source systems meant.
    """
    t = s.strip()
    try:
        if fmt:
            dt = datetime.strptime(t, fmt)
        else:
            # fromisoformat takes at most microseconds; Arrow's type has no more.
            dt = datetime.fromisoformat(_FRACTION_RE.sub(r"\1", t))
    except ValueError as exc:
        expected = f"format {fmt!r}" if fmt else "ISO 8601"
        raise CastError(f"{s!r} is not a timestamp in {expected} ({exc})") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_zone(tz))
    return dt.astimezone(timezone.utc)


def parse_bool(s: str) -> bool:
    t = s.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise CastError(f"{s!r} is not a boolean (expected one of {', '.join(_TRUE + _FALSE)})")


def raw_text(v: Any) -> str | None:
    """A Python value from a reader (xlsx cell, flattened xAPI field) as raw text.

    Keeps what the casting slow path accepts: integral floats lose the ".0"
    (spreadsheets store integers as floats), datetimes are ISO 8601.
    """
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**63:
            return str(int(v))
        return repr(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, (int, Decimal)):
        return str(v)
    if hasattr(v, "isoformat"):  # datetime.time
        return v.isoformat()
    return str(v)


# ---------------------------------------------------------------- fast path helpers

def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _slow(values: pa.Array, parse: Callable[[str], Any], target: pa.DataType,
          only: list[int] | None = None, base: list | None = None) -> CastResult:
    """Parse value by value; `only` restricts parsing to those indices of `base`."""
    py = values.to_pylist()
    out = base if base is not None else [None] * len(py)
    failures = []
    for i in (only if only is not None else range(len(py))):
        s = py[i]
        if s is None:
            continue
        try:
            out[i] = parse(s)
        except CastError as exc:
            out[i] = None
            failures.append((i, s, str(exc)))
    return CastResult(pa.array(out, type=target), failures)


def _dates_fast(strings: pa.Array, fmt: str) -> tuple[pa.Array, pa.Array]:
    """Vectorised strptime; returns (parsed, ok mask).

    Arrow's strptime normalises impossible dates (2025-02-30 -> 2025-03-02), so
    a value only counts as parsed if formatting it back gives the input.
    """
    parsed = pc.strptime(strings, format=fmt, unit="us", error_is_null=True)
    back = pc.strftime(parsed, format=fmt)
    ok = pc.fill_null(pc.equal(back, strings), False)
    return parsed, ok


def _cast_dates(strings: pa.Array, fmt: str | None) -> CastResult:
    f = fmt or "%Y-%m-%d"
    parsed, ok = _dates_fast(strings, f)
    need = pc.and_(pc.is_valid(strings), pc.invert(ok))
    if not pc.any(need).as_py():
        return CastResult(pc.cast(parsed, pa.date32()), [])
    base = pc.cast(pc.if_else(ok, parsed, pa.scalar(None, parsed.type)), pa.date32()).to_pylist()
    idx = pc.indices_nonzero(need).to_pylist()
    return _slow(strings, lambda s: parse_date(s, fmt), pa.date32(), only=idx, base=base)


def _by_distinct(strings: pa.Array, cast: Callable[[pa.Array], CastResult]) -> CastResult:
    """`cast` over the distinct values, spread back to the rows: a date column repeats a few hundred days
    over millions of rows, and parsing (and checking by formatting back) is the costly part."""
    encoded = pc.dictionary_encode(strings)
    distinct = cast(encoded.dictionary)
    array = pc.take(distinct.array, encoded.indices)
    if not distinct.failures:
        return CastResult(array, [])
    failed = {i: (s, msg) for i, s, msg in distinct.failures}
    rows = pc.indices_nonzero(pc.is_in(encoded.indices, value_set=pa.array(sorted(failed), encoded.indices.type)))
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return CastResult(array, [(row, *failed[int(indices[row])]) for row in rows.to_pylist()])


def _cast_timestamps(strings: pa.Array, fmt: str | None, tz: str) -> CastResult:
    slow = lambda s: parse_timestamp(s, fmt, tz)  # noqa: E731
    if fmt is None:
        try:
            return CastResult(pc.cast(strings, TIMESTAMP_TYPE), [])      # all carry offsets
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        try:
            naive = pc.cast(strings, pa.timestamp("us"))                  # none carries an offset
            return CastResult(pc.assume_timezone(naive, timezone=tz), [])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            return _slow(strings, slow, TIMESTAMP_TYPE)
    if "%z" in fmt or "%Z" in fmt:
        return _slow(strings, slow, TIMESTAMP_TYPE)
    parsed, ok = _dates_fast(strings, fmt)
    need = pc.and_(pc.is_valid(strings), pc.invert(ok))
    if pc.any(need).as_py():
        return _slow(strings, slow, TIMESTAMP_TYPE)
    try:
        return CastResult(pc.assume_timezone(parsed, timezone=tz), [])
    except (pa.ArrowInvalid, ValueError):  # DST gap/overlap: the slow path resolves it
        return _slow(strings, slow, TIMESTAMP_TYPE)


def _cast_bools(strings: pa.Array) -> CastResult:
    idx = pc.index_in(pc.utf8_lower(pc.utf8_trim_whitespace(strings)), value_set=_BOOL_KEYS)
    out = pc.take(_BOOL_VALUES, idx)
    bad = pc.and_(pc.is_valid(strings), pc.is_null(idx))
    failures = []
    if pc.any(bad).as_py():
        for i in pc.indices_nonzero(bad).to_pylist():
            s = strings[i].as_py()
            try:
                parse_bool(s)
            except CastError as exc:
                failures.append((i, s, str(exc)))
    return CastResult(out, failures)


def _cast_numbers(strings: pa.Array, target: pa.DataType, parse: Callable[[str], Any]) -> CastResult:
    try:
        out = pc.cast(strings, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _slow(strings, parse, target)
    if pa.types.is_floating(target) and not pc.all(pc.fill_null(pc.is_finite(out), True)).as_py():
        return _slow(strings, parse, target)   # nan / inf: let the slow path name them
    return CastResult(out, [])


# ---------------------------------------------------------------- public

def prepare_strings(arr: pa.Array, em: EntityMapping, col: ColumnSpec) -> pa.Array:
    """Null tokens, value map and number format applied to a raw string column."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), pa.string())
    arr = arr.cast(pa.string())
    if em.null_values:
        trimmed = pc.utf8_trim_whitespace(arr)
        is_null = pc.is_in(trimmed, value_set=pa.array(list(em.null_values), pa.string()))
        arr = pc.if_else(is_null, pa.scalar(None, pa.string()), arr)
    vm = em.value_maps.get(col.name)
    if vm is not None:
        arr = apply_value_map(arr, vm)
    if col.type in ("int", "float", "decimal"):
        arr = pc.utf8_trim_whitespace(arr)
        if em.thousands_separator:
            arr = pc.replace_substring(arr, pattern=em.thousands_separator, replacement="")
        if em.decimal_separator != ".":
            arr = pc.replace_substring(arr, pattern=em.decimal_separator, replacement=".")
    return arr


def apply_value_map(arr: pa.Array, vm: ValueMap) -> pa.Array:
    """Vendor values -> canonical values; unlisted values pass through unchanged."""
    lookup = vm.lookup_keys()
    keys = pa.array(list(lookup.keys()), pa.string())
    vals = pa.array(list(lookup.values()), pa.string())
    probe = pc.utf8_trim_whitespace(arr)
    if vm.case_insensitive:
        probe = pc.utf8_lower(probe)
    idx = pc.index_in(probe, value_set=keys)
    mapped = pc.take(vals, idx)
    return pc.if_else(pc.is_valid(idx), mapped, arr)


def cast_column(arr: pa.Array, col: ColumnSpec, em: EntityMapping) -> CastResult:
    """Cast one raw column of a batch to the canonical type of `col`."""
    target = col.arrow_type
    fmt = em.date_formats.get(col.name)
    if not _is_string(arr.type) and not pa.types.is_null(arr.type):
        typed = _cast_typed(arr, col, em)
        if typed is not None:
            return typed
        arr = pc.cast(arr, pa.string())
    strings = prepare_strings(arr, em, col)
    if col.type == "string":
        return CastResult(strings, [])
    if strings.null_count == len(strings):
        return CastResult(pa.nulls(len(strings), target), [])
    if col.type == "int":
        return _cast_numbers(strings, target, parse_int)
    if col.type == "float":
        return _cast_numbers(strings, target, parse_float)
    if col.type == "decimal":
        return _cast_numbers(strings, target, parse_decimal)
    if col.type == "bool":
        return _cast_bools(strings)
    if col.type == "date":
        return _by_distinct(strings, lambda distinct: _cast_dates(pc.utf8_trim_whitespace(distinct), fmt))
    if col.type == "timestamp":
        return _cast_timestamps(pc.utf8_trim_whitespace(strings), fmt, em.timezone)
    raise AssertionError(f"unhandled canonical type {col.type!r}")


def _cast_typed(arr: pa.Array, col: ColumnSpec, em: EntityMapping) -> CastResult | None:
    """Typed input (Parquet): cast directly when lossless, else None (go through text)."""
    target = col.arrow_type
    if col.name in em.value_maps:
        return None
    if arr.type == target:
        if col.type == "float" and not pc.all(pc.fill_null(pc.is_finite(arr), True)).as_py():
            return None  # NaN/inf: the text path reports them like any other bad number
        return CastResult(arr, [])
    if col.type == "timestamp" and pa.types.is_timestamp(arr.type):
        if arr.type.tz is None:
            try:
                arr = pc.assume_timezone(arr, timezone=em.timezone)
            except (pa.ArrowInvalid, ValueError):
                return None
        return CastResult(pc.cast(arr, TIMESTAMP_TYPE), [])
    if col.type == "date" and pa.types.is_timestamp(arr.type):
        return None  # a non-midnight time must fail, which the text path checks
    if col.type in ("int", "float", "decimal", "bool", "date") and not pa.types.is_nested(arr.type):
        try:
            return CastResult(pc.cast(arr, target, safe=True), [])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return None


__all__ = [
    "CastError", "CastResult", "cast_column", "apply_value_map", "prepare_strings", "raw_text",
    "parse_int", "parse_float", "parse_decimal", "parse_date", "parse_timestamp", "parse_bool",
    "DECIMAL_TYPE",
]
