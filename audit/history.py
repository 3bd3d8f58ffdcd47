"""Published KPI history: one snapshot of every kpi_* table per run, never overwritten.

``what did we report on a date`` is the last published run that ended on or before
that date; ``diff`` compares two runs cell by cell and gives each change its reasons
from the two runs' ledgers (audit.reasons).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import duckdb

from training_impact.audit import store
from training_impact.audit.members import SLICE_COLUMNS
from training_impact.settings import Paths

MARTS_SCHEMA = "main_marts"
# Columns that identify a cell across runs (with the mart's own kpi column); those a mart lacks are
# left out (relative_month: kpi_impact_event_study, one cell per month since the program start).
CELL_KEY = ("kpi", *SLICE_COLUMNS, "estimation_method", "relative_month")
VALUE_COLUMNS = ("numerator", "denominator", "n", "n_band", "estimate", "ci_low", "ci_high", "suppressed",
                 "is_flagged", "definition_version")


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def kpi_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = ? and table_name like 'kpi\\_%' "
        "escape '\\' order by 1", [MARTS_SCHEMA]).fetchall()]


def write_snapshot(con: duckdb.DuckDBPyConnection, paths: Paths, run_id: str, published_at: datetime) -> dict:
    """Copy every kpi_* mart of the warehouse into history/<run_id>/ stamped with the run; rows per mart."""
    folder = store.history_dir(paths, run_id)
    if folder.exists() and any(folder.iterdir()):
        raise store.AlreadyRecorded(f"{folder} exists: a run's published history is never rewritten")
    counts = {}
    for mart in kpi_marts(con):
        target = folder / f"{mart}.parquet"

        def write(tmp: Path, mart=mart) -> None:
            con.execute(
                f"copy (select *, {_literal(run_id)} as _run_id, cast({_literal(published_at.isoformat())} "
                f"as timestamp) as _published_at from {MARTS_SCHEMA}.\"{mart}\" order by all) "
                f"to {_literal(str(tmp))} (format parquet, compression zstd)")

        store.write_new(target, write)
        counts[mart] = con.execute(f"select count(*) from read_parquet({_literal(str(target))})").fetchone()[0]
    return counts


def runs_table(paths: Paths, con: duckdb.DuckDBPyConnection | None = None):
    """The ledger's runs, oldest first, as a list of dicts."""
    con = con or duckdb.connect()
    files = store.audit_dir(paths) / "ledger" / "runs" / "*.parquet"
    if not store.recorded_runs(paths):
        return []
    relation = con.execute(f"select * from read_parquet({_literal(str(files))}, union_by_name = true) "
                           "order by ended_at")
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row)) for row in relation.fetchall()]


def published_runs(paths: Paths) -> list[dict]:
    return [run for run in runs_table(paths) if run["published"]]


def latest_run(paths: Paths) -> str:
    runs = published_runs(paths)
    if not runs:
        raise LookupError(f"no published run in the audit ledger of {paths.root}")
    return runs[-1]["run_id"]


def run_as_of(paths: Paths, day: date) -> dict:
    """The last run published on or before the end of ``day`` (UTC)."""
    limit = datetime.combine(day, time.max)
    runs = [run for run in published_runs(paths) if run["ended_at"] <= limit]
    if not runs:
        raise LookupError(f"nothing was published on or before {day.isoformat()}")
    return runs[-1]


def resolve_run(paths: Paths, run: str | None) -> str:
    """``None``/``latest`` → the latest published run; a unique prefix of a run id → that run."""
    if not run or run == "latest":
        return latest_run(paths)
    matches = [r for r in store.recorded_runs(paths) if r.startswith(run)]
    if len(matches) != 1:
        raise LookupError(f"run {run!r} matches {len(matches)} runs of the ledger")
    return matches[0]


def snapshot_relation(paths: Paths, run_id: str, mart: str = "*") -> str:
    return f"read_parquet({_literal(str(store.history_dir(paths, run_id) / f'{mart}.parquet'))}, union_by_name = true)"


def find_mart(con: duckdb.DuckDBPyConnection, paths: Paths, run_id: str, kpi: str) -> str:
    """The kpi_* table of a run that publishes ``kpi`` (kpi_summary only when no other does)."""
    folder = store.history_dir(paths, run_id)
    candidates = sorted(folder.glob("kpi_*.parquet"), key=lambda p: p.stem == "kpi_summary")
    for path in candidates:
        found = con.execute(f"select count(*) from read_parquet({_literal(str(path))}) where kpi = ?",
                            [kpi]).fetchone()[0]
        if found:
            return path.stem
    raise LookupError(f"KPI {kpi!r} is not in the history of run {run_id}")


def cells(con, paths: Paths, run_id: str, kpi: str | None = None, where: dict | None = None,
          mart: str = "kpi_summary") -> list[dict]:
    """Rows of one run's snapshot of ``mart``, filtered on kpi and exact column values."""
    conditions, params = [], []
    if kpi:
        conditions.append("kpi = ?")
        params.append(kpi)
    for column, value in (where or {}).items():
        conditions.append(f'cast("{column}" as varchar) = ?')
        params.append(str(value))
    sql = f"select * from {snapshot_relation(paths, run_id, mart)}"
    if conditions:
        sql += " where " + " and ".join(conditions)
    relation = con.execute(sql + " order by all", params)
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row)) for row in relation.fetchall()]


def diff_runs(paths: Paths, old_run: str, new_run: str, mart: str = "kpi_summary",
              kpi: str | None = None) -> list[dict]:
    """Cells of ``mart`` whose published values differ between two runs, with the reasons."""
    from training_impact.audit.reasons import change_reasons

    con = duckdb.connect()
    key = ", ".join(f'"{c}"' for c in CELL_KEY if c != "estimation_method" or mart != "kpi_roi")
    old = snapshot_relation(paths, old_run, mart)
    new = snapshot_relation(paths, new_run, mart)
    columns = {d[0] for d in con.execute(f"select * from {new} limit 0").description}
    values = [c for c in VALUE_COLUMNS if c in columns]
    keys = [c.strip('"') for c in key.split(", ") if c.strip('"') in columns]
    join = " and ".join(f'o."{c}" is not distinct from n."{c}"' for c in keys)
    changed = " or ".join(f'o."{c}" is distinct from n."{c}"' for c in values)
    kpi_filter = "where coalesce(n.kpi, o.kpi) = ?" if kpi else ""
    relation = con.execute(
        f"""
        select {', '.join(f'coalesce(n."{c}", o."{c}") as "{c}"' for c in keys)},
               {', '.join(f'o."{c}" as "old_{c}", n."{c}" as "new_{c}"' for c in values)},
               o.kpi is null as is_new_cell, n.kpi is null as is_dropped_cell
        from (select * from {old}) as o
        full outer join (select * from {new}) as n on {join}
        {kpi_filter}
        """ + (" and " if kpi else " where ") + f"(o.kpi is null or n.kpi is null or {changed}) order by all",
        [kpi] if kpi else [],
    )
    names = [d[0] for d in relation.description]
    rows = [dict(zip(names, row)) for row in relation.fetchall()]
    reasons = change_reasons(paths, old_run, new_run)
    for row in rows:
        row["reasons"] = reasons.for_cell(row)
    return rows
