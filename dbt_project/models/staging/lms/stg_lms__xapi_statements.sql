-- The statement as received (statement_json) stays in bronze: its actor is the raw worker id.
with source as (
    select * from {{ bronze_source('lms', 'xapi_statements') }}
),

-- an LRS re-export repeats statements; the statement id is immutable (xAPI 1.0.3)
latest_per_statement as (
    select *
    from source
    qualify {{ latest_per_key(['statement_id']) }}
),

renamed as (
    select
        -- ids
        cast(statement_id as varchar) as statement_id,
        {{ pseudonymize('actor_id') }} as actor_id,
        cast(verb_id as varchar) as verb_id,
        cast(object_id as varchar) as object_id,
        cast(course_activity_id as varchar) as course_activity_id,
        cast(registration as varchar) as registration,
        cast(voided_statement_id as varchar) as voided_statement_id,

        -- strings
        cast(verb as varchar) as verb,
        cast(xapi_version as varchar) as xapi_version,

        -- numerics
        cast(score_scaled as double) as score_scaled,
        cast(score_raw as double) as score_raw,
        cast(score_min as double) as score_min,
        cast(score_max as double) as score_max,
        cast(duration_seconds as double) as duration_seconds,

        -- booleans
        cast(success as boolean) as is_success,
        cast(completion as boolean) as is_completion,

        -- timestamps
        cast(statement_timestamp as timestamp with time zone) as statement_timestamp,
        cast(stored as timestamp with time zone) as stored_at,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_statement
)

select * from renamed
