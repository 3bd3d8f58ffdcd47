"""The synthetic company's extracts in real vendor formats.

``synthetic.generate`` writes the landing zone in the canonical layout of
docs/layout.md. ``export_vendor_format(data_root, formats)`` rewrites chosen
families in the shape a real system would deliver them (Workday, SuccessFactors,
Docebo, Cornerstone, an LRS, Qualtrics, a generic spreadsheet), replacing the
canonical files, and writes ``landing/mappings.yml`` so that ingestion reads
each family through the matching mapping of ``ingestion/mappings/``.

The conversion is driven by the mapping files themselves: column renames,
value maps (canonical status -> vendor status word), date formats and number
formats are the mapping read backwards, so an export and its mapping cannot
drift apart. What a mapping does not say (file encoding, delimiter, layout
extras such as the legacy Qualtrics header) is in the PROFILES table below.
Every file is streamed record by record (csv module, openpyxl write-only,
Arrow CSV batches); nothing is loaded whole.

Round trip: ingesting an export through its mapping gives the same canonical
values as ingesting the canonical files, with two documented exceptions that no
KPI uses: the legacy Qualtrics layout has no Progress, Duration,
DistributionChannel or recipient first/last name columns, and a Parquet column
holds a value that cannot be typed (a planted impossible date) as text.
Planted defects pass through unchanged and are quarantined as before.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

__all__ = ["PROFILES", "VendorProfile", "export_vendor_format", "parse_formats", "profile_names"]

CANONICAL = "canonical"
TABULAR_WRITERS = ("csv", "xlsx", "parquet")


@dataclass(frozen=True)
class VendorProfile:
    """How one vendor format is written. The mapping file says everything else."""
    name: str
    mapping: str                               # ingestion/mappings/<mapping>.yml
    writer: str                                # csv | xlsx | parquet | xapi_json | xapi_ndjson | qualtrics | qualtrics_legacy
    description: str
    encoding: str = "utf-8"                    # csv writers
    delimiter: str = ","
    lineterminator: str = "\n"
    quoting: int = csv.QUOTE_MINIMAL
    # entity -> {"encoding"/"delimiter"/"lineterminator": ...} for one report of the vendor
    per_entity: dict[str, dict[str, Any]] = field(default_factory=dict)
    # entity -> [(vendor column, fn(canonical row, context) -> value)]: columns a
    # real export carries that the pipeline does not read (ignored on ingest)
    extras: dict[str, list[tuple[str, Callable[[dict, dict], str]]]] = field(default_factory=dict)
    declared_timezone: str | None = None      # qualtrics: zone declared in the ImportId row


def _worker_status(row: dict, ctx: dict) -> str:
    return "Terminated" if row.get("termination_date") else "Active"


# Cornerstone's "Training Type" of a learning object, from the canonical method.
_CSOD_TRAINING_TYPE = {
    "online_self_paced": "Online Class", "cohort_based": "Session", "bootcamp": "Session",
    "registered_apprenticeship": "Curriculum", "rotation_mentorship": "Material", "hybrid": "Curriculum",
}


def _csod_training_type(row: dict, ctx: dict) -> str:
    method = row.get("method") or ctx.get("program_method", {}).get(row.get("program_id"), "")
    return _CSOD_TRAINING_TYPE.get(method, "Online Class")


def _empty(row: dict, ctx: dict) -> str:
    return ""


PROFILES: dict[str, VendorProfile] = {p.name: p for p in (
    VendorProfile("workday", "workday", "csv", "Workday-like HCM reports (CSV, US dates, thousands comma)",
                  extras={"workers": [("Worker_Status", _worker_status)]}),
    VendorProfile("successfactors", "successfactors", "csv",
                  "SuccessFactors-like Employee Central export (UTF-8 BOM, semicolons, DD.MM.YYYY, decimal comma)",
                  encoding="utf-8-sig", delimiter=";", lineterminator="\r\n"),
    VendorProfile("docebo", "docebo", "csv", "Docebo-like LMS reports (CSV, date-times, Docebo status words)",
                  extras={"enrollments": [("enrollment_validity_begin_date", _empty),
                                          ("enrollment_validity_end_date", _empty)]}),
    VendorProfile("cornerstone", "cornerstone", "csv",
                  "Cornerstone-like LMS reports (transcript as UTF-16 tab-separated text, US dates)",
                  per_entity={"enrollments": {"encoding": "utf-16", "delimiter": "\t", "lineterminator": "\r\n"}},
                  extras={"enrollments": [("Due Date", _empty), ("Training Type", _csod_training_type)],
                          "programs": [("Training Type", _csod_training_type)]}),
    VendorProfile("xapi_json", "xapi_lrs", "xapi_json", "LRS export: one JSON array of xAPI statements per file"),
    VendorProfile("xapi_ndjson", "xapi_lrs", "xapi_ndjson", "LRS export: NDJSON, one xAPI statement a line"),
    VendorProfile("qualtrics", "qualtrics", "qualtrics",
                  "Qualtrics export, three header rows, employee id in embedded data, dates in a declared zone",
                  declared_timezone="America/Phoenix"),
    VendorProfile("qualtrics_legacy", "qualtrics_legacy", "qualtrics_legacy",
                  "legacy Qualtrics export: BOM, two header rows, trailing commas, account-local dates"),
    VendorProfile("generic_csv", "generic", "csv", "canonical columns as Excel writes CSV (BOM, semicolons, CRLF)",
                  encoding="utf-8-sig", delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_ALL),
    VendorProfile("generic_xlsx", "generic", "xlsx", "canonical columns in an XLSX workbook, typed cells"),
    VendorProfile("generic_parquet", "generic", "parquet", "canonical columns in Parquet, typed columns"),
)}


def profile_names() -> list[str]:
    return list(PROFILES)


# --------------------------------------------------------------------------- selection

@dataclass(frozen=True)
class _Choice:
    profile: VendorProfile
    scope: frozenset[str] | None               # families or entities named after ':'; None = all it covers


def parse_formats(formats: str | Iterable[str]) -> list[_Choice]:
    """'workday,docebo,generic_xlsx:finance+performance' -> profile choices, in order.

    A format applies to every entity its mapping covers and its writer can
    write, or only to the families/entities named after ':' (joined by '+').
    Where two formats cover one entity the first named wins.
    """
    items = [s.strip() for s in formats.split(",")] if isinstance(formats, str) else [str(s).strip() for s in formats]
    out = []
    for item in items:
        if not item:
            continue
        name, _, scope = item.partition(":")
        name = name.strip()
        if name == CANONICAL:
            continue
        if name not in PROFILES:
            raise ValueError(f"unknown vendor format {name!r}; known: {', '.join(PROFILES)}")
        parts = frozenset(s.strip() for s in scope.split("+") if s.strip()) if scope else None
        out.append(_Choice(PROFILES[name], parts))
    return out


def _writer_entities(writer: str) -> set[str] | None:
    if writer in ("xapi_json", "xapi_ndjson"):
        return {"xapi_statements"}
    if writer in ("qualtrics", "qualtrics_legacy"):
        return {"survey_responses"}
    return None  # tabular writers: every entity whose mapping spec has the writer's format


# --------------------------------------------------------------------------- mapping read backwards

class _Backwards:
    """One entity's source spec (canonical.yml) and target spec (vendor mapping), inverted."""

    def __init__(self, entity: str, source_spec, target_spec, schema):
        self.entity = entity
        self.schema = schema
        self.source = source_spec
        self.target = target_spec
        self.types = {c.name: c.type for c in schema.columns}
        # canonical column -> vendor column
        self.vendor_name = {canon: vendor for vendor, canon in target_spec.columns.items()}
        # canonical column -> {canonical value: first vendor value listed}
        self.inverse_values: dict[str, dict[str, str]] = {}
        for col, vm in target_spec.value_maps.items():
            inv: dict[str, str] = {}
            for vendor_value, canon_value in vm.values.items():
                if canon_value is not None:
                    inv.setdefault(canon_value, vendor_value)
            self.inverse_values[col] = inv
        self.source_values = {col: (vm.case_insensitive, vm.lookup_keys()) for col, vm in source_spec.value_maps.items()}

    def canonical_header(self, header: list[str]) -> list[str | None]:
        return [self.source.canonical_for(h, self.schema) for h in header]

    def to_canonical(self, col: str | None, value: str) -> str:
        """A source (canonical-file) value as the canonical value text."""
        if col is None or value == "" or col not in self.source_values:
            return value
        case_insensitive, lookup = self.source_values[col]
        key = value.strip().lower() if case_insensitive else value.strip()
        mapped = lookup.get(key, value)
        return value if mapped is None else mapped

    def vendor_column(self, canon: str | None, source_name: str) -> str:
        if canon is None:
            return source_name
        return self.vendor_name.get(canon, canon)

    def to_vendor_text(self, col: str | None, value: str) -> str:
        """Canonical value text -> the vendor's text (value word, date format, number format)."""
        if col is None or value == "":
            return value
        inv = self.inverse_values.get(col)
        if inv is not None and value in inv:
            return inv[value]
        typ = self.types.get(col)
        fmt = self.target.date_formats.get(col)
        if typ == "date" and fmt:
            try:
                return date.fromisoformat(value).strftime(fmt)
            except ValueError:
                return value  # a planted impossible date stays as it is (quarantined on ingest)
        if typ == "timestamp" and fmt:
            try:
                dt = datetime.fromisoformat(value)
            except ValueError:
                return value
            if dt.tzinfo is not None:
                dt = dt.astimezone(ZoneInfo(self.target.timezone)).replace(tzinfo=None)
            return dt.strftime(fmt)
        if typ in ("int", "float", "decimal"):
            return _vendor_number(value, self.target.decimal_separator, self.target.thousands_separator)
        return value


