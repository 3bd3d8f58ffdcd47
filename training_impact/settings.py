"""Where things live and how runs are configured: the settings layer, the bottom of the tree.

Everything is derived from one data root (env ``TI_DATA_DIR``, default ``./data``)
so that a test, the demo and a production deployment differ only by that path.

This is the one module that reads the process environment (tests/unit/test_layers.py
checks it). The edges (the CLI, ``dagster dev`` / the daemon loading the definitions)
build a ``Settings`` once with ``Settings.from_environment()``; the Dagster resources of
``orchestration/resources.py`` are made from it and passed to every asset, and the
functions below the orchestration take what they need as arguments.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PARAMETERS_FILE = REPO_ROOT / "config" / "parameters.yml"

# Runs must make no outbound calls: dbt, Dagster and GX each have their own switch.
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DO_NOT_TRACK": "1",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "False",
}


def disable_telemetry() -> None:
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "training_impact.duckdb"

    @property
    def gx(self) -> Path:
        return self.root / "gx"

    @property
    def truth(self) -> Path:
        return self.root / "truth.json"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def ensure(self) -> "Paths":
        for folder in (self.landing, self.bronze, self.rejected, self.warehouse.parent, self.gx):
            folder.mkdir(parents=True, exist_ok=True)
        from training_impact.files import restrict

        # raw records and their traces: owner only (SECURITY.md); landing belongs to the delivery channel
        restrict([self.bronze, self.rejected, self.warehouse.parent, self.gx])
        from training_impact.disk import ensure_free_space

        # Before a run writes anything: Dagster's SQLite storage reports a full disk only as
        # "disk I/O error", so the reserve ($TI_MIN_FREE_MB) is checked here, by path (D86).
        ensure_free_space(self.root, 0, "a run (manifests, logs, Dagster's run storage)")
        home = os.environ.get("DAGSTER_HOME")
        if home:
            ensure_free_space(home, 0, "Dagster's run storage ($DAGSTER_HOME)")
        return self

    def export_env(self) -> None:
        """Expose the paths to dbt (profiles.yml / sources read these variables)."""
        os.environ["TI_DATA_DIR"] = str(self.root)
        os.environ["TI_WAREHOUSE"] = str(self.warehouse)
        os.environ["TI_BRONZE_DIR"] = str(self.bronze)


def data_paths(root: str | os.PathLike | None = None) -> Paths:
    chosen = root or os.environ.get("TI_DATA_DIR") or (REPO_ROOT / "data")
    return Paths(Path(chosen).resolve())


@dataclass(frozen=True)
class Parameters:
    path: Path = field(default_factory=lambda: parameters_file())

    @cached_property
    def values(self) -> dict:
        with open(self.path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)

    @property
    def definition_version(self) -> str:
        return str(self.values["definition_version"])


def parameters_file(environ: Mapping[str, str] | None = None) -> Path:
    """config/parameters.yml, or the file TI_PARAMETERS names (a deployment's own windows and
    matching choices, e.g. which worker attributes to match on exactly)."""
    chosen = (os.environ if environ is None else environ).get("TI_PARAMETERS")
    return Path(chosen).resolve() if chosen else PARAMETERS_FILE


def load_parameters(path: Path | None = None) -> dict:
    """The parameters file as a dict: parsed again only when the file changes (settings and rules
    ask for it per landing file and per validation), a fresh copy for each caller."""
    path = Path(path or parameters_file())
    stat = path.stat()
    return copy.deepcopy(_parsed_parameters(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _parsed_parameters(path: str, mtime_ns: int, size: int) -> dict:
    return Parameters(Path(path)).values


# --------------------------------------------------------------------------- the organisation's settings

@dataclass(frozen=True)
class Organisation:
    """The company's own settings, one place: config/parameters.yml ``organisation:`` (DECISIONS D136).

    Everything else derives from them: the quality gate accepts money in ``currency`` only
    (accepted_currency:currency; the value reaches the GX suite as a parameter, so the suite and its
    lock do not change with it), the marts report in it, ``period`` labels are fiscal years starting
    in ``fiscal_year_start_month``, a mapping without a ``timezone`` reads local timestamps in
    ``timezone`` (and the delivery days are in it unless TI_TIMEZONE says otherwise), and a slice of
    fewer than ``min_cell_size`` people publishes no figure.
    """

    currency: str = "EUR"
    fiscal_year_start_month: int = 1
    timezone: str = "UTC"
    min_cell_size: int = 5

    @classmethod
    def from_parameters(cls, params: Mapping | None = None) -> "Organisation":
        """From a parameters mapping (default: the run's parameters file). A parameters file of an
        earlier version keeps currency and min_cell_size under ``reporting:``; it is read as well."""
        if params is None:
            params = load_parameters()
        params = params or {}
        legacy = params.get("reporting") or {}
        own = params.get("organisation") or {}
        default = cls()

        def pick(name: str):
            if own.get(name) is not None:
                return own[name]
            if legacy.get(name) is not None:
                return legacy[name]
            return getattr(default, name)

        made = cls(currency=str(pick("currency")).strip().upper(),
                   fiscal_year_start_month=int(pick("fiscal_year_start_month")),
                   timezone=str(pick("timezone")).strip(),
                   min_cell_size=int(pick("min_cell_size")))
        made.check()
        return made

    def check(self) -> None:
        if not (len(self.currency) == 3 and self.currency.isalpha()):
            raise ValueError(f"organisation.currency {self.currency!r} is not an ISO 4217 code such as EUR or USD"
                             " (config/parameters.yml)")
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise ValueError(f"organisation.fiscal_year_start_month {self.fiscal_year_start_month} is not 1..12"
                             " (config/parameters.yml)")
        if self.min_cell_size < 1:
            raise ValueError(f"organisation.min_cell_size {self.min_cell_size} must be at least 1")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise ValueError(f"organisation.timezone {self.timezone!r} is not an IANA time zone ({exc})") from None


def organisation(params: Mapping | None = None) -> Organisation:
    """The organisation's settings of `params` (default: the run's parameters file)."""
    return Organisation.from_parameters(params)


def parameters_timezone() -> str:
    """organisation.timezone of the run's parameters file (read again only when it changes)."""
    return _organisation_timezone(parameters_file())


