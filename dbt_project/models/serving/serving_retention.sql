-- Retention and separations (matched difference in differences), one row per slice
-- (macros/serving.sql, DECISIONS D126).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('retention', 'estimate') }} as retention_pp,
        {{ serving_pick('retention', 'ci_low') }} as retention_ci_low_pp,
        {{ serving_pick('retention', 'ci_high') }} as retention_ci_high_pp,
        {{ serving_pick('retention', 'participant_rate_pct') }} as retention_participants_pct,
        {{ serving_pick('retention', 'comparison_rate_pct') }} as retention_comparison_pct,
        {{ serving_pick('voluntary_separation', 'estimate') }} as voluntary_separation_pp,
        {{ serving_pick('voluntary_separation', 'ci_low') }} as voluntary_separation_ci_low_pp,
        {{ serving_pick('voluntary_separation', 'ci_high') }} as voluntary_separation_ci_high_pp,
        {{ serving_pick('involuntary_separation', 'estimate') }} as involuntary_separation_pp,
        {{ serving_pick('involuntary_separation', 'ci_low') }} as involuntary_separation_ci_low_pp,
        {{ serving_pick('involuntary_separation', 'ci_high') }} as involuntary_separation_ci_high_pp,
        {{ serving_pick('retention', 'n', 'bigint') }} as n_treated,
        {{ serving_pick('retention', 'n_comparison', 'bigint') }} as n_comparison,
        {{ serving_pick('retention', 'window_months', 'integer') }} as outcome_window_months,
        {{ serving_headline('retention') }}
    from {{ ref('kpi_retention') }}
    where estimation_method = 'did_matched'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
    cells.retention_pp,
    cells.retention_ci_low_pp,
    cells.retention_ci_high_pp,
    cells.retention_participants_pct,
    cells.retention_comparison_pct,
    cells.voluntary_separation_pp,
    cells.voluntary_separation_ci_low_pp,
    cells.voluntary_separation_ci_high_pp,
    cells.involuntary_separation_pp,
    cells.involuntary_separation_ci_low_pp,
    cells.involuntary_separation_ci_high_pp,
    cells.n_treated,
    cells.n_comparison,
    cells.outcome_window_months,
    {{ serving_status('cells', 'participants whose outcome window is over, matched to comparison workers') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