_PLAIN_NUMBER = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


def _vendor_number(value: str, decimal_sep: str, thousands_sep: str | None) -> str:
    m = _PLAIN_NUMBER.match(value.strip())
    if not m or (decimal_sep == "." and not thousands_sep):
        return value
    sign, whole, frac = m.groups()
    if thousands_sep:
        whole = f"{int(whole):,}".replace(",", thousands_sep) if len(whole) > 3 else whole
    return sign + whole + (decimal_sep + frac if frac is not None else "")


# --------------------------------------------------------------------------- file naming

def _wildcard(pattern: str, rel: str) -> str | None:
    """The text `*` stands for when `rel` matches a single-star `pattern`."""
    if pattern.count("*") != 1 or any(c in pattern for c in "?["):
        return None
    head, tail = pattern.split("*")
    if rel.startswith(head) and rel.endswith(tail) and len(rel) >= len(head) + len(tail):
        return rel[len(head):len(rel) - len(tail)]
    return None


def _target_rel(source_rel: str, source_patterns: tuple[str, ...], target_patterns: tuple[str, ...]) -> str:
    """Name of the vendor file: the first single-star target pattern, filled in.

    'lms/enrollments_*.csv' + 'lms/enrollments_2026-10-31.csv' -> '2026-10-31';
    'lms/docebo/enrollments_*.csv' -> 'lms/docebo/enrollments_2026-10-31.csv'. A
    pattern whose star is the whole file stem ('surveys/qualtrics/*.csv') keeps
    the canonical file's stem.
    """
    value = next((v for p in source_patterns if (v := _wildcard(p, source_rel)) is not None), None)
    for pat in target_patterns:
        if pat.count("*") != 1 or any(c in pat for c in "?["):
            continue
        base = pat.rsplit("/", 1)[-1]
        if base.startswith("*"):
            return pat.replace("*", Path(source_rel).stem)
        if value is not None:
            return pat.replace("*", value)
    raise ValueError(f"no single-star pattern in {target_patterns} to name the export of {source_rel}")


