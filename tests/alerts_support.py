"""Test support for alerts: real local receivers, an HTTP server and an SMTP server on 127.0.0.1.

Used by tests/unit/test_alerts.py and tests/integration/test_alerts_run.py; each defines its
``receivers`` fixture with ``local_receivers``.
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import os
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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


@contextmanager
def local_receivers(monkeypatch) -> Iterator[Receivers]:
    """A webhook receiver and an SMTP server on 127.0.0.1 (ephemeral ports), torn down on leaving."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in list(os.environ):
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
