-- One row per survey answer × theme its free text mentions (seed survey_theme_lexicon:
-- a term at the start of a word, case-insensitive). Only the kept answer of each
-- enrollment is read; the text itself does not leave this model.
with responses as (
    select * from {{ ref('stg_surveys__survey_responses') }}
),

survey_rows as (
    select * from {{ ref('int_survey_responses__joined_to_enrollments') }}
    where has_feedback_text
),

lexicon as (
    select * from {{ ref('survey_theme_lexicon') }}
),

texts as (
    select
        survey_rows.survey_row_id,
        survey_rows.response_id,
        -- the redaction placeholders are not words of the answer: "[PHONE]" must not tag the
        -- access theme's "phone" (macros/privacy.sql)
        {{ ti_lower(without_redaction_placeholders('responses.feedback_text')) }} as text_lower
    from survey_rows
    inner join responses
        on survey_rows.response_id = responses.response_id
),

mentions as (
    select
        texts.survey_row_id,
        texts.response_id,
        lexicon.theme,
        min(lexicon.theme_kind) as theme_kind,
        count(*) as matched_terms
    from texts
    inner join lexicon
        -- the term starts a word (a word boundary before it: macros/portable/surveys.sql)
        on {{ ti_regexp_contains('texts.text_lower', ti_regex_word_start() ~ " || lower(lexicon.term)") }}
    group by 1, 2, 3
)

select * from mentions
