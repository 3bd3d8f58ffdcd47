"""The ``audit`` schema: the ledger and KPI history as tables for SQL users.

In the warehouse they are views over the append-only Parquet files (recreated every
run, so a rebuilt warehouse gets them back); the serving DuckDB file and PostgreSQL
get copies of the rows, readable by the auditor.
"""

from __future__ import annotations

import duckdb

from training_impact.audit import store
from training_impact.settings import Paths

SCHEMA = "audit"


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def relations(paths: Paths) -> dict[str, tuple[str, str]]:
    """audit table → (SQL over the Parquet files, description); only those with files yet."""
    root = store.audit_dir(paths)
    specs = {
        "runs": (root / "ledger" / "runs" / "*.parquet",
                 "Run ledger: one row per run (start, end, status, code version, dbt and parameter hashes)."),
        "run_inputs": (root / "ledger" / "inputs" / "*.parquet",
                       "Every input file a run read: sha256, rows read/loaded/quarantined/used, loading batch."),
        "run_checks": (root / "ledger" / "checks" / "*.parquet", "Every asset check of a run with its result."),
        "hr_fingerprints": (root / "ledger" / "fingerprints" / "*.parquet",
                            "HR history content per entity and month, per run (restatement detection)."),
        "kpi_history": (root / "history" / "*" / "kpi_summary.parquet",
                        "kpi_summary as each run published it (_run_id, _published_at); never overwritten."),
    }
    out = {}
    for name, (pattern, text) in specs.items():
        if any(pattern.parent.parent.glob(f"{pattern.parent.name}/{pattern.name}")):
            out[name] = (f"select * from read_parquet({_literal(str(pattern))}, union_by_name = true)", text)
    return out


def create(con: duckdb.DuckDBPyConnection, paths: Paths, *, copy: bool = False) -> list[str]:
    """(Re)create schema ``audit`` in ``con``: views over the files, or tables holding a copy."""
    con.execute(f"create schema if not exists {SCHEMA}")
    made = []
    for name, (sql, text) in relations(paths).items():
        con.execute(f"drop view if exists {SCHEMA}.{name}")
        con.execute(f"drop table if exists {SCHEMA}.{name}")
        kind = "table" if copy else "view"
        con.execute(f"create {kind} {SCHEMA}.{name} as {sql}")
        con.execute(f"comment on {kind} {SCHEMA}.{name} is {_literal(text)}")
        made.append(name)
    return made


def rows_for_run(paths: Paths, run_id: str) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
    """This run's rows of every audit table, with DuckDB column types (for PostgreSQL)."""
    con = duckdb.connect()
    out = {}
    for name, (sql, _) in relations(paths).items():
        run_column = "_run_id" if name == "kpi_history" else "run_id"
        relation = con.execute(f"select * from ({sql}) where {run_column} = ? order by all", [run_id])
        out[name] = ([(d[0], str(d[1])) for d in relation.description], relation.fetchall())
    return out
