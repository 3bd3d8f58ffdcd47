"""One run per data root (DECISIONS D80): real processes race for ``<data root>/run.lock``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT

CLI = str(Path(sys.executable).with_name("training-impact"))

HOLD = """
import sys, time
from training_impact import run_lock
lock = run_lock.acquire(sys.argv[1], run_id=sys.argv[2], timeout=0)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


def _env(root: Path) -> dict:
    env = {**os.environ, "TI_ENV": "development", "TI_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "PYTHONPATH": str(REPO_ROOT)}
    env.pop("TI_RUN_LOCK_TIMEOUT", None)
    return env


def _hold(root: Path, run_id: str, seconds: float = 120) -> subprocess.Popen:
    """A real process that takes the run lock of ``root`` and keeps it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root), run_id, str(seconds)], env=_env(root),
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_second_run_waits_then_exits_nonzero_naming_the_holder(tmp_path):
    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    holder = _hold(root, "run-of-the-first-trigger")
    try:
        started = time.monotonic()
        second = subprocess.run([CLI, "run", "--data", str(root), "--lock-timeout", "3"], env=_env(root),
                                capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
        waited = time.monotonic() - started
    finally:
        _stop(holder)
    assert second.returncode == 3, (second.returncode, second.stdout[-2000:], second.stderr[-2000:])
    message = second.stderr
    assert f"pid {holder.pid}" in message and socket.gethostname() in message, message
    assert "run-of-the-first-trigger" in message and "since 20" in message, message
    assert waited >= 3, waited
    # it never started a Dagster run, nor read a landing file
    assert not (root / "bronze" / "_manifest").exists() or not any((root / "bronze" / "_manifest").iterdir())


def test_lock_of_a_killed_process_is_recovered(tmp_path):
    from training_impact import run_lock

    root = tmp_path / "data"
    holder = _hold(root, "run-that-dies")
    info = json.loads((root / "run.lock").read_text())
    assert info["pid"] == holder.pid and info["host"] == socket.gethostname() and info["run_id"] == "run-that-dies"
    assert run_lock.holder(root)["pid"] == holder.pid
    with pytest.raises(run_lock.RunLockBusy, match=f"pid {holder.pid}"):
        run_lock.acquire(root, timeout=0.5)
    os.killpg(holder.pid, signal.SIGKILL)  # kill -9: no chance to release anything
    holder.wait(timeout=30)
    assert json.loads((root / "run.lock").read_text())["pid"] == holder.pid  # the file still names the dead owner
    assert run_lock.holder(root) is None
    notes = []
    lock = run_lock.acquire(root, run_id="next-run", timeout=0, log=notes.append)
    try:
        assert lock.recovered["pid"] == holder.pid
        assert any("stale" in note and f"pid {holder.pid}" in note for note in notes), notes
        assert json.loads((root / "run.lock").read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    assert run_lock.holder(root) is None


def test_hand_written_lock_of_a_dead_pid_is_recovered(tmp_path):
    from training_impact import run_lock

    root = tmp_path / "data"
    root.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (root / "run.lock").write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(),
                                               "since": "2026-01-01T02:00:00+00:00", "run_id": "old"}))
    lock = run_lock.acquire(root, timeout=0)
    try:
        assert lock.recovered["run_id"] == "old"
    finally:
        lock.release()


def test_sensor_and_schedule_skip_while_a_run_holds_the_lock(tmp_path, monkeypatch):
    import dagster as dg

    from training_impact.orchestration.defs.schedules import nightly_schedule
    from training_impact.orchestration.defs.sensors import landing_sensor
    from training_impact.orchestration.resources import unset_resources

    root = tmp_path / "data"
    (root / "landing" / "lms").mkdir(parents=True)
    (root / "landing" / "lms" / "enrollments_2026-10-31.csv").write_text("worker_id\nW1\n")
    os.utime(root / "landing" / "lms" / "enrollments_2026-10-31.csv", (time.time() - 3600,) * 2)
    monkeypatch.setenv("TI_DATA_DIR", str(root))
    holder = _hold(root, "nightly-run")
    try:
        with dg.instance_for_test() as instance:
            skipped = landing_sensor(dg.build_sensor_context(instance=instance, resources=unset_resources()))
            assert isinstance(skipped, dg.SkipReason), skipped
            assert f"pid {holder.pid}" in skipped.skip_message and "nightly-run" in skipped.skip_message
            tick = nightly_schedule(dg.build_schedule_context(instance=instance, resources=unset_resources()))
            assert isinstance(tick, dg.SkipReason), tick
            assert f"pid {holder.pid}" in tick.skip_message
    finally:
        _stop(holder)
    with dg.instance_for_test() as instance:
        requests = landing_sensor(dg.build_sensor_context(instance=instance, resources=unset_resources()))
        assert not isinstance(requests, dg.SkipReason) and len(requests) == 1, requests
        assert isinstance(nightly_schedule(dg.build_schedule_context(instance=instance, resources=unset_resources())), dg.RunRequest)
