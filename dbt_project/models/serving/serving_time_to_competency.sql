-- Time-to-competency (Kaplan-Meier), one row per slice (macros/serving.sql, DECISIONS D126).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('time_to_competency_median_days', 'estimate') }} as time_to_competency_median_days,
        {{ serving_pick('competent_by_90_days', 'estimate') }} as competent_by_90_days_pct,
        {{ serving_pick('competent_by_90_days', 'ci_low') }} as competent_by_90_days_ci_low_pct,
        {{ serving_pick('competent_by_90_days', 'ci_high') }} as competent_by_90_days_ci_high_pct,
        {{ serving_pick('competent_by_180_days', 'estimate') }} as competent_by_180_days_pct,
        {{ serving_pick('competent_by_180_days', 'ci_low') }} as competent_by_180_days_ci_low_pct,
        {{ serving_pick('competent_by_180_days', 'ci_high') }} as competent_by_180_days_ci_high_pct,
        {{ serving_pick('time_to_competency_median_days', 'n', 'bigint') }} as n_episodes,
        {{ serving_pick('time_to_competency_median_days', 'n_competent', 'bigint') }} as n_competent,
        {{ serving_pick('time_to_competency_median_days', 'n_censored', 'bigint') }} as n_censored,
        {{ serving_headline('time_to_competency_median_days') }}
    from {{ ref('kpi_time_to_competency') }}
    where estimation_method = 'kaplan_meier'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('kaplan_meier' as {{ dbt.type_string() }}) as estimation_method,
    cells.time_to_competency_median_days,
    cells.competent_by_90_days_pct,
    cells.competent_by_90_days_ci_low_pct,
    cells.competent_by_90_days_ci_high_pct,
    cells.competent_by_180_days_pct,
    cells.competent_by_180_days_ci_low_pct,
    cells.competent_by_180_days_ci_high_pct,
    cells.n_episodes,
    cells.n_competent,
    cells.n_censored,
    {{ serving_status('cells', 'training episodes with a start anchor',
                      no_estimate='the median is not reached (fewer than half were competent by the data end); '
                                  ~ 'the competent-by shares are still reported') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
