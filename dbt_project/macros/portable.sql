{#
  Engine-portable SQL (issue 18, docs/scale-out.md): one dispatched macro per construct that DuckDB and
  Spark spell differently, where dbt's own cross-database macros (dbt.type_string, dbt.dateadd,
  dbt.datediff, dbt.split_part, dbt.hash, ...) have none. `default__` is DuckDB's spelling; `spark__`
  Spark's. Each is exercised on both engines by the models that use it (tests/spark/).
#}

{# An instant (DuckDB: timestamp with time zone; Spark's timestamp is one, in the session's zone, UTC). #}
{% macro ti_type_instant() -%}
    {{ return(adapter.dispatch('ti_type_instant', 'training_impact')()) }}
{%- endmacro %}
{% macro default__ti_type_instant() %}{{ return('timestamp with time zone') }}{% endmacro %}
{% macro spark__ti_type_instant() %}{{ return('timestamp') }}{% endmacro %}


{# An instant before every loaded row (an empty incremental model reads everything). #}
{% macro ti_instant_before_all() -%}
    {{ return(adapter.dispatch('ti_instant_before_all', 'training_impact')()) }}
{%- endmacro %}
{% macro default__ti_instant_before_all() %}'-infinity'::timestamp with time zone{% endmacro %}
{% macro spark__ti_instant_before_all() %}timestamp'0001-01-01 00:00:00'{% endmacro %}
