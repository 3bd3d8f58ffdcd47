"""Shared fixtures: the public test material and a small generated company run end to end."""

from __future__ import annotations

import os
import re
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
    from training_impact import synthetic
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


@pytest.fixture
def copy_of_run(pipeline_run, tmp_path):
    """An independent copy of the pipeline's data root, for tests that change inputs."""
    from training_impact.settings import data_paths

    paths, _ = pipeline_run
    target = tmp_path / "copy"
    shutil.copytree(paths.root, target, ignore=shutil.ignore_patterns("dagster_home"))
    return data_paths(target)


# ------------------------------------------------------------------------ unit / integration layout

# Fixtures that run the real pipeline (Dagster + dbt + GX) once per session or module.
PIPELINE_FIXTURES = ("pipeline_run", "copy_of_run", "adverse_run")
TESTS_DIR = Path(__file__).resolve().parent
UNIT_DIR = TESTS_DIR / "unit"
INTEGRATION_DIR = TESTS_DIR / "integration"
FAULTS_DIR = TESTS_DIR / "faults"


def _xdist_group(item: pytest.Item, path: Path) -> str:
    """The group `--dist loadgroup` keeps on one worker, so that no session- or module-scoped
    pipeline run happens twice: every user of the shared run together, every user of the adverse
    company together, every other test with the rest of its module (its module fixtures)."""
    if {"pipeline_run", "copy_of_run"} & set(item.fixturenames):
        return "pipeline_run"
    if "adverse_run" in item.fixturenames:
        return "adverse_run"
    if path.is_relative_to(FAULTS_DIR):
        # Each fault case on its own: a case is minutes of real runs, while the suite's session fixtures
        # (tests/faults/conftest.py: one company, one clean run) cost one run per worker.
        return "faults_" + re.sub(r"[^A-Za-z0-9_]+", "_", item.name)
    return path.name


class _XdistGroupSuffix:
    """pytest-xdist 3.8 tells its controller an item's group by appending "@<group>" to ``item._nodeid``,
    which pytest 9.2 no longer reads (node ids are structured: pytest-dev/pytest-xdist#1386), so
    `--dist loadgroup` would silently spread a group over the workers. After xdist's own hook, where the
    suffix is still missing, this appends it to the structured node id the way xdist means to."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from _pytest.nodeid import NodeId

        for item in items:
            nodeid = item.nodeid
            groups = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                      for mark in item.iter_markers("xdist_group")}
            if groups and nodeid.rfind("@") <= nodeid.rfind("]") and hasattr(item, "_id"):
                item._id = NodeId.parse(f"{nodeid}@{'_'.join(sorted(groups))}")


def pytest_configure(config: pytest.Config) -> None:
    # The build step of the dbt manifest, at the edge of the test session (D106): test modules import
    # the Dagster definitions, which read it. Workers of one session take turns; the second parses nothing.
    from training_impact.orchestration.dbt_manifest import prepare_manifest

    prepare_manifest()
    if hasattr(config, "workerinput") and config.getvalue("loadgroup"):
        config.pluginmanager.register(_XdistGroupSuffix(), "training_impact_xdist_group_suffix")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """tests/integration/ is marked `integration`; a test under tests/unit/ that runs the pipeline
    is a usage error; every test gets the `xdist_group` of `_xdist_group`."""
    misplaced = []
    for item in items:
        path = Path(item.path).resolve()
        if path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)
        elif path.is_relative_to(UNIT_DIR):
            uses = [name for name in PIPELINE_FIXTURES if name in item.fixturenames]
            if uses or item.get_closest_marker("integration"):
                why = f"uses {', '.join(uses)}" if uses else "is marked integration"
                misplaced.append(f"{item.nodeid} {why}")
        item.add_marker(pytest.mark.xdist_group(_xdist_group(item, path)))
    if misplaced:
        message = ("tests under tests/unit/ must not run the real pipeline; move these to tests/integration/:\n  "
                   + "\n  ".join(misplaced))
        if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller prints this and stops
            items[0].session.shouldstop = message
        raise pytest.UsageError(message)
