"""The one Dagster ``Definitions`` of training-impact (``dagster dev -m orchestration.definitions``)."""

import dagster as dg

from orchestration.defs.audit import audit_assets, audit_sensors  # ledger, KPI history, OpenLineage (docs/audit.md)
from orchestration.defs.dbt import dbt_resource, training_impact_dbt
from orchestration.defs.ingestion import ingestion_assets
from orchestration.defs.publishing import publishing_assets
from orchestration.defs.report import report_assets  # KPI report (HTML), group published
from orchestration.defs.schedules import nightly_schedule, pipeline_job
from orchestration.defs.sensors import alert_on_run_failure  # alerts when runs fail under the daemon
from orchestration.defs.sensors import landing_sensor  # a run per delivery day when files land
from orchestration.run_guard import run_guard  # run lock, crash recovery, ledger for subset runs (D80-D83)

defs = dg.Definitions(
    assets=[*ingestion_assets, training_impact_dbt, *publishing_assets, *report_assets, *audit_assets],
    jobs=[pipeline_job],
    schedules=[nightly_schedule],
    sensors=[alert_on_run_failure, landing_sensor, *audit_sensors],
    resources={"dbt": dbt_resource, "run_guard": run_guard},
    # Runs launched from the UI for a few assets use the implicit asset job: in one process too, so the
    # run guard's lock and recovery happen once per run, before its first step.
    executor=dg.in_process_executor,
)
