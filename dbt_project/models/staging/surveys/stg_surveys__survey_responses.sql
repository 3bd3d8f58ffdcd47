-- Recipient names, e-mail and IP address stop here: they never leave bronze. The worker
-- id leaves as its keyed pseudonym; the free text without e-mails, phone numbers, roster
-- names and national ids (macros/privacy.sql), before theming or any quote.
with source as (
    select * from {{ bronze_source('surveys', 'survey_responses') }}
),

latest_per_response as (
    {{ latest_rows('source', ['response_id']) }}
),

redacted_feedback as (
    {{ redacted_free_text('latest_per_response', 'response_id', 'feedback_text') }}
),

renamed as (
    select
        -- ids
        cast(latest_per_response.response_id as {{ dbt.type_string() }}) as response_id,
        {{ pseudonymize('latest_per_response.worker_id') }} as worker_id,
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(enrollment_id as {{ dbt.type_string() }}) as enrollment_id,

        -- strings
        cast(distribution_channel as {{ dbt.type_string() }}) as distribution_channel,
        cast(redacted_feedback.redacted_text as {{ dbt.type_string() }}) as feedback_text,

        -- numerics
        cast(progress as integer) as progress,
        cast(duration_seconds as integer) as duration_seconds,
        cast(nps as integer) as nps,
        cast(relevance as integer) as relevance,
        cast(confidence_before as integer) as confidence_before,
        cast(confidence_after as integer) as confidence_after,

        -- booleans
        cast(finished as boolean) as is_finished,

        -- timestamps
        cast(started_at as {{ ti_type_instant() }}) as started_at,
        cast(ended_at as {{ ti_type_instant() }}) as ended_at,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_response
    left join redacted_feedback
        on latest_per_response.response_id = redacted_feedback.response_id
)

select * from renamed
