"""The ingestion engine: landing file -> typed, lineage-stamped bronze Parquet.

For every file: hash it; skip it as `duplicate` when the same bytes were
already loaded; read it in bounded batches; per batch cast to the canonical
types, run the GX row rules and the reference checks; write passing rows to
bronze and every failure to quarantine (one row per failed rule per record);
reconcile rows_read = rows_loaded + rows_quarantined; commit bronze and
quarantine atomically; write the manifest row last. A file that cannot be read
as its source is `rejected` whole and moved to `rejected/<batch_id>/`.

Family order matters for references: ingest `hris` (workers) before anything
that points at workers, and within `lms` programs come first (the order of
canonical_schemas.yml). `ingest_family` refreshes the reference ids after it
loads workers or programs.
"""
from __future__ import annotations

import dataclasses
import copy
import hashlib
import os
import re
import stat
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_impact.disk import DiskSpaceError, ensure_free_space, is_no_space

from .casting import cast_column
from .derive import DeriveState, apply_simple, header_positions, key_text, resolve_lookup, text_of, to_micros
from .mapping import EntityMapping, Mapping, MappingError, load_mapping, mapping_for_family, normalize_header
from .readers import (
    EMPTY_EXTRACT_RULES, MAX_JSON_DEPTH, MAX_RECORD_BYTES, CsvReader, FileProbe, FileRejected, NeedSlowPath,
    ParquetReader, QualtricsReader, RawBatch, SourceReader, XapiReader, XlsxReader, probe_file,
)
from .references import (
    REFERENCE_CHECKS, REFERENCE_SOURCES, LazyReferenceIds, load_program_catalogue, reference_rule,
)
from .schemas import TIMESTAMP_TYPE, CanonicalSchemas, EntitySchema, load_schemas
from .transforms import Lookup
from .store import (
    QUARANTINE_SCHEMA, AtomicParquetWriter, Layout, append_manifest_row, move_to_rejected, read_manifest,
)

# GX gets one pandas frame per batch: 100k rows keeps a batch of the widest
# entity well under a few hundred MB while amortising the per-call GX cost.
DEFAULT_BATCH_SIZE = 100_000
TEXT_FORMATS = ("csv", "ndjson_xapi", "json", "qualtrics")
# Rule of a value that cannot be read as its canonical type; same name as the
# expectations vocabulary (`invalid_type:<col>`).
CAST_RULE = "invalid_type:{column}"
# Rule of a required column a mapping's lookup found no single value for (ingestion.transforms).
LOOKUP_RULE = "lookup_unresolved:{column}"


class ReconciliationError(RuntimeError):
    """rows_read != rows_loaded + rows_quarantined: a bug, never written to the manifest."""


# A landing entry that is not a regular file (symlink, FIFO, device, socket): never opened,
# never followed; set aside in rejected/ with this rule (DECISIONS D87).
SPECIAL_FILE_RULE = "not_a_regular_file"
MB = 1 << 20


@dataclass(frozen=True)
class IngestLimits:
    """Bounds on one landing file (config/parameters.yml `ingestion:`; DECISIONS D85)."""
    max_json_depth: int = MAX_JSON_DEPTH       # deeper JSON records: quarantined, json_nesting_depth
    max_record_bytes: int = MAX_RECORD_BYTES   # a longer NDJSON line / array element: oversize_record
    max_file_bytes: int = 0                    # a bigger landing file is rejected (oversize_file); 0 = no limit

    @classmethod
    def from_parameters(cls, params: dict | None = None) -> "IngestLimits":
        if params is None:
            from training_impact.settings import load_parameters

            params = load_parameters()
        cfg = dict((params or {}).get("ingestion") or {})
        return cls(max_json_depth=int(cfg.get("max_json_depth", MAX_JSON_DEPTH)),
                   max_record_bytes=int(float(cfg.get("max_record_mb", MAX_RECORD_BYTES / MB)) * MB),
                   max_file_bytes=int(float(cfg.get("max_file_mb", 0) or 0) * MB))


class RowValidator(Protocol):
    def __call__(self, entity: str, df: Any) -> Any:  # -> object with .failures (DataFrame) and .result (dict)
        ...


class RowRules(Protocol):
    """Builds the row validator of one file: (as_of, source_file, gx_references) -> RowValidator.

    The GX suites are ``expectations.row_rules``. The validator is passed into
    ingestion, never imported by it: expectations sit a layer above (tests/unit/test_layers.py).
    """

    def __call__(self, as_of: date, source_file: str, gx_references: dict[str, Any]) -> RowValidator:
        ...


@dataclass
class ProgressEvent:
    source_file: str
    entity: str | None
    stage: str                  # start | batch | done
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class FileReport:
    source_file: str                       # relative to landing/
    sha256: str
    entity: str | None
    status: str                            # loaded | duplicate | rejected
    reason: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)   # records failing each rule
    bronze_file: str | None = None         # relative to the data root
    quarantine_file: str | None = None
    rejected_file: str | None = None
    family: str | None = None
    mapping: str | None = None
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    validation: list[dict] = field(default_factory=list, repr=False)   # GX result summary per batch
    # Volume check: earlier loads of the same entity *and cadence* (see file_series),
    # newest first: [{"source_file", "rows_loaded"}]. previous_rows_loaded is the first.
    previous_rows_loaded: int | None = None
    previous_loads: list[dict] = field(default_factory=list)
    cadence: str | None = None             # daily | monthly | yearly | undated (from the file name)
    # The GX results of the row validation (expectations.validate.RowValidation, per
    # batch), kept for Data Docs (expectations.results.record_reports); never serialised.
    gx_results: list = field(default_factory=list, repr=False, compare=False)

    def to_dict(self, with_validation: bool = False) -> dict[str, Any]:
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "gx_results"}
        for k in ("started_at", "finished_at"):
            d[k] = d[k].isoformat() if d[k] else None
        if not with_validation:
            d.pop("validation")
            d["gx_batches"] = len(self.validation)
            d["gx_success"] = all(v.get("success", False) for v in self.validation) if self.validation else None
        return d

    as_dict = to_dict


