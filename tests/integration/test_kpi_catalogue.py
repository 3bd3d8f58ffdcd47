"""Every KPI of shared/docs/measurement.md appears in kpi_summary (real pipeline, small company).

Uses the session's `pipeline_run` (tests/conftest.py): 1,500 employees through Dagster, GX and dbt.
"""

from __future__ import annotations

import duckdb

# measurement.md KPI -> the kpi names that carry it in kpi_summary (docs/kpis.md)
CATALOGUE = {
    "Completion rate": {"completion_rate"},
    "Certification attainment": {"certification_attainment", "active_certification_rate"},
    "Time-to-competency": {"time_to_competency_median_days", "competent_by_90_days", "competent_by_180_days"},
    "Internal mobility rate": {"internal_mobility", "internal_mobility_promotion", "internal_mobility_job_family_change",
                               "internal_mobility_reskilling_landed", "internal_mobility_title_change"},
    "Productivity change": {"productivity_change"},
    "Retention improvement": {"retention", "voluntary_separation", "involuntary_separation"},
    "ROI / cost savings": {"roi", "roi_conservative", "benefit_cost_ratio", "payback_months", "fully_loaded_cost",
                           "monetary_benefits"},
    "Learning NPS": {"learning_nps", "survey_response_rate"},
    "Qualitative outcomes": {"feedback_theme_time", "feedback_theme_relevance", "feedback_theme_manager_support",
                             "feedback_theme_access", "feedback_theme_confidence", "feedback_theme_promotion"},
    "Efficiency (TDRp / ISO 30414)": {"participants", "training_hours_per_fte", "pct_workforce_trained",
                                      "total_training_cost", "cost_per_learner", "cost_per_completion"},
}
GRAINS = {"overall", "program_type", "program_type_method", "program", "cohort", "department", "region", "period",
          "program_type_period"}


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
