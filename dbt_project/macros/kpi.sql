{#
  KPI slicing, suppression and intervals shared by the marts.

  A slice is a set of dimension columns to group by; the dimensions not in a slice
  read 'all', so every KPI has its totals. To add a slice (program, cohort,
  department, region, period), add its dimension to kpi_slice_dimensions(), its
  grouping to kpi_slices(), and the column to each mart's input CTE and contract.
#}
{% macro kpi_slice_dimensions() %}
    {{ return(['program_type', 'method']) }}
{% endmacro %}


{% macro kpi_slices() %}
    {{ return([
        {'slice_grain': 'overall', 'dimensions': []},
        {'slice_grain': 'program_type', 'dimensions': ['program_type']},
        {'slice_grain': 'program_type_method', 'dimensions': ['program_type', 'method']},
    ]) }}
{% endmacro %}


{# One select per slice over `relation`, unioned: slice_grain, the dimension columns,
   the `keys` grouped in every slice (e.g. kpi, estimation_method), then `aggregates`. #}
{% macro kpi_sliced(relation, aggregates, keys=[]) %}
    {%- for slice in kpi_slices() %}
    {%- set group_columns = keys + slice.dimensions %}
    select
        cast('{{ slice.slice_grain }}' as varchar) as slice_grain,
        {%- for dimension in kpi_slice_dimensions() %}
        {%- if dimension in slice.dimensions %}
        cast({{ dimension }} as varchar) as {{ dimension }},
        {%- else %}
        cast('all' as varchar) as {{ dimension }},
        {%- endif %}
        {%- endfor %}
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        {{ aggregates }}
    from {{ relation }}
    {%- if group_columns %}
    group by {{ group_columns | join(', ') }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}


{# Join condition on every slice column between two sliced relations. #}
{% macro kpi_slice_join(left, right) -%}
    {{ left }}.slice_grain = {{ right }}.slice_grain
    {%- for dimension in kpi_slice_dimensions() %}
    and {{ left }}.{{ dimension }} = {{ right }}.{{ dimension }}
    {%- endfor %}
{%- endmacro %}


{# Two-sided 95% normal quantile: docs/methods.md fixes the intervals at 95% (mean ± 1.96 se). #}
{% macro ci_z() -%}
    1.96
{%- endmacro %}


{# Wilson score interval bound for a proportion, in percent (sign: -1 lower, +1 upper). #}
{% macro wilson_bound_pct(successes, trials, sign) -%}
    case when {{ trials }} > 0 then 100.0 * (
        (cast({{ successes }} as double) / {{ trials }}) + {{ ci_z() }} * {{ ci_z() }} / (2.0 * {{ trials }})
        {{ '-' if sign < 0 else '+' }} {{ ci_z() }} * sqrt(
            (cast({{ successes }} as double) / {{ trials }}) * (1 - cast({{ successes }} as double) / {{ trials }}) / {{ trials }}
            + {{ ci_z() }} * {{ ci_z() }} / (4.0 * {{ trials }} * {{ trials }})
        )
    ) / (1 + {{ ci_z() }} * {{ ci_z() }} / {{ trials }}) end
{%- endmacro %}


{# Small cells publish no figure: null unless the slice has at least min_cell_size people. #}
{% macro unless_suppressed(expression, n_people='n', min_cell_size='parameters.min_cell_size') -%}
    case when {{ n_people }} >= {{ min_cell_size }} then {{ expression }} end
{%- endmacro %}


{# The count as published: exact from min_cell_size people on, else a band. #}
{% macro count_band(n_people='n', min_cell_size='parameters.min_cell_size') -%}
    case
        when {{ n_people }} >= {{ min_cell_size }} then cast({{ n_people }} as varchar)
        when {{ n_people }} = 0 then '0'
        else '1-' || cast({{ min_cell_size }} - 1 as varchar)
    end
{%- endmacro %}


{# One kpi_summary row set from a kpi_* mart: its common columns, any of them overridable. #}
{% macro kpi_summary_row(relation, kpi='kpi', unit='unit', numerator='numerator', denominator='denominator',
                      n_comparison='cast(null as bigint)', estimate='estimate', ci_low='ci_low', ci_high='ci_high') %}
    select
        cast({{ kpi }} as varchar) as kpi,
        slice_grain,
        {%- for dimension in kpi_slice_dimensions() %}
        {{ dimension }},
        {%- endfor %}
        period,
        estimation_method,
        evaluation_level,
        cast({{ unit }} as varchar) as unit,
        round(cast({{ numerator }} as double), 4) as numerator,
        round(cast({{ denominator }} as double), 4) as denominator,
        n,
        n_band,
        cast({{ n_comparison }} as bigint) as n_comparison,
        round(cast({{ estimate }} as double), 4) as estimate,
        round(cast({{ ci_low }} as double), 4) as ci_low,
        round(cast({{ ci_high }} as double), 4) as ci_high,
        is_flagged,
        definition_version,
        suppressed
    from {{ relation }}
{% endmacro %}
