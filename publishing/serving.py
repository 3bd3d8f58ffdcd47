"""Publish the KPI marts to the serving zone that BI tools read.

The live warehouse (dbt's single-writer DuckDB file) is never opened by BI. After
dbt has built the marts, one publish:

1. builds a new serving DuckDB file under a hidden temporary name (schema
   ``reporting``: one table per ``kpi_*`` mart with its contract columns plus
   ``_published_run_id`` / ``_published_at``, and ``reporting.publish_info``);
2. writes one Parquet file per mart from that same copy, also under temporary names;
3. publishes the same rows to PostgreSQL when a DSN is configured (one transaction,
   see ``publishing.postgres``), so a failure there leaves every target on the old set;
4. renames the new DuckDB file over the old one (``os.replace``, atomic on POSIX), then
   each Parquet file.

A reader that has the old serving file open keeps reading the old inode and never
blocks the publisher; the next connection opens the new file. Nothing is partial.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from publishing.contracts import (
    PUBLISH_INFO,
    PUBLISH_INFO_COLUMNS,
    PUBLISH_INFO_DESCRIPTION,
    Column,
    ContractError,
    MartContract,
    arrow_schema,
    load_mart_contracts,
)
from training_impact.settings import Paths

SERVING_FILE_NAME = "training_impact.duckdb"
SERVING_SCHEMA = "reporting"
PARQUET_DIR_NAME = "parquet"
TMP_SUFFIX = ".tmp"


def serving_dir(paths: Paths) -> Path:
    """``$TI_SERVING_DIR`` when set, else ``<data root>/serving``."""
    env = os.environ.get("TI_SERVING_DIR")
    return Path(env).resolve() if env else paths.root / "serving"


def serving_file(directory: Path) -> Path:
    return Path(directory) / SERVING_FILE_NAME


def parquet_dir(directory: Path) -> Path:
    return Path(directory) / PARQUET_DIR_NAME


@dataclass
class PublishReport:
    run_id: str
    published_at: datetime
    serving_file: Path
    parquet_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    postgres: dict | None = None

    def metadata(self) -> dict:
        data = {
            "run_id": self.run_id,
            "published_at": self.published_at.isoformat() + "Z",
            "serving_file": str(self.serving_file),
            "parquet_dir": str(self.parquet_dir),
            "marts": len(self.row_counts),
            "rows": sum(self.row_counts.values()),
            "row_counts": self.row_counts,
            "postgres": self.postgres or "not configured (TI_POSTGRES_DSN unset)",
        }
        return data


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _token(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:64] or "run"


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Temporary files left by a publish that crashed (only one publisher runs at a time)."""
    removed = []
    for folder in (Path(directory), parquet_dir(directory)):
        if folder.exists():
            for path in folder.glob(f".*{TMP_SUFFIX}*"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _check_warehouse(con: duckdb.DuckDBPyConnection, contracts: Sequence[MartContract]) -> None:
    for mart in contracts:
        found = con.execute(
            """
            select column_name from information_schema.columns
            where table_catalog = 'warehouse' and table_schema = ? and table_name = ?
            """,
            [mart.schema, mart.alias],
        ).fetchall()
        if not found:
            raise ContractError(f"mart {mart.schema}.{mart.alias} is not in the warehouse: nothing published")
        actual = {row[0] for row in found}
        expected = {column.name for column in mart.columns}
        if actual != expected:
            raise ContractError(
                f"mart {mart.name} columns differ from its contract: missing {sorted(expected - actual)}, "
                f"extra {sorted(actual - expected)}"
            )


def _create_table(con, table: str, columns, description: str = "") -> None:
    ddl = ", ".join(f"{_q(name)} {data_type}" for name, data_type, *_ in columns)
    con.execute(f"create table {SERVING_SCHEMA}.{_q(table)} ({ddl})")
    if description:
        con.execute(f"comment on table {SERVING_SCHEMA}.{_q(table)} is {_literal(description)}")
    for name, _data_type, *rest in columns:
        if rest and rest[0]:
            con.execute(f"comment on column {SERVING_SCHEMA}.{_q(table)}.{_q(name)} is {_literal(rest[0])}")


def build_serving_copy(
    con: duckdb.DuckDBPyConnection,
    contracts: Sequence[MartContract],
    run_id: str,
    published_at: datetime,
) -> dict[str, int]:
    """Fill schema ``reporting`` of ``con`` from the attached ``warehouse``; return rows per mart."""
    _check_warehouse(con, contracts)
    con.execute(f"create schema {SERVING_SCHEMA}")
    counts: dict[str, int] = {}
    for mart in contracts:
        columns = [(c.name, c.data_type, c.description) for c in mart.served_columns]
        _create_table(con, mart.name, columns, mart.description)
        casts = ", ".join(f"cast({_q(c.name)} as {c.data_type})" for c in mart.columns)
        con.execute(
            f"""
            insert into {SERVING_SCHEMA}.{_q(mart.name)}
            select {casts}, ?::varchar, ?::timestamp
            from warehouse.{_q(mart.schema)}.{_q(mart.alias)}
            order by all
            """,
            [run_id, published_at],
        )
        counts[mart.name] = con.execute(f"select count(*) from {SERVING_SCHEMA}.{_q(mart.name)}").fetchone()[0]
    _create_table(con, PUBLISH_INFO, PUBLISH_INFO_COLUMNS, PUBLISH_INFO_DESCRIPTION)
    con.executemany(
        f"insert into {SERVING_SCHEMA}.{PUBLISH_INFO} values (?, ?, ?, ?)",
        [[name, count, run_id, published_at] for name, count in counts.items()],
    )
    return counts


def _write_parquet(con, table: str, schema, path: Path) -> None:
    """Parquet with the contract's schema, not one inferred from the rows.

    DuckDB's own writer marks a column REQUIRED when it holds no null, so the file
    schema would change the night a cell is first suppressed; pyarrow writes every
    column OPTIONAL with the contract type, run after run.
    """
    import pyarrow.parquet as pq

    data = con.sql(f"select * from {SERVING_SCHEMA}.{_q(table)}").to_arrow_table()
    if data.column_names != schema.names:
        raise ContractError(f"{table}: columns {data.column_names} differ from the served schema {schema.names}")
    pq.write_table(data.cast(schema), path, compression="zstd")


def _bronze_manifest(con, bronze_dir: Path | None):
    """The ingestion manifest (every file ever seen) for the PostgreSQL audit schema."""
    if bronze_dir is None:
        return None
    folder = Path(bronze_dir) / "_manifest"
    if not folder.exists() or not any(folder.glob("*.parquet")):
        return None
    relation = con.execute(
        "select * from read_parquet(?, union_by_name = true) order by all", [str(folder / "*.parquet")]
    )
    columns = [(d[0], str(d[1])) for d in relation.description]
    return columns, relation.fetchall()


def publish(
    warehouse: Path,
    directory: Path,
    run_id: str,
    *,
    contracts: Sequence[MartContract] | None = None,
    manifest_path: Path | None = None,
    postgres_dsn: str | None = None,
    bronze_dir: Path | None = None,
    postgres_lock_timeout_ms: int = 5000,
    postgres_swap_attempts: int = 12,
    log: Callable[[str], None] = lambda message: None,
) -> PublishReport:
    """Publish every mart from ``warehouse`` into ``directory`` (and PostgreSQL when a DSN is given).

    PostgreSQL is published before the files are swapped: if it fails, every target keeps the old set.
    """
    warehouse = Path(warehouse)
    directory = Path(directory)
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    contracts = list(contracts or load_mart_contracts(manifest_path))
    published_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    parquet = parquet_dir(directory)
    parquet.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(directory):
        log(f"removed a temporary file left by an interrupted publish: {stale}")

    token = _token(run_id)
    target = serving_file(directory)
    tmp_db = directory / f".{SERVING_FILE_NAME}.{token}{TMP_SUFFIX}"
    parquet_targets = {name: parquet / f"{name}.parquet" for name in
                       [mart.name for mart in contracts] + [PUBLISH_INFO]}
    tmp_parquet = {name: path.with_name(f".{path.name}.{token}{TMP_SUFFIX}") for name, path in parquet_targets.items()}
    report = PublishReport(run_id=run_id, published_at=published_at, serving_file=target, parquet_dir=parquet)
    try:
        con = duckdb.connect(str(tmp_db), config={"autoinstall_known_extensions": False,
                                                   "autoload_known_extensions": False})
        try:
            con.execute(f"attach {_literal(str(warehouse))} as warehouse (read_only)")
            report.row_counts = build_serving_copy(con, contracts, run_id, published_at)
            schemas = {mart.name: arrow_schema(mart.served_columns, mart.description) for mart in contracts}
            schemas[PUBLISH_INFO] = arrow_schema([Column(*spec) for spec in PUBLISH_INFO_COLUMNS])
            for name, path in tmp_parquet.items():
                _write_parquet(con, name, schemas[name], path)
            if postgres_dsn:
                from publishing.postgres import publish_postgres

                tables = [
                    (mart, con.execute(f"select * from {SERVING_SCHEMA}.{_q(mart.name)}").fetchall())
                    for mart in contracts
                ]
                report.postgres = publish_postgres(
                    postgres_dsn, tables, run_id=run_id, published_at=published_at,
                    load_manifest=_bronze_manifest(con, bronze_dir), lock_timeout_ms=postgres_lock_timeout_ms,
                    swap_attempts=postgres_swap_attempts, log=log,
                )
            con.execute("detach warehouse")
            con.execute("checkpoint")
        finally:
            con.close()
        wal = tmp_db.with_name(tmp_db.name + ".wal")
        if wal.exists():
            raise RuntimeError(f"serving copy left a WAL file {wal}: refusing to publish a file that needs it")
        for path in [tmp_db, *tmp_parquet.values()]:
            _fsync_file(path)
        # The switch: one rename for the DuckDB file (all marts at once), then one per Parquet file.
        os.replace(tmp_db, target)
        for name, path in tmp_parquet.items():
            os.replace(path, parquet_targets[name])
        _fsync_dir(directory)
        _fsync_dir(parquet)
    except BaseException:
        for path in [tmp_db, tmp_db.with_name(tmp_db.name + ".wal"), *tmp_parquet.values()]:
            path.unlink(missing_ok=True)
        raise
    log(f"published {len(report.row_counts)} marts ({sum(report.row_counts.values())} rows) to {target}")
    return report


def publish_audit_schema(directory: Path, build: Callable[[duckdb.DuckDBPyConnection], list[str]]) -> list[str]:
    """Add schema ``audit`` to the current serving file without disturbing its readers.

    The audit trail is complete only at the end of a run, after the marts were
    published: copy the serving file under a temporary name, let ``build`` fill
    ``audit`` in the copy, then swap it in with one rename like ``publish`` does.
    """
    import shutil

    target = serving_file(directory)
    if not target.exists():
        return []
    tmp = Path(directory) / f".{SERVING_FILE_NAME}.audit{TMP_SUFFIX}"
    try:
        shutil.copyfile(target, tmp)
        con = duckdb.connect(str(tmp), config={"autoinstall_known_extensions": False,
                                               "autoload_known_extensions": False})
        try:
            made = build(con)
            con.execute("checkpoint")
        finally:
            con.close()
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(Path(directory))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return made
