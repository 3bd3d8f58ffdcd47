"""Bronze zone: one multi-asset per source family, one asset per canonical entity.

Each entity carries a *blocking* quality-gate check. When a gate fails with
ERROR severity, Dagster fails the step and skips everything downstream, so the
KPI marts keep their last good state.
"""

from collections import defaultdict

import dagster as dg
from dagster import AssetExecutionContext

from expectations.gate import evaluate_gate
from ingestion import ingest_family, load_reference_ids
from ingestion.schemas import load_schemas
from training_impact.settings import data_paths, load_parameters

GATE_CHECK = "quality_gate"
CANONICAL = load_schemas()
# Families whose rows reference workers / programs wait for the snapshots they point at.
FAMILY_ORDER = ["hris", "lms", "performance", "finance", "surveys"]


def bronze_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["bronze", entity])


def _family_deps(family: str) -> list[dg.AssetKey]:
    if family == "hris":
        return []
    deps = [bronze_key("workers")]
    if family != "lms":
        deps.append(bronze_key("programs"))
    return deps


def _gate_results(family: str, reports: list[dict], params: dict):
    by_entity: dict[str, list[dict]] = defaultdict(list)
    for report in reports:
        by_entity[report["entity"]].append(report)
    for entity in CANONICAL.families[family]:
        outcome = evaluate_gate(family, by_entity.get(entity, []), params, entity=entity)
        failed_blocking = (not outcome.passed) and outcome.blocking
        yield dg.AssetCheckResult(
            check_name=GATE_CHECK,
            asset_key=bronze_key(entity),
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if failed_blocking else dg.AssetCheckSeverity.WARN,
            description="; ".join(outcome.failures) if outcome.failures else "all files passed",
            metadata=outcome.metadata,
        )


def build_family_asset(family: str) -> dg.AssetsDefinition:
    entities = CANONICAL.families[family]

    @dg.multi_asset(
        name=f"ingest_{family}",
        specs=[
            dg.AssetSpec(
                bronze_key(entity),
                group_name="bronze",
                kinds={"parquet"},
                description=f"Typed, lineage-stamped {entity} rows from the {family} landing files.",
                deps=_family_deps(family),
            )
            for entity in entities
        ],
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK,
                asset=bronze_key(entity),
                blocking=True,
                description="GX suite + file rules + reconciliation; blocks the marts on ERROR.",
            )
            for entity in entities
        ],
    )
    def _ingest(context: AssetExecutionContext):
        paths = data_paths().ensure()
        params = load_parameters()
        references = None if family == "hris" else load_reference_ids(paths.root)
        report = ingest_family(family, paths.root, batch_id=context.run_id, references=references)
        files = [file_report.to_dict() for file_report in report.files]
        for file_report in files:
            if file_report["status"] == "rejected":
                context.log.error(f"rejected {file_report['source_file']}: {file_report['reason']}")
        for entity in entities:
            mine = [f for f in files if f["entity"] == entity]
            yield dg.MaterializeResult(
                asset_key=bronze_key(entity),
                metadata={
                    "batch_id": context.run_id,
                    "files_seen": len(mine),
                    "files_loaded": sum(f["status"] == "loaded" for f in mine),
                    "files_rejected": sum(f["status"] == "rejected" for f in mine),
                    "rows_read": sum(f["rows_read"] or 0 for f in mine),
                    "rows_loaded": sum(f["rows_loaded"] or 0 for f in mine),
                    "rows_quarantined": sum(f["rows_quarantined"] or 0 for f in mine),
                    "source_files": dg.MetadataValue.json(
                        [{k: f[k] for k in ("source_file", "sha256", "status", "reason")} for f in mine]
                    ),
                },
            )
        yield from _gate_results(family, files, params)

    return _ingest


ingestion_assets = [build_family_asset(family) for family in FAMILY_ORDER]
