"""Publish the KPI marts to the serving zone that BI tools read.

The live warehouse (dbt's single-writer DuckDB file) is never opened by BI. Each
publish builds a complete, new *version* of the serving set and then switches BI
to it with one rename (docs/serving.md, DECISIONS D90–D94)::

    serving/
      current -> versions/v000012-<run>          one symlink: the published set
      training_impact.duckdb -> current/training_impact.duckdb   (fixed link)
      parquet -> current/parquet                                  (fixed link)
      versions/
        v000011-<run>/  training_impact.duckdb  parquet/<mart>.parquet …
        v000012-<run>/  …
        .v000013-<run>.tmp/     a version being built (removed by the next publish after a crash)

One publish:

1. builds the new version in a hidden folder ``versions/.vNNNNNN-<run>.tmp``: the DuckDB
   file (schema ``reporting``: one table per ``kpi_*`` mart with its contract columns plus
   ``_published_run_id`` / ``_published_at``, one table per serving view and grain,
   ``<family>_overall`` / ``<family>_by_<grain>`` (D126), and ``reporting.publish_info``) and one
   Parquet file per table from that same copy;
2. publishes the same rows to PostgreSQL when a DSN is configured (one transaction,
   see ``publishing.postgres``), so a failure there leaves every target on the old set;
3. fsyncs, renames the folder to ``versions/vNNNNNN-<run>``, then replaces the symlink
   ``current`` with a new one (``os.replace``: atomic on POSIX). A reader that resolves
   ``current`` (or a path through it) gets the old set or the new one, never a mix;
4. keeps the newest ``$TI_SERVING_KEEP`` versions (default 3) and deletes the rest.

A crash at any point leaves ``current`` on the previous version; the next publish
removes the half-built folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from training_impact.publishing.contracts import (
    PUBLISH_INFO,
    PUBLISH_INFO_COLUMNS,
    PUBLISH_INFO_DESCRIPTION,
    SLICE_GRAIN_COLUMN,
    Column,
    ContractError,
    MartContract,
    arrow_schema,
    load_published_contracts,
)
from training_impact.settings import Paths, Settings

SERVING_FILE_NAME = "training_impact.duckdb"
SERVING_SCHEMA = "reporting"
PARQUET_DIR_NAME = "parquet"
TMP_SUFFIX = ".tmp"
CURRENT_LINK = "current"
VERSIONS_DIR_NAME = "versions"
_VERSION = re.compile(r"^v(\d{6,})-(.+)$")


class ServingDiskFull(OSError):
    """No space left while building a new serving version; the published set is unchanged."""


def serving_dir(paths: Paths, settings: Settings | None = None) -> Path:
    """The serving folder of the settings (``$TI_SERVING_DIR``), else ``<data root>/serving``."""
    chosen = (settings or Settings.from_environment()).serving_dir
    return Path(chosen) if chosen else paths.root / "serving"


def serving_file(directory: Path) -> Path:
    """The stable path BI tools open: a link through ``current`` to the published version's file."""
    return Path(directory) / SERVING_FILE_NAME


def parquet_dir(directory: Path) -> Path:
    """The stable Parquet folder: a link through ``current`` to the published version's folder."""
    return Path(directory) / PARQUET_DIR_NAME


def versions_dir(directory: Path) -> Path:
    return Path(directory) / VERSIONS_DIR_NAME


def current_version(directory: Path) -> Path | None:
    """The published version folder ``current`` points at (resolved once: read every file from it)."""
    link = Path(directory) / CURRENT_LINK
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).resolve()
    return target if target.is_dir() else None


def published_versions(directory: Path) -> list[Path]:
    """Complete version folders, oldest first (by sequence number, not by clock)."""
    folder = versions_dir(directory)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _VERSION.match(p.name))]
    return [p for _, p in sorted(found)]


def keep_versions(settings: Settings | None = None) -> int:
    """``$TI_SERVING_KEEP``: how many published versions stay on disk (the current one included)."""
    return (settings or Settings.from_environment()).serving_keep


