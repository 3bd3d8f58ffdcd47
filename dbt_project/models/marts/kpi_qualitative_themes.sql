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

sliced_themes as (
    {{ kpi_sliced('answers_by_theme', aggregates, keys=['theme', 'theme_kind'], grains=grains) }}
),

-- every theme counts the same answers: one population, suppressed alike for all themes
{{ population_suppression('sliced_themes', 'n_people', name='sliced', grains=grains) }},

published as (
    select
        'feedback_theme_' || sliced.theme as kpi,
        {{ kpi_slice_key('sliced') }},
        cast('observed' as {{ dbt.type_string() }}) as estimation_method,
        cast(1 as integer) as evaluation_level,
        cast('pct' as {{ dbt.type_string() }}) as unit,
        {{ observed_rate_published('sliced', 'n_mentions', 'n_answers', n='n_answers', people='n_people') }}
        sliced.theme,
        sliced.theme_kind,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        sliced.is_suppressed as suppressed
    from sliced
    cross join parameters
)

select * from published
