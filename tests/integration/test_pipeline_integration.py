"""The real pipeline (Dagster executes ingestion, GX gates, dbt builds) on a small generated company."""

from __future__ import annotations

import duckdb

from training_impact.pipeline import run_pipeline
from training_impact.summary import kpi_rows, print_kpi_summary

MART_TABLES = ["kpi_summary", "kpi_productivity_change", "kpi_completion_rate"]


def _table(paths, name: str) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(f"select * from main_marts.{name} order by all").fetchall()


def _manifest(paths, batch_id: str) -> list[dict]:
    with duckdb.connect() as con:
        cur = con.execute(
            "select * from read_parquet(?, union_by_name = true) where batch_id = ?",
            [str(paths.bronze / "_manifest" / "*.parquet"), batch_id],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def test_marts_hold_both_program_types_and_summary_matches(pipeline_run, capsys):
    paths, outcome = pipeline_run
    rows = kpi_rows(paths)
    program_types = {row[2] for row in rows}
    assert {"upskilling", "reskilling"} <= program_types
    assert any(key.startswith("marts/") for key in outcome.materialized)
    print_kpi_summary(paths)
    printed = capsys.readouterr().out
    for kpi, _method, program_type, n, estimate, ci_low, ci_high, suppressed, unit, _flag, _reason in rows:
        assert kpi in printed
        if estimate is not None and not suppressed:
            assert f"{estimate:,.1f}" in printed, (kpi, program_type, estimate)


def test_every_file_reconciles(pipeline_run):
    paths, outcome = pipeline_run
    manifest = _manifest(paths, outcome.run_id)
    assert manifest, "the run recorded no files"
    for entry in manifest:
        if entry["status"] == "loaded":
            assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_quarantined"], entry


def test_rerun_on_same_files_loads_nothing_and_keeps_kpis(copy_of_run):
    before = {name: _table(copy_of_run, name) for name in MART_TABLES}
    outcome = run_pipeline(copy_of_run)
    assert outcome.success, outcome.failures
    manifest = _manifest(copy_of_run, outcome.run_id)
    assert manifest and all(entry["status"] == "duplicate" for entry in manifest)
    assert sum(entry["rows_loaded"] or 0 for entry in manifest) == 0
    after = {name: _table(copy_of_run, name) for name in MART_TABLES}
    assert after == before
