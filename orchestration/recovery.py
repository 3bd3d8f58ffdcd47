"""Recovery at the start of a run: what a dead run left behind is cleaned up first (DECISIONS D81).

Called by the holder of the data root's run lock (``training_impact.run_lock``) before it
does anything else: by ``training_impact.pipeline.run_pipeline`` (CLI, demo, tests) and by
the ``run_guard`` resource in the first step of a run the daemon or the UI launched.

``recover_stale_runs(paths, instance, current_run_id=None)``:

1. every run of the Dagster instance in STARTING / STARTED / CANCELING whose process is
   gone (pid + host + process start recorded in its tags, else the pid of its in-process
   engine event, on this host) is marked failed in run storage, tagged
   ``training_impact/aborted``, and its concurrency pool slots and pending claims are
   freed; a run on another host is left to Dagster's run monitoring;
2. slots still claimed by runs that have finished (or no longer exist) are freed too;
3. each aborted run of this data root without a ledger row gets one with status
   ``aborted`` (the files it had loaded and its checks);
4. what ingestion left half-done is removed: bronze and quarantine files no manifest row
   lists (written before their manifest row, ingestion/store.py) and hidden ``*.tmp``
   files under bronze/, rejected/ and audit/; a landing file a dead run moved to
   rejected/ before recording it goes back to landing/. Files a dead run had fully loaded (bronze
   file + manifest row) stay: the next run sees them as loaded, as after a clean run.

Returns a ``Recovery`` saying what it did; every action is also logged.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from training_impact.run_lock import pid_alive
from training_impact.settings import Paths

DATA_ROOT_TAG = "training_impact/data_root"
PID_TAG = "training_impact/pid"
HOST_TAG = "training_impact/host"
START_TICKS_TAG = "training_impact/pid_start_ticks"
ABORTED_TAG = "training_impact/aborted"
WAREHOUSE_POOL = "duckdb_warehouse"

Log = Callable[[str], None]


@dataclass
class Recovery:
    marked_failed: list[str] = field(default_factory=list)     # runs marked failed in run storage
    freed_slots: list[str] = field(default_factory=list)       # runs whose pool slots / claims were freed
    ledger_aborted: list[str] = field(default_factory=list)    # runs written to the ledger as aborted
    removed_files: list[str] = field(default_factory=list)     # removed or moved back, relative to the data root
    left_alone: list[str] = field(default_factory=list)        # active runs that could not be judged here

    def __bool__(self) -> bool:
        return bool(self.marked_failed or self.freed_slots or self.ledger_aborted or self.removed_files)


def process_tags(paths: Paths) -> dict[str, str]:
    """Tags a run carries so a later run can tell whether its process is still alive."""
    import os

    from training_impact.run_lock import process_start_ticks

    ticks = process_start_ticks(os.getpid())
    return {DATA_ROOT_TAG: str(paths.root), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(),
            **({START_TICKS_TAG: str(ticks)} if ticks is not None else {})}


def _engine_pid(instance, run_id: str) -> int | None:
    """The pid of the in-process executor ("Executing steps in process (pid: N)")."""
    from dagster import DagsterEventType

    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records:
        event = record.event_log_entry.dagster_event
        metadata = getattr(event.event_specific_data, "metadata", None) or {}
        value = metadata.get("pid")
        if value is not None:
            try:
                return int(getattr(value, "value", value))
            except (TypeError, ValueError):
                return None
    return None


def run_process_alive(instance, run) -> bool | None:
    """True/False when this host can tell; None when the run's process is on another host or unknown."""
    tags = run.tags
    host = tags.get(HOST_TAG)
    if tags.get(PID_TAG):
        if host and host != socket.gethostname():
            return None
        ticks = tags.get(START_TICKS_TAG)
        return pid_alive(int(tags[PID_TAG]), int(ticks) if ticks else None)
    pid = _engine_pid(instance, run.run_id)
    if pid is None:
        return None
    return pid_alive(pid)


def free_run_slots(instance, run_id: str) -> None:
    storage = instance.event_log_storage
    if getattr(storage, "supports_global_concurrency_limits", False):
        storage.free_concurrency_slots_for_run(run_id)


def _slot_runs(instance, pool: str = WAREHOUSE_POOL) -> set[str]:
    storage = instance.event_log_storage
    if not getattr(storage, "supports_global_concurrency_limits", False):
        return set()
    info = storage.get_concurrency_info(pool)
    return {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}


def pool_holders(instance, pool: str = WAREHOUSE_POOL) -> list[tuple[str, str]]:
    """(run id, step key) of every claimed slot of the pool."""
    storage = instance.event_log_storage
    if not getattr(storage, "supports_global_concurrency_limits", False):
        return []
    return [(slot.run_id, slot.step_key) for slot in storage.get_concurrency_info(pool).claimed_slots]


