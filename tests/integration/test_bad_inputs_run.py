"""Bad inputs in the real pipeline (Dagster + GX + dbt): a blocked run leaves every published
output byte-identical, Data Docs are built and printed. The catalogue itself runs through
ingestion and GX in tests/unit/test_bad_inputs.py.
"""

from __future__ import annotations

import hashlib
import os

from training_impact import ingestion
from bad_inputs_support import CASES, land


# ----------------------------------------------------------------------------- the real pipeline

def _published_state(paths) -> dict[str, str]:
    """sha256 of every file the run may publish: everything under the data root except the
    inputs and the audit trail (landing, bronze, rejected, GX results, Dagster's own storage, and
    audit/, which records the blocked run too: checked apart, append-only)."""
    skip = {"landing", "bronze", "rejected", "gx", "dagster_home", "audit"}
    state = {}
    for path in sorted(paths.root.rglob("*")):
        rel = path.relative_to(paths.root)
        if path.is_file() and rel.parts[0] not in skip and rel.name != "truth.json" and not rel.name.endswith(".wal"):
            state[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def _audit_state(paths) -> dict[str, str]:
    return {path.relative_to(paths.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((paths.root / "audit").rglob("*")) if path.is_file()}


def _marts(paths) -> dict[str, list[tuple]]:
    import duckdb

    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main_marts'").fetchall()]
        return {name: con.execute(f'select * from main_marts."{name}" order by all').fetchall() for name in names}


def test_blocked_run_leaves_published_outputs_byte_identical(copy_of_run):
    from training_impact.pipeline import run_pipeline

    paths = copy_of_run
    before_files, before_marts = _published_state(paths), _marts(paths)
    before_audit = _audit_state(paths)
    before_audit_ndjson = (paths.root / "audit/openlineage.ndjson").read_bytes()
    assert paths.warehouse.relative_to(paths.root).as_posix() in before_files and before_marts
    # a late family blocks: a finance extract without its posting_date column
    land(paths.root, {c["id"]: c for c in CASES}["finance-09"], "finance/cost_lines_2026-11.csv")

    outcome = run_pipeline(paths)

    assert not outcome.success
    failed = {(c["asset"], c["check"]) for c in outcome.check_results if not c["passed"] and c["severity"] == "ERROR"}
    assert failed == {("bronze/cost_lines", "quality_gate")}, failed
    assert "bronze/workers" in outcome.materialized                      # the families before it loaded
    assert not [key for key in outcome.materialized if key.split("/")[0] not in ("bronze",)]
    assert _published_state(paths) == before_files           # byte for byte, warehouse file included
    assert _marts(paths) == before_marts
    # the audit trail only grows: the blocked run is recorded as failed, nothing earlier is rewritten
    after_audit = _audit_state(paths)
    rewritten = {rel for rel, digest in before_audit.items()
                 if rel != "audit/openlineage.ndjson" and after_audit.get(rel) != digest}
    assert not rewritten, rewritten
    assert (paths.root / "audit/openlineage.ndjson").read_bytes().startswith(before_audit_ndjson)
    assert any(outcome.run_id in rel for rel in set(after_audit) - set(before_audit))
    rejected = [r for r in ingestion.read_manifest(paths.root).to_pylist()
                if r["batch_id"] == outcome.run_id and r["status"] == "rejected"]
    assert [r["source_file"] for r in rejected] == ["finance/cost_lines_2026-11.csv"]
    assert (paths.rejected / outcome.run_id / "finance" / "cost_lines_2026-11.csv.reason.txt").is_file()


def test_reconciliation_and_data_docs_in_a_real_run(pipeline_run, capsys):
    """The shared small company through the real pipeline: every file reconciled by a Dagster check, and
    the GX Data Docs site built, named in the run's metadata and printed with the output locations."""
    import dagster as dg

    from training_impact.summary import print_output_locations

    paths, outcome = pipeline_run

    index = paths.gx / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.is_file()
    reconciliation = [c for c in outcome.check_results if c["check"] == "reconciliation"]
    assert reconciliation and all(c["passed"] for c in reconciliation), reconciliation
    assert all("rows read =" in c["description"] for c in reconciliation)
    # The run's own event, in the Dagster home it used: its data root's, or $DAGSTER_HOME when an earlier
    # run of this test process set it (later runs of the session then share that home).
    from dagster._core.instance.ref import InstanceRef

    events = []
    for home in {str(paths.dagster_home), os.environ.get("DAGSTER_HOME") or str(paths.dagster_home)}:
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
            events += instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    [event] = [e for e in events if e.dagster_event.asset_key == dg.AssetKey(["bronze", "workers"])]
    assert event.asset_materialization.metadata["data_docs"].value == str(index)
    pages = list((index.parent / "validations" / "workers").rglob("*.html"))
    assert pages and outcome.run_id in str(pages[0])
    capsys.readouterr()
    print_output_locations(paths)
    assert f"GX Data Docs:       {index}" in capsys.readouterr().out
