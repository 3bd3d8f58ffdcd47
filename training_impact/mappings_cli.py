"""`training-impact mappings ...`: check a vendor file against a mapping, propose a mapping.

    training-impact mappings list
    training-impact mappings check FILE --source ENTITY [--mapping NAME] [--sample N] [--json]
    training-impact mappings suggest FILE --source ENTITY [--out FILE.yml]
    training-impact mappings docs [--write]

`check` reads a sample of FILE with the same readers ingestion uses (encoding,
delimiter and layout detection included) and reports which canonical columns of
ENTITY the mapping feeds (with sample values, raw -> canonical), which are
missing, which vendor columns it leaves unused, and the sample values that would
be quarantined (cannot be cast, or not an accepted value after the value map).
Without --mapping, every mapping with a spec for ENTITY is tried and the one
that maps most columns wins. Exit code 1 when a required column is unmapped or
the file cannot be read.

`suggest` proposes a mapping YAML from FILE's header and values: names are
matched to canonical columns by similarity (with vendor synonyms: "User ID" ->
worker_id, "LO ID" -> program_id), values are sniffed (dates and their format,
numbers and their separators, status words close to the accepted values). The
output is a starting point to review, marked with confidences.

`docs` renders the canonical schemas and the mapping catalogue for
docs/mappings.md (`--write` updates the generated part of that file).
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from training_impact.ingestion.casting import cast_column, prepare_strings
from training_impact.ingestion.mapping import EntityMapping, Mapping, MappingError, available_mappings, load_mapping
from training_impact.ingestion.readers import (
    CsvReader, FileRejected, NeedSlowPath, ParquetReader, QualtricsReader, SourceReader, XapiReader, XlsxReader,
    probe_file,
)
from training_impact.ingestion.schemas import EntitySchema, load_schemas

TEXT_FORMATS = ("csv", "ndjson_xapi", "json", "qualtrics")
# File extension -> formats a file of that name may be in.
EXTENSION_FORMATS = {
    ".csv": ("qualtrics", "csv"), ".txt": ("csv",), ".tsv": ("csv",), ".tab": ("csv",),
    ".xlsx": ("xlsx",), ".xlsm": ("xlsx",), ".parquet": ("parquet",), ".pq": ("parquet",),
    ".json": ("json",), ".ndjson": ("ndjson_xapi",), ".jsonl": ("ndjson_xapi",),
}
DEFAULT_SAMPLE = 500
SHOW_VALUES = 3


# --------------------------------------------------------------------------- reading a sample

def formats_for(path: Path) -> tuple[str, ...]:
    return EXTENSION_FORMATS.get(path.suffix.lower(), ("csv",))


def open_reader(path: Path, em: EntityMapping, schema: EntitySchema, batch_size: int,
                permissive: bool = False) -> SourceReader:
    """The reader ingestion would use for `path` under `em` (same detection rules).

    permissive: a CSV whose header maps nothing is still opened (the delimiter
    that splits the header into most fields wins), so that `check` can show it.
    """
    probe = probe_file(path, text=em.format in TEXT_FORMATS, forced_encoding=em.encoding)
    if em.format == "csv":
        def score(fields: list[str]) -> int:
            if permissive:
                return sum(1 for f in fields if f)
            return sum(1 for f in fields if f and em.canonical_for(f, schema) is not None)
        return CsvReader(path, probe, score, batch_size, delimiter=em.delimiter)
    if em.format in ("json", "ndjson_xapi"):
        return XapiReader(path, probe, schema.column_names, batch_size, ndjson=em.format == "ndjson_xapi")
    if em.format == "qualtrics":
        return QualtricsReader(path, probe, batch_size)
    if em.format == "xlsx":
        return XlsxReader(path, probe, batch_size, em.sheet)
    if em.format == "parquet":
        return ParquetReader(path, probe, batch_size)
    raise ValueError(f"format {em.format!r} has no reader")


def first_batch(reader: SourceReader) -> pa.Table:
    """Up to batch_size raw records (the reader's first batch), positional columns."""
    try:
        batch = next(iter(reader.batches()), None)
    except NeedSlowPath:
        batch = next(iter(reader.slow_batches()), None)  # type: ignore[attr-defined]
    except FileRejected as rej:
        if rej.rule in ("header_only", "no_records"):
            return pa.table({f"c{i}": pa.array([], pa.string()) for i in range(len(reader.header))})
        raise
    if batch is None:
        return pa.table({f"c{i}": pa.array([], pa.string()) for i in range(len(reader.header))})
    return batch.table


def _distinct(values: list[Any], n: int = SHOW_VALUES) -> list[str]:
    out: list[str] = []
    for v in values:
        if v is None:
            continue
        s = str(v)
        if s.strip() and s not in out:
            out.append(s)
            if len(out) >= n:
                break
    return out


# --------------------------------------------------------------------------- check

@dataclass
class MappedColumn:
    canonical: str
    vendor: str
    type: str
    required: bool
    samples: list[str]                       # raw values
    canonical_samples: list[str]             # the same values after mapping and casting
    cast_failures: int = 0
    cast_example: str | None = None
    unaccepted: list[str] = field(default_factory=list)   # values not accepted after the value map


@dataclass
class CheckReport:
    file: str
    entity: str
    mapping: str
    pattern: str
    format: str
    records_sampled: int
    notes: list[str]
    mapped: list[MappedColumn]
    missing_required: list[str]
    missing_optional: list[str]
    unknown: list[tuple[str, list[str]]]     # vendor column, sample values
    ambiguous: list[str]
    pattern_matches: bool | None              # None: the file is not under a landing/ folder

    @property
    def ok(self) -> bool:
        return not self.missing_required and not self.ambiguous

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _landing_relative(path: Path) -> str | None:
    parts = path.resolve().parts
    if "landing" in parts:
        i = len(parts) - 1 - parts[::-1].index("landing")
        return "/".join(parts[i + 1:])
    return None


def _candidate_specs(path: Path, entity: str, mapping: str | None) -> list[tuple[Mapping, EntityMapping]]:
    names = [mapping] if mapping else available_mappings()
    fmts = formats_for(path)
    out = []
    for name in names:
        m = load_mapping(name)
        specs = m.for_entity(entity)
        if mapping and not specs:
            raise MappingError(f"mapping {m.name!r} has no spec for {entity!r}")
        rel = _landing_relative(path)
        matched = m.source_for(entity, rel) if rel else None
        for em in specs:
            if em is matched or em.format in fmts or (mapping and len(specs) == 1):
                out.append((m, em))
    return out


def check_file(path: str | Path, entity: str, mapping: str | None = None, sample: int = DEFAULT_SAMPLE) -> CheckReport:
    """Read a sample of `path` as `entity` through a mapping and say what maps."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    entity = _entity(entity)
    schema = load_schemas().entity(entity)
    candidates = _candidate_specs(path, entity, mapping)
    if not candidates:
        raise MappingError(f"no mapping has a {'/'.join(formats_for(path))} spec for {entity!r}"
                           f" (available: {', '.join(available_mappings())})")
    rel = _landing_relative(path)
    best = None
    errors = []
    for m, em in candidates:
        try:
            try:
                reader = open_reader(path, em, schema, sample)
            except FileRejected as rej:
                if rej.rule != "no_expected_columns":
                    raise
                reader = open_reader(path, em, schema, sample, permissive=True)   # nothing maps: show why
        except FileRejected as rej:
            errors.append(f"{m.name} ({em.format}): {rej}")
            continue
        resolved = {}
        for i, h in enumerate(reader.header):
            c = em.canonical_for(h, schema) if h else None
            if c is not None:
                resolved.setdefault(c, i)
        pattern_hit = bool(rel and em.matches(rel))
        key = (pattern_hit, len(resolved), m.name == (mapping or "canonical"))
        if best is None or key > best[0]:
            best = (key, m, em, reader)
    if best is None:
        raise MappingError("the file cannot be read by any candidate mapping: " + "; ".join(errors))
    _, m, em, reader = best
    table = first_batch(reader)
    header = reader.header
    notes = list(reader.notes)

    by_canon: dict[str, list[int]] = {}
    unknown = []
    for i, h in enumerate(header):
        c = em.canonical_for(h, schema) if h else None
        if c is None:
            col = table.column(i).to_pylist() if i < table.num_columns else []
            unknown.append((h or f"(blank column {i + 1})", _distinct(col)))
        else:
            by_canon.setdefault(c, []).append(i)
    mapped = []
    for col in schema.columns:
        idx = by_canon.get(col.name)
        if not idx:
            continue
        i = idx[0]
        raw = table.column(i).combine_chunks() if i < table.num_columns else pa.array([], pa.string())
        tz = getattr(reader, "time_zones", {}).get(header[i])
        em_col = em if not tz else _with_timezone(em, tz)
        res = cast_column(raw, col, em_col)
        failed = {f[0] for f in res.failures}
        raw_list = raw.to_pylist()
        typed_list = res.array.to_pylist()
        pairs, canon_samples = [], []
        for k, v in enumerate(raw_list):
            if v is None or not str(v).strip() or k in failed or str(v) in pairs:
                continue
            pairs.append(str(v))
            canon_samples.append(_show(typed_list[k]))
            if len(pairs) >= SHOW_VALUES:
                break
        unaccepted: list[str] = []
        if col.accepted_values and len(raw):
            mapped_vals = prepare_strings(raw, em, col).to_pylist()
            for rv, mv in zip(raw_list, mapped_vals):
                if mv is not None and mv not in col.accepted_values and str(rv) not in unaccepted:
                    unaccepted.append(str(rv))
        mapped.append(MappedColumn(
            canonical=col.name, vendor=header[i], type=col.type, required=col.required, samples=pairs,
            canonical_samples=canon_samples, cast_failures=len(failed),
            cast_example=res.failures[0][2] if res.failures else None, unaccepted=unaccepted[:10]))
    ambiguous = [f"{c} <- {', '.join(repr(header[i]) for i in idx)}" for c, idx in by_canon.items() if len(idx) > 1]
    return CheckReport(
        file=str(path), entity=entity, mapping=m.name, pattern=", ".join(em.patterns), format=em.format,
        records_sampled=table.num_rows, notes=notes, mapped=mapped,
        missing_required=[c for c in schema.required_columns if c not in by_canon],
        missing_optional=[c.name for c in schema.columns if not c.required and c.name not in by_canon],
        unknown=unknown, ambiguous=ambiguous, pattern_matches=(em.matches(rel) if rel else None),
    )


def _with_timezone(em: EntityMapping, tz: str) -> EntityMapping:
    import dataclasses

    return dataclasses.replace(em, timezone=tz)


def _show(v: Any) -> str:
    if isinstance(v, datetime) and v.tzinfo is not None:
        v = v.astimezone(timezone.utc)  # bronze holds UTC
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def format_check(r: CheckReport) -> str:
    out = [f"file:     {r.file}",
           f"source:   {r.entity}",
           f"mapping:  {r.mapping}  (format {r.format}, pattern {r.pattern})"]
    if r.pattern_matches is False:
        out.append("          note: the file's landing path does not match this pattern; ingestion would not pick it up")
    out.append(f"sampled:  {r.records_sampled} records" + (f"; {'; '.join(r.notes)}" if r.notes else ""))
    out.append("")
    total = len(r.mapped) + len(r.missing_required) + len(r.missing_optional)
    out.append(f"MAPPED ({len(r.mapped)} of {total} canonical columns)")
    w1 = max([len(c.canonical) for c in r.mapped] + [10])
    w2 = min(28, max([len(c.vendor) for c in r.mapped] + [len(n) for n, _ in r.unknown] + [10]))
    for c in r.mapped:
        pairs = [s if s == t else f"{s} -> {t}" for s, t in zip(c.samples, c.canonical_samples)]
        line = f"  {c.canonical:<{w1}} <- {c.vendor:<{w2}}  {', '.join(pairs) if pairs else '(no values in sample)'}"
        out.append(line)
        if c.cast_failures:
            out.append(f"  {'':<{w1}}    ! {c.cast_failures} sample value(s) cannot be read as {c.type}: {c.cast_example}")
        if c.unaccepted:
            out.append(f"  {'':<{w1}}    ! not an accepted value after the value map: {', '.join(c.unaccepted)}")
    out.append("")
    out.append("MISSING required: " + (", ".join(r.missing_required) or "none"))
    out.append("MISSING optional (loaded as null): " + (", ".join(r.missing_optional) or "none"))
    if r.ambiguous:
        out.append("AMBIGUOUS (file rejected on ingest): " + "; ".join(r.ambiguous))
    out.append("")
    out.append(f"UNKNOWN vendor columns, ignored on ingest ({len(r.unknown)})" + (":" if r.unknown else ""))
    for name, vals in r.unknown:
        out.append(f"  {name:<{w2}}  {', '.join(vals) if vals else '(empty in sample)'}")
    bad = sum(c.cast_failures for c in r.mapped) + sum(len(c.unaccepted) for c in r.mapped)
    out.append("")
    verdict = "OK" if r.ok else "NOT LOADABLE"
    why = ("every required column is mapped" if r.ok
           else "; ".join(filter(None, ["required columns unmapped" if r.missing_required else "",
                                        "a canonical column is fed twice" if r.ambiguous else ""])))
    out.append(f"{verdict}: {why}" + (f"; {bad} sample value problem(s) would be quarantined" if bad else ""))
    return "\n".join(out)


# --------------------------------------------------------------------------- suggest

# Vendor words -> the canonical word they stand for, used on names before comparing.
SYNONYMS = {
    "worker": ("employee", "user", "person", "learner", "emp", "associate", "staff", "participant", "holder",
               "recipient", "external"),
    "id": ("number", "no", "nr", "num", "code", "key", "ref", "reference", "identifier", "uuid"),
    "program": ("course", "object", "lo", "programme", "training", "curriculum", "learning", "activity"),
    "enrollment": ("registration", "enrolment", "transcript", "subscription"),
    "enrolled": ("registered", "registration", "created", "subscribed", "assigned"),
    "completion": ("completed", "finished", "achieved", "end"),
    "started": ("start", "first", "launched", "began", "access"),
    "effective": ("valid",),
    "event": ("process", "action", "change"),
    "termination": ("separation", "exit", "leave", "terminated"),
    "hire": ("hired", "joining", "start"),
    "title": ("name",),
    "credential": ("certification", "certificate", "badge"),
    "issued": ("achieved", "awarded"),
    "expires": ("expiration", "expiry", "valid", "to"),
    "score": ("grade", "result", "mark", "points"),
    "hours": ("duration", "time"),
    "department": ("organization", "organisation", "org", "unit"),
    "manager": ("supervisor", "boss", "lead"),
    "base": ("annual", "salary"),
    "pay": ("salary", "compensation"),
    "email": ("mail", "e-mail"),
    "status": ("state",),
    "reason": ("description",),
    "region": ("zone", "geo"),
    "evaluator": ("reviewer", "rater"),
    "waiver": ("exemption", "exempt", "waived"),
    "method": ("delivery", "modality"),
    "rating": ("rate",),
}
_SYN = {w: canon for canon, words in SYNONYMS.items() for w in words}
STATUS_SYNONYMS = {
    "registered": "not_started", "subscribed": "not_started", "enrolled": "not_started", "assigned": "not_started",
    "pending": "not_started", "started": "in_progress", "active": "in_progress", "incomplete": "in_progress",
    "complete": "completed", "done": "completed", "finished": "completed", "pass": "passed", "fail": "failed",
    "exempt": "waived", "exempted": "waived", "cancelled": "withdrawn", "canceled": "withdrawn",
    "dropped": "withdrawn", "unsubscribed": "withdrawn", "unenrolled": "withdrawn", "suspended": "withdrawn",
    "required": "mandatory", "assigned_required": "mandatory", "self_registered": "optional", "elective": "optional",
    "suggested": "recommended",
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%Y%m%d", "%d-%b-%Y",
                "%d %b %Y", "%b %d, %Y")
TIME_SUFFIXES = ("", " %H:%M:%S", " %H:%M", "T%H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_ISO_DT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_BOOL_WORDS = ("true", "false", "t", "f", "yes", "no", "y", "n", "1", "0")  # what casting reads as bool
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _tokens(name: str) -> list[str]:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    words = [w for w in re.split(r"[^a-z0-9]+", s.lower()) if w]
    return [_SYN.get(w, w) for w in words]


def name_similarity(vendor: str, canonical: str) -> float:
    v, c = _tokens(vendor), _tokens(canonical)
    if not v or not c:
        return 0.0
    if v == c:
        return 1.0
    vs, cs = set(v), set(c)
    jaccard = len(vs & cs) / len(vs | cs)
    ratio = difflib.SequenceMatcher(None, " ".join(v), " ".join(c)).ratio()
    # every canonical word present in the vendor name (e.g. "Employee_ID" -> worker_id)
    cover = len(vs & cs) / len(cs)
    return max(ratio, 0.5 * jaccard + 0.5 * cover)


@dataclass
class Sniff:
    kind: str                    # empty | date | timestamp | int | float | bool | email | text
    date_format: str | None = None
    date_ambiguous: bool = False
    decimal_separator: str = "."
    thousands_separator: str | None = None
    distinct: list[str] = field(default_factory=list)


def _parses(values: list[str], fmt: str) -> bool:
    try:
        for v in values:
            datetime.strptime(v, fmt)
    except ValueError:
        return False
    return True


def sniff_values(values: list[str]) -> Sniff:
    vals = [v.strip() for v in values if v is not None and str(v).strip()]
    distinct = list(dict.fromkeys(vals))
    if not vals:
        return Sniff("empty")
    s = Sniff("text", distinct=distinct[:50])
    if all(_ISO_DT.match(v) for v in vals):
        has_time = any(len(v) > 10 and not re.search(r"[T ]00:00(:00(\.0+)?)?$", v) for v in vals)
        s.kind = "timestamp" if has_time else "date"
        return s
    for d in DATE_FORMATS:
        for t in TIME_SUFFIXES:
            fmt = d + t
            if _parses(vals[:200], fmt):
                s.kind = "date" if not t or all(re.search(r"00:00(:00)?( AM)?$", v) for v in vals) else "timestamp"
                s.date_format = fmt
                swapped = fmt.replace("%m", "%_").replace("%d", "%m").replace("%_", "%d")
                s.date_ambiguous = swapped != fmt and _parses(vals[:200], swapped)
                return s
    if all(v.lower() in ("true", "false", "yes", "no", "y", "n", "t", "f") for v in vals):
        s.kind = "bool"
        return s
    if all(_EMAIL.match(v) for v in vals):
        s.kind = "email"
        return s
    if all(re.match(r"^-?\d+$", v) for v in vals):
        s.kind = "int"
        return s
    if all(re.match(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?$", v) for v in vals):
        s.kind, s.thousands_separator = "float", ("," if any("," in v for v in vals) else None)
        return s
    if all(re.match(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$|^-?\d+(,\d+)?$", v) for v in vals):
        s.kind, s.decimal_separator = "float", ","
        s.thousands_separator = "." if any("." in v for v in vals) else None
        return s
    return s


def _canonical_word(v: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", v.strip().lower()).strip("_")


def propose_value(vendor_value: str, accepted: tuple[str, ...]) -> tuple[str | None, float]:
    w = _canonical_word(vendor_value)
    if w in accepted:
        return w, 1.0
    if STATUS_SYNONYMS.get(w) in accepted:
        return STATUS_SYNONYMS[w], 0.9
    # an accepted value spelled out inside a longer vendor label ("Terminate Employee > Voluntary")
    inside = [a for a in accepted if f"_{a}_" in f"_{w}_"]
    if inside:
        return max(inside, key=len), 0.7
    close = difflib.get_close_matches(w, accepted, n=1, cutoff=0.6)
    if close:
        return close[0], 0.6
    return None, 0.0


def value_fit(sniff: Sniff, col) -> float:
    """How well sampled values fit a canonical column: -1 (impossible) .. +0.4 (telling)."""
    t = col.type
    if sniff.kind == "empty":
        return 0.0
    if t in ("date", "timestamp"):
        return 0.3 if sniff.kind in ("date", "timestamp") else -1.0
    if sniff.kind in ("date", "timestamp"):
        return -1.0
    if t in ("int", "float", "decimal"):
        if sniff.kind in ("int", "float"):
            return 0.2
        return -1.0
    if t == "bool":
        return 0.3 if sniff.kind in ("bool", "int") and len(sniff.distinct) <= 2 else -0.5
    if col.accepted_values:
        # vendor words that land on accepted values are strong evidence, whatever the header says
        hits = sum(1 for v in sniff.distinct if propose_value(v, col.accepted_values)[0])
        return 0.6 * hits / max(1, len(sniff.distinct)) - (0.3 if hits == 0 else 0.0)
    if col.name == "email":
        return 0.4 if sniff.kind == "email" else -0.5
    return 0.0


@dataclass
class Suggestion:
    entity: str
    format: str
    header: list[str]
    columns: list[tuple[str, str, float]]                  # vendor, canonical, confidence
    unmatched: list[tuple[str, list[str]]]
    value_maps: dict[str, dict[str, tuple[str | None, float]]]
    date_formats: dict[str, tuple[str, bool]]
    decimal_separator: str
    thousands_separator: str | None
    identifiers: list[str]
    maybe_identifiers: list[str]
    notes: list[str]
    pattern: str

    def to_yaml(self) -> str:
        q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
        schema = load_schemas().entity(self.entity)
        lines = [
            f"# Mapping proposed by `training-impact mappings suggest` from {Path(self.pattern).name!s}.",
            "# Review every line: confidences are in the comments (1.00 = same name).",
            "# Save as ingestion/mappings/<vendor>.yml, then run `training-impact mappings check`.",
            f"description: {q('Proposed mapping for ' + self.entity + ' (review before use)')}",
            "",
            "entities:",
            f"  {self.entity}:",
            f"    pattern: {q(self.pattern)}",
            f"    format: {self.format}",
        ]
        if self.decimal_separator != ".":
            lines.append(f"    decimal_separator: {q(self.decimal_separator)}")
        if self.thousands_separator:
            lines.append(f"    thousands_separator: {q(self.thousands_separator)}")
        lines.append("    columns:")
        for vendor, canon, conf in self.columns:
            lines.append(f"      {q(vendor)}: {canon}    # {conf:.2f}")
        missing_req = [c for c in schema.required_columns if c not in {x[1] for x in self.columns}]
        for c in missing_req:
            lines.append(f"      # TODO: no vendor column found for required column {c}")
        if self.value_maps:
            lines.append("    value_maps:")
            for col, vm in self.value_maps.items():
                lines.append(f"      {col}:")
                lines.append("        case_insensitive: true")
                lines.append("        values:")
                for vv, (cv, conf) in vm.items():
                    if cv is None:
                        lines.append(f"          # {q(vv)}: ???    # TODO: no accepted value is close")
                    else:
                        lines.append(f"          {q(vv)}: {cv}    # {conf:.2f}")
        if self.date_formats:
            lines.append("    date_formats:")
            for col, (fmt, ambiguous) in self.date_formats.items():
                note = "    # ambiguous: day and month both <= 12 in the sample" if ambiguous else ""
                lines.append(f"      {col}: {q(fmt)}{note}")
        if self.identifiers:
            lines.append(f"    identifiers: [{', '.join(q(i) for i in self.identifiers)}]")
        if self.maybe_identifiers:
            lines.append(f"    # possible direct identifiers left unmapped: {', '.join(self.maybe_identifiers)}")
        if self.unmatched:
            lines.append("    # vendor columns not mapped (ignored on ingest):")
            for name, vals in self.unmatched:
                lines.append(f"    #   {name}: {', '.join(vals) if vals else '(empty in sample)'}")
        for n in self.notes:
            lines.append(f"    # note: {n}")
        return "\n".join(lines) + "\n"


def _sniff_reader(path: Path, entity: str, schema: EntitySchema, sample: int) -> tuple[SourceReader, str]:
    """A reader for an unknown file: its format from the extension and the content."""
    from training_impact.ingestion.mapping import EntityMapping as EM

    errors = []
    for fmt in formats_for(path):
        em = EM(entity=entity, patterns=("*",), format=fmt, columns={})
        try:
            if fmt == "csv":
                probe = probe_file(path, text=True)
                # No mapping yet: the delimiter that splits the header into most fields wins.
                return CsvReader(path, probe, lambda fields: sum(1 for f in fields if f), sample), fmt
            return open_reader(path, em, schema, sample), fmt
        except FileRejected as rej:
            errors.append(f"{fmt}: {rej}")
    raise MappingError(f"cannot read {path}: " + "; ".join(errors))


def suggest_mapping(path: str | Path, entity: str, sample: int = DEFAULT_SAMPLE) -> Suggestion:
    path = Path(path)
    entity = _entity(entity)
    schema = load_schemas().entity(entity)
    reader, fmt = _sniff_reader(path, entity, schema, sample)
    table = first_batch(reader)
    header = list(reader.header)
    notes = list(reader.notes)
    if fmt in ("json", "ndjson_xapi"):
        return Suggestion(entity, fmt, header, [], [], {}, {}, ".", None, [], [], notes + [
            "xAPI statements need no column mapping"], _pattern_for(path, schema))
    cols = {i: (table.column(i).to_pylist() if i < table.num_columns else []) for i in range(len(header))}
    sniffs = {i: sniff_values([str(v) for v in cols[i] if v is not None]) for i in cols}
    scored = []
    for i, h in enumerate(header):
        if not h:
            continue
        for c in schema.columns:
            ns = name_similarity(h, c.name)
            fit = value_fit(sniffs[i], c)
            if fit <= -1.0:
                continue
            scored.append((ns + fit, ns, i, c.name))
    scored.sort(key=lambda x: (-x[0], -x[1], x[2]))
    used_v, used_c, chosen = set(), set(), {}
    for score, ns, i, c in scored:
        strong_values = bool(schema.column(c).accepted_values) and score - ns >= 0.4
        if i in used_v or c in used_c or score < 0.6 or (ns < 0.35 and not strong_values):
            continue
        used_v.add(i)
        used_c.add(c)
        chosen[i] = (c, min(1.0, score))
    columns = [(header[i], c, conf) for i, (c, conf) in sorted(chosen.items())]
    unmatched = [(h, _distinct(cols[i])) for i, h in enumerate(header) if i not in chosen and h]

    value_maps: dict[str, dict[str, tuple[str | None, float]]] = {}
    date_formats: dict[str, tuple[str, bool]] = {}
    dec, thou = ".", None
    for i, (c, _) in chosen.items():
        spec = schema.column(c)
        sn = sniffs[i]
        if spec.type in ("date", "timestamp") and sn.date_format and sn.date_format != "%Y-%m-%d":
            date_formats[c] = (sn.date_format, sn.date_ambiguous)
        if spec.type in ("float", "decimal", "int") and sn.kind == "float":
            if sn.decimal_separator != ".":
                dec = sn.decimal_separator
            if sn.thousands_separator:
                thou = sn.thousands_separator
        if spec.accepted_values and any(v not in spec.accepted_values for v in sn.distinct):
            value_maps[c] = {v: propose_value(v, spec.accepted_values) for v in sn.distinct}
        if spec.type == "bool" and any(v.strip().lower() not in _BOOL_WORDS for v in sn.distinct):
            notes.append(f"{c}: values {sn.distinct[:4]} are not true/false words; add a value map")
    identifiers = [header[i] for i, (c, _) in chosen.items() if schema.column(c).pii]
    maybe = [h for i, h in enumerate(header) if i not in chosen and h
             and (sniffs[i].kind == "email" or re.search(r"(^|[^a-z])(name|email|mail|ssn|phone|address)([^a-z]|$)",
                                                          h.lower()))]
    return Suggestion(entity, fmt, header, columns, unmatched, value_maps, date_formats, dec, thou, identifiers,
                      maybe, notes, _pattern_for(path, schema))


def _pattern_for(path: Path, schema: EntitySchema) -> str:
    """A glob for files like this one: the date in the name becomes '*'."""
    rel = _landing_relative(path)
    name = path.name
    star = re.sub(r"\d{4}-\d{2}(-\d{2})?", "*", name)
    if star == name:
        star = "*" + path.suffix
    folder = str(Path(rel).parent) if rel else schema.family
    return f"{folder}/{star}" if folder not in ("", ".") else star


# --------------------------------------------------------------------------- docs

DOCS_BEGIN = "<!-- BEGIN GENERATED: training-impact mappings docs --write -->"
DOCS_END = "<!-- END GENERATED -->"
DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "mappings.md"


def render_docs() -> str:
    """The generated part of docs/mappings.md: canonical schemas and the mapping catalogue."""
    s = load_schemas()
    out = ["## Mapping files", "",
           "| mapping | entities | formats | description |", "|---|---|---|---|"]
    for name in available_mappings():
        m = load_mapping(name)
        ents = ", ".join(m.entities)
        fmts = ", ".join(sorted({em.format for specs in m.entities.values() for em in specs}))
        out.append(f"| `{name}` | {ents} | {fmts} | {m.description} |")
    out += ["", "## Canonical schemas", "",
            "Generated from `ingestion/canonical_schemas.yml`. Flags: **required** (null is a row error), "
            "**key** (part of the unique key), **pii** (direct identifier, never past bronze).", ""]
    for family, entities in s.families.items():
        out.append(f"### Family `{family}`")
        out.append("")
        for e in entities:
            es = s.entity(e)
            out.append(f"#### `{e}` (load: {es.load}{', optional' if es.optional else ''})")
            out.append("")
            out.append("| column | type | flags | allowed |")
            out.append("|---|---|---|---|")
            for c in es.columns:
                flags = ", ".join(f for f, on in (("required", c.required), ("key", c.key), ("pii", c.pii)) if on)
                allowed = []
                if c.accepted_values:
                    allowed.append(", ".join(f"`{v}`" for v in c.accepted_values))
                if c.min is not None or c.max is not None:
                    allowed.append(f"{'' if c.min is None else c.min} .. {'' if c.max is None else c.max}")
                out.append(f"| `{c.name}` | {c.type} | {flags} | {'; '.join(allowed)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def docs_text(current: str) -> str:
    """`current` docs/mappings.md with its generated part replaced."""
    start, end = current.find(DOCS_BEGIN), current.find(DOCS_END)
    if start < 0 or end < start:
        raise ValueError(f"{DOCS_PATH} lacks the markers {DOCS_BEGIN!r} ... {DOCS_END!r}")
    return current[: start + len(DOCS_BEGIN)] + "\n\n" + render_docs() + "\n" + current[end:]


# --------------------------------------------------------------------------- command line

def cmd_list(args: argparse.Namespace) -> int:
    for name in available_mappings():
        m = load_mapping(name)
        print(f"{name:<18} {', '.join(m.entities)}")
        if m.description:
            print(f"{'':<18} {m.description}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    try:
        report = check_file(args.file, _entity(args.source), args.mapping, args.sample)
    except (MappingError, FileRejected, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else format_check(report))
    return 0 if report.ok else 1


def cmd_suggest(args: argparse.Namespace) -> int:
    try:
        text = suggest_mapping(args.file, _entity(args.source), args.sample).to_yaml()
    except (MappingError, FileRejected, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    if args.write:
        DOCS_PATH.write_text(docs_text(DOCS_PATH.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"updated {DOCS_PATH}", file=sys.stderr)
    else:
        print(render_docs(), end="")
    return 0


def _entity(source: str) -> str:
    """An entity name, or a family with a single entity (surveys -> survey_responses)."""
    s = load_schemas()
    if source in s.entities:
        return source
    if source in s.families and len(s.families[source]) == 1:
        return s.families[source][0]
    raise KeyError(f"unknown source {source!r}; entities: {', '.join(s.entities)}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `mappings list|check|suggest|docs` on the main parser's subcommands."""
    p = sub.add_parser("mappings", help="vendor mapping files: list, check a file, suggest a mapping, docs")
    msub = p.add_subparsers(dest="mappings_command", required=True)
    ls = msub.add_parser("list", help="the mapping files of ingestion/mappings/")
    ls.set_defaults(func=cmd_list)
    ck = msub.add_parser("check", help="which canonical columns a file's columns map to, with sample values")
    ck.add_argument("file")
    ck.add_argument("--source", required=True, help="canonical entity (workers, enrollments, ...) or a one-entity family")
    ck.add_argument("--mapping", default=None, help="mapping name or path (default: the one that maps most columns)")
    ck.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="records to read")
    ck.add_argument("--json", action="store_true", help="machine-readable report")
    ck.set_defaults(func=cmd_check)
    sg = msub.add_parser("suggest", help="propose a mapping YAML from a file's header and values")
    sg.add_argument("file")
    sg.add_argument("--source", required=True)
    sg.add_argument("--sample", type=int, default=DEFAULT_SAMPLE)
    sg.add_argument("--out", default=None, help="write the YAML here instead of stdout")
    sg.set_defaults(func=cmd_suggest)
    dc = msub.add_parser("docs", help="render the canonical schemas and mapping catalogue (docs/mappings.md)")
    dc.add_argument("--write", action="store_true", help="update the generated part of docs/mappings.md")
    dc.set_defaults(func=cmd_docs)
