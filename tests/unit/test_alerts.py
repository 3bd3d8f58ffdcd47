"""Alerts go through Dagster's run-failure sensor and reach real local receivers: an HTTP server and an
SMTP server on 127.0.0.1. A tiny job whose blocking check fails gives a real failed run.

A real failed pipeline run alerting both receivers from the CLI's process is tests/integration/test_alerts_run.py.
"""

from __future__ import annotations

import dagster as dg
import pytest

from alerts_support import local_receivers
from training_impact.orchestration.alerts import ALERTED_TAG, AlertSettings
from training_impact.orchestration.defs.sensors import alert_in_process, alert_on_run_failure
from training_impact.orchestration.resources import unset_resources


@pytest.fixture
def receivers(monkeypatch):
    """A webhook receiver and an SMTP server on 127.0.0.1 (ephemeral ports), torn down after the test."""
    with local_receivers(monkeypatch) as found:
        yield found


def _channels(monkeypatch, env: dict[str, str]) -> None:
    """The TI_ALERT_* environment the unset `alerts` resource reads when the sensor uses it."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# ---------------------------------------------------------------- a real failed run

@dg.asset(check_specs=[dg.AssetCheckSpec("row_count", asset="tiny", blocking=True),
                       dg.AssetCheckSpec("volume", asset="tiny")])
def tiny():
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="row_count", passed=False, severity=dg.AssetCheckSeverity.ERROR,
                              description="hris/workers_2026-11-30.csv: missing_required_column: hire_date")
    yield dg.AssetCheckResult(check_name="volume", passed=False, severity=dg.AssetCheckSeverity.WARN,
                              description="volume_drop")


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


def _sensor_context(instance, result) -> dg.RunFailureSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources=unset_resources()).for_run_failure()


# ---------------------------------------------------------------- settings

def test_settings_from_env_defaults_and_parsing():
    assert not AlertSettings.from_env({}).configured
    settings = AlertSettings.from_env({"TI_ALERT_SMTP_HOST": "mail", "TI_ALERT_SMTP_FROM": "a@x",
                                       "TI_ALERT_SMTP_TO": "b@x; c@x,", "TI_ALERT_SMTP_STARTTLS": "true"})
    assert settings.email_configured and not settings.webhook_url
    assert settings.smtp_to == ("b@x", "c@x") and settings.smtp_port == 587 and settings.smtp_starttls
    assert AlertSettings.from_env({"TI_ALERT_SMTP_SSL": "1"}).smtp_port == 465
    assert AlertSettings.from_env({"TI_ALERT_SMTP_PORT": "2525"}).smtp_port == 2525
    assert not AlertSettings.from_env({"TI_ALERT_SMTP_HOST": "mail"}).email_configured  # no from / to


# ---------------------------------------------------------------- the sensor, real receivers

def test_failure_sensor_lists_the_failed_blocking_check_on_both_channels(receivers, monkeypatch):
    _channels(monkeypatch, receivers.env())
    instance, result = _failed_tiny_run()
    assert alert_on_run_failure(_sensor_context(instance, result)) is None

    hook = receivers.webhooks[0]
    assert hook["path"] == "/hooks/ti-alerts"
    assert hook["headers"]["Content-Type"].startswith("application/json")
    body = receivers.webhook_json()
    assert body["event"] == "run_failed" and body["job"] == "tiny_job" and body["run_id"] == result.run_id
    assert (body["asset"], body["check"]) == ("tiny", "row_count") and "hire_date" in body["reason"]
    assert [(f["kind"], f["asset"], f["check"]) for f in body["failures"]] == [("check", "tiny", "row_count"),
                                                                              ("step", "tiny", None)]
    assert body["warnings"] == 1  # the WARN check: counted, not listed
    assert "Failed blocking checks (1):" in body["text"] and "ERROR tiny row_count: hris/" in body["text"]

    mail = receivers.emails[0]
    assert mail["from"] == "pipeline@training-impact.test"
    assert mail["to"] == ["hr-data@example.test", "oncall@example.test"]
    message = receivers.email()
    assert message["Subject"] == f"[training-impact] run {result.run_id[:8]} of tiny_job failed: tiny row_count"
    assert "hire_date" in message.get_content() and "1 non-blocking check(s) warned" in message.get_content()


def test_the_cli_path_sends_the_same_alert_and_reports_deliveries(receivers, monkeypatch):
    """`training-impact run` evaluates the sensor's alert in its process; the webhook is named by host only."""
    _channels(monkeypatch, receivers.env())
    instance, result = _failed_tiny_run(tags={ALERTED_TAG: "sent_in_process"})
    deliveries = alert_in_process(instance, result, unset_resources())
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", True), ("email", True)], deliveries
    assert deliveries[0].target == f"http://127.0.0.1:{receivers.web_server.server_address[1]}"  # no path: secrets
    assert receivers.webhook_json()["check"] == "row_count" and len(receivers.emails) == 1


def test_failure_sensor_skips_runs_that_alert_from_their_own_process(receivers, monkeypatch):
    _channels(monkeypatch, receivers.env())
    instance, result = _failed_tiny_run(tags={ALERTED_TAG: "sent_in_process"})
    outcome = alert_on_run_failure(_sensor_context(instance, result))
    assert isinstance(outcome, dg.SkipReason)
    assert receivers.webhooks == [] and receivers.emails == []


def test_no_channel_configured_is_a_skip(receivers):
    instance, result = _failed_tiny_run()
    outcome = alert_on_run_failure(_sensor_context(instance, result))
    assert isinstance(outcome, dg.SkipReason) and "no alert channel" in outcome.skip_message
    assert alert_in_process(instance, result, unset_resources()) == []


def test_smtp_login(receivers, monkeypatch):
    receivers.smtp_server.credentials = ("alerts", "s3cret")
    env = receivers.env(TI_ALERT_SMTP_USER="alerts", TI_ALERT_SMTP_PASSWORD="s3cret")
    env.pop("TI_ALERT_WEBHOOK_URL")
    _channels(monkeypatch, env)
    instance, result = _failed_tiny_run()
    assert [d.ok for d in alert_in_process(instance, result, unset_resources())] == [True]
    assert receivers.emails[0]["authenticated"]

    monkeypatch.setenv("TI_ALERT_SMTP_PASSWORD", "wrong")
    deliveries = alert_in_process(instance, result, unset_resources())
    assert not deliveries[0].ok and "535" in deliveries[0].error


def test_broken_channels_never_raise(receivers, monkeypatch):
    receivers.web_server.status = 500
    closed_port = receivers.smtp_port
    receivers.smtp_server.shutdown()
    receivers.smtp_server.server_close()
    _channels(monkeypatch, receivers.env(TI_ALERT_SMTP_PORT=str(closed_port), TI_ALERT_TIMEOUT_SECONDS="3"))
    instance, result = _failed_tiny_run()
    assert alert_on_run_failure(_sensor_context(instance, result)) is None  # the tick does not fail
    deliveries = alert_in_process(instance, result, unset_resources())
    assert [d.ok for d in deliveries] == [False, False]
    assert "500" in deliveries[0].error


def test_definitions_register_the_failure_sensor():
    from training_impact.orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("alert_on_run_failure")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
