"""One real nightly run while BI readers hold the serving file: they keep answering, see old or new, never a mix.

The readers are separate processes, as a BI tool would be. When PostgreSQL server
binaries are present (always under CI), the same run also publishes to a real server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest
from publishing_support import find_bindir, start_or_skip

from training_impact.publishing import publish_run
from training_impact.publishing.serving import parquet_dir, serving_dir, serving_file
from training_impact.pipeline import run_pipeline

READER = r"""
import duckdb, json, os, sys, time

path, out_path, stop_path, mode = sys.argv[1:5]


def snapshot(con):
    marts = [row[0] for row in con.execute(  # the kpi_* marts and the serving views at each grain
        "select table_name from information_schema.tables where table_schema = 'reporting' "
        "and table_name <> 'publish_info' order by 1").fetchall()]
    union = " union ".join(f'select distinct _published_run_id from reporting."{m}"' for m in marts)
    union += " union select distinct run_id from reporting.publish_info"
    ids = {row[0] for row in con.execute(union).fetchall()}
    counts_match = all(
        con.execute(f'select count(*) from reporting."{m}"').fetchone()[0]
        == con.execute("select row_count from reporting.publish_info where mart = ?", [m]).fetchone()[0]
        for m in marts)
    return sorted(ids), len(marts), counts_match


held = duckdb.connect(path, read_only=True) if mode == "hold" else None
with open(out_path, "w") as out:
    while not os.path.exists(stop_path):
        try:
            if held is not None:
                ids, marts, ok = snapshot(held)
            else:
                with duckdb.connect(path, read_only=True) as con:
                    ids, marts, ok = snapshot(con)
            out.write(json.dumps({"t": time.time(), "ids": ids, "marts": marts, "counts_match": ok}) + "\n")
        except Exception as error:
            out.write(json.dumps({"t": time.time(), "error": repr(error)}) + "\n")
        out.flush()
        time.sleep(0.1)
"""


@pytest.fixture
def postgres_dsn():
    """A real server when its binaries exist (CI=true requires them); otherwise publish without PostgreSQL."""
    if find_bindir() is None and os.environ.get("CI", "").lower() != "true":
        yield None
        return
    import psycopg

    server = start_or_skip()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as con:
            con.execute("create role ti_publisher login createrole")
            con.execute("create database ti owner ti_publisher")
        yield server.dsn("ti_publisher", "ti")
    finally:
        server.stop()


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _start_reader(target, tmp_path, mode):
    out = tmp_path / f"reader_{mode}.jsonl"
    process = subprocess.Popen([sys.executable, "-c", READER, str(target), str(out), str(tmp_path / "stop"), mode])
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().strip()):
        assert process.poll() is None and time.monotonic() < deadline, f"reader {mode} did not start"
        time.sleep(0.05)
    return process, out


def test_bi_readers_during_a_run_see_old_or_new_never_a_mix(pipeline_run, copy_of_run, tmp_path, postgres_dsn,
                                                            monkeypatch):
    _, first = pipeline_run
    paths = copy_of_run
    target = serving_file(serving_dir(paths))
    assert target.exists(), "the fixture's run published nothing"
    if postgres_dsn:
        monkeypatch.setenv("TI_POSTGRES_DSN", postgres_dsn)

    readers = [_start_reader(target, tmp_path, mode) for mode in ("hold", "reconnect")]
    try:
        outcome = run_pipeline(paths)  # publishes through the Dagster asset
        direct = publish_run(paths, "direct-publish")  # and once more, straight away
        time.sleep(0.5)
    finally:
        (tmp_path / "stop").touch()
        for process, _ in readers:
            process.wait(timeout=60)

    assert outcome.success, outcome.failures
    assert "published_marts" in outcome.materialized
    expected = {first.run_id, outcome.run_id, "direct-publish"}
    (_, held_out), (_, fresh_out) = readers
    held, fresh = _lines(held_out), _lines(fresh_out)
    for line in held + fresh:
        assert "error" not in line, line
        assert len(line["ids"]) == 1, f"a reader saw a mix of publishes: {line}"
        assert line["ids"][0] in expected and line["marts"] == len(direct.row_counts) and line["counts_match"]
    # The reader that kept its connection answered throughout, on the snapshot it opened.
    assert {line["ids"][0] for line in held} == {first.run_id}
    assert held[-1]["t"] > fresh[-1]["t"] - 5
    # Readers that reconnect move from the old set to the new ones, in order.
    seen = [line["ids"][0] for line in fresh]
    assert seen[0] == first.run_id and seen[-1] == "direct-publish"
    order = {first.run_id: 0, outcome.run_id: 1, "direct-publish": 2}
    assert [order[run] for run in seen] == sorted(order[run] for run in seen)

    marts = [name for name in direct.row_counts if name not in direct.serving_views]
    assert marts and all(name.startswith("kpi_") for name in marts)
    with duckdb.connect(str(target), read_only=True) as con:
        served = {m: con.execute(f"select * exclude (_published_run_id, _published_at) from reporting.{m} "
                                 "order by all").fetchall() for m in marts}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for mart in marts:  # the serving views: tests/integration/test_serving_views.py
            assert served[mart] == con.execute(f"select * from main_marts.{mart} order by all").fetchall(), mart
    assert sorted(p.stem for p in parquet_dir(serving_dir(paths)).glob("*.parquet")) == sorted(
        [*direct.row_counts, "publish_info"])

    if postgres_dsn:
        import psycopg

        assert direct.postgres and direct.postgres["tables"] == len(direct.row_counts)
        with psycopg.connect(postgres_dsn) as con:
            runs = [row[0] for row in con.execute("select distinct run_id from audit.publish_log order by 1")]
            assert sorted(runs) == sorted([outcome.run_id, "direct-publish"])
            for mart, count in direct.row_counts.items():
                assert con.execute(f"select count(*) from reporting.{mart}").fetchone()[0] == count
            assert con.execute("select count(*) from audit.load_manifest").fetchone()[0] > 0
