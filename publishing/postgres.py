"""Publish the marts into PostgreSQL schema ``reporting``, swapped in one transaction.

Everything happens in ONE transaction, so a reader sees the old set or the new
one, never a mix, and a failure leaves the old set in place:

1. take an advisory lock (one publisher at a time);
2. make sure the roles exist: ``ti_bi`` (reads ``reporting``) and ``ti_auditor``
   (member of ``ti_bi``, also reads ``audit``); both are NOLOGIN group roles: people
   and BI service accounts are LOGIN roles the DBA makes members of them;
3. create schema ``reporting_next`` with one table per mart and per serving view and grain
   (contract types, comments from the dbt descriptions) and ``publish_info``, COPY the rows in,
   grant SELECT to ``ti_bi``;
4. build ``audit.load_manifest_next`` (the ingestion manifest) and append to
   ``audit.publish_log`` (the run ledger);
5. swap: rename ``reporting`` → ``reporting_previous``, ``reporting_next`` →
   ``reporting``, drop the previous one (and the same for ``audit.load_manifest``);
   the drop waits for readers still inside a query on the old tables, bounded by
   ``lock_timeout`` and retried from a savepoint;
6. commit.

The publishing role owns ``reporting`` and ``audit``; it needs CREATE on the
database and, only to create the two group roles the first time, CREATEROLE.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from training_impact.publishing.contracts import (
    PUBLISH_INFO,
    PUBLISH_INFO_COLUMNS,
    PUBLISH_INFO_DESCRIPTION,
    MartContract,
    postgres_type,
)

REPORTING = "reporting"
NEXT = "reporting_next"
PREVIOUS = "reporting_previous"
AUDIT = "audit"
BI_ROLE = "ti_bi"
AUDITOR_ROLE = "ti_auditor"
ADVISORY_LOCK_KEY = "training_impact.publish"

# DuckDB type names of the ingestion manifest → PostgreSQL.
_DUCKDB_TO_POSTGRES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


class PostgresPublishError(RuntimeError):
    pass


def _ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def _create_table(cur, schema: str, table: str, columns: Sequence[tuple[str, str, str]], description: str = ""):
    cur.execute(
        sql.SQL("create table {} ({})").format(
            _ident(schema, table),
            sql.SQL(", ").join(sql.SQL("{} {}").format(_ident(name), sql.SQL(pg_type)) for name, pg_type, _ in columns),
        )
    )
    if description:
        cur.execute(sql.SQL("comment on table {} is {}").format(_ident(schema, table), sql.Literal(description)))
    for name, _, text in columns:
        if text:
            cur.execute(sql.SQL("comment on column {} is {}").format(_ident(schema, table, name), sql.Literal(text)))


def _copy_rows(cur, schema: str, table: str, names: Sequence[str], rows: Sequence[tuple]) -> None:
    statement = sql.SQL("copy {} ({}) from stdin").format(
        _ident(schema, table), sql.SQL(", ").join(map(_ident, names))
    )
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _schema_exists(cur, name: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", [name])
    return cur.fetchone() is not None


def _table_exists(cur, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", [f'"{schema}"."{table}"'])
    return bool(cur.fetchone()[0])


def ensure_roles(cur, bi_role: str = BI_ROLE, auditor_role: str = AUDITOR_ROLE) -> list[str]:
    """Create the two read-only group roles when missing; the auditor inherits the BI role."""
    created = []
    for role in (bi_role, auditor_role):
        cur.execute("select 1 from pg_roles where rolname = %s", [role])
        if cur.fetchone() is None:
            try:
                cur.execute(sql.SQL("create role {} nologin").format(_ident(role)))
            except psycopg.errors.InsufficientPrivilege as error:
                raise PostgresPublishError(
                    f"role {role} does not exist and the publishing role may not create it: "
                    f"as a DBA run `CREATE ROLE {role} NOLOGIN` (docs/serving.md)"
                ) from error
            created.append(role)
    cur.execute("select pg_has_role(%s, %s, 'MEMBER')", [auditor_role, bi_role])
    if not cur.fetchone()[0]:
        cur.execute(sql.SQL("grant {} to {}").format(_ident(bi_role), _ident(auditor_role)))
    return created


def write_privileges(cur, role: str) -> list[tuple[str, str]]:
    """(schema or '', privilege) pairs ``role`` holds that would let it change data or create objects."""
    cur.execute(
        """
        select c.table_schema, format('%%s on %%I.%%I', p.privilege, c.table_schema, c.table_name)
        from information_schema.tables c
        cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as p(privilege)
        where c.table_schema in (%s, %s, 'public')
          and has_table_privilege(%s, format('%%I.%%I', c.table_schema, c.table_name), p.privilege)
        union all
        select n.nspname, format('CREATE on schema %%I', n.nspname)
        from pg_namespace n
        where n.nspname in (%s, %s, 'public') and has_schema_privilege(%s, n.oid, 'CREATE')
        union all
        select '', 'CREATE on database ' || current_database()
        where has_database_privilege(%s, current_database(), 'CREATE')
        """,
        [REPORTING, AUDIT, role, REPORTING, AUDIT, role, role],
    )
    return [(row[0], row[1]) for row in cur.fetchall()]


def publish_postgres(
    dsn: str,
    tables: Sequence[tuple[MartContract, Sequence[tuple]]],
    *,
    run_id: str,
    published_at: datetime,
    load_manifest: tuple[list[tuple[str, str]], list[tuple]] | None = None,
    lock_timeout_ms: int = 5000,
    swap_attempts: int = 12,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Publish ``tables`` (rows already carry the lineage columns) in one transaction."""
    with psycopg.connect(dsn, autocommit=True, application_name="training-impact publisher") as conn:
        cur = conn.cursor()
        with conn.transaction():
            cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [ADVISORY_LOCK_KEY])
            created_roles = ensure_roles(cur)
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(NEXT)))
            cur.execute(sql.SQL("create schema {}").format(_ident(NEXT)))
            cur.execute(
                sql.SQL("comment on schema {} is {}").format(
                    _ident(NEXT),
                    sql.Literal("training-impact KPI marts (kpi_*) and analyst-safe serving views (<family>_overall, "
                                "<family>_by_<grain>), read-only for BI; replaced as a whole by each publish"),
                )
            )
            counts: dict[str, int] = {}
            for mart, rows in tables:
                columns = [(c.name, c.postgres_type, c.description) for c in mart.served_columns]
                _create_table(cur, NEXT, mart.name, columns, mart.description)
                _copy_rows(cur, NEXT, mart.name, [c.name for c in mart.served_columns], rows)
                counts[mart.name] = len(rows)
            _create_table(cur, NEXT, PUBLISH_INFO,
                          [(name, postgres_type(kind), text) for name, kind, text in PUBLISH_INFO_COLUMNS],
                          PUBLISH_INFO_DESCRIPTION)
            _copy_rows(cur, NEXT, PUBLISH_INFO, [name for name, *_ in PUBLISH_INFO_COLUMNS],
                       [(name, count, run_id, published_at) for name, count in counts.items()])
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(NEXT), _ident(BI_ROLE)))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(_ident(NEXT), _ident(BI_ROLE)))

            # audit: the run ledger (appended) and the ingestion manifest (replaced at the swap).
            cur.execute(sql.SQL("create schema if not exists {}").format(_ident(AUDIT)))
            if not _table_exists(cur, AUDIT, "publish_log"):
                _create_table(
                    cur, AUDIT, "publish_log",
                    [("run_id", "text", "Dagster run id (also the batch id of the files it loaded)."),
                     ("published_at", "timestamp", "When the publish happened (UTC)."),
                     ("mart", "text", "Published table."),
                     ("row_count", "bigint", "Rows published."),
                     ("published_by", "text", "Database role that published.")],
                    "Run ledger: one row per mart per publish, never rewritten.",
                )
            cur.execute(
                sql.SQL("insert into {} select %s, %s, m, c, current_user from unnest(%s::text[], %s::bigint[]) "
                        "as t(m, c)").format(_ident(AUDIT, "publish_log")),
                [run_id, published_at, list(counts), list(counts.values())],
            )
            manifest_rows = None
            if load_manifest is not None:
                columns, rows = load_manifest
                cur.execute(sql.SQL("drop table if exists {}").format(_ident(AUDIT, "load_manifest_next")))
                _create_table(
                    cur, AUDIT, "load_manifest_next",
                    [(name, _DUCKDB_TO_POSTGRES.get(kind.upper(), "text"), "") for name, kind in columns],
                    "Ingestion manifest: one row per landing file seen, with its status and row reconciliation.",
                )
                _copy_rows(cur, AUDIT, "load_manifest_next", [name for name, _ in columns], rows)
                manifest_rows = len(rows)

            attempts = _swap(conn, cur, load_manifest is not None, lock_timeout_ms, swap_attempts, log)

            cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(AUDIT), _ident(AUDITOR_ROLE)))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(_ident(AUDIT),
                                                                                       _ident(AUDITOR_ROLE)))
            held = {role: write_privileges(cur, role) for role in (BI_ROLE, AUDITOR_ROLE)}
            leaks = {role: [p for schema, p in pairs if schema in (REPORTING, AUDIT)] for role, pairs in held.items()}
            if any(leaks.values()):
                raise PostgresPublishError(f"read-only roles can write: {leaks}")  # rolls the publish back
            warnings = sorted({f"{role}: {p}" for role, pairs in held.items() for _, p in pairs})
        for warning in warnings:
            log(f"PostgreSQL: a read-only role holds {warning} (granted to PUBLIC?): revoke it, see docs/serving.md")
        info = conn.info
        return {
            "server": f"{info.host}:{info.port}/{info.dbname}",
            "schema": REPORTING,
            "published_by": info.user,
            "tables": len(counts),
            "rows": sum(counts.values()),
            "load_manifest_rows": manifest_rows,
            "swap_attempts": attempts,
            "roles_created": created_roles,
            "warnings": warnings,
        }