def _organisation_timezone(path: Path) -> str:
    """The time zone of the parameters file at `path`; UTC when the file cannot be read."""
    try:
        return Organisation.from_parameters(load_parameters(path)).timezone
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return Organisation.timezone


# Mapping files kept with the data, outside the project's tree (docs/mappings.md): the data root's
# own folder; TI_MAPPINGS_DIR names another one, searched first.
DATA_ROOT_MAPPINGS = "mappings"


def user_mapping_dirs(data_root: str | os.PathLike | None = None,
                      environ: Mapping[str, str] | None = None) -> list[Path]:
    """Folders holding a deployment's own mapping files, searched by name before ingestion/mappings/:
    TI_MAPPINGS_DIR when set, then ``<data root>/mappings/``."""
    env = os.environ if environ is None else environ
    out: list[Path] = []
    configured = str(env.get("TI_MAPPINGS_DIR", "") or "").strip()
    if configured:
        out.append(Path(configured).expanduser().resolve())
    if data_root is not None:
        out.append(Path(data_root).resolve() / DATA_ROOT_MAPPINGS)
    return out


# --------------------------------------------------------------------------- settings from the environment

ALERT_PREFIX = "TI_ALERT_"

# Every variable the project reads, with what it sets (docs/deployment.md lists them for operators).
VARIABLES = {
    "TI_DATA_DIR": "the data root (default ./data)",
    "TI_PARAMETERS": "a deployment's own parameters file (default config/parameters.yml)",
    "TI_MAPPINGS_DIR": "a folder of the deployment's own vendor mappings, searched before <data root>/mappings/",
    "TI_ENV": "production (default) or development",
    "TI_PSEUDONYM_KEY": "the pseudonymisation key",
    "TI_PSEUDONYM_KEY_FILE": "a file holding the pseudonymisation key (chmod 600)",
    "TI_ENGINE": "the warehouse engine: duckdb (default) or spark (docs/scale-out.md)",
    "TI_SPARK_MASTER": "Spark's master with TI_ENGINE=spark (default local[<cores>])",
    "TI_SPARK_DRIVER_MEMORY": "Spark's driver memory with TI_ENGINE=spark (default 2g)",
    "TI_SPARK_WAREHOUSE_DIR": "Spark's tables and metastore with TI_ENGINE=spark (default <data root>/warehouse/spark)",
    "TI_DUCKDB_MEMORY_LIMIT": "DuckDB's memory limit in the dbt step (default: 80% of RAM, at most 4GB)",
    "TI_DUCKDB_THREADS": "DuckDB's threads in the dbt step (default: the machine's cores)",
    "TI_DUCKDB_TEMP_DIR": "where DuckDB spills what exceeds its memory limit (default <data root>/warehouse/duckdb_tmp)",
    "TI_DBT_COLUMN_METADATA": "dbt column schema and lineage: auto (default), 1 every run, 0 never",
    "TI_DBT_CONSOLE": "dbt's log on stdout: all (default; the CLI without --verbose: problems only)",
    "TI_WAREHOUSE_LOCK_TIMEOUT": "seconds the dbt step waits for a warehouse another process holds",
    "TI_POOL_WAIT_WARN_SECONDS": "seconds a step may wait for the writer pool before it is reported",
    "TI_RUN_LOCK_TIMEOUT": "seconds a run waits for the data root's run lock",
    "TI_MIN_FREE_MB": "megabytes kept free on top of every disk estimate",
    "TI_SERVING_DIR": "the serving folder BI tools read (default <data root>/serving)",
    "TI_SERVING_KEEP": "published serving versions kept on disk",
    "TI_POSTGRES_DSN": "PostgreSQL to publish the marts and the audit schema to",
    "TI_OPENLINEAGE_URL": "an OpenLineage HTTP endpoint the run's events are posted to",
    "TI_OPENLINEAGE_API_KEY": "the API key sent to TI_OPENLINEAGE_URL (Authorization: Bearer)",
    "TI_OPENLINEAGE_NAMESPACE": "the OpenLineage namespace of the run's jobs and datasets (training_impact)",
    "TI_DAGSTER_URL": "the Dagster UI's address, linked from alerts",
    "TI_NIGHTLY_CRON": "the nightly schedule's cron",
    "TI_TIMEZONE": "the schedule's and the delivery days' time zone (default organisation.timezone)",
    "TI_PARTITIONS_START": "the first delivery day of the partitions",
    "TI_SENSOR_MAX_DAY_RUNS": "delivery days the landing sensor runs one by one before one catch-up run",
    "TI_SENSOR_SETTLE_SECONDS": "seconds a landing file must be left alone before the sensor takes it",
    "TI_CHROMIUM": "the Chromium executable for the report's screenshots",
    **{f"{ALERT_PREFIX}{name}": "alert channel (orchestration/alerts.py)" for name in (
        "WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMTP_TO", "SMTP_USER", "SMTP_PASSWORD",
        "SMTP_STARTTLS", "SMTP_SSL", "TIMEOUT_SECONDS")},
}


