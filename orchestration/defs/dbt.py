"""dbt (staging → intermediate → marts) as Dagster assets via dagster-dbt.

Sources over the bronze zone map onto the ingestion assets' keys, so the graph
reads landing → bronze → staging → intermediate → marts. dbt tests become asset
checks; at error severity `dbt build` skips the models downstream of a failure.
"""

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from training_impact.orchestration import column_metadata
from training_impact.orchestration.descriptions import dbt_test_description, model_description
from training_impact.orchestration.dbt_manifest import DBT_EXECUTABLE, SPARK_DBT_EXECUTABLE, dbt_project, require_manifest
from training_impact.orchestration.resources import DataRootResource, EngineResource, settings_from
from training_impact.orchestration.warehouse_lock import wait_for_warehouse
from training_impact.disk import ensure_free_space, size_of
from training_impact.settings import Paths, duckdb_config, engine_environment, environment_for_children

# Importing this module has no side effects (D106): the manifest comes from a build step
# (orchestration/dbt_manifest.py); only `dagster dev` parses here, as dagster-dbt does by convention.
dbt_project.prepare_if_dev()
require_manifest()

WAREHOUSE_POOL = "duckdb_warehouse"
# The engine resource's column_metadata (TI_DBT_COLUMN_METADATA): "auto" attaches the column schema and
# lineage stored for this dbt code version (orchestration/column_metadata.py; built at deploy time by
# `training-impact prepare --column-metadata`), "1" builds and stores them in this run (minutes of
# sqlglot, whatever the data size), "0" attaches none (D118).
COLUMN_METADATA_ENV = "TI_DBT_COLUMN_METADATA"
# A run tagged with this (`training-impact run --full-refresh`, or the tag on a launch in the UI)
# rebuilds the incremental staging models from all of bronze: needed after a new pseudonymisation
# key (SECURITY.md), otherwise old rows would keep the old key's pseudonyms (DECISIONS D61).
FULL_REFRESH_TAG = "training_impact/dbt_full_refresh"
# On a model's materialisation: true when dbt left the table as it was, its inputs and code unchanged
# (macros/reuse.sql, D121).
REUSED_METADATA = "training_impact/reused"


