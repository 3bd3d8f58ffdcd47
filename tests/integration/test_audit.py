"""Auditable lineage (docs/audit.md): ledger, KPI history, trace, restatement, OpenLineage, reproduction.

One small company (300 employees, 2 years) runs through the real pipeline three
times: run A; run B after a corrected HR extract lands (a restatement); run C,
a reproduction of run A from its ledger in a new data root.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

COMPANY = {"employees": 300, "years": 2, "seed": 11}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """Run A on a fresh company, then run B after a restated job history: (paths, run A, run B)."""
    from training_impact import synthetic
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    root = tmp_path_factory.mktemp("audited")
    synthetic.generate(root, **COMPANY)
    paths = data_paths(root)
    run_a = run_pipeline(paths)
    assert run_a.success, run_a.failures
    restate_job_history(paths)
    run_b = run_pipeline(paths)
    assert run_b.success, run_b.failures
    return paths, run_a.run_id, run_b.run_id


def restate_job_history(paths) -> Path:
    """A corrected job history extract: every third worker's past events move to another department."""
    source = sorted((paths.landing / "hris").glob("job_history_*.csv"))[-1]
    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    departments = sorted({row["department"] for row in rows if row["department"]})
    workers = sorted({row["worker_id"] for row in rows})[::3]
    chosen = set(workers)
    for row in rows:
        if row["worker_id"] in chosen and row["department"]:
            row["department"] = departments[(departments.index(row["department"]) + 1) % len(departments)]
    # the next day's extract corrects the past (HR restates history, DECISIONS.md D7)
    stamp = date.fromisoformat(source.stem.rsplit("_", 1)[1]) + timedelta(days=1)
    target = source.with_name(f"job_history_{stamp.isoformat()}.csv")
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def _raw_record(path: Path, row_number: int) -> dict:
    """The ``row_number``-th data record (1-based, header excluded) of a canonical CSV extract."""
    with open(path, newline="", encoding="utf-8") as handle:
        for number, record in enumerate(csv.DictReader(handle), start=1):
            if number == row_number:
                return record
    raise AssertionError(f"{path} has no record {row_number}")


def _programs(paths, run_id: str) -> dict[str, dict]:
    from training_impact.audit import store

    con = duckdb.connect()
    sha, = con.execute("select sha256 from read_parquet(?) where entity = 'programs'",
                       [str(store.ledger_file(paths, "inputs", run_id))]).fetchone()
    with open(store.input_copy(paths, sha), newline="", encoding="utf-8") as handle:
        return {row["program_id"]: row for row in csv.DictReader(handle)}


def test_trace_recomputes_a_cell_from_its_source_rows(audited):
    """A completion-rate cell: numerator and denominator recomputed from the raw rows trace points to."""
    from training_impact.audit import history, store
    from training_impact.audit.ledger import sha256_file
    from training_impact.audit.trace import trace

    paths, run_a, _ = audited
    con = duckdb.connect()
    cells = [c for c in history.cells(con, paths, run_a, kpi="completion_rate", mart="kpi_completion_rate",
                                      where={"slice_grain": "program"}) if not c["suppressed"]]
    assert cells, "no unsuppressed program cell to trace"
    cell = max(cells, key=lambda c: c["denominator"])
    result = trace(paths, "completion_rate", f"grain=program,program_type={cell['program_type']},"
                   f"method={cell['method']},program_id={cell['program_id']}", run=run_a)
    assert result.cell["numerator"] == cell["numerator"]

    programs = _programs(paths, run_a)
    enrollments = {r["record_key"]: r for r in result.records if r["staging_model"] == "stg_lms__enrollments"}
    numerator = denominator = 0
    for member in result.members:
        record = enrollments[member["enrollment_id"]]
        stored = store.input_copy(paths, record["_source_sha256"])
        assert sha256_file(stored) == record["_source_sha256"]
        raw = _raw_record(stored, record["_source_row"])
        assert raw["enrollment_id"] == member["enrollment_id"]
        assert raw["program_id"] == cell["program_id"]
        counts = raw["status"] in ("completed", "passed") or (
            raw["status"] == "waived" and programs[raw["program_id"]]["waived_counts_as_completed"].lower() == "true")
        numerator += counts
        denominator += 1
    assert (numerator, denominator) == (cell["numerator"], cell["denominator"])
    assert result.chain[0]["layer"] == "bronze" and result.chain[-1]["model"] == "kpi_completion_rate"
    assert any(c["check"].endswith("quality_gate") and c["passed"]
               for info in result.file_checks.values() if "checks" in info for c in info["checks"])


