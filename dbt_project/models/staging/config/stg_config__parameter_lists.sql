-- The list-valued parameters of config/parameters.yml as rows (one per list item), so
-- models join them like any table and unit tests feed their own lists.
{{ config(materialized='reusable_table') }}

{%- set items = [] %}
{%- for name in ['competency.horizons_days', 'competency.evaluation_types'] %}
    {%- for value in (param(name) or []) %}
        {%- do items.append((name, loop.index, value | string)) %}
    {%- endfor %}
{%- endfor %}

with parameter_lists as (
    {%- for name, position, value in items %}
    select
        cast({{ ti_string_literal(name) }} as {{ dbt.type_string() }}) as parameter,
        cast({{ position }} as integer) as list_position,
        cast({{ ti_string_literal(value) }} as {{ dbt.type_string() }}) as value
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as parameter,
        cast(null as integer) as list_position,
        cast(null as {{ dbt.type_string() }}) as value
    where false
    {%- endfor %}
)

select * from parameter_lists
