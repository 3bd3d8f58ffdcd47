{#
  Engine-portable SQL of the survey models and the free-text redaction (issue 18; see macros/portable.sql):
  `default__` is DuckDB's spelling, `spark__` Spark's. No regex here carries a backslash: a backslash in a
  Spark string literal is an escape ('\b' is a backspace, '\[' is '['), in DuckDB it is kept as written.
#}

{# Does `text` contain a match of the regular expression `pattern` anywhere (DuckDB regexp_matches, Spark rlike). #}
{% macro ti_regexp_contains(text, pattern) -%}
    {{ return(adapter.dispatch('ti_regexp_contains', 'training_impact')(text, pattern)) }}
{%- endmacro %}
{% macro default__ti_regexp_contains(text, pattern) %}regexp_matches({{ text }}, {{ pattern }}){% endmacro %}
{% macro spark__ti_regexp_contains(text, pattern) %}rlike({{ text }}, {{ pattern }}){% endmacro %}


{#
  A regex literal matching at the start of a word, to prefix a term that starts with a letter or digit:
  RE2's ASCII `\b` on DuckDB (kept there as it was); on Spark the same boundary spelt out, since Java's `\b`
  is Unicode-aware and a backslash would need escaping: the start of the text or a character that is not
  an ASCII word character (RE2's \w is [0-9A-Za-z_]; the texts it prefixes are lower-cased).
#}
{% macro ti_regex_word_start() -%}
    {{ return(adapter.dispatch('ti_regex_word_start', 'training_impact')()) }}
{%- endmacro %}
{% macro default__ti_regex_word_start() %}'\b'{% endmacro %}
{% macro spark__ti_regex_word_start() %}'(^|[^0-9A-Za-z_])'{% endmacro %}


{# One row per element of the list `expression` (a set-returning call in a select list: unnest / explode). #}
{% macro ti_unnest(expression) -%}
    {{ return(adapter.dispatch('ti_unnest', 'training_impact')(expression)) }}
{%- endmacro %}
{% macro default__ti_unnest(expression) %}unnest({{ expression }}){% endmacro %}
{% macro spark__ti_unnest(expression) %}explode({{ expression }}){% endmacro %}


{#
  The distinct values of `expression` in the group as a list, in no defined order (list(distinct) /
  collect_set); a FILTER clause may follow. Over no rows DuckDB gives null and Spark an empty array:
  callers must treat both alike (ti_redact does).
#}
{% macro ti_list_distinct(expression) -%}
    {{ return(adapter.dispatch('ti_list_distinct', 'training_impact')(expression)) }}
{%- endmacro %}
{% macro default__ti_list_distinct(expression) %}list(distinct {{ expression }}){% endmacro %}
{% macro spark__ti_list_distinct(expression) %}collect_set({{ expression }}){% endmacro %}


{#
  lower() as DuckDB gives it, where the theme regex can tell: Java lower-cases the dotted capital I (U+0130)
  to "i" + a combining dot (two characters), DuckDB to "i" alone, so on Spark it becomes "i" first.
#}
{% macro ti_lower(text) -%}
    {{ return(adapter.dispatch('ti_lower', 'training_impact')(text)) }}
{%- endmacro %}
{% macro default__ti_lower(text) %}lower({{ text }}){% endmacro %}
{% macro spark__ti_lower(text) %}lower(replace({{ text }}, 'İ', 'i')){% endmacro %}
