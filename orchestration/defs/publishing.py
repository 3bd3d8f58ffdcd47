"""Serving zone: after dbt built the marts, publish them where BI tools read (docs/serving.md).

One asset, ``published_marts``, downstream of every ``marts/kpi_*`` asset: when a
blocking gate or a dbt test fails, Dagster skips it and BI keeps the last good set.
It reads the warehouse, so it shares the writer pool with dbt.
"""

import dagster as dg
from dagster import AssetExecutionContext

from training_impact.orchestration.dbt_manifest import dbt_project
from training_impact.orchestration.defs.dbt import KPI_MART_KEYS, WAREHOUSE_POOL
from training_impact.publishing import publish_run
from training_impact.settings import data_paths


@dg.asset(
    key="published_marts",
    group_name="published",
    pool=WAREHOUSE_POOL,
    deps=KPI_MART_KEYS,
    kinds={"duckdb", "parquet", "postgres"},
    required_resource_keys={"run_guard"},  # run lock first; ledger entry when run without audit_ledger
    description=(
        "The kpi_* marts copied to a new serving version (DuckDB file + one Parquet file per mart) switched in "
        "with one symlink rename, and PostgreSQL schema `reporting` when TI_POSTGRES_DSN is set. BI never opens "
        "the warehouse."
    ),
)
def published_marts(context: AssetExecutionContext) -> dg.MaterializeResult:
    report = publish_run(
        data_paths(), context.run.run_id, manifest_path=dbt_project.manifest_path, log=context.log.info
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
