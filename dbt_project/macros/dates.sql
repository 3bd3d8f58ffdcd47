{# The open end of an effective-dated spell (fivetran/dbt_workday convention). #}
{% macro open_end_date() -%}
    cast('9999-12-31' as date)
{%- endmacro %}


{# date + n months (or days...) as a date: dbt.dateadd returns a timestamp on some engines
   (each engine's spelling in macros/portable/history.sql). #}
{% macro add_to_date(datepart, interval, from_date) -%}
    {{ return(adapter.dispatch('add_to_date', 'training_impact')(datepart, interval, from_date)) }}
{%- endmacro %}


{# First day of the month of a date, as a date. #}
{% macro month_of(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}
