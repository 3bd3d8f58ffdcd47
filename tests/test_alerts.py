"""Alerts reach real local receivers: an HTTP server and an SMTP server on 127.0.0.1.

The last test drives a real failed pipeline run (a landing file missing a required
column fails the blocking quality gate) and checks both receivers got a message
naming the asset, the check and the reason.
"""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import http.server
import json
import socketserver
import threading
from dataclasses import dataclass, field

import dagster as dg
import pytest

from orchestration.alerts import (
    ALERTED_TAG,
    AlertSettings,
    alert_for_outcome,
    alert_from_results,
    send_alert,
)
from training_impact.pipeline import RunOutcome

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


# ---------------------------------------------------------------- local receivers

class _WebhookHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = self.server.status
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Enough SMTP (RFC 5321) for smtplib: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self):
        server = self.server
        self._reply("220 127.0.0.1 test SMTP ready")
        sender, recipients, authenticated = None, [], False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self._reply("250-127.0.0.1\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 1000000")
            elif verb == "HELO":
                self._reply("250 127.0.0.1")
            elif verb == "AUTH":
                mechanism, _, initial = argument.partition(" ")
                if mechanism.upper() != "PLAIN":
                    self._reply("504 unrecognised authentication type")
                    continue
                if not initial:
                    self._reply("334 ")
                    initial = self.rfile.readline().decode().strip()
                _, user, password = base64.b64decode(initial).decode().split("\0")
                authenticated = (user, password) == server.credentials
                self._reply("235 2.7.0 authenticated" if authenticated else "535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if server.credentials and not authenticated:
                    self._reply("530 5.7.0 authentication required")
                    continue
                sender, recipients = argument.split(":", 1)[1].split()[0].strip("<>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(argument.split(":", 1)[1].strip().strip("<>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    data_line = self.rfile.readline()
                    if data_line in (b".\r\n", b".\n", b""):
                        break
                    lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                server.messages.append({"from": sender, "to": list(recipients), "data": b"".join(lines),
                                        "authenticated": authenticated})
                self._reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 command not implemented")


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Receivers:
    webhook_url: str
    smtp_port: int
    webhooks: list = field(default_factory=list)
    emails: list = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "TI_ALERT_WEBHOOK_URL": self.webhook_url,
            "TI_ALERT_SMTP_HOST": "127.0.0.1",
            "TI_ALERT_SMTP_PORT": str(self.smtp_port),
            "TI_ALERT_SMTP_FROM": "pipeline@training-impact.test",
            "TI_ALERT_SMTP_TO": "hr-data@example.test, oncall@example.test",
            **extra,
        }

    def webhook_json(self, index: int = -1) -> dict:
        return json.loads(self.webhooks[index]["body"])

    def email(self, index: int = -1):
        return email.message_from_bytes(self.emails[index]["data"], policy=email.policy.default)


@pytest.fixture
def receivers(monkeypatch):
    """A webhook receiver and an SMTP server on 127.0.0.1 (ephemeral ports), torn down after the test."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in list(__import__("os").environ):
        if name.startswith("TI_ALERT_"):
            monkeypatch.delenv(name)

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebhookHandler)
    web.received, web.status = [], 200
    smtp = _ThreadingTCP(("127.0.0.1", 0), _SMTPHandler)
    smtp.messages, smtp.credentials = [], None
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (web, smtp)]
    for thread in threads:
        thread.start()
    found = Receivers(f"http://127.0.0.1:{web.server_address[1]}/hooks/ti-alerts", smtp.server_address[1],
                      web.received, smtp.messages)
    found.web_server, found.smtp_server = web, smtp
    try:
        yield found
    finally:
        for server in (web, smtp):
            server.shutdown()
            server.server_close()


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
    from orchestration.defs.sensors import alert_on_run_failure

    for key, value in receivers.env().items():
        monkeypatch.setenv(key, value)
    instance, result = _failed_tiny_run()
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    alert_on_run_failure(context)

    body = receivers.webhook_json()
    assert body["job"] == "tiny_job" and body["run_id"] == result.run_id
    assert (body["asset"], body["check"]) == ("tiny", "row_count")
    assert "0 rows" in body["reason"]
    assert len(receivers.emails) == 1 and "tiny row_count" in receivers.email()["Subject"]


def test_failure_sensor_skips_runs_that_alerted_in_process(receivers, monkeypatch):
    from orchestration.defs.sensors import alert_on_run_failure

    for key, value in receivers.env().items():
        monkeypatch.setenv(key, value)
    instance, result = _failed_tiny_run(tags={ALERTED_TAG: "sent_in_process"})
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    outcome = alert_on_run_failure(context)
    assert isinstance(outcome, dg.SkipReason)
    assert receivers.webhooks == [] and receivers.emails == []


def test_definitions_register_the_failure_sensor():
    from orchestration.definitions import defs

    sensor = defs.resolve_sensor_def("alert_on_run_failure")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


# ---------------------------------------------------------------- a real failed pipeline run

@pytest.mark.integration
def test_failed_gate_in_a_real_run_alerts_both_receivers(copy_of_run, receivers, monkeypatch):
    from training_impact.pipeline import run_pipeline

    for key, value in receivers.env().items():
        monkeypatch.setenv(key, value)
    source = sorted((copy_of_run.landing / "hris").glob("workers_*.csv"))[-1]
    broken = copy_of_run.landing / "hris" / "workers_2026-11-30.csv"
    with open(source, newline="", encoding="utf-8") as src, open(broken, "w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=[n for n in reader.fieldnames if n != "hire_date"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)

    outcome = run_pipeline(copy_of_run)

    assert not outcome.success
    assert [(d.channel, d.ok) for d in outcome.alerts] == [("webhook", True), ("email", True)], outcome.alerts
    body = receivers.webhook_json()
    assert body["run_id"] == outcome.run_id and body["event"] == "run_failed"
    gate = [f for f in body["failures"] if f["kind"] == "check"]
    assert any(f["asset"] == "bronze/workers" and f["check"] == "quality_gate"
               and "hire_date" in f["reason"] and "workers_2026-11-30.csv" in f["reason"] for f in gate), body
    message = receivers.email()
    assert "bronze/workers quality_gate" in message["Subject"]
    assert "hire_date" in message.get_content()
