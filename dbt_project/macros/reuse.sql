{#-
  Reuse of unchanged tables (DECISIONS D121): `materialized='reusable_table'` builds a table like dbt-duckdb's
  `table` materialization, and records a fingerprint of what the table was built from; a later build
  whose fingerprint is the same leaves the table as it is. The fingerprint covers:
  - the model's compiled SQL (its code, the macros it expands, the parameters var it reads);
  - each parent's fingerprint: a table's as recorded when it was built, a bronze source's as the names of its
    Parquet files (bronze files are immutable and named by their load batch, D2), anything else as its own
    code and parents';
  - the pseudonymisation key's identity: the pseudonym of a fixed text (never the key).
  `--full-refresh` rebuilds every table. The fingerprints live in the table main.ti_reuse_fingerprints.
-#}

{% macro ti_reuse_table() -%}
  {%- if target.type == 'spark' -%}
    {{ return(api.Relation.create(schema='main', identifier='ti_reuse_fingerprints')) }}
  {%- endif -%}
  {{ return(api.Relation.create(database=target.database, schema='main', identifier='ti_reuse_fingerprints')) }}
{%- endmacro %}


{% macro ti_reuse_setup() -%}
  {{ return(adapter.dispatch('ti_reuse_setup', 'training_impact')()) }}
{%- endmacro %}

{% macro default__ti_reuse_setup() -%}
  create table if not exists {{ ti_reuse_table() }} (relation varchar primary key, fingerprint varchar,
                                                     built_at timestamptz)
{%- endmacro %}

{#- Spark's Parquet tables have no keys or upsert: a build appends its fingerprint, the latest counts. -#}
{% macro spark__ti_reuse_setup() -%}
  {%- do run_query("create schema if not exists main") -%}
  create table if not exists {{ ti_reuse_table() }} (relation string, fingerprint string, built_at timestamp)
  using parquet
{%- endmacro %}


{% macro ti_reuse_record(relation_name, fingerprint) -%}
  {{ return(adapter.dispatch('ti_reuse_record', 'training_impact')(relation_name, fingerprint)) }}
{%- endmacro %}

{% macro default__ti_reuse_record(relation_name, fingerprint) -%}
  insert or replace into {{ ti_reuse_table() }} values ('{{ relation_name | replace("'", "''") }}',
                                                       '{{ fingerprint }}', now())
{%- endmacro %}

{% macro spark__ti_reuse_record(relation_name, fingerprint) -%}
  insert into {{ ti_reuse_table() }} values ('{{ relation_name }}', '{{ fingerprint }}', current_timestamp())
{%- endmacro %}


{% macro ti_reuse_stored(relation_name) -%}
  {%- set found = run_query("select fingerprint from " ~ ti_reuse_table() ~ " where relation = '"
                            ~ relation_name | replace("'", "''") ~ "' order by built_at desc limit 1") -%}
  {{ return(found.columns[0].values()[0] if found.rows | length else none) }}
{%- endmacro %}


{% macro ti_source_fingerprint(node) -%}
  {#- the names of the bronze Parquet files the source reads (its external location's pattern) -#}
  {%- set listed = ti_list_files(ti_source_pattern(node)) -%}
  {{ return(local_md5(listed | join('|')) if listed else 'none') }}
{%- endmacro %}


{% macro ti_node_fingerprint(unique_id) -%}
  {%- if unique_id in graph.sources -%}
    {{ return(ti_source_fingerprint(graph.sources[unique_id])) }}
  {%- endif -%}
  {%- set node = graph.nodes[unique_id] -%}
  {%- if node.config.materialized == 'reusable_table' -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- set stored = ti_reuse_stored(relation | string) -%}
    {%- if stored is not none -%}
      {{ return(stored) }}
    {%- endif -%}
  {%- endif -%}
  {%- set parts = [node.checksum.checksum] -%}
  {%- for parent in node.depends_on.nodes -%}
    {%- do parts.append(ti_node_fingerprint(parent)) -%}
  {%- endfor -%}
  {{ return(local_md5(parts | join('|'))) }}
{%- endmacro %}


{% macro ti_model_fingerprint() -%}
  {%- set key_identity = run_query("select ti_pseudonym('ti-reuse-key-identity')").columns[0].values()[0] -%}
  {%- set parts = [local_md5(model.compiled_code), key_identity] -%}
  {%- for parent in model.depends_on.nodes -%}
    {%- do parts.append(parent ~ '=' ~ ti_node_fingerprint(parent)) -%}
  {%- endfor -%}
  {{ return(local_md5(parts | join('|'))) }}
{%- endmacro %}


{% macro ti_reusable_table(build_table) %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set fingerprint = ti_model_fingerprint() -%}
  {%- if existing_relation is not none and not should_full_refresh()
        and ti_reuse_stored(target_relation | string) == fingerprint -%}
    {%- call statement('main') -%}
      select 'reused: unchanged inputs and code' as status
    {%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
  {%- endif -%}
  {%- set built = build_table() -%}
  {%- do run_query(ti_reuse_record(target_relation | string, fingerprint)) -%}
  {%- do adapter.commit() -%}
  {{ return(built) }}
{% endmacro %}


{% materialization reusable_table, adapter='duckdb' %}
  {{ return(ti_reusable_table(materialization_table_duckdb)) }}
{% endmaterialization %}


{% materialization reusable_table, adapter='spark' %}
  {{ return(ti_reusable_table(materialization_table_spark)) }}
{% endmaterialization %}
