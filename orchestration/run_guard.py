"""The ``run_guard`` resource: every run takes the data root's run lock first (DECISIONS D80–D83).

Every asset requires it, so whatever launched the run (CLI, schedule, sensor, the UI
with any subset of assets) its setup happens once, in the run's process, before the
first step (the job and the implicit asset job run in process):

- setup: take the run lock of the data root (``training_impact.run_lock``; waits up to
  the engine resource's ``run_lock_timeout`` (TI_RUN_LOCK_TIMEOUT) seconds, then the run fails naming the holder; a CLI run
  already holds it and passes straight through), tag the run with its pid / host so a
  later run can tell whether it is alive, recover what dead runs left
  (``orchestration.recovery.recover_stale_runs``), and start a watchdog that reports a
  step blocked by the ``duckdb_warehouse`` pool and stops the run on SIGTERM while it
  is blocked;
- teardown: a run that changed a published output (``published_marts``, ``kpi_report``)
  without the ``audit_ledger`` step (a subset launched from the UI) is written to the
  audit ledger here; then the lock is released.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import dagster as dg

from training_impact.orchestration.recovery import (
    WAREHOUSE_POOL,
    free_run_slots,
    pool_holders,
    process_tags,
    recover_stale_runs,
)
from training_impact import run_lock

RUN_GUARD = "run_guard"
PUBLISHED_ASSETS = ("published_marts", "kpi_report")
LEDGER_ASSET = "audit_ledger"


def sigterm_captured() -> bool:
    """True when Dagster captured a SIGTERM/SIGINT it has not acted on yet (it defers them during a run)."""
    try:
        from dagster._utils.interrupts import check_captured_interrupt
    except ImportError:  # pragma: no cover - private helper moved
        return False
    return check_captured_interrupt()


class PoolWatchdog(threading.Thread):
    """Reports a step of this run blocked by the warehouse pool, and stops the run on SIGTERM while blocked.

    Dagster waits for a pool slot in a loop that neither logs above DEBUG nor looks at
    SIGTERM (it captures the signal and checks it between steps); this thread makes the
    wait visible on stdout and in the run's log, and ends the process when asked to.
    """

    def __init__(self, instance, run, paths, lock_release, *, warn_after: float, interval: float = 2.0):
        # warn_after: the engine resource's pool_warn_seconds (TI_POOL_WAIT_WARN_SECONDS)
        super().__init__(name="training-impact-pool-watchdog", daemon=True)
        self.instance, self.dagster_run, self.paths, self.lock_release = instance, run, paths, lock_release
        self.interval = interval
        self.warn_after = float(warn_after)
        self.stopped = threading.Event()

    def _blocked_steps(self) -> list[str]:
        storage = self.instance.event_log_storage
        info = storage.get_concurrency_info(WAREHOUSE_POOL)
        claimed = {(s.run_id, s.step_key) for s in info.claimed_slots}
        return [p.step_key for p in info.pending_steps
                if p.run_id == self.dagster_run.run_id and (p.run_id, p.step_key) not in claimed and p.assigned_timestamp is None]

    def _say(self, message: str, level: str = "WARNING") -> None:
        print(f"training-impact {level}: {message}", flush=True)
        try:
            self.instance.report_engine_event(f"{level}: {message}", self.dagster_run)
        except Exception:
            pass

    def run(self) -> None:  # noqa: D401 - thread body
        blocked_since: float | None = None
        last_warned = 0.0
        while not self.stopped.wait(self.interval):
            try:
                if not getattr(self.instance.event_log_storage, "supports_global_concurrency_limits", False):
                    return
                steps = self._blocked_steps()
            except Exception:
                continue
            if not steps:
                blocked_since = None
                continue
            now = time.monotonic()
            blocked_since = blocked_since or now
            waited = now - blocked_since
            holders = pool_holders(self.instance)
            held = ", ".join(f"run {r} step {s}" for r, s in holders) or "no visible holder"
            if sigterm_captured():
                self._terminate(steps, held)
                return
            if waited >= self.warn_after and now - last_warned >= max(self.warn_after, 60.0):
                last_warned = now
                self._say(f"step(s) {', '.join(steps)} of run {self.dagster_run.run_id} blocked by pool {WAREHOUSE_POOL} for "
                          f"{waited:.0f}s; slot held by {held}. A run whose process died is recovered by the next "
                          "run's start (docs/deployment.md, After a crash); SIGTERM stops this run.")

    def _terminate(self, steps: list[str], held: str) -> None:
        message = (f"run {self.dagster_run.run_id} stopped by SIGTERM while step(s) {', '.join(steps)} waited for pool "
                   f"{WAREHOUSE_POOL} (held by {held})")
        self._say(message, "ERROR")
        try:
            self.instance.report_run_failed(self.instance.get_run_by_id(self.dagster_run.run_id), message=message)
            from training_impact.audit.record import record_failed_run
            from training_impact.orchestration import asset_graph

            record_failed_run(self.paths, self.instance, self.dagster_run.run_id, self.dagster_run.job_name, None,
                              asset_graph=asset_graph)
        except Exception as error:  # stopping matters more than the bookkeeping
            print(f"training-impact: bookkeeping after SIGTERM failed: {error}", file=sys.stderr, flush=True)
        finally:
            try:
                # last, just before the exit: meanwhile the step's own wait loop may queue for a slot again
                free_run_slots(self.instance, self.dagster_run.run_id)
            finally:
                try:
                    self.lock_release()
                finally:
                    os._exit(143)


def _materialized(instance, run_id: str) -> set[str]:
    from dagster import DagsterEventType

    keys = set()
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        keys.add(entry.dagster_event.asset_key.to_user_string())
    return keys


def _failed_steps(instance, run_id: str) -> list[str]:
    from dagster import DagsterEventType

    return [entry.dagster_event.step_key for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)]


def record_subset_run(paths, instance, run, log) -> dict | None:
    """Ledger entry for a run that changed a published output but had no ``audit_ledger`` step."""
    from training_impact.audit import store
    from training_impact.audit.record import record_failed_run, record_published_run
    from training_impact.orchestration import asset_graph
    from training_impact.orchestration.dbt_manifest import dbt_project

    if store.ledger_file(paths, "runs", run.run_id).exists():
        return None
    materialized = _materialized(instance, run.run_id)
    changed = sorted(materialized & set(PUBLISHED_ASSETS))
    if not changed or LEDGER_ASSET in materialized:
        return None
    log(f"audit: run {run.run_id} changed {', '.join(changed)} without the {LEDGER_ASSET} step: recording it")
    if _failed_steps(instance, run.run_id):
        return record_failed_run(paths, instance, run.run_id, run.job_name, dbt_project.manifest_path, log=log,
                                 asset_graph=asset_graph)
    return record_published_run(paths, instance, run.run_id, run.job_name, dbt_project.manifest_path, log=log,
                                asset_graph=asset_graph)["row"]


@dg.resource(description="Run lock of the data root, recovery after crashes, ledger entry for subset runs "
                         "(orchestration/run_guard.py).",
             required_resource_keys={"data_root", "engine"})
def run_guard(init_context: dg.InitResourceContext):
    instance, run, log = init_context.instance, init_context.run, init_context.log
    paths, engine = init_context.resources.data_root.paths, init_context.resources.engine
    own = run_lock.held_here(paths.root)
    instance.add_run_tags(run.run_id, process_tags(paths))  # before waiting: a run waiting for the lock is alive
    lock = run_lock.acquire(paths.root, run_id=run.run_id, timeout=engine.value("run_lock_timeout"), log=log.warning,
                            interrupted=sigterm_captured)
    took_here = own is None or not own.held
    if took_here:  # a CLI run recovered before it started; a daemon / UI run does it here
        recover_stale_runs(paths, instance, current_run_id=run.run_id, log=log.warning)
    watchdog = PoolWatchdog(instance, run, paths, lock.release, warn_after=engine.value("pool_warn_seconds"))
    watchdog.start()
    try:
        yield lock
    finally:
        watchdog.stopped.set()
        try:
            record_subset_run(paths, instance, run, log.info)
        except Exception as error:
            log.error(f"audit: could not record run {run.run_id} in the ledger: {error}")
        finally:
            lock.release()
