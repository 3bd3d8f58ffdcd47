"""`training-impact mappings ...`: check a vendor file against a mapping and predict its run, propose a mapping.

    training-impact mappings list [--data ROOT]
    training-impact mappings check FILE [--source ENTITY] [--mapping NAME] [--sample N] [--data ROOT] [--json]
    training-impact mappings check DATA_ROOT [--next-run] [--json]
    training-impact mappings suggest FILE --source ENTITY [--out FILE.yml]
    training-impact mappings docs [--write]

`check FILE` reads a sample of FILE with the same readers ingestion uses (encoding,
delimiter and layout detection included) and reports which canonical columns of
ENTITY the mapping feeds (with sample values, raw -> canonical), which are
missing and which vendor columns it leaves unused. Then it predicts the run: the
whole file (or --sample N records) goes through ingestion's own code path in a
dry run that writes nothing (ingest.predict: casting, the GX row rules with the
organisation's currency and the plausible date ranges, the reference checks
against the workers and programs the run will know), and it says how many
records would be quarantined, by rule, whether the quality gate would block,
and which KPIs the file leaves not measured, empty or degenerate. Without
--mapping, the run's own mapping (landing/mappings.yml) reads a landing file;
else every mapping with a spec for ENTITY is tried and the one that maps most
columns wins. Exit code 1 when a required column is unmapped, the file cannot be
read, or the gate would block.

`check DATA_ROOT` predicts a whole run: every landing file in the run's order,
per file and rule, the gate per entity and the KPI warnings.

`suggest` proposes a mapping YAML from FILE's header and values: names are
matched to canonical columns (a canonical name as it is; vendor synonyms: "User
ID" -> worker_id, "LO ID" -> program_id), values are sniffed (dates and their
format, numbers and their separators, words close to the accepted values), and
shapes the canonical schema does not have are named (a full name is never a
last name). The output is a starting point to review, marked with confidences;
save it with the data (`<data root>/mappings/`), not in the project's tree.

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
from training_impact.ingestion.engine import header_score
from training_impact.ingestion.mapping import EntityMapping, Mapping, MappingError, available_mappings, load_mapping
from training_impact.ingestion.mapping import normalize_header
from training_impact.ingestion.transforms import Lookup
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
            return header_score(em, schema)(fields)          # renames and the vendor columns of transforms
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
    # What the run will do with the file (ingestion's own code path, nothing written): ingest.predict
    prediction: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None        # the quality gate on that prediction: {"blocking", "failures"}
    kpi_warnings: list[dict[str, Any]] = field(default_factory=list)
    references: str = ""                      # where the ids of the reference rules came from

    @property
    def blocks(self) -> bool:
        return bool(self.gate and self.gate.get("blocking"))

    @property
    def ok(self) -> bool:
        return not self.missing_required and not self.ambiguous and not self.blocks

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


def _data_root_of(path: Path) -> Path | None:
    """The data root a landing file lies in (the folder holding landing/), or None."""
    parts = path.resolve().parts
    if "landing" in parts:
        i = len(parts) - 1 - parts[::-1].index("landing")
        return Path(*parts[:i])
    return None


def _candidate_specs(path: Path, entity: str, mapping: str | None,
                     data_root: Path | None = None) -> list[tuple[Mapping, EntityMapping]]:
    rel = _landing_relative(path)
    if mapping is None and data_root is not None and rel:
        # The run's own choice: landing/mappings.yml (else canonical) reads the file when a pattern matches.
        from training_impact.ingestion.mapping import mapping_for_family

        m = mapping_for_family(data_root, load_schemas().entity(entity).family)
        em = m.source_for(entity, rel)
        if em is not None:
            return [(m, em)]
    names = [mapping] if mapping else available_mappings(data_root)
    fmts = formats_for(path)
    out = []
    for name in names:
        m = load_mapping(name, data_root)
        specs = m.for_entity(entity)
        if mapping and not specs:
            raise MappingError(f"mapping {m.name!r} has no spec for {entity!r}")
        matched = m.source_for(entity, rel) if rel else None
        for em in specs:
            if em is matched or em.format in fmts or (mapping and len(specs) == 1):
                out.append((m, em))
    return out


def infer_entity(path: str | Path, data_root: Path | None = None) -> str:
    """The entity whose pattern matches a landing file (the run's mapping first, then any mapping)."""
    path = Path(path)
    rel = _landing_relative(path)
    root = data_root or _data_root_of(path)
    if rel and root is not None:
        from training_impact.ingestion.mapping import mapping_for_family

        s = load_schemas()
        for family, entities in s.families.items():
            m = mapping_for_family(root, family)
            for e in entities:
                if m.source_for(e, rel):
                    return e
        for name in available_mappings(root):
            m = load_mapping(name, root)
            for e in s.entities:
                if m.source_for(e, rel):
                    return e
    raise KeyError(f"no mapping pattern matches {path}: name the entity with --source")


def check_file(path: str | Path, entity: str, mapping: str | None = None, sample: int | None = None, *,
               data_root: str | Path | None = None, predict: bool = True) -> CheckReport:
    """Read `path` as `entity` through a mapping and say what maps, then what the run will do with it.

    The columns are shown on the first `sample` records (default 500); the prediction reads the
    whole file unless `sample` is given, through ingestion's own code path with the GX row rules and
    the reference checks (ids from the data root the file lies in, or `data_root`), writing nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    entity = _entity(entity)
    schema = load_schemas().entity(entity)
    root = Path(data_root).resolve() if data_root is not None else _data_root_of(path)
    candidates = _candidate_specs(path, entity, mapping, root)
    if not candidates:
        raise MappingError(f"no mapping has a {'/'.join(formats_for(path))} spec for {entity!r}"
                           f" (available: {', '.join(available_mappings(root))})")
    rel = _landing_relative(path)
    best = None
    errors = []
    shown = sample or DEFAULT_SAMPLE
    for m, em in candidates:
        try:
            try:
                reader = open_reader(path, em, schema, shown)
            except FileRejected as rej:
                if rej.rule != "no_expected_columns":
                    raise
                reader = open_reader(path, em, schema, shown, permissive=True)   # nothing maps: show why
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
    # derived columns (mapping transforms): fed when the vendor columns they read are in the header
    inputs = {normalize_header(n) for n in em.transform_inputs(schema)}
    present = {normalize_header(h) for h in header if h}
    derived = [c for c, t in em.derive.items()
               if all(normalize_header(n) in present for n in (t.our_columns() if isinstance(t, Lookup) else t.inputs())
                      if not (isinstance(t, Lookup) and n in schema.column_names))]
    notes += [f"derived: {c} <- {em.derive[c].describe()}" for c in derived]
    for i, h in enumerate(header):
        c = em.canonical_for(h, schema) if h else None
        if c is None and h and normalize_header(h) in inputs:
            continue
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
    report = CheckReport(
        file=str(path), entity=entity, mapping=m.name, pattern=", ".join(em.patterns), format=em.format,
        records_sampled=table.num_rows, notes=notes, mapped=mapped,
        missing_required=[c for c in schema.required_columns if c not in by_canon and c not in derived],
        missing_optional=[c.name for c in schema.columns
                          if not c.required and c.name not in by_canon and c.name not in derived],
        unknown=unknown, ambiguous=ambiguous, pattern_matches=(em.matches(rel) if rel else None),
    )
    if predict:
        _predict_into(report, path, schema, m, em, root, sample)
    return report


def _references_for(entity: str, root: Path | None, row_rules) -> tuple[dict[str, set[str]], Any, str]:
    """The ids the reference rules of `entity` will check against in the run, and where they come from.

    The run loads the masters first: the latest workers (programs) snapshot of the landing zone that
    the data root has not loaded yet is dry-run and the ids it would load are used; else the ids
    bronze holds; else the check is skipped, as in the run."""
    import pyarrow.compute as pc

    from training_impact.ingestion.delivery import delivery_order
    from training_impact.ingestion.engine import _ManifestState, discover_files
    from training_impact.ingestion.mapping import mapping_for_family
    from training_impact.ingestion.readers import probe_file
    from training_impact.ingestion.references import (
        REFERENCE_CHECKS, REFERENCE_SOURCES, load_program_catalogue, load_reference_ids,
    )

    needed = {ref for _, ref in REFERENCE_CHECKS.get(entity, [])}
    if not needed:
        return {}, None, ""
    if root is None:
        return {}, None, "no data root: the reference checks are skipped (--data names one)"
    refs = load_reference_ids(root)
    catalogue = load_program_catalogue(root) if "program_id" in needed else None
    state = _ManifestState.load(root)
    said = []
    schemas = load_schemas()
    for name in sorted(needed):
        master, column = REFERENCE_SOURCES[name]
        m = mapping_for_family(root, schemas.entity(master).family)
        files = {p.relative_to(root / "landing").as_posix(): p for p in discover_files(root, m, master)}
        found = None
        for rel in reversed(delivery_order(files)):   # the run's latest loaded snapshot: the last new one
            try:
                sha = probe_file(files[rel], text=False).sha256
            except OSError:
                continue
            if state.duplicate_of(sha, rel) is not None:
                break                                     # loaded before: bronze holds it (or a later one)
            status, table = _dry_loaded(files[rel], master, m, root, row_rules)
            if status == "loaded":
                found = (rel, table)
                break
        if found is not None:
            rel, table = found
            refs[name] = set() if table is None else set(pc.unique(table[column].drop_null()).to_pylist())
            said.append(f"{name} from landing/{rel} (the same run loads it first)")
            if master == "programs" and table is not None:
                catalogue = table.select(["program_id", "score_min", "score_max"]).to_pandas()
        elif name in refs:
            said.append(f"{name} from the {master} snapshot bronze holds")
        else:
            said.append(f"{name}: no {master} snapshot in this data root, so its reference check is skipped")
    return refs, catalogue, "; ".join(said)


def _dry_loaded(path: Path, entity: str, m: Mapping, root: Path, row_rules) -> tuple[str, pa.Table | None]:
    """(status, the rows it would load) of a master snapshot, through ingestion's dry path."""
    from training_impact.ingestion.predict import predict_file

    pred = predict_file(path, entity=entity, mapping=m, row_rules=row_rules, data_root=root, references={},
                        keep_loaded=True)
    return pred.report.status, pred.loaded


def _predict_into(report: CheckReport, path: Path, schema: EntitySchema, m: Mapping, em: EntityMapping,
                  root: Path | None, sample: int | None) -> None:
    """Fill the report's prediction, gate verdict and KPI warnings from a dry run of ingestion."""
    from training_impact.expectations import row_rules
    from training_impact.expectations.gate import evaluate_gate
    from training_impact.ingestion.predict import predict_file
    from training_impact.kpis import SourceStats, kpi_warnings
    from training_impact.settings import load_parameters

    refs, catalogue, said = _references_for(schema.name, root, row_rules)
    pred = predict_file(path, entity=schema.name, mapping=m, em=em, row_rules=row_rules, data_root=root,
                        references=refs, catalogue=catalogue, limit=sample)
    report.prediction = pred.to_dict()
    report.references = said
    if pred.report.status in ("loaded", "rejected"):
        outcome = evaluate_gate(schema.family, [pred.report.to_dict()], load_parameters(), entity=schema.name)
        report.gate = {"blocking": outcome.blocking, "failures": outcome.failures}
    stats = {schema.name: SourceStats(pred.stats.rows, dict(pred.stats.non_null))}
    if pred.report.status == "loaded":
        report.kpi_warnings = [w.to_dict() for w in kpi_warnings(stats, entities={schema.name})]


def _with_timezone(em: EntityMapping, tz: str) -> EntityMapping:
    import dataclasses

    return dataclasses.replace(em, timezone=tz)


def _show(v: Any) -> str:
    if isinstance(v, datetime) and v.tzinfo is not None:
        v = v.astimezone(timezone.utc)  # bronze holds UTC
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _prediction_lines(pred: dict[str, Any], indent: str = "  ") -> list[str]:
    out = []
    if pred["status"] == "loaded":
        out.append(f"{indent}{pred['rows_read']:,} records read: {pred['rows_loaded']:,} load,"
                   f" {pred['rows_quarantined']:,} quarantined" + (f" (the first {pred['sampled']:,} records only)"
                                                                  if pred.get("sampled") else ""))
        for rule, n in sorted(pred["quarantine_by_rule"].items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{indent}  {rule}: {n:,}")
            for example in pred["examples"].get(rule, [])[:1]:
                out.append(f"{indent}    e.g. {example}")
    elif pred["status"] == "duplicate":
        out.append(f"{indent}skipped: {pred['reason']}")
    else:
        out.append(f"{indent}REJECTED whole: {pred['reason']}")
    if pred.get("already_loaded"):
        out.append(f"{indent}note: these bytes were loaded in batch {pred['already_loaded']}: the next run skips"
                   " the file as a duplicate")
    return out


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
    if r.prediction is not None:
        out.append("")
        out.append("THE RUN (ingestion's own reading, typing, row rules and reference checks; nothing written)")
        out += _prediction_lines(r.prediction)
        if r.references:
            out.append(f"  references: {r.references}")
        if r.gate is not None:
            if r.gate["blocking"]:
                out.append("  quality gate: BLOCKS. A blocking gate stops the dbt build: no KPI table is rebuilt")
            elif r.gate["failures"]:
                out.append("  quality gate: warns (not blocking)")
            else:
                out.append("  quality gate: passes")
            for failure in r.gate["failures"]:
                out.append(f"    {failure}")
    if r.kpi_warnings:
        out.append("")
        out.append("KPI WARNINGS")
        out += [f"  {w['text']}" for w in r.kpi_warnings]
    bad = (r.prediction or {}).get("rows_quarantined")
    if bad is None:
        bad = sum(c.cast_failures for c in r.mapped) + sum(len(c.unaccepted) for c in r.mapped)
    out.append("")
    verdict = "OK" if r.ok else ("WOULD BLOCK" if r.blocks and not r.missing_required and not r.ambiguous
                                 else "NOT LOADABLE")
    why = ("every required column is mapped" if r.ok
           else "; ".join(filter(None, ["required columns unmapped" if r.missing_required else "",
                                        "a canonical column is fed twice" if r.ambiguous else "",
                                        "the quality gate blocks on this file" if r.blocks else ""])))
    tail = ""
    if bad:
        tail = f"; {bad:,} {'record(s)' if r.prediction else 'sample value problem(s)'} would be quarantined"
    if r.kpi_warnings:
        tail += f"; {len(r.kpi_warnings)} KPI warning(s)"
    out.append(f"{verdict}: {why}{tail}")
    return "\n".join(out)


# --------------------------------------------------------------------------- check a whole landing zone

@dataclass
class LandingCheck:
    data_root: str
    next_run: bool
    files: list[dict[str, Any]]
    gates: list[dict[str, Any]]                # per entity: {"entity", "family", "blocking", "failures"}
    kpi_warnings: list[dict[str, Any]]
    unmatched_files: list[str]

    @property
    def blocks(self) -> bool:
        return any(g["blocking"] for g in self.gates)

    @property
    def ok(self) -> bool:
        return not self.blocks

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def quarantine_by_file(self) -> dict[str, dict[str, int]]:
        """source_file -> rule -> records quarantined, for the loaded files."""
        return {f["source_file"]: dict(f["quarantine_by_rule"]) for f in self.files if f["status"] == "loaded"}


def check_landing(data_root: str | Path, *, next_run: bool = False, entities: list[str] | None = None) -> LandingCheck:
    """What a run would do with every landing file of `data_root` (nothing written): per file its
    status and quarantine counts by rule, per entity the quality gate's verdict, and the KPIs that
    will be not measured, empty or degenerate. `next_run`: files already loaded are duplicates."""
    from training_impact.expectations import row_rules
    from training_impact.expectations.gate import evaluate_gate
    from training_impact.ingestion.predict import predict_landing
    from training_impact.kpis import SourceStats, kpi_warnings
    from training_impact.settings import load_parameters

    root = Path(data_root).resolve()
    if root.name == "landing" and not (root / "landing").is_dir():
        root = root.parent
    if not (root / "landing").is_dir():
        raise FileNotFoundError(f"no landing/ folder in {root}")
    schemas = load_schemas()
    select_entities = set(entities) if entities else None
    families = None
    if select_entities:
        families = [f for f in ("hris", "lms", "performance", "finance", "surveys")
                    if set(schemas.families[f]) & select_entities or f in ("hris", "lms")]
    pred = predict_landing(root, row_rules=row_rules, next_run=next_run, families=families)
    params = load_parameters()
    by_entity = pred.by_entity()
    gates = []
    for family, names in schemas.families.items():
        for name in names:
            if select_entities and name not in select_entities:
                continue
            files = [f.report.to_dict() for f in by_entity.get(name, [])]
            if not files and schemas.entity(name).optional:
                continue
            outcome = evaluate_gate(family, files, params, entity=name)
            gates.append({"entity": name, "family": family, "blocking": outcome.blocking,
                          "failures": outcome.failures})
    files = [f.to_dict() for f in pred.files
             if not select_entities or f.report.entity in select_entities]
    stats = {name: SourceStats(st.rows, dict(st.non_null)) for name, st in pred.stats.items()}
    walked = {e for f in (families or schemas.families) for e in schemas.families[f]}   # judged whole
    warnings = [w.to_dict() for w in kpi_warnings(stats, entities=walked)]
    return LandingCheck(str(root), next_run, files, gates, warnings, list(pred.unmatched_files))


def format_landing_check(c: LandingCheck) -> str:
    out = [f"data root: {c.data_root}",
           "prediction: " + ("the next run (files already loaded are skipped)" if c.next_run
                             else "a run of every landing file, as into an empty data root"),
           "(ingestion's own reading, typing, row rules and reference checks; nothing written)", ""]
    entity = None
    for f in c.files:
        if f["entity"] != entity:
            entity = f["entity"]
            out.append(f"{entity}")
        out.append(f"  {f['source_file']}  [{f['mapping']}]")
        out += _prediction_lines(f, indent="    ")
    for name in c.unmatched_files:
        out.append(f"  not read by any pattern (ignored): {name}")
    out.append("")
    out.append("QUALITY GATE")
    for g in c.gates:
        state = "BLOCKS" if g["blocking"] else ("warns" if g["failures"] else "passes")
        out.append(f"  {g['family']}/{g['entity']}: {state}")
        for failure in g["failures"][:8]:
            out.append(f"    {failure}")
        if len(g["failures"]) > 8:
            out.append(f"    ... {len(g['failures']) - 8} more")
    if c.kpi_warnings:
        out.append("")
        out.append("KPI WARNINGS")
        out += [f"  {w['text']}" for w in c.kpi_warnings]
    rows = sum(f["rows_read"] for f in c.files if f["status"] == "loaded")
    bad = sum(f["rows_quarantined"] for f in c.files if f["status"] == "loaded")
    rejected = sum(f["status"] == "rejected" for f in c.files)
    out.append("")
    head = "WOULD BLOCK: a blocking gate stops the dbt build, no KPI table is rebuilt" if c.blocks else "OK"
    out.append(f"{head}: {len(c.files)} files, {rows:,} records, {bad:,} quarantined, {rejected} rejected"
               + (f"; {len(c.kpi_warnings)} KPI warning(s)" if c.kpi_warnings else ""))
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
    "nps": ("recommend", "recommendation", "likelihood", "likely", "promoter"),
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
                "%d %b %Y", "%b %d, %Y", "%Y-%m", "%m/%Y", "%b %Y", "%B %Y")   # the last four: a month (period)
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
                s.date_ambiguous = "%d" in fmt and "%m" in fmt and _parses(vals[:200], swapped)
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
    if _synonym(w, accepted):
        return _synonym(w, accepted), 0.9
    # an accepted value spelled out inside a longer vendor label ("Terminate Employee > Voluntary")
    inside = [a for a in accepted if f"_{a}_" in f"_{w}_"]
    if inside:
        return max(inside, key=len), 0.7
    words = [t for t in w.split("_") if t]
    synonyms = {_synonym(t, accepted) for t in words} - {None}
    if len(synonyms) == 1:
        return synonyms.pop(), 0.65
    # the same word stem in a longer label ("Terminate Employee" -> termination, "Promoted" -> promotion)
    stems = []
    for a in accepted:
        for part in a.split("_"):
            for t in words:
                k = _common_prefix(t, part)
                if k >= 5 and k >= 0.7 * min(len(t), len(part)):
                    stems.append((k / max(len(t), len(part)), a))
    if stems:
        best = max(stems)
        if sum(1 for score, a in stems if score == best[0] and a != best[1]) == 0:
            return best[1], 0.6
    close = difflib.get_close_matches(w, accepted, n=1, cutoff=0.6)
    if close:
        return close[0], 0.55
    return None, 0.0


# A vendor word that means different canonical values in different columns ("Assigned": an enrolment
# not started yet in a status column, a mandatory one in assignment_type): the first that is accepted.
VALUE_SYNONYMS_ELSE = {"assigned": ("mandatory",), "registered": ("optional",), "self_registered": ("optional",)}


def _synonym(word: str, accepted: tuple[str, ...]) -> str | None:
    for candidate in (STATUS_SYNONYMS.get(word), *VALUE_SYNONYMS_ELSE.get(word, ())):
        if candidate in accepted:
            return candidate
    return None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


_FIRST_NAME_WORDS = {"first", "given", "forename", "fore", "vorname", "prenom"}
_LAST_NAME_WORDS = {"last", "surname", "family", "nachname", "nom"}
# A "name" header of something else than a person: never a full name.
_NOT_A_PERSON = {"course", "program", "programme", "training", "learning", "object", "lo", "job", "position",
                 "org", "organisation", "organization", "department", "vendor", "provider", "file", "user", "login",
                 "account", "credential", "certification", "certificate", "cost", "center", "centre", "theme",
                 "survey", "activity", "metric", "location", "region", "site", "company", "legal_entity", "title",
                 "first", "given", "forename", "last", "surname", "family", "middle", "manager", "supervisor"}


def _words(header: str) -> set[str]:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(header))
    return {w for w in re.split(r"[^a-z0-9]+", s.lower()) if w}


