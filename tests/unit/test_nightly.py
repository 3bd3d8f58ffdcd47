"""Nightly operations: delivery days, the landing sensor's decisions, the generator's daily drops,
the warehouse lock.

The simulated week (seven sensor-triggered runs over seven days of files, each reading only its
day's files, ending with the same marts and intermediate histories as one full rebuild), backfills
and run progress are tests/integration/test_nightly_run.py.
"""

from __future__ import annotations

import time
from datetime import date

import dagster as dg
import duckdb
import pytest

from training_impact.ingestion.delivery import day_scope, delivery_day, delivery_order
from training_impact.orchestration.defs.sensors import landing_run_requests


# --------------------------------------------------------------------------- unit: delivery days


def test_delivery_day_comes_from_the_file_name():
    assert delivery_day("lms/xapi/statements_2026-10-25.ndjson") == date(2026, 10, 25)
    assert delivery_day("finance/cost_lines_2026-10.csv") == date(2026, 10, 1)
    assert delivery_day("hris/workers_2026-10-24.csv") == date(2026, 10, 24)
    assert delivery_day("surveys/export.csv") is None
    assert delivery_day("finance/cost_lines_2026-13-40.csv") is None


def test_day_scope_and_delivery_order():
    scope = day_scope("2026-10-01", "2026-10-25")
    assert scope("finance/cost_lines_2026-10.csv") and scope("finance/cost_lines_2026-10-25.csv")
    assert not scope("finance/cost_lines_2026-10-26.csv") and not scope("finance/notes.csv")
    assert day_scope(None) is None
    # a full rebuild loads in delivery order: the monthly October file before the October daily drops
    files = ["f/c_2026-10-26.csv", "f/c_2026-10.csv", "f/c_2026-09.csv", "f/undated.csv"]
    assert delivery_order(files) == ["f/undated.csv", "f/c_2026-09.csv", "f/c_2026-10.csv", "f/c_2026-10-26.csv"]


# --------------------------------------------------------------------------- unit: the sensor's decisions

NOW = time.time()
OLD = int((NOW - 3600) * 1e9)


def _requests(listing, seen=None, loaded=frozenset(), settle=30, max_day_runs=7):
    return landing_run_requests(listing, seen, set(loaded), NOW, settle, "2026-11-26", "2020-01-01",
                                max_day_runs=max_day_runs)


def test_sensor_one_run_per_new_day_in_day_order_and_cursor_remembers():
    listing = {"finance/cost_lines_2026-10-26.csv": (10, OLD), "lms/xapi/statements_2026-10-25.ndjson": (5, OLD),
               "surveys/post_training_survey_2026-10-25.csv": (7, OLD)}
    requests, cursor = _requests(listing)
    assert [r.partition_key for r in requests] == ["2026-10-25", "2026-10-26"]
    assert requests[0].tags["training_impact/new_files"] == "2"
    again, _ = _requests(listing, seen=cursor)
    assert again == []
    # a corrected re-delivery under the same name (new size or time) is new again
    listing["finance/cost_lines_2026-10-26.csv"] = (11, OLD + 1)
    redelivered, _ = _requests(listing, seen=cursor)
    assert [r.partition_key for r in redelivered] == ["2026-10-26"]
    assert redelivered[0].run_key != requests[1].run_key


def test_sensor_hr_only_drop_is_a_run_too_and_fresh_files_wait():
    requests, cursor = _requests({"hris/workers_2026-11-02.csv": (100, OLD),
                                  "hris/job_history_2026-11-02.csv": (200, int(NOW * 1e9))})
    assert [r.partition_key for r in requests] == ["2026-11-02"]
    assert requests[0].tags["training_impact/new_files"] == "1"  # job history still uploading
    assert "hris/job_history_2026-11-02.csv" not in cursor


