{# A stable hashed key over several columns (what dbt_utils.generate_surrogate_key does;
   written here because the build runs without hub packages). #}
{% macro surrogate_key(columns) -%}
    md5(concat(
    {%- for column in columns %}
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '_null_')
        {%- if not loop.last %}, '|', {% endif -%}
    {%- endfor %}
    ))
{%- endmacro %}
