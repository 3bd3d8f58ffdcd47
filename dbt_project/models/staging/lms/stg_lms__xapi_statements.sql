-- Spark has no table format here that deletes and inserts (Delta/Iceberg need Maven jars), and
-- insert_overwrite cannot read the table it overwrites: on Spark a full table each run (issue 18).
{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'reusable_table'),
        unique_key='statement_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- Incremental (DECISIONS D61): a night pseudonymises only the statements loaded since the last
-- build; a re-delivered statement replaces its row by statement_id. A voiding statement is a row
-- of its own here (voided_statement_id): int_time_to_competency, rebuilt in full, drops the
-- statements it voids, so a void arriving days after its target needs no change to old rows.
-- A new pseudonymisation key needs `training-impact run --full-refresh` (SECURITY.md).
-- The statement as received (statement_json) stays in bronze: its actor is the raw worker id.
with source as (
    select * from {{ bronze_source('lms', 'xapi_statements') }}
    {{ loaded_after_this() }}
),

-- an LRS re-export repeats statements; the statement id is immutable (xAPI 1.0.3)
latest_per_statement as (
    {{ latest_rows('source', ['statement_id']) }}
),

renamed as (
    select
        -- ids
        cast(statement_id as {{ dbt.type_string() }}) as statement_id,
        {{ pseudonymize('actor_id') }} as actor_id,
        cast(verb_id as {{ dbt.type_string() }}) as verb_id,
        cast(object_id as {{ dbt.type_string() }}) as object_id,
        cast(course_activity_id as {{ dbt.type_string() }}) as course_activity_id,
        cast(registration as {{ dbt.type_string() }}) as registration,
        cast(voided_statement_id as {{ dbt.type_string() }}) as voided_statement_id,

        -- strings
        cast(verb as {{ dbt.type_string() }}) as verb,
        cast(xapi_version as {{ dbt.type_string() }}) as xapi_version,

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
        cast(statement_timestamp as {{ ti_type_instant() }}) as statement_timestamp,
        cast(stored as {{ ti_type_instant() }}) as stored_at,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_statement
)

select * from renamed
