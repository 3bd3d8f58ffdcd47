"""Who counts in each KPI cell, persisted per run so ``trace`` answers for past runs too.

A member row is one unit of a KPI's input (an enrollment, an exited episode, or a
comparison employee matched to an episode) with its slice dimensions and its
contribution to the numerator and the denominator. A cell's members are the rows
whose dimensions equal the cell's (a dimension the cell reads as ``all`` matches
anything), so rows are stored once, not once per slice grain.

The selections mirror the input CTEs of the marts named in ``MEMBER_QUERIES``; the
audit tests recompute every published numerator and denominator from them, so a
mart that changes its inputs without this file fails a test rather than drifting.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from audit.ledger import LINEAGE_COLUMNS, STAGING_SCHEMA, lineage_relations

INTERMEDIATE = "main_intermediate"
DIMENSIONS = ("program_type", "method", "program_id", "cohort", "department", "region", "period")
SLICE_COLUMNS = ("slice_grain", *DIMENSIONS)


def _dims(prefix: str, period: str) -> str:
    columns = [f"coalesce({prefix}.{d}, 'unknown') as {d}" for d in DIMENSIONS[:-1]]
    columns.append(f"coalesce(cast(extract(year from {period}) as varchar), 'unknown') as period")
    return ", ".join(columns)


def _impact_members(kpi: str, column: str, evaluated: str, program_type: str | None = None) -> str:
    """Matched-comparison KPIs: participants count in the numerator/denominator, controls in n_comparison."""
    only = f" and episode_outcomes.program_type = '{program_type}'" if program_type else ""
    return f"""
        select '{kpi}' as kpi, person_outcomes.role, person_outcomes.measured_worker_id as worker_id,
               person_outcomes.enrollment_id,
               {_dims('episode_outcomes', 'episode_outcomes.exit_date')},
               case when person_outcomes.role = 'participant'
                    then coalesce(cast(episode_outcomes.{column}_outcome as double), 0) else 0 end as numerator,
               case when person_outcomes.role = 'participant' then 1.0 else 0 end as denominator,
               person_outcomes.role = 'control' and person_outcomes.is_employed_at_exit as in_comparison
        from {INTERMEDIATE}.int_impact__person_outcomes as person_outcomes
        inner join {INTERMEDIATE}.int_impact__episode_outcomes as episode_outcomes
            on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
        where episode_outcomes.{evaluated}{only}"""


def _productivity_members() -> str:
    """Productivity change publishes no numerator: a participant's contribution is its DiD (index points,
    before winsorising) and the denominator counts its episode, so the published n is the denominator's sum."""
    return f"""
        select 'productivity_change' as kpi, person_outcomes.role, person_outcomes.measured_worker_id as worker_id,
               person_outcomes.enrollment_id,
               {_dims('episode_outcomes', 'episode_outcomes.exit_date')},
               case when person_outcomes.role = 'participant' then episode_outcomes.productivity_did else 0 end
                   as numerator,
               case when person_outcomes.role = 'participant' then 1.0 else 0 end as denominator,
               person_outcomes.role = 'control' and person_outcomes.productivity_change is not null
                   as in_comparison
        from {INTERMEDIATE}.int_impact__person_outcomes as person_outcomes
        inner join {INTERMEDIATE}.int_impact__episode_outcomes as episode_outcomes
            on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
        where episode_outcomes.productivity_did is not null"""


