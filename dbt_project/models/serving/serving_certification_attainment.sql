-- Certification attainment, one row per slice (macros/serving.sql, DECISIONS D126).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    {{ serving_measurement(ref('kpi_certification_attainment'), 'certification_attainment') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('certification_attainment', 'estimate') }} as certification_attainment_pct,
        {{ serving_pick('certification_attainment', 'ci_low') }} as certification_attainment_ci_low_pct,
        {{ serving_pick('certification_attainment', 'ci_high') }} as certification_attainment_ci_high_pct,
        {{ serving_pick('certification_attainment', 'denominator', 'bigint') }} as n_exits,
        {{ serving_pick('certification_attainment', 'numerator', 'bigint') }} as n_certified,
        {{ serving_pick('certification_attainment', 'window_days', 'integer') }} as certification_window_days,
        {{ serving_headline('certification_attainment') }}
    from {{ ref('kpi_certification_attainment') }}
    where estimation_method = 'observed' and kpi = 'certification_attainment'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.certification_attainment_pct,
    cells.certification_attainment_ci_low_pct,
    cells.certification_attainment_ci_high_pct,
    cells.n_exits,
    cells.n_certified,
    cells.certification_window_days,
    {{ serving_status('cells', 'participants who exited at least the certification window ago', measurement='measurement') }}
from slices
cross join parameters
cross join measurement
left join cells on {{ serving_slice_join('slices', 'cells') }}
