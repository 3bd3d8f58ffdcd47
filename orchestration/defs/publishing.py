"""Serving zone: after dbt built the marts, publish them where BI tools read (docs/serving.md).

One asset, ``published_marts``, downstream of every ``marts/kpi_*`` asset: when a
blocking gate or a dbt test fails, Dagster skips it and BI keeps the last good set.
It reads the warehouse, so it shares the writer pool with dbt.
"""

from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from training_impact.orchestration.dbt_manifest import dbt_project
from training_impact.orchestration.defs.dbt import KPI_MART_KEYS, SERVING_VIEW_KEYS, WAREHOUSE_POOL
from training_impact.orchestration.resources import DataRootResource, PostgresResource, ServingResource, settings_from
from training_impact.publishing import publish_run


@dg.asset(
    key="published_marts",
    group_name="published",
    pool=WAREHOUSE_POOL,
    deps=[*KPI_MART_KEYS, *SERVING_VIEW_KEYS],
    kinds={"duckdb", "parquet", "postgres"},
    description=(
        "The kpi_* marts copied to a new serving version (DuckDB file + one Parquet file per mart) switched in "
        "with one symlink rename, and PostgreSQL schema `reporting` when TI_POSTGRES_DSN is set. BI never opens "
        "the warehouse."
    ),
)
def published_marts(context: AssetExecutionContext, data_root: DataRootResource, serving: ServingResource,
                    postgres: PostgresResource,
                    run_guard: dg.ResourceParam[Any]) -> dg.MaterializeResult:  # run lock first (run_guard.py)
    report = publish_run(
        data_root.paths, context.run.run_id, manifest_path=dbt_project.manifest_path, log=context.log.info,
        settings=settings_from(data_root, serving, postgres),
    )
    metadata = report.metadata()
    metadata["row_counts"] = dg.MetadataValue.json(metadata["row_counts"])
    if isinstance(metadata["postgres"], dict):
        metadata["postgres"] = dg.MetadataValue.json(metadata["postgres"])
    metadata["serving_file"] = dg.MetadataValue.path(metadata["serving_file"])
    metadata["parquet_dir"] = dg.MetadataValue.path(metadata["parquet_dir"])
    metadata["version_dir"] = dg.MetadataValue.path(metadata["version_dir"])
    metadata["removed_versions"] = dg.MetadataValue.json(report.removed_versions)
    return dg.MaterializeResult(metadata=metadata)


publishing_assets = [published_marts]
