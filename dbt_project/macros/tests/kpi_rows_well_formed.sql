{#
  The common shape of a KPI row, in one query per mart (one test instead of a dozen
  not_null / accepted_values tests keeps `dbt build` fast):
  keys and flags not null, a known slice grain, each dimension 'all' exactly when the
  grain does not slice by it, evaluation level 0-5, and the CI around the estimate.
#}
{% test kpi_rows_well_formed(model, grains=none) %}
    {%- set slices = kpi_slices(grains) %}
    select *
    from {{ model }}
    where kpi is null
       or estimation_method is null
       or unit is null
       or n_band is null
       or is_flagged is null
       or suppressed is null
       or definition_version is null
       or evaluation_level is null
       or evaluation_level not between 0 and 5
       or (ci_low is not null and estimate is not null and ci_low > estimate)
       or (ci_high is not null and estimate is not null and ci_high < estimate)
       or slice_grain is null
       {%- for dimension in kpi_slice_dimensions() %}
       or {{ dimension }} is null
       {%- endfor %}
       or not (
        {%- for slice in slices %}
        (slice_grain = '{{ slice.slice_grain }}'
            {%- for dimension in kpi_slice_dimensions() %}
            and ({{ dimension }} {{ '!=' if dimension in slice.dimensions else '=' }} 'all')
            {%- endfor %})
        {{- ' or' if not loop.last }}
        {%- endfor %}
       )
{% endtest %}
