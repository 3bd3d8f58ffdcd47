"""Bronze zone: one multi-asset per source family, one asset per canonical entity.

Each entity carries two *blocking* checks:
- ``quality_gate``: GX suite results, file rules, volume and freshness, judged
  by ``expectations/policy.yml``;
- ``reconciliation``: for every file of the run, what the manifest records
  (rows_read = rows_loaded + rows_quarantined) against what is on disk
  (bronze rows, quarantined records, rejected file + reason).
When either fails with ERROR severity, Dagster fails the step and skips
everything downstream, so the KPI marts keep their last good state.

Every family step also stores its GX validation results and rebuilds the Data
Docs site before the checks run, so the docs exist for a blocked run too; the
path is in the assets' ``data_docs`` metadata.
"""

from collections import defaultdict
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from training_impact.expectations import row_rules
from training_impact.expectations.gate import evaluate_gate
from training_impact.ingestion import ingest_family, landing_freshness, reconcile_batch
from training_impact.ingestion.delivery import EVENT_ENTITIES, day_scope, delivery_day
from training_impact.ingestion.schemas import load_schemas
from training_impact.orchestration.descriptions import gate_description
from training_impact.orchestration.resources import DataRootResource, PseudonymisationResource
from training_impact.privacy import guard_run
from training_impact.settings import Settings

GATE_CHECK = "quality_gate"
RECONCILIATION_CHECK = "reconciliation"
CANONICAL = load_schemas()
# Families whose rows reference workers / programs wait for the snapshots they point at.
FAMILY_ORDER = ["hris", "lms", "performance", "finance", "surveys"]

# Event sources load by delivery day (ingestion/delivery.py, DECISIONS D56): one daily
# partition per day a file is named with; monthly history files belong to their month's
# first day. end_offset=1: today's drop is a partition as soon as it lands.
# The partitions are part of the definitions, so their first day and time zone come from the
# settings of the process that loads them (TI_PARTITIONS_START, TI_TIMEZONE).
_DEFINED_WITH = Settings.from_environment()
delivery_days = dg.DailyPartitionsDefinition(
    start_date=_DEFINED_WITH.partitions_start,
    timezone=_DEFINED_WITH.timezone,
    end_offset=1,
)
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# One Dagster asset per (step name, family, entities). A multi-asset has one partitions
# definition, so the LMS family is split: its snapshots (unpartitioned) and xAPI (daily).
INGESTION_STEPS = [
    (f"ingest_{family}", family, [e for e in CANONICAL.families[family] if family != "lms" or e not in EVENT_ENTITIES])
    for family in FAMILY_ORDER
]
INGESTION_STEPS.insert(2, ("ingest_xapi", "lms", [e for e in CANONICAL.families["lms"] if e in EVENT_ENTITIES]))


def run_days(tags) -> tuple[str, str] | None:
    """The delivery days a run reads: its partition, its partition range, or None (every file)."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        return tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    return None


def delivery_day_materializations(entity: str, files: list[dict], batch_id: str):
    """One partition materialisation per delivery day whose landing files of `entity` this run loaded
    (ingestion/delivery.py: a monthly file's day is its month's first), each naming its files and rows.

    Days outside the partitions (before TI_PARTITIONS_START, after today) and undated files mark none.
    """
    first, last = delivery_days.start.strftime("%Y-%m-%d"), delivery_days.get_last_partition_key()
    by_day: dict[str, list[dict]] = defaultdict(list)
    for file_report in files:
        day = delivery_day(file_report["source_file"]) if file_report["status"] == "loaded" else None
        if day is not None and first <= day.isoformat() <= (last or ""):
            by_day[day.isoformat()].append(file_report)
    for day, loaded in sorted(by_day.items()):
        yield dg.AssetMaterialization(
            asset_key=bronze_key(entity), partition=day,
            description=f"delivery day {day}: loaded in catch-up run {batch_id}",
            metadata={"batch_id": batch_id, "source_files": dg.MetadataValue.json([f["source_file"] for f in loaded]),
                      "rows_loaded": sum(f["rows_loaded"] or 0 for f in loaded),
                      "rows_quarantined": sum(f["rows_quarantined"] or 0 for f in loaded)})


def bronze_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["bronze", entity])


def _family_deps(family: str, entities: list[str] | None = None) -> list[dg.AssetKey]:
    if family == "hris":
        return []
    deps = [bronze_key("workers")]
    if family != "lms" or set(entities or ()) <= set(EVENT_ENTITIES):
        deps.append(bronze_key("programs"))
    return deps


def _gate_results(family: str, reports: list[dict], params: dict, freshness: dict[str, dict],
                  entities: list[str] | None = None):
    by_entity: dict[str, list[dict]] = defaultdict(list)
    for report in reports:
        by_entity[report["entity"]].append(report)
    for entity in entities or CANONICAL.families[family]:
        outcome = evaluate_gate(family, by_entity.get(entity, []), params, entity=entity,
                                freshness=freshness.get(entity))
        failed_blocking = (not outcome.passed) and outcome.blocking
        yield dg.AssetCheckResult(
            check_name=GATE_CHECK,
            asset_key=bronze_key(entity),
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if failed_blocking else dg.AssetCheckSeverity.WARN,
            description="; ".join(outcome.failures) if outcome.failures else "all files passed",
            metadata=outcome.metadata,
        )


def _reconciliation_results(family: str, data_root, batch_id: str, entities: list[str] | None = None):
    entries = reconcile_batch(data_root, batch_id)
    for entity in entities or CANONICAL.families[family]:
        mine = [e for e in entries if e["entity"] == entity]
        loaded = [e for e in mine if e["status"] == "loaded"]
        broken = [e for e in mine if not e["ok"]]
        totals = {k: sum(int(e[k] or 0) for e in loaded) for k in ("rows_read", "rows_loaded", "rows_quarantined")}
        yield dg.AssetCheckResult(
            check_name=RECONCILIATION_CHECK,
            asset_key=bronze_key(entity),
            passed=not broken,
            severity=dg.AssetCheckSeverity.ERROR,
            description=("; ".join(f"{e['source_file']}: {e['problem']}" for e in broken) if broken else
                         f"{len(loaded)} loaded files: {totals['rows_read']} rows read = {totals['rows_loaded']}"
                         f" loaded + {totals['rows_quarantined']} quarantined;"
                         f" {sum(e['status'] == 'rejected' for e in mine)} rejected files set aside with a reason"),
            metadata={**totals, "files": dg.MetadataValue.json(mine)},
        )


def _data_docs(context: AssetExecutionContext, data_root, reports, batch_id: str) -> str | None:
    """Store this step's GX results and rebuild their Data Docs pages; returns index.html."""
    from training_impact.expectations.results import build_data_docs, record_reports

    identifiers = record_reports(data_root, reports, run_name=batch_id)
    index = build_data_docs(data_root, identifiers)
    context.log.info(f"GX Data Docs: {index}")
    return str(index)


