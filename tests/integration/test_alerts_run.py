"""A real failed pipeline run (a landing file missing a required column fails the blocking
quality gate) alerts real local receivers: both got a message naming the asset, the check and the reason.
"""

from __future__ import annotations

import csv

import pytest

from alerts_support import local_receivers


@pytest.fixture
def receivers(monkeypatch):
    """A webhook receiver and an SMTP server on 127.0.0.1 (ephemeral ports), torn down after the test."""
    with local_receivers(monkeypatch) as found:
        yield found


# ---------------------------------------------------------------- a real failed pipeline run

def test_failed_gate_in_a_real_run_blocks_the_marts_and_alerts_both_receivers(copy_of_run, receivers, monkeypatch):
    """A workers extract without its required hire_date column: the gate names file and column, nothing
    downstream of bronze is built, the marts keep their rows, and both channels carry the reason."""
    from training_impact.pipeline import run_pipeline

    marts_before = _marts(copy_of_run)

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
    failed = [c for c in outcome.check_results if not c["passed"]]
    assert any(c["asset"] == "bronze/workers" and "hris/workers_2026-11-30.csv" in c["description"]
               and "hire_date" in c["description"] for c in failed), failed
    assert not [key for key in outcome.materialized if key.startswith(("staging/", "intermediate/", "marts/"))]
    assert _marts(copy_of_run) == marts_before
    assert [(d.channel, d.ok) for d in outcome.alerts] == [("webhook", True), ("email", True)], outcome.alerts
    body = receivers.webhook_json()
    assert body["run_id"] == outcome.run_id and body["event"] == "run_failed"
    gate = [f for f in body["failures"] if f["kind"] == "check"]
    assert any(f["asset"] == "bronze/workers" and f["check"] == "quality_gate"
               and "hire_date" in f["reason"] and "workers_2026-11-30.csv" in f["reason"] for f in gate), body
    message = receivers.email()
    assert "bronze/workers quality_gate" in message["Subject"]
    assert "hire_date" in message.get_content()


def _marts(paths) -> dict[str, list[tuple]]:
    import duckdb

    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'main_marts' order by 1").fetchall()]
        return {name: con.execute(f'select * from main_marts."{name}" order by all').fetchall() for name in names}