@dataclass
class PublishReport:
    run_id: str
    published_at: datetime
    serving_file: Path
    parquet_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    postgres: dict | None = None
    version_dir: Path | None = None
    removed_versions: list[str] = field(default_factory=list)

    serving_views: list[str] = field(default_factory=list)  # the serving tables among row_counts (D126)

    def metadata(self) -> dict:
        data = {
            "run_id": self.run_id,
            "published_at": self.published_at.isoformat() + "Z",
            "serving_file": str(self.serving_file),
            "parquet_dir": str(self.parquet_dir),
            "version": self.version_dir.name if self.version_dir else None,
            "version_dir": str(self.version_dir) if self.version_dir else None,
            "marts": len(self.row_counts) - len(self.serving_views),
            "serving_views": len(self.serving_views),
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """What a publish that crashed left behind (only one publisher runs at a time, D91).

    Hidden ``.*.tmp*`` files and folders in the serving folder, in ``versions/`` (half-built
    versions) and inside each version (an interrupted audit refresh), and complete versions
    newer than ``current`` (built, then the process died before the switch: never published).
    """
    directory = Path(directory)
    removed = []
    folders = [directory, versions_dir(directory), *published_versions(directory)]
    legacy = parquet_dir(directory)
    if legacy.is_dir() and not legacy.is_symlink():
        folders.append(legacy)
    for folder in folders:
        if folder.is_dir():
            for path in folder.glob(f".*{TMP_SUFFIX}*"):
                _remove(path)
                removed.append(path)
    current = current_version(directory)
    if current is not None:
        seq = _sequence(current)
        for version in published_versions(directory):
            if _sequence(version) > seq:
                _remove(version)
                removed.append(version)
    return removed


def _sequence(version: Path) -> int:
    match = _VERSION.match(version.name)
    return int(match.group(1)) if match else 0


def _swap_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` with one rename of a fresh symlink (atomic; never a missing link)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    tmp = link.with_name(f".{link.name}{TMP_SUFFIX}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    if link.is_dir() and not link.is_symlink():  # a pre-versioning parquet/ folder: move it aside first
        aside = versions_dir(link.parent) / f".legacy-{link.name}{TMP_SUFFIX}"
        _remove(aside)
        os.rename(link, aside)
        os.replace(tmp, link)
        _remove(aside)
    else:
        os.replace(tmp, link)


def prune_versions(directory: Path, keep: int) -> list[str]:
    """Delete published versions beyond the newest ``keep`` (never the current one)."""
    current = current_version(directory)
    versions = [v for v in published_versions(directory) if v != current]
    older = [v for v in versions if current is None or _sequence(v) < _sequence(current)]
    doomed = older[: max(0, len(older) - (keep - 1))]
    for version in doomed:
        _remove(version)
    return [v.name for v in doomed]


def _is_disk_full(error: BaseException) -> bool:
    return (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        "No space left on device" in str(error) or "Disk quota exceeded" in str(error))


def _check_warehouse(con: duckdb.DuckDBPyConnection, contracts: Sequence[MartContract]) -> None:
    checked: set[tuple[str, str]] = set()
    for mart in contracts:
        if (mart.schema, mart.alias) in checked:
            continue  # a serving view published at several grains: checked once
        checked.add((mart.schema, mart.alias))
        kind = f"serving view {mart.model}" if mart.is_serving_view else f"mart {mart.name}"
        found = con.execute(
            """
            select column_name from information_schema.columns
            where table_catalog = 'warehouse' and table_schema = ? and table_name = ?
            """,
            [mart.schema, mart.alias],
        ).fetchall()
        if not found:
            raise ContractError(f"{kind} ({mart.schema}.{mart.alias}) is not in the warehouse: nothing published")
        actual = {row[0] for row in found}
        expected = set(mart.warehouse_columns)
        if actual != expected:
            raise ContractError(
                f"{kind} columns differ from its contract: missing {sorted(expected - actual)}, "
                f"extra {sorted(actual - expected)}"
            )
    _check_serving_grains(con, [mart for mart in contracts if mart.is_serving_view])


def _check_serving_grains(con: duckdb.DuckDBPyConnection, tables: Sequence[MartContract]) -> None:
    """Every row of a serving view lands in exactly one served table: its grains are all declared."""
    declared: dict[tuple[str, str], set[str]] = {}
    for table in tables:
        declared.setdefault((table.schema, table.alias), set()).add(table.grain)
    for (schema, alias), grains in declared.items():
        found = {row[0] for row in con.execute(
            f"select distinct {SLICE_GRAIN_COLUMN} from warehouse.{_q(schema)}.{_q(alias)}").fetchall()}
        if found - grains:
            raise ContractError(f"serving view {schema}.{alias} has rows of grains {sorted(found - grains)} that "
                                f"its meta.serving.grains do not publish: nothing published")


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
    """Fill schema ``reporting`` of ``con`` from the attached ``warehouse``; return rows per table.

    One transaction: a hundred tables with a comment on every column cost seconds when each comment
    commits on its own. A serving view is read once into a temporary table, then split per grain.
    """
    _check_warehouse(con, contracts)
    con.execute("begin transaction")
    try:
        con.execute(f"create schema {SERVING_SCHEMA}")
        counts: dict[str, int] = {}
        snapshots: dict[tuple[str, str], str] = {}
        for mart in contracts:
            columns = [(c.name, c.data_type, c.description) for c in mart.served_columns]
            _create_table(con, mart.name, columns, mart.description)
            casts = ", ".join(f"cast({_q(c.name)} as {c.data_type})" for c in mart.columns)
            source = f"warehouse.{_q(mart.schema)}.{_q(mart.alias)}"
            where = ""
            if mart.is_serving_view:  # a serving view at one grain: that grain's rows only (D126)
                key = (mart.schema, mart.alias)
                if key not in snapshots:
                    snapshots[key] = _q(f"_serving_{len(snapshots)}")
                    con.execute(f"create temporary table {snapshots[key]} as select * from {source}")
                source = snapshots[key]
                where = f"where {_q(SLICE_GRAIN_COLUMN)} = {_literal(mart.grain)}"
            con.execute(
                f"""
                insert into {SERVING_SCHEMA}.{_q(mart.name)}
                select {casts}, ?::varchar, ?::timestamp
                from {source}
                {where}
                order by all
                """,
                [run_id, published_at],
            )
            counts[mart.name] = con.execute(f"select count(*) from {SERVING_SCHEMA}.{_q(mart.name)}").fetchone()[0]
        for snapshot in snapshots.values():
            con.execute(f"drop table {snapshot}")
        _create_table(con, PUBLISH_INFO, PUBLISH_INFO_COLUMNS, PUBLISH_INFO_DESCRIPTION)
        con.executemany(
            f"insert into {SERVING_SCHEMA}.{PUBLISH_INFO} values (?, ?, ?, ?)",
            [[name, count, run_id, published_at] for name, count in counts.items()],
        )
        con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass  # the connection failed (a full disk): the error that got us here is the one to raise
        raise
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
    keep: int | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> PublishReport:
    """Publish every mart and serving view from ``warehouse`` as a new version in ``directory`` (and
    PostgreSQL when a DSN is given). ``contracts``: what to publish (default: the manifest's kpi_* marts,
    then its serving views at each of their grains, ``load_published_contracts``).

    PostgreSQL is published before ``current`` is switched: if it fails, every target keeps the old set.
    """
    warehouse = Path(warehouse)
    directory = Path(directory)
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    keep = keep_versions() if keep is None else keep
    contracts = list(contracts or load_published_contracts(manifest_path))
    published_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    versions = versions_dir(directory)
    versions.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(directory):
        log(f"removed what an interrupted publish left: {stale}")

    previous = current_version(directory)
    sequence = max([_sequence(v) for v in published_versions(directory)], default=0) + 1
    name = f"v{sequence:06d}-{_token(run_id)}"
    build = versions / f".{name}{TMP_SUFFIX}"
    final = versions / name
    tmp_db = build / SERVING_FILE_NAME
    names = [mart.name for mart in contracts] + [PUBLISH_INFO]
    parquet_files = {table: build / PARQUET_DIR_NAME / f"{table}.parquet" for table in names}
    report = PublishReport(run_id=run_id, published_at=published_at, serving_file=serving_file(directory),
                           parquet_dir=parquet_dir(directory), version_dir=final,
                           serving_views=[mart.name for mart in contracts if mart.is_serving_view])
    try:
        (build / PARQUET_DIR_NAME).mkdir(parents=True)
        con = duckdb.connect(str(tmp_db), config={"autoinstall_known_extensions": False,
                                                   "autoload_known_extensions": False})
        try:
            con.execute(f"attach {_literal(str(warehouse))} as warehouse (read_only)")
            report.row_counts = build_serving_copy(con, contracts, run_id, published_at)
            schemas = {mart.name: arrow_schema(mart.served_columns, mart.description) for mart in contracts}
            schemas[PUBLISH_INFO] = arrow_schema([Column(*spec) for spec in PUBLISH_INFO_COLUMNS])
            for table, path in parquet_files.items():
                _write_parquet(con, table, schemas[table], path)
            if postgres_dsn:
                from training_impact.publishing.postgres import publish_postgres

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
        for path in [tmp_db, *parquet_files.values()]:
            _fsync_file(path)
        _fsync_dir(build / PARQUET_DIR_NAME)
        _fsync_dir(build)
        os.rename(build, final)  # complete on disk, not yet published
        _fsync_dir(versions)
        # The switch: one rename of the symlink `current`; everything BI reads goes through it.
        _swap_link(directory / CURRENT_LINK, f"{VERSIONS_DIR_NAME}/{name}")
        _fsync_dir(directory)
    except BaseException as error:
        _remove(build)
        (directory / f".{CURRENT_LINK}{TMP_SUFFIX}").unlink(missing_ok=True)
        if current_version(directory) != final:
            _remove(final)
        if _is_disk_full(error):
            raise ServingDiskFull(
                errno.ENOSPC,
                f"no space left on the device of {directory} while building serving version {name}; BI keeps "
                f"{'version ' + previous.name if previous else 'no published set yet'}. Free space there "
                f"(a full set needs about {_set_size(previous) // 2**20 + 1} MB while {keep} are kept) and re-run",
                str(build),
            ) from error
        raise
    # The fixed links BI tools are configured with (created once; a pre-versioning file or folder is replaced).
    _swap_link(serving_file(directory), f"{CURRENT_LINK}/{SERVING_FILE_NAME}")
    _swap_link(parquet_dir(directory), f"{CURRENT_LINK}/{PARQUET_DIR_NAME}")
    _fsync_dir(directory)
    report.removed_versions = prune_versions(directory, keep)
    log(f"published {len(report.row_counts) - len(report.serving_views)} marts and {len(report.serving_views)} "
        f"serving views ({sum(report.row_counts.values())} rows) as {final}; "
        f"removed old versions {report.removed_versions or 'none'}")
    return report


def _set_size(version: Path | None) -> int:
    if version is None or not version.is_dir():
        return 0
    return sum(p.stat().st_size for p in version.rglob("*") if p.is_file())


def publish_audit_schema(directory: Path, build: Callable[[duckdb.DuckDBPyConnection], list[str]]) -> list[str]:
    """Add schema ``audit`` to the current version's DuckDB file without disturbing its readers.

    The audit trail is complete only at the end of a run, after the marts were
    published: copy the version's file under a hidden temporary name in the same
    folder, let ``build`` fill ``audit`` in the copy, then rename it over the file.
    The marts in it are unchanged, so the version stays consistent with its Parquet.
    """
    version = current_version(directory)
    target = (version / SERVING_FILE_NAME) if version else serving_file(directory)
    if not target.exists():
        return []
    tmp = target.with_name(f".{SERVING_FILE_NAME}.audit{TMP_SUFFIX}")
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
        _fsync_dir(target.parent)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        if _is_disk_full(error):
            raise ServingDiskFull(errno.ENOSPC, f"no space left on the device of {target.parent} while adding "
                                  "schema audit to the serving file; the published set is unchanged",
                                  str(tmp)) from error
        raise
    return made
