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
