"""Sensors: the run-failure alert and the landing sensor.

``alert_on_run_failure`` is Dagster's run-failure sensor: under ``dagster-daemon`` it alerts for
every failed run the daemon launched (schedule, landing sensor, the UI). Runs started by
``training-impact run`` / ``demo`` / ``backfill`` execute in the CLI's own process, which no
daemon may be watching: the CLI evaluates the same alert right after a failed run
(``alert_in_process``) and tags the run, so a daemon never sends it twice (DECISIONS D130).
Channels come from the TI_ALERT_* settings (the ``alerts`` resource; orchestration/alerts.py).
"""

import hashlib
import json
import logging
import time
from pathlib import Path

import dagster as dg

from training_impact.ingestion.delivery import delivery_day
from training_impact.ingestion.store import read_manifest
from training_impact.orchestration.alerts import (
    ALERTED_TAG,
    AlertSettings,
    Delivery,
    alert_from_results,
    check_results_from_instance,
    failure_text,
    send_alert,
    step_assets_of,
)
from training_impact.orchestration.defs.ingestion import delivery_days
from training_impact.orchestration.defs.schedules import pipeline_job
from training_impact.orchestration.resources import AlertsResource, DataRootResource
from training_impact import run_lock


def _step_assets() -> dict[str, list[str]]:
    try:
        from training_impact.orchestration.definitions import defs  # imported late: definitions imports this module

        return step_assets_of(defs)
    except Exception:  # naming assets is a nicety; the alert still goes out with step keys
        return {}


def send_failure_alert(context: dg.RunFailureSensorContext, data_root: DataRootResource,
                       alerts: AlertsResource) -> list[Delivery] | dg.SkipReason:
    """Compose the failed run's alert from its event log (failed blocking checks, failed steps) and
    send it to every configured channel: one Delivery per channel tried, or why nothing was sent."""
    settings = AlertSettings.from_env(alerts.variables())
    if not settings.configured:
        return dg.SkipReason("no alert channel configured (TI_ALERT_WEBHOOK_URL / TI_ALERT_SMTP_*)")
    run = context.dagster_run
    steps = [(event.step_key or "run", failure_text(event.event_specific_data.error if event.event_specific_data
                                                    else None) or context.failure_event.message or "")
             for event in context.get_step_failure_events()]
    if not steps and context.failure_event.message:
        steps.append(("run", context.failure_event.message))
    alert = alert_from_results(
        run.run_id, run.job_name, check_results_from_instance(context.instance, run.run_id), steps,
        step_assets=_step_assets(), data_dir=str(data_root.paths.root), dagster_url=alerts.value("dagster_url"))
    return send_alert(alert, settings)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Alerts TI_ALERT_WEBHOOK_URL and/or TI_ALERT_SMTP_* when a run fails, listing its failed"
                " blocking checks (quality gates, dbt tests at error severity) and failed steps. Runs started"
                " by `training-impact run` alert from their own process and are skipped here.",
    minimum_interval_seconds=30,
    # Running by default: with no TI_ALERT_* channel configured it only records a skip.
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, data_root: DataRootResource, alerts: AlertsResource):
    run = context.dagster_run
    if run.tags.get(ALERTED_TAG):
        return dg.SkipReason(f"run {run.run_id} alerted from its own process")
    sent = send_failure_alert(context, data_root, alerts)
    if isinstance(sent, dg.SkipReason):
        return sent
    for delivery in sent:
        if delivery.ok:
            context.log.info(f"alert sent by {delivery.channel} to {delivery.target}")
        else:
            context.log.warning(f"alert NOT sent by {delivery.channel} to {delivery.target}: {delivery.error}")
    return None


def alert_in_process(instance: dg.DagsterInstance, result, resources: dict) -> list[Delivery]:
    """The failure alert of a run executed in this process (``execute_in_process``): the sensor's own
    composition and senders, evaluated on a run-failure sensor context built from the run's result.
    `resources`: the run's (orchestration.resources.resources_from). Never raises."""
    try:
        context = dg.build_run_status_sensor_context(
            sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(), resources=resources).for_run_failure()
        sent = send_failure_alert(context, context.resources.data_root, context.resources.alerts)
    except Exception as error:  # an alert must never hide why the run failed
        logging.getLogger("training_impact.alerts").warning("could not alert for run %s: %s", result.run_id, error)
        return []
    return [] if isinstance(sent, dg.SkipReason) else sent


# --------------------------------------------------------------------------- landing sensor

LANDING_SENSOR = "landing_files"
# Backlogs longer than this many delivery days become one catch-up run without a partition
# (the data root resource's sensor_max_day_runs, TI_SENSOR_MAX_DAY_RUNS).
MAX_DAY_RUNS_PER_TICK = 7


