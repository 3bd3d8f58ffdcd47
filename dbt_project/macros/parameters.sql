{#
  config/parameters.yml is the one place for windows, thresholds and money factors.
  The runner passes it whole as `--vars '{"params": {...}}'`; without that var the
  file is read through the engine (ti_read_text, macros/bronze.sql: Jinja has no file access), from
  env TI_PARAMETERS (default: ../config/parameters.yml, relative to dbt's cwd).
  Only the staging/config models call these macros: everything else joins the
  one-row `stg_config__parameters`, so unit tests can feed their own parameters.
  One exception, at compile time: `period_of` (macros/kpi.sql) names fiscal years
  from organisation.fiscal_year_start_month (a unit test overrides the var `params`).
#}
{% macro load_parameters() %}
    {%- set passed = var('params', none) -%}
    {%- if passed is not none -%}
        {{ return(passed if passed is mapping else fromyaml(passed)) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set path = env_var('TI_PARAMETERS', '../config/parameters.yml') -%}
    {{ return(fromyaml(ti_read_text(path))) }}
{% endmacro %}


{# param('windows.pre_months'): one value by dotted path; a missing key fails the build
   unless the parameter is optional (then it reads as none / SQL null). #}
{% macro param(dotted_path, optional=false) %}
    {%- set parameters = load_parameters() -%}
    {%- if not execute and parameters | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set state = namespace(node=parameters) -%}
    {%- for part in dotted_path.split('.') -%}
        {%- if state.node is mapping and part in state.node -%}
            {%- set state.node = state.node[part] -%}
        {%- elif optional -%}
            {{ return(none) }}
        {%- else -%}
            {{ exceptions.raise_compiler_error("parameter '" ~ dotted_path ~ "' is missing from config/parameters.yml") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(state.node) }}
{% endmacro %}


{# A parameter as a typed SQL literal (strings quoted, none as null). #}
{% macro param_literal(dotted_path, data_type, optional=false) %}
    {%- set value = param(dotted_path, optional=optional) -%}
    {%- if value is none -%}
        cast(null as {{ data_type }})
    {%- elif value is string -%}
        cast({{ ti_string_literal(value) }} as {{ data_type }})
    {%- else -%}
        cast({{ value }} as {{ data_type }})
    {%- endif -%}
{% endmacro %}


{# An organisation setting (config/parameters.yml `organisation:`, D136) as a typed SQL literal. A parameters
   file of an earlier version keeps currency and min_cell_size under `reporting:`: read as well. #}
{% macro org_param(name, data_type, default=none) %}
    {%- set own = param('organisation.' ~ name, optional=true) -%}
    {%- if own is none -%}
        {%- set own = param('reporting.' ~ name, optional=true) -%}
    {%- endif -%}
    {%- if own is none -%}
        {%- set own = default -%}
    {%- endif -%}
    {%- if own is none and execute -%}
        {{ exceptions.raise_compiler_error("organisation." ~ name ~ " is missing from config/parameters.yml") }}
    {%- elif own is none -%}
        cast(null as {{ data_type }})
    {%- elif own is string -%}
        cast({{ ti_string_literal(own) }} as {{ data_type }})
    {%- else -%}
        cast({{ own }} as {{ data_type }})
    {%- endif -%}
{% endmacro %}


{# The month the fiscal year starts in (organisation.fiscal_year_start_month, default 1), at compile time:
   `period_of` names a date's fiscal year with it. #}
{% macro fiscal_year_start_month() %}
    {%- set own = param('organisation.fiscal_year_start_month', optional=true) -%}
    {{ return(1 if own is none else own | int) }}
{% endmacro %}