def test_members_add_up_to_every_published_cell(audited):
    """Every unsuppressed cell of every traceable KPI equals the sum over its members (both runs)."""
    from training_impact.audit import history, store
    from training_impact.audit.members import DIMENSIONS, cell_filter, member_marts

    paths, run_a, run_b = audited
    con = duckdb.connect()
    for run in (run_a, run_b):
        members = store.members_dir(paths, run) / "members.parquet"
        checked = 0
        marts = member_marts(con, members)
        # this small company's outcome windows close for these; retention and mobility have no members yet
        assert {"completion_rate", "certification_attainment", "productivity_change"} <= set(marts), marts
        for kpi, mart in marts.items():
            for cell in history.cells(con, paths, run, kpi=kpi, mart=mart):
                if cell["suppressed"] or cell.get("estimation_method") not in ("observed", "did_matched"):
                    continue
                numerator, denominator = con.execute(
                    f"select round(sum(numerator), 4), round(sum(denominator), 4) from read_parquet(?) as m "
                    f"where kpi = ? and {cell_filter(cell)}", [str(members), kpi]).fetchone()
                where = (run, kpi, {d: cell[d] for d in ("slice_grain", *DIMENSIONS)})
                if kpi == "productivity_change":  # publishes no numerator: its n is the episodes counted
                    assert denominator == cell["n"], where
                else:
                    assert (numerator, denominator) == (cell["numerator"], cell["denominator"]), where
                checked += 1
        assert checked >= 10


def test_restatement_keeps_both_figures_with_the_reason(audited, capsys):
    from training_impact.audit import history, store
    from training_impact.cli import main

    paths, run_a, run_b = audited
    changed = history.diff_runs(paths, run_a, run_b, mart="kpi_summary")
    assert changed, "the restated departments changed no published cell"
    department_cells = [c for c in changed if c["slice_grain"] == "department"]
    assert department_cells
    for cell in department_cells:
        assert "restated HR history" in cell["reasons"]
        assert "new definition version" not in cell["reasons"]
    assert all(c["reasons"] != ["unexplained"] for c in changed)
    # both figures are kept: run A's history file is untouched and still holds the old value
    cell = next(c for c in department_cells if not c["is_new_cell"] and not c["is_dropped_cell"])
    old_rows = history.cells(duckdb.connect(), paths, run_a, kpi=cell["kpi"], where={
        k: cell[k] for k in ("slice_grain", "department", "estimation_method")})
    assert [r["estimate"] for r in old_rows] == [cell["old_estimate"]]
    assert sorted(store.recorded_runs(paths)) == sorted([run_a, run_b])
    # trace answers for both runs, from the CLI, as JSON
    for run in (run_a, run_b):
        assert main(["trace", "completion_rate", "--run", run, "--json", "--data", str(paths.root)]) == 0
        traced = json.loads(capsys.readouterr().out)
        assert traced["run_id"] == run and traced["members"]
    assert main(["diff", run_a, run_b, "--data", str(paths.root)]) == 0
    assert "restated HR history" in capsys.readouterr().out
    with pytest.raises(store.AlreadyRecorded):
        history.write_snapshot(duckdb.connect(str(paths.warehouse), read_only=True), paths, run_a,
                               history.runs_table(paths)[0]["ended_at"])


def _run_events(events: list[dict], run_id: str) -> list[dict]:
    """The events of one pipeline run: its own and its children's (parent facet)."""
    return [e for e in events if e["run"]["runId"] == run_id
            or e["run"].get("facets", {}).get("parent", {}).get("run", {}).get("runId") == run_id]


