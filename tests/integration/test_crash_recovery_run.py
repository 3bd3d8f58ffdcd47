"""After a crash (DECISIONS D81–D83): a run killed with ``kill -9`` never wedges the next one.

Here: a run waiting for the writer pool says who holds it and stops on SIGTERM. The clean-up of
what a killed ingestion leaves half-written is tests/unit/test_crash_recovery.py. The kills
themselves (every stage, then a rerun that recovers the dead run and publishes a clean run's
figures) and a report-only run through Dagster's API are in the fault suite (tests/faults,
`make test-faults`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT

CLI = str(Path(sys.executable).with_name("training-impact"))
COMPANY = {"employees": 300, "years": 2, "seed": 23}
RUN_TIMEOUT = 1200  # seconds; a run of this company takes 1-5 minutes on 2 busy cores


def _env(root: Path) -> dict:
    env = {**os.environ, "TI_ENV": "development", "TI_DATA_DIR": str(root),
           "DAGSTER_HOME": str(root / "dagster_home"), "TI_DBT_COLUMN_METADATA": "0"}
    env.pop("TI_RUN_LOCK_TIMEOUT", None)
    return env


def _run(root: Path, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    """``training-impact run`` in its own process group; a run that hangs is killed and fails the test."""
    process = subprocess.Popen([CLI, "run", "--data", str(root), *args], env=_env(root), cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"`training-impact run` still running after {timeout}s (wedged?)\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _wait_for_line(process: subprocess.Popen, wanted, timeout: float) -> str | None:
    """The first stdout line of ``process`` for which ``wanted(line)`` is true, or None after ``timeout``."""
    import queue
    import threading

    lines: queue.Queue = queue.Queue()
    if not hasattr(process, "_reader"):
        def pump():
            for line in process.stdout:
                lines.put(line)
            lines.put(None)
        process._lines = lines
        process._reader = threading.Thread(target=pump, daemon=True)
        process._reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = process._lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            return None
        if wanted(line):
            return line
    return None


def _instance(root: Path):
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "dagster_home")))


def _pool_runs(instance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info("duckdb_warehouse")
    return {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}


BLOCKED_RUN = """
import sys
from training_impact.pipeline import run_pipeline
from training_impact.settings import data_paths

run_pipeline(data_paths(sys.argv[1]), groups=["published"])
"""


def test_a_run_blocked_by_the_pool_says_so_and_stops_on_sigterm(tmp_path, monkeypatch):
    """A live run of another data root on the same instance holds the writer pool: the waiting run
    reports who holds it (stdout and the run's log) and a SIGTERM ends it instead of being ignored."""
    import socket
    import uuid

    import dagster as dg

    from training_impact.pipeline import prepare_dagster_home
    from training_impact.run_lock import process_start_ticks
    from training_impact.settings import data_paths

    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    prepare_dagster_home(data_paths(root))
    holder_run = str(uuid.uuid4())
    instance = _instance(root)
    instance.add_run(dg.DagsterRun(job_name="training_impact_pipeline", run_id=holder_run,
                                   status=dg.DagsterRunStatus.STARTED,
                                   tags={"training_impact/pid": str(os.getpid()),
                                         "training_impact/host": socket.gethostname(),
                                         "training_impact/pid_start_ticks": str(process_start_ticks(os.getpid())),
                                         "training_impact/data_root": str(tmp_path / "other")}))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("duckdb_warehouse")
    assert storage.claim_concurrency_slot("duckdb_warehouse", holder_run, "training_impact_dbt").is_claimed

    env = {**_env(root), "TI_POOL_WAIT_WARN_SECONDS": "3"}
    blocked = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, str(root)], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        warning = _wait_for_line(blocked, lambda line: "blocked by pool duckdb_warehouse" in line, 600)
        assert warning is not None, "no word of the blocked step on stdout"
        assert "WARNING" in warning and holder_run in warning, warning
        blocked_run = json.loads((root / "run.lock").read_text())["run_id"]
        os.kill(blocked.pid, signal.SIGTERM)
        code = blocked.wait(timeout=60)
    finally:
        if blocked.poll() is None:
            os.killpg(blocked.pid, signal.SIGKILL)
            blocked.wait()
    assert code != 0
    run = instance.get_run_by_id(blocked_run)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert any("blocked by pool duckdb_warehouse" in (e.message or "") for e in instance.all_logs(blocked_run))
    assert _pool_runs(instance) == {holder_run}  # the live holder keeps its slot; the waiter left none behind
    assert instance.get_run_by_id(holder_run).status == dg.DagsterRunStatus.STARTED
    instance.dispose()
