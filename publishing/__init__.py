"""Serving outputs that BI tools read: a swapped DuckDB file, Parquet files, optionally PostgreSQL.

See docs/serving.md. Runs after dbt built the marts (Dagster asset ``published_marts``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training_impact.publishing.contracts import (
    ContractError,
    MartContract,
    load_mart_contracts,
    load_published_contracts,
    load_serving_contracts,
)
from training_impact.publishing.serving import PublishReport, current_version, publish, serving_dir, serving_file
from training_impact.disk import ensure_free_space, no_space_is_clear, size_of
from training_impact.settings import Paths, Settings


def publish_run(
    paths: Paths,
    run_id: str,
    *,
    manifest_path: Path | None = None,
    settings: Settings | None = None,
    postgres_dsn: str | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> PublishReport:
    """Publish the warehouse of ``paths`` to its serving dir, and to PostgreSQL when a DSN is given
    (`postgres_dsn`, else the settings' ``$TI_POSTGRES_DSN``). `settings`: the run's (serving folder,
    versions kept); without them, the environment's.

    Free space is checked first (a new version is about as big as the current one, the first
    one at most the warehouse); a full disk mid-way is a DiskSpaceError naming the path (D86).
    """
    settings = settings or Settings.from_environment()
    target = serving_dir(paths, settings)
    current = current_version(target) if target.is_dir() else None
    needed = size_of(current) if current is not None else size_of(paths.warehouse)
    ensure_free_space(target, needed, "publishing the marts")
    with no_space_is_clear(target, "publishing the marts", needed):
        return publish(
            paths.warehouse,
            target,
            run_id,
            manifest_path=manifest_path,
            postgres_dsn=postgres_dsn or settings.postgres_dsn,
            keep=settings.serving_keep,
            bronze_dir=paths.bronze,
            log=log,
        )


__all__ = [
    "ContractError",
    "MartContract",
    "PublishReport",
    "load_mart_contracts",
    "load_published_contracts",
    "load_serving_contracts",
    "publish",
    "publish_run",
    "serving_dir",
    "serving_file",
]