# --------------------------------------------------------------------------- writers

def _read_csv_rows(path: Path, encoding: str = "utf-8") -> Iterator[list[str]]:
    with open(path, encoding=encoding, newline="") as fh:
        yield from csv.reader(fh)


def _write_tabular_csv(src: Path, dst: Path, bw: _Backwards, profile: VendorProfile, ctx: dict) -> int:
    opts = {"encoding": profile.encoding, "delimiter": profile.delimiter, "lineterminator": profile.lineterminator,
            **profile.per_entity.get(bw.entity, {})}
    extras = profile.extras.get(bw.entity, [])
    rows = _read_csv_rows(src)
    header = next(rows, None)
    if header is None:
        dst.write_bytes(b"")
        return 0
    canon = bw.canonical_header(header)
    out_header = [bw.vendor_column(c, h) for c, h in zip(canon, header)] + [name for name, _ in extras]
    n = 0
    with open(dst, "w", encoding=opts["encoding"], newline="") as fh:
        w = csv.writer(fh, delimiter=opts["delimiter"], lineterminator=opts["lineterminator"],
                       quoting=profile.quoting)
        w.writerow(out_header)
        for row in rows:
            if not row:
                continue
            values = [bw.to_canonical(c, v) for c, v in zip(canon, row)]
            record = {c: v for c, v in zip(canon, values) if c}
            out = [bw.to_vendor_text(c, v) for c, v in zip(canon, values)] + row[len(canon):]
            if len(row) == len(canon):
                out += [fn(record, ctx) for _, fn in extras]
            w.writerow(out)
            n += 1
    return n


