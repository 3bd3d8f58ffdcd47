-- Optional entity (ingestion/canonical_schemas.yml): a company that never delivers
-- worker attributes gets an empty table with these columns (bronze_source reads zero rows).
-- The worker id leaves as its keyed pseudonym (macros/privacy.sql), as in stg_hris__workers.
with source as (
    select * from {{ bronze_source('hris', 'worker_attributes') }}
),

-- every extract restates all attributes: the latest one wins
latest_extract as (
    select *
    from source
    where _source_file = ({{ latest_snapshot_file('source') }})
),

renamed as (
    select
        -- ids
        {{ pseudonymize('worker_id') }} as worker_id,

        -- strings
        cast(trim(attribute) as {{ dbt.type_string() }}) as attribute,
        cast({{ adapter.quote("value") }} as {{ dbt.type_string() }}) as {{ adapter.quote("value") }},

        -- numerics: the value as a number when it is one (birth_year, prior_earnings, ...)
        {{ ti_try_cast_double("trim(" ~ adapter.quote('value') ~ ")") }} as value_number,

        -- dates: null valid_from = static (valid since ever)
        cast(valid_from as date) as valid_from,

        -- lineage
        {{ lineage_columns() }}
    from latest_extract
),

dated as (
    select
        worker_id,
        attribute,
        {{ adapter.quote('value') }},
        value_number,
        valid_from,
        -- exclusive end: the next valid_from of the same worker and attribute (null: still valid)
        lead(valid_from) over (
            partition by worker_id, attribute
            order by valid_from asc nulls first, _source_row
        ) as valid_to,
        _source_file,
        _source_sha256,
        _source_row,
        _batch_id,
        _ingested_at
    from renamed
)

select * from dated
