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
  {{ return(ti_reuse_records({relation_name: fingerprint})) }}
{%- endmacro %}

{#- One statement recording several fingerprints ({relation or test id: fingerprint}). -#}
{% macro ti_reuse_records(fingerprints) -%}
  {{ return(adapter.dispatch('ti_reuse_records', 'training_impact')(fingerprints)) }}
{%- endmacro %}

{% macro default__ti_reuse_records(fingerprints) -%}
  insert or replace into {{ ti_reuse_table() }} values
  {%- for name, fingerprint in fingerprints.items() %}
    ({{ ti_sql_text(name) }}, '{{ fingerprint }}', now()){{ ',' if not loop.last }}
  {%- endfor %}
{%- endmacro %}

{% macro spark__ti_reuse_records(fingerprints) -%}
  insert into {{ ti_reuse_table() }} values
  {%- for name, fingerprint in fingerprints.items() %}
    ('{{ name }}', '{{ fingerprint }}', current_timestamp()){{ ',' if not loop.last }}
  {%- endfor %}
{%- endmacro %}


{#- The latest recorded fingerprint of each relation or test id a condition selects: {name: fingerprint}. -#}
{% macro ti_reuse_stored_where(condition) -%}
  {%- set found = run_query("select relation, fingerprint from " ~ ti_reuse_table() ~ " where " ~ condition
                            ~ " order by built_at") -%}
  {%- set stored = {} -%}
  {%- for row in found.rows -%}
    {%- do stored.update({row[0]: row[1]}) -%}
  {%- endfor -%}
  {{ return(stored) }}
{%- endmacro %}


{% macro ti_sql_text(name) -%}
  {{ return("'" ~ name | replace("'", "''") ~ "'") }}
{%- endmacro %}


{% macro ti_reuse_stored(relation_name) -%}
  {{ return(ti_reuse_stored_where("relation = " ~ ti_sql_text(relation_name)).get(relation_name)) }}
{%- endmacro %}


{#- A reusable table's name as its fingerprint is recorded. -#}
{% macro ti_node_relation(node) -%}
  {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) | string) }}
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
    {%- set stored = ti_reuse_stored(ti_node_relation(node)) -%}
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


{#-
  Data tests of unchanged inputs (D148): a data test's result is a function of its compiled SQL, its
  configuration and the rows of its parents. When all of these have the fingerprint they had when the test
  last passed, the test passes again without running its query: a nightly delta no longer re-scans the
  unchanged history tables. A test that failed or warned always runs again; `--full-refresh` runs them all
  (and records the passes); a test that stores its failures always runs.
-#}
{#- A test's own part of its fingerprint: its compiled SQL and the settings that decide pass or fail. -#}
{% macro ti_test_own_fingerprint() -%}
  {%- set settings = [config.get('severity'), config.get('fail_calc'), config.get('warn_if'), config.get('error_if'),
                      config.get('limit'), config.get('where')] -%}
  {{ return(local_md5(model.compiled_code ~ '|' ~ settings | join('|'))) }}
{%- endmacro %}


{#- The fingerprints of the tests that passed before, read once per build (they change only at its end). -#}
{% macro ti_test_records() -%}
  {%- if graph.get('ti_test_records') is none -%}
    {%- do graph.update({'ti_test_records': ti_reuse_stored_where("relation like 'test.%'")}) -%}
  {%- endif -%}
  {{ return(graph['ti_test_records']) }}
{%- endmacro %}


{#- Tests' full fingerprints ({test id: own part} -> {test id: fingerprint}): the own part and each parent's
    fingerprint (D121's, which hold the key's identity), the reusable parents' read in one query. -#}
{% macro ti_test_fingerprints(own_parts) -%}
  {%- set relations = {} -%}
  {%- for test_id in own_parts -%}
    {%- for parent in graph.nodes[test_id].depends_on.nodes -%}
      {%- set node = graph.nodes.get(parent) -%}
      {%- if node is not none and node.config.materialized == 'reusable_table' -%}
        {%- do relations.update({parent: ti_node_relation(node)}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set quoted = [] -%}
  {%- for name in relations.values() -%}
    {%- do quoted.append(ti_sql_text(name)) -%}
  {%- endfor -%}
  {%- set stored = ti_reuse_stored_where("relation in (" ~ quoted | join(', ') ~ ")") if quoted else {} -%}
  {%- set out = {} -%}
  {%- for test_id, own in own_parts.items() -%}
    {%- set parts = [own] -%}
    {%- for parent in graph.nodes[test_id].depends_on.nodes -%}
      {%- set recorded = stored.get(relations[parent]) if parent in relations else none -%}
      {%- do parts.append(parent ~ '=' ~ (recorded if recorded is not none else ti_node_fingerprint(parent))) -%}
    {%- endfor -%}
    {%- do out.update({test_id: local_md5(parts | join('|'))}) -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro %}


{#- DuckDB's builds only: on Spark every test runs (its cost there is per query, not per row). A test that
    never passed costs no fingerprint while it runs: the passes are fingerprinted together at the end. -#}
{% materialization test, adapter='duckdb' %}
  {%- set recorded = not should_store_failures() -%}
  {%- set own = ti_test_own_fingerprint() -%}
  {%- set last_pass = ti_test_records().get(model.unique_id) if recorded and not should_full_refresh() else none -%}
  {%- if last_pass is not none and ti_test_fingerprints({model.unique_id: own})[model.unique_id] == last_pass -%}
    {%- call statement('main', fetch_result=True) -%}
      select 0 as failures, false as should_warn, false as should_error
    {%- endcall -%}
    {{ return({'relations': []}) }}
  {%- endif -%}
  {%- set built = dbt.materialization_test_default() -%}
  {%- set outcome = load_result('main').table.rows[0] -%}
  {%- if recorded and outcome['failures'] == 0 and not outcome['should_warn'] and not outcome['should_error'] -%}
    {#- recorded by the on-run-end hook in one statement (ti_record_passed_tests): a commit per test would cost
        more than the tests themselves on small data; a build killed before the end only runs them again -#}
    {%- do graph.setdefault('ti_passed_tests', {}).update({model.unique_id: own}) -%}
  {%- endif -%}
  {{ return(built) }}
{% endmaterialization %}


{#- on-run-end: the tests that passed in this build, with their fingerprints (D148). -#}
{% macro ti_record_passed_tests() -%}
  {%- set passed = graph.get('ti_passed_tests', {}) if execute else {} -%}
  {%- if passed -%}
    {{ ti_reuse_records(ti_test_fingerprints(passed)) }}
  {%- else -%}
    select 1 as nothing_to_record
  {%- endif -%}
{%- endmacro %}
