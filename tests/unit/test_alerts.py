"""Alerts reach real local receivers: an HTTP server and an SMTP server on 127.0.0.1.

A real failed pipeline run alerting both receivers is tests/integration/test_alerts_run.py.
"""

from __future__ import annotations

import dagster as dg
import pytest

from alerts_support import local_receivers
from training_impact.orchestration.resources import unset_resources
from training_impact.orchestration.alerts import (
    ALERTED_TAG,
    AlertSettings,
    alert_for_outcome,
    alert_from_results,
    send_alert,
)
from training_impact.pipeline import RunOutcome


@pytest.fixture
def receivers(monkeypatch):
    """A webhook receiver and an SMTP server on 127.0.0.1 (ephemeral ports), torn down after the test."""
    with local_receivers(monkeypatch) as found:
        yield found


# ---------------------------------------------------------------- unit

FAILED_GATE = {
    "asset": "bronze/workers",
    "check": "quality_gate",
    "passed": False,
    "severity": "ERROR",
    "description": "hris/workers_2026-11-30.csv: missing_required_column: hire_date",
}
WARNED = {"asset": "bronze/ratings", "check": "quality_gate", "passed": False, "severity": "WARN",
          "description": "volume_drop"}


def _failed_outcome() -> RunOutcome:
    return RunOutcome(
        run_id="0123456789abcdef", success=False, seconds=1.0,
        failures=["ingest_hris: Blocking check 'quality_gate' for asset bronze/workers failed"],
        check_results=[FAILED_GATE, WARNED, {**WARNED, "asset": "bronze/programs", "passed": True}],
    )


def test_settings_from_env_defaults_and_parsing():
    assert not AlertSettings.from_env({}).configured
    settings = AlertSettings.from_env({"TI_ALERT_SMTP_HOST": "mail", "TI_ALERT_SMTP_FROM": "a@x",
                                       "TI_ALERT_SMTP_TO": "b@x; c@x,", "TI_ALERT_SMTP_STARTTLS": "true"})
    assert settings.email_configured and not settings.webhook_url
    assert settings.smtp_to == ("b@x", "c@x") and settings.smtp_port == 587 and settings.smtp_starttls
    assert AlertSettings.from_env({"TI_ALERT_SMTP_SSL": "1"}).smtp_port == 465
    assert AlertSettings.from_env({"TI_ALERT_SMTP_PORT": "2525"}).smtp_port == 2525
    assert not AlertSettings.from_env({"TI_ALERT_SMTP_HOST": "mail"}).email_configured  # no from / to


def test_no_alert_for_a_clean_run_or_warnings_only():
    ok = RunOutcome(run_id="r", success=True, seconds=1.0, check_results=[WARNED])
    assert alert_for_outcome(ok) is None


def test_alert_names_asset_check_and_reason():
    alert = alert_for_outcome(_failed_outcome(), step_assets={"ingest_hris": ["bronze/job_history", "bronze/workers"]})
    body = alert.to_json()
    assert body["event"] == "run_failed"
    assert (body["asset"], body["check"]) == ("bronze/workers", "quality_gate")
    assert "hire_date" in body["reason"]
    assert body["warnings"] == 1
    assert [f["kind"] for f in body["failures"]] == ["check", "step"]
    assert body["failures"][1]["asset"] == "bronze/job_history, bronze/workers"
    assert "bronze/workers quality_gate" in alert.subject and "hire_date" in alert.text


def test_blocking_check_alerts_even_if_the_run_succeeded():
    alert = alert_from_results("r1", "job", False, [FAILED_GATE], [])
    assert alert is not None and alert.to_json()["event"] == "blocking_check_failed"


# ---------------------------------------------------------------- real receivers

