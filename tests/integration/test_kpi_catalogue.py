"""Every KPI of shared/docs/measurement.md appears in kpi_summary (real pipeline, small company).

Uses the session's `pipeline_run` (tests/conftest.py): 1,500 employees through Dagster, GX and dbt.
"""

from __future__ import annotations

import duckdb

from training_impact.kpis import load_registry

REGISTRY = load_registry()  # config/kpis.yml: every kpi name, its mart, unit, level, methods and grains
# measurement.md KPI -> the kpi names that carry it in kpi_summary (docs/kpis.md)
CATALOGUE = REGISTRY.by_measure()
GRAINS = set(REGISTRY.grains)
MEMBERS_VIEW = "main_intermediate.int_audit__kpi_members"


def _rows(paths, sql: str) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_measurement_kpi_is_in_the_summary(pipeline_run):
    paths, _ = pipeline_run
    kpis = {kpi for (kpi,) in _rows(paths, "select distinct kpi from main_marts.kpi_summary where slice_grain = 'overall'")}
    missing = {name: sorted(names - kpis) for name, names in CATALOGUE.items() if names - kpis}
    assert not missing, f"KPIs of measurement.md missing from kpi_summary: {missing}"
    assert {"did_matched", "naive_pre_post"} <= {m for (m,) in _rows(
        paths, "select distinct estimation_method from main_marts.kpi_summary where kpi = 'productivity_change'")}


def test_every_slice_is_published(pipeline_run):
    paths, _ = pipeline_run
    grains = {grain for (grain,) in _rows(paths, "select distinct slice_grain from main_marts.kpi_summary")}
    assert grains == GRAINS
    periods = {p for (p,) in _rows(paths, "select distinct period from main_marts.kpi_summary where slice_grain = 'period'")}
    assert periods and all(p.isdigit() and len(p) == 4 for p in periods)


def test_the_cli_grain_has_one_row_per_kpi_method_and_program_type(pipeline_run):
    paths, _ = pipeline_run
    duplicates = _rows(paths, """
        select kpi, estimation_method, program_type, count(*)
        from main_marts.kpi_summary where slice_grain = 'program_type'
        group by all having count(*) > 1""")
    assert not duplicates


def test_no_published_figure_below_the_cell_size(pipeline_run):
    paths, _ = pipeline_run
    leaks = _rows(paths, """
        select s.kpi, s.slice_grain, s.n_band
        from main_marts.kpi_summary as s
        cross join main_staging.stg_config__parameters as p
        where (s.estimate is not null or s.numerator is not null or s.n is not null)
          and coalesce(try_cast(s.n_band as bigint), 0) < p.min_cell_size""")
    assert not leaks, leaks[:10]


def test_the_event_study_is_published_beside_the_summary(pipeline_run):
    """kpi_impact_event_study (docs/kpis.md): months -pre_months .. post_end_months + 3 around the start,
    overall and per program type; the reference month -1 reads 0 wherever it is published."""
    paths, _ = pipeline_run
    rows = _rows(paths, """
        select e.slice_grain, e.relative_month, e.estimate, e.se, e.suppressed, e.is_reference_month,
               p.pre_months, p.post_end_months
        from main_marts.kpi_impact_event_study as e
        cross join main_staging.stg_config__parameters as p""")
    assert rows
    pre_months, post_end_months = rows[0][6], rows[0][7]
    assert {r[0] for r in rows} <= {"overall", "program_type"}
    months = {r[1] for r in rows}
    assert min(months) >= -pre_months and max(months) <= post_end_months + 3 and {-1, 0} <= months
    assert all(r[5] == (r[1] == -1) for r in rows)
    assert all(r[2] == 0 and r[3] == 0 for r in rows if r[5] and not r[4])
    assert any(not r[4] for r in rows if r[0] == "overall")  # something is published on 1,500 employees


def test_every_registry_entry_matches_the_published_rows(pipeline_run):
    """config/kpis.yml against the marts: each kpi in its mart, with the registry's unit, level, methods
    and grains, and kpi_summary holds no kpi the registry lacks."""
    paths, _ = pipeline_run
    problems = []
    for kpi in REGISTRY.kpis.values():
        if kpi.column:
            columns = {c for (c,) in _rows(paths, f"select column_name from (describe main_marts.{kpi.mart})")}
            if kpi.column not in columns:
                problems.append(f"{kpi.name}: no column {kpi.column} in {kpi.mart}")
        elif not _rows(paths, f"select 1 from main_marts.{kpi.mart} where kpi = '{kpi.name}' limit 1"):
            problems.append(f"{kpi.name}: no rows in {kpi.mart}")
            continue
        table = "kpi_summary" if kpi.in_summary else kpi.mart
        rows = _rows(paths, f"""
            select distinct unit, evaluation_level, estimation_method, slice_grain
            from main_marts.{table} where kpi = '{kpi.name}'""")
        units, levels = {r[0] for r in rows}, {r[1] for r in rows}
        methods, grains = {r[2] for r in rows}, {r[3] for r in rows}
        if units != {kpi.unit}:
            problems.append(f"{kpi.name}: unit {sorted(units)} in {table}, {kpi.unit} in the registry")
        if levels != {kpi.level}:
            problems.append(f"{kpi.name}: level {sorted(levels)} in {table}, {kpi.level} in the registry")
        if methods != set(kpi.methods):
            problems.append(f"{kpi.name}: methods {sorted(methods)} in {table}, {sorted(kpi.methods)} in the registry")
        if grains != set(kpi.grains):
            problems.append(f"{kpi.name}: grains {sorted(grains)} in {table}, {sorted(kpi.grains)} in the registry")
    published = {k for (k,) in _rows(paths, "select distinct kpi from main_marts.kpi_summary")}
    in_summary = {k.name for k in REGISTRY.kpis.values() if k.in_summary}
    if published != in_summary:
        problems.append(f"kpi_summary: {sorted(published - in_summary)} not in the registry, "
                        f"{sorted(in_summary - published)} registered but not published")
    assert not problems, "config/kpis.yml disagrees with the marts:\n  " + "\n  ".join(problems)


def test_the_traceable_kpis_are_the_registrys(pipeline_run):
    """`members:` in the registry names the model `training-impact trace` reads; it holds exactly those KPIs,
    each with the registry's mart."""
    paths, _ = pipeline_run
    traced = dict(_rows(paths, f"select distinct kpi, mart from {MEMBERS_VIEW}"))
    registered = {k.name: k.mart for k in REGISTRY.kpis.values() if k.members}
    assert {k.members for k in REGISTRY.kpis.values() if k.members} == {"int_audit__kpi_members"}
    assert traced == registered