def _xlsx_cell(typ: str | None, value: str) -> Any:
    """Canonical text -> the typed cell a spreadsheet would hold; text when it does not parse."""
    if value == "":
        return None
    try:
        if typ == "int":
            return int(value)
        if typ in ("float", "decimal"):
            return float(value)
        if typ == "bool" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if typ == "date":
            return date.fromisoformat(value)
    except ValueError:
        return value
    return value


def _write_tabular_xlsx(src: Path, dst: Path, bw: _Backwards, profile: VendorProfile, ctx: dict) -> int:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(title=bw.entity[:31])
    rows = _read_csv_rows(src)
    header = next(rows, None) or []
    canon = bw.canonical_header(header)
    ws.append([bw.vendor_column(c, h) for c, h in zip(canon, header)])
    n = 0
    for row in rows:
        if not row:
            continue
        cells = []
        for c, v in zip(canon, row):
            val = _xlsx_cell(bw.types.get(c) if c else None, bw.to_canonical(c, v))
            if isinstance(val, str) and val.startswith("="):
                cell = WriteOnlyCell(ws, value=val)
                cell.data_type = "s"           # text, not a formula
                val = cell
            cells.append(val)
        ws.append(cells + row[len(canon):])
        n += 1
    wb.save(dst)
    return n