@dataclass
class FamilyReport:
    family: str
    batch_id: str
    mapping: str
    files: list[FileReport] = field(default_factory=list)
    unmatched_files: list[str] = field(default_factory=list)   # landing files no pattern reads

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files if f.status == "loaded")

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files if f.status == "loaded")

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if f.status == "loaded")

    @property
    def quarantine_share(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0

    @property
    def rejected(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    def quarantine_by_rule(self) -> dict[str, int]:
        c: Counter[str] = Counter()
        for f in self.files:
            c.update(f.quarantine_by_rule)
        return dict(sorted(c.items()))

    def to_metadata(self) -> dict[str, Any]:
        """Plain JSON-able summary (Dagster asset metadata, run logs)."""
        return {
            "family": self.family,
            "batch_id": self.batch_id,
            "mapping": self.mapping,
            "files_seen": len(self.files),
            "files_loaded": self._count("loaded"),
            "files_duplicate": self._count("duplicate"),
            "files_rejected": self._count("rejected"),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_share": round(self.quarantine_share, 6),
            "quarantine_by_rule": self.quarantine_by_rule(),
            "rejected": [{"source_file": f.source_file, "reason": f.reason} for f in self.rejected],
            "unmatched_files": list(self.unmatched_files),
            "files": [f.to_dict() for f in self.files],
        }


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable, filename-safe batch id: UTC time + 6 random hex digits."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- manifest state

# A date in a landing file name: YYYY-MM-DD (daily snapshot), YYYY-MM (monthly), YYYY (yearly).
_NAME_DATE = re.compile(r"(?<!\d)(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?!\d)")


def file_series(source_file: str) -> tuple[str, str]:
    """(cadence, period) of a landing file from the date in its name.

    `workers_2026-10-31.csv` -> ("daily", "2026-10-31"), `ratings_2026-10.csv` ->
    ("monthly", "2026-10"), `notes.csv` -> ("undated", ""). The volume check
    compares a file only with earlier files of the same entity and cadence, in
    period order (a late delivery of an old month compares with the months before it).
    """
    name = Path(source_file).name
    found = [m for m in _NAME_DATE.finditer(name) if 1900 <= int(m.group(1)) <= 2999]
    if not found:
        return "undated", ""
    m = found[-1]
    cadence = "daily" if m.group(3) else "monthly" if m.group(2) else "yearly"
    return cadence, m.group(0)


# Earlier loads of a series handed to the gate (it takes a median of the newest few).
PREVIOUS_LOADS_KEPT = 12


@dataclass
class _ManifestState:
    """What the manifest says, kept current while a family loads (one read per run)."""
    loaded: dict[str, list[tuple[str, str, int]]]   # sha256 -> [(source_file, batch_id, rows_read)] loaded
    bronze_files: set[str]
    # (entity, cadence) -> [(period, started_at, source_file, rows_loaded)] of every
    # loaded file: the gate compares volumes within a series (volume_drop)
    series: dict[tuple[str, str], list[tuple[str, datetime, str, int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, data_root: Path) -> "_ManifestState":
        m = read_manifest(data_root)
        state = cls({}, set())
        if m.num_rows:
            m = m.filter(pc.equal(m["status"], "loaded"))
            for row in m.select(["source_sha256", "source_file", "batch_id", "bronze_file", "entity",
                                 "started_at", "rows_read", "rows_loaded"]).to_pylist():
                state.record(row["source_sha256"], row["source_file"], row["batch_id"], row["bronze_file"],
                             row["entity"], row["started_at"], row["rows_read"] or 0, row["rows_loaded"] or 0)
        return state

    def duplicate_of(self, sha: str, source_file: str) -> tuple[str, str] | None:
        """(source_file, batch_id) of an earlier load of the same bytes, if this is a redelivery.

        Extracts without records (a header only) are byte-identical across quiet
        months: the same bytes under another name are then another month, not a
        redelivery. Under the same name they are.
        """
        for src, batch, rows_read in self.loaded.get(sha, ()):
            if rows_read > 0 or src == source_file:
                return src, batch
        return None

    def previous_loads(self, entity: str, source_file: str) -> list[dict]:
        """Loads of the same entity and cadence before this file (by period, then load time), newest first."""
        cadence, period = file_series(source_file)
        earlier = [item for item in self.series.get((entity, cadence), ()) if item[0] <= period]
        earlier.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
        return [{"source_file": src, "rows_loaded": rows} for _, _, src, rows in earlier[:PREVIOUS_LOADS_KEPT]]

    def record(self, sha: str, source_file: str, batch_id: str, bronze_file: str | None, entity: str | None,
               started_at: datetime, rows_read: int, rows_loaded: int) -> None:
        self.loaded.setdefault(sha, []).append((source_file, batch_id, int(rows_read)))
        if bronze_file:
            self.bronze_files.add(bronze_file)
        if entity:
            cadence, period = file_series(source_file)
            self.series.setdefault((entity, cadence), []).append((period, started_at, source_file, int(rows_loaded)))


# --------------------------------------------------------------------------- validator

def _require_row_rules(row_validator: RowValidator | None, row_rules: RowRules | None) -> None:
    """No silent loading without row rules: one of the two must be given."""
    if row_validator is None and row_rules is None:
        raise TypeError("ingestion needs row rules: pass row_rules=expectations.row_rules (the GX "
                        "suites, built per file), or row_validator=<callable(entity, df)> to validate every "
                        "batch yourself")


# --------------------------------------------------------------------------- readers

def header_score(em: EntityMapping, schema: EntitySchema) -> Callable[[list[str]], int]:
    """How well a candidate header fits the spec: fields that feed a canonical column or a transform."""
    inputs = {normalize_header(n) for n in em.transform_inputs(schema)}

    def score(fields: list[str]) -> int:
        return sum(1 for f in fields if f and (em.canonical_for(f, schema) is not None
                                              or normalize_header(f) in inputs))
    return score


def open_source_reader(path: Path, probe: FileProbe, em: EntityMapping, schema: EntitySchema, batch_size: int,
                       limits: IngestLimits) -> SourceReader:
    """The reader of a landing file under its mapping spec."""
    fmt = em.format
    if fmt == "csv":
        return CsvReader(path, probe, header_score(em, schema), batch_size, delimiter=em.delimiter,
                         max_record_bytes=limits.max_record_bytes)
    if fmt in ("ndjson_xapi", "json"):
        return XapiReader(path, probe, schema.column_names, batch_size, ndjson=fmt == "ndjson_xapi",
                          max_depth=limits.max_json_depth, max_record_bytes=limits.max_record_bytes)
    if fmt == "qualtrics":
        return QualtricsReader(path, probe, batch_size)
    if fmt == "xlsx":
        return XlsxReader(path, probe, batch_size, em.sheet, header_score(em, schema))
    if fmt == "parquet":
        return ParquetReader(path, probe, batch_size)
    raise AssertionError(f"format {fmt!r} passed mapping validation but has no reader")


# --------------------------------------------------------------------------- lookups

LOOKUP_BATCH = 100_000


class LookupSources:
    """The rows a mapping's lookups read: another entity's landing files of the delivery, read
    through the mapping that reads that entity (this one within a family, else the family's mapping
    of landing/mappings.yml), with its own renames and transforms. Only the columns a lookup needs
    are kept (match values as text, the date, the value taken), one table per lookup and files,
    built on first use and shared by the files of an ingest_family call.

    Which files: every file of an append entity; of a snapshot entity the one delivered last on or
    before the day of the file being loaded (no such file: the first after it), the way a nightly
    run would have seen the delivery.
    """

    def __init__(self, layout: Layout, limits: IngestLimits):
        self.layout, self.limits = layout, limits
        self._tables: dict[tuple, tuple[pa.Table, str]] = {}
        self._mappings: dict[str, Mapping] = {}
        self._found: dict[tuple[str, str], dict[str, Path]] = {}

    def _their_mapping(self, entity: str, our_mapping: Mapping, our_schema: EntitySchema) -> Mapping:
        family = load_schemas().entity(entity).family
        if family == our_schema.family:
            return our_mapping
        if family not in self._mappings:
            self._mappings[family] = mapping_for_family(self.layout.root, family)
        return self._mappings[family]

    def _files(self, mapping: Mapping, entity: str, our_rel: str) -> list[Path]:
        from .delivery import delivery_day, delivery_order

        key = (f"{mapping.name}:{mapping.path}", entity)
        if key not in self._found:
            self._found[key] = {p.relative_to(self.layout.landing).as_posix(): p
                                for p in discover_files(self.layout.root, mapping, entity)}
        found = self._found[key]
        ordered = delivery_order(found)
        if load_schemas().entity(entity).load != "snapshot" or not ordered:
            return [found[r] for r in ordered]
        day = delivery_day(our_rel)
        if day is None:
            return [found[ordered[-1]]]
        upto = [r for r in ordered if (delivery_day(r) or date.min) <= day]
        return [found[upto[-1] if upto else ordered[0]]]

    def table(self, t: Lookup, our_mapping: Mapping, our_schema: EntitySchema, our_rel: str) -> tuple[pa.Table, str]:
        """(the lookup's rows: m0..mk as text, `at` in microseconds, `take`; the files read, for messages)."""
        mapping = self._their_mapping(t.entity, our_mapping, our_schema)
        files = self._files(mapping, t.entity, our_rel)
        key = (mapping.name, str(mapping.path), t, tuple(str(f) for f in files))
        hit = self._tables.get(key)
        if hit is None:
            hit = self._tables[key] = self._build(t, mapping, files)
        return hit

    def _build(self, t: Lookup, mapping: Mapping, files: list[Path]) -> tuple[pa.Table, str]:
        schema = load_schemas().entity(t.entity)
        parts: list[pa.Table] = []
        names = [f.relative_to(self.layout.landing).as_posix() for f in files]
        lacking: set[str] = set()
        for path, rel in zip(files, names):
            em = mapping.source_for(t.entity, rel)
            if em is not None:
                parts.extend(self._read(t, em, schema, path, rel, lacking))
        label = (f"{t.entity} of {', '.join(names)}" if 0 < len(names) <= 2
                 else f"{t.entity} ({len(names)} files)" if names else f"{t.entity} (no landing file)")
        if lacking:
            label += f" ({'; '.join(sorted(lacking))})"
        take_type = parts[0].schema.field("take").type if parts else pa.string()
        fields = [(f"m{i}", pa.string()) for i in range(len(t.match))] + [("at", pa.int64()), ("take", take_type)]
        empty = pa.table({name: pa.array([], typ) for name, typ in fields})
        table = pa.concat_tables([p.select([f for f, _ in fields]) for p in parts]) if parts else empty
        return table.combine_chunks(), label

    def _read(self, t: Lookup, em: EntityMapping, schema: EntitySchema, path: Path, rel: str,
              lacking: set[str]) -> list[pa.Table]:
        where = f"{rel} (read for a lookup through mapping spec of {schema.name})"
        needed = [c for c, _ in t.match] + ([t.nearest.column] if t.nearest else [])
        needed += [c for c, _ in t.where if c in schema.column_names]
        take_canonical = isinstance(t.take, str) and t.take in schema.column_names
        if take_canonical:
            needed.append(t.take)
        for c in needed:
            if isinstance(em.derive.get(c), Lookup):
                raise MappingError(f"{where}: a lookup reads {schema.name}.{c}, itself a lookup; lookups do not chain")
        vendor = [c for c, _ in t.where if c not in schema.column_names]
        if not take_canonical:
            vendor += [t.take] if isinstance(t.take, str) else list(t.take.inputs())
        for name in vendor:
            canon = em.canonical_for(name, schema)
            if normalize_header(name) in {normalize_header(i) for i in em.identifiers} or (
                    canon is not None and schema.column(canon).pii):
                raise MappingError(f"{where}: a lookup takes direct identifier {name!r}")
        try:
            probe = probe_file(path, text=em.format in TEXT_FORMATS, forced_encoding=em.encoding)
            reader = open_source_reader(path, probe, em, schema, LOOKUP_BATCH, self.limits)
        except (FileRejected, OSError) as exc:
            if is_no_space(exc):
                raise
            lacking.add(f"{rel} unreadable: {exc}")
            return []      # nothing to look up in; the file is judged when its own entity loads
        positions = header_positions(reader.header)
        wanted = vendor + [n for c, d in em.derive.items() if c in needed and not isinstance(d, Lookup)
                           for n in d.inputs()]
        lacking.update(f"{rel} lacks {n!r}" for n in wanted if positions.get(normalize_header(n), -1) < 0)
        resolved = {}
        for i, h in enumerate(reader.header):
            canon = em.canonical_for(h, schema) if h else None
            if canon is not None:
                resolved.setdefault(canon, i)
        state = DeriveState()

        def vendor_column(raw: RawBatch, name: str) -> pa.Array:
            pos = positions.get(normalize_header(name), -1)
            n = raw.table.num_rows
            return raw.table.column(pos).combine_chunks() if pos >= 0 else pa.nulls(n, pa.string())

        cast: dict[str, pa.Array] = {}     # this batch's cast columns (a sequence counts each row once)

        def canonical(raw: RawBatch, c: str) -> pa.Array:
            if c in cast:
                return cast[c]
            col = schema.column(c)
            n = raw.table.num_rows
            d = em.derive.get(c)
            if d is not None:
                src, _ = apply_simple(d, [vendor_column(raw, x) for x in d.inputs()], n, em, state, c)
            elif c in resolved:
                src = raw.table.column(resolved[c]).combine_chunks()
            else:
                src = pa.nulls(n, col.arrow_type)
            cast[c] = cast_column(src, col, em).array    # a value that does not cast matches nothing
            return cast[c]

        batches = reader.batches()
        for attempt in (1, 2):
            out: list[pa.Table] = []
            try:
                for raw in batches:
                    n = raw.table.num_rows
                    cast.clear()
                    cols = {f"m{i}": key_text(canonical(raw, c)) for i, (c, _) in enumerate(t.match)}
                    cols["at"] = (to_micros(canonical(raw, t.nearest.column)) if t.nearest is not None
                                  else pa.nulls(n, pa.int64()))
                    if take_canonical:
                        cols["take"] = canonical(raw, t.take)
                    elif isinstance(t.take, str):
                        cols["take"] = text_of(vendor_column(raw, t.take), em)
                    else:
                        cols["take"], _ = apply_simple(t.take, [vendor_column(raw, x) for x in t.take.inputs()], n,
                                                       em, state, "take")
                    keep = pc.is_valid(cols["take"])   # rows without a value or a match value are no candidates
                    for i in range(len(t.match)):
                        keep = pc.and_(keep, pc.is_valid(cols[f"m{i}"]))
                    for c, values in t.where:
                        got = key_text(canonical(raw, c)) if c in schema.column_names \
                            else text_of(vendor_column(raw, c), em)
                        accepted = pc.is_in(got, value_set=pa.array(list(values), pa.string()))
                        keep = pc.and_(keep, pc.fill_null(accepted, False))
                    out.append(pa.table(cols).filter(pc.fill_null(keep, False)))
                return out
            except NeedSlowPath:
                if attempt == 2 or not isinstance(reader, CsvReader):
                    raise
                batches, state = reader.slow_batches(), DeriveState()
            except FileRejected as rej:
                lacking.add(f"{rel} unreadable: {rej}")
                return []   # no rows to look up in (the file is rejected when its own entity loads)
        return []


# --------------------------------------------------------------------------- one file

class _FileIngest:
    def __init__(self, *, path: Path, layout: Layout, schema: EntitySchema, em: EntityMapping, mapping: Mapping,
                 batch_id: str, references: dict[str, set[str]], progress: ProgressCallback | None,
                 row_validator: RowValidator | None, row_rules: RowRules | None, batch_size: int,
                 state: _ManifestState, rel: str | None = None, limits: IngestLimits | None = None,
                 lookups: "LookupSources | None" = None):
        self.path = path
        self.lookups = lookups if lookups is not None else LookupSources(layout, limits or IngestLimits())
        self.limits = limits or IngestLimits()
        self.layout = layout
        self.schema = schema
        self.em = em
        self.mapping = mapping
        self.batch_id = batch_id
        self.references = references
        self.progress = progress
        self.batch_size = batch_size
        self.state = state
        self.rel = rel or Path(path.resolve().relative_to(layout.landing.resolve())).as_posix()
        self.started_at = _now()  # also every row's _ingested_at
        self.report = FileReport(source_file=self.rel, sha256="", entity=schema.name, status="loaded",
                                 reason=None, family=schema.family, mapping=mapping.name,
                                 started_at=self.started_at)
        self._row_validator = row_validator
        self._rules_factory = row_rules
        self.canonical_schema = schema.arrow_schema(lineage=False)
        self.bronze_schema = schema.arrow_schema(lineage=True)
        self._derive_state = DeriveState()
        self._lookup_misses: dict[str, tuple[int, int, str]] = {}   # optional lookups left empty: rows, ambiguous
        self.inputs: dict[str, int] = {}        # normalised vendor column a transform reads -> position
        self.underivable: set[str] = set()      # optional derived columns whose vendor columns are absent
        self._input_names = {normalize_header(n) for n in em.transform_inputs(schema)}

    @property
    def row_validator(self) -> RowValidator:
        # Resolved on first use: duplicates and rejected files need no GX import.
        if self._row_validator is None:
            self._row_validator = self._rules_factory(self.started_at.date(), self.rel, self._gx_references())
        return self._row_validator

    def _gx_references(self) -> dict[str, Any]:
        """Small master frames for GX rules that need more than an id (per-program score scale).

        Worker ids stay out of GX (millions of values); the program catalogue is
        small. GX then also checks program ids (same rule name as ours: the
        quarantine keeps one row per record, rule and column).
        """
        checks = dict(REFERENCE_CHECKS.get(self.schema.name, []))
        if checks.get("program_id") == "program_id" and "program_id" in self.references:
            catalogue = load_program_catalogue(self.layout.root)
            if catalogue is not None:
                return {"programs": catalogue}
        return {}

    # ---- driver
    def run(self) -> FileReport:
        """The whole file, streamed batch by batch (each batch validated on its own)."""
        done = self.open()
        return done if done is not None else self.run_opened()

    def run_opened(self) -> FileReport:
        """The rest of `run` after `open` left the reader open."""
        try:
            self._load(self.reader, self.resolved)
        except FileRejected as rej:
            return self._rejected_or_empty(rej)
        return self.report

    def open(self, before_duplicate_check: Callable[[str], None] | None = None) -> FileReport | None:
        """Hash the file, then the checks that end it before any row is read (a duplicate, too big, no
        reader, no expected columns): its report when one does, else None with the reader open.
        `before_duplicate_check(sha256)`: a grouped ingestion settles files still waiting (D119)."""
        self._emit("start")
        text = self.em.format in TEXT_FORMATS
        try:
            probe = probe_file(self.path, text=text, forced_encoding=self.em.encoding)
        except OSError as exc:  # the bytes cannot be read at all (I/O error, permissions)
            if is_no_space(exc):
                raise
            size = _lsize(self.path)
            self.probe = FileProbe(sha256=_pseudo_sha("unreadable", self.rel, str(size)), size_bytes=size)
            self.report.sha256, self.report.size_bytes = self.probe.sha256, size
            return self._finish_rejected(FileRejected("io_error", f"the file cannot be read ({_os_text(exc)})"))
        self.probe = probe
        self.report.sha256 = probe.sha256
        self.report.size_bytes = probe.size_bytes
        if before_duplicate_check is not None:
            before_duplicate_check(probe.sha256)
        prior = self.state.duplicate_of(probe.sha256, self.rel)
        if prior is not None:
            return self._finish_duplicate(*prior)
        limit = self.limits.max_file_bytes
        if limit and probe.size_bytes > limit:
            return self._finish_rejected(FileRejected(
                "oversize_file", f"{probe.size_bytes:,} bytes, above the limit of {limit:,}"
                                 " (config/parameters.yml ingestion.max_file_mb)"))
        # Bronze (zstd Parquet) and quarantine rarely outgrow the source: its size is the estimate.
        ensure_free_space(self.layout.bronze, probe.size_bytes, f"loading {self.rel} into {self.layout.bronze}")
        try:
            try:
                reader = self._open_reader(probe)
            except (FileRejected, DiskSpaceError):
                raise
            except Exception as exc:
                failure = self._read_failure(exc, None)
                if failure is exc:
                    raise
                raise failure from exc
            self.report.notes.extend(reader.notes)
            self.resolved = self._resolve_columns(reader.header)
        except FileRejected as rej:
            return self._rejected_or_empty(rej)
        self.reader = reader
        return None

    def _rejected_or_empty(self, rej: FileRejected) -> FileReport:
        if rej.rule in EMPTY_EXTRACT_RULES and self.schema.load == "append":
            return self._finish_empty(rej)
        return self._finish_rejected(rej)

    # ---- grouped: read and type every batch now, row rules with other files (_validate_group), then settle
    def read_all(self) -> FileReport | None:
        """Every batch read and typed, held for a validation shared with the entity's other small files;
        the file's report when reading rejects it, else None."""
        batches: Iterable[RawBatch] = self.reader.batches()
        for attempt in (1, 2):
            self._derive_state = DeriveState()     # a sequence counts from the file's first record again
            self._lookup_misses = {}
            try:
                self.pending = [self._typed(self.reader, raw, self.resolved)
                                for raw in self._guarded(self.reader, batches)]
                return None
            except NeedSlowPath as why:
                batches = self._record_by_record(self.reader, why, attempt)
            except FileRejected as rej:
                return self._rejected_or_empty(rej)
        raise AssertionError("unreachable")

    def _record_by_record(self, reader: SourceReader, why: NeedSlowPath, attempt: int) -> Iterable[RawBatch]:
        """The Arrow reader met a record it cannot place: the batches again, read record by record so that
        every _source_row stays exact (once, and only a CSV reader can)."""
        if attempt == 2 or not isinstance(reader, CsvReader):
            raise why
        self.report.notes.append(f"read record by record ({why})")
        return reader.slow_batches()

    @property
    def pending_rows(self) -> int:
        return sum(item.raw.table.num_rows for item in self.pending)

    def settle(self) -> FileReport:
        """A grouped file whose row rules have run: reference rules, bronze and quarantine, the manifest."""
        pending, self.pending = self.pending, []
        self._open_sinks(keep_validation=True)
        try:
            for item in pending:
                self._write(item.raw, *self._settle(self.reader, item))
            self._finish_loaded()
        except BaseException:
            self._abort_sinks()  # no-op for sinks already committed
            raise
        return self.report

    def _read_failure(self, exc: BaseException, reader: SourceReader | None) -> BaseException:
        """An exception raised while reading the landing file, as the file's rejection.

        Recursion, decoding, I/O and memory failures of a reader name the file, the record
        and a rule instead of stopping the family (DECISIONS D85). A full disk is ours, not
        the file's: it stays an error. Anything else is a bug and is raised as it is.
        """
        if isinstance(exc, DiskSpaceError) or is_no_space(exc):
            return exc
        pos = getattr(reader, "position", 0) if reader is not None else 0
        if pos and getattr(reader, "ndjson", False):
            where = f"at line {pos}"
        elif pos and getattr(reader, "ndjson", None) is False:
            where = f"after array element {pos}"
        elif pos:
            where = f"at record {pos}"
        elif reader is None:
            where = "while opening it"
        elif not getattr(self, "last_ordinal", 0):
            where = "before the first complete record"
        else:
            where = f"after record {getattr(self, 'last_ordinal', 0)}"
        if isinstance(exc, RecursionError):
            return FileRejected("recursion_limit", f"a record nests too deeply to read {where} ({exc})")
        if isinstance(exc, UnicodeError):
            return FileRejected("undecodable", f"not valid {self.probe.encoding or 'text'} {where} ({exc})")
        if isinstance(exc, MemoryError):
            return FileRejected("oversize_record", f"a record too large to hold in memory {where}")
        if isinstance(exc, OSError):
            return FileRejected("io_error", f"reading failed {where} ({_os_text(exc)})")
        return exc

    def _guarded(self, reader: SourceReader, batches: Iterable[RawBatch]) -> Iterator[RawBatch]:
        """The reader's batches; a reading failure becomes a FileRejected naming the record."""
        it = iter(batches)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except (FileRejected, NeedSlowPath, DiskSpaceError):
                raise
            except Exception as exc:
                failure = self._read_failure(exc, reader)
                if failure is exc:
                    raise
                raise failure from exc
            yield raw

    def _open_reader(self, probe: FileProbe) -> SourceReader:
        return open_source_reader(self.path, probe, self.em, self.schema, self.batch_size, self.limits)

    def _resolve_columns(self, header: list[str]) -> dict[str, int]:
        """canonical column -> position in the vendor header; rejects on missing/ambiguous."""
        resolved: dict[str, int] = {}
        ignored: list[str] = []
        for i, h in enumerate(header):
            canon = self.em.canonical_for(h, self.schema) if h else None
            if canon is None:
                if h and normalize_header(h) not in self._input_names:
                    ignored.append(h)
                continue
            if canon in resolved:
                raise FileRejected(
                    "ambiguous_column",
                    f"{canon} is fed by both {header[resolved[canon]]!r} and {h!r}",
                )
            resolved[canon] = i
        self._resolve_inputs(header)
        if not resolved and not self.inputs:
            raise FileRejected("no_expected_columns",
                               f"none of the header fields maps to a {self.schema.name} column: {_short(header)}")
        missing = [c for c in self.schema.required_columns if c not in resolved and c not in self.em.derive]
        if missing:
            raise FileRejected("missing_required_column", f"{', '.join(missing)} (header: {_short(header)})")
        if ignored:
            self.report.notes.append(f"ignored unmapped columns: {_short(ignored)}")
        if self.em.derive:
            self.report.notes.append(f"derived columns: {_short(sorted(set(self.em.derive) - self.underivable))}")
        absent = [c for c in self.schema.column_names
                  if c not in resolved and (c not in self.em.derive or c in self.underivable)]
        if absent:
            self.report.notes.append(f"optional columns absent (loaded as null): {_short(absent)}")
        for column, ref in REFERENCE_CHECKS.get(self.schema.name, []):
            if ref not in self.references:
                self.report.notes.append(
                    f"reference check {reference_rule(column)} skipped: no loaded {REFERENCE_SOURCES[ref][0]}")
        return resolved

    def _resolve_inputs(self, header: list[str]) -> None:
        """Positions of the vendor columns the derived columns read. A required derived column whose
        vendor column is absent rejects the file like a missing required column; an optional one is
        left empty (noted)."""
        positions = header_positions(header)
        self.inputs, self.underivable = {}, set()
        for col, t in self.em.derive.items():
            names = t.our_columns() if isinstance(t, Lookup) else t.inputs()
            names = [n for n in names if not (isinstance(t, Lookup) and n in self.schema.column_names)]
            absent = [n for n in names if normalize_header(n) not in positions]
            repeated = [n for n in names if positions.get(normalize_header(n)) == -1]
            if repeated:
                raise FileRejected("ambiguous_column", f"{col} is derived from {repeated[0]!r}, which the header "
                                                       "holds more than once")
            if absent:
                if self.schema.column(col).required:
                    raise FileRejected("missing_required_column",
                                       f"{col} (derived from {', '.join(map(repr, absent))}; header: {_short(header)})")
                self.underivable.add(col)
                continue
            for n in names:
                self.inputs[normalize_header(n)] = positions[normalize_header(n)]

    def _load(self, reader: SourceReader, resolved: dict[str, int]) -> None:
        batches: Iterator[RawBatch] = reader.batches()
        for attempt in (1, 2):
            self._open_sinks()
            self._derive_state, self._lookup_misses = DeriveState(), {}
            try:
                self._consume(reader, batches, resolved)
                break
            except NeedSlowPath as why:
                self._abort_sinks()
                batches = self._record_by_record(reader, why, attempt)
            except BaseException:
                self._abort_sinks()
                raise
        try:
            self._finish_loaded()
        except BaseException:
            self._abort_sinks()  # no-op for sinks already committed
            raise

    def _reset_counts(self, keep_validation: bool = False) -> None:
        """Counts back to zero for a (re)start of the file; the validation kept or not."""
        self.rows_read = self.rows_loaded = self.rows_quarantined = 0
        self.last_ordinal = 0
        self.rule_counts: Counter[str] = Counter()
        if not keep_validation:
            self.report.validation = []
            self.report.gx_results = []

    def _open_sinks(self, keep_validation: bool = False) -> None:
        self._reset_counts(keep_validation)
        stem = Path(self.rel).stem
        bronze = self.layout.bronze_file(self.schema.name, self.batch_id, stem)
        if self.layout.relative(bronze) in self.state.bronze_files:
            # Another landing file of this batch has the same stem (other folder): keep both.
            bronze = self.layout.bronze_file(self.schema.name, self.batch_id, f"{stem}__{self.probe.sha256[:8]}")
        self.bronze = AtomicParquetWriter(bronze, self.bronze_schema, expected_bytes=self.probe.size_bytes)
        self.quarantine_path = self.layout.quarantine_file(self.schema.name, self.batch_id, bronze.stem.split("__", 1)[1])
        self.quarantine: AtomicParquetWriter | None = None

    def _abort_sinks(self) -> None:
        self.bronze.abort()
        if self.quarantine is not None:
            self.quarantine.abort()
            self.quarantine = None

    def _consume(self, reader: SourceReader, batches: Iterable[RawBatch], resolved: dict[str, int]) -> None:
        for raw in self._guarded(reader, batches):
            self._write(raw, *self._process(reader, raw, resolved))

    def _write(self, raw: RawBatch, good: pa.Table, quarantine: pa.Table, n_bad: int) -> None:
        self.bronze.write(good)
        if quarantine.num_rows:
            if self.quarantine is None:
                self.quarantine = AtomicParquetWriter(self.quarantine_path, QUARANTINE_SCHEMA,
                                                      expected_bytes=self.probe.size_bytes)
            self.quarantine.write(quarantine)
        self.rows_read += raw.records_read
        self.rows_loaded += good.num_rows
        self.rows_quarantined += n_bad
        ordinals = list(raw.source_rows[-1:]) + [r.source_row for r in raw.rejects]
        self.last_ordinal = max([self.last_ordinal, *ordinals])
        self._emit("batch")

    # ---- one batch
    def _process(self, reader: SourceReader, raw: RawBatch, resolved: dict[str, int]):
        item = self._typed(reader, raw, resolved)
        if item.checked.num_rows:
            self._row_rules(item.checked, item.ok_idx, item.failures)
        return self._settle(reader, item)

    def _typed(self, reader: SourceReader, raw: RawBatch, resolved: dict[str, int]) -> "_TypedBatch":
        """The batch cast to the canonical types; the rows that could not be are failures already."""
        n = raw.table.num_rows
        # failures[i] = [(rule, column, value, message)] for row i of raw.table
        failures: dict[int, list[tuple[str, str | None, str | None, str]]] = {}
        columns: dict[str, pa.Array] = {}
        lookups = []
        for col in self.schema.columns:
            em = self.em
            t = em.derive.get(col.name)
            rule = CAST_RULE.format(column=col.name)
            how = ""
            if isinstance(t, Lookup):
                lookups.append((col, t))      # after the other columns: a lookup matches on cast values
                continue
            if t is not None and col.name not in self.underivable:
                src, derive_failures = apply_simple(t, [self._input(raw, name) for name in t.inputs()], n, em,
                                                    self._derive_state, col.name)
                for i, value, message in derive_failures:
                    failures.setdefault(i, []).append((rule, col.name, value, message))
                how = f" (derived: {t.describe()})"
            elif t is None and col.name in resolved:
                src = raw.table.column(resolved[col.name]).combine_chunks()
                tz = getattr(reader, "time_zones", {}).get(reader.header[resolved[col.name]])
                if tz and tz != em.timezone:
                    em = dataclasses.replace(em, timezone=tz)  # the export declares this column's zone
            else:
                columns[col.name] = pa.nulls(n, col.arrow_type)
                continue
            res = cast_column(src, col, em)
            columns[col.name] = res.array
            for i, value, message in res.failures:
                if not any(f[0] == rule for f in failures.get(i, ())):
                    failures.setdefault(i, []).append((rule, col.name, value,
                                                       f"cannot read as {col.type}: {message}{how}"))
        for col, t in lookups:
            columns[col.name] = self._lookup(raw, col, t, columns, failures)
        arrays = [columns[c.name] for c in self.schema.columns]
        typed = pa.Table.from_arrays(arrays, schema=self.canonical_schema)

        # Rows whose values could not be typed skip the row rules: a null left
        # by a failed cast would only repeat the failure as "missing value".
        if failures:
            ok_idx = np.setdiff1d(np.arange(n, dtype=np.int64), np.fromiter(failures, dtype=np.int64))
            checked = typed.take(pa.array(ok_idx))
        else:
            ok_idx = np.arange(n, dtype=np.int64)
            checked = typed
        return _TypedBatch(raw, typed, failures, ok_idx, checked)

    def _input(self, raw: RawBatch, name: str) -> pa.Array:
        return raw.table.column(self.inputs[normalize_header(name)]).combine_chunks()

    def _lookup(self, raw: RawBatch, col, t: Lookup, columns: dict[str, pa.Array], failures: dict) -> pa.Array:
        """A derived column looked up in another entity's files of the delivery (LookupSources)."""
        n = raw.table.num_rows
        if col.name in self.underivable:
            return pa.nulls(n, col.arrow_type)
        theirs, source = self.lookups.table(t, self.mapping, self.schema, self.rel)
        ours = [key_text(columns[c]) if c in self.schema.column_names else text_of(self._input(raw, c), self.em)
                for _, c in t.match]
        our_time = to_micros(columns[t.nearest.to]) if t.nearest is not None else None
        found = resolve_lookup(t, ours, our_time, theirs)
        res = cast_column(found.values, col, self.em)
        rule = CAST_RULE.format(column=col.name)
        for i, value, message in res.failures:
            failures.setdefault(i, []).append((rule, col.name, value, f"cannot read as {col.type}: {message} "
                                                                      f"(looked up in {source})"))
        asked = np.ones(n, dtype=bool)      # rows with every value to look up with
        for k in ours + ([our_time] if our_time is not None else []):
            asked &= k.is_valid().to_numpy(zero_copy_only=False)
        if col.required:
            lookup_rule = LOOKUP_RULE.format(column=col.name)
            keys = [k.to_pylist() for k in ours]
            for i in np.flatnonzero(~found.matched).tolist():
                if i in failures:
                    continue  # the row is quarantined already (its match values did not cast)
                wanted = ", ".join(f"{theirs_col}={keys[j][i]!r}" for j, (theirs_col, _) in enumerate(t.match))
                why = ("several rows with different values match" if found.ambiguous[i]
                       else "no row matches" if asked[i] else "nothing to look up with:")
                failures.setdefault(i, []).append((lookup_rule, col.name, None,
                                                   f"{col.name}: {why} {wanted} in {source}"))
        else:
            missed = asked & ~found.matched
            if missed.any():
                misses, amb, _ = self._lookup_misses.get(col.name, (0, 0, source))
                self._lookup_misses[col.name] = (misses + int(missed.sum()),
                                                 amb + int((missed & found.ambiguous).sum()), source)
        return res.array

    def _settle(self, reader: SourceReader, item: "_TypedBatch") -> tuple[pa.Table, pa.Table, int]:
        """Reference rules, then the batch split into bronze rows and quarantine rows."""
        raw, typed, failures = item.raw, item.typed, item.failures
        n = typed.num_rows
        if item.checked.num_rows:
            self._reference_rules(item.checked, item.ok_idx, failures)
        bad_idx = np.array(sorted(failures), dtype=np.int64)
        good_idx = np.setdiff1d(np.arange(n, dtype=np.int64), bad_idx) if len(bad_idx) else None
        good = typed.take(pa.array(good_idx)) if good_idx is not None else typed
        rows = np.asarray(raw.source_rows, dtype=np.int64)
        good = self._stamp(good, rows[good_idx] if good_idx is not None else rows)

        q = self._quarantine_rows(reader, raw, failures, bad_idx, rows)
        bad_records = len(bad_idx) + len({r.source_row for r in raw.rejects})
        return good, q, bad_records

    def _row_rules(self, checked: pa.Table, ok_idx: np.ndarray, failures: dict) -> None:
        # date32 as datetime64 and timestamps as tz-aware datetime64: the GX
        # suites compare dates, which object columns of datetime.date do not allow.
        df = checked.to_pandas(date_as_object=False)
        v = self.row_validator(self.schema.name, df)
        summary = dict(getattr(v, "result", {}) or {})
        self.report.validation.append(summary)
        if getattr(v, "gx_result", None) is not None:
            # Data Docs need the GX result only; the failures are in the quarantine already.
            self.report.gx_results.append(dataclasses.replace(v, failures=v.failures.iloc[0:0]))
        _add_failures(v.failures, [(0, ok_idx, failures)])

    def _reference_rules(self, checked: pa.Table, ok_idx: np.ndarray, failures: dict) -> None:
        for column, ref in REFERENCE_CHECKS.get(self.schema.name, []):
            ids = self.references.get(ref)
            if ids is None:
                continue
            master = REFERENCE_SOURCES[ref][0]
            rule = reference_rule(column)
            values = checked.column(column)
            # one set-membership pass in Arrow; only the rows that fail come back to Python
            unknown = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=_id_array(ids))))
            positions = np.flatnonzero(unknown.to_numpy(zero_copy_only=False))
            for j, v in zip(positions.tolist(), values.take(pa.array(positions)).to_pylist()):
                failures.setdefault(int(ok_idx[j]), []).append(
                    (rule, column, v, f"{column} {v!r} is not in the latest loaded {master} snapshot"))

    def _stamp(self, table: pa.Table, source_rows: np.ndarray) -> pa.Table:
        k = table.num_rows
        lineage = [
            pa.repeat(pa.scalar(self.rel, pa.string()), k),
            pa.repeat(pa.scalar(self.probe.sha256, pa.string()), k),
            pa.array(source_rows, pa.int64()),
            pa.repeat(pa.scalar(self.batch_id, pa.string()), k),
            pa.repeat(pa.scalar(self.started_at, TIMESTAMP_TYPE), k),
        ]
        return pa.Table.from_arrays(list(table.columns) + lineage, schema=self.bronze_schema)

    def _quarantine_rows(self, reader: SourceReader, raw: RawBatch, failures: dict, bad_idx: np.ndarray,
                         rows: np.ndarray) -> pa.Table:
        cols: dict[str, list] = {name: [] for name in QUARANTINE_SCHEMA.names}

        def add(source_row: int, rule: str, column, value, message: str, record_json: str) -> None:
            cols["entity"].append(self.schema.name)
            cols["_source_file"].append(self.rel)
            cols["_source_sha256"].append(self.probe.sha256)
            cols["_source_row"].append(int(source_row))
            cols["_batch_id"].append(self.batch_id)
            cols["rule"].append(rule)
            cols["column"].append(column)
            cols["value"].append(value)
            cols["message"].append(f"{self.rel} record {source_row}: {message}")
            cols["record_json"].append(record_json)

        # quarantine_by_rule counts records, not quarantine rows: a record
        # failing one rule on two columns counts once for that rule.
        per_record_rules: dict[int, set[str]] = {}
        for rej in raw.rejects:
            add(rej.source_row, rej.rule, rej.column, rej.value, rej.message, rej.record_json)
            per_record_rules.setdefault(rej.source_row, set()).add(rej.rule)
        if len(bad_idx):
            records = reader.record_of(raw, bad_idx.tolist())
            for i, rec_json in zip(bad_idx.tolist(), records):
                sr = int(rows[i])
                seen: set[tuple[str, str | None]] = set()
                for rule, column, value, message in failures[i]:
                    if (rule, column) in seen:
                        continue  # the same check made twice (GX and ours): one quarantine row
                    seen.add((rule, column))
                    add(sr, rule, column, value, message, rec_json)
                    per_record_rules.setdefault(sr, set()).add(rule)
        for rules in per_record_rules.values():
            self.rule_counts.update(rules)
        return pa.Table.from_pydict(cols, schema=QUARANTINE_SCHEMA)

    # ---- endings
    def _reconcile(self) -> None:
        if self.rows_read != self.rows_loaded + self.rows_quarantined:
            raise ReconciliationError(
                f"{self.rel}: rows_read {self.rows_read} != rows_loaded {self.rows_loaded}"
                f" + rows_quarantined {self.rows_quarantined}")
        if self.rows_read != self.last_ordinal:
            # Readers number records 1..N: a count below the last number means
            # a record was skipped without being loaded or quarantined.
            raise ReconciliationError(
                f"{self.rel}: {self.rows_read} records counted but the last record is number {self.last_ordinal}")
        if self.bronze.rows != self.rows_loaded:
            raise ReconciliationError(f"{self.rel}: bronze holds {self.bronze.rows} rows, loaded {self.rows_loaded}")
        if self.rows_quarantined and (self.quarantine is None or self.quarantine.rows < self.rows_quarantined):
            raise ReconciliationError(f"{self.rel}: quarantine rows fewer than quarantined records")

    def _finish_loaded(self) -> None:
        self._reconcile()
        try:
            bronze_path = self.bronze.commit()
            q_path = self.quarantine.commit() if self.quarantine is not None else None
        except BaseException:
            self._abort_sinks()
            raise
        r = self.report
        for column, (misses, ambiguous, source) in sorted(self._lookup_misses.items()):
            several = f", {ambiguous} of them matching several rows" if ambiguous else ""
            r.notes.append(f"lookup {column}: {misses} rows found no single value in {source}{several} (left empty)")
        r.rows_read, r.rows_loaded, r.rows_quarantined = self.rows_read, self.rows_loaded, self.rows_quarantined
        r.quarantine_by_rule = dict(sorted(self.rule_counts.items()))
        r.bronze_file = self.layout.relative(bronze_path)
        r.quarantine_file = self.layout.relative(q_path) if q_path else None
        r.status = "loaded"
        r.reason = ("notes: " + "; ".join(r.notes)) if r.notes else None
        r.cadence = file_series(r.source_file)[0]
        r.previous_loads = self.state.previous_loads(self.schema.name, r.source_file)
        r.previous_rows_loaded = r.previous_loads[0]["rows_loaded"] if r.previous_loads else None
        self._write_manifest()
        self.state.record(r.sha256, r.source_file, self.batch_id, r.bronze_file, r.entity, r.started_at,
                          r.rows_read, r.rows_loaded)

    def _finish_empty(self, rej: FileRejected) -> FileReport:
        """An append extract without records (a quiet month): loaded, 0 rows, an empty bronze file."""
        self.report.notes.append(f"{rej.rule}: {rej.detail}")
        self._open_sinks()
        self._finish_loaded()
        return self.report

    def _finish_duplicate(self, prior_file: str, prior_batch: str) -> FileReport:
        """Bytes loaded before. The same path seen again is a re-run over a persistent
        landing zone: it stays. Under another name it is a redelivery: it is set aside
        in rejected/<batch>/ with a reason file, like a rejected file."""
        r = self.report
        r.status = "duplicate"
        r.reason = f"duplicate: {self.rel} is byte-identical to {prior_file} loaded in batch {prior_batch}"
        if prior_file != self.rel:
            try:
                dest = move_to_rejected(self.layout, self.path, self.rel, self.batch_id, r.reason, r.sha256)
                r.rejected_file = self.layout.relative(dest)
                r.reason += f" (set aside in {r.rejected_file})"
            except OSError as exc:  # read-only landing: the manifest still records it
                r.notes.append(f"could not move the file to rejected/: {exc}")
        self._write_manifest()
        return r

    def _finish_rejected(self, rej: FileRejected) -> FileReport:
        r = self.report
        r.status = "rejected"
        r.reason = f"{rej.rule}: {rej.detail} (file {self.rel})"
        r.rows_read = r.rows_loaded = r.rows_quarantined = 0
        r.quarantine_by_rule = {}
        r.validation = []
        r.gx_results = []
        try:
            dest = move_to_rejected(self.layout, self.path, self.rel, self.batch_id, r.reason, r.sha256)
            r.rejected_file = self.layout.relative(dest)
        except OSError as exc:  # read-only landing: the manifest still records the rejection
            r.notes.append(f"could not move the file to rejected/: {exc}")
        self._write_manifest()
        return r

    def _write_manifest(self) -> None:
        r = self.report
        r.finished_at = _now()
        loaded = r.status == "loaded"
        append_manifest_row(self.layout, {
            "batch_id": self.batch_id,
            "source_file": r.source_file,
            "source_sha256": r.sha256,
            "size_bytes": r.size_bytes,
            "family": r.family,
            "entity": r.entity,
            "mapping": r.mapping,
            "status": r.status,
            "reason": r.reason,
            "rows_read": r.rows_read if loaded else None,
            "rows_loaded": r.rows_loaded if loaded else None,
            "rows_quarantined": r.rows_quarantined if loaded else None,
            "bronze_file": r.bronze_file,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
        })
        self._emit("done")

    def _emit(self, stage: str) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(self.rel, self.schema.name, stage, getattr(self, "rows_read", 0),
                                        getattr(self, "rows_loaded", 0), getattr(self, "rows_quarantined", 0),
                                        self.report.status if stage == "done" else None))


