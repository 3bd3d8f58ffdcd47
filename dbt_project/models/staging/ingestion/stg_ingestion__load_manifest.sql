with source as (
    select * from {{ bronze_source('ingestion', 'load_manifest') }}
),

renamed as (
    select
        -- ids
        cast(batch_id as {{ dbt.type_string() }}) as batch_id,
        cast(source_sha256 as {{ dbt.type_string() }}) as source_sha256,

        -- strings
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(family as {{ dbt.type_string() }}) as family,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(mapping as {{ dbt.type_string() }}) as mapping,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(bronze_file as {{ dbt.type_string() }}) as bronze_file,

        -- numerics
        cast(size_bytes as bigint) as size_bytes,
        cast(rows_read as bigint) as rows_read,
        cast(rows_loaded as bigint) as rows_loaded,
        cast(rows_quarantined as bigint) as rows_quarantined,

        -- timestamps
        started_at,
        finished_at
    from source
)

select * from renamed
