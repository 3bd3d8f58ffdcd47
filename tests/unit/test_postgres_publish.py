"""PostgreSQL serving target against a real server (Debian's PostgreSQL, started per module).

Skipped only when the server binaries are absent and CI is not set; .ci/run installs them.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import duckdb
import pytest
from publishing_support import start_or_skip, write_fake_manifest, write_fake_warehouse

try:
    import psycopg
    from psycopg import errors
except ImportError:  # a project dependency: missing only in a stale venv
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("psycopg is not installed: pip install -e . (psycopg[binary])", allow_module_level=True)

from training_impact.publishing import publish
from training_impact.publishing.contracts import load_mart_contracts
from training_impact.publishing.postgres import PostgresPublishError, ensure_roles, publish_postgres
from training_impact.publishing.serving import serving_file

PUBLISHER = "ti_publisher"
BI_LOGIN = "metabase_svc"
AUDITOR_LOGIN = "auditor_anna"


@pytest.fixture(scope="module")
def server():
    started = start_or_skip()
    try:
        with psycopg.connect(started.dsn(), autocommit=True) as con:
            # Not a superuser: privileges are checked for the publisher as they would be in production.
            con.execute(f"create role {PUBLISHER} login createrole")
        yield started
    finally:
        started.stop()


@pytest.fixture
def database(server):
    name = f"ti_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.dsn(), autocommit=True) as con:
        con.execute(f"create database {name} owner {PUBLISHER}")
    return name


@pytest.fixture
def site(tmp_path, server, database):
    """A fake warehouse + bronze manifest, and a function that publishes it (DuckDB file + PostgreSQL)."""
    manifest = write_fake_manifest(tmp_path / "manifest.json")
    warehouse = write_fake_warehouse(tmp_path / "warehouse.duckdb")
    bronze = tmp_path / "bronze"
    (bronze / "_manifest").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'run-0' as batch_id, 'hris/workers_2026-10-31.csv' as source_file, 'ab12' as source_sha256, "
            "100::bigint as size_bytes, 'hris' as family, 'workers' as entity, 'loaded' as status, "
            "null::varchar as reason, 3::bigint as rows_read, 3::bigint as rows_loaded, 0::bigint as rows_quarantined, "
            "timestamptz '2026-11-01 02:00:00+00' as started_at) to "
            f"'{bronze / '_manifest' / 'run-0__ab12.parquet'}' (format parquet)"
        )
    dsn = server.dsn(PUBLISHER, database)

    def run(run_id: str, version: int = 1, **kwargs):
        write_fake_warehouse(warehouse, version=version)
        return publish(warehouse, tmp_path / "serving", run_id, manifest_path=manifest, postgres_dsn=dsn,
                       bronze_dir=bronze, **kwargs)

    run.dsn = dsn
    run.manifest = manifest
    run.serving = tmp_path / "serving"
    return run


def _logins(server, database):
    """Login accounts as a DBA would make them: members of the group roles the publisher created."""
    with psycopg.connect(server.dsn(), autocommit=True) as con:
        for login, group in ((BI_LOGIN, "ti_bi"), (AUDITOR_LOGIN, "ti_auditor")):
            if con.execute("select 1 from pg_roles where rolname = %s", [login]).fetchone() is None:
                con.execute(f"create role {login} login in role {group}")
    return server.dsn(BI_LOGIN, database), server.dsn(AUDITOR_LOGIN, database)


def _run_ids(con) -> set[str]:
    ids = {row[0] for row in con.execute("select distinct _published_run_id from reporting.kpi_alpha union "
                                         "select distinct _published_run_id from reporting.kpi_beta union "
                                         "select distinct run_id from reporting.publish_info").fetchall()}
    return ids


def _wait_until_blocked(server, database, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(server.dsn(), autocommit=True) as con:
        while time.monotonic() < deadline:
            waiting = con.execute(
                "select count(*) from pg_stat_activity where datname = %s and usename = %s "
                "and wait_event_type = 'Lock'", [database, PUBLISHER]).fetchone()[0]
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the publisher never waited for the reader's lock")


def _denied(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        with pytest.raises(errors.InsufficientPrivilege):
            con.execute(statement)


def test_publish_swaps_reporting_and_keeps_an_audit_ledger(site):
    first = site("run-a")
    assert first.postgres["tables"] == 2 and first.postgres["rows"] == 7
    assert first.postgres["load_manifest_rows"] == 1
    assert first.postgres["warnings"] == []
    second = site("run-b", version=2)
    assert second.postgres["swap_attempts"] == 1

    with psycopg.connect(site.dsn) as con:
        schemas = {row[0] for row in con.execute("select nspname from pg_namespace").fetchall()}
        assert {"reporting", "audit"} <= schemas and not {"reporting_next", "reporting_previous"} & schemas
        assert _run_ids(con) == {"run-b"}
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'reporting' and table_name = 'kpi_alpha' order by ordinal_position"
        ).fetchall()
        assert columns == [
            ("kpi", "text"), ("program_type", "text"), ("evaluation_level", "integer"), ("n", "bigint"),
            ("estimate", "double precision"), ("suppressed", "boolean"), ("_published_run_id", "text"),
            ("_published_at", "timestamp without time zone"),
        ]
        pg_rows = con.execute("select * from reporting.kpi_alpha order by kpi, program_type").fetchall()
        ledger = con.execute("select run_id, mart, row_count from audit.publish_log order by 1, 2").fetchall()
        assert ledger == [("run-a", "kpi_alpha", 2), ("run-a", "kpi_beta", 5),
                          ("run-b", "kpi_alpha", 2), ("run-b", "kpi_beta", 5)]
        manifest = con.execute("select source_file, status, rows_read, started_at from audit.load_manifest").fetchall()
        assert manifest[0][:3] == ("hris/workers_2026-10-31.csv", "loaded", 3)
        assert manifest[0][3].utcoffset() is not None
        comment = con.execute("select col_description('reporting.kpi_alpha'::regclass, 5)").fetchone()[0]
        assert comment == "estimate of kpi_alpha"
    # The DuckDB serving file and PostgreSQL hold the same rows.
    with duckdb.connect(str(serving_file(site.serving)), read_only=True) as con:
        duck_rows = con.execute("select * from reporting.kpi_alpha order by kpi, program_type").fetchall()
    assert pg_rows == duck_rows


def test_bi_role_reads_reporting_only_and_cannot_write(site, server, database):
    site("run-a")
    with psycopg.connect(site.dsn, autocommit=True) as con:
        con.execute("create table public.hr_secrets (salary int)")
    bi, _ = _logins(server, database)

    with psycopg.connect(bi) as con:
        assert _run_ids(con) == {"run-a"}
        assert con.execute("select count(*) from reporting.publish_info").fetchone()[0] == 2
    for statement in (
        "insert into reporting.kpi_beta values ('x', 1, 'forged', now())",
        "update reporting.kpi_alpha set estimate = 0",
        "delete from reporting.kpi_alpha",
        "truncate reporting.kpi_beta",
        "drop table reporting.kpi_beta",
        "create table reporting.mine (x int)",
        "create table public.mine (x int)",
        "create schema mine",
        "select * from audit.publish_log",
        "select * from audit.load_manifest",
        "select * from public.hr_secrets",
    ):
        _denied(bi, statement)


def test_auditor_reads_audit_and_reporting_but_cannot_write(site, server, database):
    site("run-a")
    _, auditor = _logins(server, database)
    with psycopg.connect(auditor) as con:
        assert _run_ids(con) == {"run-a"}
        assert con.execute("select count(*) from audit.publish_log").fetchone()[0] == 2
        assert con.execute("select count(*) from audit.load_manifest").fetchone()[0] == 1
    for statement in (
        "insert into audit.publish_log values ('forged', now(), 'kpi_alpha', 0, 'me')",
        "delete from audit.publish_log",
        "update reporting.kpi_alpha set estimate = 0",
        "create table audit.mine (x int)",
        "create table reporting.mine (x int)",
    ):
        _denied(auditor, statement)


def test_swap_waits_for_a_running_reader_who_never_sees_a_mix(site, server, database):
    site("run-a")
    bi, _ = _logins(server, database)
    outcome = {}

    with psycopg.connect(bi) as reader:  # one transaction: a dashboard's queries
        first = reader.execute("select distinct _published_run_id from reporting.kpi_alpha").fetchall()
        publisher = threading.Thread(
            target=lambda: outcome.setdefault("report", site("run-b", version=2, postgres_lock_timeout_ms=200)))
        publisher.start()
        _wait_until_blocked(server, database)  # run-b is loaded; its swap waits for the reader's lock
        time.sleep(0.6)  # longer than the lock timeout: the swap is retried from its savepoint
        second = reader.execute("select distinct _published_run_id from reporting.kpi_beta").fetchall()
        reader.commit()
        publisher.join(timeout=60)
    assert first == second == [("run-a",)]
    assert outcome["report"].postgres["swap_attempts"] > 1
    with psycopg.connect(bi) as con:
        assert _run_ids(con) == {"run-b"}


def test_swap_that_cannot_get_its_locks_changes_no_target(site, server, database):
    site("run-a")
    bi, _ = _logins(server, database)
    serving_before = serving_file(site.serving).read_bytes()
    with psycopg.connect(bi) as reader:
        reader.execute("select count(*) from reporting.kpi_alpha").fetchone()
        with pytest.raises(PostgresPublishError, match="readers kept"):
            site("run-b", version=2, postgres_lock_timeout_ms=100, postgres_swap_attempts=2)
        reader.rollback()
    with psycopg.connect(site.dsn) as con:
        assert _run_ids(con) == {"run-a"}
        assert con.execute("select count(*) from pg_namespace where nspname like 'reporting_%'").fetchone()[0] == 0
        assert {row[0] for row in con.execute("select run_id from audit.publish_log").fetchall()} == {"run-a"}
    assert serving_file(site.serving).read_bytes() == serving_before  # the DuckDB file was not swapped either


def test_rows_that_do_not_fit_roll_everything_back(site):
    site("run-a")
    mart = load_mart_contracts(site.manifest)[1]  # kpi_beta: kpi varchar, estimate double
    with pytest.raises(psycopg.Error):
        publish_postgres(site.dsn, [(mart, [("roi", "not a number", "run-x", None)])], run_id="run-x",
                         published_at=None)
    with psycopg.connect(site.dsn) as con:
        assert _run_ids(con) == {"run-a"}


def test_missing_group_roles_name_the_dba_step(server, database):
    with psycopg.connect(server.dsn(), autocommit=True) as con:
        con.execute(f"create role weak_publisher_{database} login")
    with psycopg.connect(server.dsn(f"weak_publisher_{database}", database)) as con:
        with pytest.raises(Exception, match="CREATE ROLE ti_bi_missing NOLOGIN"):
            ensure_roles(con.cursor(), bi_role="ti_bi_missing", auditor_role="ti_auditor_missing")
