"""Cost allocation grows linearly with the company (issue 15, "no quadratic joins").

The model's compiled SQL, as the shared pipeline run built it, runs in a scratch DuckDB over its
own inputs copied from that run at two sizes: every worker and enrollment k times over (new ids),
with the cost lines that name a worker k times over too, and the cohort and program-wide lines as
they are (a bigger company has more people per program, not more programs). DuckDB's profile
gives the rows every operator produced. The largest, over the rows the model must read and write
(inputs + result), must stay flat: no intermediate outgrows the work itself. The same measure over
the join the model used to make (every line of a program against every enrollment of it) grows
with k, so the measure can tell.
"""

from __future__ import annotations

import json

import duckdb

MODEL = "int_training_costs__allocated_to_enrollments"
SCALES = (1, 4)
INPUTS = {  # schema.table: how a k-times bigger company has it
    "main_staging.stg_lms__programs": None,
    "main_intermediate.int_data_window": None,
    "main_staging.stg_config__parameters": None,
    "main_intermediate.int_learning_history":
        "select src.* replace (src.enrollment_id || '#' || copy.range as enrollment_id, "
        "src.worker_id || '#' || copy.range as worker_id) from {src} src cross join range({k}) copy",
    "main_staging.stg_finance__cost_lines":
        "select src.* replace (src.line_id || '#' || copy.range as line_id, "
        "src.worker_id || '#' || copy.range as worker_id) from {src} src cross join range({k}) copy "
        "where src.worker_id is not null "
        "union all by name select * from {src} where worker_id is null",
}
QUADRATIC = """
    select lines.line_id, enrollments.enrollment_id
    from main_staging.stg_finance__cost_lines lines
    inner join main_intermediate.int_learning_history enrollments on lines.program_id = enrollments.program_id
"""


def _compiled_sql(paths) -> str:
    found = list((paths.warehouse.parent / "dbt_target" / "compiled").rglob(f"{MODEL}.sql"))
    assert len(found) == 1, found
    return found[0].read_text(encoding="utf-8")


def _largest_operator(con: duckdb.DuckDBPyConnection, sql: str, profile) -> int:
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{profile}'")
    con.execute(f"select count(*) from ({sql})").fetchall()
    con.execute("pragma disable_profiling")
    largest = 0
    stack = list(json.loads(profile.read_text(encoding="utf-8"))["operator"])
    while stack:
        node = stack.pop()
        largest = max(largest, int(node.get("intermediate_rows") or 0))
        stack.extend(node.get("children") or [])
    return largest


def _scratch(paths, folder, k: int) -> tuple[duckdb.DuckDBPyConnection, int]:
    """A DuckDB file named like the warehouse (the compiled SQL names its database) with the inputs at size k."""
    folder.mkdir()
    con = duckdb.connect(str(folder / paths.warehouse.name))
    con.execute(f"attach '{paths.warehouse}' as src (read_only)")
    rows = 0
    for table, scaled in INPUTS.items():
        schema = table.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        source = f"src.{table}"
        query = scaled.format(src=source, k=k) if scaled else f"select * from {source}"
        con.execute(f"create table {table} as {query}")
        rows += con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute("detach src")
    return con, rows


def test_the_cost_allocation_grows_linearly_with_the_company(pipeline_run, tmp_path):
    paths, _ = pipeline_run
    sql = _compiled_sql(paths)
    per_row, quadratic_per_row, outputs = {}, {}, {}
    for k in SCALES:
        con, rows = _scratch(paths, tmp_path / f"k{k}", k)
        try:
            outputs[k] = con.execute(f"select count(*) from ({sql})").fetchone()[0]
            work = rows + outputs[k]
            per_row[k] = _largest_operator(con, sql, tmp_path / f"model_{k}.json") / work
            quadratic_per_row[k] = _largest_operator(con, QUADRATIC, tmp_path / f"join_{k}.json") / work
        finally:
            con.close()
    small, big = SCALES
    assert outputs[big] > outputs[small] > 0
    # the measure tells a quadratic join: the old fan-out's rows over the work grow with the size
    assert quadratic_per_row[big] > 2 * quadratic_per_row[small], quadratic_per_row
    # the model's do not: its largest intermediate grows like what it reads and writes
    assert per_row[big] <= 1.25 * per_row[small], (per_row, quadratic_per_row)
