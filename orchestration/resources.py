"""The run's settings as Dagster resources (issue 14; DECISIONS D113).

``training_impact.settings.Settings`` is built at the edge. The CLI builds it once per
run from its flags and environment, and ``training_impact.pipeline`` passes
``resources_from(settings)`` to the run. The code location that ``dagster dev`` and the
daemon load binds ``unset_resources()``: a field left unset takes the value of the loading
process's settings when the resource is used (a run, a sensor tick), the Dagster way of
reading deployment configuration late (like ``dg.EnvVar``), so the definitions can be
imported before the environment is final. Assets, sensors and the schedule take what they
need as typed parameters; nothing below the orchestration reads the environment.

Every field is named as its ``Settings`` attribute. Secrets (the pseudonymisation key, the
PostgreSQL DSN, the webhook URL, the SMTP password) are bound as ``dg.EnvVar`` when they
came from that variable, so the Dagster UI shows the variable's name, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path

import dagster as dg

from training_impact.settings import Paths, Settings, key_environment, load_parameters

SECRET_VARIABLES = {
    "pseudonym_key": "TI_PSEUDONYM_KEY",
    "postgres_dsn": "TI_POSTGRES_DSN",
    "webhook_url": "TI_ALERT_WEBHOOK_URL",
    "smtp_password": "TI_ALERT_SMTP_PASSWORD",
    "openlineage_api_key": "TI_OPENLINEAGE_API_KEY",
}
_SETTINGS_FIELDS = {f.name for f in fields(Settings)}


class _SettingsResource(dg.ConfigurableResource):
    """A group of settings; a field left None takes the loading process's setting when used."""

    def value(self, name: str):
        mine = getattr(self, name)
        return mine if mine is not None else getattr(Settings.from_environment(), name)

    def explicit(self) -> dict:
        """The fields set on this resource, as Settings attributes."""
        return {name: getattr(self, name) for name in self.__class__.model_fields
                if name in _SETTINGS_FIELDS and getattr(self, name) is not None}


class DataRootResource(_SettingsResource):
    """The data root every zone derives from (TI_DATA_DIR), and the parameters file (TI_PARAMETERS)."""

    data_dir: str | None = None
    parameters_file: str | None = None
    sensor_settle_seconds: float | None = None  # TI_SENSOR_SETTLE_SECONDS: a younger landing file waits
    sensor_max_day_runs: int | None = None      # TI_SENSOR_MAX_DAY_RUNS: longer backlogs make one catch-up run

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.value("data_dir")).resolve())

    def parameters(self) -> dict:
        return load_parameters(Path(self.value("parameters_file")))


class EngineResource(_SettingsResource):
    """The warehouse engine and how its steps behave: column lineage, waits, the disk reserve."""

    engine: str | None = None                   # TI_ENGINE: duckdb | spark (docs/scale-out.md)
    spark_master: str | None = None             # TI_SPARK_MASTER (default local[<cores>])
    spark_driver_memory: str | None = None      # TI_SPARK_DRIVER_MEMORY (default 2g)
    spark_warehouse_dir: str | None = None      # TI_SPARK_WAREHOUSE_DIR (<data root>/warehouse/spark)
    duckdb_memory_limit: str | None = None      # TI_DUCKDB_MEMORY_LIMIT, e.g. 4GB (default 80% of RAM, <= 4GB)
    duckdb_threads: int | None = None           # TI_DUCKDB_THREADS (default: the cores)
    duckdb_temp_dir: str | None = None          # TI_DUCKDB_TEMP_DIR: spill folder (<data root>/warehouse/duckdb_tmp)
    column_metadata: str | None = None          # TI_DBT_COLUMN_METADATA: auto | 1 | 0
    dbt_console: str | None = None              # TI_DBT_CONSOLE: all | problems (the CLI without --verbose)
    warehouse_lock_timeout: float | None = None  # TI_WAREHOUSE_LOCK_TIMEOUT
    pool_warn_seconds: float | None = None      # TI_POOL_WAIT_WARN_SECONDS
    run_lock_timeout: float | None = None       # TI_RUN_LOCK_TIMEOUT


class ServingResource(_SettingsResource):
    """Where BI reads (TI_SERVING_DIR, default <data root>/serving) and how many versions stay (TI_SERVING_KEEP)."""

    serving_dir: str | None = None
    serving_keep: int | None = None


class PostgresResource(_SettingsResource):
    """PostgreSQL the marts and the audit schema are published to (TI_POSTGRES_DSN); none when unset."""

    postgres_dsn: str | None = None


class PseudonymisationResource(_SettingsResource):
    """The run mode (TI_ENV) and the pseudonymisation key (TI_PSEUDONYM_KEY or TI_PSEUDONYM_KEY_FILE)."""

    mode: str | None = None
    pseudonym_key: str | None = None
    pseudonym_key_file: str | None = None

    def require_key(self) -> bytes:
        """The run's key; a production run without one stops here, before any file is read."""
        from training_impact.privacy.keys import require_key

        return require_key(key_environment(settings_from(self)))


