"""The analyst-safe serving views (D126) as publishing reads them from dbt's manifest, no pipeline run.

- each serving view is served once per grain, named for it, with only that grain's slice columns;
- every served column follows the naming rule (the unit in the name, counts as n_*), is typed and
  described; every registry KPI but the documented exceptions has its column;
- publishing splits a view by grain into the DuckDB file and Parquet, with comments, and refuses a view
  whose rows hold a grain it does not declare (a row would vanish).
"""

from __future__ import annotations

import json
import re

import duckdb
import pyarrow.parquet as pq
import pytest
from publishing_support import write_fake_manifest, write_fake_warehouse
from repo_paths import REPO_ROOT

from training_impact.kpis import load_registry
from training_impact.publishing import ContractError, load_published_contracts, load_serving_contracts, publish
from training_impact.publishing.contracts import (
    COUNT_PREFIX,
    GRAIN_DIMENSIONS,
    SLICE_DIMENSIONS,
    UNIT_SUFFIXES,
    serving_table_name,
)
from training_impact.publishing.serving import parquet_dir, serving_file

# Registry KPIs with no column in the serving views, on purpose (docs/serving.md, D126): another
# population than their family's headline, or another shape (one row per month since the start).
NOT_SERVED = {"internal_mobility_reskilling_landed", "productivity_event_study"}
STATUS_COLUMNS = ("status", "status_reason")


@pytest.fixture(scope="module")
def manifest_path():
    from training_impact.orchestration.dbt_manifest import dbt_project, prepare_manifest

    prepare_manifest()  # the session prepared it already (conftest); a no-op unless a model changed since
    return dbt_project.manifest_path


@pytest.fixture(scope="module")
def served(manifest_path):
    return load_serving_contracts(manifest_path)


def test_grains_are_the_marts_grains():
    """GRAIN_DIMENSIONS is macros/kpi.sql's kpi_slices, `method` named training_method."""
    text = (REPO_ROOT / "dbt_project" / "macros" / "kpi.sql").read_text(encoding="utf-8")
    found = {grain: tuple("training_method" if d == "method" else d for d in re.findall(r"'(\w+)'", dims))
             for grain, dims in re.findall(r"\{'slice_grain': '(\w+)', 'dimensions': \[([^\]]*)\]\}", text)}
    assert len(found) == 9
    assert found == GRAIN_DIMENSIONS
    assert set(SLICE_DIMENSIONS) == {d for dims in found.values() for d in dims}


def test_each_serving_view_is_served_once_per_grain_with_that_grains_columns(served, manifest_path):
    models = {table.model for table in served}
    assert len(models) >= 10, models
    for table in served:
        stem = table.name.removesuffix("_overall") if table.grain == "overall" else table.name.rsplit(
            f"_by_{table.grain}", 1)[0]
        assert table.name == serving_table_name(stem, table.grain) and stem + "_" not in table.name[:len(stem)]
        names = [column.name for column in table.columns]
        kept = [name for name in names if name in SLICE_DIMENSIONS]
        assert kept == list(GRAIN_DIMENSIONS[table.grain]), (table.name, kept)  # in slice order, no `all` columns
        assert names[0] == "slice_grain" and "estimation_method" in names
        assert names[-3:] == ["status", "status_reason", "definition_version"], table.name
        assert len(table.name) <= 63  # a PostgreSQL identifier
    by_model: dict[str, set[str]] = {}
    for table in served:
        by_model.setdefault(table.model, set()).add(table.grain)
    assert all(grains == set(GRAIN_DIMENSIONS) for model, grains in by_model.items() if model != "serving_roi")
    assert by_model["serving_roi"] == {g for g, dims in GRAIN_DIMENSIONS.items() if "period" not in dims}
    # publishing serves them after the marts, under names no mart has
    published = load_published_contracts(manifest_path)
    assert [t.name for t in published if t.is_serving_view] == [t.name for t in served]
    assert all(t.name.startswith("kpi_") for t in published if not t.is_serving_view)


def _unit_ok(name: str, data_type: str) -> bool:
    suffixes = tuple(s for group in UNIT_SUFFIXES.values() for s in group)
    if data_type == "double":
        return name.endswith(suffixes)
    if data_type == "bigint":
        return name.startswith(COUNT_PREFIX)
    if data_type == "integer":
        return name.endswith(("_days", "_months"))
    if data_type == "date":
        return name.endswith("_date")
    return data_type == "string"  # the portable text type of the contracts (DuckDB reads it as VARCHAR, D144)


def test_every_served_column_carries_its_unit_a_type_and_a_description(served):
    for table in served:
        assert table.description.strip() and f"grain `{table.grain}`" in table.description
        for column in table.columns:
            assert column.description.strip(), (table.name, column.name)
            assert _unit_ok(column.name, column.data_type), (table.name, column.name, column.data_type)
        figures = [c for c in table.columns if c.data_type == "double"]
        assert figures, table.name