def environment() -> Mapping[str, str]:
    """The process environment, for the few readers that take a whole mapping (the key, alerts)."""
    return os.environ


def _number(environ: Mapping[str, str], name: str, default: float, kind=float) -> float:
    raw = str(environ.get(name, "") or "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, not {raw!r}") from None


# The warehouse engines dbt builds on: DuckDB on one machine, Spark beyond it (docs/scale-out.md).
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, built once at the edge (CLI, the definitions a daemon loads)."""

    data_dir: Path
    parameters_file: Path = PARAMETERS_FILE
    mode: str = "production"
    engine: str = "duckdb"  # ENGINES
    spark_master: str | None = None         # None: local[<cores>]
    spark_driver_memory: str = "2g"
    spark_warehouse_dir: Path | None = None  # None: <data root>/warehouse/spark
    duckdb_memory_limit: str | None = None  # None: default_memory_limit()
    duckdb_threads: int | None = None       # None: the machine's cores
    duckdb_temp_dir: Path | None = None     # None: <data root>/warehouse/duckdb_tmp
    column_metadata: str = "auto"
    dbt_console: str = "all"  # "problems": only dbt's error / warning / summary lines on stdout
    warehouse_lock_timeout: float = 900.0
    pool_warn_seconds: float = 60.0
    run_lock_timeout: float = 60.0
    min_free_mb: float = 64.0
    serving_dir: Path | None = None
    serving_keep: int = 3
    postgres_dsn: str | None = field(default=None, repr=False)
    openlineage_url: str | None = None
    openlineage_api_key: str | None = field(default=None, repr=False)
    openlineage_namespace: str = "training_impact"
    dagster_url: str | None = None
    nightly_cron: str = "0 2 * * *"
    timezone: str = "UTC"
    partitions_start: str = "2020-01-01"
    sensor_max_day_runs: int = 7
    sensor_settle_seconds: float = 30.0
    chromium: str | None = None
    alert: Mapping[str, str] = field(default_factory=dict, repr=False)  # the TI_ALERT_* variables, as set
    pseudonym_key: str | None = field(default=None, repr=False)
    pseudonym_key_file: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        default = {f.name: f.default for f in fields(cls)}

        def text(name: str) -> str | None:
            value = str(env.get(name, "") or "").strip()
            return value or None

        serving, spill = text("TI_SERVING_DIR"), text("TI_DUCKDB_TEMP_DIR")
        keep = int(_number(env, "TI_SERVING_KEEP", default["serving_keep"], int))
        if keep < 1:
            raise ValueError(f"TI_SERVING_KEEP={keep} must be at least 1 (the published version itself)")
        engine = (text("TI_ENGINE") or default["engine"]).lower()
        if engine not in ENGINES:
            raise ValueError(f"TI_ENGINE={engine!r} is not an engine: choose {' or '.join(ENGINES)}")
        spark_dir = text("TI_SPARK_WAREHOUSE_DIR")
        made = cls(
            data_dir=data_paths(text("TI_DATA_DIR")).root,
            parameters_file=parameters_file(env),
            mode=(text("TI_ENV") or default["mode"]).lower(),
            engine=engine,
            spark_master=text("TI_SPARK_MASTER"),
            spark_driver_memory=text("TI_SPARK_DRIVER_MEMORY") or default["spark_driver_memory"],
            spark_warehouse_dir=Path(spark_dir).resolve() if spark_dir else None,
            duckdb_memory_limit=text("TI_DUCKDB_MEMORY_LIMIT"),
            duckdb_threads=int(_number(env, "TI_DUCKDB_THREADS", 0, int)) or None,
            duckdb_temp_dir=Path(spill).resolve() if spill else None,
            column_metadata=text("TI_DBT_COLUMN_METADATA") or default["column_metadata"],
            dbt_console=(text("TI_DBT_CONSOLE") or default["dbt_console"]).lower(),
            warehouse_lock_timeout=_number(env, "TI_WAREHOUSE_LOCK_TIMEOUT", default["warehouse_lock_timeout"]),
            pool_warn_seconds=_number(env, "TI_POOL_WAIT_WARN_SECONDS", default["pool_warn_seconds"]),
            run_lock_timeout=_number(env, "TI_RUN_LOCK_TIMEOUT", default["run_lock_timeout"]),
            min_free_mb=_number(env, "TI_MIN_FREE_MB", default["min_free_mb"]),
            serving_dir=Path(serving).resolve() if serving else None,
            serving_keep=keep,
            postgres_dsn=text("TI_POSTGRES_DSN"),
            openlineage_url=text("TI_OPENLINEAGE_URL"),
            openlineage_api_key=text("TI_OPENLINEAGE_API_KEY"),
            openlineage_namespace=text("TI_OPENLINEAGE_NAMESPACE") or default["openlineage_namespace"],
            dagster_url=text("TI_DAGSTER_URL"),
            nightly_cron=text("TI_NIGHTLY_CRON") or default["nightly_cron"],
            timezone=text("TI_TIMEZONE") or _organisation_timezone(parameters_file(env)),
            partitions_start=text("TI_PARTITIONS_START") or default["partitions_start"],
            sensor_max_day_runs=int(_number(env, "TI_SENSOR_MAX_DAY_RUNS", default["sensor_max_day_runs"], int)),
            sensor_settle_seconds=_number(env, "TI_SENSOR_SETTLE_SECONDS", default["sensor_settle_seconds"]),
            chromium=text("TI_CHROMIUM"),
            alert={k: v for k, v in env.items() if k.startswith(ALERT_PREFIX)},
            pseudonym_key=text("TI_PSEUDONYM_KEY"),
            pseudonym_key_file=text("TI_PSEUDONYM_KEY_FILE"),
        )
        return replace(made, **overrides) if overrides else made

    @property
    def paths(self) -> Paths:
        return Paths(self.data_dir)

    def with_data_dir(self, root: str | os.PathLike) -> "Settings":
        return replace(self, data_dir=Path(root).resolve())


MAX_DEFAULT_MEMORY_BYTES = 4 << 30  # the 6 GB ceiling of a run at a million employees, less ~2 GB beside DuckDB (D120)


def default_memory_limit() -> str:
    """80% of the machine's memory (DuckDB's own default), at most 4 GB, in MB."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = MAX_DEFAULT_MEMORY_BYTES
    return f"{min(int(physical * 0.8), MAX_DEFAULT_MEMORY_BYTES) >> 20}MB"


