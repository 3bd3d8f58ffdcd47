"""Settings as Dagster resources (issue 14): built at the edge, passed to the assets, secrets as EnvVar."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from training_impact.orchestration.resources import (
    AlertsResource,
    DataRootResource,
    EngineResource,
    PostgresResource,
    PseudonymisationResource,
    ServingResource,
    resources_from,
    settings_from,
    unset_resources,
)
from training_impact.settings import VARIABLES, Settings

SEEN: dict = {}


@dg.asset
def probe(data_root: DataRootResource, engine: EngineResource, serving: ServingResource,
          postgres: PostgresResource, pseudonymisation: PseudonymisationResource, alerts: AlertsResource) -> None:
    settings = settings_from(data_root, engine, serving, postgres, pseudonymisation)
    SEEN.update(root=data_root.paths.root, column_metadata=engine.value("column_metadata"),
                keep=serving.value("serving_keep"), dsn=postgres.value("postgres_dsn"),
                key=pseudonymisation.require_key(), alert=alerts.variables(), settings=settings)


def _run(resources: dict) -> dict:
    SEEN.clear()
    with dg.instance_for_test() as instance:
        assert dg.materialize([probe], instance=instance, resources=resources).success
    return dict(SEEN)


ENVIRONMENT = {
    "TI_ENV": "production",
    "TI_PSEUDONYM_KEY": "k" * 40,
    "TI_POSTGRES_DSN": "postgresql://ti:Pw9x7q@db/ti",
    "TI_SERVING_KEEP": "5",
    "TI_DBT_COLUMN_METADATA": "0",
    "TI_ALERT_WEBHOOK_URL": "https://hooks.example/Tk5z8w",
    "TI_ALERT_SMTP_HOST": "mail.example",
}


def test_settings_read_every_documented_variable_and_name_a_bad_one(tmp_path):
    env = {**ENVIRONMENT, "TI_DATA_DIR": str(tmp_path)}
    settings = Settings.from_environment(env)
    assert (settings.data_dir, settings.serving_keep, settings.column_metadata) == (tmp_path.resolve(), 5, "0")
    assert settings.alert == {"TI_ALERT_WEBHOOK_URL": env["TI_ALERT_WEBHOOK_URL"], "TI_ALERT_SMTP_HOST": "mail.example"}
    assert "Pw9x7q" not in repr(settings) and "Tk5z8w" not in repr(settings) and "k" * 40 not in repr(settings)  # secrets stay out of logs
    with pytest.raises(ValueError, match="TI_RUN_LOCK_TIMEOUT must be a number, not 'soon'"):
        Settings.from_environment({"TI_RUN_LOCK_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="TI_SERVING_KEEP=0"):
        Settings.from_environment({"TI_SERVING_KEEP": "0"})
    assert set(ENVIRONMENT) <= set(VARIABLES)


def test_a_run_gets_the_settings_built_at_its_edge_not_the_environment(tmp_path, monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TI_DATA_DIR", str(tmp_path / "from_environment"))
    edge = Settings.from_environment(data_dir=tmp_path / "from_flags", column_metadata="1", serving_keep=2)
    seen = _run(resources_from(edge, dict(ENVIRONMENT)))
    assert seen["root"] == tmp_path / "from_flags"
    assert (seen["column_metadata"], seen["keep"]) == ("1", 2)
    assert seen["dsn"] == ENVIRONMENT["TI_POSTGRES_DSN"] and seen["key"] == b"k" * 40  # EnvVar, resolved in the run
    assert seen["settings"].data_dir == tmp_path / "from_flags" and seen["settings"].serving_keep == 2
    assert seen["alert"]["TI_ALERT_WEBHOOK_URL"] == ENVIRONMENT["TI_ALERT_WEBHOOK_URL"]


def test_secrets_are_bound_by_variable_name_so_the_ui_never_shows_them(tmp_path):
    resources = resources_from(Settings.from_environment({**ENVIRONMENT, "TI_DATA_DIR": str(tmp_path)}),
                               dict(ENVIRONMENT))
    shown = {key: resource.model_dump() for key, resource in resources.items()}
    assert "Pw9x7q" not in repr(shown) and "Tk5z8w" not in repr(shown) and "k" * 40 not in repr(shown), shown
    assert isinstance(resources["postgres"].postgres_dsn, dg.EnvVar)
    assert isinstance(resources["pseudonymisation"].pseudonym_key, dg.EnvVar)
    assert isinstance(resources["alerts"].webhook_url, dg.EnvVar)


def test_the_code_locations_unset_resources_take_the_environment_when_used(tmp_path, monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TI_DATA_DIR", str(tmp_path / "first"))
    resources = unset_resources()
    assert _run(resources)["root"] == tmp_path / "first"
    monkeypatch.setenv("TI_DATA_DIR", str(tmp_path / "second"))  # a daemon restarted with a new root
    seen = _run(resources)
    assert seen["root"] == tmp_path / "second" and seen["keep"] == 5 and seen["column_metadata"] == "0"


def test_production_without_a_key_stops_in_the_resource(monkeypatch, tmp_path):
    from training_impact.privacy import PseudonymKeyError

    for name in ("TI_PSEUDONYM_KEY", "TI_PSEUDONYM_KEY_FILE", "TI_ENV"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PseudonymKeyError, match="production"):
        PseudonymisationResource().require_key()
    assert PseudonymisationResource(mode="development").require_key()  # the published development key
    assert Path(DataRootResource(data_dir=str(tmp_path)).paths.root) == tmp_path.resolve()


def test_what_the_dbt_step_sets_for_its_children_is_put_back(monkeypatch):
    import os

    from training_impact.settings import environment_for_children

    monkeypatch.setenv("TI_DUCKDB_THREADS", "3")  # configured by the operator
    monkeypatch.delenv("TI_DUCKDB_TEMP_DIR", raising=False)
    with environment_for_children({"TI_DUCKDB_THREADS": "3", "TI_DUCKDB_TEMP_DIR": "/root-a/warehouse/duckdb_tmp"}):
        assert os.environ["TI_DUCKDB_TEMP_DIR"] == "/root-a/warehouse/duckdb_tmp"
    assert "TI_DUCKDB_TEMP_DIR" not in os.environ and os.environ["TI_DUCKDB_THREADS"] == "3"
    assert Settings.from_environment().duckdb_temp_dir is None  # the next run derives it from its own root


def test_the_runs_own_duckdb_connections_get_the_engine_limits(tmp_path):
    """The audit opens the warehouse in the run's process: it gets the engine's memory limit,
    threads and spill folder (DuckDB's own default is 80% of the machine's memory)."""
    from dataclasses import replace

    import duckdb

    from training_impact.settings import Settings, duckdb_config

    settings = replace(Settings.from_environment(), duckdb_memory_limit="512MB", duckdb_threads=1,
                       duckdb_temp_dir=tmp_path / "spill")
    with duckdb.connect(str(tmp_path / "w.duckdb"), config=duckdb_config(settings)) as con:
        limit, threads, temp = con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchone()
    assert limit in ("512.0 MiB", "488.2 MiB") and threads == 1 and temp == str(tmp_path / "spill")
