"""The nightly job and its schedule (cron and time zone from the environment)."""

from __future__ import annotations

import os

import dagster as dg

pipeline_job = dg.define_asset_job(
    "training_impact_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest every landing file, gate it, rebuild the KPI marts.",
    # One process: the steps share two cores and one DuckDB writer anyway.
    executor_def=dg.in_process_executor,
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly",
    job=pipeline_job,
    cron_schedule=os.environ.get("TI_NIGHTLY_CRON", "0 2 * * *"),
    execution_timezone=os.environ.get("TI_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
