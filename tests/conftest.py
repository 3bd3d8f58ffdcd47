"""Shared fixtures: the public test material and a small generated company run end to end."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Tests run in development mode: the published development key pseudonymises (SECURITY.md).
os.environ.setdefault("TI_ENV", "development")
# dbt column lineage costs minutes per run (DECISIONS.md D54); the slow audit test turns it on.
os.environ.setdefault("TI_DBT_COLUMN_METADATA", "0")

from repo_paths import REPO_ROOT, shared_fixtures_dir  # noqa: E402,F401  (re-exported)


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    path = shared_fixtures_dir()
    if not path.exists():
        pytest.fail(f"shared fixtures not found at {path}; set TI_SHARED_DIR")
    return path


SMALL_COMPANY = {"employees": 1500, "years": 3, "seed": 5}


def _generate_and_run(tmp_path_factory, name: str, company: dict):
    """Generate a company and run the real pipeline on it once (Dagster + GX + dbt)."""
    import synthetic
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    root = tmp_path_factory.mktemp(name)
    synthetic.generate(root, **company)
    paths = data_paths(root)
    outcome = run_pipeline(paths)
    assert outcome.success, outcome.failures
    return paths, outcome


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """A small company, run once for every test that only reads its outputs."""
    return _generate_and_run(tmp_path_factory, "company", SMALL_COMPANY)


TRUTH_COMPANY = {"employees": 6000, "years": 3, "seed": 7}


@pytest.fixture(scope="session")
def truth_run(tmp_path_factory):
    """A company large enough that sampling noise is well below the planted selection bias."""
    return _generate_and_run(tmp_path_factory, "truth_company", TRUTH_COMPANY)


@pytest.fixture
def copy_of_run(pipeline_run, tmp_path):
    """An independent copy of the pipeline's data root, for tests that change inputs."""
    from training_impact.settings import data_paths

    paths, _ = pipeline_run
    target = tmp_path / "copy"
    shutil.copytree(paths.root, target, ignore=shutil.ignore_patterns("dagster_home"))
    return data_paths(target)