def test_the_naming_rule_can_fail():
    assert _unit_ok("completion_rate_pct", "double") and _unit_ok("n_enrollments", "bigint")
    assert not _unit_ok("estimate", "double") and not _unit_ok("completions", "bigint")
    assert not _unit_ok("roi", "double") and not _unit_ok("window", "integer")


def _served_column(kpi: str, unit: str) -> set[str]:
    """The column a registry KPI is served as: <kpi>_<unit suffix>, the KPI itself when its name ends with
    its unit already, n_<kpi> for a count; pct_<x> reads <x>_pct."""
    if unit == "count":
        return {COUNT_PREFIX + kpi}
    stem = kpi[len("pct_"):] if kpi.startswith("pct_") else kpi
    return {stem + suffix for suffix in UNIT_SUFFIXES[unit]} | ({kpi} if kpi.endswith(UNIT_SUFFIXES[unit]) else set())


def test_every_registry_kpi_has_its_unit_named_column(served):
    columns = {column.name for table in served for column in table.columns}
    registry = load_registry()
    missing = {name: sorted(_served_column(name, kpi.unit)) for name, kpi in registry.kpis.items()
               if name not in NOT_SERVED and not (_served_column(name, kpi.unit) & columns)}
    assert not missing, f"registry KPIs with no serving column (add one, or list them in NOT_SERVED): {missing}"
    assert NOT_SERVED <= set(registry.kpis)  # the exceptions are real KPIs
    assert "productivity_change_pts" in columns and "learning_nps_score" in columns and "roi_pct" in columns


def test_semantic_manifest_holds_the_semantic_models_metrics_and_time_spine(manifest_path):
    """dbt parse validated them (a semantic validation error fails the parse, D127); here: what it holds."""
    semantic = json.loads((manifest_path.parent / "semantic_manifest.json").read_text(encoding="utf-8"))
    models = {model["name"]: model for model in semantic["semantic_models"]}
    assert {"slices", "completion_rate", "certification_attainment", "productivity_change", "retention",
            "internal_mobility", "roi", "learning_nps", "efficiency"} <= set(models)
    metrics = {metric["name"] for metric in semantic["metrics"]}
    assert {"completion_rate_pct", "certification_attainment_pct", "productivity_change_pts", "retention_pp",
            "internal_mobility_pp", "roi_pct", "benefit_cost_ratio", "learning_nps_score",
            "survey_response_rate_pct", "participants"} <= metrics
    assert [spine["primary_column"]["time_granularity"] for spine in semantic["project_configuration"]["time_spines"]
            ] == ["day"]
    for name, model in models.items():
        if name != "slices":  # every family joins the slice dimensions through the `slice` entity
            assert {"slice"} <= {entity["name"] for entity in model["entities"] if entity["type"] == "foreign"}
            assert model["node_relation"]["alias"].startswith("serving_")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"kpi_report", "bi_serving_views", "bi_long_tables"} <= set(exposures)
    serving_models = {table.model for table in load_serving_contracts(manifest_path)}
    assert {node.split(".")[-1] for node in exposures["bi_serving_views"]["depends_on"]["nodes"]} == serving_models
    assert "model.training_impact.kpi_summary" in exposures["kpi_report"]["depends_on"]["nodes"]


def test_the_semantic_validation_rejects_a_broken_metric(manifest_path):
    """What makes dbt parse fail (dbt runs dbt_semantic_interfaces' validator): a metric on a missing metric."""
    from dbt_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest
    from dbt_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator

    raw = json.loads((manifest_path.parent / "semantic_manifest.json").read_text(encoding="utf-8"))
    validator = SemanticManifestValidator[PydanticSemanticManifest]()
    assert not validator.validate_semantic_manifest(PydanticSemanticManifest.parse_obj(raw)).errors
    broken = json.loads(json.dumps(raw))
    metric = next(m for m in broken["metrics"] if m["name"] == "completion_rate_pct")
    metric["type_params"]["metrics"][0]["name"] = "no_such_metric"
    errors = validator.validate_semantic_manifest(PydanticSemanticManifest.parse_obj(broken)).errors
    assert any("no_such_metric" in error.message for error in errors)


# ----------------------------------------------------------------------------- publish, on a tiny warehouse

