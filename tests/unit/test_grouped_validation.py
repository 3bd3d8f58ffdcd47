"""An entity's small landing files share one GX validation (DECISIONS D119) and load exactly as one by one."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from training_impact import ingestion
from training_impact.expectations import row_rules
from training_impact.ingestion import engine

HEADER = "worker_id,first_name,last_name,email,hire_date,fte_pct,termination_category,rehire_flag"
# Three daily snapshots of one delivery: the same workers in each (a key repeats across files, never a
# duplicate), a duplicate key inside the last one, a bad value in the second.
SNAPSHOTS = {
    "hris/workers_2025-03-29.csv": ["W1,Ann,Lee,a@x.org,2020-01-05,100,,false",
                                    "W2,Bob,Ng,b@x.org,2021-02-01,80,,true"],
    "hris/workers_2025-03-30.csv": ["W1,Ann,Lee,a@x.org,2020-01-05,100,,false",
                                    "W2,Bob,Ng,b@x.org,2021-02-01,180,,true"],
    "hris/workers_2025-03-31.csv": ["W1,Ann,Lee,a@x.org,2020-01-05,100,,false",
                                    "W2,Bob,Ng,b@x.org,2021-02-01,80,,true",
                                    "W2,Bob,Ng,b@x.org,2021-02-01,80,,true"],
}


def _land(root: Path, files: dict[str, list[str]]) -> None:
    for rel, rows in files.items():
        path = root / "landing" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


class CountingRules:
    """The real GX row rules, counting the validations they run."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, as_of, source_file, gx_references):
        validate = row_rules(as_of, source_file, gx_references)

        def run(entity, df, parts=None):
            self.calls.append(len(df))
            return validate(entity, df, parts=parts)

        return run


def _outcome(root: Path, report) -> dict:
    """What each file left: counts, rules, bronze rows and quarantine rows (without batch ids and times)."""
    out = {}
    for f in report.files:
        q = pq.read_table(root / f.quarantine_file).to_pylist() if f.quarantine_file else []
        b = pq.read_table(root / f.bronze_file).select(["worker_id", "fte_pct", "_source_row"]).to_pylist()
        out[f.source_file] = (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined, f.quarantine_by_rule, b,
                              sorted((r["_source_row"], r["rule"], r["value"], r["message"]) for r in q))
    return out


def test_small_files_share_one_validation_and_keys_are_unique_per_file(tmp_path, monkeypatch):
    root = tmp_path / "data"
    _land(root, SNAPSHOTS)
    rules = CountingRules()
    grouped = ingestion.ingest_family("hris", root, "b1", row_rules=rules, entities=["workers"])
    assert rules.calls == [7]                                   # one GX call for the three files
    result = _outcome(root, grouped)
    assert [f.source_file for f in grouped.files] == list(SNAPSHOTS)    # delivery order kept
    first, second, third = (result[rel] for rel in SNAPSHOTS)
    assert first[:5] == ("loaded", 2, 2, 0, {})                 # W1, W2 again in the next files: no duplicate
    assert second[:5] == ("loaded", 2, 1, 1, {"expect_column_values_to_be_between:fte_pct": 1})
    assert second[6][0][:3] == (2, "expect_column_values_to_be_between:fte_pct", "180")
    assert "hris/workers_2025-03-30.csv record 2" in second[6][0][3]
    assert third[:5] == ("loaded", 3, 2, 1, {"duplicate_key": 1})
    assert [r[:2] for r in third[6]] == [(3, "duplicate_key")]
    assert [v["success"] for f in grouped.files for v in f.validation] == [True, False, False]
    assert sum(len(f.gx_results) for f in grouped.files) == 1   # one stored result, one Data Docs page

    # the same files one by one (each file above the grouping size streams alone): the same outcome
    alone_root = tmp_path / "alone"
    _land(alone_root, SNAPSHOTS)
    monkeypatch.setattr(engine, "GROUP_FILE_BYTES", 0)
    rules = CountingRules()
    alone = ingestion.ingest_family("hris", alone_root, "b1", row_rules=rules, entities=["workers"])
    assert rules.calls == [2, 2, 3]
    assert _outcome(alone_root, alone) == result


def test_a_group_is_cut_at_its_row_limit(tmp_path, monkeypatch):
    root = tmp_path / "data"
    _land(root, SNAPSHOTS)
    monkeypatch.setattr(engine, "GROUP_ROWS", 4)
    rules = CountingRules()
    report = ingestion.ingest_family("hris", root, "b1", row_rules=rules, entities=["workers"])
    assert rules.calls == [4, 3]
    assert [f.rows_loaded for f in report.files] == [2, 1, 2]


def test_the_same_bytes_twice_in_one_delivery_load_once(tmp_path):
    root = tmp_path / "data"
    rows = SNAPSHOTS["hris/workers_2025-03-29.csv"]
    _land(root, {"hris/workers_2025-03-29.csv": rows, "hris/workers_2025-03-30.csv": rows})
    report = ingestion.ingest_family("hris", root, "b1", row_rules=CountingRules(), entities=["workers"])
    first, second = report.files
    assert first.status == "loaded" and second.status == "duplicate"
    assert "byte-identical to hris/workers_2025-03-29.csv" in second.reason
    assert not (root / "landing" / "hris" / "workers_2025-03-30.csv").exists()   # set aside in rejected/


@pytest.mark.parametrize("group_file_bytes", [0, engine.GROUP_FILE_BYTES])
def test_rows_read_equal_loaded_plus_quarantined(tmp_path, monkeypatch, group_file_bytes):
    monkeypatch.setattr(engine, "GROUP_FILE_BYTES", group_file_bytes)
    root = tmp_path / "data"
    # a malformed record mid-file: the reader starts over record by record, inside a group too
    _land(root, {**SNAPSHOTS, "hris/workers_2025-04-01.csv": ["W7,Cy,Oz,c@x.org,2019-07-07,50,,no", "W9,too,few",
                                                               "W8,Di,Pa,d@x.org,2019-07-07,50,,no"]})
    report = ingestion.ingest_family("hris", root, "b1", row_rules=row_rules, entities=["workers"])
    manifest = ingestion.read_manifest(root).to_pylist()
    assert [row["status"] for row in manifest] == ["loaded"] * 4
    for row in manifest:
        assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"], row
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (10, 7, 3)
    assert report.files[-1].quarantine_by_rule == {"malformed_record": 1}