def _mostly_several_words(sniff: "Sniff") -> bool:
    vals = [v for v in sniff.distinct if v.strip()]
    return bool(vals) and sum(1 for v in vals if len(v.split()) >= 2) > len(vals) / 2


def is_full_name(header: str, sniff: "Sniff") -> bool:
    """A person's whole name in one column ("Full Name", "Employee Name" with "Ann Lee"): a direct
    identifier, never a first or a last name."""
    words = _words(header)
    return "name" in words and not (words & _NOT_A_PERSON) and _mostly_several_words(sniff)


def name_part_fits(header: str, canonical: str, sniff: "Sniff") -> bool:
    """first_name / last_name only from a header that says which part, and never from full names."""
    if not canonical.endswith(("first_name", "last_name")):
        return True
    need = _FIRST_NAME_WORDS if canonical.endswith("first_name") else _LAST_NAME_WORDS
    return bool(_words(header) & need)      # "van der Berg" under "Last Name" is a last name, "Ann Lee" under "Name" is not


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
    # canonical column -> (transform as a YAML flow mapping, why): columns no vendor column holds as such
    derive: dict[str, tuple[str, str]] = field(default_factory=dict)

    def to_yaml(self) -> str:
        q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
        schema = load_schemas().entity(self.entity)
        lines = [
            f"# Mapping proposed by `training-impact mappings suggest` from {Path(self.pattern).name!s}.",
            "# Review every line: confidences are in the comments (1.00 = same name).",
            "# Save it with your data, not in the project: <data root>/mappings/<vendor>.yml (or the folder",
            "# TI_MAPPINGS_DIR names), name it in <data root>/landing/mappings.yml, then run",
            "# `training-impact mappings check <data root>` (docs/mappings.md).",
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
        missing_req = [c for c in schema.required_columns if c not in {x[1] for x in self.columns}
                       and c not in self.derive]
        for c in missing_req:
            lines.append(f"      # TODO: no vendor column found for required column {c}")
        if self.derive:
            lines.append("    derive:                   # columns the file does not hold as such (docs/mappings.md)")
            for col, (flow, why) in self.derive.items():
                lines.append(f"      # {why}")
                lines.append(f"      {col}: {flow}")
        if self.value_maps:
            lines.append("    value_maps:")
            for col, vm in self.value_maps.items():
                lines.append(f"      {col}:")
                lines.append("        case_insensitive: true")
                lines.append("        values:")
                for vv, (cv, conf) in vm.items():
                    if cv is None:
                        accepted = ", ".join(schema.column(col).accepted_values)
                        lines.append(f"          # {q(vv)}: ???    # TODO: no accepted value is close; one of {accepted}")
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
            if c.name.endswith(("first_name", "last_name")) and name_part_fits(h, c.name, sniffs[i]):
                ns = max(ns, 0.9)        # "Surname", "Given Name": the header says which part
            fit = value_fit(sniffs[i], c)
            if fit <= -1.0:
                continue
            scored.append((ns + fit, ns, i, c.name))
    scored.sort(key=lambda x: (-x[0], -x[1], x[2]))
    used_v, used_c, chosen = set(), set(), {}
    full_names = [i for i, h in enumerate(header) if h and is_full_name(h, sniffs[i])]
    # A header that is a canonical column name maps to it, as ingestion maps it (whatever its values say:
    # a value that does not fit is the value map's or date format's business, noted below).
    for i, h in enumerate(header):
        c = next((c.name for c in schema.columns if h and normalize_header(h) == normalize_header(c.name)), None)
        if c is not None and c not in used_c and i not in full_names:
            used_v.add(i)
            used_c.add(c)
            chosen[i] = (c, 1.0)
            if value_fit(sniffs[i], schema.column(c)) <= -1.0:
                notes.append(f"{h}: a canonical column name, but the sample values {sniffs[i].distinct[:3]} do not "
                             f"read as {schema.column(c).type}: add a date format or value map")
    used_v.update(full_names)
    for score, ns, i, c in scored:
        if not name_part_fits(header[i], c, sniffs[i]):
            continue                     # a full name or a name of something else is never first/last name
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
    for i in full_names:
        identifiers.append(header[i])
        notes.append(f"{header[i]} holds whole names ({', '.join(sniffs[i].distinct[:2])}, ...): a direct identifier,"
                     " listed under identifiers (never loaded), not mapped to first_name or last_name")
    unmatched = [(h, vals) for h, vals in unmatched if h not in identifiers]
    maybe = [h for i, h in enumerate(header) if i not in chosen and h and h not in identifiers
             and (sniffs[i].kind == "email" or re.search(r"(^|[^a-z])(name|email|mail|ssn|phone|address)([^a-z]|$)",
                                                          h.lower()))]
    derive = propose_transforms(schema, {c: header[i] for i, (c, _) in chosen.items()})
    return Suggestion(entity, fmt, header, columns, unmatched, value_maps, date_formats, dec, thou, identifiers,
                      maybe, notes, _pattern_for(path, schema), derive)


def propose_transforms(schema: EntitySchema, mapped: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Transforms (`derive:`, ingestion/transforms.py) for shapes the canonical schema does not have, kept to
    the few that are safe to propose: an answer to its enrolment by worker, program and date, a transcript
    without an enrollment id, money without a currency column (the organisation's). `mapped`: canonical ->
    vendor column."""
    out: dict[str, tuple[str, str]] = {}
    q = json.dumps
    if schema.name == "survey_responses" and "enrollment_id" not in mapped \
            and {"worker_id", "program_id"} <= set(mapped):
        to = "ended_at" if "ended_at" in mapped else "started_at" if "started_at" in mapped else None
        near = f", nearest: {{column: completion_date, to: {to}, direction: before}}" if to else ""
        out["enrollment_id"] = (
            f"{{lookup: {{entity: enrollments, match: {{worker_id: worker_id, program_id: program_id}}{near}, "
            "take: enrollment_id}}",
            "no enrollment id: the answer's enrolment by worker, program and the latest completion before it; "
            "without it NPS by program type falls under 'unknown'")
    if schema.name == "enrollments" and "enrollment_id" not in mapped and {"worker_id", "program_id"} <= set(mapped):
        parts = [mapped[c] for c in ("worker_id", "program_id", "enrolled_at", "attempt") if c in mapped]
        out["enrollment_id"] = (f"{{key: {{columns: [{', '.join(q(p) for p in parts)}], method: hash}}}}",
                                "no enrollment id: a stable key of worker, program and enrolment (review the parts)")
    if "currency" in schema.column_names and "currency" not in mapped and any(
            schema.column(c).type == "decimal" for c in mapped):
        from training_impact.settings import organisation

        out["currency"] = (f"{{constant: {organisation().currency}}}",
                           "no currency column: the organisation's (config/parameters.yml organisation.currency);"
                           " only if every amount of the file is in it")
    return out


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
    """The generated part of docs/mappings.md: canonical schemas and the mapping catalogue (the
    project's own mappings, ingestion/mappings/; a deployment's are not documented here)."""
    from training_impact.ingestion.mapping import MAPPINGS_DIR

    s = load_schemas()
    out = ["## Mapping files", "",
           "| mapping | entities | formats | description |", "|---|---|---|---|"]
    for name in sorted(p.stem for p in MAPPINGS_DIR.glob("*.yml")):
        m = load_mapping(MAPPINGS_DIR / f"{name}.yml")
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
    from training_impact.ingestion.mapping import find_mapping_file

    root = Path(args.data).resolve() if args.data else None
    for name in available_mappings(root):
        m = load_mapping(name, root)
        own = find_mapping_file(name, root, own_only=True)
        print(f"{name:<18} {', '.join(m.entities)}" + (f"   ({own})" if own else ""))
        if m.description:
            print(f"{'':<18} {m.description}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    target = Path(args.file)
    try:
        if target.is_dir():
            entities = [_entity(args.source)] if args.source else None
            landing = check_landing(args.data or target, next_run=args.next_run, entities=entities)
            print(json.dumps(landing.to_dict(), indent=2, ensure_ascii=False) if args.json
                  else format_landing_check(landing))
            return 0 if landing.ok else 1
        root = Path(args.data).resolve() if args.data else None
        entity = _entity(args.source) if args.source else infer_entity(target, root)
        report = check_file(target, entity, args.mapping, args.sample, data_root=root,
                            predict=not args.no_predict)
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
    ls = msub.add_parser("list", help="the mapping files: the deployment's own, then ingestion/mappings/")
    ls.add_argument("--data", default=None, help="a data root: its mappings/ folder is listed too")
    ls.set_defaults(func=cmd_list)
    ck = msub.add_parser("check", help="what a file's columns map to, and what the run will do with it "
                                        "(quarantine by rule, the quality gate, KPI warnings)")
    ck.add_argument("file", help="a landing file, or a data root (or its landing/ folder): every file, "
                                 "as the run reads them")
    ck.add_argument("--source", default=None, help="canonical entity (workers, enrollments, ...) or a one-entity "
                                                   "family; default: the entity whose landing pattern matches")
    ck.add_argument("--mapping", default=None, help="mapping name or path (default: the run's, from "
                                                    "landing/mappings.yml, else the one that maps most columns)")
    ck.add_argument("--sample", type=int, default=None,
                    help=f"records to read (default: {DEFAULT_SAMPLE} to show, the whole file to predict)")
    ck.add_argument("--data", default=None, help="the data root whose workers and programs the reference "
                                                 "checks use (default: the one the file lies in)")
    ck.add_argument("--next-run", action="store_true",
                    help="with a data root: files it already loaded are skipped, as in the next run")
    ck.add_argument("--no-predict", action="store_true", help="columns only, no dry run of ingestion")
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