def test_openlineage_events_are_valid_for_every_asset(audited):
    """Every event of both runs validates against the official 2-0-2 schema and its facets' schemas."""
    import dagster as dg
    from openlineage_support import read_events, validate_event

    from training_impact.audit import store
    from training_impact.audit.openlineage import asset_run_id, checks_job
    from training_impact.orchestration.definitions import defs

    paths, run_a, run_b = audited
    text = store.openlineage_file(paths).read_text(encoding="utf-8")
    assert str(paths.root) not in text  # datasets are named relative to their store, never by a host path
    events = read_events(store.openlineage_file(paths))
    for item in events:
        validate_event(item)
    job_assets = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    by_run = {}
    for item in events:
        by_run.setdefault(item["run"]["runId"], []).append(item["eventType"])
    with dg.DagsterInstance.get() as instance:
        for run in (run_a, run_b):
            materialized = {entry.dagster_event.event_specific_data.materialization.asset_key.to_user_string()
                            for entry in instance.all_logs(run, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)}
            assert "audit_ledger" in materialized and len(materialized) > 40
            assert materialized <= job_assets
            assert by_run[run] == ["START", "COMPLETE"]
            for asset in materialized:  # published_marts: an OTHER event per served table in between
                kinds = by_run.get(asset_run_id(run, asset), [])
                assert [k for k in kinds if k != "OTHER"] == ["START", "COMPLETE"], asset
                assert ("OTHER" in kinds) == (asset == "published_marts"), asset
    mine = _run_events(events, run_a)
    complete = {e["job"]["name"]: e for e in mine if e["eventType"] in ("COMPLETE", "FAIL")}
    # bronze: the landing files the run loaded, each with its sha256 as version and its row counts
    ledger = {i["source_file"]: i for i in duckdb.connect().execute(
        "select * from read_parquet(?)", [str(store.ledger_file(paths, "inputs", run_a))]).fetchdf().to_dict("records")}
    files = [d for d in complete["bronze/workers"]["inputs"] if d["name"].startswith("landing/")]
    assert files and all(d["namespace"] == "file://training_impact" for d in files)
    for item in files:
        source = ledger[item["name"].removeprefix("landing/")]
        assert item["facets"]["version"]["datasetVersion"] == source["sha256"]
        assert item["inputFacets"]["inputStatistics"]["rowCount"] == source["rows_read"]
        assert item["inputFacets"]["trainingImpact_ingestion"]["rowsLoaded"] == source["rows_loaded"]
    # row counts on the outputs, dbt tests and GX checks as assertions on the checked dataset
    mart = complete["marts/kpi_completion_rate"]["outputs"][0]
    assert (mart["namespace"], mart["name"]) == ("duckdb://training_impact", "warehouse.main_marts.kpi_completion_rate")
    assert mart["outputFacets"]["outputStatistics"]["rowCount"] > 0
    assert {f["name"] for f in mart["facets"]["schema"]["fields"]} >= {"estimate", "numerator", "denominator"}
    tests = complete[checks_job("staging/stg_lms__enrollments")]["inputs"][0]
    assert tests["name"] == "warehouse.main_staging.stg_lms__enrollments"
    assertions = tests["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {"not_null", "unique"} <= {a["assertion"] for a in assertions}
    assert all(a["column"] for a in assertions if a["assertion"] == "not_null")
    gate = complete[checks_job("bronze/workers")]["inputs"][0]["inputFacets"]["dataQualityAssertions"]
    assert {a["name"] for a in gate["assertions"]} >= {"quality_gate", "reconciliation"}
    checks = duckdb.connect().execute("select count(*) from read_parquet(?)",
                                      [str(store.ledger_file(paths, "checks", run_a))]).fetchone()[0]
    assert sum(len(d["inputFacets"]["dataQualityAssertions"]["assertions"]) for e in complete.values()
               if e["job"]["name"].endswith(".checks") for d in e["inputs"]) == checks
    assert "published_marts" not in {d["name"] for e in mine for d in e.get("inputs", []) + e.get("outputs", [])}


def test_lineage_walks_from_a_served_table_back_to_the_landing_files(audited):
    """From the Parquet file and the DuckDB table BI reads, the events lead back to the files the run read."""
    from openlineage_support import read_events, upstream

    from training_impact.audit import store

    paths, run_a, _ = audited
    events = _run_events(read_events(store.openlineage_file(paths)), run_a)
    read = {f"landing/{row[0]}" for row in duckdb.connect().execute(
        "select source_file from read_parquet(?) where batch_id = ?",
        [str(store.ledger_file(paths, "inputs", run_a)), run_a]).fetchall()}
    for served in [("file://training_impact", "serving/parquet/kpi_summary.parquet"),
                   ("duckdb://training_impact", "serving.reporting.kpi_summary")]:
        found = upstream(events, served)
        assert ("duckdb://training_impact", "warehouse.main_marts.kpi_summary") in found
        assert ("file://training_impact", "bronze/enrollments") in found
        landing = {name for namespace, name in found if name.startswith("landing/")}
        assert landing and landing <= read, landing - read
        assert {"hris", "lms", "finance", "surveys"} <= {name.split("/")[1] for name in landing}
        assert all((paths.root / name).exists() for name in landing)
    part = next(e for e in events if e["job"]["name"] == "published_marts" and e["eventType"] == "OTHER"
                and "serving/parquet/kpi_summary.parquet" in {o["name"] for o in e["outputs"]})
    assert [d["name"] for d in part["inputs"]] == ["warehouse.main_marts.kpi_summary"]
    parquet = next(o for o in part["outputs"] if o["name"] == "serving/parquet/kpi_summary.parquet")
    source = parquet["facets"]["columnLineage"]["fields"]["estimate"]["inputFields"]
    assert [(f["name"], f["field"]) for f in source] == [("warehouse.main_marts.kpi_summary", "estimate")]
    assert parquet["outputFacets"]["outputStatistics"]["rowCount"] > 0


def _materializations(run_id: str) -> dict:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return {entry.dagster_event.event_specific_data.materialization.asset_key.to_user_string():
                entry.dagster_event.event_specific_data.materialization.metadata
                for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)}


