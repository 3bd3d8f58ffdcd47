{#
  Engine-portable spellings of the serving views, the semantic layer's time spine and the audit
  members view (issue 18; see macros/portable.sql). `default__` is DuckDB's spelling (unchanged);
  `spark__` Spark's equivalent.
#}

{# A select of one row per day from start_date up to end_date EXCLUSIVE, as a date column `date_day`
   (DuckDB: the range table function; Spark: explode over a sequence, whose end is inclusive). #}
{% macro ti_day_spine(start_date, end_date_exclusive) -%}
    {{ return(adapter.dispatch('ti_day_spine', 'training_impact')(start_date, end_date_exclusive)) }}
{%- endmacro %}
{% macro default__ti_day_spine(start_date, end_date_exclusive) -%}
select cast(range as date) as date_day
from range({{ start_date }}, {{ end_date_exclusive }}, interval 1 day)
{%- endmacro %}
{% macro spark__ti_day_spine(start_date, end_date_exclusive) -%}
select explode(sequence({{ start_date }}, date_sub({{ end_date_exclusive }}, 1), interval 1 day)) as date_day
{%- endmacro %}
