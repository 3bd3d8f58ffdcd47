"""kill -9 of a whole `training-impact run` at each stage, then a plain rerun (no human action).

Issue 13: a crash never wedges the pipeline or loads data twice. After the kill the
rerun must complete, and what BI reads (the kpi_* tables and publish_info of the
serving DuckDB file, every Parquet file; run ids and timestamps aside) must equal a
clean run on a copy of the same files; each landing file is loaded exactly once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from faults_support import (
    RUN_TIMEOUT,
    Run,
    assert_loaded_exactly_once,
    assert_same_as_clean,
    REPO_ROOT,
    copy_root,
    dagster_instance,
    ledger_row,
    pool_runs,
    served_state,
    warehouse_kpis,
)

pytestmark = pytest.mark.faults

DBT_NODE = re.compile(r"^\d+ of \d+ (OK|PASS)\b")


def _files(root, pattern: str) -> int:
    return sum(1 for _ in root.glob(pattern))


# stage → (start from: a first night `pristine` or a loaded root `clean`, what shows the run is in that stage)
STAGES = {
    # mid-family: some finance files loaded (bronze + manifest), the rest not yet
    "ingestion": ("pristine", lambda run: run.stdout_has(r"ingest_finance\s+started")
                  and _files(run.root, "bronze/cost_lines/*.parquet") >= 5),
    # files of the family loaded, GX results written, the gate's check results being emitted
    "checks": ("pristine", lambda run: run.stderr_has(r" - ingest_lms - ASSET_CHECK_EVALUATION - ")),
    # dbt has rebuilt part of the warehouse
    "dbt": ("clean", lambda run: sum(1 for line in list(run.out) if DBT_NODE.match(line)) >= 60),
    # the new serving version is being written (hidden folder in serving/versions)
    "publishing": ("clean", lambda run: run.stdout_has(r"published_marts\s+started")
                   and _files(run.root, "serving/versions/.v*") > 0),
    # the audit ledger step is writing the ledger / the audit schema
    "audit": ("clean", lambda run: run.stdout_has(r"audit_ledger\s+started")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_9_at_each_stage_then_a_plain_rerun_matches_a_clean_run(stage, fault_company, clean_run, tmp_path):
    start, in_stage = STAGES[stage]
    root = copy_root(fault_company if start == "pristine" else clean_run["root"], tmp_path / "root")
    victim = Run(root, "victim")
    reached = victim.wait_until(lambda: in_stage(victim), timeout=RUN_TIMEOUT)
    if stage == "audit" and reached:
        time.sleep(0.3)  # inside the step: the ledger is being written
    victim.kill()
    assert reached, f"the run never reached stage {stage!r} (it ended or timed out first):\n{victim.tail()}"
    dead_run = json.loads((root / "run.lock").read_text())["run_id"]  # the lock names its (now dead) owner
    if start == "clean":  # BI still reads the last good set, whole
        assert_same_as_clean(root, clean_run["state"])
        assert served_state(root)["run_id"] == clean_run["state"]["run_id"] or stage == "audit"

    rerun = Run(root, "rerun")
    code = rerun.finish()
    assert code is not None, f"the rerun after a kill at {stage} did not finish in {RUN_TIMEOUT:.0f}s " \
                             f"(wedged?):\n{rerun.tail()}"
    assert code == 0, f"the rerun after a kill at {stage} failed (exit {code}):\n{rerun.tail()}"
    assert warehouse_kpis(root) == clean_run["kpis"], "warehouse kpi_* marts differ from a clean run"
    assert_same_as_clean(root, clean_run["state"])
    assert_loaded_exactly_once(root, clean_run["manifest"])
    _assert_dead_run_recovered(root, dead_run, rerun, stage)


def _assert_dead_run_recovered(root, dead_run: str, rerun: Run, stage: str) -> None:
    """The rerun marked the dead run failed and aborted, freed its pool slot and wrote its ledger row
    (unless the dead run had written its own success row before the kill, which stays)."""
    import dagster as dg

    instance = dagster_instance(root)
    try:
        dead = instance.get_run_by_id(dead_run)
        if dead is None:  # killed before Dagster recorded the run: nothing to recover in run storage
            assert not pool_runs(instance)
            return
        assert f"run {dead_run} was STARTED but its process is gone" in rerun.text, rerun.tail()
        assert dead.status == dg.DagsterRunStatus.FAILURE, dead.status
        assert dead.tags.get("training_impact/aborted") == "true", dead.tags
        assert not pool_runs(instance), "a pool slot is still claimed after the rerun"
        others = [r for r in instance.get_runs() if r.run_id != dead_run and r.status != dg.DagsterRunStatus.SUCCESS]
        assert not others, [(r.run_id, r.status) for r in others]
    finally:
        instance.dispose()
    row = ledger_row(root, dead_run)
    if stage == "audit" and row["status"] == "success":
        # Killed after audit_ledger wrote its row and before the step ended (publishing the audit
        # schema): the dead run had published, and the ledger is append-only, so its row stays.
        assert row["published"] is True, row
    else:
        assert row["status"] == "aborted" and row["published"] is False, row
    assert not list((root / "bronze").rglob(".*.tmp")), "a temp file of the dead run is left in bronze"


SUBSET_RUN = """
import dagster as dg
from training_impact.orchestration.definitions import defs

job = defs.resolve_implicit_global_asset_job_def()
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("kpi_report")],
                                    raise_on_error=False)
print("RESULT", result.run_id, result.success)
"""


def test_report_only_run_through_dagster_writes_a_ledger_entry(clean_run, tmp_path):
    """A run of one asset from the UI or the API (here the report) still passes the run guard and the ledger."""
    import os

    root = copy_root(clean_run["root"], tmp_path / "root")
    report = root / "reports" / "kpi_report.html"
    before = report.stat().st_mtime_ns
    runs_before = {p.stem for p in (root / "audit" / "ledger" / "runs").glob("*.parquet")}
    env = {**os.environ, "TI_ENV": "development", "TI_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home")}
    done = subprocess.run([sys.executable, "-c", SUBSET_RUN], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    _, run_id, success = next(line for line in done.stdout.splitlines() if line.startswith("RESULT")).split()
    assert success == "True", done.stderr[-4000:]
    assert report.stat().st_mtime_ns != before  # a published output changed
    assert run_id not in runs_before
    row = ledger_row(root, run_id)
    assert row["status"] == "success" and row["published"] is True
    instance = dagster_instance(root)
    try:
        tags = instance.get_run_by_id(run_id).tags
    finally:
        instance.dispose()
    assert tags.get("training_impact/data_root") == str(root.resolve())  # it went through the run guard
