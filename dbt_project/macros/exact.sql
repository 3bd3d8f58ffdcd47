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
    cast(sum(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}


{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 12))) as double)
{%- endmacro %}


{# exact_avg as a window function over the named window `window_name`. #}
{% macro exact_avg_over(expression, window_name) -%}
    cast(avg(cast({{ expression }} as decimal(38, 12))) over {{ window_name }} as double)
{%- endmacro %}
