-- Spark has no table format here that deletes and inserts (Delta/Iceberg need Maven jars), and
-- insert_overwrite cannot read the table it overwrites: on Spark a full table each run (issue 18).
{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'reusable_table'),
        unique_key='line_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- Incremental (DECISIONS D61): a night pseudonymises only the lines loaded since the last build;
-- a corrected line (same line_id, later load) replaces its row. A new pseudonymisation key needs
-- `training-impact run --full-refresh` (SECURITY.md).
with source as (
    select * from {{ bronze_source('finance', 'cost_lines') }}
    {{ loaded_after_this() }}
),

-- the same invoice line may arrive in two extracts: line_id is stable, latest wins
latest_per_line as (
    {{ latest_rows('source', ['line_id']) }}
),

renamed as (
    select
        -- ids
        cast(line_id as {{ dbt.type_string() }}) as line_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        {{ pseudonymize('worker_id') }} as worker_id,

        -- strings
        cast(cost_center as {{ dbt.type_string() }}) as cost_center,
        cast(gl_account as {{ dbt.type_string() }}) as gl_account,
        cast(cost_category as {{ dbt.type_string() }}) as cost_category,
        cast(vendor as {{ dbt.type_string() }}) as vendor,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(memo as {{ dbt.type_string() }}) as memo,
        cast(cohort as {{ dbt.type_string() }}) as cohort,

        -- numerics
        cast(amount as decimal(18, 2)) as amount,

        -- dates
        cast(posting_date as date) as posting_date,

        -- lineage
        {{ lineage_columns() }}
    from latest_per_line
)

select * from renamed
