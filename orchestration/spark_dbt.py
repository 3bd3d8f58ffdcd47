"""dbt on Spark, as the executable dagster-dbt runs: ``training-impact-dbt-spark <dbt args>``.

dbt-spark's ``session`` method runs Spark inside dbt's own process, creating the session with
``SparkSession.builder...getOrCreate()`` on its first statement. This executable creates that session
first, in the same process, with the project's settings (master, driver memory, warehouse and
metastore folders, UTC, Parquet schema merging for bronze), registers the privacy functions on it
(privacy/spark_functions.py: the key is read here and never reaches SQL or logs), then hands the
arguments to dbt's own command line. dbt's getOrCreate() then returns this session. On a cluster the
same functions are registered by the job that owns the session (docs/scale-out.md).

Everything it reads comes from the settings layer (TI_SPARK_*, the key variables), which the dbt
step sets for its child (settings.engine_environment).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import json
import shutil

from training_impact.privacy.keys import require_key
from training_impact.privacy.spark_functions import register_spark_functions
from training_impact.settings import (Settings, disable_telemetry, export_spark_python, key_environment,
                                     spark_environment)


LOG4J_FILE = "log4j2.properties"
LOG4J = """\
# Spark's log: to {log}, warnings and errors (written by orchestration/spark_dbt.py)
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


def session_config(settings: Settings) -> dict[str, str]:
    """The Spark configuration of a local session for this data root."""
    spark = spark_environment(settings)
    home = Path(spark["TI_SPARK_WAREHOUSE_DIR"])
    return {
        "spark.master": spark["TI_SPARK_MASTER"],
        "spark.app.name": "training-impact dbt",
        "spark.driver.memory": spark["TI_SPARK_DRIVER_MEMORY"],
        "spark.sql.warehouse.dir": str(home / "tables"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true",
        # Spark's own log goes to a file beside its tables (log4j2.properties written at start): dbt's log
        # says what failed, without a Java stack trace per failed statement on the console.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home} -Djava.io.tmpdir={home / 'tmp'} "
                                         f"-Dlog4j2.configurationFile=file:{home / LOG4J_FILE}",
        "spark.local.dir": str(home / "tmp"),
        # The same instants as DuckDB's (its session zone is UTC in the profile's settings).
        "spark.sql.session.timeZone": "UTC",
        # Bronze files of one entity may differ in optional columns (DuckDB's union_by_name).
        "spark.sql.parquet.mergeSchema": "true",
        # Small local jobs: few shuffle partitions; no web UI (no port opened by a nightly run).
        "spark.sql.shuffle.partitions": "8",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # dbt-spark sets ANSI off itself (connections.py); kept explicit so the session it finds agrees.
        "spark.sql.ansi.enabled": "false",
        # Instants written as Parquet TIMESTAMP (UTC-adjusted micros), which DuckDB reads as timestamptz.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }


def start_session(settings: Settings) -> Any:
    """The Spark session with the privacy functions registered."""
    from pyspark.sql import SparkSession

    # Python workers run this interpreter, where training_impact is installed (privacy/spark_functions.py).
    export_spark_python(sys.executable)
    config = session_config(settings)
    Path(config["spark.local.dir"]).mkdir(parents=True, exist_ok=True)
    home = Path(spark_environment(settings)["TI_SPARK_WAREHOUSE_DIR"])
    (home / LOG4J_FILE).write_text(LOG4J.format(log=home / "spark.log"))
    builder = SparkSession.builder.enableHiveSupport()
    for name, value in config.items():
        builder = builder.config(name, value)
    spark = builder.getOrCreate()
    register_spark_functions(spark, require_key(key_environment(settings)))
    return spark


# The schemas dbt builds (dbt_project.yml: the target schema `main` and its custom schemas).
BUILT_SCHEMA_PREFIX = "main"
EXPORT_MANIFEST = "export.json"


def export_dir(settings: Settings) -> Path:
    return Path(spark_environment(settings)["TI_SPARK_WAREHOUSE_DIR"]) / "export"


def persisted_helpers(names: list[str]) -> set[str]:
    """The tables `ti_persisted_ctes` wrote for a model of the same schema: `<model>__<cte>` (D146)."""
    present = set(names)
    return {n for n in present if any(n.startswith(m + "__") for m in present if m != n)}


def export_tables(spark: Any, folder: Path) -> list[dict]:
    """Every table and view dbt built on Spark, as Parquet under `folder` (<schema>/<name>/), with a
    manifest: the readers after dbt (publishing, the audit, the report) take them from DuckDB's
    warehouse file, where the dbt step copies them (mirror_into_duckdb)."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    exported = []
    for database in sorted(d.name for d in spark.catalog.listDatabases()):
        # main_*: the layers' schemas (not `main` itself, which holds dbt's reuse fingerprints on Spark)
        if not database.startswith(BUILT_SCHEMA_PREFIX + "_"):
            continue
        tables = sorted((t for t in spark.catalog.listTables(database) if not t.isTemporary), key=lambda t: t.name)
        helpers = persisted_helpers([t.name for t in tables])
        for name in helpers:  # a mart's persisted inputs (D146): read while it built, no output of the project
            spark.sql(f"drop table if exists {database}.{name}")
        for table in tables:
            if table.name in helpers:
                continue
            out = staging / database / table.name
            spark.table(f"{database}.{table.name}").write.mode("overwrite").parquet(str(out))
            exported.append({"schema": database, "name": table.name, "type": table.tableType.lower(),
                             "path": str(folder / database / table.name)})
    staging.mkdir(parents=True, exist_ok=True)
    (staging / EXPORT_MANIFEST).write_text(json.dumps(exported, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)  # whole or not at all: a killed export leaves the last complete one
    return exported


def mirror_into_duckdb(folder: Path, warehouse: Path, config: dict | None = None) -> int:
    """Copy Spark's exported tables into the DuckDB warehouse file, in one transaction, replacing
    what was there: the tables downstream steps and BI read have the names they have on DuckDB."""
    import duckdb

    exported = json.loads((folder / EXPORT_MANIFEST).read_text())
    with duckdb.connect(str(warehouse), config=config or {}) as con:
        con.execute("begin")
        for table in exported:
            schema, name = table["schema"], table["name"]
            con.execute(f'create schema if not exists "{schema}"')
            existing = con.execute("select table_type from information_schema.tables where table_schema = ? and "
                                   "table_name = ?", [schema, name]).fetchone()
            if existing and existing[0] == "VIEW":  # a view an earlier DuckDB build left: replaced by the table
                con.execute(f'drop view "{schema}"."{name}"')
            con.execute(f'create or replace table "{schema}"."{name}" as select * from '
                        f"read_parquet('{Path(table['path']) / '*.parquet'}')")
        con.execute("commit")
    return len(exported)


BUILDING_COMMANDS = {"build", "run", "seed", "snapshot"}


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    settings = Settings.from_environment()
    args = sys.argv[1:] if argv is None else argv
    spark = None
    if args and args[0] not in {"parse", "ls", "list", "deps", "clean", "debug", "--version"}:
        spark = start_session(settings)
    from dbt.cli.main import cli

    code = 0
    try:
        cli.main(args=args, prog_name="dbt", standalone_mode=True)
    except SystemExit as ended:
        code = int(ended.code or 0)
    if spark is not None and args[0] in BUILDING_COMMANDS:
        export_tables(spark, export_dir(settings))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
