{#
  Bronze load semantics (docs/layout.md), applied by the staging models.

  Snapshot entities restate everything in every extract: keep only the rows of the
  latest loaded file (greatest _ingested_at, then _source_file).
  Append entities: all loaded files, one row per key, the latest load wins.
#}
{% macro latest_snapshot_file(relation_name) -%}
    select _source_file
    from {{ relation_name }}
    group by _source_file
    order by max(_ingested_at) desc, _source_file desc
    limit 1
{%- endmacro %}


{% macro latest_per_key(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _ingested_at desc, _source_file desc, _source_row desc
    ) = 1
{%- endmacro %}


{# The lineage columns every bronze row carries, kept through staging so auditors can trace rows. #}
{% macro lineage_columns(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {{ prefix }}_source_file,
    {{ prefix }}_source_sha256,
    {{ prefix }}_source_row,
    {{ prefix }}_batch_id,
    {{ prefix }}_ingested_at
{%- endmacro %}
