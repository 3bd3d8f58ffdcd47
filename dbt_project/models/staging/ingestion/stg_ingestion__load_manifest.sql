with source as (
    select * from {{ bronze_source('ingestion', 'load_manifest') }}
),

renamed as (
    select
        -- ids
        cast(batch_id as varchar) as batch_id,
        cast(source_sha256 as varchar) as source_sha256,

        -- strings
        cast(source_file as varchar) as source_file,
        cast(family as varchar) as family,
        cast(entity as varchar) as entity,
        cast(mapping as varchar) as mapping,
        cast(status as varchar) as status,
        cast(reason as varchar) as reason,
        cast(bronze_file as varchar) as bronze_file,

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
