-- Learning NPS and the survey response rate, one row per slice (macros/serving.sql, DECISIONS D126).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    {{ serving_measurement(ref('kpi_learning_nps'), 'learning_nps') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('learning_nps', 'estimate') }} as learning_nps_score,
        {{ serving_pick('learning_nps', 'ci_low') }} as learning_nps_ci_low_score,
        {{ serving_pick('learning_nps', 'ci_high') }} as learning_nps_ci_high_score,
        {{ serving_pick('learning_nps', 'standard_error') }} as learning_nps_standard_error_score,
        {{ serving_pick('learning_nps', 'response_rate_pct') }} as survey_response_rate_pct,
        {{ serving_pick('learning_nps', 'n', 'bigint') }} as n_respondents,
        {{ serving_pick('learning_nps', 'n_promoters', 'bigint') }} as n_promoters,
        {{ serving_pick('learning_nps', 'n_passives', 'bigint') }} as n_passives,
        {{ serving_pick('learning_nps', 'n_detractors', 'bigint') }} as n_detractors,
        {{ serving_pick('learning_nps', 'n_invited', 'bigint') }} as n_invited,
        {{ serving_pick('learning_nps', 'n_invited_responded', 'bigint') }} as n_invited_responded,
        {{ serving_headline('learning_nps') }}
    from {{ ref('kpi_learning_nps') }}
    where estimation_method = 'observed'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.learning_nps_score,
    cells.learning_nps_ci_low_score,
    cells.learning_nps_ci_high_score,
    cells.learning_nps_standard_error_score,
    cells.survey_response_rate_pct,
    cells.n_respondents,
    cells.n_promoters,
    cells.n_passives,
    cells.n_detractors,
    cells.n_invited,
    cells.n_invited_responded,
    {{ serving_status('cells', 'participants who answered the post-training survey', measurement='measurement') }}
from slices
cross join parameters
cross join measurement
left join cells on {{ serving_slice_join('slices', 'cells') }}
