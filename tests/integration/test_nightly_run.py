"""Nightly operations on the real pipeline: a simulated week, backfills, run progress.

The week test is the issue's acceptance check: seven sensor-triggered runs over
seven days of files, each reading only its day's files, end with the same marts
and intermediate histories as one full rebuild over all the files.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import duckdb

WEEK_COMPANY = {"employees": 300, "years": 2, "seed": 11}
# Three nights cover what seven did (first night, a day after a day, the backfill over two days)
# at 36 s a night less of every `make test`.
NIGHTS = 3
# Columns that record when and in which batch a row was loaded: they differ between any two runs.
LOAD_COLUMNS = {"_batch_id", "_ingested_at"}


# --------------------------------------------------------------------------- a week of nights


def _manifest_of_run(paths, run_id: str) -> list[tuple[str, str]]:
    with duckdb.connect() as con:
        return con.execute(
            "select source_file, status from read_parquet(?, union_by_name = true) where batch_id = ? order by 1",
            [str(paths.bronze / "_manifest" / "*.parquet"), run_id]).fetchall()


# Built incrementally night by night (DECISIONS D61): compared with the full rebuild's as well.
INCREMENTAL_STAGING = {"stg_lms__xapi_statements": "xapi_statements", "stg_finance__cost_lines": "cost_lines"}


def _tables(paths) -> dict[str, list[tuple]]:
    """Every kpi_* mart, every intermediate model and the incremental staging models, rows sorted,
    load columns left out."""
    out = {}
    incremental = ", ".join(f"'{name}'" for name in INCREMENTAL_STAGING)
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables where (table_schema = 'main_marts'"
            " and table_name like 'kpi_%') or table_schema = 'main_intermediate'"
            f" or (table_schema = 'main_staging' and table_name in ({incremental})) order by 1, 2").fetchall()
        for schema, table in names:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
                " order by ordinal_position", [schema, table]).fetchall() if c not in LOAD_COLUMNS]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f"select {select} from {schema}.{table}").fetchall()
            out[f"{schema}.{table}"] = sorted((tuple(_stable(v) for v in row) for row in rows), key=repr)
    return out


def _incremental_rows(paths, run_id: str) -> dict[str, tuple[int, int, int]]:
    """Per incremental staging model: (rows the run's manifest loaded into its bronze entity,
    rows of the model carrying the run's batch id, all rows of the model)."""
    out = {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for model, entity in INCREMENTAL_STAGING.items():
            loaded = con.execute(
                "select coalesce(sum(rows_loaded), 0) from read_parquet(?, union_by_name = true)"
                " where batch_id = ? and entity = ? and status = 'loaded'",
                [str(paths.bronze / "_manifest" / "*.parquet"), run_id, entity]).fetchone()[0]
            mine, total = con.execute(f"select count(*) filter (where _batch_id = ?), count(*) from main_staging.{model}",
                                      [run_id]).fetchone()
            out[model] = (int(loaded), mine, total)
    return out


def _staging_rows(paths) -> dict[str, list[tuple]]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {model: sorted(con.execute(f"select * from main_staging.{model}").fetchall(), key=repr)
                for model in INCREMENTAL_STAGING}


def _incremental_sql(paths) -> dict[str, str]:
    """The SQL dbt ran for each incremental staging model in the last build (its per-root target)."""
    import json

    target = paths.warehouse.parent / "dbt_target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    compiled = {r["unique_id"].split(".")[-1]: r.get("compiled_code") or "" for r in results}
    out = {}
    for model in INCREMENTAL_STAGING:
        ran = next(target.glob(f"run/**/{model}.sql"))
        out[model] = compiled[model] + "\n" + ran.read_text()
    return out


def _stable(value):
    """Doubles to 12 significant digits: DuckDB sums in parallel, so the last bits of an
    intermediate average differ between any two builds (marts are rounded to 4 decimals anyway)."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _use_root(monkeypatch, root: Path):
    """Each data root gets its own Dagster instance; the environment is restored after the test."""
    from training_impact.settings import data_paths

    paths = data_paths(root)
    monkeypatch.setenv("TI_DATA_DIR", str(paths.root))
    monkeypatch.setenv("TI_WAREHOUSE", str(paths.warehouse))  # run_pipeline exports these two as well
    monkeypatch.setenv("TI_BRONZE_DIR", str(paths.bronze))
    monkeypatch.setenv("DAGSTER_HOME", str(paths.root / "dagster_home"))
    return paths


def test_a_week_of_sensor_runs_equals_one_full_rebuild(tmp_path, monkeypatch, capsys):
    from training_impact import synthetic
    from training_impact.orchestration.definitions import defs
    from training_impact.orchestration.resources import unset_resources
    from training_impact.synthetic.daily import lay_out_drops
    from training_impact.pipeline import run_pipeline

    timings: dict[str, float] = {}
    source = tmp_path / "generated"
    drops = synthetic.generate(source, **WEEK_COMPANY, daily_days=NIGHTS)["daily_drops"]
    days = sorted(drops)
    if not any(_data_rows(source / "landing" / _finance(drops[day])) for day in days):
        _plant_cost_line(source / "landing", _finance(drops[days[0]]), days[0])  # for the backfill below
    monkeypatch.setenv("TI_SENSOR_SETTLE_SECONDS", "0")  # the copies below are seconds old

    nightly = _use_root(monkeypatch, tmp_path / "nightly")
    lay_out_drops(source / "landing", nightly.landing, None, drops)
    started = time.monotonic()
    initial = run_pipeline(nightly)
    timings["initial load"] = time.monotonic() - started
    assert initial.success, initial.failures

    sensor = defs.resolve_sensor_def("landing_files")
    cursor = None

    def tick():
        nonlocal cursor
        with dg.DagsterInstance.get() as instance:
            result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                                                   resources=unset_resources()))
        cursor = result.cursor
        return result.run_requests

    assert tick() == [], "the sensor asked for a run over files the initial load already loaded"
    before = {model: total for model, (_, _, total) in _incremental_rows(nightly, initial.run_id).items()}
    assert all(before.values()), before
    for day in days:
        added = lay_out_drops(source / "landing", nightly.landing, day, drops)
        assert sorted(added) == drops[day]
        requests = tick()
        assert [r.partition_key for r in requests] == [day]
        started = time.monotonic()
        outcome = run_pipeline(nightly, partition_key=requests[0].partition_key, tags=requests[0].tags)
        timings[day] = time.monotonic() - started
        assert outcome.success, (day, outcome.failures)
        assert _manifest_of_run(nightly, outcome.run_id) == [(f, "loaded") for f in sorted(drops[day])]
        # The dbt step read only the bronze rows loaded since the last build (is_incremental filter,
        # delete+insert), and those are exactly the day's rows: new keys added, old rows kept.
        for model, sql in _incremental_sql(nightly).items():
            assert "_ingested_at > coalesce(" in sql and "delete from" in sql, (day, model)
        counts = _incremental_rows(nightly, outcome.run_id)
        for model, (loaded, mine, total) in counts.items():
            assert mine == loaded, (day, model, loaded, mine)
            assert total == before[model] + loaded, (day, model, "an old row went missing or was replaced")
        before = {model: total for model, (_, _, total) in counts.items()}
        assert any(key.startswith("marts/") for key in outcome.materialized)
        # A night's drop holds events only (xAPI, cost lines, surveys): the HR history and the baselines
        # read none of them and are left as they were (D121); what reads the day's events is rebuilt.
        assert {"intermediate/int_employee_history__monthly_panel", "intermediate/int_impact__candidate_baselines",
                "staging/stg_hris__job_history"} <= set(outcome.reused), (day, outcome.reused)
        assert "marts/kpi_roi" in set(outcome.materialized) - set(outcome.reused), (day, outcome.reused)
    assert not initial.reused, initial.reused
    assert tick() == []

    full = _use_root(monkeypatch, tmp_path / "full")
    lay_out_drops(source / "landing", full.landing, days[-1], drops)
    started = time.monotonic()
    rebuild = run_pipeline(full)
    timings["full rebuild"] = time.monotonic() - started
    assert rebuild.success, rebuild.failures

    week, once = _tables(nightly), _tables(full)
    assert sorted(week) == sorted(once)
    assert any(name.startswith("main_marts.kpi_") for name in week)
    assert {f"main_staging.{model}" for model in INCREMENTAL_STAGING} <= set(week)
    for name in once:
        assert week[name] == once[name], f"{name}: the week of nightly runs differs from the full rebuild"
    assert sum(len(rows) for rows in once.values()) > 0

    # Backfill: a corrected cost line re-delivered under its old name, over two delivery days.
    corrected_day = next(day for day in days if _data_rows(source / "landing" / _finance(drops[day])) > 0)
    at = days.index(corrected_day)  # the backfill covers the corrected day and a neighbour
    backfill_days = days[at:at + 2] if at + 1 < len(days) else days[at - 1:at + 1]
    line_id, new_amount = _correct_first_amount(nightly.landing / _finance(drops[corrected_day]))
    _use_root(monkeypatch, nightly.root)
    from training_impact.cli import main

    capsys.readouterr()
    started = time.monotonic()
    code = main(["backfill", "--from", backfill_days[0], "--to", backfill_days[1], "--data", str(nightly.root)])
    timings["backfill"] = time.monotonic() - started
    printed = capsys.readouterr().out
    assert code == 0, printed
    for step in ("ingest_finance", "ingest_hris", "training_impact_dbt"):
        assert f"{step:<24} started" in printed and f"{step:<24} done in" in printed, printed
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
    assert run.tags["dagster/asset_partition_range_start"] == backfill_days[0]
    read = dict(_manifest_of_run(nightly, run.run_id))
    assert sorted(read) == sorted(drops[backfill_days[0]] + drops[backfill_days[1]])
    assert read[_finance(drops[corrected_day])] == "loaded"
    assert {status for rel, status in read.items() if rel != _finance(drops[corrected_day])} == {"duplicate"}
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        amounts = con.execute("select amount from main_staging.stg_finance__cost_lines where line_id = ?",
                              [line_id]).fetchall()
    assert [float(a) for (a,) in amounts] == [new_amount]

    # `run --full-refresh` (after a key rotation) rebuilds the incremental models from all of bronze:
    # same rows as the nights and the backfill built incrementally, load columns included.
    incremental = _staging_rows(nightly)
    started = time.monotonic()
    code = main(["run", "--full-refresh", "--data", str(nightly.root)])
    timings["run --full-refresh"] = time.monotonic() - started
    assert code == 0, capsys.readouterr().out[-4000:]
    for model, sql in _incremental_sql(nightly).items():
        assert "_ingested_at > coalesce(" not in sql and "delete from" not in sql, model
    assert _staging_rows(nightly) == incremental
    assert _built_since(nightly, started) == _reusable_tables(nightly), "--full-refresh reused a table"

    # A deployment's new parameter (a larger minimum cell): what reads the parameters is rebuilt, what
    # does not (the HR staging) is left as it was (D121).
    own = tmp_path / "parameters.yml"
    own.write_text((Path(__file__).parents[2] / "config" / "parameters.yml").read_text(encoding="utf-8")
                   .replace("min_cell_size: 5 ", "min_cell_size: 7 ", 1), encoding="utf-8")
    monkeypatch.setenv("TI_PARAMETERS", str(own))
    started = time.monotonic()
    changed = run_pipeline(nightly)
    assert changed.success, changed.failures
    rebuilt = set(changed.materialized) - set(changed.reused)
    assert {"staging/stg_config__parameters", "marts/kpi_completion_rate", "marts/kpi_summary"} <= rebuilt, rebuilt
    assert "staging/stg_hris__job_history" in changed.reused
    # the data tests of what was rebuilt ran again; those of the unchanged HR staging were reused (D148)
    ran = _built_since(nightly, started, tests=True)
    assert any("stg_config__parameters" in t for t in ran), ran
    assert not any("stg_hris__job_history" in t for t in ran), ran
    assert {t for t in _tests_recorded(nightly) if "stg_hris__job_history" in t}, "no test of the HR history recorded"
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        assert con.execute("select min_cell_size from main_staging.stg_config__parameters").fetchone()[0] == 7
    with capsys.disabled():
        print("\nweek of nightly runs, seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def _reusable_tables(paths) -> set[str]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {r for (r,) in con.execute("select relation from main.ti_reuse_fingerprints"
                                          " where relation not like 'test.%'").fetchall()}


def _tests_recorded(paths) -> set[str]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {r for (r,) in con.execute("select relation from main.ti_reuse_fingerprints"
                                          " where relation like 'test.%'").fetchall()}


def _built_since(paths, monotonic_start: float, tests: bool = False) -> set[str]:
    """The reusable tables dbt built (not reused) since a time.monotonic() reading; with `tests`, the data
    tests that ran and passed (not reused, D148)."""
    since = time.time() - (time.monotonic() - monotonic_start)
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {r for (r,) in con.execute("select relation from main.ti_reuse_fingerprints where built_at >= "
                                          "to_timestamp(?) and (relation like 'test.%') = ?", [since, tests])
                .fetchall()}


def _finance(files: list[str]) -> str:
    return next(f for f in files if f.startswith("finance/"))


def _plant_cost_line(landing: Path, daily: str, day: str) -> None:
    """Copy a cost line of the month into a header-only daily finance file, with its own id and the day as
    posting date: small companies post only on some days, and three nights may have none."""
    import csv

    month = sorted(p for p in (landing / "finance").glob("cost_lines_????-??.csv"))[-1]
    with open(month, encoding="utf-8", newline="") as fh:
        header, first = list(csv.reader(fh))[:2]
    first[header.index("line_id")] += "-NIGHT"
    first[header.index("posting_date")] = day
    with open(landing / daily, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow(first)


def _data_rows(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh) - 1


def _correct_first_amount(path: Path) -> tuple[str, float]:
    """Re-deliver a daily finance file with its first line's amount raised by 1.00 (same name)."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, first = rows[0], rows[1]
    amount = round(float(first[header.index("amount")]) + 1.0, 2)
    first[header.index("amount")] = f"{amount:.2f}"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return first[header.index("line_id")], amount
