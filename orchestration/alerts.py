"""Alerts: a failed run notifies a webhook and/or e-mail, listing its failed blocking checks.

Dagster decides when: the ``alert_on_run_failure`` run-failure sensor
(orchestration/defs/sensors.py) is the one place an alert is composed and sent. The
daemon evaluates it for runs it launched (schedule, landing sensor, the UI);
``training-impact run`` / ``demo`` / ``backfill`` evaluate the same function in their own
process right after a failed run (DECISIONS D130). This module holds what the sensor adds
to Dagster's failure event, and the two small senders:

* the message: every failed blocking check (asset, check, reason) and failed step, read
  from the run's event log, with the count of non-blocking (WARN) checks that failed;
* a JSON ``POST`` to a webhook, and a plain-text e-mail over SMTP.

Channels are configured only from the environment (nothing to configure = no alert):

    TI_ALERT_WEBHOOK_URL        POST the JSON body below (Slack/Teams/Mattermost read "text")
    TI_ALERT_SMTP_HOST          SMTP server; e-mail is sent when HOST, FROM and TO are set
    TI_ALERT_SMTP_PORT          default 587 with STARTTLS, 465 with SSL, else 25
    TI_ALERT_SMTP_FROM          sender address
    TI_ALERT_SMTP_TO            recipients, separated by commas
    TI_ALERT_SMTP_USER / TI_ALERT_SMTP_PASSWORD   optional login
    TI_ALERT_SMTP_STARTTLS      true/false (default false): upgrade the connection with STARTTLS
    TI_ALERT_SMTP_SSL           true/false (default false): implicit TLS (port 465)
    TI_ALERT_TIMEOUT_SECONDS    network timeout for either channel (default 10)

Sending never raises: a broken alert channel is logged and reported in the
returned deliveries, it never hides or changes the outcome of the run.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage

# The check evaluations of a run are read by the audit ledger too: the audit (a lower layer) owns them.
from training_impact.audit.events import check_evaluations
from training_impact.settings import environment

log = logging.getLogger("training_impact.alerts")

# Runs whose own process alerts (the CLI, D130) carry this tag; the daemon's sensor ticks leave them alone.
ALERTED_TAG = "training_impact/alerts"
ALERTED_VALUE = "sent_in_process"
SOURCE = "training-impact"
TRUE = {"1", "true", "yes", "on"}


def _flag(env: dict, name: str) -> bool:
    return str(env.get(name, "")).strip().lower() in TRUE


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: dict | None = None) -> "AlertSettings":
        env = dict(environment() if env is None else env)
        recipients = tuple(a.strip() for a in str(env.get("TI_ALERT_SMTP_TO", "")).replace(";", ",").split(",")
                           if a.strip())
        starttls, use_ssl = _flag(env, "TI_ALERT_SMTP_STARTTLS"), _flag(env, "TI_ALERT_SMTP_SSL")
        port = env.get("TI_ALERT_SMTP_PORT")
        return cls(
            webhook_url=env.get("TI_ALERT_WEBHOOK_URL") or None,
            smtp_host=env.get("TI_ALERT_SMTP_HOST") or None,
            smtp_port=int(port) if port else (465 if use_ssl else 587 if starttls else 25),
            smtp_from=env.get("TI_ALERT_SMTP_FROM") or None,
            smtp_to=recipients,
            smtp_user=env.get("TI_ALERT_SMTP_USER") or None,
            smtp_password=env.get("TI_ALERT_SMTP_PASSWORD") or None,
            smtp_starttls=starttls,
            smtp_ssl=use_ssl,
            timeout=float(env.get("TI_ALERT_TIMEOUT_SECONDS") or 10),
        )

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from and self.smtp_to)

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url) or self.email_configured


@dataclass
class Problem:
    """One thing that went wrong: a failed check (asset + check) or a failed step (asset(s) of the step)."""

    kind: str  # 'check' | 'step'
    asset: str | None
    check: str | None
    severity: str  # 'ERROR' | 'WARN' for checks; 'FAILURE' for steps
    reason: str

    def line(self) -> str:
        what = " ".join(part for part in (self.asset, self.check) if part) or "run"
        reason = self.reason.strip().splitlines()[0] if self.reason.strip() else "(no reason given)"
        return f"{self.severity} {what}: {reason}"


@dataclass
class Alert:
    run_id: str
    job: str
    problems: list[Problem]
    warnings: int = 0  # failed non-blocking (WARN) checks, counted, not listed
    data_dir: str | None = None
    dagster_url: str | None = None
    raised_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def first(self) -> Problem | None:
        checks = [p for p in self.problems if p.kind == "check"]
        return (checks or self.problems or [None])[0]

    @property
    def subject(self) -> str:
        head = f"[{SOURCE}] run {self.run_id[:8]} of {self.job} failed"
        first = self.first
        if first is not None:
            head += f": {' '.join(p for p in (first.asset, first.check) if p) or 'step failure'}"
        return head

    @property
    def text(self) -> str:
        lines = [self.subject, ""]
        checks = [p for p in self.problems if p.kind == "check"]
        steps = [p for p in self.problems if p.kind == "step"]
        if checks:
            lines.append(f"Failed blocking checks ({len(checks)}):")
            lines += [f"  - {p.line()}" for p in checks]
        if steps:
            lines.append(f"Failed steps ({len(steps)}):")
            lines += [f"  - {p.line()}" for p in steps]
        if self.warnings:
            lines.append(f"Also {self.warnings} non-blocking check(s) warned (see the run's checks).")
        lines += ["", "The KPI marts downstream of a failure keep their last good state until a run succeeds.",
                  f"run id: {self.run_id}", f"job: {self.job}", f"host: {socket.gethostname()}",
                  f"raised at: {self.raised_at}"]
        if self.data_dir:
            lines.append(f"data dir: {self.data_dir}")
        if self.dagster_url:
            lines.append(f"Dagster: {self.dagster_url.rstrip('/')}/runs/{self.run_id}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        first = self.first
        return {
            "source": SOURCE,
            "event": "run_failed",
            "status": "failure",
            "run_id": self.run_id,
            "job": self.job,
            # The first failure at the top level, for receivers that read one field each.
            "asset": first.asset if first else None,
            "check": first.check if first else None,
            "reason": first.reason if first else None,
            "failures": [asdict(p) for p in self.problems],
            "warnings": self.warnings,
            "summary": self.subject,
            "text": self.text,
            "host": socket.gethostname(),
            "data_dir": self.data_dir,
            "raised_at": self.raised_at,
        }


@dataclass
class Delivery:
    channel: str  # 'webhook' | 'email'
    target: str  # host only for webhooks (their URLs often embed a secret)
    ok: bool
    error: str | None = None


# ---------------------------------------------------------------- building alerts

def _step_assets(step_key: str, step_assets: dict[str, list[str]] | None) -> str:
    assets = (step_assets or {}).get(step_key)
    return ", ".join(assets) if assets else step_key


def alert_from_results(run_id: str, job: str, check_results: list[dict], step_failures: list[tuple[str, str]],
                       step_assets: dict[str, list[str]] | None = None, data_dir: str | None = None,
                       dagster_url: str | None = None) -> Alert:
    """The alert of a failed run: its failed blocking (ERROR) checks listed, its WARN failures counted.

    check_results: dicts with asset, check, passed, severity, description (``check_results_from_instance``).
    step_failures: (step_key, error message).
    """
    failed_checks = [c for c in check_results if not c["passed"]]
    blocking = [c for c in failed_checks if str(c.get("severity", "")).upper() == "ERROR"]
    problems = [Problem("check", c["asset"], c["check"], "ERROR", c.get("description") or "") for c in blocking]
    problems += [Problem("step", _step_assets(step, step_assets), None, "FAILURE", message)
                 for step, message in step_failures]
    return Alert(run_id=run_id, job=job, problems=problems, warnings=len(failed_checks) - len(blocking),
                 data_dir=data_dir, dagster_url=dagster_url)


def failure_text(error) -> str:
    """A step's error with the exception our code raised (e.g. a DiskSpaceError naming its path, D86)
    after Dagster's "Error occurred while executing op" wrapper, which alone says nothing."""
    if error is None:
        return ""
    text = (error.message or "").strip()
    cause = getattr(error, "cause", None)  # the user code's exception itself, not what it chained
    return f"{text} {cause.message.strip()}" if cause is not None else text


