"""The one Dagster ``Definitions`` of training-impact (``dg dev -m training_impact.orchestration.definitions``)."""

import dagster as dg

from training_impact.orchestration.defs.audit import audit_assets, audit_sensors  # ledger, KPI history, OpenLineage (docs/audit.md)
from training_impact.orchestration.defs.dbt import dbt_resource, training_impact_dbt
from training_impact.orchestration.defs.ingestion import ingestion_assets
from training_impact.orchestration.defs.publishing import publishing_assets
from training_impact.orchestration.defs.report import report_assets  # KPI report (HTML), group published
from training_impact.orchestration.defs.schedules import nightly_schedule, pipeline_job
from training_impact.orchestration.defs.sensors import alert_on_run_failure  # alerts when runs fail under the daemon
from training_impact.orchestration.defs.sensors import landing_sensor  # a run per delivery day when files land
from training_impact.orchestration.resources import unset_resources  # the settings (orchestration/resources.py)
from training_impact.orchestration.run_guard import run_guard  # run lock, crash recovery, ledger for subset runs (D80-D83)

def build_definitions(settings_resources: dict | None = None) -> dg.Definitions:
    """The Definitions with the given settings resources (orchestration/resources.py).

    The code location (`defs` below) binds them unset: each field takes the loading process's setting
    when used. A CLI run builds its own with `resources_from(settings)` (training_impact.pipeline), so a
    subset of assets runs with them too (Dagster refuses a second binding of a key at execution).
    """
    return dg.Definitions(
        assets=[*ingestion_assets, training_impact_dbt, *publishing_assets, *report_assets, *audit_assets],
        jobs=[pipeline_job],
        schedules=[nightly_schedule],
        sensors=[alert_on_run_failure, landing_sensor, *audit_sensors],
        resources={"dbt": dbt_resource, "run_guard": run_guard, **(settings_resources or unset_resources())},
        # Runs launched from the UI for a few assets use the implicit asset job: in one process too, so the
        # run guard's lock and recovery happen once per run, before its first step.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
