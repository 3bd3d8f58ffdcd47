-- Qualitative outcomes (docs/measurement.md): free-text answers of the post-training
-- survey tagged with the themes of the seed survey_theme_lexicon (barriers: time,
-- relevance, manager support, access; benefits: confidence, promotion), counted per
-- slice: answers mentioning the theme ÷ answers with free text. No text or quote is
-- stored here. The period is the exit year. Intangibles: reported, never monetised.
{%- set grains = var('kpi_slice_grains', none) %}

with survey_rows as (
    select * from {{ ref('int_survey_responses__joined_to_enrollments') }}
    where has_feedback_text
),

mentions as (
    select * from {{ ref('int_survey_responses__themes') }}
),

lexicon_themes as (
    select theme, min(theme_kind) as theme_kind
    from {{ ref('survey_theme_lexicon') }}
    group by theme
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

-- every answer with text × every theme, mentioned or not (so a theme nobody raised reads 0)
answers_by_theme as (
    select
        {{ kpi_input_dimensions('survey_rows', period_of('coalesce(survey_rows.exit_date, survey_rows.responded_on)')) }},
        lexicon_themes.theme,
        lexicon_themes.theme_kind,
        coalesce(survey_rows.worker_id, survey_rows.survey_row_id) as respondent_key,
        mentions.survey_row_id is not null as mentions_theme
    from survey_rows
    cross join lexicon_themes
    left join mentions
        on survey_rows.survey_row_id = mentions.survey_row_id
        and lexicon_themes.theme = mentions.theme
),

{% set aggregates %}
        count(distinct respondent_key) as n_people,
        count(*) as n_answers,
        sum(case when mentions_theme then 1 else 0 end) as n_mentions
{% endset %}

sliced as (
    {{ kpi_sliced('answers_by_theme', aggregates, keys=['theme', 'theme_kind'], grains=grains) }}
),

published as (
    select
        'feedback_theme_' || sliced.theme as kpi,
        {{ kpi_slice_key('sliced') }},
        cast('observed' as varchar) as estimation_method,
        cast(1 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        {{ published('sliced.n_mentions', 'sliced.n_people') }} as numerator,
        {{ published('sliced.n_answers', 'sliced.n_people') }} as denominator,
        {{ published('sliced.n_answers', 'sliced.n_people', 'bigint') }} as n,
        {{ count_band('sliced.n_people') }} as n_band,
        {{ published('100.0 * sliced.n_mentions / nullif(sliced.n_answers, 0)', 'sliced.n_people') }} as estimate,
        {{ published(wilson_bound_pct('sliced.n_mentions', 'sliced.n_answers', -1), 'sliced.n_people') }} as ci_low,
        {{ published(wilson_bound_pct('sliced.n_mentions', 'sliced.n_answers', 1), 'sliced.n_people') }} as ci_high,
        sliced.theme,
        sliced.theme_kind,
        false as is_flagged,
        cast(null as varchar) as flag_reason,
        parameters.definition_version,
        sliced.n_people < parameters.min_cell_size as suppressed
    from sliced
    cross join parameters
)

select * from published
