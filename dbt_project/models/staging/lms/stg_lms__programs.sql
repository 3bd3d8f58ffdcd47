with source as (
    select * from {{ bronze_source('lms', 'programs') }}
),

latest_extract as (
    select *
    from source
    where _source_file = ({{ latest_snapshot_file('source') }})
),

renamed as (
    select
        -- ids
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(xapi_activity_id as {{ dbt.type_string() }}) as xapi_activity_id,

        -- strings
        cast(title as {{ dbt.type_string() }}) as title,
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(method as {{ dbt.type_string() }}) as method,
        cast(program_type as {{ dbt.type_string() }}) as program_type,
        cast(target_job_family as {{ dbt.type_string() }}) as target_job_family,
        cast(credential_offered as {{ dbt.type_string() }}) as credential_offered,
        cast(move_on_rule as {{ dbt.type_string() }}) as move_on_rule,

        -- numerics
        cast(planned_hours as double) as planned_hours,
        cast(window_days as integer) as window_days,
        cast(score_min as double) as score_min,
        cast(score_max as double) as score_max,
        cast(mastery_score as double) as mastery_score,
        cast(expected_life_years as integer) as expected_life_years,

        -- booleans
        coalesce(cast(waived_counts_as_completed as boolean), false) as waived_counts_as_completed,

        -- lineage
        {{ lineage_columns() }}
    from latest_extract
)

select * from renamed