def _swap(conn, cur, with_manifest: bool, lock_timeout_ms: int, attempts: int, log) -> int:
    """Rename next → reporting and drop the previous set, retried while readers hold the old tables."""
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():  # a savepoint: a lock timeout undoes only the swap
                cur.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_ms)}ms")))
                if _schema_exists(cur, REPORTING):
                    cur.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(PREVIOUS)))
                    cur.execute(sql.SQL("alter schema {} rename to {}").format(_ident(REPORTING), _ident(PREVIOUS)))
                cur.execute(sql.SQL("alter schema {} rename to {}").format(_ident(NEXT), _ident(REPORTING)))
                # Waits for queries still reading the old tables; commits only after them.
                cur.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(PREVIOUS)))
                if with_manifest:
                    cur.execute(sql.SQL("drop table if exists {}").format(_ident(AUDIT, "load_manifest")))
                    cur.execute(sql.SQL("alter table {} rename to {}").format(
                        _ident(AUDIT, "load_manifest_next"), _ident("load_manifest")))
                cur.execute("set local lock_timeout = 0")
            return attempt
        except psycopg.errors.LockNotAvailable:
            if attempt == attempts:
                raise PostgresPublishError(
                    f"readers kept the old reporting tables locked through {attempts} tries of "
                    f"{lock_timeout_ms} ms: nothing was changed"
                ) from None
            log(f"PostgreSQL swap waited for readers (try {attempt}/{attempts}); retrying")
            time.sleep(min(1.0, lock_timeout_ms / 1000))
    raise AssertionError("unreachable")


