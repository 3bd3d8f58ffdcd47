with source as (
    select * from {{ bronze_source('performance', 'productivity') }}
),

-- monthly files append; a restated month replaces the earlier value
latest_per_measure as (
    {{ latest_rows('source', ['worker_id', 'period', 'metric']) }}
),

renamed as (
    select
        -- ids
        {{ pseudonymize('worker_id') }} as worker_id,

        -- strings
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(unit as {{ dbt.type_string() }}) as unit,

        -- numerics
        cast(value as double) as value,

        -- dates
        cast({{ dbt.date_trunc('month', 'cast(period as date)') }} as date) as period,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_measure
)

select * from renamed
