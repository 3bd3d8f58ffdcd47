"""Schema ``audit`` in PostgreSQL: appended per run, read by ti_auditor only (a real server, no pipeline)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest
from publishing_support import start_or_skip

try:
    import psycopg
except ImportError:
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("psycopg is not installed: pip install -e .", allow_module_level=True)

from training_impact.publishing.postgres import publish_audit_postgres

PUBLISHER = "ti_audit_publisher"


@pytest.fixture(scope="module")
def dsn():
    server = start_or_skip()
    try:
        name = f"ti_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server.dsn(), autocommit=True) as con:
            con.execute(f"create role {PUBLISHER} login createrole")
            con.execute(f"create database {name} owner {PUBLISHER}")
        yield server, name
    finally:
        server.stop()


def _tables(run_id: str, estimate: float) -> dict:
    now = datetime(2026, 3, 31, 2, 0, 0)
    return {
        "runs": ([("run_id", "VARCHAR"), ("ended_at", "TIMESTAMP"), ("published", "BOOLEAN")],
                 [(run_id, now, True)]),
        "run_inputs": ([("run_id", "VARCHAR"), ("source_file", "VARCHAR"), ("sha256", "VARCHAR"),
                        ("rows_used", "BIGINT")],
                       [(run_id, "hris/workers_2026-03-31.csv", "ab" * 32, 120)]),
        "kpi_history": ([("kpi", "VARCHAR"), ("estimate", "DOUBLE"), ("_run_id", "VARCHAR")],
                        [("completion_rate", estimate, run_id)]),
    }


def test_audit_rows_are_appended_once_per_run_and_auditor_reads_them(dsn):
    server, name = dsn
    publisher_dsn = server.dsn(PUBLISHER, name)
    first = publish_audit_postgres(publisher_dsn, _tables("run-1", 66.1), run_id="run-1")
    assert first["inserted"] == {"runs": 1, "run_inputs": 1, "kpi_history": 1}
    again = publish_audit_postgres(publisher_dsn, _tables("run-1", 99.9), run_id="run-1")
    assert again["already_present"] and again["inserted"] == {}
    publish_audit_postgres(publisher_dsn, _tables("run-2", 70.0), run_id="run-2")

    with psycopg.connect(server.dsn(dbname=name), autocommit=True) as con:  # superuser: may SET ROLE
        history = con.execute("select _run_id, estimate from audit.kpi_history order by _run_id").fetchall()
        assert history == [("run-1", 66.1), ("run-2", 70.0)]  # the old figure is kept, never overwritten
        con.execute("create role auditor_ann login")
        con.execute("grant ti_auditor to auditor_ann")
        con.execute("create role bi_bob login")
        con.execute("grant ti_bi to bi_bob")
        con.execute("set role auditor_ann")
        assert con.execute("select count(*) from audit.runs").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("delete from audit.kpi_history")
        con.execute("reset role")
        con.execute("set role bi_bob")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("select count(*) from audit.runs")
