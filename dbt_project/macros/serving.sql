{#
  The analyst-safe serving views (models/serving, DECISIONS D126): one view per KPI family, one row
  per slice, the primary estimate only, unit-named columns, suppression as a status with a reason.

  Every family view starts from serving_slices (every slice any KPI publishes, at the family's
  grains) and left-joins its mart pivoted to one row per slice, so a slice whose cell is suppressed,
  or that has no one in the KPI's population, is a row with a status instead of a missing row.
  Publishing copies each family view once per grain (<family>_overall, <family>_by_<grain>), so an
  avg() over a served table never mixes grains (publishing/contracts.py).
#}

{# The slice columns of a serving row, in order: the marts' slice columns, `method` named training_method. #}
{% macro serving_slice_columns(relation) -%}
        {{ relation }}.slice_grain,
        {{ relation }}.program_type,
        {{ relation }}.training_method,
        {{ relation }}.program_id,
        {{ relation }}.cohort,
        {{ relation }}.department,
        {{ relation }}.region,
        {{ relation }}.period
{%- endmacro %}


{# The slice columns of a mart row (group by list of the pivot). #}
{% macro serving_mart_slice_columns() -%}
    slice_grain, program_type, method, program_id, cohort, department, region, period
{%- endmacro %}


{# Join a serving slice to a mart pivot (whose `method` is the training method). #}
{% macro serving_slice_join(slices, pivot) -%}
    {{ pivot }}.slice_grain = {{ slices }}.slice_grain
    and {{ pivot }}.program_type = {{ slices }}.program_type
    and {{ pivot }}.method = {{ slices }}.training_method
    and {{ pivot }}.program_id = {{ slices }}.program_id
    and {{ pivot }}.cohort = {{ slices }}.cohort
    and {{ pivot }}.department = {{ slices }}.department
    and {{ pivot }}.region = {{ slices }}.region
    and {{ pivot }}.period = {{ slices }}.period
{%- endmacro %}


{# One KPI's column out of a mart's long rows, inside the pivot's group by. #}
{% macro serving_pick(kpi, column, data_type='double') -%}
    cast(max({{ column }}) filter (where kpi = '{{ kpi }}') as {{ data_type }})
{%- endmacro %}


{# The columns every pivot carries for the status, from its headline KPI's row (kpi=none: from every
   row of the slice, for a family of KPIs that share one population and one suppression pattern). #}
{% macro serving_headline(kpi, flagged='is_flagged', flag_reason='flag_reason') -%}
    {%- set only = "kpi = '" ~ kpi ~ "'" if kpi is not none else 'true' -%}
        bool_or(suppressed) filter (where {{ only }}) as headline_suppressed,
        count(estimate) filter (where {{ only }}) > 0 as headline_has_estimate,
        coalesce(bool_or({{ flagged }}) filter (where {{ only }}), false) as headline_flagged,
        max({{ flag_reason }}) filter (where {{ only }}) as headline_flag_reason,
        max(definition_version) as definition_version
{%- endmacro %}


{#
  status and status_reason of a serving row from its pivot `p` (null columns: the slice has no row in
  the mart). The reason of a suppressed row is the same for a small cell and for a cell hidden beside
  one (complementary suppression): telling them apart would undo it (D46).
#}
{% macro serving_status(p, population, no_estimate='no estimate could be computed for this slice', measurement=none) -%}
        cast(case
            {%- if measurement %}
            when {{ measurement }}.not_measured then 'not_measured'
            {%- endif %}
            when {{ p }}.slice_grain is null then 'not_enough_data'
            when {{ p }}.headline_suppressed then 'suppressed'
            when not {{ p }}.headline_has_estimate then 'not_enough_data'
            when {{ p }}.headline_flagged then 'flagged'
            else 'reported'
        end as {{ dbt.type_string() }}) as status,
        cast(case
            {%- if measurement %}
            when {{ measurement }}.not_measured
                then 'Not measured: ' || coalesce({{ measurement }}.not_measured_reason, 'the data this KPI needs was not delivered')
            {%- endif %}
            when {{ p }}.slice_grain is null
                then 'No data: nobody in this slice belongs to the population of this KPI ({{ population }}).'
            when {{ p }}.headline_suppressed
                then 'Suppressed for privacy: the slice has fewer than ' || parameters.min_cell_size
                     || ' people, or is hidden beside such a slice so that it cannot be worked out from '
                     || 'the published totals (small-cell suppression). Every figure of the row is null.'
            when not {{ p }}.headline_has_estimate then 'No estimate: {{ no_estimate }}.'
            when {{ p }}.headline_flagged
                then 'Reported, but not a confident figure: ' || coalesce({{ p }}.headline_flag_reason, 'flagged')
        end as {{ dbt.type_string() }}) as status_reason,
        coalesce({{ p }}.definition_version, parameters.definition_version) as definition_version
{%- endmacro %}


{# The slices of a family: every slice the KPI marts publish, at `grains` (default: all). #}
{% macro serving_slices(grains=none) -%}
    select * from {{ ref('serving_slices') }}
    {%- if grains is not none %}
    where slice_grain in ({% for grain in grains %}'{{ grain }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif %}
{%- endmacro %}


{# Whether a KPI is measured at all (kpi_* marts with measurement_status, D137): one row, joined to
   every slice of its family, so a KPI whose data was never delivered reads not_measured in every
   slice rather than "no data". #}
{% macro serving_measurement(mart, kpi) -%}
    select
        coalesce(bool_or(measurement_status = 'not_measured'), false) as not_measured,
        max(not_measured_reason) as not_measured_reason
    from {{ mart }}
    where kpi = '{{ kpi }}'
{%- endmacro %}
