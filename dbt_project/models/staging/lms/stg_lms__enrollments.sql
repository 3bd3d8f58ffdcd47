with source as (
    select * from {{ bronze_source('lms', 'enrollments') }}
),

latest_extract as (
    select *
    from source
    where _source_file = ({{ latest_snapshot_file('source') }})
),

renamed as (
    select
        -- ids
        cast(enrollment_id as {{ dbt.type_string() }}) as enrollment_id,
        {{ pseudonymize('worker_id') }} as worker_id,
        cast(program_id as {{ dbt.type_string() }}) as program_id,

        -- strings
        cast(assignment_type as {{ dbt.type_string() }}) as assignment_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(waiver_reason as {{ dbt.type_string() }}) as waiver_reason,

        -- numerics
        cast(attempt as integer) as attempt,
        cast(score as double) as score,
        cast(hours_spent as double) as hours_spent,

        -- dates
        cast(enrolled_at as date) as enrolled_at,
        cast(started_at as date) as started_at,
        cast(completion_date as date) as completion_date,

        -- lineage
        {{ lineage_columns() }}
    from latest_extract
)

select * from renamed
