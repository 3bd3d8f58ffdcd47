"""The optional HRIS entity worker_attributes in the real pipeline.

A company with the extract is the adverse company (tests/integration/test_impact_coverage.py,
`test_worker_attributes_ingest_end_to_end`); a company without it is the session's small company.
"""

from __future__ import annotations

import duckdb

STAGING_COLUMNS = ["worker_id", "attribute", "value", "value_number", "valid_from", "valid_to",
                   "_source_file", "_source_sha256", "_source_row", "_batch_id", "_ingested_at"]


def test_a_company_without_worker_attributes_still_runs(pipeline_run):
    paths, outcome = pipeline_run
    assert outcome.success
    assert not list(paths.landing.glob("hris/worker_attributes_*"))
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        cols = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'main_staging' "
            "and table_name = 'stg_hris__worker_attributes' order by ordinal_position").fetchall()]
        rows = con.execute("select * from main_staging.stg_hris__worker_attributes").fetchall()
    assert cols == STAGING_COLUMNS and rows == []
