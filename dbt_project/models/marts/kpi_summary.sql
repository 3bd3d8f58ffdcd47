-- Every KPI in one long table (KPI × slice × period) that a BI tool can pivot: the
-- common columns of each mart, ROI unpivoted into its headline figures.
with completion_rate as (
    select * from {{ ref('kpi_completion_rate') }}
),

certification_attainment as (
    select * from {{ ref('kpi_certification_attainment') }}
),

internal_mobility as (
    select * from {{ ref('kpi_internal_mobility') }}
),

productivity_change as (
    select * from {{ ref('kpi_productivity_change') }}
),

retention as (
    select * from {{ ref('kpi_retention') }}
),

roi as (
    select * from {{ ref('kpi_roi') }}
),

unioned as (
    {{ kpi_summary_row('completion_rate') }}
    union all
    {{ kpi_summary_row('certification_attainment') }}
    union all
    {{ kpi_summary_row('internal_mobility', n_comparison='n_comparison') }}
    union all
    {{ kpi_summary_row('productivity_change', n_comparison='n_comparison') }}
    union all
    {{ kpi_summary_row('retention', n_comparison='n_comparison') }}
    union all
    {{ kpi_summary_row('roi') }}
    union all
    {{ kpi_summary_row('roi', kpi="'roi_conservative'", numerator='null', denominator='null', estimate='roi_pct_conservative') }}
    union all
    {{ kpi_summary_row('roi', kpi="'benefit_cost_ratio'", unit="'ratio'", numerator='monetary_benefits',
                   denominator='fully_loaded_cost', estimate='benefit_cost_ratio') }}
    union all
    {{ kpi_summary_row('roi', kpi="'payback_months'", unit="'months'", numerator='null', denominator='null',
                   estimate='payback_months') }}
    union all
    {{ kpi_summary_row('roi', kpi="'fully_loaded_cost'", unit="'currency'", numerator='null', denominator='null',
                   estimate='fully_loaded_cost') }}
    union all
    {{ kpi_summary_row('roi', kpi="'monetary_benefits'", unit="'currency'", numerator='null', denominator='null',
                   estimate='monetary_benefits') }}
)

select * from unioned