def test_sensor_first_tick_skips_what_the_manifest_loaded_and_backlogs_catch_up():
    listing = {f"finance/cost_lines_2026-{m:02d}.csv": (10, OLD) for m in range(1, 11)}
    loaded = {(rel, 10) for rel in listing}
    assert _requests(listing, loaded=loaded)[0] == []
    backlog, _ = _requests(listing)  # ten delivery days at once: one catch-up run
    assert len(backlog) == 1 and backlog[0].partition_key is None
    undated, _ = _requests({"surveys/export.csv": (3, OLD)})
    assert len(undated) == 1 and undated[0].partition_key is None
    future, _ = _requests({"finance/cost_lines_2027-01-05.csv": (3, OLD)})  # no partition for it yet
    assert future[0].partition_key is None


def test_sensor_and_partitions_are_registered(tmp_path):
    from training_impact.orchestration.definitions import defs
    from training_impact.pipeline import DAGSTER_YAML

    sensor = defs.resolve_sensor_def("landing_files")
    assert sensor.job_name == "training_impact_pipeline"
    job = defs.resolve_job_def("training_impact_pipeline")
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
    graph = defs.resolve_asset_graph()
    partitioned = {key.path[-1] for key in graph.get_all_asset_keys() if graph.get(key).partitions_def is not None}
    assert partitioned == {"xapi_statements", "cost_lines", "survey_responses"}
    # sensor and schedule runs go through the daemon's run queue, which starts one at a time
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 1
        assert concurrency.pool_config.default_pool_limit == 1


def test_schedule_cron_and_time_zone_come_from_the_environment(monkeypatch):
    import importlib

    import training_impact.orchestration.defs.schedules as schedules

    monkeypatch.setenv("TI_NIGHTLY_CRON", "30 3 * * 1-5")
    monkeypatch.setenv("TI_TIMEZONE", "Europe/Berlin")
    try:
        reloaded = importlib.reload(schedules)
        assert reloaded.nightly_schedule.cron_schedule == "30 3 * * 1-5"
        assert reloaded.nightly_schedule.execution_timezone == "Europe/Berlin"
    finally:
        monkeypatch.undo()
        importlib.reload(schedules)


# --------------------------------------------------------------------------- unit: the generator's daily drops


def test_generator_writes_the_last_days_as_daily_files(tmp_path):
    from training_impact import synthetic
    from training_impact.synthetic.daily import lay_out_drops

    summary = synthetic.generate(tmp_path / "gen", employees=120, years=1, seed=3, daily_days=3)
    landing = tmp_path / "gen" / "landing"
    assert sorted(summary["daily_drops"]) == ["2026-10-29", "2026-10-30", "2026-10-31"]
    for day, files in summary["daily_drops"].items():
        assert len(files) == 3 and all(day in f and (landing / f).is_file() for f in files)
    assert (landing / "hris" / "workers_2026-10-28.csv").is_file()  # snapshots arrive with the history
    assert sum(summary["files"].values()) == sum(summary["rows"].values())
    import json
    assert json.loads((tmp_path / "gen" / "truth.json").read_text())["daily_drops"] == summary["daily_drops"]
    history = lay_out_drops(landing, tmp_path / "night" / "landing", None, summary["daily_drops"])
    assert not {f for files in summary["daily_drops"].values() for f in files} & set(history)
    day1 = lay_out_drops(landing, tmp_path / "night" / "landing", "2026-10-29", summary["daily_drops"])
    assert sorted(day1) == summary["daily_drops"]["2026-10-29"]


# --------------------------------------------------------------------------- the warehouse lock


def test_a_process_holding_the_warehouse_makes_the_run_wait_not_fail(tmp_path):
    import subprocess
    import sys

    from training_impact.orchestration.warehouse_lock import wait_for_warehouse

    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(float(sys.argv[2]))", str(warehouse), "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match="lock"):
            wait_for_warehouse(warehouse, timeout=0.5, interval=0.1)
        messages: list[str] = []
        waited = wait_for_warehouse(warehouse, timeout=60, interval=0.2, log=messages.append)
        assert waited > 1.0 and len(messages) == 1 and "held by another process" in messages[0]
    finally:
        holder.kill()
        holder.wait()
    assert wait_for_warehouse(warehouse, timeout=0) < 1.0