def engine_environment(settings: Settings) -> dict[str, str]:
    """The engine's limits as the variables dbt's profile (dbt_project/profiles.yml) and, on Spark, the
    dbt executable that starts the session (orchestration/spark_dbt.py) read."""
    values = {
        "TI_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit or default_memory_limit(),
        "TI_DUCKDB_THREADS": str(settings.duckdb_threads or os.cpu_count() or 1),
        "TI_DUCKDB_TEMP_DIR": str(settings.duckdb_temp_dir or settings.paths.warehouse.parent / "duckdb_tmp"),
    }
    if settings.engine == "spark":
        values.update(spark_environment(settings))
    return values


def spark_warehouse_dir(settings: Settings) -> Path:
    return settings.spark_warehouse_dir or settings.paths.warehouse.parent / "spark"


def spark_environment(settings: Settings) -> dict[str, str]:
    """Spark's master, driver memory and folders (tables, metastore, scratch) for the dbt executable."""
    return {
        "TI_ENGINE": "spark",
        "TI_SPARK_MASTER": settings.spark_master or f"local[{settings.duckdb_threads or os.cpu_count() or 1}]",
        "TI_SPARK_DRIVER_MEMORY": settings.spark_driver_memory,
        "TI_SPARK_WAREHOUSE_DIR": str(spark_warehouse_dir(settings)),
    }