def landing_listing(landing: Path) -> dict[str, tuple[int, int]]:
    """{path relative to landing: (size, mtime_ns)} of every data file in landing."""
    out: dict[str, tuple[int, int]] = {}
    if not landing.is_dir():
        return out
    for path in landing.rglob("*"):
        if not path.is_file() or path.name.startswith((".", "~$")) or path.name.endswith(".tmp"):
            continue
        rel = path.relative_to(landing).as_posix()
        if rel == "mappings.yml":  # configuration, not a delivery
            continue
        stat = path.stat()
        out[rel] = (stat.st_size, stat.st_mtime_ns)
    return out


def _loaded_before(data_root: Path) -> set[tuple[str, int]]:
    """(source_file, size) of every file the manifest saw loaded or re-seen: a sensor started on a
    landing zone that earlier runs already loaded requests nothing for it."""
    manifest = read_manifest(data_root)
    rows = manifest.select(["source_file", "size_bytes", "status"]).to_pylist()
    return {(r["source_file"], int(r["size_bytes"])) for r in rows if r["status"] in ("loaded", "duplicate")}


def landing_run_requests(listing: dict[str, tuple[int, int]], seen: dict[str, list[int]] | None,
                         loaded: set[tuple[str, int]], now: float, settle_seconds: float,
                         last_partition: str | None, first_partition: str,
                         max_day_runs: int = MAX_DAY_RUNS_PER_TICK) -> tuple[list[dg.RunRequest], dict]:
    """The runs new landing files call for, and the new cursor.

    A file is new when its (size, mtime) differs from the cursor (on the first tick, when
    the manifest has not seen it loaded either). New files are grouped by delivery day:
    one run per day with that day as its partition, in day order. Undated files, days
    outside the partitions, and backlogs of more than `max_day_runs` days make one run
    without a partition instead, which reads every landing file not loaded yet.
    """
    cursor: dict[str, list[int]] = {}
    by_day: dict[str | None, list[str]] = {}
    for rel, (size, mtime_ns) in sorted(listing.items()):
        if now - mtime_ns / 1e9 < settle_seconds:
            continue  # not in the cursor either: seen again next tick
        cursor[rel] = [size, mtime_ns]
        if seen is not None:
            if seen.get(rel) == [size, mtime_ns]:
                continue
        elif (rel, size) in loaded:
            continue
        day = delivery_day(rel)
        key = day.isoformat() if day else None
        if key is not None and not (first_partition <= key <= (last_partition or "")):
            key = None
        by_day.setdefault(key, []).append(rel)

    def request(day: str | None, files: list[str]) -> dg.RunRequest:
        digest = hashlib.sha1("\n".join(f"{f}:{cursor[f]}" for f in sorted(files)).encode()).hexdigest()[:12]
        tags = {"training_impact/trigger": LANDING_SENSOR, "training_impact/new_files": str(len(files))}
        return dg.RunRequest(run_key=f"landing:{day or 'all'}:{digest}", partition_key=day, tags=tags)

    days = sorted(day for day in by_day if day is not None)
    if by_day.get(None) or len(days) > max_day_runs:
        return [request(None, [f for files in by_day.values() for f in files])], cursor
    return [request(day, by_day[day]) for day in days], cursor


@dg.sensor(
    name=LANDING_SENSOR,
    job=pipeline_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run when new files arrive in landing/: one run per delivery day, with that day"
                " as its partition (the run reads only that day's files); undated files or a backlog make"
                " one catch-up run. Runs queue: one at a time against the warehouse.",
)
def landing_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource):
    paths = data_root.paths
    busy = run_lock.holder(paths.root)
    if busy is not None:  # a run is on this data root: the files are seen at a later tick (DECISIONS D80)
        return dg.SkipReason(f"a run holds the run lock of {paths.root}: {run_lock.describe(busy)}")
    seen = json.loads(context.cursor)["files"] if context.cursor else None
    listing = landing_listing(paths.landing)
    loaded = _loaded_before(paths.root) if seen is None else set()
    requests, cursor = landing_run_requests(
        # a file younger than the settle time may still be uploading: it waits for the next tick
        listing, seen, loaded, time.time(), data_root.value("sensor_settle_seconds"),
        delivery_days.get_last_partition_key(), delivery_days.start.strftime("%Y-%m-%d"),
        max_day_runs=data_root.value("sensor_max_day_runs"))
    context.update_cursor(json.dumps({"files": cursor}, sort_keys=True))
    if not requests:
        return dg.SkipReason(f"no new landing files ({len(listing)} in {paths.landing})")
    for request in requests:
        context.log.info(f"run for delivery day {request.partition_key or 'all (catch-up)'}:"
                         f" {request.tags['training_impact/new_files']} new file(s)")
    return requests
