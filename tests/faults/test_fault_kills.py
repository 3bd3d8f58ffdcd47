"""kill -9 of a whole `training-impact run` at each stage, then a plain rerun (no human action).

Issue 13: a crash never wedges the pipeline or loads data twice. After the kill the
rerun must complete, and what BI reads (the kpi_* tables and publish_info of the
serving DuckDB file, every Parquet file; run ids and timestamps aside) must equal a
clean run on a copy of the same files; each landing file is loaded exactly once.
"""

from __future__ import annotations

import re
import time

import pytest
from faults_support import (
    RUN_TIMEOUT,
    Run,
    assert_loaded_exactly_once,
    assert_same_as_clean,
    copy_root,
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