def _write_tabular_parquet(src: Path, dst: Path, bw: _Backwards, profile: VendorProfile, ctx: dict) -> int:
    """Typed Parquet, streamed in Arrow CSV batches.

    A first pass finds the columns in which some value cannot be typed (a
    planted impossible date): those stay text in this file, so the value
    reaches ingestion and is quarantined there as it would be from CSV.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with open(src, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    canon = bw.canonical_header(header)
    typed = {h: bw.schema.column(c).arrow_type for h, c in zip(header, canon) if c}

    def batches(types: dict[str, Any]):
        opts = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True, null_values=[""],
                                    true_values=["true"], false_values=["false"])
        reader = pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=4 << 20), convert_options=opts)
        yield from reader

    as_text = {h: pa.string() for h in header}
    untypable: set[str] = set()
    for batch in batches(as_text):
        for h, t in typed.items():
            if h in untypable:
                continue
            try:
                batch.column(h).cast(t)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                untypable.add(h)
    types = {h: (pa.string() if h in untypable or h not in typed else typed[h]) for h in header}
    schema = pa.schema([(bw.vendor_column(c, h), types[h]) for h, c in zip(header, canon)])
    n = 0
    with pq.ParquetWriter(dst, schema) as w:
        for batch in batches(as_text):
            arrays = [batch.column(h).cast(types[h]) for h in header]
            w.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            n += batch.num_rows
    return n


def _write_xapi_json(src: Path, dst: Path, *_: Any) -> int:
    """NDJSON -> one JSON array, statement texts unchanged, one line at a time."""
    n = 0
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8", newline="\n") as fout:
        fout.write("[")
        for line in fin:
            text = line.strip()
            if not text:
                continue
            fout.write(",\n" if n else "\n")
            fout.write(text)
            n += 1
        fout.write("\n]\n")
    return n


def _write_xapi_ndjson(src: Path, dst: Path, *_: Any) -> int:
    n = 0
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8", newline="\n") as fout:
        for line in fin:
            text = line.strip()
            if text:
                fout.write(text + "\n")
                n += 1
    return n


def _shift_zone(value: str, zone: str) -> str:
    """'YYYY-MM-DD HH:MM:SS' in UTC -> the same instant as local time in `zone`."""
    try:
        dt = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return value
    return dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


_QUALTRICS_DATES = ("StartDate", "EndDate", "RecordedDate")


def _write_qualtrics_v3(src: Path, dst: Path, bw: _Backwards, profile: VendorProfile, ctx: dict) -> int:
    """Same three-header layout; the employee id moves from ExternalReference to
    the embedded-data field the mapping names, and dates move to the zone the
    ImportId row then declares."""
    zone = profile.declared_timezone
    employee_field = bw.vendor_name.get("worker_id", "EmployeeID")
    rows = _read_csv_rows(src)
    ids, texts, imports = next(rows), next(rows), next(rows)
    ext = ids.index("ExternalReference")
    dates = [i for i, c in enumerate(ids) if c in _QUALTRICS_DATES]
    if zone:
        for i in dates:
            meta = json.loads(imports[i])
            meta["timeZone"] = zone
            imports[i] = json.dumps(meta, separators=(",", ":"))
    n = 0
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ids + [employee_field])
        w.writerow(texts + [employee_field])
        w.writerow(imports + [json.dumps({"ImportId": employee_field}, separators=(",", ":"))])
        for row in rows:
            if not row:
                continue
            row = list(row)
            employee = row[ext] if ext < len(row) else ""
            if ext < len(row):
                row[ext] = ""
            if zone:
                for i in dates:
                    if i < len(row) and row[i]:
                        row[i] = _shift_zone(row[i], zone)
            w.writerow(row + [employee])
            n += 1
    return n


# The legacy layout: V1..V10 metadata (named in row 2), then the question ids,
# embedded data and location columns, every line ending in a comma.
_LEGACY_META = ("ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress",
                "Status", "StartDate", "EndDate", "Finished")


def _write_qualtrics_legacy(src: Path, dst: Path, bw: _Backwards, profile: VendorProfile, ctx: dict) -> int:
    zone = bw.target.timezone
    rows = _read_csv_rows(src)
    ids, texts, _imports = next(rows), next(rows), next(rows)
    pos = {c: i for i, c in enumerate(ids)}
    questions = [c for c in ids if re.match(r"Q\d", c)]
    known = set(_QUALTRICS_V3_META) | set(questions)
    embedded = [c for c in ids if c not in known and not c.startswith("Location")]
    location = ["LocationLatitude", "LocationLongitude"]
    finished_inv = bw.inverse_values.get("finished", {})

    def get(row: list[str], col: str) -> str:
        i = pos.get(col)
        return row[i] if i is not None and i < len(row) else ""

    n = 0
    with open(dst, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow([f"V{i + 1}" for i in range(len(_LEGACY_META))] + questions + embedded
                   + location + ["LocationAccuracy", ""])
        w.writerow(list(_LEGACY_META) + [texts[pos[q]] for q in questions] + embedded
                   + location + ["LocationAccuracy", ""])
        for row in rows:
            if not row:
                continue
            last, first = get(row, "RecipientLastName"), get(row, "RecipientFirstName")
            finished = bw.to_canonical("finished", get(row, "Finished"))
            meta = [
                get(row, "ResponseId"), "Default Response Set",
                f"{last}, {first}" if last or first else "Anonymous",
                get(row, "ExternalReference"), get(row, "RecipientEmail"), get(row, "IPAddress"), "0",
                _shift_zone(get(row, "StartDate"), zone), _shift_zone(get(row, "EndDate"), zone),
                finished_inv.get(finished, get(row, "Finished")),
            ]
            w.writerow(meta + [get(row, q) for q in questions] + [get(row, e) for e in embedded]
                       + [get(row, c) for c in location] + ["-1", ""])
            n += 1
    return n


_QUALTRICS_V3_META = ("StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
                      "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
                      "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
                      "DistributionChannel", "UserLanguage")

_WRITERS = {
    "csv": _write_tabular_csv, "xlsx": _write_tabular_xlsx, "parquet": _write_tabular_parquet,
    "xapi_json": _write_xapi_json, "xapi_ndjson": _write_xapi_ndjson,
    "qualtrics": _write_qualtrics_v3, "qualtrics_legacy": _write_qualtrics_legacy,
}
_WRITER_FORMAT = {"csv": "csv", "xlsx": "xlsx", "parquet": "parquet", "xapi_json": "json",
                  "xapi_ndjson": "ndjson_xapi", "qualtrics": "qualtrics", "qualtrics_legacy": "qualtrics"}


# --------------------------------------------------------------------------- export

def _context(landing: Path, canonical) -> dict:
    """Small lookups some extras need (program -> method), read before files are replaced."""
    from training_impact.ingestion.engine import discover_files

    methods: dict[str, str] = {}
    for p in discover_files(landing.parent, canonical, "programs"):
        with open(p, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                methods[row.get("program_id", "")] = row.get("method", "")
    return {"program_method": methods}


def export_vendor_format(data_root: str | Path, vendor_set: str | Iterable[str]) -> dict[str, Any]:
    """Rewrite the canonical landing files of `data_root` in the vendor formats named.

    `vendor_set` is a comma-separated string or a list of names of PROFILES
    (optionally scoped, 'generic_xlsx:finance'). Each canonical file of an entity
    a format covers is converted and then deleted; `landing/mappings.yml` is
    written so that `ingest_family` reads each family through the right
    mapping(s). Returns {"files": [(source, target, records)], "families": {...}}.
    """
    from training_impact.ingestion.engine import discover_files
    from training_impact.ingestion.mapping import load_mapping, read_landing_mappings, write_landing_mappings
    from training_impact.ingestion.schemas import load_schemas

    root = Path(data_root)
    landing = root / "landing"
    if not landing.is_dir():
        raise FileNotFoundError(f"no landing zone at {landing}")
    choices = parse_formats(vendor_set)
    existing = read_landing_mappings(root)
    schemas = load_schemas()
    canonical = load_mapping(CANONICAL)

    # entity -> (profile, target spec): the first format that covers it wins
    chosen: dict[str, tuple[VendorProfile, Any]] = {}
    for ch in choices:
        p = ch.profile
        target = load_mapping(p.mapping)
        allowed = _writer_entities(p.writer)
        fmt = _WRITER_FORMAT[p.writer]
        for entity, specs in target.entities.items():
            if entity in chosen or (allowed is not None and entity not in allowed):
                continue
            if ch.scope is not None and entity not in ch.scope and schemas.entity(entity).family not in ch.scope:
                continue
            spec = next((s for s in specs if s.format == fmt), None)
            if spec is not None:
                chosen[entity] = (p, spec)
    if ch_unknown := [s for ch in choices for s in (ch.scope or ()) if s not in schemas.entities
                      and s not in schemas.families]:
        raise ValueError(f"unknown family or entity in format scope: {ch_unknown}")
    clash = sorted({schemas.entity(e).family for e in chosen} & {f for f, names in existing.items()
                                                                  if names != [CANONICAL]})
    if clash:
        raise ValueError(f"families {clash} are already exported (landing/mappings.yml); "
                         "export from the canonical files of a fresh generation")

    ctx = _context(landing, canonical)
    written: list[tuple[str, str, int]] = []
    for entity, (profile, spec) in chosen.items():
        schema = schemas.entity(entity)
        for src in discover_files(root, canonical, entity):
            rel = src.relative_to(landing).as_posix()
            source_spec = canonical.source_for(entity, rel)
            if source_spec is None:
                continue
            dst_rel = _target_rel(rel, source_spec.patterns, spec.patterns)
            dst = landing / dst_rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".tmp")          # ingestion never reads *.tmp
            bw = _Backwards(entity, source_spec, spec, schema)
            n = _WRITERS[profile.writer](src, tmp, bw, profile, ctx)
            tmp.replace(dst)
            if dst.resolve() != src.resolve():
                src.unlink()
            written.append((rel, dst_rel, n))

    # landing/mappings.yml: family -> the mappings of its formats, in the order
    # given, plus canonical for entities of the family left in canonical files.
    families: dict[str, list[str]] = {f: list(v) for f, v in existing.items()}
    for family, entities in schemas.families.items():
        names: list[str] = []
        for ch in choices:
            if any(chosen.get(e, (None,))[0] is ch.profile for e in entities) and ch.profile.mapping not in names:
                names.append(ch.profile.mapping)
        if not names:
            continue
        left = [e for e in entities if e not in chosen and discover_files(root, canonical, e)]
        if left:
            names.append(CANONICAL)
        families[family] = names
    order = list(schemas.families)
    families = {f: families[f] for f in sorted(families, key=order.index)}
    if families:
        write_landing_mappings(root, families, comment=f"written by synthetic.vendors for formats: "
                                                       f"{', '.join(ch.profile.name for ch in choices)}")
    return {"files": written, "families": families}
