with source as (
    select * from {{ bronze_source('performance', 'ratings') }}
),

latest_per_evaluation as (
    {{ latest_rows('source', ['evaluation_id']) }}
),

renamed as (
    select
        -- ids
        cast(evaluation_id as {{ dbt.type_string() }}) as evaluation_id,
        {{ pseudonymize('worker_id') }} as worker_id,
        {{ pseudonymize('evaluator_id') }} as evaluator_id,

        -- strings
        cast(evaluation_type as {{ dbt.type_string() }}) as evaluation_type,
        cast(competency as {{ dbt.type_string() }}) as competency,

        -- numerics
        cast(rating as integer) as rating,

        -- dates
        cast(evaluation_date as date) as evaluation_date,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_evaluation
)

select * from renamed
