{#
  Engine-portable spellings of the marts, the KPI macros and complementary suppression (issue 18; see
  macros/portable.sql). `default__` is DuckDB's spelling (unchanged); `spark__` Spark's equivalent, giving
  the same values.
#}

{# A CTE computed once and reused (DuckDB: `as materialized (`); Spark has no such keyword: plain `as (`. #}
{% macro ti_materialized() -%}
    {{ return(adapter.dispatch('ti_materialized', 'training_impact')()) }}
{%- endmacro %}
{% macro default__ti_materialized() %}{{ return('materialized') }}{% endmacro %}
{% macro spark__ti_materialized() %}{{ return('') }}{% endmacro %}


{#
  A DOUBLE rounded to `digits` decimals the way DuckDB rounds it: the double's exact binary value rounded
  half away from zero. Spark's round() rounds the double's shortest decimal text instead
  (round(0.00015, 4): DuckDB 0.0001, its binary value being 0.000149999..., Spark 0.0002), so on Spark
  the same is computed in IEEE arithmetic: p = x * 10^digits, its rounding error recovered exactly
  (Dekker's product by Veltkamp splitting) to settle the cases where p lands on k + 0.5, then q / 10^digits.
  Checked against DuckDB's round on 1.6 million values (halves, ratios of counts, money over small counts).
#}
{% macro ti_round(expression, digits) -%}
    {{ return(adapter.dispatch('ti_round', 'training_impact')(expression, digits)) }}
{%- endmacro %}
{% macro default__ti_round(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}
{% macro spark__ti_round(expression, digits) -%}
    {%- set m = 'cast(1e' ~ digits ~ ' as double)' -%}
    {%- set p = '(ti_r * ' ~ m ~ ')' -%}
    {%- set f = 'cast(floor(' ~ p ~ ') as double)' -%}
    {%- set hi = '((cast(134217729 as double) * ti_r) - ((cast(134217729 as double) * ti_r) - ti_r))' -%}
    {%- set err = '((' ~ hi ~ ' * ' ~ m ~ ' - ' ~ p ~ ') + (ti_r - ' ~ hi ~ ') * ' ~ m ~ ')' -%}
    transform(array(cast({{ expression }} as double)), ti_r -> ({{ f }} + case
        when {{ p }} - {{ f }} > cast(0.5 as double) then 1
        when {{ p }} - {{ f }} < cast(0.5 as double) then 0
        when {{ err }} > 0 then 1
        when {{ err }} < 0 then 0
        when ti_r > 0 then 1
        else 0
    end) / {{ m }})[0]
{%- endmacro %}


{# arg_min: `value` of the row with the smallest (order_1, order_2, ...) tuple (DuckDB arg_min over a row
   value; Spark min_by over a struct, compared field by field alike). A FILTER clause may follow. #}
{% macro ti_arg_min(value, order_columns) -%}
    {{ return(adapter.dispatch('ti_arg_min', 'training_impact')(value, order_columns)) }}
{%- endmacro %}
{% macro default__ti_arg_min(value, order_columns) -%}
    arg_min({{ value }}, ({{ order_columns | join(', ') }}))
{%- endmacro %}
{% macro spark__ti_arg_min(value, order_columns) -%}
    min_by({{ value }}, struct({{ order_columns | join(', ') }}))
{%- endmacro %}


{# Every column of `relation` but `columns` (DuckDB `* exclude (...)`, Spark `* except (...)`). #}
{% macro ti_star_except(relation, columns) -%}
    {{ return(adapter.dispatch('ti_star_except', 'training_impact')(relation, columns)) }}
{%- endmacro %}
{% macro default__ti_star_except(relation, columns) -%}
    {{ relation }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}
{% macro spark__ti_star_except(relation, columns) -%}
    {{ relation }}.* except ({{ columns | join(', ') }})
{%- endmacro %}


{# Fail the query with `message` (a SQL string literal) when evaluated (DuckDB error(), Spark raise_error()). #}
{% macro ti_raise_error(message) -%}
    {{ return(adapter.dispatch('ti_raise_error', 'training_impact')(message)) }}
{%- endmacro %}
{% macro default__ti_raise_error(message) %}error({{ message }}){% endmacro %}
{% macro spark__ti_raise_error(message) %}raise_error({{ message }}){% endmacro %}


{#
  The mart's rows: the published (measured) rows when `is_measured` (a SQL boolean over one-row CTEs) holds,
  else its not-measured rows (macros/measurement.sql published_or_not_measured, which it replaces in the
  marts). DuckDB unions BY NAME: the not-measured rows leave the figure columns null. Spark SQL has no
  UNION BY NAME: both sides list the published columns but the not-measured ones, then those, in one order;
  the not-measured side takes the rest as nulls from a `published` row outer-joined on false. The column
  order differs from DuckDB's, but every mart has a contract, whose select puts the columns in YAML order.
#}
{% macro ti_published_or_not_measured(published, not_measured, is_measured) %}
    {{ return(adapter.dispatch('ti_published_or_not_measured', 'training_impact')(published, not_measured, is_measured)) }}
{% endmacro %}
{% macro default__ti_published_or_not_measured(published, not_measured, is_measured) %}
    select * from {{ published }} where {{ is_measured }}
    union all by name
    select * from {{ not_measured }} where not ({{ is_measured }})
{% endmacro %}
{% macro spark__ti_published_or_not_measured(published, not_measured, is_measured) %}
    {%- set columns = ['kpi', 'slice_grain'] + kpi_slice_dimensions() + ['estimation_method', 'evaluation_level', 'unit',
        'n_band', 'is_flagged', 'definition_version', 'suppressed', 'measurement_status', 'not_measured_reason'] %}
    select
        {{ ti_star_except(published, columns) }},
        {%- for column in columns %}
        {{ published }}.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ published }}
    where {{ is_measured }}
    union all
    select
        {{ ti_star_except('ti_template', columns) }},
        {%- for column in columns %}
        {{ not_measured }}.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ not_measured }}
    left join {{ published }} as ti_template
        on false
    where not ({{ is_measured }})
{% endmacro %}


{# Complementary suppression's passes (macros/suppression.sql): DuckDB iterates over cell rows, one
   materialised CTE per pass; Spark over one row of arrays, since its inlined CTE chain would grow
   exponentially. Both emit `<name>__pass_<passes>` and `<name>__unresolved`, with the same results. #}
{% macro ti_suppression_fixed_point(name, passes) %}
    {{ return(adapter.dispatch('ti_suppression_fixed_point', 'training_impact')(name, passes)) }}
{% endmacro %}
{% macro default__ti_suppression_fixed_point(name, passes) %}
    {{ return(suppression_fixed_point_in_rows(name, passes)) }}
{% endmacro %}
{% macro spark__ti_suppression_fixed_point(name, passes) %}
    {{ return(suppression_fixed_point_in_arrays(name, passes)) }}
{% endmacro %}


{# The edges of complementary suppression's equations (macros/suppression.sql): DuckDB one join per grain
   pair (materialised), Spark one join with a table of the pairs (its inlined CTEs multiplied the plan). #}
{% macro ti_suppression_edges(name, keys, grains, period_partition_where) %}
    {{ return(adapter.dispatch('ti_suppression_edges', 'training_impact')(name, keys, grains, period_partition_where)) }}
{% endmacro %}
{% macro default__ti_suppression_edges(name, keys, grains, period_partition_where) %}
    {{ return(suppression_edges_by_pair(name, keys, grains, period_partition_where)) }}
{% endmacro %}
{% macro spark__ti_suppression_edges(name, keys, grains, period_partition_where) %}
    {{ return(suppression_edges_by_pair_table(name, keys, grains, period_partition_where)) }}
{% endmacro %}


{# Aggregate: the interpolating quantile `fraction` of `expression` (DuckDB quantile_cont, Spark percentile: both
   exact, linear between the two order statistics around (n - 1) * fraction). The last bit can differ: Spark
   computes (1 - d) * lo + d * hi, and DuckDB's result matched neither that nor lo + d * (hi - lo) in every
   group of a random test (about 4% differ in the last bit). #}
{% macro ti_quantile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('ti_quantile_cont', 'training_impact')(expression, fraction)) }}
{%- endmacro %}
{% macro default__ti_quantile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
{% macro spark__ti_quantile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}


{#
  CTEs computed once (Spark only). `ctes` is the text of a model's leading CTEs (`with a as (...), b as (...),`);
  `names` the ones the rest of the model reads. DuckDB: `ctes` unchanged. Spark inlines every CTE of a
  `create table as` into each reference, so a CTE that complementary suppression reads several times (its cells,
  their edges, the passes, the final join) was recomputed each time and the plan multiplied (out of memory on
  kpi_comparison_balance): on Spark each named CTE is first written as a table `<model>__<name>` (parquet, in the
  model's schema) by its own statement over the same CTEs, and the model starts `with <name> as (select * from it), ...`.
#}
{% macro ti_persisted_ctes(ctes, names) %}
    {{ return(adapter.dispatch('ti_persisted_ctes', 'training_impact')(ctes, names)) }}
{% endmacro %}
{% macro default__ti_persisted_ctes(ctes, names) %}
    {{ return(ctes) }}
{% endmacro %}
{% macro spark__ti_persisted_ctes(ctes, names) %}
    {#- a unit test's refs are CTEs of its own query (fixtures): nothing to persist there -#}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return(ctes) }}
    {%- endif -%}
    {%- set body = ctes | trim -%}
    {%- if body.endswith(',') %}{% set body = body[:-1] %}{% endif -%}
    {%- set definitions = [] -%}
    {%- for name in names -%}
        {%- set table = this.schema ~ '.' ~ this.identifier ~ '__' ~ name -%}
        {%- if execute -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ ' using parquet as\n' ~ body ~ '\nselect * from ' ~ name) -%}
        {%- endif -%}
        {%- do definitions.append(name ~ ' as (\n    select * from ' ~ table ~ '\n)') -%}
    {%- endfor -%}
    {{ return('\nwith ' ~ definitions | join(',\n\n') ~ ',\n') }}
{% endmacro %}
