-- Direct identifiers (names, e-mail, national id) stop here: they never leave bronze.
-- The worker id leaves as its keyed pseudonym (macros/privacy.sql).
with source as (
    select * from {{ bronze_source('hris', 'workers') }}
),

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
        cast(termination_category as {{ dbt.type_string() }}) as termination_category,
        cast(termination_reason as {{ dbt.type_string() }}) as termination_reason,
        cast(location as {{ dbt.type_string() }}) as location,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(birth_year_band as {{ dbt.type_string() }}) as birth_year_band,

        -- numerics
        cast(fte_pct as double) as fte_pct,

        -- booleans
        cast(rehire_flag as boolean) as is_rehire,
        cast(regrettable_flag as boolean) as is_regrettable_termination,

        -- dates
        cast(hire_date as date) as hire_date,
        cast(original_hire_date as date) as original_hire_date,
        cast(termination_date as date) as termination_date,

        -- lineage
        {{ lineage_columns() }}
    from latest_extract
)

select * from renamed
