"""The nightly job and its schedule (cron and time zone from the environment)."""

from __future__ import annotations

import os

import dagster as dg

pipeline_job = dg.define_asset_job(
    "training_impact_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest landing files, gate them, rebuild the KPI marts. With a partition (a delivery day,"
                " from the landing sensor) or a partition range (a backfill) only the files of those days are"
                " read; without one, every landing file not loaded yet.",
    # One process: the steps share two cores and one DuckDB writer anyway.
    executor_def=dg.in_process_executor,
)

# The nightly safety net: a run without a partition loads whatever landed and was not loaded yet
# (the landing sensor normally got there first; then it loads nothing and rebuilds the marts).
@dg.schedule(
    name="nightly",
    job=pipeline_job,
    cron_schedule=os.environ.get("TI_NIGHTLY_CRON", "0 2 * * *"),
    execution_timezone=os.environ.get("TI_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    from training_impact import run_lock
    from training_impact.settings import data_paths

    root = data_paths().root
    busy = run_lock.holder(root)
    if busy is not None:  # a run is on this data root now: skip this tick (DECISIONS D80)
        return dg.SkipReason(f"a run holds the run lock of {root}: {run_lock.describe(busy)}")
    return dg.RunRequest()
