"""Mapping transforms applied to a batch (the declarations: ingestion.transforms).

Everything is column-at-a-time: pyarrow.compute for text (regex, split, join, arithmetic) and an
in-memory DuckDB for what Arrow has no kernel for (SHA-256 of a key, a running number per group
across batches, the set-based join of a lookup with its nearest-date pick). No transform calls
Python per row. A derived column is raw material like a column read from the file: the engine
casts it with the column's value map, date format and number format.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .casting import parse_float, _cast_numbers
from .mapping import EntityMapping, normalize_header
from .transforms import (
    HASH_PART_SEPARATOR, Constant, Convert, Key, Lookup, Regex, Sequence, SimpleTransform, Split,
)

Failure = tuple[int, str | None, str]          # (row in batch, raw value, message)
MICROS_PER_DAY = 86_400_000_000


def _duckdb():
    import duckdb

    # Small, short-lived: one in-memory database per call, one thread (ingestion shares the cores).
    return duckdb.connect(config={"threads": 1})


@dataclass
class DeriveState:
    """What a transform carries from one batch of a file to the next (a sequence's count per group).
    A new read of the file (the record-by-record restart) starts from a new state."""
    sequences: dict[str, pa.Table] = field(default_factory=dict)


def text_of(arr: pa.Array, em: EntityMapping) -> pa.Array:
    """A raw column as trimmed text, the mapping's null tokens (and blanks) as null."""
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    tokens = sorted({t.strip() for t in em.null_values} | {""})
    return pc.if_else(pc.is_in(arr, value_set=pa.array(tokens, pa.string())), pa.scalar(None, pa.string()), arr)


def sha256_hex(values: pa.Array, length: int) -> pa.Array:
    """Hex SHA-256 of each text (null stays null), cut to `length` digits: the same on every machine,
    independent of the pseudonymisation key and of the order of the rows."""
    with _duckdb() as con:
        con.register("v", pa.table({"v": values}))
        out = con.sql(f"select substr(sha256(v), 1, {int(length)}) as h from v").to_arrow_table()
    return out.column("h").combine_chunks().cast(pa.string())


def _sequence(t: Sequence, parts: list[pa.Array], state: DeriveState, column: str) -> pa.Array:
    """1-based (or `start`-based) number of each row within its group, counted in file order across
    the batches of the file."""
    n = len(parts[0])
    key = pc.binary_join_element_wise(*[pc.fill_null(p, "\x00") for p in parts], HASH_PART_SEPARATOR)
    prior = state.sequences.get(column, pa.table({"k": pa.array([], pa.string()), "n": pa.array([], pa.int64())}))
    with _duckdb() as con:
        con.register("b", pa.table({"k": key, "r": pa.array(np.arange(n, dtype=np.int64))}))
        con.register("prior", prior)
        out = con.sql(
            "select b.r, row_number() over (partition by b.k order by b.r) + coalesce(prior.n, 0) as seq, b.k "
            "from b left join prior on b.k = prior.k order by b.r").to_arrow_table()
        con.register("o", out)
        state.sequences[column] = con.sql(
            "select k, max(n) as n from (select k, n from prior union all select k, seq as n from o) group by k"
        ).to_arrow_table()
    seq = out.column("seq").combine_chunks().cast(pa.int64())
    return pc.add(seq, pa.scalar(t.start - 1, pa.int64())) if t.start != 1 else seq


def _numbers(text: pa.Array, em: EntityMapping) -> tuple[pa.Array, list[Failure]]:
    if em.thousands_separator:
        text = pc.replace_substring(text, pattern=em.thousands_separator, replacement="")
    if em.decimal_separator != ".":
        text = pc.replace_substring(text, pattern=em.decimal_separator, replacement=".")
    res = _cast_numbers(text, pa.float64(), parse_float)
    return res.array, list(res.failures)


def apply_simple(t: SimpleTransform, columns: list[pa.Array], n: int, em: EntityMapping,
                 state: DeriveState | None = None, target: str = "") -> tuple[pa.Array, list[Failure]]:
    """One simple transform over its input columns (raw, in the order of `t.inputs()`), as raw material
    for the target column: text, or float64 for a unit conversion. Failures: (row, value, message)."""
    if isinstance(t, Constant):
        return pa.repeat(pa.scalar(t.value, pa.string()), n), []
    parts = [text_of(c, em) for c in columns]
    if isinstance(t, Key):
        if t.method == "concat":
            return pc.binary_join_element_wise(*parts, t.separator), []
        return sha256_hex(pc.binary_join_element_wise(*parts, HASH_PART_SEPARATOR), t.length), []
    if isinstance(t, Sequence):
        return _sequence(t, parts, state if state is not None else DeriveState(), target), []
    src = parts[0]
    if isinstance(t, Regex):
        inner = f"({t.pattern})" if t.group == 0 else f"(?:{t.pattern})"
        group = 1 if t.group == 0 else t.group
        found = pc.match_substring_regex(src, pattern=t.pattern)
        taken = pc.replace_substring_regex(src, pattern=f"(?s)^.*?{inner}.*$", replacement=f"\\{group}",
                                           max_replacements=1)
        return pc.if_else(pc.fill_null(found, False), taken, pa.scalar(None, pa.string())), []
    if isinstance(t, Split):
        padded = pc.binary_join_element_wise(src, pa.scalar(t.separator * (t.index + 1)), "")
        part = pc.utf8_trim_whitespace(pc.list_element(pc.split_pattern(padded, pattern=t.separator), t.index))
        return pc.if_else(pc.equal(part, ""), pa.scalar(None, pa.string()), part), []
    if isinstance(t, Convert):
        values, failures = _numbers(src, em)
        failures = [(i, v, f"cannot convert {t.describe()}: {msg}") for i, v, msg in failures]
        out = pc.add(pc.divide(pc.multiply(values, t.multiply), t.divide), t.add)
        if t.round is not None:
            out = pc.round(out, ndigits=t.round, round_mode="half_towards_infinity")
        return out, failures
    raise AssertionError(f"unhandled transform {t!r}")


# --------------------------------------------------------------------------- lookups

def key_text(arr: pa.Array) -> pa.Array:
    """A value matched by a lookup, as text (both sides the same way): ISO dates, trimmed strings."""
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.utf8_trim_whitespace(arr)


def to_micros(arr: pa.Array) -> pa.Array:
    """A date or timestamp column as microseconds since 1970-01-01 UTC (a date is its midnight)."""
    if pa.types.is_date(arr.type):
        arr = pc.cast(pc.cast(arr, pa.date32()), pa.timestamp("us"))
    elif pa.types.is_timestamp(arr.type):
        arr = pc.cast(arr, pa.timestamp("us", tz=arr.type.tz))
    else:
        raise TypeError(f"a nearest-date lookup needs a date or timestamp, got {arr.type}")
    return pc.cast(arr, pa.int64())


@dataclass
class LookupResult:
    values: pa.Array            # the value taken, null where none (their type)
    matched: np.ndarray         # bool per row: one value found
    ambiguous: np.ndarray       # bool per row: several candidates with different values (no nearest)


def resolve_lookup(t: Lookup, ours: list[pa.Array], our_time: pa.Array | None, theirs: pa.Table) -> LookupResult:
    """Set-based lookup of one batch: `ours` are our match values (text, in `t.match` order), `our_time`
    our date/timestamp as microseconds when `t.nearest` is set; `theirs` has columns m0..mk (text), `at`
    (microseconds, with nearest) and `take`. Without `nearest` every candidate must agree on one value."""
    n = len(ours[0]) if ours else 0
    cols = {f"m{i}": a for i, a in enumerate(ours)}
    cols["r"] = pa.array(np.arange(n, dtype=np.int64))
    if t.nearest is not None:
        cols["at"] = our_time
    keys = " and ".join(f"b.m{i} = l.m{i}" for i in range(len(ours)))
    take_type = theirs.schema.field("take").type
    with _duckdb() as con:
        con.register("b", pa.table(cols))
        con.register("l", theirs)
        if t.nearest is None:
            out = con.sql(
                f"select b.r, min(l.take) as take, count(distinct l.take) as k from b join l on {keys} "
                "where l.take is not null group by b.r").to_arrow_table()
        else:
            cond = ["b.at is not null", "l.at is not null", "l.take is not null"]
            if t.nearest.direction == "before":
                cond.append("l.at <= b.at")
            elif t.nearest.direction == "after":
                cond.append("l.at >= b.at")
            if t.nearest.within_days is not None:
                cond.append(f"abs(l.at - b.at) <= {int(round(t.nearest.within_days * MICROS_PER_DAY))}")
            # the nearest in time; equally near: the earlier, then the smaller value (never the row order)
            out = con.sql(
                f"select b.r, l.take as take, 1 as k from b join l on {keys} where {' and '.join(cond)} "
                "qualify row_number() over (partition by b.r order by abs(l.at - b.at), l.at, l.take) = 1"
            ).to_arrow_table()
    rows = out.column("r").to_numpy(zero_copy_only=False).astype(np.int64)
    k = out.column("k").to_numpy(zero_copy_only=False).astype(np.int64)
    matched = np.zeros(n, dtype=bool)
    ambiguous = np.zeros(n, dtype=bool)
    matched[rows[k == 1]] = True
    ambiguous[rows[k > 1]] = True
    # scatter the taken values back to their rows (null elsewhere)
    index = np.full(n, -1, dtype=np.int64)
    index[rows[k == 1]] = np.flatnonzero(k == 1)
    take_idx = pa.array(index, mask=index < 0)
    values = out.column("take").combine_chunks().cast(take_type).take(take_idx) if n else pa.nulls(0, take_type)
    return LookupResult(values, matched, ambiguous)


def header_positions(header: list[str]) -> dict[str, int]:
    """Normalised vendor header -> first position (a repeated header is ambiguous: -1)."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        if not h:
            continue
        k = normalize_header(h)
        out[k] = -1 if k in out else i
    return out


__all__ = [
    "DeriveState", "LookupResult", "apply_simple", "header_positions", "key_text",
    "resolve_lookup", "sha256_hex", "text_of", "to_micros",
]
