{#
  Engine-portable spellings for the employee-history, learning and finance intermediates
  (issue 18). `default__` is DuckDB's spelling (unchanged); `spark__` Spark's.
#}

{# date + n days/months as a date (add_to_date in macros/dates.sql). DuckDB: date + interval, as dbt
   renders it. Spark: add_months/date_add on the date (same end-of-month clipping as DuckDB); dbt-spark's
   dateadd spells the same thing through a timestamp round trip. #}
{% macro default__add_to_date(datepart, interval, from_date) -%}
    cast({{ dbt.dateadd(datepart, interval, from_date) }} as date)
{%- endmacro %}

{% macro spark__add_to_date(datepart, interval, from_date) -%}
    {%- if datepart == 'month' -%}
    add_months(cast({{ from_date }} as date), cast({{ interval }} as int))
    {%- elif datepart == 'day' -%}
    date_add(cast({{ from_date }} as date), cast({{ interval }} as int))
    {%- else -%}
    cast({{ dbt.dateadd(datepart, interval, from_date) }} as date)
    {%- endif -%}
{%- endmacro %}




