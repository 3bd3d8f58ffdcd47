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


{#
  The rows of `relation` that are the latest of their key (latest_per_key's order). Most keys
  arrive once: only the rows of keys that arrived more than once are ranked, the rest pass
  through; ranking every row partitioned and sorted the whole of a staging model's input
  (D132). Keys compare null-safe, as the window's partitions do.
#}
{% macro latest_rows(relation, key_columns) -%}
    {%- set matches -%}
        {%- for column in key_columns %}
        {{ 'and ' if not loop.first }}repeated_keys.{{ column }} is not distinct from {{ relation }}.{{ column }}
        {%- endfor %}
    {%- endset -%}
    select {{ relation }}.*
    from {{ relation }}
    where not exists (
        select 1 from (
            select {{ key_columns | join(', ') }} from {{ relation }} group by {{ key_columns | join(', ') }} having count(*) > 1
        ) as repeated_keys
        where {{ matches }}
    )
    union all
    select {{ relation }}.*
    from {{ relation }}
    where exists (
        select 1 from (
            select {{ key_columns | join(', ') }} from {{ relation }} group by {{ key_columns | join(', ') }} having count(*) > 1
        ) as repeated_keys
        where {{ matches }}
    )
    qualify {{ latest_per_key(key_columns) }}
{%- endmacro %}


{% macro latest_per_key(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _ingested_at desc, _source_file desc, _source_row desc
    ) = 1
{%- endmacro %}


{#
  Incremental event staging (DECISIONS D61): on an incremental build read only the bronze rows
  loaded after the newest row the model holds. Every file's rows carry its load start
  (`_ingested_at`), files load one after another and runs never overlap, so a later load has a
  later `_ingested_at` and wins its keys in a full rebuild too; `delete+insert` on the key then
  gives the same table. An empty model (no rows yet) reads everything.
#}
{% macro loaded_after_this() -%}
    {%- if is_incremental() -%}
    where _ingested_at > coalesce(
        (select max(_ingested_at) from {{ this }}), {{ ti_instant_before_all() }}
    )
    {%- endif -%}
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


{#
  A bronze source that may have no files yet (quarantine is written only when a row
  fails; a family may not have been delivered): read_parquet fails on an empty glob,
  so an empty folder reads as zero rows with the entity's columns instead.
  The columns come from ingestion/canonical_schemas.yml (env TI_CANONICAL_SCHEMAS),
  so the empty shape never drifts from what ingestion writes.
#}
{% macro bronze_source(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or (target.type == 'duckdb' and relation.external is none) -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set pattern = ti_bronze_pattern(source_name, table_name) -%}
    {%- if ti_list_files(pattern) | length > 0 -%}
        {%- set read = relation if target.type == 'duckdb' else ti_read_parquet(pattern) -%}
        {%- if table_name == 'load_manifest' -%}
            {{ return(read) }}
        {%- endif -%}
        {#- Ingestion writes a bronze file before its manifest row: a crash in between
            leaves a file nobody vouches for. Only rows of files the manifest lists as
            loaded in that batch count. -#}
        {{ return("(select bronze.* from " ~ read ~ " as bronze where exists (select 1 from "
                  ~ bronze_source('ingestion', 'load_manifest') ~ " as manifest where manifest.status = 'loaded'"
                  ~ " and manifest.batch_id = bronze._batch_id and manifest.source_sha256 = bronze._source_sha256))"
                  ~ " as loaded_" ~ table_name) }}
    {%- endif -%}
    {{ log("bronze " ~ table_name ~ ": no files match " ~ pattern ~ ", reading zero rows", info=true) }}
    {{ return("(" ~ empty_bronze_select(table_name) ~ ") as empty_" ~ table_name) }}
{% endmacro %}


{#- The glob of a bronze table's Parquet files, from its source's external location (sources.yml), the
    same folder on every engine. -#}
{% macro ti_bronze_pattern(source_name, table_name) -%}
    {%- for node in graph.sources.values() if node.source_name == source_name and node.name == table_name -%}
        {{ return(ti_source_pattern(node)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no bronze source " ~ source_name ~ "." ~ table_name) }}
{%- endmacro %}

{% macro ti_source_pattern(node) -%}
    {%- set location = node.meta.get('external_location') or node.config.meta.get('external_location') -%}
    {{ return(location.split("'")[1].replace('{name}', node.name)) }}
{%- endmacro %}


{#- The files a glob pattern matches, sorted: DuckDB's glob(), Spark's ti_glob() (privacy/spark_functions.py). -#}
{% macro ti_list_files(pattern) -%}
    {{ return(adapter.dispatch('ti_list_files', 'training_impact')(pattern)) }}
{%- endmacro %}

{% macro default__ti_list_files(pattern) -%}
    {%- set found = run_query("select file from glob('" ~ pattern | replace("'", "''") ~ "') order by file") -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}

{% macro spark__ti_list_files(pattern) -%}
    {%- set found = run_query("select explode(ti_glob(" ~ ti_string_literal(pattern) ~ ")) as file") -%}
    {{ return(found.columns[0].values() | list | sort) }}
{%- endmacro %}


{#- Parquet files read in place, columns united by name (Spark: spark.sql.parquet.mergeSchema, set by
    orchestration/spark_dbt.py). -#}
{% macro ti_read_parquet(pattern) -%}
    {{ return(adapter.dispatch('ti_read_parquet', 'training_impact')(pattern)) }}
{%- endmacro %}

{% macro default__ti_read_parquet(pattern) -%}
    read_parquet('{{ pattern | replace("'", "''") }}', union_by_name = true)
{%- endmacro %}

{% macro spark__ti_read_parquet(pattern) -%}
    parquet.`{{ pattern }}`
{%- endmacro %}


{#- A text file's content as one value: DuckDB's read_text(), Spark's ti_read_text(). -#}
{% macro ti_read_text(path) -%}
    {{ return(adapter.dispatch('ti_read_text', 'training_impact')(path)) }}
{%- endmacro %}

{% macro default__ti_read_text(path) -%}
    {{ return(run_query("select content from read_text('" ~ path | replace("'", "''") ~ "')").columns[0].values()[0]) }}
{%- endmacro %}

{% macro spark__ti_read_text(path) -%}
    {{ return(run_query("select ti_read_text(" ~ ti_string_literal(path) ~ ")").columns[0].values()[0]) }}
{%- endmacro %}


{% macro empty_bronze_select(table_name) %}
    {%- set text, instant = dbt.type_string(), ti_type_instant() -%}
    {%- set sql_types = {
        'string': text, 'int': 'bigint', 'float': 'double', 'decimal': 'decimal(18, 2)',
        'date': 'date', 'timestamp': instant, 'bool': 'boolean'
    } -%}
    {%- set lineage = [
        ('_source_file', text), ('_source_sha256', text), ('_source_row', 'bigint'),
        ('_batch_id', text), ('_ingested_at', instant)
    ] -%}
    {%- if table_name == 'quarantine' -%}
        {%- set columns = [('entity', text)] + lineage[:4] + [
            ('rule', text), (adapter.quote('column'), text), ('value', text),
            ('message', text), ('record_json', text)] -%}
    {%- elif table_name == 'load_manifest' -%}
        {%- set columns = [
            ('batch_id', text), ('source_file', text), ('source_sha256', text),
            ('size_bytes', 'bigint'), ('family', text), ('entity', text), ('mapping', text),
            ('status', text), ('reason', text), ('rows_read', 'bigint'), ('rows_loaded', 'bigint'),
            ('rows_quarantined', 'bigint'), ('bronze_file', text),
            ('started_at', instant), ('finished_at', instant)] -%}
    {%- else -%}
        {%- set path = env_var('TI_CANONICAL_SCHEMAS', '../ingestion/canonical_schemas.yml') -%}
        {%- set schema = fromyaml(ti_read_text(path)) -%}
        {%- set columns = [] -%}
        {%- for name, spec in schema['entities'][table_name]['columns'].items() -%}
            {%- do columns.append((name, sql_types[spec['type']])) -%}
        {%- endfor -%}
        {%- set columns = columns + lineage -%}
    {%- endif -%}
    select
    {%- for name, sql_type in columns %}
        cast(null as {{ sql_type }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    where false
{% endmacro %}