class AlertsResource(_SettingsResource):
    """Alert channels (TI_ALERT_*), the UI address alerts link to (TI_DAGSTER_URL), and the
    OpenLineage endpoint the audit posts to (TI_OPENLINEAGE_URL, _API_KEY, _NAMESPACE)."""

    channels: dict[str, str] | None = None  # the TI_ALERT_* variables but the two secrets below
    webhook_url: str | None = None
    smtp_password: str | None = None
    dagster_url: str | None = None
    openlineage_url: str | None = None
    openlineage_api_key: str | None = None
    openlineage_namespace: str | None = None

    def variables(self) -> dict[str, str]:
        """The TI_ALERT_* variables (orchestration.alerts.AlertSettings.from_env reads them)."""
        if self.channels is None and self.webhook_url is None and self.smtp_password is None:
            return dict(Settings.from_environment().alert)
        secrets = {"TI_ALERT_WEBHOOK_URL": self.webhook_url, "TI_ALERT_SMTP_PASSWORD": self.smtp_password}
        return {**(self.channels or {}), **{name: value for name, value in secrets.items() if value}}


def _secret(value: str | None, name: str, environ: Mapping[str, str] | None):
    """An EnvVar when the value came from that variable (the UI shows the name), else the value."""
    if value and environ is not None and environ.get(name) == value:
        return dg.EnvVar(name)
    return value


def resources_from(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources of one run, every field set from `settings` (built at the edge).

    `environ`: the environment the settings were read from; secrets that came from it are bound
    as ``dg.EnvVar``.
    """
    alert = dict(settings.alert)
    return {
        "data_root": DataRootResource(data_dir=str(settings.data_dir), parameters_file=str(settings.parameters_file),
                                      sensor_settle_seconds=settings.sensor_settle_seconds,
                                      sensor_max_day_runs=settings.sensor_max_day_runs),
        "engine": EngineResource(
            engine=settings.engine, column_metadata=settings.column_metadata, dbt_console=settings.dbt_console,
            spark_master=settings.spark_master, spark_driver_memory=settings.spark_driver_memory,
            spark_warehouse_dir=str(settings.spark_warehouse_dir) if settings.spark_warehouse_dir else None,
            duckdb_memory_limit=settings.duckdb_memory_limit, duckdb_threads=settings.duckdb_threads,
            duckdb_temp_dir=str(settings.duckdb_temp_dir) if settings.duckdb_temp_dir else None,
            warehouse_lock_timeout=settings.warehouse_lock_timeout, pool_warn_seconds=settings.pool_warn_seconds,
            run_lock_timeout=settings.run_lock_timeout),
        "serving": ServingResource(serving_dir=str(settings.serving_dir) if settings.serving_dir else None,
                                   serving_keep=settings.serving_keep),
        "postgres": PostgresResource(postgres_dsn=_secret(settings.postgres_dsn, "TI_POSTGRES_DSN", environ)),
        "pseudonymisation": PseudonymisationResource(
            mode=settings.mode, pseudonym_key=_secret(settings.pseudonym_key, "TI_PSEUDONYM_KEY", environ),
            pseudonym_key_file=settings.pseudonym_key_file),
        "alerts": AlertsResource(
            channels={k: v for k, v in alert.items() if k not in SECRET_VARIABLES.values()},
            webhook_url=_secret(alert.get("TI_ALERT_WEBHOOK_URL"), "TI_ALERT_WEBHOOK_URL", environ),
            smtp_password=_secret(alert.get("TI_ALERT_SMTP_PASSWORD"), "TI_ALERT_SMTP_PASSWORD", environ),
            dagster_url=settings.dagster_url, openlineage_url=settings.openlineage_url,
            openlineage_api_key=_secret(settings.openlineage_api_key, "TI_OPENLINEAGE_API_KEY", environ),
            openlineage_namespace=settings.openlineage_namespace),
    }


def unset_resources() -> dict[str, dg.ConfigurableResource]:
    """The code location's resources: every field from the loading process's settings, when used."""
    return {"data_root": DataRootResource(), "engine": EngineResource(), "serving": ServingResource(),
            "postgres": PostgresResource(), "pseudonymisation": PseudonymisationResource(),
            "alerts": AlertsResource()}


def settings_from(*resources: _SettingsResource) -> Settings:
    """The Settings the functions below the orchestration take: the resources' fields over the
    loading process's settings."""
    explicit: dict = {}
    for resource in resources:
        explicit.update(resource.explicit())
    for name in ("data_dir", "parameters_file", "serving_dir", "duckdb_temp_dir", "spark_warehouse_dir"):
        if explicit.get(name) is not None:
            explicit[name] = Path(explicit[name]).resolve()
    return replace(Settings.from_environment(), **explicit)
