"""Privacy (SECURITY.md) after a real run: a canary scan of everything outside the raw zone,
keyed pseudonyms in staging, no key in any artifact, owner-only files."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from training_impact.privacy import DEVELOPMENT_KEY, pseudonymize
from privacy_support import DEV_KEY, _WORD, _leaks, _scan_duckdb
from repo_paths import REPO_ROOT


# ----------------------------------------------------------------------------- after a real run

def _canaries(paths) -> dict[str, str]:
    """Every direct identifier the generator planted or delivered: truth.json's canaries
    (free text and roster) plus each worker's name, e-mail, national id and raw id."""
    truth = json.loads(paths.truth.read_text(encoding="utf-8"))
    out = {c["value"]: f"truth canary {c['kind']}/{c.get('field', '')}" for c in truth["canaries"]}
    for path in sorted((paths.bronze / "workers").glob("*.parquet")):
        table = pq.read_table(path, columns=["worker_id", "first_name", "last_name", "email", "national_id"])
        for row in table.to_pylist():
            out[row["worker_id"]] = "worker_id"
            out[f"{row['first_name']} {row['last_name']}"] = "name"
            out[row["email"]] = "email"
            out[row["national_id"]] = "national_id"
    return {k: v for k, v in out.items() if k}


@pytest.fixture(scope="module")
def scanned(pipeline_run, tmp_path_factory):
    paths, _ = pipeline_run
    canaries = _canaries(paths)
    canary_words = {c: set(_WORD.findall(c)) for c in canaries}
    return paths, canaries, canary_words


def test_the_generator_planted_canaries_the_run_received(scanned):
    paths, canaries, canary_words = scanned
    assert {"worker_id", "name", "email", "national_id"} <= set(canaries.values())
    truth = json.loads(paths.truth.read_text(encoding="utf-8"))
    assert {c["kind"] for c in truth["canaries"]} == {"email", "phone", "roster_name", "national_id", "worker_record"}
    assert all(c["value"] in canaries for c in truth["canaries"])
    # the raw zone does hold them: a scan that finds nothing there would prove nothing
    bronze_text = "\n".join(str(v) for path in (paths.bronze / "survey_responses").glob("*.parquet")
                            for v in pq.read_table(path, columns=["feedback_text"]).column(0).to_pylist() if v)
    in_text = {c["value"] for c in truth["canaries"] if c["kind"] != "worker_record"}
    assert set(_leaks(bronze_text, canaries, canary_words)) >= in_text


def test_no_canary_in_the_warehouse_outside_bronze(scanned):
    paths, canaries, canary_words = scanned
    assert _scan_duckdb(paths.warehouse, canaries, canary_words) == {}


def test_no_canary_in_the_serving_copy_or_its_parquet(scanned):
    paths, canaries, canary_words = scanned
    serving = paths.root / "serving"
    assert (serving / "training_impact.duckdb").exists()
    assert _scan_duckdb(serving / "training_impact.duckdb", canaries, canary_words) == {}
    parquet = sorted((serving / "parquet").glob("*.parquet"))
    assert parquet
    for path in parquet:
        table = pq.read_table(path)
        text = "\n".join(str(v) for name in table.column_names for v in set(table.column(name).to_pylist()))
        assert _leaks(text, canaries, canary_words) == [], path


def _files(folder: Path, suffixes: tuple[str, ...]):
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes]


def test_no_canary_in_gx_results_data_docs_or_the_report(scanned):
    paths, canaries, canary_words = scanned
    gx_files = _files(paths.gx, (".json", ".html"))
    reports = _files(paths.root / "reports", (".html",))
    assert gx_files and reports
    for path in gx_files + reports:
        hits = _leaks(path.read_text(encoding="utf-8", errors="replace"), canaries, canary_words)
        assert hits == [], (path, hits[:5])


def test_no_canary_in_dagster_run_storage(scanned):
    """Asset metadata, check descriptions and logs the run stored."""
    paths, canaries, canary_words = scanned
    files = [p for p in Path(os.environ["DAGSTER_HOME"]).rglob("*") if p.is_file()]
    assert files
    for path in files:
        hits = _leaks(path.read_bytes().decode("utf-8", errors="replace"), canaries, canary_words)
        assert hits == [], (path, hits[:5])


def test_no_canary_in_the_quarantine_export_and_worker_ids_are_pseudonyms(scanned, tmp_path):
    from training_impact.expectations.export import export_quarantine_csv

    paths, canaries, canary_words = scanned
    out = tmp_path / "quarantine.csv"
    assert export_quarantine_csv(paths.root, out) > 0
    text = out.read_text(encoding="utf-8-sig")
    assert _leaks(text, canaries, canary_words) == []
    assert not re.search(r"\bW\d{7}\b", text)            # not even an orphan's raw id
    rows = list(csv.DictReader(text.splitlines()))
    assert "record_json" not in rows[0]
    worker_values = [r["value"] for r in rows if r["column"] == "worker_id" and r["value"]]
    assert worker_values and all(v.startswith("p_") for v in worker_values)


def test_staging_carries_the_keyed_pseudonym_of_every_worker(scanned):
    paths, canaries, _ = scanned
    raw_ids = sorted(c for c, kind in canaries.items() if kind == "worker_id")
    with duckdb.connect(str(paths.warehouse), read_only=True) as conn:
        staged = {r[0] for r in conn.execute("select worker_id from main_staging.stg_hris__workers").fetchall()}
        survey_text = [r[0] for r in conn.execute(
            "select feedback_text from main_staging.stg_surveys__survey_responses where feedback_text like '%[%'"
        ).fetchall()]
    assert staged == {pseudonymize(w, DEV_KEY) for w in raw_ids}
    for placeholder in ("[EMAIL]", "[PHONE]", "[NAME]", "[NATIONAL_ID]"):
        assert any(placeholder in t for t in survey_text), placeholder


def test_the_key_never_reaches_dbt_artifacts_or_logs(scanned):
    """Compiled SQL, manifests, run results, dbt's log and Dagster's event log (the run's
    key is the published development key, so it is searchable)."""
    needle = DEVELOPMENT_KEY.encode()
    dbt_dir = REPO_ROOT / "dbt_project"
    checked = 0
    for folder in (dbt_dir / "target", dbt_dir / "logs", Path(os.environ["DAGSTER_HOME"])):
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    assert needle not in path.read_bytes(), path
                    checked += 1
            except FileNotFoundError:
                continue    # another dbt invocation cleaning its own target
    assert checked > 10


def test_raw_zone_and_warehouse_are_owner_only(scanned):
    paths, _, _ = scanned
    for folder in (paths.bronze, paths.bronze / "_quarantine", paths.rejected, paths.warehouse.parent, paths.gx):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [p for p in paths.bronze.rglob("*.parquet")] + [paths.warehouse]
    assert len(files) > 10
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_no_canary_in_the_audit_trail_outside_its_input_copies(scanned):
    """Ledger, KPI history, trace members and OpenLineage events: pseudonyms only.
    (audit/inputs/ keeps the raw landing bytes for reproduction: raw zone, owner-only, SECURITY.md.)"""
    paths, canaries, canary_words = scanned
    audit = paths.root / "audit"
    files = [p for p in audit.rglob("*") if p.is_file() and "inputs" != p.relative_to(audit).parts[0]]
    assert any(p.suffix == ".parquet" for p in files) and (audit / "openlineage.ndjson") in files
    for path in files:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = "\n".join(str(v) for name in table.column_names for v in set(table.column(name).to_pylist()))
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        assert _leaks(text, canaries, canary_words) == [], path