def test_webhook_and_email_are_delivered(receivers):
    deliveries = send_alert(alert_for_outcome(_failed_outcome()), AlertSettings.from_env(receivers.env()))
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", True), ("email", True)], deliveries

    hook = receivers.webhooks[0]
    assert hook["path"] == "/hooks/ti-alerts"
    assert hook["headers"]["Content-Type"].startswith("application/json")
    body = receivers.webhook_json()
    assert body["asset"] == "bronze/workers" and body["check"] == "quality_gate" and "hire_date" in body["reason"]

    mail = receivers.emails[0]
    assert mail["from"] == "pipeline@training-impact.test"
    assert mail["to"] == ["hr-data@example.test", "oncall@example.test"]
    message = receivers.email()
    assert "bronze/workers quality_gate" in message["Subject"]
    assert "hire_date" in message.get_content()
    assert deliveries[0].target == f"http://127.0.0.1:{receivers.web_server.server_address[1]}"  # no path: secrets


def test_smtp_login(receivers):
    receivers.smtp_server.credentials = ("alerts", "s3cret")
    env = receivers.env(TI_ALERT_SMTP_USER="alerts", TI_ALERT_SMTP_PASSWORD="s3cret")
    env.pop("TI_ALERT_WEBHOOK_URL")
    deliveries = send_alert(alert_for_outcome(_failed_outcome()), AlertSettings.from_env(env))
    assert [d.ok for d in deliveries] == [True]
    assert receivers.emails[0]["authenticated"]

    env["TI_ALERT_SMTP_PASSWORD"] = "wrong"
    deliveries = send_alert(alert_for_outcome(_failed_outcome()), AlertSettings.from_env(env))
    assert not deliveries[0].ok and "535" in deliveries[0].error


def test_broken_channels_never_raise(receivers):
    receivers.web_server.status = 500
    closed_port = receivers.smtp_port
    receivers.smtp_server.shutdown()
    receivers.smtp_server.server_close()
    deliveries = send_alert(alert_for_outcome(_failed_outcome()),
                            AlertSettings.from_env(receivers.env(TI_ALERT_SMTP_PORT=str(closed_port),
                                                                 TI_ALERT_TIMEOUT_SECONDS="3")))
    assert [d.ok for d in deliveries] == [False, False]
    assert "500" in deliveries[0].error


# ---------------------------------------------------------------- the Dagster sensor

@dg.asset(check_specs=[dg.AssetCheckSpec("row_count", asset="tiny", blocking=True)])
def tiny():
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="row_count", passed=False, severity=dg.AssetCheckSeverity.ERROR,
                              description="0 rows where at least 1 was expected")


@dg.asset(deps=[tiny])
def tiny_downstream():
    return 2


def _failed_tiny_run(tags: dict | None = None):
    instance = dg.DagsterInstance.ephemeral()
    job = dg.define_asset_job("tiny_job").resolve(asset_graph=dg.Definitions(assets=[tiny, tiny_downstream])
                                                  .resolve_asset_graph())
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    assert not result.success
    return instance, result


def test_failure_sensor_posts_the_failed_blocking_check(receivers, monkeypatch):
    from training_impact.orchestration.defs.sensors import alert_on_run_failure

    for key, value in receivers.env().items():
        monkeypatch.setenv(key, value)
    instance, result = _failed_tiny_run()
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources=unset_resources()).for_run_failure()
    alert_on_run_failure(context)

    body = receivers.webhook_json()
    assert body["job"] == "tiny_job" and body["run_id"] == result.run_id
    assert (body["asset"], body["check"]) == ("tiny", "row_count")
    assert "0 rows" in body["reason"]
    assert len(receivers.emails) == 1 and "tiny row_count" in receivers.email()["Subject"]


def test_failure_sensor_skips_runs_that_alerted_in_process(receivers, monkeypatch):
    from training_impact.orchestration.defs.sensors import alert_on_run_failure

    for key, value in receivers.env().items():
        monkeypatch.setenv(key, value)
    instance, result = _failed_tiny_run(tags={ALERTED_TAG: "sent_in_process"})
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources=unset_resources()).for_run_failure()
    outcome = alert_on_run_failure(context)
    assert isinstance(outcome, dg.SkipReason)
    assert receivers.webhooks == [] and receivers.emails == []


def test_definitions_register_the_failure_sensor():
    from training_impact.orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("alert_on_run_failure")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
