"""Audit trail as Dagster definitions (docs/audit.md).

- ``audit_ledger``: the last asset of every run. Writes the run ledger, the published
  KPI history, the KPI members and their source rows, the dbt lineage, OpenLineage
  events; refreshes schema ``audit`` in the warehouse, the serving file and
  PostgreSQL (read by ``ti_auditor``). It reads the warehouse: writer pool.
- ``audit_failed_runs``: under the daemon, records runs that failed or were blocked
  (in-process runs are recorded by ``training_impact.pipeline``).
"""

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from training_impact.audit import store, views
from training_impact.audit.openlineage import Target
from training_impact.audit.record import record_failed_run, record_published_run
from training_impact.orchestration import asset_graph, column_metadata
from training_impact.orchestration.defs.dbt import WAREHOUSE_POOL, dbt_project
from training_impact.orchestration.resources import (
    AlertsResource,
    DataRootResource,
    EngineResource,
    PostgresResource,
    ServingResource,
    settings_from,
)
from training_impact.settings import duckdb_config


def _stored_column_metadata():
    """The dbt column schema and lineage stored for this dbt code version (None when stale or missing)."""
    return column_metadata.load(dbt_project.manifest_path)


def publish_audit_schema(paths, run_id: str, log, *, serving: Path, postgres_dsn: str | None) -> dict:
    """Schema ``audit`` in the warehouse (views), the serving file and PostgreSQL (copies)."""
    from training_impact.publishing.serving import publish_audit_schema as serve

    con = duckdb.connect(str(paths.warehouse), config={"autoinstall_known_extensions": False,
                                                       "autoload_known_extensions": False})
    try:
        made = views.create(con, paths)
    finally:
        con.close()
    out = {"warehouse_views": made}
    served = serve(serving, lambda con: views.create(con, paths, copy=True))
    out["serving_tables"] = served
    dsn = postgres_dsn
    if dsn:
        from training_impact.publishing.postgres import publish_audit_postgres

        out["postgres"] = publish_audit_postgres(dsn, views.rows_for_run(paths, run_id), run_id=run_id, log=log)
    return out


@dg.asset(
    key="audit_ledger",
    group_name="audit",
    pool=WAREHOUSE_POOL,
    deps=["published_marts", "kpi_report"],
    kinds={"parquet", "duckdb"},
    description=(
        "Append-only audit trail of the run under <data>/audit: ledger (inputs with sha256 and rows, checks, "
        "code/dbt/parameter hashes), KPI history snapshot, KPI members for `training-impact trace`, "
        "OpenLineage events; schema `audit` in the warehouse, serving file and PostgreSQL."
    ),
)
def audit_ledger(context: AssetExecutionContext, data_root: DataRootResource, serving: ServingResource,
                 postgres: PostgresResource, alerts: AlertsResource, engine: EngineResource,
                 run_guard: dg.ResourceParam[Any]) -> dg.MaterializeResult:  # run lock first (run_guard.py)
    from training_impact.publishing import serving_dir

    paths = data_root.paths
    run = context.run
    recorded = record_published_run(paths, context.instance, run.run_id, run.job_name, dbt_project.manifest_path,
                                    log=context.log.info, asset_graph=asset_graph,
                                    openlineage_target=Target.from_settings(settings_from(alerts)),
                                    column_metadata=_stored_column_metadata,
                                    duckdb_config=duckdb_config(settings_from(data_root, engine)))
    published = publish_audit_schema(paths, run.run_id, context.log.info,
                                     serving=serving_dir(paths, settings_from(data_root, serving)),
                                     postgres_dsn=postgres.value("postgres_dsn"))
    row = recorded["row"]
    return dg.MaterializeResult(metadata={
        "code_version": row["code_version"],
        "dbt_manifest_hash": row["dbt_manifest_hash"],
        "parameters_hash": row["parameters_hash"],
        "definition_version": row["definition_version"],
        "input_files": dg.MetadataValue.json([
            {k: i[k] for k in ("source_file", "sha256", "batch_id", "rows_read", "rows_used")}
            for i in recorded["inputs"]]),
        "checks": row["checks"],
        "checks_failed": row["checks_failed"],
        "history_rows": dg.MetadataValue.json(recorded["history_rows"]),
        "kpi_members": recorded["member_rows"],
        "member_source_rows": recorded["record_rows"],
        "openlineage_events": recorded["openlineage_events"],
        "openlineage_file": dg.MetadataValue.path(str(store.openlineage_file(paths))),
        "audit_dir": dg.MetadataValue.path(str(store.audit_dir(paths))),
        "audit_schema": dg.MetadataValue.json(published),
    })


@dg.run_failure_sensor(
    name="audit_failed_runs",
    description="Records failed and blocked runs in the audit ledger (status failed) with their checks.",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def audit_failed_runs(context: dg.RunFailureSensorContext, data_root: DataRootResource, alerts: AlertsResource):
    run = context.dagster_run
    try:
        row = record_failed_run(data_root.paths, context.instance, run.run_id, run.job_name,
                                dbt_project.manifest_path, log=context.log.info, asset_graph=asset_graph,
                                openlineage_target=Target.from_settings(settings_from(alerts)),
                                column_metadata=_stored_column_metadata)
    except store.AlreadyRecorded:  # the in-process runner recorded it at the same moment
        row = None
    if row is None:
        return dg.SkipReason(f"run {run.run_id} is already in the audit ledger")
    return None


audit_assets = [audit_ledger]
audit_sensors = [audit_failed_runs]