def publish_audit_postgres(
    dsn: str,
    tables: dict[str, tuple[list[tuple[str, str]], list[tuple]]],
    *,
    run_id: str,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Append one run's audit rows (ledger, inputs, checks, KPI history) to schema ``audit``.

    Append-only like the files they come from: tables are created on first use, a run
    already present in ``audit.runs`` is not inserted twice, nothing is updated or deleted.
    ``ti_auditor`` reads them; no other role is granted anything.
    """
    inserted: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True, application_name="training-impact audit") as conn:
        cur = conn.cursor()
        with conn.transaction():
            cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [ADVISORY_LOCK_KEY])
            ensure_roles(cur)
            cur.execute(sql.SQL("create schema if not exists {}").format(_ident(AUDIT)))
            if _table_exists(cur, AUDIT, "runs"):
                cur.execute(sql.SQL("select 1 from {} where run_id = %s").format(_ident(AUDIT, "runs")), [run_id])
                if cur.fetchone() is not None:
                    log(f"PostgreSQL audit: run {run_id} is already there")
                    return {"schema": AUDIT, "inserted": {}, "already_present": True}
            for table, (columns, rows) in tables.items():
                if not _table_exists(cur, AUDIT, table):
                    _create_table(cur, AUDIT, table,
                                  [(name, _DUCKDB_TO_POSTGRES.get(kind.upper(), "text"), "") for name, kind in columns],
                                  f"training-impact audit trail ({table}); append-only, see docs/audit.md.")
                _copy_rows(cur, AUDIT, table, [name for name, _ in columns], rows)
                inserted[table] = len(rows)
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(AUDIT), _ident(AUDITOR_ROLE)))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(_ident(AUDIT),
                                                                                       _ident(AUDITOR_ROLE)))
    log(f"PostgreSQL audit: appended {sum(inserted.values())} rows for run {run_id}")
    return {"schema": AUDIT, "inserted": inserted, "already_present": False}
