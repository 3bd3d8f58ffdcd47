"""The dbt project and its manifest, prepared by a build step, never at import (DECISIONS D106).

`@dbt_assets` reads ``dbt_project/target/manifest.json`` when the definitions are imported, so the
manifest must exist before: ``prepare_manifest()`` runs ``dbt parse`` when it is missing or older
than a model, macro, test, seed or dbt_project.yml. It is called at the edges only: the CLI
(`training-impact run`, `demo`, `dev`, …), ``run_pipeline``, ``make venv`` (``training-impact
prepare``) and the test session. Under ``dagster dev`` dagster-dbt's ``prepare_if_dev`` does it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from training_impact.settings import DBT_PROJECT_DIR, subprocess_environment

# The venv's dbt, whether or not the venv is on PATH (cron, systemd, the Makefile).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
# dbt on Spark: starts the session with the project's settings and privacy functions (orchestration/spark_dbt.py)
SPARK_DBT_EXECUTABLE = Path(sys.executable).with_name("training-impact-dbt-spark")
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class ManifestMissing(RuntimeError):
    """The definitions were imported before the build step made the dbt manifest."""


def manifest_is_stale() -> bool:
    """True when no manifest exists or a model, macro, test, seed or the project file changed after it."""
    if not dbt_project.manifest_path.exists():
        return True
    built = dbt_project.manifest_path.stat().st_mtime
    sources = [DBT_PROJECT_DIR / name for name in ("models", "macros", "tests", "seeds")]
    newest = max(
        (path.stat().st_mtime for folder in sources if folder.exists() for path in folder.rglob("*") if path.is_file()),
        default=0.0,
    )
    return newest > built or (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime > built


def prepare_manifest(force: bool = False) -> bool:
    """`dbt parse` into dbt_project/target when the manifest is missing or stale; True when it parsed.

    Processes preparing at once (two test workers, two data roots' runs) take turns on a lock file;
    the second finds the manifest fresh and parses nothing."""
    if not force and not manifest_is_stale():
        return False
    import fcntl

    target = DBT_PROJECT_DIR / dbt_project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and not manifest_is_stale():
            return False
        _parse()
    return True


def _parse() -> None:
    executable = str(DBT_EXECUTABLE) if DBT_EXECUTABLE.exists() else "dbt"
    environment = subprocess_environment()
    done = subprocess.run(
        [executable, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(dbt_project.target_path)],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse of {DBT_PROJECT_DIR} failed (exit {done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-4000:]}")


def require_manifest() -> Path:
    """The manifest path, or a clear error saying which build step makes it."""
    if not dbt_project.manifest_path.exists():
        raise ManifestMissing(
            f"no dbt manifest at {dbt_project.manifest_path}: run `training-impact prepare` (make does it) "
            "before loading the Dagster definitions")
    return dbt_project.manifest_path
