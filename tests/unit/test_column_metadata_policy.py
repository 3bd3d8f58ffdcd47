"""Column schema + lineage: built once per dbt code version and stored, attached by every other run (D118)."""

import json

import dagster as dg
import pytest

from training_impact.orchestration import column_metadata
from training_impact.orchestration.defs import dbt as dbt_defs


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "target" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"nodes": {"model.ti.a": {"checksum": {"checksum": "1"}}}, "macros": {},
                                "sources": {}}), encoding="utf-8")
    return path


def _event(unique_id: str, **metadata) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(asset_key=["marts", unique_id.split(".")[-1]],
                                   metadata={"unique_id": unique_id, **metadata})


def _columns() -> dict:
    schema = dg.TableSchema(columns=[dg.TableColumn("numerator", "bigint"), dg.TableColumn("kpi", "varchar")])
    lineage = dg.TableColumnLineage(deps_by_column={
        "numerator": [dg.TableColumnDep(asset_key=dg.AssetKey(["intermediate", "int_learning_history"]),
                                        column_name="completed")]})
    return {"dagster/column_schema": schema, "dagster/column_lineage": lineage}


def test_stored_metadata_is_attached_to_a_later_run_of_the_same_code(manifest):
    assert column_metadata.load(manifest) is None                      # nothing built yet
    built = [_event("model.ti.a", **_columns()), _event("model.ti.b"), dg.Output(None)]
    assert column_metadata.store(manifest, built) == 1                # b carried none
    assert column_metadata.cache_path(manifest).parent == manifest.parent
    stored = column_metadata.load(manifest)
    later = list(column_metadata.attach([_event("model.ti.a"), _event("model.ti.b")], stored))
    attached = later[0].metadata
    assert attached["dagster/column_schema"].schema.columns[0].name == "numerator"
    deps = attached["dagster/column_lineage"].column_lineage.deps_by_column["numerator"]
    assert deps[0].asset_key == dg.AssetKey(["intermediate", "int_learning_history"])
    assert "dagster/column_schema" not in later[1].metadata


def test_a_new_dbt_code_version_ignores_the_old_store(manifest):
    column_metadata.store(manifest, [_event("model.ti.a", **_columns())])
    changed = json.loads(manifest.read_text())
    changed["nodes"]["model.ti.a"]["checksum"]["checksum"] = "2"     # a model's SQL changed
    manifest.write_text(json.dumps(changed), encoding="utf-8")
    assert column_metadata.load(manifest) is None
    column_metadata.cache_path(manifest).write_text("{not json", encoding="utf-8")
    assert column_metadata.load(manifest) is None                      # a damaged store: built again, no crash


def test_the_setting_decides_build_attach_or_neither(manifest):
    assert dbt_defs._column_metadata_plan("1", manifest) == (True, None)        # built in this run, and stored
    assert dbt_defs._column_metadata_plan("0", manifest) == (False, {})         # none
    assert dbt_defs._column_metadata_plan("auto", manifest) == (False, None)    # the nightly never builds them
    column_metadata.store(manifest, [_event("model.ti.a", **_columns())])
    build, stored = dbt_defs._column_metadata_plan("auto", manifest)
    assert not build and set(stored) == {"model.ti.a"}
