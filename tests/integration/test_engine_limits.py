"""DuckDB's memory limit, threads and spill folder come from the engine settings (issue 15, item 5).

dbt runs as the dbt step runs it: the profile (dbt_project/profiles.yml) with the variables the step
exports from the settings (training_impact.settings.engine_environment). A sort of about 130 MB of
rows under a 150 MB limit finishes by spilling to the configured folder, and the same sort with
spilling switched off runs out of memory, so the limit is real and the folder is what saves it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from training_impact.settings import DBT_PROJECT_DIR, Settings, engine_environment, subprocess_environment

SORT = "(select count(*) from (select range as k, random() as v from range(8000000) order by v offset 1))"
QUERY = (f"select current_setting('memory_limit') as memory_limit, current_setting('threads') as threads, "
         f"current_setting('temp_directory') as temp_directory, {SORT} as sorted")


def _dbt_show(tmp_path: Path, limits: dict[str, str]) -> subprocess.CompletedProcess:
    env = subprocess_environment(TI_ENV="development", TI_WAREHOUSE=str(tmp_path / "warehouse.duckdb"), **limits)
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), "show", "--inline", QUERY, "--output", "json", "--log-format", "json",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target")],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)


def _shown(done: subprocess.CompletedProcess) -> dict:
    for line in done.stdout.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("data", {}).get("preview"):
            return json.loads(event["data"]["preview"])[0]
    raise AssertionError(f"dbt show printed no result:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def test_duckdb_takes_the_engine_settings_and_spills_past_its_memory_limit(tmp_path):
    settings = Settings.from_environment(data_dir=tmp_path, duckdb_memory_limit="150MB", duckdb_threads=1)
    limits = engine_environment(settings)
    assert limits["TI_DUCKDB_TEMP_DIR"] == str(tmp_path / "warehouse" / "duckdb_tmp")
    Path(limits["TI_DUCKDB_TEMP_DIR"]).mkdir(parents=True)

    done = _dbt_show(tmp_path, limits)
    assert done.returncode == 0, done.stdout[-3000:]
    shown = _shown(done)
    assert shown["memory_limit"].startswith("143.0 MiB") and shown["threads"] == 1
    assert shown["temp_directory"] == limits["TI_DUCKDB_TEMP_DIR"]
    assert shown["sorted"] == 7_999_999

    no_spill = _dbt_show(tmp_path, {**limits, "TI_DUCKDB_TEMP_DIR": ""})
    assert no_spill.returncode != 0 and "Out of Memory" in no_spill.stdout, no_spill.stdout[-2000:]


def _profile_output(limits: dict[str, str]) -> dict:
    """The project's dev output, its env_var() calls filled from `limits` (as dbt renders them)."""
    import re

    import yaml

    text = (DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    text = re.sub(r"\{\{\s*env_var\('(\w+)',\s*'([^']*)'\)\s*\}\}",
                  lambda m: limits.get(m.group(1), m.group(2)), text)
    return yaml.safe_load(text)["training_impact"]["outputs"]["dev"]


def test_a_new_cursor_during_a_spill_keeps_working(tmp_path):
    """dbt-duckdb SETs a profile's `settings` on every cursor it opens, and DuckDB refuses to set the temp
    directory again (even to the same folder) while spilled data is held there. With the folder among
    the settings, every model dbt started during a spill failed (1,000,000 employees); it is now given
    once, when the database opens (`config_options`)."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.adapters.duckdb.environments import Environment

    settings = Settings.from_environment(data_dir=tmp_path, duckdb_memory_limit="100MB", duckdb_threads=1)
    limits = engine_environment(settings)
    Path(limits["TI_DUCKDB_TEMP_DIR"]).mkdir(parents=True)   # the dbt step makes it
    output = _profile_output({**limits, "TI_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})
    credentials = DuckDBCredentials(path=output["path"], settings=output.get("settings"),
                                    config_options=output.get("config_options"))
    connection = Environment.initialize_db(credentials)
    first = Environment.initialize_cursor(credentials, connection.cursor())
    first.execute("create temp table held as select range as k, random() as v from range(30000000) order by v")
    assert any(Path(limits["TI_DUCKDB_TEMP_DIR"]).iterdir()), "the sort did not spill"
    second = Environment.initialize_cursor(credentials, connection.cursor())   # the next model's cursor
    assert second.execute("select current_setting('temp_directory')").fetchone()[0] == limits["TI_DUCKDB_TEMP_DIR"]
    assert second.execute("select count(*) from range(10)").fetchone()[0] == 10
    connection.close()


def test_the_default_limit_is_at_most_four_gigabytes():
    limit = engine_environment(Settings.from_environment(data_dir=Path("/tmp")))["TI_DUCKDB_MEMORY_LIMIT"]
    assert limit.endswith("MB") and 0 < int(limit[:-2]) <= 4 * 1024
