{#
  Privacy at the raw → staging boundary (SECURITY.md). The ti_* functions are
  registered on dbt's connection by privacy/dbt_plugin.py, which holds the key:
  nothing here or in the compiled SQL carries it. Models calling them are tables,
  so readers of the warehouse never need the key (dbt_project.yml).
#}

{# A worker id (or any column holding one: manager, evaluator, xAPI actor) as its keyed pseudonym. #}
{% macro pseudonymize(column) -%}
    ti_pseudonym(cast({{ column }} as {{ dbt.type_string() }}))
{%- endmacro %}


{# Canonical columns that hold a worker id: pseudonymised wherever they leave bronze. #}
{% macro worker_id_columns() %}
    {{ return(['worker_id', 'manager_id', 'evaluator_id', 'actor_id']) }}
{% endmacro %}


{#
  Roster terms for free-text redaction: the words of every first and last name and
  the key of every national id in the loaded worker extracts (privacy/redaction.py). Read from bronze inside the
  model that redacts, never output.
#}
{% macro roster_terms() %}
    {%- set workers = bronze_source('hris', 'workers') -%}
    select distinct term, 'name' as term_kind
    from (
        select {{ ti_unnest('ti_name_tokens(name)') }} as term
        from (
            select first_name as name from {{ workers }}
            union
            select last_name from {{ workers }}
        ) as roster_names
    ) as name_terms
    union
    select distinct ti_id_key(cast(national_id as {{ dbt.type_string() }})), 'national_id'
    from {{ workers }}
    where national_id is not null
{% endmacro %}


{#
  `text_column` of `relation` (one row per `key_column`) without e-mails, phone
  numbers, roster names and national ids (privacy/redaction.py): the terms of each
  text are joined against the roster terms, and only the terms found are handed to
  ti_redact (as sets: their order, and null for none, do not change the text; Spark's
  collect_set gives [] and DuckDB's list null). Returns a select of key_column, redacted_text.
#}
{% macro redacted_free_text(relation, key_column, text_column) %}
    with roster_terms as (
        {{ roster_terms() }}
    ),

    text_terms as (
        select {{ key_column }}, {{ ti_unnest('ti_text_terms(' ~ text_column ~ ')') }} as term
        from {{ relation }}
        where {{ text_column }} is not null
    ),

    found_terms as (
        select
            text_terms.{{ key_column }},
            {{ ti_list_distinct('text_terms.term') }} filter (where roster_terms.term_kind = 'name') as names,
            {{ ti_list_distinct('text_terms.term') }} filter (where roster_terms.term_kind = 'national_id') as national_ids
        from text_terms
        inner join roster_terms
            on text_terms.term = roster_terms.term
        group by 1
    )

    select
        texts.{{ key_column }},
        ti_redact(texts.{{ text_column }}, found_terms.names, found_terms.national_ids) as redacted_text
    from {{ relation }} as texts
    left join found_terms
        on texts.{{ key_column }} = found_terms.{{ key_column }}
{% endmacro %}


{#
  `text` with the redaction placeholders ([EMAIL], [PHONE], [NAME], [NATIONAL_ID]: privacy/redaction.py)
  replaced by a space. Plain replace, no regex: the former '\[(EMAIL|…)\]' with DuckDB's 'g' flag is NULL on
  Spark ('g' is its position argument) and, without the flag, a character class that mangles the text
  (issue 18's silent traps; tests/spark/test_silent_traps.py). A space is in no placeholder, so four
  passes give what one global regex pass gave.
#}
{% macro without_redaction_placeholders(text) -%}
    replace(replace(replace(replace({{ text }}, '[EMAIL]', ' '), '[PHONE]', ' '), '[NAME]', ' '), '[NATIONAL_ID]', ' ')
{%- endmacro %}