# kpi name → the mart that publishes it, and the SQL of its members.
MEMBER_QUERIES: dict[str, tuple[str, str]] = {
    "completion_rate": ("kpi_completion_rate", f"""
        select 'completion_rate' as kpi, 'participant' as role, worker_id, enrollment_id,
               {_dims('learning_history', 'learning_history.started_on')},
               case when counts_as_completed then 1.0 else 0 end as numerator, 1.0 as denominator,
               false as in_comparison
        from {INTERMEDIATE}.int_learning_history as learning_history
        where is_window_closed"""),
    "certification_attainment": ("kpi_certification_attainment", f"""
        select 'certification_attainment' as kpi, 'participant' as role, worker_id, enrollment_id,
               {_dims('learning_history', 'learning_history.exit_date')},
               case when has_credential then 1.0 else 0 end as numerator, 1.0 as denominator,
               false as in_comparison
        from {INTERMEDIATE}.int_learning_history as learning_history
        cross join {STAGING_SCHEMA}.stg_config__parameters as parameters
        cross join {INTERMEDIATE}.int_data_window as data_window
        where is_first_attempt and exit_date is not null
          and exit_date + to_days(cast(parameters.certification_days as integer)) <= data_window.data_end_date"""),
    "retention": ("kpi_retention", _impact_members("retention", "retention", "is_retention_evaluated")),
    "voluntary_separation": ("kpi_retention", _impact_members(
        "voluntary_separation", "voluntary_separation", "is_retention_evaluated")),
    "involuntary_separation": ("kpi_retention", _impact_members(
        "involuntary_separation", "involuntary_separation", "is_retention_evaluated")),
    "productivity_change": ("kpi_productivity_change", _productivity_members()),
    "internal_mobility": ("kpi_internal_mobility", _impact_members(
        "internal_mobility", "mobility", "is_mobility_evaluated")),
    "internal_mobility_promotion": ("kpi_internal_mobility", _impact_members(
        "internal_mobility_promotion", "promotion", "is_mobility_evaluated")),
    "internal_mobility_job_family_change": ("kpi_internal_mobility", _impact_members(
        "internal_mobility_job_family_change", "job_family_change", "is_mobility_evaluated")),
    "internal_mobility_reskilling_landed": ("kpi_internal_mobility", _impact_members(
        "internal_mobility_reskilling_landed", "reskilling_landed", "is_mobility_evaluated", "reskilling")),
    "internal_mobility_title_change": ("kpi_internal_mobility", _impact_members(
        "internal_mobility_title_change", "title_change", "is_mobility_evaluated")),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_members(con: duckdb.DuckDBPyConnection, target: Path) -> int:
    """Every traceable KPI's member rows into one Parquet file; returns the row count."""
    union = " union all ".join(f"({sql})" for _, sql in MEMBER_QUERIES.values())
    columns = ", ".join(["kpi", "role", "worker_id", "enrollment_id", *DIMENSIONS,
                         "cast(numerator as double) as numerator", "cast(denominator as double) as denominator",
                         "in_comparison"])
    con.execute(f"copy (select {columns} from ({union}) order by kpi, enrollment_id, role, worker_id) "
                f"to {_literal(str(target))} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({_literal(str(target))})").fetchone()[0]


def write_records(con: duckdb.DuckDBPyConnection, members: Path, target: Path) -> int:
    """The staging rows (file, row number, sha256) of every member, from every source carrying worker_id."""
    selects = []
    for name, columns in lineage_relations(con).items():
        if "worker_id" not in columns:
            continue
        key = next(c for c in columns if c not in LINEAGE_COLUMNS)
        selects.append(
            f"select {_literal(name)} as staging_model, {_literal(key)} as record_key_column, "
            f"cast(rel.{key} as varchar) as record_key, rel.worker_id, rel._source_file, "
            f"cast(rel._source_row as bigint) as _source_row, rel._source_sha256, rel._batch_id "
            f"from {STAGING_SCHEMA}.\"{name}\" as rel "
            f"where rel.worker_id in (select worker_id from people)"
        )
    query = (f"with people as (select distinct worker_id from read_parquet({_literal(str(members))})) "
             + " union all ".join(selects) + " order by worker_id, staging_model, _source_file, _source_row")
    con.execute(f"copy ({query}) to {_literal(str(target))} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({_literal(str(target))})").fetchone()[0]


def cell_filter(cell: dict, alias: str = "m") -> str:
    """SQL condition: member rows that fall in ``cell`` (dimensions reading 'all' match any value)."""
    parts = [f"{alias}.{d} = {_literal(str(cell[d]))}" for d in DIMENSIONS if str(cell.get(d, "all")) != "all"]
    return " and ".join(parts) or "true"
