with source as (
    select * from {{ bronze_source('lms', 'credentials') }}
),

latest_extract as (
    select *
    from source
    where _source_file = ({{ latest_snapshot_file('source') }})
),

renamed as (
    select
        -- ids
        cast(credential_id as {{ dbt.type_string() }}) as credential_id,
        {{ pseudonymize('worker_id') }} as worker_id,
        cast(program_id as {{ dbt.type_string() }}) as program_id,

        -- strings
        cast(credential_name as {{ dbt.type_string() }}) as credential_name,
        cast(issuer as {{ dbt.type_string() }}) as issuer,

        -- dates
        cast(issued_on as date) as issued_on,
        cast(expires_on as date) as expires_on,

        -- lineage
        {{ lineage_columns() }}
    from latest_extract
)

select * from renamed
