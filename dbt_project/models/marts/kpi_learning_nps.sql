-- Learning NPS (docs/measurement.md, level 1 reaction): % promoters (nps.promoter_min+,
-- 9-10) - % detractors (up to nps.detractor_max, 0-6) among respondents, -100..+100.
-- Standard error from the per-respondent variance of the +1/0/-1 score, population form:
--   var = (p + d) - (p - d)^2,  se = sqrt(var / n)   (p, d shares of promoters, detractors)
-- (shared/fixtures/surveys/nps_test_vectors.json; tests/unit/test_kpi_nps_vectors.py).
-- The response rate is answered invitations ÷ invitations (every exit completed, passed,
-- failed or withdrawn while employed is invited). The period is the exit year.
-- A company that delivers no survey answers publishes both as not measured (one row each saying
-- why, macros/measurement.sql), not as suppressed cells or a 0% response rate.
{%- set grains = var('kpi_slice_grains', none) %}

with survey_rows as (
    select * from {{ ref('int_survey_responses__joined_to_enrollments') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    select count(*) filter (
        where coalesce(survey_rows.has_response, false) or coalesce(survey_rows.has_feedback_text, false)
    ) as answers
    from survey_rows
),

answers as (
    select
        {{ kpi_input_dimensions('survey_rows', period_of('coalesce(survey_rows.exit_date, survey_rows.responded_on)')) }},
        coalesce(survey_rows.worker_id, survey_rows.survey_row_id) as respondent_key,
        survey_rows.is_invited,
        survey_rows.has_response,
        case
            when not survey_rows.has_response or survey_rows.nps is null then null
            when survey_rows.nps <= parameters.nps_detractor_max then 'detractor'
            when survey_rows.nps >= parameters.nps_promoter_min then 'promoter'
            else 'passive'
        end as nps_category
    from survey_rows
    cross join parameters
),

{% set aggregates %}
        count(distinct case when has_response then respondent_key end) as n_people,
        sum(case when has_response then 1 else 0 end) as n_respondents,
        sum(case when nps_category = 'promoter' then 1 else 0 end) as n_promoters,
        sum(case when nps_category = 'passive' then 1 else 0 end) as n_passives,
        sum(case when nps_category = 'detractor' then 1 else 0 end) as n_detractors,
        sum(case when is_invited then 1 else 0 end) as n_invited,
        sum(case when is_invited and has_response then 1 else 0 end) as n_invited_responded
{% endset %}

sliced_cells as (
    {{ kpi_sliced('answers', aggregates, grains=grains) }}
),

{{ complementary_suppression('sliced_cells', 'n_people', grains=grains, name='sliced') }},

scores as (
    select
        sliced.*,
        cast(sliced.n_promoters as double) / nullif(sliced.n_respondents, 0) as promoter_share,
        cast(sliced.n_detractors as double) / nullif(sliced.n_respondents, 0) as detractor_share
    from sliced
),

statistics as (
    select
        scores.*,
        scores.promoter_share - scores.detractor_share as nps_fraction,
        (scores.promoter_share + scores.detractor_share)
            - (scores.promoter_share - scores.detractor_share) * (scores.promoter_share - scores.detractor_share)
            as score_variance
    from scores
),

published as (
    select
        cast('learning_nps' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('statistics') }},
        cast('observed' as {{ dbt.type_string() }}) as estimation_method,
        cast(1 as integer) as evaluation_level,
        cast('points' as {{ dbt.type_string() }}) as unit,
        {{ published('statistics.n_promoters - statistics.n_detractors', 'statistics.is_suppressed') }} as numerator,
        {{ published('statistics.n_respondents', 'statistics.is_suppressed') }} as denominator,
        {{ published('statistics.n_respondents', 'statistics.is_suppressed', 'bigint') }} as n,
        {{ count_band('statistics.n_people', 'statistics.is_suppressed') }} as n_band,
        {{ published('100.0 * statistics.nps_fraction', 'statistics.is_suppressed') }} as estimate,
        {{ published('greatest(-100.0, 100.0 * (statistics.nps_fraction - ' ~ ci_z()
            ~ ' * sqrt(statistics.score_variance / statistics.n_respondents)))', 'statistics.is_suppressed') }} as ci_low,
        {{ published('least(100.0, 100.0 * (statistics.nps_fraction + ' ~ ci_z()
            ~ ' * sqrt(statistics.score_variance / statistics.n_respondents)))', 'statistics.is_suppressed') }} as ci_high,
        {{ published('100.0 * sqrt(statistics.score_variance / statistics.n_respondents)', 'statistics.is_suppressed') }}
            as standard_error,
        {{ published('statistics.score_variance', 'statistics.is_suppressed') }} as score_variance,
        {{ published('statistics.n_promoters', 'statistics.is_suppressed', 'bigint') }} as n_promoters,
        {{ published('statistics.n_passives', 'statistics.is_suppressed', 'bigint') }} as n_passives,
        {{ published('statistics.n_detractors', 'statistics.is_suppressed', 'bigint') }} as n_detractors,
        {{ published('statistics.n_invited', 'statistics.is_suppressed', 'bigint') }} as n_invited,
        {{ published('statistics.n_invited_responded', 'statistics.is_suppressed', 'bigint') }} as n_invited_responded,
        {{ published('100.0 * statistics.n_invited_responded / nullif(statistics.n_invited, 0)', 'statistics.is_suppressed') }}
            as response_rate_pct,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        statistics.is_suppressed as suppressed,
        {{ measured_columns() }}
    from statistics
    cross join parameters
),

-- survey_response_rate is a column of the learning_nps rows (config/kpis.yml): one row says both
not_measured as (
    {{ not_measured_rows(['learning_nps'], 'observed', 1, 'points',
        reason="'no survey answers were delivered (surveys): no NPS and no response rate'") }}
)

{{ ti_published_or_not_measured('published', 'not_measured', '(select answers > 0 from measurement)') }}
