"""The Dagster definitions load (after dbt parse) and the graph reads like the folder tree."""

from __future__ import annotations

import dagster as dg


def test_definitions_load_with_every_layer():
    from training_impact.orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    layers = {key.path[0] for key in graph.get_all_asset_keys()}
    assert {"bronze", "staging", "intermediate", "marts"} <= layers
    for entity in ("workers", "job_history", "productivity", "enrollments", "xapi_statements", "cost_lines",
                   "survey_responses"):
        assert dg.AssetKey(["bronze", entity]) in graph.materializable_asset_keys
    assert dg.AssetKey(["marts", "kpi_summary"]) in graph.materializable_asset_keys


def test_every_bronze_entity_has_a_blocking_gate():
    from training_impact.orchestration.definitions import defs

    specs = [spec for assets_def in defs.resolve_asset_graph().assets_defs for spec in assets_def.check_specs]
    gates = {spec.asset_key.path[1]: spec for spec in specs if spec.name == "quality_gate"}
    from training_impact.ingestion.schemas import load_schemas

    assert set(gates) == set(load_schemas().entities)   # optional entities too (worker_attributes)
    assert all(spec.blocking for spec in gates.values())


def test_marts_depend_on_the_bronze_zone_and_share_the_writer_pool():
    from training_impact.orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = graph.get_ancestor_asset_keys(dg.AssetKey(["marts", "kpi_summary"]))
    assert dg.AssetKey(["bronze", "productivity"]) in upstream
    dbt_def = graph.assets_def_for_key(dg.AssetKey(["marts", "kpi_summary"]))
    assert dbt_def.op.pool == "duckdb_warehouse"


def test_nightly_schedule_targets_the_pipeline():
    from training_impact.orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("nightly")
    assert schedule.job_name == "training_impact_pipeline"
    assert schedule.cron_schedule