def _serving_node(grains: list[str]) -> dict:
    columns = [("slice_grain", "string"), *[(d, "string") for d in SLICE_DIMENSIONS],
               ("estimation_method", "string"), ("thing_pct", "double"), ("n_people", "bigint"),
               ("status", "string"), ("status_reason", "string"), ("definition_version", "string")]
    return {
        "resource_type": "model", "name": "serving_thing", "fqn": ["training_impact", "serving", "serving_thing"],
        "schema": "main_serving", "alias": "serving_thing", "description": "A thing for BI.",
        "config": {"contract": {"enforced": True}, "meta": {"serving": {"table": "thing", "grains": grains}}},
        "columns": {name: {"name": name, "data_type": kind, "description": f"{name} of the thing"}
                    for name, kind in columns},
    }


@pytest.fixture
def tiny(tmp_path):
    manifest = write_fake_manifest(tmp_path / "manifest.json")
    data = json.loads(manifest.read_text())
    data["nodes"]["model.training_impact.serving_thing"] = _serving_node(["overall", "department"])
    manifest.write_text(json.dumps(data))
    warehouse = write_fake_warehouse(tmp_path / "warehouse" / "training_impact.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema main_serving")
        con.execute("""create table main_serving.serving_thing as select * from (values
            ('overall', 'all', 'all', 'all', 'all', 'all', 'all', 'all', 'observed', 50.0, 40::bigint, 'reported',
             null, 'v1'),
            ('department', 'all', 'all', 'all', 'all', 'Sales', 'all', 'all', 'observed', 60.0, 30::bigint,
             'reported', null, 'v1'),
            ('department', 'all', 'all', 'all', 'all', 'Legal', 'all', 'all', 'observed', null, null, 'suppressed',
             'Suppressed for privacy', 'v1'))
            t(slice_grain, program_type, training_method, program_id, cohort, department, region, period,
              estimation_method, thing_pct, n_people, status, status_reason, definition_version)""")
    return manifest, warehouse, tmp_path / "serving"


def test_publish_splits_a_serving_view_by_grain_with_comments(tiny):
    manifest, warehouse, directory = tiny
    report = publish(warehouse, directory, "run-s", manifest_path=manifest)
    assert report.serving_views == ["thing_by_department", "thing_overall"]
    assert report.row_counts["thing_overall"] == 1 and report.row_counts["thing_by_department"] == 2
    assert report.metadata()["marts"] == 2 and report.metadata()["serving_views"] == 2
    with duckdb.connect(str(serving_file(directory)), read_only=True) as con:
        rows = con.execute("select department, thing_pct, status from reporting.thing_by_department "
                           "order by 1").fetchall()
        assert rows == [("Legal", None, "suppressed"), ("Sales", 60.0, "reported")]  # the suppressed slice is a row
        columns = [r[0] for r in con.execute("describe reporting.thing_overall").fetchall()]
        assert "department" not in columns and columns[:2] == ["slice_grain", "estimation_method"]
        comments = dict(con.execute("select column_name, comment from duckdb_columns() where schema_name = "
                                    "'reporting' and table_name = 'thing_by_department'").fetchall())
        assert comments["thing_pct"] == "thing_pct of the thing" and all(comments.values())
        table_comment = con.execute("select comment from duckdb_tables() where table_name = "
                                    "'thing_by_department'").fetchone()[0]
        assert table_comment.startswith("A thing for BI.") and "grain `department`" in table_comment
        info = dict(con.execute("select mart, row_count from reporting.publish_info").fetchall())
        assert info["thing_by_department"] == 2
    file = pq.read_table(parquet_dir(directory) / "thing_by_department.parquet")
    assert file.column("department").to_pylist() == ["Legal", "Sales"]
    assert file.schema.field("thing_pct").metadata[b"description"] == b"thing_pct of the thing"


def test_a_grain_the_view_does_not_declare_fails_the_publish(tiny):
    manifest, warehouse, directory = tiny
    data = json.loads(manifest.read_text())
    data["nodes"]["model.training_impact.serving_thing"] = _serving_node(["overall"])
    manifest.write_text(json.dumps(data))
    with pytest.raises(ContractError, match="grains .*department"):
        publish(warehouse, directory, "run-x", manifest_path=manifest)
    assert not serving_file(directory).exists()


def test_an_unknown_grain_or_a_missing_slice_column_is_a_contract_error(tmp_path):
    manifest = write_fake_manifest(tmp_path / "manifest.json")
    data = json.loads(manifest.read_text())
    data["nodes"]["model.training_impact.serving_thing"] = _serving_node(["overall", "galaxy"])
    manifest.write_text(json.dumps(data))
    with pytest.raises(ContractError, match="galaxy"):
        load_serving_contracts(manifest)
    node = _serving_node(["overall"])
    del node["columns"]["region"]
    data["nodes"]["model.training_impact.serving_thing"] = node
    manifest.write_text(json.dumps(data))
    with pytest.raises(ContractError, match="region"):
        load_serving_contracts(manifest)