def duckdb_config(settings: Settings) -> dict[str, str | bool]:
    """The same limits for a DuckDB connection the run's own process opens on the warehouse (the
    audit's copies of the members, D132): without them DuckDB takes 80% of the machine's memory."""
    limits = engine_environment(settings)
    return {"memory_limit": limits["TI_DUCKDB_MEMORY_LIMIT"], "threads": int(limits["TI_DUCKDB_THREADS"]),
            "temp_directory": limits["TI_DUCKDB_TEMP_DIR"],
            "autoinstall_known_extensions": False, "autoload_known_extensions": False}


@contextmanager
def environment_for_children(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables while child processes (dbt) and in-process dbt read them, then put back what was
    there: a later run in this process must not mistake them for configuration."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def key_environment(settings: Settings) -> dict[str, str]:
    """The run mode and key settings as the variables privacy.keys.require_key reads."""
    values = {"TI_ENV": settings.mode, "TI_PSEUDONYM_KEY": settings.pseudonym_key,
              "TI_PSEUDONYM_KEY_FILE": settings.pseudonym_key_file}
    return {name: value for name, value in values.items() if value}


def default_environment(**values: str) -> None:
    """Set variables that are not set yet, for this process's settings and its children (dbt reads
    TI_ENV through the privacy plugin): the demo's development mode."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def dagster_home(paths: Paths) -> Path:
    """``$DAGSTER_HOME`` when set (deployments), else a home inside the data root."""
    return Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home)


def export_dagster_home(home: Path) -> None:
    """Dagster finds its instance through $DAGSTER_HOME (``DagsterInstance.get``)."""
    os.environ["DAGSTER_HOME"] = str(home)


def export_spark_python(executable: str) -> None:
    """Spark's Python workers run `executable` (the driver's interpreter, where the project is installed)."""
    os.environ["PYSPARK_PYTHON"] = executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = executable


def subprocess_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process (dbt parse, Chromium): this one's, telemetry off, plus `extra`."""
    return {**os.environ, **TELEMETRY_OFF, **extra}
