{#
  Engine-portable SQL of the staging layer (issue 18; the conventions are macros/portable.sql's):
  `default__` is DuckDB's spelling, `spark__` Spark's.
#}

{# A text as a double, null when it is not a number, as DuckDB's try_cast reads it. Spark's cast also
   reads Java's type suffixes ('12d', '1.5f') and refuses DuckDB's digit separators ('1_000', an
   underscore between two digits): Spark reads the first as null and the second without underscores. #}
{% macro ti_try_cast_double(text) -%}
    {{ return(adapter.dispatch('ti_try_cast_double', 'training_impact')(text)) }}
{%- endmacro %}
{% macro default__ti_try_cast_double(text) %}try_cast({{ text }} as double){% endmacro %}
{% macro spark__ti_try_cast_double(text) -%}
    case
        when regexp_like({{ text }}, '[0-9.][dDfF]$') or regexp_like({{ text }}, '(^|[^0-9])_|_([^0-9]|$)') then null
        else try_cast(replace({{ text }}, '_', '') as double)
    end
{%- endmacro %}


{# A Jinja text as an SQL string literal. DuckDB doubles a quote; Spark reads backslash escapes (and
   two adjacent literals, 'a''b', as one: 'ab'), so it escapes backslashes and quotes with a backslash. #}
{% macro ti_string_literal(text) -%}
    {{ return(adapter.dispatch('ti_string_literal', 'training_impact')(text)) }}
{%- endmacro %}
{% macro default__ti_string_literal(text) -%}
    {{ return("'" ~ (text | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}
{% macro spark__ti_string_literal(text) -%}
    {{ return("'" ~ (text | string | replace('\\', '\\\\') | replace("'", "\\'")) ~ "'") }}
{%- endmacro %}
