"""The one Dagster ``Definitions`` of training-impact (``dagster dev -m orchestration.definitions``)."""

import dagster as dg

from orchestration.defs.dbt import dbt_resource, training_impact_dbt
from orchestration.defs.ingestion import ingestion_assets
from orchestration.defs.schedules import nightly_schedule, pipeline_job

defs = dg.Definitions(
    assets=[*ingestion_assets, training_impact_dbt],
    jobs=[pipeline_job],
    schedules=[nightly_schedule],
    resources={"dbt": dbt_resource},
)
