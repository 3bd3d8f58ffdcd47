{#
  Engine-portable spellings of the impact models (issue 18; see macros/portable.sql). `default__` is
  DuckDB's spelling (unchanged, kept for speed at a million employees); `spark__` Spark's equivalent.
#}

{# A CTE the planner should inline rather than materialise (DuckDB: `not materialized`; Spark always inlines). #}
{% macro ti_not_materialized() -%}
    {{ return(adapter.dispatch('ti_not_materialized', 'training_impact')()) }}
{%- endmacro %}
{% macro default__ti_not_materialized() %}{{ return('not materialized') }}{% endmacro %}
{% macro spark__ti_not_materialized() %}{{ return('') }}{% endmacro %}


{# Aggregate: the k-th smallest non-null value of `expression` counting duplicates (the largest when the
   group has fewer than k). DuckDB: a streaming top-k aggregate; Spark: the sorted list's first k. #}
{% macro ti_kth_smallest(expression, k) -%}
    {{ return(adapter.dispatch('ti_kth_smallest', 'training_impact')(expression, k)) }}
{%- endmacro %}
{% macro default__ti_kth_smallest(expression, k) -%}
    list_max(min({{ expression }}, {{ k }}))
{%- endmacro %}
{% macro spark__ti_kth_smallest(expression, k) -%}
    array_max(slice(array_sort(collect_list({{ expression }})), 1, {{ k }}))
{%- endmacro %}


{# Month boundaries crossed from start_date to end_date: (year * 12 + month) of end minus that of start
   as a bigint (DuckDB's datediff('month')). dbt-spark's datediff is off by one between two month-ends
   (months_between(2024-04-30, 2024-03-31) = 1, plus 1 because 30 < 31). #}
{% macro ti_month_diff(start_date, end_date) -%}
    {{ return(adapter.dispatch('ti_month_diff', 'training_impact')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__ti_month_diff(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'month') }}
{%- endmacro %}
{% macro spark__ti_month_diff(start_date, end_date) -%}
    cast((year({{ end_date }}) - year({{ start_date }})) * 12 + month({{ end_date }}) - month({{ start_date }}) as bigint)
{%- endmacro %}