def check_results_from_instance(instance, run_id: str) -> list[dict]:
    """The run's asset check evaluations, in RunOutcome.check_results form."""
    results = []
    for _, evaluation in check_evaluations(instance, run_id):
        results.append({
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "passed": evaluation.passed,
            "severity": evaluation.severity.value,
            "description": evaluation.description,
        })
    return results


def step_assets_of(defs) -> dict[str, list[str]]:
    """Op (step) name -> the asset keys it materialises, to name assets in step failures."""
    mapping: dict[str, list[str]] = {}
    try:
        for assets_def in defs.resolve_asset_graph().assets_defs:
            if assets_def.is_executable and assets_def.keys:
                mapping[assets_def.op.name] = sorted(key.to_user_string() for key in assets_def.keys)[:5]
    except Exception:  # naming is a nicety: never let it stop an alert
        log.debug("could not map steps to assets", exc_info=True)
    return mapping


# ---------------------------------------------------------------- sending

def _webhook_target(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def post_webhook(alert: Alert, url: str, timeout: float = 10.0) -> Delivery:
    body = json.dumps(alert.to_json()).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"{SOURCE}-alerts"})
    target = _webhook_target(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                return Delivery("webhook", target, False, f"HTTP {response.status}")
        return Delivery("webhook", target, True)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Delivery("webhook", target, False, f"{type(error).__name__}: {error}")


def build_email(alert: Alert, settings: AlertSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.smtp_to)
    message["X-Training-Impact-Run"] = alert.run_id
    message.set_content(alert.text)
    return message


def send_email(alert: Alert, settings: AlertSettings) -> Delivery:
    target = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        if settings.smtp_ssl:
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
        with client:
            client.ehlo()
            if settings.smtp_starttls and not settings.smtp_ssl:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(build_email(alert, settings))
        return Delivery("email", target, True)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        return Delivery("email", target, False, f"{type(error).__name__}: {error}")


def send_alert(alert: Alert, settings: AlertSettings | None = None) -> list[Delivery]:
    """Send to every configured channel; returns one Delivery per channel tried."""
    settings = settings or AlertSettings.from_env()
    deliveries = []
    if settings.webhook_url:
        deliveries.append(post_webhook(alert, settings.webhook_url, settings.timeout))
    if settings.email_configured:
        deliveries.append(send_email(alert, settings))
    for delivery in deliveries:
        if delivery.ok:
            log.info("alert for run %s sent by %s to %s", alert.run_id, delivery.channel, delivery.target)
        else:
            log.warning("alert for run %s NOT sent by %s to %s: %s", alert.run_id, delivery.channel,
                        delivery.target, delivery.error)
    return deliveries