def recover_stale_runs(paths: Paths, instance, current_run_id: str | None = None,
                       log: Log = print) -> Recovery:
    """Clean up after dead runs; the caller must hold the run lock of ``paths.root``."""
    import dagster as dg
    from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES

    done = Recovery()
    root = str(paths.root)
    active = instance.get_runs(filters=dg.RunsFilter(statuses=list(ACTIVE_RUN_STATUSES)))
    for run in active:
        if run.run_id == current_run_id:
            continue
        alive = run_process_alive(instance, run)
        if alive is None:
            done.left_alone.append(run.run_id)
            log(f"recovery: run {run.run_id} is {run.status.value} and its process cannot be checked from this "
                "host; left to Dagster's run monitoring")
            continue
        if alive:
            continue  # a live run (e.g. waiting for the run lock of its data root)
        instance.add_run_tags(run.run_id, {ABORTED_TAG: "true"})
        instance.report_run_failed(
            instance.get_run_by_id(run.run_id),
            message=f"training-impact: the process of this run is gone (recorded pid {run.tags.get(PID_TAG, '?')} on "
                    f"{run.tags.get(HOST_TAG, 'this host')}); marked failed by the recovery of run "
                    f"{current_run_id or 'a new run'}")
        free_run_slots(instance, run.run_id)
        done.marked_failed.append(run.run_id)
        done.freed_slots.append(run.run_id)
        log(f"recovery: run {run.run_id} was {run.status.value} but its process is gone: marked failed, "
            "pool slots freed")
    # Slots claimed by runs that finished without freeing them (or that were deleted).
    for run_id in sorted(_slot_runs(instance) - {current_run_id}):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            free_run_slots(instance, run_id)
            if run_id not in done.freed_slots:
                done.freed_slots.append(run_id)
                log(f"recovery: freed the {WAREHOUSE_POOL} pool slot still held by finished run {run_id}")
    # Ledger rows for this data root's aborted runs, and their half-written files.
    aborted = instance.get_runs(filters=dg.RunsFilter(tags={DATA_ROOT_TAG: root, ABORTED_TAG: "true"}))
    for run in aborted:
        if run.run_id == current_run_id:
            continue
        done.removed_files.extend(restore_unrecorded_rejections(paths, run.run_id, log))
        if _record_aborted(paths, instance, run, log):
            done.ledger_aborted.append(run.run_id)
    done.removed_files.extend(remove_partial_files(paths, keep_batch=current_run_id, log=log))
    return done


def _record_aborted(paths: Paths, instance, run, log: Log) -> bool:
    from training_impact.audit import store
    from training_impact.audit.record import record_failed_run
    from training_impact.orchestration import asset_graph

    if store.ledger_file(paths, "runs", run.run_id).exists():
        return False
    manifest_path = None
    try:
        from training_impact.orchestration.defs.dbt import dbt_project

        manifest_path = dbt_project.manifest_path
    except Exception:  # the ledger row matters more than the dbt hash
        pass
    try:
        row = record_failed_run(paths, instance, run.run_id, run.job_name, manifest_path, log=log, status="aborted",
                                asset_graph=asset_graph)
    except store.AlreadyRecorded:
        return False
    if row is not None:
        log(f"recovery: run {run.run_id} recorded in the audit ledger as aborted")
    return row is not None


def restore_unrecorded_rejections(paths: Paths, run_id: str, log: Log = print) -> list[str]:
    """Files a dead run set aside in rejected/<run_id>/ before it wrote their manifest row go back to
    landing/, so the next run judges and records them (nothing else would: they left landing)."""
    from training_impact.ingestion.store import read_manifest

    folder = paths.rejected / run_id
    if not folder.is_dir():
        return []
    manifest = read_manifest(paths.root)
    recorded = {row["source_file"] for row in manifest.select(["batch_id", "source_file"]).to_pylist()
                if row["batch_id"] == run_id}
    moved = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.endswith(".reason.txt") or path.name.endswith(".tmp"):
            continue
        rel = path.relative_to(folder).as_posix()
        target = paths.landing / rel
        if rel in recorded or target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        path.with_name(path.name + ".reason.txt").unlink(missing_ok=True)
        moved.append(path.relative_to(paths.root).as_posix())
        log(f"recovery: {rel} back to landing/ from rejected/{run_id}/ (set aside by run {run_id}, which died "
            "before recording it)")
    return moved


def remove_partial_files(paths: Paths, keep_batch: str | None = None, log: Log = print) -> list[str]:
    """Bronze / quarantine files no manifest row lists, and hidden temp files of dead writers."""
    from training_impact.ingestion.store import find_orphans

    removed: list[str] = []

    def drop(path: Path, why: str) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        rel = path.relative_to(paths.root).as_posix()
        removed.append(rel)
        log(f"recovery: removed {rel} ({why})")

    for folder in (paths.bronze, paths.rejected, paths.root / "audit"):
        if folder.is_dir():
            for tmp in sorted(folder.rglob(".*.tmp")):
                if tmp.is_file():
                    drop(tmp, "temp file of a writer that died")
    for orphan in find_orphans(paths.root):
        if keep_batch and orphan.name.startswith(f"{keep_batch}__"):
            continue
        drop(orphan, "written by a run that died before its manifest row")
    return removed
