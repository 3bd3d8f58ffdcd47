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


# ------------------------------------------------------------------ what the UI says (issue 17)

def _check_specs():
    from training_impact.orchestration.definitions import defs

    return [spec for assets_def in defs.resolve_asset_graph().assets_defs for spec in assets_def.check_specs]


def test_every_asset_check_has_a_description_and_the_gate_lists_the_entitys_rules():
    from training_impact.expectations import suites

    specs = _check_specs()
    assert len(specs) > 200
    assert [spec.key.to_user_string() for spec in specs if not (spec.description or "").strip()] == []
    gate = next(spec for spec in specs if spec.name == "quality_gate" and spec.asset_key.path == ["bronze", "workers"])
    for expectation in suites.expectations_for("workers"):  # the rule catalogue: schema + expectations/rules.py
        assert f"`{expectation.meta['rule']}`" in gate.description
    assert "required value is missing" in gate.description and "invalid_type" in gate.description


def test_dbt_tests_are_described_from_their_yaml_or_their_name_column_and_arguments():
    specs = {spec.name: spec.description for spec in _check_specs()}
    assert specs["not_null_int_calendar_months_month_start"].startswith("`month_start` is never null.")
    assert specs["accepted_values_int_impact__person_outcomes_role__participant__control"].startswith(
        "`role` is one of `participant`, `control`.")
    assert specs["unique_combination_int_impact__candidate_baselines_start_month__worker_id"].startswith(
        "One row per `start_month`, `worker_id`")
    # a singular test: the comment its SQL opens with
    assert specs["assert_spells_do_not_overlap"].startswith("A worker is in one spell on any day")
    assert all("stops the models downstream" in text or "blocks nothing" in text for text in specs.values()
               if text and not text.startswith(("Blocking quality gate", "Every file: rows read")))


def test_dbt_test_description_prefers_the_yaml_description_and_names_unknown_tests():
    from training_impact.orchestration.descriptions import dbt_test_description

    own = {"name": "t", "description": "Each enrolment has a program.", "config": {"severity": "warn"}}
    assert dbt_test_description(own) == "Each enrolment has a program. A failure is reported and blocks nothing" \
                                        " (severity warn)."
    unknown = {"name": "t", "config": {}, "test_metadata": {"name": "at_least_one", "kwargs": {
        "column_name": "kpi", "model": "{{ get_where_subquery(ref('kpi_summary')) }}", "group_by": "slice"}}}
    assert dbt_test_description(unknown).startswith("dbt test `at_least_one` on `kpi` (group_by=slice)")


def test_dbt_assets_are_described_by_their_yaml_never_by_their_sql():
    from training_impact.orchestration.definitions import defs
    from training_impact.orchestration.descriptions import model_description

    graph = defs.resolve_asset_graph()
    dbt_keys = [key for key in graph.get_all_asset_keys() if key.path[0] in ("staging", "intermediate", "marts")]
    assert dbt_keys
    for key in dbt_keys:
        description = graph.get(key).description or ""
        assert description and "Raw SQL" not in description and "select " not in description.lower(), key
    assert len(graph.get(dg.AssetKey(["marts", "kpi_summary"])).description) < 2000
    fallback = model_description({"name": "int_x", "resource_type": "model", "config": {"materialized": "table"},
                                  "original_file_path": "models/intermediate/int_x.sql", "raw_code": "select 1"})
    assert fallback == ("dbt model `int_x` (materialized as table), built from"
                        " dbt_project/models/intermediate/int_x.sql.")


def test_a_run_without_a_partition_marks_the_delivery_days_it_loaded():
    """The demo and the nightly catch-up read every landing file: each delivery day they loaded files of is a
    materialised partition of the event entity (D128), so the catalogue does not read "0 of 2,533"."""
    from training_impact.orchestration.defs.ingestion import delivery_day_materializations

    def file(name, status="loaded", rows=10):
        return {"source_file": name, "status": status, "rows_loaded": rows, "rows_quarantined": 1}

    events = list(delivery_day_materializations("cost_lines", [
        file("finance/cost_lines_2024-11.csv"), file("finance/cost_lines_2024-11-01.csv", rows=5),  # one day
        file("finance/cost_lines_2024-12.csv", status="rejected"),       # not loaded: no partition
        file("finance/cost_lines_1999-01.csv"),                          # before the partitions start
        file("finance/cost_lines_2999-01-01.csv"),                       # after today
        file("finance/cost_lines.csv"),                                  # undated
    ], "run-1"))
    assert [(e.asset_key.to_user_string(), e.partition) for e in events] == [("bronze/cost_lines", "2024-11-01")]
    assert events[0].metadata["rows_loaded"].value == 15
    assert events[0].metadata["source_files"].value == ["finance/cost_lines_2024-11.csv",
                                                         "finance/cost_lines_2024-11-01.csv"]
