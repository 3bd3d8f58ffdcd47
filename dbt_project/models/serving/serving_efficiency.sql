-- Efficiency (TDRp / ISO 30414), one row per slice (macros/serving.sql, DECISIONS D126). Its six KPIs
-- share one population (people who started a program) and one suppression pattern (D47).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('participants', 'estimate', 'bigint') }} as n_participants,
        {{ serving_pick('training_hours_per_fte', 'estimate') }} as training_hours_per_fte,
        {{ serving_pick('pct_workforce_trained', 'estimate') }} as workforce_trained_pct,
        {{ serving_pick('total_training_cost', 'estimate') }} as total_training_cost_amount,
        {{ serving_pick('cost_per_learner', 'estimate') }} as cost_per_learner_amount,
        {{ serving_pick('cost_per_completion', 'estimate') }} as cost_per_completion_amount,
        {{ serving_pick('participants', 'offsets_amount') }} as offsets_amount,
        {{ serving_pick('participants', 'currency', dbt.type_string()) }} as currency,
        {{ serving_pick('participants', 'n_enrollments', 'bigint') }} as n_enrollments,
        {{ serving_pick('participants', 'n_completions', 'bigint') }} as n_completions,
        {{ serving_pick('participants', 'training_hours') }} as training_hours,
        {{ serving_pick('participants', 'workforce_headcount', 'bigint') }} as n_workforce_headcount,
        {{ serving_headline('participants') }}
    from {{ ref('kpi_efficiency') }}
    where estimation_method = 'observed'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.n_participants,
    cells.training_hours_per_fte,
    cells.workforce_trained_pct,
    cells.total_training_cost_amount,
    cells.cost_per_learner_amount,
    cells.cost_per_completion_amount,
    cells.offsets_amount,
    coalesce(cells.currency, parameters.currency) as currency,
    cells.n_enrollments,
    cells.n_completions,
    cells.training_hours,
    cells.n_workforce_headcount,
    {{ serving_status('cells', 'people who started a program') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
