"""Who counts in each KPI cell, persisted per run so ``trace`` answers for past runs too.

A member row is one unit of a KPI's input (an enrollment, an exited episode, or a
comparison employee matched to an episode) with its slice dimensions and its
contribution to the numerator and the denominator. A cell's members are the rows
whose dimensions equal the cell's (a dimension the cell reads as ``all`` matches
anything), so rows are stored once, not once per slice grain.

The rows are the dbt model ``int_audit__kpi_members`` (dbt_project/models/intermediate/audit/),
which names for each KPI the mart that publishes it (column ``mart``) and follows that mart's
population filter with the marts' own macros; the audit tests recompute every published
numerator and denominator from them, so a mart that changes its inputs without the model
fails a test rather than drifting. This module only copies the model into the run's audit
folder and reads the copy back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from training_impact.audit.ledger import LINEAGE_COLUMNS, STAGING_SCHEMA, lineage_relations

MEMBERS_MODEL = "main_intermediate.int_audit__kpi_members"
DIMENSIONS = ("program_type", "method", "program_id", "cohort", "department", "region", "period")
SLICE_COLUMNS = ("slice_grain", *DIMENSIONS)
RECORD_SCHEMA = (("staging_model", pa.string()), ("record_key_column", pa.string()), ("record_key", pa.string()),
                 ("worker_id", pa.string()), ("_source_file", pa.string()), ("_source_row", pa.int64()),
                 ("_source_sha256", pa.string()), ("_batch_id", pa.string()))
MEMBER_COLUMNS = ("kpi", "mart", "role", "worker_id", "enrollment_id", *DIMENSIONS, "numerator", "denominator",
                  "in_comparison")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_members(con: duckdb.DuckDBPyConnection, target: Path) -> int:
    """Every traceable KPI's member rows (the dbt model) into one Parquet file; returns the row count."""
    columns = ", ".join(MEMBER_COLUMNS)
    con.execute(f"copy (select {columns} from {MEMBERS_MODEL} order by kpi, enrollment_id, role, worker_id) "
                f"to {_literal(str(target))} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({_literal(str(target))})").fetchone()[0]


def member_marts(con: duckdb.DuckDBPyConnection, members: Path) -> dict[str, str]:
    """{kpi: mart} of the KPIs with members in one run's members.parquet."""
    relation = f"read_parquet({_literal(str(members))})"
    names = {d[0] for d in con.execute(f"select * from {relation} limit 0").description}
    if "mart" not in names:  # recorded before the members came from dbt: no KPI is traceable there
        return {}
    return dict(con.execute(f"select distinct kpi, mart from {relation} order by kpi").fetchall())


def write_records(con: duckdb.DuckDBPyConnection, members: Path, target: Path) -> int:
    """The staging rows (file, row number, sha256) of every member, from every source carrying worker_id.

    Ordered by staging model, then worker, file and row. Each model is sorted on its own into a part
    file and the parts are then copied into ``target`` row group by row group: one sort over the
    union of every model ran out of DuckDB's memory limit at a million employees (D132), where each
    model's own sort spills as it should."""
    parts: list[Path] = []
    people = f"with people as (select distinct worker_id from read_parquet({_literal(str(members))})) "
    try:
        for name, columns in lineage_relations(con).items():
            if "worker_id" not in columns:
                continue
            key = next(c for c in columns if c not in LINEAGE_COLUMNS)
            part = target.with_name(f"{target.name}.{len(parts)}.part")
            parts.append(part)
            con.execute(
                f"copy ({people}"
                f"select {_literal(name)} as staging_model, {_literal(key)} as record_key_column, "
                f"cast(rel.{key} as varchar) as record_key, cast(rel.worker_id as varchar) as worker_id, "
                f"cast(rel._source_file as varchar) as _source_file, cast(rel._source_row as bigint) as _source_row, "
                f"cast(rel._source_sha256 as varchar) as _source_sha256, cast(rel._batch_id as varchar) as _batch_id "
                f"from {STAGING_SCHEMA}.\"{name}\" as rel "
                f"where rel.worker_id in (select worker_id from people) "
                f"order by worker_id, _source_file, _source_row"
                f") to {_literal(str(part))} (format parquet, compression zstd)")
        rows = 0
        writer = None
        try:
            for part in parts:
                source = pq.ParquetFile(part)
                for index in range(source.num_row_groups):
                    group = source.read_row_group(index)
                    if writer is None:
                        writer = pq.ParquetWriter(target, group.schema, compression="zstd")
                    writer.write_table(group)
                    rows += group.num_rows
            if writer is None:
                pq.write_table(pa.table({name: pa.array([], type) for name, type in RECORD_SCHEMA}), target,
                               compression="zstd")
        finally:
            if writer is not None:
                writer.close()
        return rows
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def cell_filter(cell: dict, alias: str = "m") -> str:
    """SQL condition: member rows that fall in ``cell`` (dimensions reading 'all' match any value)."""
    parts = [f"{alias}.{d} = {_literal(str(cell[d]))}" for d in DIMENSIONS if str(cell.get(d, "all")) != "all"]
    return " and ".join(parts) or "true"
