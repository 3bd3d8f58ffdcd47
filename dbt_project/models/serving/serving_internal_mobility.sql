-- Internal mobility (matched difference in differences), one row per slice (macros/serving.sql,
-- DECISIONS D126). The headline (any move) and the three variants measured on the same participants;
-- internal_mobility_reskilling_landed (reskilling participants only, suppressed apart) stays in
-- kpi_internal_mobility and kpi_summary.
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('internal_mobility', 'estimate') }} as internal_mobility_pp,
        {{ serving_pick('internal_mobility', 'ci_low') }} as internal_mobility_ci_low_pp,
        {{ serving_pick('internal_mobility', 'ci_high') }} as internal_mobility_ci_high_pp,
        {{ serving_pick('internal_mobility', 'participant_rate_pct') }} as internal_mobility_participants_pct,
        {{ serving_pick('internal_mobility', 'comparison_rate_pct') }} as internal_mobility_comparison_pct,
        {{ serving_pick('internal_mobility_promotion', 'estimate') }} as internal_mobility_promotion_pp,
        {{ serving_pick('internal_mobility_promotion', 'ci_low') }} as internal_mobility_promotion_ci_low_pp,
        {{ serving_pick('internal_mobility_promotion', 'ci_high') }} as internal_mobility_promotion_ci_high_pp,
        {{ serving_pick('internal_mobility_job_family_change', 'estimate') }} as internal_mobility_job_family_change_pp,
        {{ serving_pick('internal_mobility_job_family_change', 'ci_low') }} as internal_mobility_job_family_change_ci_low_pp,
        {{ serving_pick('internal_mobility_job_family_change', 'ci_high') }} as internal_mobility_job_family_change_ci_high_pp,
        {{ serving_pick('internal_mobility_title_change', 'estimate') }} as internal_mobility_title_change_pp,
        {{ serving_pick('internal_mobility_title_change', 'ci_low') }} as internal_mobility_title_change_ci_low_pp,
        {{ serving_pick('internal_mobility_title_change', 'ci_high') }} as internal_mobility_title_change_ci_high_pp,
        {{ serving_pick('internal_mobility', 'n', 'bigint') }} as n_treated,
        {{ serving_pick('internal_mobility', 'n_comparison', 'bigint') }} as n_comparison,
        {{ serving_pick('internal_mobility', 'window_months', 'integer') }} as outcome_window_months,
        {{ serving_headline('internal_mobility') }}
    from {{ ref('kpi_internal_mobility') }}
    where estimation_method = 'did_matched'
      and kpi in ('internal_mobility', 'internal_mobility_promotion', 'internal_mobility_job_family_change',
                  'internal_mobility_title_change')
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
    cells.internal_mobility_pp,
    cells.internal_mobility_ci_low_pp,
    cells.internal_mobility_ci_high_pp,
    cells.internal_mobility_participants_pct,
    cells.internal_mobility_comparison_pct,
    cells.internal_mobility_promotion_pp,
    cells.internal_mobility_promotion_ci_low_pp,
    cells.internal_mobility_promotion_ci_high_pp,
    cells.internal_mobility_job_family_change_pp,
    cells.internal_mobility_job_family_change_ci_low_pp,
    cells.internal_mobility_job_family_change_ci_high_pp,
    cells.internal_mobility_title_change_pp,
    cells.internal_mobility_title_change_ci_low_pp,
    cells.internal_mobility_title_change_ci_high_pp,
    cells.n_treated,
    cells.n_comparison,
    cells.outcome_window_months,
    {{ serving_status('cells', 'participants whose outcome window is over, matched to comparison workers') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
