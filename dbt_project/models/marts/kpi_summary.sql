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

{%- set common_columns = ['slice_level'] + kpi_slice_dimensions() + ['period', 'estimator', 'evaluation_level'] %}

{%- macro summary_row(relation, kpi='kpi', unit='unit', numerator='numerator', denominator='denominator',
                      n_comparison='cast(null as bigint)', estimate='estimate', ci_low='ci_low', ci_high='ci_high') %}
    select
        cast({{ kpi }} as varchar) as kpi,
        {%- for column in common_columns %}
        {{ column }},
        {%- endfor %}
        cast({{ unit }} as varchar) as unit,
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator,
        n,
        n_band,
        cast({{ n_comparison }} as bigint) as n_comparison,
        cast({{ estimate }} as double) as estimate,
        cast({{ ci_low }} as double) as ci_low,
        cast({{ ci_high }} as double) as ci_high,
        is_flagged,
        definition_version,
        suppressed
    from {{ relation }}
{%- endmacro %}

unioned as (
    {{ summary_row('completion_rate') }}
    union all
    {{ summary_row('certification_attainment') }}
    union all
    {{ summary_row('internal_mobility', n_comparison='n_comparison') }}
    union all
    {{ summary_row('productivity_change', n_comparison='n_comparison') }}
    union all
    {{ summary_row('retention', n_comparison='n_comparison') }}
    union all
    {{ summary_row('roi') }}
    union all
    {{ summary_row('roi', kpi="'roi_conservative'", numerator='null', denominator='null', estimate='roi_pct_conservative') }}
    union all
    {{ summary_row('roi', kpi="'benefit_cost_ratio'", unit="'ratio'", numerator='monetary_benefits',
                   denominator='fully_loaded_cost', estimate='benefit_cost_ratio') }}
    union all
    {{ summary_row('roi', kpi="'payback_months'", unit="'months'", numerator='null', denominator='null',
                   estimate='payback_months') }}
    union all
    {{ summary_row('roi', kpi="'fully_loaded_cost'", unit="'currency'", numerator='null', denominator='null',
                   estimate='fully_loaded_cost') }}
    union all
    {{ summary_row('roi', kpi="'monetary_benefits'", unit="'currency'", numerator='null', denominator='null',
                   estimate='monetary_benefits') }}
)

select * from unioned
