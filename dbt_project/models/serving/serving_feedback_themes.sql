-- Feedback themes of the survey comments, one row per slice, one column per theme of the lexicon
-- (seeds; config/kpis.yml lists them) (macros/serving.sql, DECISIONS D126). Every theme shares one
-- population (respondents with a comment) and one suppression pattern (D47).
with slices as (
    {{ serving_slices() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('feedback_theme_time', 'estimate') }} as feedback_theme_time_pct,
        {{ serving_pick('feedback_theme_time', 'ci_low') }} as feedback_theme_time_ci_low_pct,
        {{ serving_pick('feedback_theme_time', 'ci_high') }} as feedback_theme_time_ci_high_pct,
        {{ serving_pick('feedback_theme_relevance', 'estimate') }} as feedback_theme_relevance_pct,
        {{ serving_pick('feedback_theme_relevance', 'ci_low') }} as feedback_theme_relevance_ci_low_pct,
        {{ serving_pick('feedback_theme_relevance', 'ci_high') }} as feedback_theme_relevance_ci_high_pct,
        {{ serving_pick('feedback_theme_manager_support', 'estimate') }} as feedback_theme_manager_support_pct,
        {{ serving_pick('feedback_theme_manager_support', 'ci_low') }} as feedback_theme_manager_support_ci_low_pct,
        {{ serving_pick('feedback_theme_manager_support', 'ci_high') }} as feedback_theme_manager_support_ci_high_pct,
        {{ serving_pick('feedback_theme_access', 'estimate') }} as feedback_theme_access_pct,
        {{ serving_pick('feedback_theme_access', 'ci_low') }} as feedback_theme_access_ci_low_pct,
        {{ serving_pick('feedback_theme_access', 'ci_high') }} as feedback_theme_access_ci_high_pct,
        {{ serving_pick('feedback_theme_confidence', 'estimate') }} as feedback_theme_confidence_pct,
        {{ serving_pick('feedback_theme_confidence', 'ci_low') }} as feedback_theme_confidence_ci_low_pct,
        {{ serving_pick('feedback_theme_confidence', 'ci_high') }} as feedback_theme_confidence_ci_high_pct,
        {{ serving_pick('feedback_theme_promotion', 'estimate') }} as feedback_theme_promotion_pct,
        {{ serving_pick('feedback_theme_promotion', 'ci_low') }} as feedback_theme_promotion_ci_low_pct,
        {{ serving_pick('feedback_theme_promotion', 'ci_high') }} as feedback_theme_promotion_ci_high_pct,
        cast(max(denominator) as bigint) as n_respondents_with_comment,
        {{ serving_headline(none) }}
    from {{ ref('kpi_qualitative_themes') }}
    where estimation_method = 'observed'
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('observed' as {{ dbt.type_string() }}) as estimation_method,
    cells.feedback_theme_time_pct,
    cells.feedback_theme_time_ci_low_pct,
    cells.feedback_theme_time_ci_high_pct,
    cells.feedback_theme_relevance_pct,
    cells.feedback_theme_relevance_ci_low_pct,
    cells.feedback_theme_relevance_ci_high_pct,
    cells.feedback_theme_manager_support_pct,
    cells.feedback_theme_manager_support_ci_low_pct,
    cells.feedback_theme_manager_support_ci_high_pct,
    cells.feedback_theme_access_pct,
    cells.feedback_theme_access_ci_low_pct,
    cells.feedback_theme_access_ci_high_pct,
    cells.feedback_theme_confidence_pct,
    cells.feedback_theme_confidence_ci_low_pct,
    cells.feedback_theme_confidence_ci_high_pct,
    cells.feedback_theme_promotion_pct,
    cells.feedback_theme_promotion_ci_low_pct,
    cells.feedback_theme_promotion_ci_high_pct,
    cells.n_respondents_with_comment,
    {{ serving_status('cells', 'survey respondents who wrote a comment') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
