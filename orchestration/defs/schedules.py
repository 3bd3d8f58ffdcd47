"""The nightly job and its schedule (cron and time zone from the settings: TI_NIGHTLY_CRON, TI_TIMEZONE)."""

from __future__ import annotations

import dagster as dg

from training_impact.orchestration.resources import DataRootResource
from training_impact.settings import Settings

_DEFINED_WITH = Settings.from_environment()  # part of the definitions: the loading process's settings

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
    cron_schedule=_DEFINED_WITH.nightly_cron,
    execution_timezone=_DEFINED_WITH.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def nightly_schedule(context: dg.ScheduleEvaluationContext, data_root: DataRootResource):
    from training_impact import run_lock

    root = data_root.paths.root
    busy = run_lock.holder(root)
    if busy is not None:  # a run is on this data root now: skip this tick (DECISIONS D80)
        return dg.SkipReason(f"a run holds the run lock of {root}: {run_lock.describe(busy)}")
    return dg.RunRequest()
