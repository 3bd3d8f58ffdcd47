"""Predicting a run: what ingestion would do with landing files, writing nothing (`mappings check`).

The prediction is ingestion itself, not a second implementation of it: the engine's own per-file
path (`engine._FileIngest`: probe, reader and its detection rules, column resolution, casting, the
row rules passed in, i.e. the GX suites, the reference checks, quarantine counted by record and
rule, small files of an entity validated together) with every sink replaced by a counter. No
bronze, no quarantine file, no manifest row, nothing moved to rejected/. So the counts `check`
prints per file and rule are the counts the run will record, and cannot drift from them
(tests/integration/test_organisation_run.py compares the two on a company with planted defects).

`predict_landing` walks a data root in the run's order (hris first, so the worker ids a fact
file is checked against are those of the workers snapshot the same run loads; programs before
enrollments); `predict_file` predicts one file, with the reference ids the caller gives.
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import engine
from .engine import (
    GROUP_FILE_BYTES, GROUP_ROWS, FileReport, IngestLimits, RowRules, _FileIngest, _ManifestState, _validate_group,
    discover_files, special_file_kind,
)
from .mapping import EntityMapping, Mapping, mapping_for_family
from .readers import FileRejected, RawBatch, SourceReader
from .references import REFERENCE_SOURCES, latest_loaded_bronze, load_program_catalogue, load_reference_ids
from .schemas import EntitySchema, load_schemas
from .store import Layout

# The order of the run's ingestion steps (orchestration/defs/ingestion.py FAMILY_ORDER): masters first.
RUN_FAMILY_ORDER = ("hris", "lms", "performance", "finance", "surveys")
EXAMPLES_PER_RULE = 3
MASTER_ENTITIES = {entity for entity, _ in REFERENCE_SOURCES.values()}


@dataclass
class EntityStats:
    """What the loaded rows of an entity hold: rows, and rows with a value per column (KPI readiness)."""
    rows: int = 0
    non_null: Counter = field(default_factory=Counter)

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for name in table.column_names:
            if not name.startswith("_"):
                self.non_null[name] += table.num_rows - table.column(name).null_count

    def merged(self, other: "EntityStats") -> "EntityStats":
        out = EntityStats(self.rows + other.rows, Counter(self.non_null))
        out.non_null.update(other.non_null)
        return out


@dataclass
class FilePrediction:
    """One landing file as the run would see it: its FileReport (status, reason, rows read, loaded and
    quarantined, quarantine_by_rule counting records per rule, notes), a few quarantine messages per
    rule, and what its loaded rows hold."""
    report: FileReport
    examples: dict[str, list[str]] = field(default_factory=dict)
    stats: EntityStats = field(default_factory=EntityStats)
    already_loaded: str | None = None     # the batch that loaded these bytes before, when the manifest says so
    sampled: int | None = None            # only the first N records were read
    loaded: pa.Table | None = field(default=None, repr=False)   # the rows it would load (keep_loaded=True)

    def to_dict(self) -> dict[str, Any]:
        r = self.report
        return {"source_file": r.source_file, "entity": r.entity, "mapping": r.mapping, "status": r.status,
                "reason": r.reason, "rows_read": r.rows_read, "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined, "quarantine_by_rule": dict(r.quarantine_by_rule),
                "examples": self.examples, "notes": list(r.notes), "already_loaded": self.already_loaded,
                "sampled": self.sampled}


class _Sink:
    """Stands in for a bronze or quarantine Parquet writer: counts rows, writes nothing."""

    def __init__(self, path: Path) -> None:
        self.rows = 0
        self.path = path

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows

    def abort(self) -> None:
        pass

    def commit(self) -> Path:
        return self.path          # never written: the report's file names are cleared afterwards


class _DryFile(_FileIngest):
    """engine._FileIngest with its sinks and endings replaced: the same reading, typing, rules and
    counting, nothing written, nothing moved."""

    def __init__(self, *, catalogue: Any = None, keep_loaded: bool = False, limit: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.catalogue = catalogue
        self.keep_loaded = keep_loaded
        self.limit = limit
        self.prediction = FilePrediction(self.report, sampled=limit)
        self.loaded_tables: list[pa.Table] = []

    def _gx_references(self) -> dict[str, Any]:
        if self.catalogue is not None and "program_id" in self.references and \
                dict(engine.REFERENCE_CHECKS.get(self.schema.name, [])).get("program_id") == "program_id":
            return {"programs": self.catalogue}
        return super()._gx_references()

    def _guarded(self, reader: SourceReader, batches: Iterable[RawBatch]) -> Iterator[RawBatch]:
        seen = 0
        for raw in super()._guarded(reader, batches):
            yield raw
            seen += raw.records_read
            if self.limit and seen >= self.limit:
                return

    # ---- sinks: counters
    def _open_sinks(self, keep_validation: bool = False) -> None:
        self._reset_counts(keep_validation)
        self.bronze = _Sink(self.layout.bronze / "(check: not written)")
        self.quarantine = None
        self.prediction.examples = {}
        self.prediction.stats = EntityStats()
        self.loaded_tables = []

    def _abort_sinks(self) -> None:
        self.quarantine = None

    def _write(self, raw: RawBatch, good: pa.Table, quarantine: pa.Table, n_bad: int) -> None:
        self.bronze.write(good)
        self.prediction.stats.add(good)
        if self.keep_loaded:
            self.loaded_tables.append(good)
        if quarantine.num_rows:
            if self.quarantine is None:
                self.quarantine = _Sink(self.layout.quarantine_dir / "(check: not written)")
            self.quarantine.write(quarantine)
            examples = self.prediction.examples
            for rule, message in zip(quarantine.column("rule").to_pylist(), quarantine.column("message").to_pylist()):
                shown = examples.setdefault(rule, [])
                if len(shown) < EXAMPLES_PER_RULE:
                    shown.append(message)
        self.rows_read += raw.records_read
        self.rows_loaded += good.num_rows
        self.rows_quarantined += n_bad
        ordinals = list(raw.source_rows[-1:]) + [r.source_row for r in raw.rejects]
        self.last_ordinal = max([self.last_ordinal, *ordinals])

    # ---- endings: the report only
    def _finish_loaded(self) -> None:
        # the engine's own ending (reconciliation, counts by rule, notes, volume history); the sinks
        # commit nothing and the manifest row is never written (_write_manifest)
        super()._finish_loaded()
        self.report.bronze_file = self.report.quarantine_file = None

    def _finish_duplicate(self, prior_file: str, prior_batch: str) -> FileReport:
        r = self.report
        r.status = "duplicate"
        r.reason = f"duplicate: {self.rel} is byte-identical to {prior_file} loaded in batch {prior_batch}"
        if prior_file != self.rel:
            r.rejected_file = f"rejected/<batch>/{self.rel}"   # the run sets a redelivery aside
            r.reason += " (the run sets it aside in rejected/)"
        self.prediction.already_loaded = prior_batch
        return r

    def _finish_rejected(self, rej: FileRejected) -> FileReport:
        r = self.report
        r.status = "rejected"
        r.reason = f"{rej.rule}: {rej.detail} (file {self.rel})"
        r.rows_read = r.rows_loaded = r.rows_quarantined = 0
        r.quarantine_by_rule = {}
        r.validation = []
        r.gx_results = []
        return r

    def _write_manifest(self) -> None:  # never: a prediction leaves the manifest alone
        pass

    def _emit(self, stage: str) -> None:
        pass


def _relative(layout: Layout, path: Path) -> str:
    try:
        return Path(path.resolve().relative_to(layout.landing.resolve())).as_posix()
    except ValueError:
        return path.name


def _special(rel: str, kind: str, schema: EntitySchema, mapping: Mapping) -> FilePrediction:
    report = FileReport(source_file=rel, sha256="", entity=schema.name, status="rejected",
                        reason=f"{engine.SPECIAL_FILE_RULE}: a {kind}, not a regular file: set aside unread",
                        family=schema.family, mapping=mapping.name)
    return FilePrediction(report)


def _job(path: Path, layout: Layout, schema: EntitySchema, em: EntityMapping, mapping: Mapping,
         references: dict[str, set[str]], row_rules: RowRules, state: _ManifestState, *, catalogue: Any,
         limits: IngestLimits, limit: int | None, batch_size: int, lookups: Any = None,
         keep_loaded: bool | None = None) -> _DryFile:
    return _DryFile(path=path, layout=layout, schema=schema, em=em, mapping=mapping, batch_id="(check)",
                    references=references, progress=None, row_validator=None, row_rules=row_rules,
                    batch_size=batch_size, state=state, rel=_relative(layout, path), limits=limits,
                    lookups=lookups, catalogue=catalogue,
                    keep_loaded=schema.name in MASTER_ENTITIES if keep_loaded is None else keep_loaded, limit=limit)


def predict_file(path: str | Path, *, entity: str, mapping: Mapping, em: EntityMapping | None = None,
                 row_rules: RowRules, data_root: str | Path | None = None,
                 references: dict[str, set[str]] | None = None, catalogue: Any = None,
                 limit: int | None = None, manifest: bool = False,
                 limits: IngestLimits | None = None, keep_loaded: bool = False) -> FilePrediction:
    """What ingesting `path` as `entity` through `mapping` (spec `em`) would do; nothing is written.

    `references`: the worker / program ids the reference rules check against ({} skips them, None:
    the data root's loaded snapshots); `catalogue`: the programs frame for per-program score bounds.
    `limit`: read the first N records only (a sample). `manifest`: a file whose bytes the data root
    already loaded is predicted as the run sees it, a duplicate (default: judged on its content).
    """
    path = Path(path)
    layout = Layout(data_root if data_root is not None else _root_of(path))
    schema = load_schemas().entity(entity)
    rel = _relative(layout, path)
    if em is None:
        em = mapping.source_for(entity, rel) or mapping.for_entity(entity)[0]
    kind = special_file_kind(layout, path) if path.parent.exists() else None
    if kind is not None:
        return _special(rel, kind, schema, mapping)
    state = _ManifestState.load(layout.root) if manifest else _ManifestState({}, set())
    if references is None:
        references = load_reference_ids(layout.root) if layout.root.exists() else {}
    limits = limits or IngestLimits.from_parameters()
    batch = max(1, int(limit)) if limit else GROUP_ROWS
    job = _job(path, layout, schema, em, mapping, references, row_rules, state, catalogue=catalogue, limits=limits,
               limit=limit, batch_size=batch, lookups=engine.LookupSources(layout, limits),
               keep_loaded=keep_loaded or None)
    job.run()
    if keep_loaded:
        job.prediction.loaded = pa.concat_tables(job.loaded_tables) if job.loaded_tables else None
    if not manifest:
        prior = _ManifestState.load(layout.root).duplicate_of(job.report.sha256, rel) if layout.root.exists() \
            and job.report.sha256 else None
        if prior is not None:
            job.prediction.already_loaded = prior[1]
    return job.prediction


def _root_of(path: Path) -> Path:
    """The data root a landing file lies in (the folder above `landing/`), else the file's folder."""
    parts = path.resolve().parts
    if "landing" in parts:
        i = len(parts) - 1 - parts[::-1].index("landing")
        return Path(*parts[:i])
    return path.resolve().parent


@dataclass
class LandingPrediction:
    """Every landing file of a data root, in the order the run reads them."""
    files: list[FilePrediction]
    unmatched_files: list[str]
    stats: dict[str, EntityStats]            # per entity, the rows the marts will read after the run
    entities_with_files: set[str]

    def by_entity(self) -> dict[str, list[FilePrediction]]:
        out: dict[str, list[FilePrediction]] = {}
        for f in self.files:
            out.setdefault(str(f.report.entity), []).append(f)
        return out


def predict_landing(data_root: str | Path, *, row_rules: RowRules, next_run: bool = False,
                    families: Iterable[str] | None = None, select: Callable[[str], bool] | None = None,
                    limits: IngestLimits | None = None) -> LandingPrediction:
    """What a run would do with every landing file of `data_root`; nothing is written.

    The run's order and reference updates: families hris, lms, performance, finance, surveys; after
    an entity whose rows are referenced (workers, programs), later files are checked against the ids
    of its latest predicted snapshot, and enrollments against its score scales. `next_run`: files the
    data root's manifest already holds are duplicates, as in the next run (default: a first run of
    these files, as into an empty data root).
    """
    layout = Layout(data_root)
    schemas = load_schemas()
    wanted = list(families) if families is not None else list(RUN_FAMILY_ORDER)
    state = _ManifestState.load(layout.root) if next_run else _ManifestState({}, set())
    references = load_reference_ids(layout.root) if next_run else {}
    catalogue = load_program_catalogue(layout.root) if next_run else None
    limits = limits or IngestLimits.from_parameters()
    predictions: list[FilePrediction] = []
    unmatched: list[str] = []
    new_stats: dict[str, list[tuple[str, EntityStats]]] = {}
    with_files: set[str] = set()
    from .delivery import delivery_order

    for family in wanted:
        m = mapping_for_family(layout.root, family)
        claimed: set[str] = set()
        lookups = engine.LookupSources(layout, limits)   # read once per family, as ingest_family does
        for ent in schemas.family_entities(family):
            found = {p.relative_to(layout.landing).as_posix(): p
                     for p in discover_files(layout.root, m, ent.name, special=True)}
            order = [rel for rel in delivery_order(found) if rel not in claimed]
            claimed.update(order)
            order = [rel for rel in order if select is None or select(rel)]
            if order:
                with_files.add(ent.name)
            done = _predict_entity(layout, ent, m, [found[rel] for rel in order], references, catalogue,
                                   row_rules, state, limits, lookups)
            predictions.extend(p for p, _ in done)
            for p, job in done:
                if p.report.status == "loaded":
                    new_stats.setdefault(ent.name, []).append((p.report.source_file, p.stats))
            loaded_masters = [job for p, job in done if job is not None and p.report.status == "loaded"
                              and ent.name in MASTER_ENTITIES]
            if loaded_masters:
                latest = loaded_masters[-1]     # the run's latest loaded snapshot: the last in delivery order
                table = pa.concat_tables(latest.loaded_tables) if latest.loaded_tables else None
                for name, (master, column) in REFERENCE_SOURCES.items():
                    if master == ent.name and table is not None:
                        references = {**references, name: set(pc.unique(table[column].drop_null()).to_pylist())}
                if ent.name == "programs" and table is not None:
                    catalogue = table.select(["program_id", "score_min", "score_max"]).to_pandas()
        unmatched.extend(engine._unmatched(layout, m, schemas, family))
    stats = _entity_stats(layout, schemas, new_stats, next_run)
    return LandingPrediction(predictions, unmatched, stats, with_files)


def _predict_entity(layout: Layout, ent: EntitySchema, m: Mapping, paths: list[Path], references, catalogue,
                    row_rules: RowRules, state: _ManifestState, limits: IngestLimits,
                    lookups: Any) -> list[tuple[FilePrediction, _DryFile | None]]:
    """One entity's files as ingest_family reads them: small files held and validated together
    (D119), a big one streamed on its own, in delivery order."""
    out: list[tuple[FilePrediction, _DryFile | None]] = []
    group: list[_DryFile] = []

    def settle() -> None:
        if not group:
            return
        _validate_group(group, row_rules)
        for job in group:
            job.settle()
        group.clear()

    for p in paths:
        rel = _relative(layout, p)
        em = m.source_for(ent.name, rel)
        if em is None:
            continue
        try:
            mode = os.lstat(p).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            kind = special_file_kind(layout, p) or "special file"
            out.append((_special(rel, kind, ent, m), None))
            continue
        job = _job(p, layout, ent, em, m, references, row_rules, state, catalogue=catalogue, limits=limits,
                   limit=None, batch_size=GROUP_ROWS, lookups=lookups)
        done = job.open(before_duplicate_check=lambda sha: settle() if any(j.probe.sha256 == sha for j in group)
                        else None)
        if done is None and job.probe.size_bytes > GROUP_FILE_BYTES:
            settle()
            job.run_opened()
        elif done is None:
            if job.read_all() is None:
                group.append(job)
                out.append((job.prediction, job))
                if sum(j.pending_rows for j in group) >= GROUP_ROWS:
                    settle()
                continue
        out.append((job.prediction, job))
    settle()
    return out


def _entity_stats(layout: Layout, schemas, new: dict[str, list[tuple[str, EntityStats]]],
                  next_run: bool) -> dict[str, EntityStats]:
    """Per entity, what staging will hold: a snapshot entity its latest loaded file, an append entity
    all of them; with `next_run`, what bronze already holds counts too."""
    out: dict[str, EntityStats] = {}
    for name in schemas.entities:
        loads = new.get(name, [])
        snapshot = schemas.entity(name).load == "snapshot"
        stats = EntityStats()
        if loads:
            stats = loads[-1][1] if snapshot else _sum(s for _, s in loads)
        if next_run and (not snapshot or not loads):
            stats = stats.merged(bronze_stats(layout.root, name, latest_only=snapshot))
        out[name] = stats
    return out


def _sum(items: Iterable[EntityStats]) -> EntityStats:
    total = EntityStats()
    for s in items:
        total = total.merged(s)
    return total


def bronze_stats(data_root: str | Path, entity: str, latest_only: bool = True) -> EntityStats:
    """Rows and values per column of what bronze holds for `entity` (its latest snapshot, or every file)."""
    stats = EntityStats()
    if latest_only:
        files = [latest_loaded_bronze(data_root, entity)] if Path(data_root).exists() else []
    else:
        files = sorted((Layout(data_root).bronze / entity).glob("*.parquet"))
    for f in files:
        if f is None or not f.exists():
            continue
        meta = pq.ParquetFile(f).metadata
        rows = meta.num_rows
        nulls: Counter = Counter()
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                st = col.statistics
                nulls[col.path_in_schema] += st.null_count if st is not None and st.has_null_count else 0
        stats.rows += rows
        for name in meta.schema.names:
            if not name.startswith("_"):
                stats.non_null[name] += rows - nulls.get(name, 0)
    return stats
