-- The raw record (record_json) stays in bronze: it may hold direct identifiers.
-- A broken value in an identifier column is masked for the same reason, one in a
-- worker-id column becomes its keyed pseudonym (macros/privacy.sql), and the message
-- quoting the value quotes the masked form.
{%- set pii = "'" ~ pii_columns() | join("', '") ~ "'" %}
{%- set worker_ids = "'" ~ worker_id_columns() | join("', '") ~ "'" %}

with source as (
    select * from {{ bronze_source('ingestion', 'quarantine') }}
),

masked as (
    select
        *,
        case
            when value is null then null
            when "column" in ({{ pii }}) then '<redacted>'
            when "column" in ({{ worker_ids }}) then {{ pseudonymize('value') }}
            -- a compound key holding a worker id ("worker_id+period+metric"), an xAPI actor path
            when list_has_any(string_split("column", '+'), [{{ pii }}, {{ worker_ids }}])
                or "column" like 'actor%' then '<redacted>'
            else cast(value as varchar)
        end as masked_value
    from source
),

renamed as (
    select
        -- ids
        {{ surrogate_key(['_source_sha256', '_source_row', 'rule', '"column"']) }} as quarantine_row_id,

        -- strings
        cast(entity as varchar) as entity,
        cast(rule as varchar) as rule,
        cast("column" as varchar) as column_name,
        masked_value as value,
        case
            when value is not null and masked_value is distinct from value
                then replace(cast(message as varchar), cast(value as varchar), masked_value)
            else cast(message as varchar)
        end as message,

        -- lineage
        _source_file,
        _source_sha256,
        _source_row,
        _batch_id
    from masked
)

select * from renamed
