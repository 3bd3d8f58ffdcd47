-- Completion rate, one row per slice (macros/serving.sql, DECISIONS D126).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    {{ serving_measurement(ref('kpi_completion_rate'), 'completion_rate') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('completion_rate', 'estimate') }} as completion_rate_pct,
        {{ serving_pick('completion_rate', 'ci_low') }} as completion_rate_ci_low_pct,
        {{ serving_pick('completion_rate', 'ci_high') }} as completion_rate_ci_high_pct,
        {{ serving_pick('completion_rate', 'denominator', 'bigint') }} as n_enrollments,
        {{ serving_pick('completion_rate', 'numerator', 'bigint') }} as n_completions,
        {{ serving_pick('completion_rate', 'n_completed', 'bigint') }} as n_completed,
        {{ serving_pick('completion_rate', 'n_passed', 'bigint') }} as n_passed,
        {{ serving_pick('completion_rate', 'n_failed', 'bigint') }} as n_failed,
        {{ serving_pick('completion_rate', 'n_waived', 'bigint') }} as n_waived,
        {{ serving_pick('completion_rate', 'n_withdrawn', 'bigint') }} as n_withdrawn,
        {{ serving_pick('completion_rate', 'n_open', 'bigint') }} as n_open,
        {{ serving_headline('completion_rate') }}
    from {{ ref('kpi_completion_rate') }}
    where estimation_method = 'observed'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.completion_rate_pct,
    cells.completion_rate_ci_low_pct,
    cells.completion_rate_ci_high_pct,
    cells.n_enrollments,
    cells.n_completions,
    cells.n_completed,
    cells.n_passed,
    cells.n_failed,
    cells.n_waived,
    cells.n_withdrawn,
    cells.n_open,
    {{ serving_status('cells', 'enrollments whose program window has closed', measurement='measurement') }}
from slices
cross join parameters
cross join measurement
left join cells on {{ serving_slice_join('slices', 'cells') }}