def test_every_asset_carries_the_auditors_metadata(audited):
    """Row counts on the dbt models, file hashes on bronze, the ledger's inputs on audit_ledger."""
    from training_impact.audit import store

    paths, run_a, _ = audited
    materialized = _materializations(run_a)
    from training_impact.orchestration.dbt_manifest import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    # a view holds no rows: counting them would evaluate it once more (the audit's member view is
    # counted where it is copied, in audit_ledger's kpi_members)
    views = {f"{n['fqn'][1]}/{n['name']}" for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["config"].get("materialized") == "view"}
    assert "intermediate/int_audit__kpi_members" in views
    dbt_models = [key for key in materialized
                  if key.split("/")[0] in ("staging", "intermediate", "marts") and key not in views]
    assert len(dbt_models) > 30
    assert materialized["audit_ledger"]["kpi_members"].value > 0
    for key in dbt_models:
        assert materialized[key]["dagster/row_count"].value >= 0, key
    assert materialized["marts/kpi_completion_rate"]["dagster/row_count"].value > 0
    assert all(len(f["sha256"]) == 64 for f in materialized["bronze/workers"]["source_files"].value)
    ledger = materialized["audit_ledger"]
    assert ledger["input_files"].value and all(len(f["sha256"]) == 64 for f in ledger["input_files"].value)
    checks = duckdb.connect().execute("select passed, severity from read_parquet(?)",
                                      [str(store.ledger_file(paths, "checks", run_a))]).fetchall()
    assert len(checks) == ledger["checks"].value > 100
    assert sum(not passed for passed, _ in checks) == ledger["checks_failed"].value
    assert all(severity == "WARN" for passed, severity in checks if not passed)  # the run published


@pytest.mark.slow
def test_dbt_models_carry_column_lineage(tmp_path, monkeypatch):
    """Column schema and column-level lineage on the dbt assets (sqlglot; minutes, so `make test-slow`)."""
    from training_impact import synthetic
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    synthetic.generate(tmp_path, employees=200, years=2, seed=3)
    monkeypatch.setenv("TI_DBT_COLUMN_METADATA", "1")
    outcome = run_pipeline(data_paths(tmp_path))
    assert outcome.success, outcome.failures
    materialized = _materializations(outcome.run_id)
    lineage = materialized["marts/kpi_completion_rate"]["dagster/column_lineage"].value
    assert "intermediate/int_learning_history" in {
        dep.asset_key.to_user_string() for dep in lineage.deps_by_column["numerator"]}
    assert "dagster/column_schema" in materialized["intermediate/int_learning_history"]


def test_a_past_run_reproduces_exactly(audited, tmp_path):
    """Run A's ledger inputs, re-run in a new data root, give every KPI value of run A."""
    from training_impact.audit.reproduce import reproduce

    paths, run_a, _ = audited
    result = reproduce(paths, run_a, tmp_path / "again")
    assert result.marts and result.identical, result.marts
    assert result.new_run_id != run_a
    # and the check is able to fail: the restated run B differs from run A
    from training_impact.audit.reproduce import compare

    assert not all(m["only_old"] == m["only_new"] == 0 for m in compare(paths, run_a, paths, audited[2]).values())
    shutil.rmtree(tmp_path / "again", ignore_errors=True)