def _opt_str(v: Any) -> str | None:
    if v is None:
        return None
    try:
        if v != v:  # NaN / NaT / pd.NA comparisons
            return None
    except (TypeError, ValueError):
        return None if str(v) in ("<NA>", "NaT") else str(v)
    return str(v)


def _short(names: Iterable[str], limit: int = 300) -> str:
    s = ", ".join(str(n) for n in names)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _os_text(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}" + (f" [errno {exc.errno}]" if exc.errno else "")


def _lsize(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _pseudo_sha(*parts: str) -> str:
    """A manifest identity for an entry whose bytes are not read (its content hash is unknowable)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _landing_rel(layout: Layout, p: Path) -> str:
    """`p` relative to landing/, '/'-separated, without following a symlink at `p` itself."""
    for base, path in ((layout.landing.absolute(), p.absolute()),
                       (layout.landing.resolve(), p.parent.resolve() / p.name)):
        try:
            return Path(os.path.normpath(path)).relative_to(os.path.normpath(base)).as_posix()
        except ValueError:
            continue
    raise ValueError(f"{p} is not under the landing root {layout.landing}")


def special_file_kind(layout: Layout, p: Path) -> str | None:
    """Why a landing entry is no regular data file (never opening it), or None when it is one."""
    st = os.lstat(p)
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(p)
        except OSError:
            target = "?"
        return f"a symbolic link to {target}, never followed"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    real, root = os.path.realpath(p), os.path.realpath(layout.landing)
    if os.path.commonpath([real, root]) != root:
        return f"reached through a symlinked directory, its real path {real} is outside landing/"
    return None


def _set_aside_special(layout: Layout, p: Path, rel: str, kind: str, *, batch_id: str, schema: EntitySchema,
                       mapping: Mapping, progress: ProgressCallback | None) -> FileReport:
    """Reject a non-regular landing entry: moved (as the entry, never read) to rejected/<batch>/ with a reason."""
    now = _now()
    sha = _pseudo_sha(SPECIAL_FILE_RULE, rel, kind)
    r = FileReport(source_file=rel, sha256=sha, entity=schema.name, status="rejected",
                   # no ';' in a reason: the gate reads ';' as a separator of reasons
                   reason=f"{SPECIAL_FILE_RULE}: {kind} (file {rel})".replace(";", ","), family=schema.family,
                   mapping=mapping.name, started_at=now)
    if "outside landing/" in kind:
        # The entry itself is a regular file in someone else's directory: left where it is.
        r.notes.append("left in place: it lives outside landing/ (remove the directory link)")
    else:
        try:
            dest = move_to_rejected(layout, p, rel, batch_id, r.reason, sha)
            r.rejected_file = layout.relative(dest)
        except OSError as exc:
            if is_no_space(exc):
                raise
            r.notes.append(f"could not move the entry to rejected/: {exc}")
    r.finished_at = _now()
    append_manifest_row(layout, {
        "batch_id": batch_id, "source_file": rel, "source_sha256": sha, "size_bytes": 0, "family": r.family,
        "entity": r.entity, "mapping": r.mapping, "status": r.status, "reason": r.reason, "rows_read": None,
        "rows_loaded": None, "rows_quarantined": None, "bronze_file": None, "started_at": r.started_at,
        "finished_at": r.finished_at,
    })
    if progress is not None:
        progress(ProgressEvent(rel, schema.name, "done", status=r.status))
    return r


# --------------------------------------------------------------------------- batches and groups

@dataclass
class _TypedBatch:
    raw: RawBatch
    typed: pa.Table          # every row, canonical types
    failures: dict           # row of raw -> [(rule, column, value, message)]
    ok_idx: np.ndarray       # rows that could be typed: they meet the row rules
    checked: pa.Table        # typed.take(ok_idx)


def _add_failures(found, targets: list[tuple[int, np.ndarray, dict]]) -> None:
    """Row-rule failures of a validated frame, back onto the batches it was built from.

    `targets`: (first row in the frame, the batch's ok_idx, the batch's failures), in frame order.
    """
    if found is None or len(found) == 0:
        return
    starts = np.asarray([start for start, _, _ in targets], dtype=np.int64)
    rows = found["row_index"].to_numpy(dtype=np.int64)
    which = np.searchsorted(starts, rows, side="right") - 1
    for ri, k, rule, column, value, message in zip(rows.tolist(), which.tolist(), found["rule"].tolist(),
                                                   found["column"].tolist(), found["value"].tolist(),
                                                   found["message"].tolist()):
        start, ok_idx, failures = targets[k]
        failures.setdefault(int(ok_idx[ri - start]), []).append(
            (str(rule), _opt_str(column), _opt_str(value), str(message)))


_ID_ARRAYS: dict[int, tuple[Any, pa.Array]] = {}


def _id_array(ids: Any) -> pa.Array:
    """The reference ids as one Arrow array, built once per id set (a worker snapshot can hold millions)."""
    hit = _ID_ARRAYS.get(id(ids))
    if hit is None or hit[0] is not ids:
        if len(_ID_ARRAYS) > 8:
            _ID_ARRAYS.clear()
        hit = (ids, pa.array(sorted(str(v) for v in ids), pa.string()))
        _ID_ARRAYS[id(ids)] = hit
    return hit[1]


# Great Expectations spends about 0.3 s planning a suite's metrics on every call, whatever the rows, so
# one call per small landing file was most of an ingestion (188 calls for a 20,000-employee company).
# The small files of an entity are held, validated in one call, then written (D119). A group is cut at
# GROUP_ROWS rows (memory: the frame GX reads); a file above GROUP_FILE_BYTES streams on its own.
GROUP_ROWS = 500_000
GROUP_FILE_BYTES = 32 * MB


def _validate_group(jobs: list[_FileIngest], row_rules: RowRules) -> None:
    """One GX validation of the held batches of several files of one entity; each file's duplicate keys
    are looked for within that file only, as when it was validated alone."""
    items = [(k, item) for k, job in enumerate(jobs) for item in job.pending if item.checked.num_rows]
    if not items:
        return
    first = jobs[0]
    label = first.rel if len(jobs) == 1 else f"{first.rel} and {len(jobs) - 1} more files"
    validator = row_rules(first.started_at.date(), label, first._gx_references())
    parts = np.concatenate([np.full(item.checked.num_rows, k, dtype=np.int64) for k, item in items])
    frame = pa.concat_tables([item.checked for _, item in items]).to_pandas(date_as_object=False)
    v = validator(first.schema.name, frame, parts=parts)
    starts = np.cumsum([0] + [item.checked.num_rows for _, item in items])[:-1]
    _add_failures(v.failures, [(int(start), item.ok_idx, item.failures) for start, (_, item) in zip(starts, items)])
    failing = set(parts[v.failures["row_index"].to_numpy(dtype=np.int64)].tolist()) if len(v.failures) else set()
    summary = dict(getattr(v, "result", {}) or {})
    for k, job in enumerate(jobs):
        job.report.validation = [{**summary, "success": k not in failing, "files_validated_together": len(jobs)}]
    if getattr(v, "gx_result", None) is not None:
        # one stored result (and Data Docs page) per validation, on the group's first file
        first.report.gx_results.append(dataclasses.replace(v, failures=v.failures.iloc[0:0]))


class _Group:
    """The small files of one entity waiting for their shared validation, settled in delivery order."""

    def __init__(self, row_rules: RowRules):
        self.row_rules, self.jobs = row_rules, []

    @property
    def rows(self) -> int:
        return sum(job.pending_rows for job in self.jobs)

    def add(self, job: _FileIngest) -> None:
        self.jobs.append(job)

    def holds(self, sha256: str) -> bool:
        return any(job.probe.sha256 == sha256 for job in self.jobs)

    def settle(self) -> list[FileReport]:
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return []
        _validate_group(jobs, self.row_rules)
        return [job.settle() for job in jobs]


# --------------------------------------------------------------------------- public API

def ingest_file(
    path: Path | str,
    data_root: Path | str,
    batch_id: str,
    entity: str | None = None,
    mapping: str | Path | Mapping = "canonical",
    references: dict[str, set[str]] | None = None,
    progress: ProgressCallback | None = None,
    *,
    row_rules: RowRules | None = None,
    row_validator: RowValidator | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limits: IngestLimits | None = None,
    _state: _ManifestState | None = None,
) -> FileReport:
    """Ingest one landing file. `path` is absolute or relative to `<data_root>/landing`.

    `entity` defaults to the entity whose mapping pattern matches the path.
    `references` defaults to `load_reference_ids(data_root)`, read when a row is first checked; pass {} to skip
    reference checks. The row rules are passed in: `row_rules(as_of, source_file,
    gx_references)` builds the file's validator on first use (the GX suites:
    `expectations.row_rules`), or `row_validator(entity, df)` validates
    every batch as given (it wins over `row_rules`); with neither, TypeError.
    `limits` defaults to config/parameters.yml `ingestion:`.

    A path that is no regular file (a symlink, FIFO, device or socket) is never
    opened: it is set aside in rejected/ with the rule `not_a_regular_file`.
    """
    _require_row_rules(row_validator, row_rules)
    layout = Layout(data_root)
    job = _file_job(path, layout, batch_id, entity, mapping, references, progress, row_rules, row_validator,
                    batch_size, limits, _state)
    return job if isinstance(job, FileReport) else job.run()


def _file_job(path: Path | str, layout: Layout, batch_id: str, entity: str | None, mapping: str | Path | Mapping,
              references: dict[str, set[str]] | None, progress: ProgressCallback | None, row_rules: RowRules | None,
              row_validator: RowValidator | None, batch_size: int, limits: IngestLimits | None,
              state: _ManifestState | None, lookups: "LookupSources | None" = None) -> "_FileIngest | FileReport":
    """The ingestion of one landing file, ready to run; a path that is no regular file is set aside at once."""
    p = Path(path)
    if not p.is_absolute():
        p = layout.landing / p
    if not os.path.lexists(p) or (p.is_dir() and not p.is_symlink()):
        raise FileNotFoundError(f"landing file not found: {p}")
    rel = _landing_rel(layout, p)
    schemas = load_schemas()
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if entity is None:
        matches = [e for e in schemas.entities if m.source_for(e, rel)]
        if not matches:
            raise ValueError(f"no entity of mapping {m.name!r} has a pattern matching {rel}")
        entity = matches[0]
    schema = schemas.entity(entity)
    em = m.source_for(entity, rel)
    if em is None:
        specs = m.for_entity(entity)
        if len(specs) != 1:
            raise ValueError(f"{rel} matches no pattern of {entity} in mapping {m.name!r}")
        em = specs[0]
    kind = special_file_kind(layout, p)
    if kind is not None:
        return _set_aside_special(layout, p, rel, kind, batch_id=batch_id, schema=schema, mapping=m,
                                  progress=progress)
    if references is None:
        references = LazyReferenceIds(layout.root)
    limits = limits or IngestLimits.from_parameters()
    return _FileIngest(path=p, layout=layout, schema=schema, em=em, mapping=m, batch_id=batch_id,
                       references=references, progress=progress, row_validator=row_validator,
                       row_rules=row_rules, batch_size=max(1, int(batch_size)),
                       state=state or _ManifestState.load(layout.root), rel=rel, limits=limits,
                       lookups=lookups if lookups is not None else LookupSources(layout, limits))


def discover_files(data_root: Path | str, mapping: str | Mapping, entity: str, *,
                   special: bool = False) -> list[Path]:
    """Landing files of `entity` under the mapping's patterns, sorted by path.

    Hidden files and editor/Office lock files (`.x`, `~$x`) are never data.
    Only regular files, never a symlink; `special=True` also lists the symlinks,
    FIFOs, devices and sockets the patterns match (ingest_family sets them aside).
    """
    layout = Layout(data_root)
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    found: dict[str, Path] = {}
    for em in m.for_entity(entity):
        for pattern in em.patterns:
            for p in layout.landing.glob(pattern):
                if p.name.startswith((".", "~$")) or p.name.endswith(".tmp"):
                    continue
                try:
                    mode = os.lstat(p).st_mode
                except OSError:
                    continue
                if stat.S_ISREG(mode) or (special and not stat.S_ISDIR(mode)):
                    found.setdefault(p.relative_to(layout.landing).as_posix(), p)
    return [found[k] for k in sorted(found)]


def landing_freshness(data_root: Path | str, entity: str, mapping: str | Mapping | None = None,
                      now: datetime | None = None) -> dict[str, Any]:
    """How old the newest landing file of `entity` is: the freshness check of the gate.

    Age is measured from the file's modification time (when it was delivered),
    not from the date in its name: a source that keeps re-sending old months is
    still delivering. Files moved to rejected/ no longer count.
    Returns {"entity", "newest_file", "modified_at", "age_days", "files"}; newest_file
    is None when the entity has no landing file at all.
    """
    now = (now or _now()).astimezone(timezone.utc)
    layout = Layout(data_root)
    if mapping is None:  # the family's mapping, as ingest_family reads it
        mapping = mapping_for_family(layout.root, load_schemas().entity(entity).family)
    files = discover_files(layout.root, mapping, entity)
    out: dict[str, Any] = {"entity": entity, "newest_file": None, "modified_at": None, "age_days": None,
                           "files": len(files)}
    if not files:
        return out
    newest = max(files, key=lambda p: (int(p.stat().st_mtime), p.name))  # same second: the later name
    modified = datetime.fromtimestamp(newest.stat().st_mtime, timezone.utc)
    out.update(newest_file=newest.relative_to(layout.landing).as_posix(), modified_at=modified.isoformat(),
               age_days=round((now - modified).total_seconds() / 86400, 2))
    return out


def _unmatched(layout: Layout, m: Mapping, schemas: CanonicalSchemas, family: str) -> list[str]:
    tops: set[str] = set()
    for ent in schemas.family_entities(family):
        for em in m.for_entity(ent.name):
            for pat in em.patterns:
                top = pat.split("/", 1)[0]
                if "*" not in top and "?" not in top and "[" not in top:
                    tops.add(top)
    out = []
    for top in sorted(tops):
        base = layout.landing / top
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if not p.is_file() or p.name.startswith((".", "~$")):
                continue
            rel = p.relative_to(layout.landing).as_posix()
            if not any(m.source_for(e, rel) for e in schemas.entities):
                out.append(rel)
    return out


def ingest_family(
    family: str,
    data_root: Path | str,
    batch_id: str,
    mapping: str | Path | Mapping | None = None,
    references: dict[str, set[str]] | None = None,
    progress: ProgressCallback | None = None,
    *,
    row_rules: RowRules | None = None,
    row_validator: RowValidator | None = None,
    batch_size: int | None = None,
    entities: Iterable[str] | None = None,
    select: Callable[[str], bool] | None = None,
    limits: IngestLimits | None = None,
) -> FamilyReport:
    """Ingest every landing file of the family's entities, in canonical order.

    `entities` limits the load to some of the family's entities; `select(source_file)`
    to some files (a partitioned run passes its delivery days, ingestion.delivery).
    Within an entity, files load in delivery-day order (undated first), then by path.

    Order across families: hris first (workers are the reference for every
    worker_id), then lms (programs before enrollments and credentials), then
    performance, finance, surveys. With `references=None` the ids are read from
    bronze and re-read after this call loads workers or programs.
    `row_rules` / `row_validator`: as for `ingest_file` (one of them is required).
    `batch_size`: rows read (and, for a big file, validated) at a time; by default GROUP_ROWS
    with the GX row rules, whose cost is mostly per call, DEFAULT_BATCH_SIZE with a caller's
    `row_validator`.
    """
    _require_row_rules(row_validator, row_rules)
    if batch_size is None:
        batch_size = GROUP_ROWS if row_validator is None else DEFAULT_BATCH_SIZE
    layout = Layout(data_root)
    schemas = load_schemas()
    entities_wanted = set(entities) if entities is not None else None
    # mapping=None: the data root's landing/mappings.yml names the mapping(s)
    # of this family, else "canonical" (ingestion.mapping.mapping_for_family).
    m = load_mapping(mapping) if mapping is not None else mapping_for_family(layout.root, family)
    from .delivery import delivery_order

    entities = schemas.family_entities(family)
    state = _ManifestState.load(layout.root)
    refs = references if references is not None else LazyReferenceIds(layout.root)
    report = FamilyReport(family=family, batch_id=batch_id, mapping=m.name)
    limits = limits or IngestLimits.from_parameters()
    claimed: set[str] = set()
    lookups = LookupSources(layout, limits)   # another entity's files a lookup reads: read once per family
    # with the GX row rules, an entity's small files share one validation (D119); a caller's own
    # row_validator sees each batch alone
    group = _Group(row_rules) if row_validator is None else None
    for ent in entities:
        found = {p.relative_to(layout.landing).as_posix(): p
                 for p in discover_files(layout.root, m, ent.name, special=True)}
        reports: list[FileReport | _FileIngest] = []   # delivery order; a held file until its group settles

        def settle_group() -> None:
            settled = iter(group.settle() if group is not None else ())
            reports[:] = [next(settled) if isinstance(r, _FileIngest) else r for r in reports]

        for rel in delivery_order(found):
            p = found[rel]
            if rel in claimed:
                continue  # a file matched by two entities' patterns is read once, by the first
            claimed.add(rel)
            if (entities_wanted is not None and ent.name not in entities_wanted) or (select and not select(rel)):
                continue
            job = _file_job(p, layout, batch_id, ent.name, m, refs, progress, row_rules, row_validator,
                            batch_size, limits, state, lookups)
            if isinstance(job, FileReport) or group is None:
                reports.append(job if isinstance(job, FileReport) else job.run())
                continue
            # the same bytes twice in one delivery: the first settles before the second is judged a duplicate
            done = job.open(before_duplicate_check=lambda sha: settle_group() if group.holds(sha) else None)
            if done is None and job.probe.size_bytes > GROUP_FILE_BYTES:
                settle_group()       # a big file streams batch by batch, after the files before it
                done = job.run_opened()
            elif done is None:
                done = job.read_all()
                if done is None:
                    group.add(job)
                    reports.append(job)
                    if group.rows >= GROUP_ROWS:
                        settle_group()
                    continue
            reports.append(done)
        settle_group()
        report.files.extend(reports)
        loaded_master = any(r.status == "loaded" for r in reports)
        if references is None and loaded_master and ent.name in {e for e, _ in REFERENCE_SOURCES.values()}:
            refs = LazyReferenceIds(layout.root)
    report.unmatched_files = _unmatched(layout, m, schemas, family)
    return report
