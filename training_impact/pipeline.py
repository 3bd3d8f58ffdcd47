"""Run the Dagster job in-process against a persistent Dagster instance.

The CLI, the demo and the integration tests all go through here, so what they
exercise is exactly what the nightly schedule runs.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from training_impact.settings import (
    Paths,
    Settings,
    dagster_home,
    disable_telemetry,
    environment,
    export_dagster_home,
    key_environment,
)

DAGSTER_YAML = """\
# Written by training-impact for local runs. See docs/deployment.md for production.
telemetry:
  enabled: false
nux:
  enabled: false                  # no "Join the Dagster community" pop-up over the UI
concurrency:
  runs:
    max_concurrent_runs: 1        # one run at a time against the DuckDB warehouse
  pools:
    default_limit: 1              # pool duckdb_warehouse: a single writer
"""


def prepare_dagster_home(paths: Paths) -> Path:
    """Use $DAGSTER_HOME when set (deployments), else a home inside the data root.

    Every instance the CLI runs, `training-impact dev` serves and the tests use is made here. A
    dagster.yaml this function wrote before a block joined DAGSTER_YAML (``nux:``: data roots of
    earlier versions showed the community pop-up on every page) gets the missing block appended; a
    dagster.yaml someone else wrote (a deployment's, docs/deployment.md) is never changed."""
    home = dagster_home(paths)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    else:
        _add_missing_blocks(config)
    export_dagster_home(home)
    return home


def _blocks(text: str) -> dict[str, str]:
    """The top-level blocks of a YAML text by key, each with its indented lines."""
    blocks: dict[str, str] = {}
    key = None
    for line in text.splitlines(keepends=True):
        if line[:1].isalpha():
            key = line.split(":", 1)[0]
            blocks[key] = ""
        if key is not None:
            blocks[key] += line
    return blocks


def _add_missing_blocks(config: Path) -> None:
    import yaml

    text = config.read_text(encoding="utf-8")
    if not text.startswith(DAGSTER_YAML.splitlines()[0]):  # not ours: a deployment's own file
        return
    present = yaml.safe_load(text) or {}
    missing = [block for key, block in _blocks(DAGSTER_YAML).items() if key not in present]
    if missing:
        config.write_text(text.rstrip("\n") + "\n" + "".join(missing), encoding="utf-8")


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seconds: float
    failures: list[str] = field(default_factory=list)
    check_results: list[dict] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)   # materialised dbt tables left as they were (D121)
    alerts: list = field(default_factory=list)  # orchestration.alerts.Delivery, one per channel tried


