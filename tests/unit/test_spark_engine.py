"""The Spark engine's settings and plumbing that need no Spark (issue 18; tests/spark runs Spark itself)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from training_impact.orchestration.spark_dbt import EXPORT_MANIFEST, LOG4J_FILE, mirror_into_duckdb, session_config
from training_impact.settings import Settings, engine_environment


def test_engine_is_checked_and_spark_settings_have_defaults(tmp_path):
    with pytest.raises(ValueError, match="TI_ENGINE='oracle' is not an engine"):
        Settings.from_environment({"TI_DATA_DIR": str(tmp_path), "TI_ENGINE": "Oracle"})
    settings = Settings.from_environment({"TI_DATA_DIR": str(tmp_path), "TI_ENGINE": "spark",
                                          "TI_DUCKDB_THREADS": "3"})
    env = engine_environment(settings)
    assert env["TI_ENGINE"] == "spark" and env["TI_SPARK_MASTER"] == "local[3]"
    assert env["TI_SPARK_DRIVER_MEMORY"] == "2g"
    assert Path(env["TI_SPARK_WAREHOUSE_DIR"]) == tmp_path.resolve() / "warehouse" / "spark"
    # DuckDB runs get no Spark variables
    assert "TI_ENGINE" not in engine_environment(Settings.from_environment({"TI_DATA_DIR": str(tmp_path)}))


def test_session_config_keeps_everything_under_the_spark_folder(tmp_path):
    home = tmp_path / "sp"
    config = session_config(Settings.from_environment({"TI_DATA_DIR": str(tmp_path), "TI_SPARK_WAREHOUSE_DIR": str(home),
                                                       "TI_SPARK_MASTER": "local[1]", "TI_SPARK_DRIVER_MEMORY": "1g"}))
    assert config["spark.master"] == "local[1]" and config["spark.driver.memory"] == "1g"
    assert config["spark.sql.warehouse.dir"] == str(home.resolve() / "tables")
    assert f"databaseName={home.resolve() / 'metastore_db'}" in config["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert str(home.resolve() / LOG4J_FILE) in config["spark.driver.extraJavaOptions"]
    # the instants DuckDB reads as timestamptz, the zone DuckDB computes in, no UI port
    assert config["spark.sql.session.timeZone"] == "UTC"
    assert config["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert config["spark.ui.enabled"] == "false"
    assert not any("key" in name.lower() for name in config)  # the pseudonymisation key is never a conf


def _export(folder: Path, tables: dict[tuple[str, str], str]) -> None:
    con = duckdb.connect()
    listed = []
    for (schema, name), sql in tables.items():
        out = folder / schema / name
        out.mkdir(parents=True)
        con.execute(f"copy ({sql}) to '{out / 'part-0.parquet'}' (format parquet)")
        listed.append({"schema": schema, "name": name, "type": "managed", "path": str(out)})
    (folder / EXPORT_MANIFEST).write_text(json.dumps(listed))


def test_spark_tables_are_copied_into_the_duckdb_warehouse_replacing_views(tmp_path):
    folder, warehouse = tmp_path / "export", tmp_path / "training_impact.duckdb"
    with duckdb.connect(str(warehouse)) as con:  # an earlier DuckDB run left a view and a table
        con.execute("create schema main_serving; create view main_serving.serving_roi as select 1 as old")
        con.execute("create schema main_marts; create table main_marts.kpi_roi as select 'stale' as kpi")
    _export(folder, {
        ("main_marts", "kpi_roi"): "select 'roi' as kpi, 12.5::double as estimate, "
                                   "timestamptz '2026-01-01 00:00:00+00' as built_at",
        ("main_serving", "serving_roi"): "select 'roi' as kpi, 12.5::double as roi_pct",
        ("main_staging", "stg_empty"): "select 1::bigint as n where false",
    })
    assert mirror_into_duckdb(folder, warehouse) == 3
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select * exclude (built_at) from main_marts.kpi_roi").fetchall() == [("roi", 12.5)]
        assert con.execute("select data_type from information_schema.columns where table_name = 'kpi_roi' "
                           "and column_name = 'built_at'").fetchone()[0] == "TIMESTAMP WITH TIME ZONE"
        assert con.execute("select table_type from information_schema.tables where table_name = 'serving_roi'"
                           ).fetchone()[0] == "BASE TABLE"
        assert con.execute("select count(*) from main_staging.stg_empty").fetchone()[0] == 0


def test_a_failed_copy_leaves_the_warehouse_as_it_was(tmp_path):
    folder, warehouse = tmp_path / "export", tmp_path / "training_impact.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema main_marts; create table main_marts.kpi_roi as select 'before' as kpi")
    _export(folder, {("main_marts", "kpi_roi"): "select 'after' as kpi"})
    listed = json.loads((folder / EXPORT_MANIFEST).read_text())
    listed.append({"schema": "main_marts", "name": "kpi_gone", "type": "managed", "path": str(folder / "missing")})
    (folder / EXPORT_MANIFEST).write_text(json.dumps(listed))
    with pytest.raises(duckdb.Error):
        mirror_into_duckdb(folder, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select kpi from main_marts.kpi_roi").fetchall() == [("before",)]


def test_only_a_models_persisted_inputs_count_as_helpers():
    from training_impact.orchestration.spark_dbt import persisted_helpers

    names = ["kpi_roi", "kpi_roi__cells", "kpi_roi__edges", "kpi_roi_extra", "stg_hris__workers",
             "int_employee_history__monthly_panel", "int_employee_history__spells"]
    assert persisted_helpers(names) == {"kpi_roi__cells", "kpi_roi__edges"}
    assert persisted_helpers([]) == set()
