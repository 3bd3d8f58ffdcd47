"""Two triggers at once on one data root (a cron run and a sensor run, or an operator): files load once."""

from __future__ import annotations

import pytest
from faults_support import RUN_TIMEOUT, Run, assert_loaded_exactly_once, assert_same_as_clean, copy_root

pytestmark = pytest.mark.faults


def test_two_concurrent_runs_on_one_root_load_each_landing_file_once(fault_company, clean_run, tmp_path):
    root = copy_root(fault_company, tmp_path / "root")
    first, second = Run(root, "first"), Run(root, "second")
    codes = [first.finish(2 * RUN_TIMEOUT), second.finish(2 * RUN_TIMEOUT)]
    outputs = {run.name: run.tail(12) for run in (first, second)}
    assert None not in codes, f"a run did not finish (wedged?): {codes}\n{outputs}"
    assert 0 in codes, f"neither run succeeded: {codes}\n{outputs}"
    for run, code in zip((first, second), codes):
        if code != 0:  # the run lock: the loser waits, then says who holds the root
            other = second if run is first else first
            text = run.text.lower()
            assert "lock" in text or str(other.pid) in text, (
                f"{run.name} exited {code} without naming the run holding the data root:\n{run.tail()}")
    assert_loaded_exactly_once(root, clean_run["manifest"])
    assert_same_as_clean(root, clean_run["state"])