STEP_EVENTS = {"STEP_START": "started", "STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}


def step_progress_listener(progress):
    """An instance event listener calling progress(step, state, seconds) as steps start and end."""
    started: dict[str, float] = {}

    def on_event(entry) -> None:
        event = entry.dagster_event
        if event is None or event.event_type_value not in STEP_EVENTS or not event.step_key:
            return
        if event.event_type_value == "STEP_START":
            started[event.step_key] = time.monotonic()
        seconds = time.monotonic() - started.get(event.step_key, time.monotonic())
        progress(event.step_key, STEP_EVENTS[event.event_type_value], seconds)

    return on_event


def run_pipeline(paths: Paths, groups: list[str] | None = None, *, partition_key: str | None = None,
                 partition_range: tuple[str, str] | None = None, tags: dict[str, str] | None = None,
                 progress=None, lock_timeout: float | None = None, settings: Settings | None = None,
                 log_level: str = "DEBUG") -> RunOutcome:
    """Run the whole job, or only the asset groups named (the benchmark times stages apart).

    `partition_key` (a delivery day, as the landing sensor asks) or `partition_range`
    (first, last day: a backfill) limit what ingestion reads to those days' landing
    files (ingestion/delivery.py); without either, every landing file not loaded yet.
    `progress(step, state, seconds)` is called as each step starts and ends.

    The data root's run lock is taken first (waiting up to `lock_timeout` seconds, default
    TI_RUN_LOCK_TIMEOUT or 60; `run_lock.RunLockBusy` names the holder), then what dead
    runs left behind is recovered (orchestration/recovery.py), then the run starts.

    `settings`: the run's settings (built at the edge; default: from the environment), its data
    root `paths`. They reach the assets as the run's Dagster resources (orchestration/resources.py).
    `log_level`: of Dagster's console log (stderr); the CLI asks for WARNING unless --verbose.
    """
    from training_impact.privacy import guard_run
    from training_impact.privacy.keys import require_key
    from training_impact import run_lock

    settings = (settings or Settings.from_environment()).with_data_dir(paths.root)
    # production without a pseudonymisation key stops here, before any file is read
    guard_run(require_key(key_environment(settings)))
    disable_telemetry()
    paths.ensure().export_env()
    from training_impact.orchestration.dbt_manifest import prepare_manifest

    prepare_manifest()  # before the definitions are first imported: they read the manifest (D106)
    run_id = str(uuid.uuid4())  # known before the run starts: named in the lock, progress listens to it
    timeout = settings.run_lock_timeout if lock_timeout is None else lock_timeout
    with run_lock.acquire(paths.root, run_id=run_id, timeout=timeout,
                          log=lambda message: print(f"training-impact: {message}", file=sys.stderr, flush=True)):
        return _run_locked(paths, run_id, groups, partition_key=partition_key, partition_range=partition_range,
                           tags=tags, progress=progress, settings=settings, log_level=log_level)


def _run_locked(paths: Paths, run_id: str, groups, *, partition_key, partition_range, tags, progress,
                settings: Settings, log_level: str) -> RunOutcome:
    prepare_dagster_home(paths)

    import dagster as dg

    from training_impact.orchestration.alerts import ALERTED_TAG, ALERTED_VALUE, failure_text
    from training_impact.orchestration.definitions import build_definitions
    from training_impact.orchestration.defs.dbt import REUSED_METADATA
    from training_impact.orchestration.recovery import process_tags, recover_stale_runs
    from training_impact.orchestration.resources import resources_from

    # The run's settings, as its resources (orchestration/resources.py): built here, at the edge.
    resources = resources_from(settings, environment())
    defs = build_definitions(resources)
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        # Before the run does anything: dead runs marked failed, their pool slots freed, their
        # half-written files removed, their ledger rows written (status aborted).
        recover_stale_runs(paths, instance, current_run_id=run_id,
                           log=lambda message: print(f"training-impact: {message}", flush=True))
        job = defs.resolve_job_def("training_impact_pipeline")
        selection = None
        if groups:
            selection = list(dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph()))
        run_tags = {**(tags or {}), ALERTED_TAG: ALERTED_VALUE,  # alerted from here: the daemon's sensor skips it
                    **process_tags(paths)}  # pid / host / data root: a later run can tell this one died
        if partition_range:
            from training_impact.orchestration.defs.ingestion import RANGE_END_TAG, RANGE_START_TAG

            run_tags.update({RANGE_START_TAG: partition_range[0], RANGE_END_TAG: partition_range[1]})
        if progress is not None:
            instance.add_event_listener(run_id, step_progress_listener(progress))
        # the run's own event log keeps every level; this is only what the console shows
        console = {"loggers": {"console": {"config": {"log_level": log_level.upper()}}}}
        result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=selection,
                                        partition_key=partition_key, tags=run_tags, run_id=run_id,
                                        run_config=console)
        alerts = []  # orchestration.alerts.Delivery, one per channel tried
        if not result.success:  # successful runs are recorded by the audit_ledger asset (docs/audit.md)
            from training_impact.audit.openlineage import Target
            from training_impact.audit.record import record_failed_run
            from training_impact.orchestration.dbt_manifest import dbt_project

            try:
                record_failed_run(paths, instance, result.run_id, job.name, dbt_project.manifest_path,
                                  asset_graph=defs.resolve_asset_graph,
                                  openlineage_target=Target.from_settings(settings))
            except Exception as error:  # the ledger must never hide why the run failed
                print(f"audit: could not record failed run {result.run_id}: {error}", file=sys.stderr)
            # Alerts (docs/deployment.md, D130): the alert_on_run_failure sensor's, sent from this process.
            from training_impact.orchestration.defs.sensors import alert_in_process

            alerts = alert_in_process(instance, result, resources)
    outcome = RunOutcome(run_id=result.run_id, success=result.success, seconds=time.monotonic() - started,
                         alerts=alerts)
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            outcome.check_results.append(
                {
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "passed": evaluation.passed,
                    "severity": evaluation.severity.value,
                    "description": evaluation.description,
                }
            )
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            if event.asset_key.to_user_string() not in outcome.materialized:  # and its delivery days (D128)
                outcome.materialized.append(event.asset_key.to_user_string())
            metadata = event.event_specific_data.materialization.metadata
            if getattr(metadata.get(REUSED_METADATA), "value", False):
                outcome.reused.append(event.asset_key.to_user_string())
        elif event.event_type_value == "STEP_FAILURE":
            outcome.failures.append(f"{event.step_key}: {failure_text(event.event_specific_data.error)}")
    return outcome
