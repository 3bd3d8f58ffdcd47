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
            when {{ adapter.quote('column') }} in ({{ pii }}) then '<redacted>'
            when {{ adapter.quote('column') }} in ({{ worker_ids }}) then {{ pseudonymize('value') }}
            -- a compound key holding a worker id ("worker_id+period+metric"), an xAPI actor path
            -- (one of the '+'-separated parts is such a column: '+part+' inside '+column+')
            when {% for name in pii_columns() + worker_id_columns() -%}
                contains(concat('+', {{ adapter.quote('column') }}, '+'), '+{{ name }}+') or
                {% endfor -%}
                {{ adapter.quote('column') }} like 'actor%' then '<redacted>'
            else cast(value as {{ dbt.type_string() }})
        end as masked_value
    from source
),

renamed as (
    select
        -- ids
        {{ surrogate_key(['_source_sha256', '_source_row', 'rule', adapter.quote('column')]) }} as quarantine_row_id,

        -- strings
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(rule as {{ dbt.type_string() }}) as rule,
        cast({{ adapter.quote('column') }} as {{ dbt.type_string() }}) as column_name,
        masked_value as value,
        case
            when value is not null and masked_value is distinct from value
                then replace(cast(message as {{ dbt.type_string() }}), cast(value as {{ dbt.type_string() }}), masked_value)
            else cast(message as {{ dbt.type_string() }})
        end as message,

        -- lineage
        _source_file,
        _source_sha256,
        _source_row,
        _batch_id
    from masked
)

select * from renamed
