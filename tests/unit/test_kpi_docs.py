"""Every column of every mart is described in the dbt docs, and every mart has a contract.

Parses the dbt project (no warehouse needed) into a temporary target and reads
manifest.json: a mart column without a description fails, and so does a mart without an
enforced contract (the contract is what makes the YAML column list the real one: `dbt build`
fails when the SQL returns a column the YAML does not declare).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT

DBT_PROJECT = REPO_ROOT / "dbt_project"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_target")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
           "TI_WAREHOUSE": str(target / "parse_only.duckdb")}
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "parse", "--profiles-dir", str(DBT_PROJECT), "--project-dir", str(DBT_PROJECT),
         "--target-path", str(target), "--no-partial-parse"],
        cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads((target / "manifest.json").read_text())


def _marts(manifest: dict) -> list[dict]:
    return [node for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["original_file_path"].startswith("models/marts/")]


def test_every_mart_column_is_described(manifest):
    marts = _marts(manifest)
    assert len(marts) >= 12, [m["name"] for m in marts]
    undescribed = [f"{mart['name']}.{column}" for mart in marts
                   for column, spec in mart["columns"].items() if not (spec.get("description") or "").strip()]
    assert not undescribed, f"mart columns without a description: {undescribed}"
    assert all((mart.get("description") or "").strip() for mart in marts)


def test_every_mart_has_an_enforced_contract_with_typed_columns(manifest):
    for mart in _marts(manifest):
        assert mart["config"]["contract"]["enforced"], mart["name"]
        untyped = [column for column, spec in mart["columns"].items() if not spec.get("data_type")]
        assert mart["columns"] and not untyped, (mart["name"], untyped)


def test_every_mart_carries_the_small_cell_test(manifest):
    tested = {node["attached_node"] for node in manifest["nodes"].values()
              if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name")
              == "small_cells_publish_no_rate"}
    missing = [mart["name"] for mart in _marts(manifest) if mart["unique_id"] not in tested]
    assert not missing, f"marts without the small-cell suppression test: {missing}"


def _serving(manifest: dict) -> list[dict]:
    return [node for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["original_file_path"].startswith("models/serving/")]


def test_every_serving_view_is_a_described_view_under_an_enforced_contract(manifest):
    views = _serving(manifest)
    assert len(views) >= 11, [v["name"] for v in views]
    for view in views:
        assert view["config"]["materialized"] == "view" and view["config"]["contract"]["enforced"], view["name"]
        assert (view.get("description") or "").strip(), view["name"]
        bare = [c for c, spec in view["columns"].items() if not (spec.get("description") or "").strip()
                or not spec.get("data_type")]
        assert not bare, (view["name"], bare)


def test_dbt_parse_accepts_the_semantic_layer_and_the_exposures(manifest):
    """The parse above ran dbt's semantic validation (an error there fails it): what it accepted (D127)."""
    semantic_models = {node["name"]: node for node in manifest["semantic_models"].values()}
    assert {"slices", "completion_rate", "certification_attainment", "productivity_change", "retention", "roi",
            "learning_nps"} <= set(semantic_models)
    assert all(node["depends_on"]["nodes"][0].startswith("model.training_impact.serving_")
               for node in semantic_models.values())
    metrics = {node["name"] for node in manifest["metrics"].values()}
    assert {"completion_rate_pct", "productivity_change_pts", "retention_pp", "roi_pct", "learning_nps_score"} <= metrics
    spines = [node["name"] for node in manifest["nodes"].values() if node.get("time_spine")]
    assert spines == ["metricflow_time_spine"]
    exposures = {node["name"]: node for node in manifest["exposures"].values()}
    assert {"kpi_report", "bi_serving_views", "bi_long_tables"} <= set(exposures)
    assert {n.split(".")[-1] for n in exposures["bi_serving_views"]["depends_on"]["nodes"]} == {
        v["name"] for v in _serving(manifest) if v["name"] != "serving_slices"}
