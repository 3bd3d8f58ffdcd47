{#
  Order-independent aggregates of DOUBLE values (DECISIONS D66).

  DuckDB sums doubles in whatever order its threads and the bronze file order deliver
  rows, so the last bits of a sum differ between two builds of the same inputs, and a
  published figure rounded to 4 decimals can flip (a 1.36 million ROI net benefit read
  .9348 in one run and .9349 in a rerun). Each term is rounded to 12 decimals as a
  DECIMAL (a per-row, deterministic step) and summed exactly, so the same inputs give
  the same figure in any order. Terms must be finite and below 1e26. Window aggregates
  (`over (...)`) spell the same casts out, since `over` must follow the aggregate itself.
#}
{% macro exact_sum(expression) -%}
    cast(sum({{ ti_exact_decimal(expression) }}) as double)
{%- endmacro %}


{% macro exact_avg(expression) -%}
    {{ ti_exact_avg(expression) }}
{%- endmacro %}


{# exact_avg as a window function over the named window `window_name`. #}
{% macro exact_avg_over(expression, window_name) -%}
    {{ ti_exact_avg(expression, 'over ' ~ window_name) }}
{%- endmacro %}


{# cast(x as decimal(38, 12)) with DuckDB's rounding (the order-independent terms of macros/exact.sql).
   DuckDB rounds a DOUBLE as round-half-away(x * 1e12 computed in double); Spark's cast rounds the shortest
   decimal text of x (128.2636169713795 -> ...380 where DuckDB gives ...379, 4 in 10 random doubles
   differ). Spark: the same double product, rounded half away by round(), turned into a decimal exactly
   through two exact bigint halves (|x| < 4e16). Other types (decimal, integer) cast exactly on both. #}
{% macro ti_exact_decimal(expression) -%}
    {{ return(adapter.dispatch('ti_exact_decimal', 'training_impact')(expression)) }}
{%- endmacro %}
{% macro default__ti_exact_decimal(expression) -%}
    cast({{ expression }} as decimal(38, 12))
{%- endmacro %}
{% macro spark__ti_exact_decimal(expression) -%}
    {%- set scaled = 'round(cast(' ~ expression ~ ' as double) * 1e12)' -%}
    case when typeof({{ expression }}) = 'double' then cast(
        cast(floor({{ scaled }} / 4294967296D) as decimal(20, 0)) * cast(0.004294967296 as decimal(12, 12))
        + cast(cast({{ scaled }} - floor({{ scaled }} / 4294967296D) * 4294967296D as bigint) as decimal(20, 0))
            * cast(0.000000000001 as decimal(12, 12))
        as decimal(38, 12))
    else cast({{ expression }} as decimal(38, 12)) end
{%- endmacro %}


{# The mean of ti_exact_decimal(x) as a double, optionally as a window (`over_clause` = 'over (...)').
   DuckDB's avg of a DECIMAL divides in long double (when no sum of the same expression shares the
   query); Spark's avg(decimal) rounds to 16 decimals first (8 in 200 means differ in the last bit):
   the exact decimal quotient (38 digits, 20 decimals) rounded once to a double matches DuckDB's but for
   about 1 in 7000 long-double double-rounding ties. #}
{% macro ti_exact_avg(expression, over_clause='') -%}
    {{ return(adapter.dispatch('ti_exact_avg', 'training_impact')(expression, over_clause)) }}
{%- endmacro %}
{% macro default__ti_exact_avg(expression, over_clause='') -%}
    cast(avg({{ ti_exact_decimal(expression) }}) {{ over_clause }} as double)
{%- endmacro %}
{% macro spark__ti_exact_avg(expression, over_clause='') -%}
    cast(cast(sum({{ ti_exact_decimal(expression) }}) {{ over_clause }} as decimal(30, 12))
        / cast(count({{ ti_exact_decimal(expression) }}) {{ over_clause }} as decimal(19, 0)) as double)
{%- endmacro %}

