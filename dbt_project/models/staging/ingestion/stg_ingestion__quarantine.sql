-- The raw record (record_json) stays in bronze: it may hold direct identifiers.
-- A broken value in an identifier column is masked for the same reason.
with source as (
    select * from {{ bronze_source('ingestion', 'quarantine') }}
),

renamed as (
    select
        -- ids
        {{ surrogate_key(['_source_sha256', '_source_row', 'rule', '"column"']) }} as quarantine_row_id,

        -- strings
        cast(entity as varchar) as entity,
        cast(rule as varchar) as rule,
        cast("column" as varchar) as column_name,
        case
            when "column" in ({{ "'" ~ pii_columns() | join("', '") ~ "'" }}) then '<redacted>'
            else cast(value as varchar)
        end as value,
        cast(message as varchar) as message,

        -- lineage
        _source_file,
        _source_sha256,
        _source_row,
        _batch_id
    from source
)

select * from renamed
