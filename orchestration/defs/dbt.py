"""dbt (staging → intermediate → marts) as Dagster assets via dagster-dbt.

Sources over the bronze zone map onto the ingestion assets' keys, so the graph
reads landing → bronze → staging → intermediate → marts. dbt tests become asset
checks; at error severity `dbt build` skips the models downstream of a failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from training_impact.settings import DBT_PROJECT_DIR, data_paths, disable_telemetry, load_parameters

disable_telemetry()
data_paths().export_env()

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# A fresh clone has no manifest: parse once so the definitions can load anywhere
# (dagster dev, the CLI, tests), not only under `dagster dev`.
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
dbt_project.prepare_if_dev()

WAREHOUSE_POOL = "duckdb_warehouse"


class TrainingImpactTranslator(DagsterDbtTranslator):
    """Asset keys follow the folder tree: bronze/<entity>, staging/<model>, marts/<model>."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["bronze", dbt_resource_props["name"]])
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "models"
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "models"


def dbt_vars() -> str:
    """The versioned parameter file travels to dbt as one var, never as SQL literals."""
    return json.dumps({"params": load_parameters()})


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TrainingImpactTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WAREHOUSE_POOL,
)
def training_impact_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build", "--vars", dbt_vars()], context=context).stream()


dbt_resource = DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR))