def build_family_asset(family: str, name: str | None = None, entities: list[str] | None = None) -> dg.AssetsDefinition:
    entities = list(entities or CANONICAL.families[family])
    partitioned = set(entities) <= set(EVENT_ENTITIES)

    @dg.multi_asset(
        name=name or f"ingest_{family}",
        # Event sources: one partition per delivery day; a backfill over a range is one run.
        partitions_def=delivery_days if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        specs=[
            dg.AssetSpec(
                bronze_key(entity),
                group_name="bronze",
                kinds={"parquet"},
                description=f"Typed, lineage-stamped {entity} rows from the {family} landing files.",
                deps=_family_deps(family, entities),
            )
            for entity in entities
        ],
        check_specs=[
            spec
            for entity in entities
            for spec in (
                dg.AssetCheckSpec(
                    GATE_CHECK,
                    asset=bronze_key(entity),
                    blocking=True,
                    # the entity's row rules, from the rule catalogue (canonical schema + expectations/rules.py)
                    description=gate_description(entity, family),
                ),
                dg.AssetCheckSpec(
                    RECONCILIATION_CHECK,
                    asset=bronze_key(entity),
                    blocking=True,
                    description="Every file: rows read = loaded + quarantined (manifest vs bronze and"
                                " quarantine on disk); rejected files set aside with a reason.",
                ),
            )
        ],
    )
    def _ingest(context: AssetExecutionContext, data_root: DataRootResource,
                pseudonymisation: PseudonymisationResource,
                run_guard: dg.ResourceParam[Any]):  # run lock + crash recovery first (orchestration/run_guard.py)
        # no pseudonymisation key in production: fail before opening any landing file
        guard_run(pseudonymisation.require_key())
        paths = data_root.paths.ensure()
        params = data_root.parameters()
        # references=None: the engine reads worker/program ids and the programme catalogue
        # itself, and re-reads them after this family loads new workers or programs.
        # A run for a day (sensor) or a range of days (backfill) reads only the landing files
        # delivered on those days; a run without a partition reads every landing file.
        days = run_days(context.run.tags)
        if days:
            context.log.info(f"delivery days {days[0]}..{days[1]}: reading only the landing files named with them")
        report = ingest_family(family, paths.root, batch_id=context.run.run_id, references=None, entities=entities,
                               select=day_scope(*days) if days else None, row_rules=row_rules)
        files = [file_report.to_dict() for file_report in report.files]
        for file_report in files:
            if file_report["status"] == "rejected":
                context.log.error(f"rejected {file_report['source_file']}: {file_report['reason']}")
        # A step that read no file (a night without this family's drop) has no results to render.
        docs = _data_docs(context, paths.root, report.files, context.run.run_id) if report.files else None
        freshness = {entity: landing_freshness(paths.root, entity) for entity in entities}
        for entity in entities:
            mine = [f for f in files if f["entity"] == entity]
            metadata = {
                "batch_id": context.run.run_id,
                "files_seen": len(mine),
                "files_loaded": sum(f["status"] == "loaded" for f in mine),
                "files_rejected": sum(f["status"] == "rejected" for f in mine),
                "rows_read": sum(f["rows_read"] or 0 for f in mine),
                "rows_loaded": sum(f["rows_loaded"] or 0 for f in mine),
                "rows_quarantined": sum(f["rows_quarantined"] or 0 for f in mine),
                "source_files": dg.MetadataValue.json(
                    [{k: f[k] for k in ("source_file", "sha256", "status", "reason")} for f in mine]
                ),
                "newest_landing_file": dg.MetadataValue.json(freshness[entity]),
                "delivery_days": f"{days[0]}..{days[1]}" if days else "all",
            }
            if docs:
                metadata["data_docs"] = dg.MetadataValue.path(docs)
            if partitioned and not days:
                # A run without a partition (the demo, the nightly catch-up) read every delivery day: the days
                # it loaded files of are marked materialised, so the catalogue counts them (D128).
                yield from delivery_day_materializations(entity, mine, context.run.run_id)
            yield dg.MaterializeResult(asset_key=bronze_key(entity), metadata=metadata)
        yield from _reconciliation_results(family, paths.root, context.run.run_id, entities)
        yield from _gate_results(family, files, params, freshness, entities)

    return _ingest


ingestion_assets = [build_family_asset(family, name, entities) for name, family, entities in INGESTION_STEPS]
