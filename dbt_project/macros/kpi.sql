{#
  KPI slicing, suppression and intervals shared by the marts.

  A slice is a set of dimension columns to group by; the dimensions not in a slice
  read 'all', so every KPI has its totals. Every mart's input CTE carries all the
  dimension columns (kpi_slice_dimensions); a mart may publish only some grains.
  Unit tests narrow the grains through the var `kpi_slice_grains` (overrides: vars),
  which each mart passes in directly (dbt applies overrides to direct references only).
#}
{% macro kpi_slice_dimensions() %}
    {{ return(['program_type', 'method', 'program_id', 'cohort', 'department', 'region', 'period']) }}
{% endmacro %}


{# program and cohort rows also carry their program's type and method (functionally
   dependent), so a BI filter on program_type keeps working at those grains. #}
{% macro kpi_slices(grains=none) %}
    {%- set all_slices = [
        {'slice_grain': 'overall', 'dimensions': []},
        {'slice_grain': 'program_type', 'dimensions': ['program_type']},
        {'slice_grain': 'program_type_method', 'dimensions': ['program_type', 'method']},
        {'slice_grain': 'program', 'dimensions': ['program_type', 'method', 'program_id']},
        {'slice_grain': 'cohort', 'dimensions': ['program_type', 'method', 'program_id', 'cohort']},
        {'slice_grain': 'department', 'dimensions': ['department']},
        {'slice_grain': 'region', 'dimensions': ['region']},
        {'slice_grain': 'period', 'dimensions': ['period']},
        {'slice_grain': 'program_type_period', 'dimensions': ['program_type', 'period']},
    ] -%}
    {%- if grains is none -%}
        {{ return(all_slices) }}
    {%- endif -%}
    {%- set chosen = [] -%}
    {%- for slice in all_slices if slice.slice_grain in grains -%}
        {%- do chosen.append(slice) -%}
    {%- endfor -%}
    {{ return(chosen) }}
{% endmacro %}


{# Every grain name, for accepted_values tests and documentation. #}
{% macro kpi_slice_grain_names(grains=none) %}
    {%- set names = [] -%}
    {%- for slice in kpi_slices(grains) -%}
        {%- do names.append(slice.slice_grain) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{# The grains without a period dimension: for KPIs that only make sense over the whole
   window (ROI: costs follow starts, benefits follow exits). #}
{% macro kpi_grains_without_period(grains=none) %}
    {%- set names = [] -%}
    {%- for slice in kpi_slices(grains) if 'period' not in slice.dimensions -%}
        {%- do names.append(slice.slice_grain) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{# The slice columns of one grain: the dimension itself, or 'all'. #}
{% macro kpi_slice_columns(slice) -%}
        cast('{{ slice.slice_grain }}' as {{ dbt.type_string() }}) as slice_grain,
        {%- for dimension in kpi_slice_dimensions() %}
        {%- if dimension in slice.dimensions %}
        cast(coalesce(cast({{ dimension }} as {{ dbt.type_string() }}), 'unknown') as {{ dbt.type_string() }}) as {{ dimension }},
        {%- else %}
        cast('all' as {{ dbt.type_string() }}) as {{ dimension }},
        {%- endif %}
        {%- endfor %}
{%- endmacro %}


{# One select per slice over `relation`, unioned: slice_grain, the dimension columns,
   the `keys` grouped in every slice (e.g. kpi, estimation_method), then `aggregates`. #}
{% macro kpi_sliced(relation, aggregates, keys=[], grains=none) %}
    {%- for slice in kpi_slices(grains) %}
    {%- set group_columns = keys + slice.dimensions %}
    select
        {{ kpi_slice_columns(slice) }}
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


{# Every row of `relation` once per slice, not aggregated (for statistics that need the
   rows of a slice in order, e.g. Kaplan-Meier): the slice columns, then `columns`. #}
{% macro kpi_slice_rows(relation, columns, grains=none) %}
    {%- for slice in kpi_slices(grains) %}
    select
        {{ kpi_slice_columns(slice) }}
        {{ columns | join(', ') }}
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}


{# The slice columns, for a partition by / group by / select list. #}
{% macro kpi_slice_key(prefix=none) -%}
    {%- set p = prefix ~ '.' if prefix else '' -%}
    {{ p }}slice_grain, {% for dimension in kpi_slice_dimensions() %}{{ p }}{{ dimension }}{{ ', ' if not loop.last }}{% endfor %}
{%- endmacro %}


{# Join condition on every slice column between two sliced relations. #}
{% macro kpi_slice_join(left, right) -%}
    {{ left }}.slice_grain = {{ right }}.slice_grain
    {%- for dimension in kpi_slice_dimensions() %}
    and {{ left }}.{{ dimension }} = {{ right }}.{{ dimension }}
    {%- endfor %}
{%- endmacro %}


{# The dimension columns of an input row: each one as a non-null string. #}
{% macro kpi_input_dimensions(prefix, period_expression) -%}
        coalesce({{ prefix }}.program_type, 'unknown') as program_type,
        coalesce({{ prefix }}.method, 'unknown') as method,
        coalesce({{ prefix }}.program_id, 'unknown') as program_id,
        coalesce({{ prefix }}.cohort, 'unknown') as cohort,
        coalesce({{ prefix }}.department, 'unknown') as department,
        coalesce({{ prefix }}.region, 'unknown') as region,
        coalesce(cast({{ period_expression }} as {{ dbt.type_string() }}), 'unknown') as period
{%- endmacro %}


{# The period label of a date ('2025'): its calendar year, or with organisation.fiscal_year_start_month
   after January its fiscal year, named by the calendar year the fiscal year ends in (start month 7:
   2025-07-01 .. 2026-06-30 is '2026'). #}
{% macro period_of(date_expression) -%}
    {%- set start_month = fiscal_year_start_month() -%}
    {%- if start_month == 1 -%}
    cast(extract(year from {{ date_expression }}) as {{ dbt.type_string() }})
    {%- else -%}
    cast(extract(year from {{ add_to_date('month', 13 - start_month, date_expression) }}) as {{ dbt.type_string() }})
    {%- endif -%}
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


{# A suppressed cell publishes no figure: `suppressed` is the cell's flag from
   complementary_suppression (macros/suppression.sql), primary or complementary alike. #}
{% macro unless_suppressed(expression, suppressed) -%}
    case when not coalesce({{ suppressed }}, true) then {{ expression }} end
{%- endmacro %}


{# A published figure: null when the cell is suppressed, a double rounded to 4 decimals. #}
{% macro published(expression, suppressed, data_type='double') -%}
    {%- if data_type == 'double' -%}
    {{ ti_round('cast(' ~ unless_suppressed(expression, suppressed) ~ ' as double)', 4) }}
    {%- else -%}
    cast({{ unless_suppressed(expression, suppressed) }} as {{ data_type }})
    {%- endif -%}
{%- endmacro %}


{# The people count as published: exact when the cell is published, else 'suppressed'.
   No band for suppressed cells: a primary cell's '1-4' would tell a complementary cell
   (>= min_cell_size people) apart, and with the published parent the pair's sum pins
   both down (docs/methods.md, "Small cells"). #}
{% macro count_band(n_people, suppressed) -%}
    case when coalesce({{ suppressed }}, true) then 'suppressed' else cast({{ n_people }} as {{ dbt.type_string() }}) end
{%- endmacro %}


{# The figures of an observed proportion in percent with its Wilson 95% interval, from the
   `relation`'s columns `successes` / `trials`; `n` is the published sample size and
   `people` the people count behind n_band; null when the cell is suppressed. #}
{% macro observed_rate_published(relation, successes, trials, n, people) -%}
    {%- set s = relation ~ '.' ~ successes -%}
    {%- set t = relation ~ '.' ~ trials -%}
    {%- set hidden = relation ~ '.is_suppressed' -%}
        {{ published(s, hidden) }} as numerator,
        {{ published(t, hidden) }} as denominator,
        {{ published(relation ~ '.' ~ n, hidden, 'bigint') }} as n,
        {{ count_band(relation ~ '.' ~ people, hidden) }} as n_band,
        {{ published('100.0 * ' ~ s ~ ' / nullif(' ~ t ~ ', 0)', hidden) }} as estimate,
        {{ published(wilson_bound_pct(s, t, -1), hidden) }} as ci_low,
        {{ published(wilson_bound_pct(s, t, 1), hidden) }} as ci_high,
{%- endmacro %}


{# One kpi_summary row set from a kpi_* mart: its common columns, any of them overridable. #}
{% macro kpi_summary_row(relation, kpi='kpi', unit='unit', numerator='numerator', denominator='denominator',
                      n_comparison='cast(null as bigint)', estimate='estimate', ci_low='ci_low', ci_high='ci_high',
                      estimation_method='estimation_method', evaluation_level='evaluation_level',
                      definition_variant="'default'", flag_reason='null', where=none,
                      measurement_status="'measured'", not_measured_reason='null') %}
    select
        cast({{ kpi }} as {{ dbt.type_string() }}) as kpi,
        slice_grain,
        program_type,
        method,
        period,
        cast({{ estimation_method }} as {{ dbt.type_string() }}) as estimation_method,
        cast({{ evaluation_level }} as integer) as evaluation_level,
        cast({{ unit }} as {{ dbt.type_string() }}) as unit,
        {{ ti_round('cast(' ~ numerator ~ ' as double)', 4) }} as numerator,
        {{ ti_round('cast(' ~ denominator ~ ' as double)', 4) }} as denominator,
        n,
        n_band,
        cast({{ n_comparison }} as bigint) as n_comparison,
        {{ ti_round('cast(' ~ estimate ~ ' as double)', 4) }} as estimate,
        {{ ti_round('cast(' ~ ci_low ~ ' as double)', 4) }} as ci_low,
        {{ ti_round('cast(' ~ ci_high ~ ' as double)', 4) }} as ci_high,
        is_flagged,
        definition_version,
        suppressed,
        program_id,
        cohort,
        department,
        region,
        cast({{ definition_variant }} as {{ dbt.type_string() }}) as definition_variant,
        cast({{ flag_reason }} as {{ dbt.type_string() }}) as flag_reason,
        cast({{ measurement_status }} as {{ dbt.type_string() }}) as measurement_status,
        cast({{ not_measured_reason }} as {{ dbt.type_string() }}) as not_measured_reason
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
{% endmacro %}
