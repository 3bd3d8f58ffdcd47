-- matching.tenure_bands_years as rows: [lower, upper) in years, the last band open.
{{ config(materialized='reusable_table') }}

{%- set edges = param('matching.tenure_bands_years') or [] %}

with tenure_bands as (
    {%- for edge in edges %}
    select
        cast({{ loop.index }} as integer) as tenure_band_order,
        cast('{{ edge }}{{ "-" ~ edges[loop.index] if not loop.last else "+" }}' as {{ dbt.type_string() }}) as tenure_band,
        cast({{ edge }} as double) as lower_years,
        cast({{ edges[loop.index] if not loop.last else 'null' }} as double) as upper_years
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as integer) as tenure_band_order,
        cast(null as {{ dbt.type_string() }}) as tenure_band,
        cast(null as double) as lower_years,
        cast(null as double) as upper_years
    where false
    {%- endfor %}
)

select * from tenure_bands