class TrainingImpactTranslator(DagsterDbtTranslator):
    """Asset keys follow the folder tree: bronze/<entity>, staging/<model>, marts/<model>."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["bronze", dbt_resource_props["name"]])
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "models"
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "models"

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """The YAML description, never the raw SQL dagster-dbt appends by default (orchestration/descriptions.py)."""
        return model_description(dbt_resource_props)

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: DbtProject | None) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check for a dbt test, described: the test's YAML description or a sentence from its
        name, column and arguments (dagster-dbt's default reads `meta.description` only, which no test sets)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return dg.AssetCheckSpec(spec.name, asset=spec.asset_key, description=dbt_test_description(
            manifest["nodes"][unique_id]), additional_deps=spec.additional_deps, blocking=spec.blocking,
            metadata=spec.metadata, automation_condition=spec.automation_condition)


def dbt_vars(params: dict) -> str:
    """The versioned parameter file travels to dbt as one var, never as SQL literals."""
    return json.dumps({"params": params})


def dbt_target_path(paths: Paths, engine: str = "duckdb") -> Path:
    """One dbt target folder per data root and engine, reused run after run (runs on a data root never
    overlap): dbt finds its own partial_parse.msgpack there, made with this root's profile and vars, and
    re-parses only what changed (about 10 s less per run than a full parse; DECISIONS D61)."""
    return paths.warehouse.parent / ("dbt_target" if engine == "duckdb" else f"dbt_target_{engine}")


def spark_dbt_resource() -> DbtCliResource:
    """dbt on Spark (issue 18): the `spark` target, run by the executable that owns the session."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(SPARK_DBT_EXECUTABLE), target="spark")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TrainingImpactTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WAREHOUSE_POOL,
)
def training_impact_dbt(context: AssetExecutionContext, dbt: DbtCliResource, data_root: DataRootResource,
                        engine: EngineResource,
                        run_guard: dg.ResourceParam[Any]):  # run lock + crash recovery first (run_guard.py)
    paths = data_root.paths
    paths.export_env()  # profiles.yml and the sources read the data root's paths from the environment
    # DuckDB's memory limit, threads and spill folder (issue 15): the profile reads them from the
    # environment too, set while dbt runs (below) and put back after
    settings = settings_from(data_root, engine)
    limits = engine_environment(settings)
    on_spark = settings.engine == "spark"
    Path(limits["TI_DUCKDB_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
    if on_spark:
        # dbt builds on Spark; its tables are then copied into the DuckDB warehouse file the later steps
        # and BI read (orchestration/spark_dbt.py, docs/scale-out.md)
        dbt = spark_dbt_resource()
        context.log.info("Spark: master {TI_SPARK_MASTER}, driver memory {TI_SPARK_DRIVER_MEMORY}, "
                         "tables in {TI_SPARK_WAREHOUSE_DIR}".format(**limits))
    else:
        context.log.info("DuckDB: memory_limit {TI_DUCKDB_MEMORY_LIMIT}, threads {TI_DUCKDB_THREADS}, "
                         "spilling to {TI_DUCKDB_TEMP_DIR}".format(**limits))
    # Another process holding the DuckDB file (a BI tool on the live warehouse) makes dbt wait, not fail.
    wait_for_warehouse(paths.warehouse, timeout=engine.value("warehouse_lock_timeout"), log=context.log.warning)
    # A full disk is a clear error before dbt starts, not a DuckDB I/O error mid-build (D86): a full
    # rebuild may write every table once more before the old blocks are freed.
    ensure_free_space(paths.warehouse.parent, size_of(paths.warehouse), "the dbt build")
    # Auditor metadata on every model (docs/audit.md): row counts, and unless switched off the column
    # schema and column-level lineage (sqlglot over the compiled SQL). With DuckDB they are fetched
    # after dbt has released the file.
    # Unit tests check the SQL, not the data: CI runs them (tests/integration/test_suppression_run.py runs every
    # one), nightly runs skip them (dbt's own advice; DECISIONS D63), ~15 s a run.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", dbt_vars(data_root.parameters())]
    if context.run.tags.get(FULL_REFRESH_TAG) == "true":
        args.append("--full-refresh")
    children = contextlib.ExitStack()  # the engine limits, set until dbt and its in-process queries end
    started = time.time()  # a reusable table built since then was rebuilt; one built before, reused
    children.enter_context(environment_for_children(limits))
    try:
        # The op's context, which dagster-dbt 0.29 documents using: handed the asset context it reads the
        # deprecated AssetExecutionContext.op (a DeprecationWarning every run, dagster_dbt/asset_utils.py).
        invocation = dbt.cli(args, context=context.op_execution_context,
                             target_path=dbt_target_path(paths, settings.engine))
        events = invocation.stream()
        # column lineage is sqlglot over DuckDB's compiled SQL: on Spark only what is stored is attached
        build_columns, stored = _column_metadata_plan("0" if on_spark and engine.value("column_metadata") == "1"
                                                      else engine.value("column_metadata"))
    except BaseException:
        children.close()
        raise
    if build_columns:
        events = events.fetch_column_metadata()
    elif stored is None:
        context.log.info("column schema and lineage: none stored for this dbt code version; `training-impact "
                         f"prepare --column-metadata` builds them (or a run with {COLUMN_METADATA_ENV}=1)")
    # Row counts once dbt has ended, in one read-only connection: dagster-dbt's fetch_row_counts()
    # polls its futures in a busy loop for the whole build (a core spent spinning beside dbt, D105).
    built, failure = [], None
    quiet = engine.value("dbt_console") == "problems"
    lineage_gaps = LineageWarnings(keep=not quiet)
    lineage_logger = logging.getLogger("dagster.builtin")  # dagster-dbt's get_dagster_logger()
    lineage_logger.addFilter(lineage_gaps)
    try:
        with contextlib.redirect_stdout(ProblemLines(sys.stdout)) if quiet else contextlib.nullcontext():
            built.extend(events)
    except Exception as error:  # a failed build: what dbt did build still gets its events, then the error
        failure = error
    finally:
        lineage_logger.removeFilter(lineage_gaps)
        if lineage_gaps.models:
            context.log.info(f"column lineage: not built for {len(lineage_gaps.models)} models (sqlglot could not "
                             f"resolve their columns): {', '.join(lineage_gaps.models)}")
        # The column metadata queries (first run of new dbt code) leave dbt-duckdb's read-write handle
        # open in this process; DuckDB refuses a second configuration of an open file, so it is closed
        # before the row counts and before later steps of an in-process run open the warehouse.
        try:
            _close_dbt_duckdb()
        finally:
            children.close()
    if failure is not None:
        # dbt may still be running (dagster-dbt raised mid-stream) and hold the file: no row counts,
        # so a DuckDB lock error never hides the build's own error.
        yield from built
        raise failure
    if on_spark:
        from training_impact.orchestration.spark_dbt import export_dir, mirror_into_duckdb

        copied = mirror_into_duckdb(export_dir(settings), paths.warehouse, duckdb_config(settings))
        context.log.info(f"Spark: {copied} tables and views copied into the DuckDB warehouse")
    if build_columns:
        stored_models = column_metadata.store(dbt_project.manifest_path, built)
        context.log.info(f"column schema and lineage of {stored_models} models stored for this dbt code version")
    elif stored:
        built = list(column_metadata.attach(built, stored))
    # whether a table was reused is read from DuckDB's fingerprints; Spark keeps its own (macros/reuse.sql)
    yield from _with_row_counts(built, invocation.manifest, paths.warehouse, since=None if on_spark else started)


class ProblemLines:
    """stdout for dbt's log without --verbose: its errors, failures, warnings and summary, not a line a model."""

    KEEP = re.compile(r"\b(ERROR|FAIL|WARN|Error|Failure|Warning|Completed|Done\.)")

    def __init__(self, out):
        self.out, self.pending = out, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if self.KEEP.search(line):
                self.out.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


class LineageWarnings(logging.Filter):
    """dagster-dbt logs a warning with a traceback for every model whose column lineage sqlglot cannot
    build; without --verbose they are counted and named in one log line instead (the run still succeeds)."""

    PREFIX = "An error occurred while building column lineage metadata for the dbt resource"

    def __init__(self, keep: bool):
        super().__init__()
        self.keep, self.models = keep, []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self.PREFIX):
            return True
        found = re.search(r"`([^`]+)`", message)
        self.models.append(Path(found.group(1)).stem if found else "?")
        return self.keep


def _with_row_counts(events: list, manifest: Mapping[str, Any], warehouse: Path, since: float | None = None):
    """dagster-dbt's events, each materialised table model's with its row count (`dagster/row_count`), and
    whether dbt reused it unchanged (REUSED_METADATA: a reusable table not built since `since`)."""
    import duckdb

    relations: dict[str, str] = {}
    reusable: set[str] = set()
    for event in events:
        unique_id = getattr(event, "metadata", {}).get("unique_id")
        node = manifest["nodes"].get(unique_id.text) if unique_id is not None else None
        if (isinstance(event, (dg.Output, dg.AssetMaterialization)) and node and node["resource_type"] == "model"
                and node["config"].get("materialized") != "view" and node.get("relation_name")):
            relations[node["unique_id"]] = node["relation_name"].replace("`", '"')  # Spark quotes with backticks
            if node["config"].get("materialized") == "reusable_table":
                reusable.add(node["unique_id"])
    counts: dict[str, int] = {}
    rebuilt: set[str] | None = None
    if relations:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for unique_id, relation in relations.items():
                counts[unique_id] = con.execute(f"select count(*) from {relation}").fetchone()[0]
            if since is not None and con.execute("select count(*) from information_schema.tables where"
                                                 " table_schema = 'main' and table_name = 'ti_reuse_fingerprints'"
                                                 ).fetchone()[0]:
                rebuilt = {relation for (relation,) in con.execute(
                    "select relation from main.ti_reuse_fingerprints where built_at >= to_timestamp(?)",
                    [since]).fetchall()}
    for event in events:
        unique_id = getattr(event, "metadata", {}).get("unique_id")
        if unique_id is not None and unique_id.text in counts:
            extra = {"dagster/row_count": counts[unique_id.text]}
            if rebuilt is not None and unique_id.text in reusable:
                extra[REUSED_METADATA] = relations[unique_id.text] not in rebuilt
            event = event.with_metadata({**event.metadata, **extra})
        yield event


def _column_metadata_plan(setting: str = "auto", manifest_path: Path | None = None) -> tuple[bool, dict | None]:
    """(build them in this run, the stored ones to attach): `1` builds, `0` neither, `auto` attaches
    what is stored for this dbt code version (None when nothing is: the run goes without, D118)."""
    setting = (setting or "auto").strip()
    if setting == "1":
        return True, None
    if setting == "0":
        return False, {}
    return False, column_metadata.load(manifest_path or dbt_project.manifest_path)


def _close_dbt_duckdb() -> None:
    """Close the DuckDB handle the metadata queries opened in this process.

    Otherwise later steps of an in-process run (publishing, the report) cannot open
    the warehouse: DuckDB refuses a second configuration of an open file.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        try:
            environment.close()
        finally:
            DuckDBConnectionManager.close_all_connections()


dbt_resource = DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))

# Every KPI mart, for the assets that read them all after dbt (publishing, the report):
# a new kpi_* model joins them without code changes.
KPI_MART_KEYS = sorted(
    (key for key in training_impact_dbt.keys if key.path[0] == "marts" and key.path[-1].startswith("kpi_")),
    key=lambda key: key.to_user_string(),
)
# the analyst-safe views over the marts (models/serving, D126), published beside them
SERVING_VIEW_KEYS = sorted(
    (key for key in training_impact_dbt.keys if key.path[0] == "serving"),
    key=lambda key: key.to_user_string(),
)
