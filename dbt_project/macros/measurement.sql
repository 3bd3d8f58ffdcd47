{#
  "Not measured" rows (DECISIONS D137): a KPI whose source a company does not deliver (no credential
  records, no survey answers, no program windows) publishes one row per KPI at the overall grain
  saying so, instead of a 0% with an interval or a lone suppressed row. Such a row has no figure and
  no count: n_band reads 'not measured', suppressed is false, measurement_status 'not_measured' and
  not_measured_reason says why in words. Every other row of these marts reads 'measured'.
#}

{# The status columns of a measured row. #}
{% macro measured_columns() -%}
        cast('measured' as {{ dbt.type_string() }}) as measurement_status,
        cast(null as {{ dbt.type_string() }}) as not_measured_reason
{%- endmacro %}


{# One not-measured row per kpi of `kpis`, at the overall grain, from the one-row `parameters` relation
   (cross joined with the one-row relations of `also`). `reason`: a SQL expression, the reason in words.
   Union it BY NAME with the mart's published rows: the columns it leaves out (figures, counts) are null. #}
{% macro not_measured_rows(kpis, estimation_method, evaluation_level, unit, reason, parameters='parameters', also=[]) %}
    {%- for kpi in kpis %}
    select
        cast('{{ kpi }}' as {{ dbt.type_string() }}) as kpi,
        cast('overall' as {{ dbt.type_string() }}) as slice_grain,
        {%- for dimension in kpi_slice_dimensions() %}
        cast('all' as {{ dbt.type_string() }}) as {{ dimension }},
        {%- endfor %}
        cast('{{ estimation_method }}' as {{ dbt.type_string() }}) as estimation_method,
        cast({{ evaluation_level }} as integer) as evaluation_level,
        cast('{{ unit }}' as {{ dbt.type_string() }}) as unit,
        cast('not measured' as {{ dbt.type_string() }}) as n_band,
        false as is_flagged,
        {{ parameters }}.definition_version,
        false as suppressed,
        cast('not_measured' as {{ dbt.type_string() }}) as measurement_status,
        cast({{ reason }} as {{ dbt.type_string() }}) as not_measured_reason
    from {{ parameters }}
    {%- for relation in also %}
    cross join {{ relation }}
    {%- endfor %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}

{# The mart's rows, published or not measured: ti_published_or_not_measured (macros/portable/marts.sql). #}

