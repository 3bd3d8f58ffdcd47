"""The KPI report as a Dagster asset: rebuilt after the marts on every run (group ``published``).

Writes ``<data>/reports/kpi_report.html`` (always the latest) and
``<data>/reports/runs/<run_id>.html`` (one per run, for audit). A run whose gate
blocks the marts skips this asset too, so the page keeps the last good figures.
"""

from typing import Any

import dagster as dg

from training_impact.orchestration.defs.dbt import KPI_MART_KEYS, WAREHOUSE_POOL
from training_impact.orchestration.resources import DataRootResource
from training_impact.reporting import write_report


@dg.asset(
    key="kpi_report",
    group_name="published",
    deps=KPI_MART_KEYS,
    kinds={"html"},
    pool=WAREHOUSE_POOL,  # reads the warehouse: never while dbt writes it
    description="Self-contained HTML KPI report for HR leaders (inline CSS + SVG, works offline).",
)
def kpi_report(context: dg.AssetExecutionContext, data_root: DataRootResource,
               run_guard: dg.ResourceParam[Any]) -> dg.MaterializeResult:  # run lock first (run_guard.py)
    paths = data_root.paths
    written = write_report(paths.root, paths.warehouse, params=data_root.parameters(), run_id=context.run.run_id)
    context.log.info(f"KPI report written to {written.path} ({len(written.chart_ids)} charts)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(written.path)),
            "run_copy": dg.MetadataValue.path(str(written.run_copy)),
            "charts": len(written.chart_ids),
            "chart_ids": dg.MetadataValue.json(written.chart_ids),
            "kpi_rows": written.kpi_rows,
            "suppressed_cells": written.suppressed_cells,
        }
    )


report_assets = [kpi_report]
