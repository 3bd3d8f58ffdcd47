"""The optional HRIS entity worker_attributes: schema flag, gate, and the real pipeline
(Dagster: ingestion, GX gate, dbt staging) on a tiny company with the extract and on
one without it. The runs stop after the staging layer so that they test this entity
and nothing downstream; every default company of the other integration tests (no
extract) runs the whole pipeline."""

from __future__ import annotations

import csv

import duckdb
import pytest

from expectations.gate import evaluate_gate
from ingestion.schemas import load_schemas

TINY = {"employees": 200, "years": 2, "seed": 3}
STAGING_COLUMNS = ["worker_id", "attribute", "value", "value_number", "valid_from", "valid_to",
                   "_source_file", "_source_sha256", "_source_row", "_batch_id", "_ingested_at"]
PARAMS = {"quality": {"max_quarantine_share": 0.02}}


def test_schema_marks_worker_attributes_optional():
    s = load_schemas()
    e = s.entity("worker_attributes")
    assert e.optional and e.family == "hris" and e.load == "snapshot"
    assert e.column_names == ["worker_id", "attribute", "value", "valid_from"]
    assert e.key_columns == ["worker_id", "attribute", "valid_from"]
    assert not any(s.entity(n).optional for n in s.entities if n != "worker_attributes")


def test_gate_passes_an_optional_entity_never_delivered_but_not_a_required_one():
    never = {"entity": "worker_attributes", "newest_file": None, "modified_at": None, "age_days": None, "files": 0}
    assert evaluate_gate("hris", [], PARAMS, entity="worker_attributes", freshness=never).passed
    out = evaluate_gate("hris", [], PARAMS, entity="job_history", freshness={**never, "entity": "job_history"})
    assert not out.passed and not out.blocking
    assert any("no_files" in f for f in out.failures) and any("freshness" in f for f in out.failures)
    # delivered once, nothing new this run: the usual warning
    seen = {**never, "newest_file": "hris/worker_attributes_2026-10-31.csv", "age_days": 1.0, "files": 1}
    out = evaluate_gate("hris", [], PARAMS, entity="worker_attributes", freshness=seen)
    assert [f.split(": ")[1] for f in out.failures] == ["no_files"]


def _run(tmp_path, monkeypatch, worker_attributes: bool):
    import synthetic
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    synthetic.generate(tmp_path, **TINY, worker_attributes=worker_attributes)
    paths = data_paths(tmp_path)
    # dbt's default (eager) indirect selection would also run the singular tests that read
    # marts left unbuilt by this selection; cautious runs only tests wholly inside it
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    outcome = run_pipeline(paths, groups=["bronze", "staging"])
    assert outcome.success, outcome.failures
    gate = [c for c in outcome.check_results if c["asset"] == "bronze/worker_attributes"]
    assert gate and all(c["passed"] for c in gate), gate
    return paths


def _staging(paths):
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        cols = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'main_staging' "
            "and table_name = 'stg_hris__worker_attributes' order by ordinal_position").fetchall()]
        rows = con.execute("select * from main_staging.stg_hris__worker_attributes").fetchall()
        workers = {r[0] for r in con.execute("select worker_id from main_staging.stg_hris__workers").fetchall()}
    return cols, [dict(zip(cols, r)) for r in rows], workers


@pytest.mark.integration
def test_worker_attributes_ingest_end_to_end(tmp_path, monkeypatch):
    paths = _run(tmp_path, monkeypatch, worker_attributes=True)
    with open(next(paths.landing.glob("hris/worker_attributes_*.csv")), encoding="utf-8") as fh:
        landed = list(csv.DictReader(fh))
    cols, rows, workers = _staging(paths)
    assert cols == STAGING_COLUMNS
    assert len(rows) == len(landed) > 0
    # pseudonymised like stg_hris__workers: no raw id, every one a known pseudonym
    assert {r["worker_id"] for r in rows} <= workers
    assert not any(r["worker_id"] in {x["worker_id"] for x in landed} for r in rows)
    by_attr = {}
    for r in rows:
        by_attr.setdefault(r["attribute"], []).append(r)
    assert set(by_attr) == {"birth_year", "education_level", "employment_type", "location", "prior_earnings"}
    assert all(r["value_number"] == float(r["value"]) for r in by_attr["birth_year"] + by_attr["prior_earnings"])
    assert all(r["value_number"] is None for r in by_attr["education_level"] + by_attr["location"])
    # valid_to: the next valid_from of the same worker and attribute, exclusive; null when none
    edu = {}
    for r in by_attr["education_level"]:
        edu.setdefault(r["worker_id"], []).append(r)
    changed = [sorted(v, key=lambda r: (r["valid_from"] is not None, r["valid_from"])) for v in edu.values()
               if len(v) > 1]
    assert changed, "the tiny company should have at least one dated education change"
    for first, second in changed:
        assert first["valid_from"] is None and first["valid_to"] == second["valid_from"]
        assert second["valid_to"] is None
    assert all(r["valid_to"] is None for v in edu.values() if len(v) == 1 for r in v)
    assert all(r["_source_file"].startswith("hris/worker_attributes_") for r in rows)


@pytest.mark.integration
def test_a_company_without_worker_attributes_still_runs(tmp_path, monkeypatch):
    paths = _run(tmp_path, monkeypatch, worker_attributes=False)
    assert not list(paths.landing.glob("hris/worker_attributes_*"))
    cols, rows, _ = _staging(paths)
    assert cols == STAGING_COLUMNS and rows == []
