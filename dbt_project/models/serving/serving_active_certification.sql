-- Active certification rate (as of a date), one row per slice (macros/serving.sql, DECISIONS D126).
-- Its own view: its population (everyone who exited by the as-of date and is still employed) is not
-- certification attainment's, so the two are suppressed apart.
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('active_certification_rate', 'estimate') }} as active_certification_rate_pct,
        {{ serving_pick('active_certification_rate', 'ci_low') }} as active_certification_rate_ci_low_pct,
        {{ serving_pick('active_certification_rate', 'ci_high') }} as active_certification_rate_ci_high_pct,
        {{ serving_pick('active_certification_rate', 'denominator', 'bigint') }} as n_exited_employed,
        {{ serving_pick('active_certification_rate', 'numerator', 'bigint') }} as n_holding_active_credential,
        {{ serving_pick('active_certification_rate', 'as_of_date', 'date') }} as as_of_date,
        {{ serving_headline('active_certification_rate') }}
    from {{ ref('kpi_certification_attainment') }}
    where estimation_method = 'observed' and kpi = 'active_certification_rate'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.active_certification_rate_pct,
    cells.active_certification_rate_ci_low_pct,
    cells.active_certification_rate_ci_high_pct,
    cells.n_exited_employed,
    cells.n_holding_active_credential,
    cells.as_of_date,
    {{ serving_status('cells', 'participants who exited by the as-of date and are employed on it') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
