"""Alerting for deployments that run ``dagster-daemon``: a run-failure sensor.

In-process runs (CLI, demo, tests) alert from ``training_impact.pipeline`` and are
tagged, so this sensor skips them and nobody is told twice. Channels come from the
TI_ALERT_* environment of the daemon (orchestration/alerts.py lists them).
"""

import dagster as dg

from orchestration.alerts import (
    ALERTED_TAG,
    AlertSettings,
    alert_from_results,
    check_results_from_instance,
    send_alert,
    step_assets_of,
)
from training_impact.settings import data_paths


def _step_assets() -> dict[str, list[str]]:
    try:
        from orchestration.definitions import defs  # imported late: definitions imports this module

        return step_assets_of(defs)
    except Exception:  # naming assets is a nicety; the alert still goes out with step keys
        return {}


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Posts failed runs and failed blocking checks to TI_ALERT_WEBHOOK_URL and/or TI_ALERT_SMTP_*.",
    minimum_interval_seconds=30,
    # Running by default: with no TI_ALERT_* channel configured it only records a skip.
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.tags.get(ALERTED_TAG):
        return dg.SkipReason(f"run {run.run_id} already alerted in process")
    settings = AlertSettings.from_env()
    if not settings.configured:
        return dg.SkipReason("no alert channel configured (TI_ALERT_WEBHOOK_URL / TI_ALERT_SMTP_*)")
    steps = []
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        steps.append((event.step_key or "run", (error.message if error else context.failure_event.message) or ""))
    if not steps and context.failure_event.message:
        steps.append(("run", context.failure_event.message))
    alert = alert_from_results(
        run.run_id, run.job_name, True, check_results_from_instance(context.instance, run.run_id), steps,
        step_assets=_step_assets(), data_dir=str(data_paths().root))
    for delivery in send_alert(alert, settings):
        if delivery.ok:
            context.log.info(f"alert sent by {delivery.channel} to {delivery.target}")
        else:
            context.log.warning(f"alert NOT sent by {delivery.channel} to {delivery.target}: {delivery.error}")
