"""Where things live and how runs are configured.

Everything is derived from one data root (env ``TI_DATA_DIR``, default ``./data``)
so that a test, the demo and a production deployment differ only by that path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


def parameters_file() -> Path:
    """config/parameters.yml, or the file TI_PARAMETERS names (a deployment's own windows and
    matching choices, e.g. which worker attributes to match on exactly)."""
    chosen = os.environ.get("TI_PARAMETERS")
    return Path(chosen).resolve() if chosen else PARAMETERS_FILE


def load_parameters(path: Path | None = None) -> dict:
    return Parameters(path or parameters_file()).values
