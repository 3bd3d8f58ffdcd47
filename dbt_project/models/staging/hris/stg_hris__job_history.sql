with source as (
    select * from {{ bronze_source('hris', 'job_history') }}
),

-- the latest extract restates all history, retroactive corrections included
latest_extract as (
    select *
    from source
    where _source_file = ({{ latest_snapshot_file('source') }})
),

-- worker and manager ids leave as keyed pseudonyms; the event key hashes the pseudonym,
-- so it cannot be recomputed from a raw worker id
pseudonymized as (
    select
        {{ pseudonymize('worker_id') }} as worker_id,
        position_id,
        {{ pseudonymize('manager_id') }} as manager_id,
        event_reason,
        job_profile,
        job_family,
        department,
        cost_center,
        compensation_grade,
        currency,
        event_sequence,
        management_level,
        base_pay,
        effective_date,
        {{ lineage_columns() }}
    from latest_extract
),

renamed as (
    select
        -- ids
        {{ surrogate_key(['worker_id', 'effective_date', 'event_sequence']) }} as job_event_id,
        cast(worker_id as {{ dbt.type_string() }}) as worker_id,
        cast(position_id as {{ dbt.type_string() }}) as position_id,
        cast(manager_id as {{ dbt.type_string() }}) as manager_id,

        -- strings
        cast(event_reason as {{ dbt.type_string() }}) as event_reason,
        cast(job_profile as {{ dbt.type_string() }}) as job_profile,
        cast(job_family as {{ dbt.type_string() }}) as job_family,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(cost_center as {{ dbt.type_string() }}) as cost_center,
        cast(compensation_grade as {{ dbt.type_string() }}) as compensation_grade,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- numerics
        cast(event_sequence as integer) as event_sequence,
        cast(management_level as integer) as management_level,
        cast(base_pay as decimal(18, 2)) as base_pay,

        -- dates
        cast(effective_date as date) as effective_date,

        -- lineage
        {{ lineage_columns() }}
    from pseudonymized
)

select * from renamed
