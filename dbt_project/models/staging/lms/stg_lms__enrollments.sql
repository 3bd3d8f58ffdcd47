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
        cast(enrollment_id as varchar) as enrollment_id,
        {{ pseudonymize('worker_id') }} as worker_id,
        cast(program_id as varchar) as program_id,

        -- strings
        cast(assignment_type as varchar) as assignment_type,
        cast(status as varchar) as status,
        cast(waiver_reason as varchar) as waiver_reason,

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
