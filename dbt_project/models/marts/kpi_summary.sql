-- Every KPI of docs/measurement.md in one long table (KPI × slice × period) that a BI
-- tool can pivot: the common columns of each mart; ROI, NPS and time-to-competency
-- unpivoted into their headline figures. Mobility definition variants keep their own KPI
-- name (internal_mobility_<variant>) and the variant in definition_variant. A KPI whose source the
-- company does not deliver reads measurement_status 'not_measured' with the reason (D137).
{%- set measured = {'measurement_status': 'measurement_status', 'not_measured_reason': 'not_measured_reason'} %}
with completion_rate as (
    select * from {{ ref('kpi_completion_rate') }}
),

certification_attainment as (
    select * from {{ ref('kpi_certification_attainment') }}
),

time_to_competency as (
    select * from {{ ref('kpi_time_to_competency') }}
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

learning_nps as (
    select * from {{ ref('kpi_learning_nps') }}
),

qualitative_themes as (
    select * from {{ ref('kpi_qualitative_themes') }}
),

efficiency as (
    select * from {{ ref('kpi_efficiency') }}
),

unioned as (
    {{ kpi_summary_row('completion_rate', **measured) }}
    union all
    {{ kpi_summary_row('certification_attainment', **measured) }}
    union all
    {{ kpi_summary_row('time_to_competency') }}
    union all
    {{ kpi_summary_row('internal_mobility', n_comparison='n_comparison', definition_variant='definition_variant',
                       flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('productivity_change', n_comparison='n_comparison', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('productivity_change', kpi="'productivity_change_pct'", unit="'pct'",
                       n_comparison='n_comparison', estimate='relative_pct', ci_low='relative_ci_low',
                       ci_high='relative_ci_high', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('retention', n_comparison='n_comparison', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', kpi="'roi_conservative'", numerator='monetary_benefits_conservative - fully_loaded_cost',
                       estimate='roi_pct_conservative', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', kpi="'benefit_cost_ratio'", unit="'ratio'", numerator='monetary_benefits',
                       denominator='fully_loaded_cost', estimate='benefit_cost_ratio', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', kpi="'payback_months'", unit="'months'", numerator='null', denominator='null',
                       estimate='payback_months', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', kpi="'fully_loaded_cost'", unit="'currency'", numerator='null', denominator='null',
                       estimate='fully_loaded_cost', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('roi', kpi="'monetary_benefits'", unit="'currency'", numerator='null', denominator='null',
                       estimate='monetary_benefits', flag_reason='flag_reason') }}
    union all
    {{ kpi_summary_row('learning_nps', **measured) }}
    union all
    {{ kpi_summary_row('learning_nps', kpi="'survey_response_rate'", unit="'pct'", numerator='n_invited_responded',
                       denominator='n_invited', estimate='response_rate_pct', ci_low='null', ci_high='null',
                       **measured) }}
    union all
    {{ kpi_summary_row('qualitative_themes', definition_variant='theme_kind') }}
    union all
    {{ kpi_summary_row('efficiency') }}
)

select * from unioned
