-- Productivity change, the matched difference in differences only, one row per slice
-- (macros/serving.sql, DECISIONS D126). The naive comparisons (naive_pre_post,
-- naive_vs_nonparticipants) stay in kpi_productivity_change and kpi_summary, labelled there.
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('productivity_change', 'estimate') }} as productivity_change_pts,
        {{ serving_pick('productivity_change', 'ci_low') }} as productivity_change_ci_low_pts,
        {{ serving_pick('productivity_change', 'ci_high') }} as productivity_change_ci_high_pts,
        {{ serving_pick('productivity_change', 'relative_pct') }} as productivity_change_pct,
        {{ serving_pick('productivity_change', 'relative_ci_low') }} as productivity_change_ci_low_pct,
        {{ serving_pick('productivity_change', 'relative_ci_high') }} as productivity_change_ci_high_pct,
        {{ serving_pick('productivity_change', 'comparison_level') }} as comparison_level_pts,
        {{ serving_pick('productivity_change', 'pretrend_points') }} as pretrend_pts,
        {{ serving_pick('productivity_change', 'n', 'bigint') }} as n_treated,
        {{ serving_pick('productivity_change', 'n_comparison', 'bigint') }} as n_comparison,
        {{ serving_pick('productivity_change', 'n_winsorised', 'bigint') }} as n_winsorised,
        {{ serving_headline('productivity_change') }}
    from {{ ref('kpi_productivity_change') }}
    where estimation_method = 'did_matched'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
    cells.productivity_change_pts,
    cells.productivity_change_ci_low_pts,
    cells.productivity_change_ci_high_pts,
    cells.productivity_change_pct,
    cells.productivity_change_ci_low_pct,
    cells.productivity_change_ci_high_pct,
    cells.comparison_level_pts,
    cells.pretrend_pts,
    cells.n_treated,
    cells.n_comparison,
    cells.n_winsorised,
    {{ serving_status('cells', 'participants whose outcome window is over, matched to comparison workers') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
