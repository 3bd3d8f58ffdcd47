"""Session fixtures of the fault suite: one small company, generated once, and one clean run of it.

Every case works on its own copy of one of the two roots, so a case never disturbs another.
"""

from __future__ import annotations

import pytest
from faults_support import FAULT_COMPANY, RUN_TIMEOUT, Run, copy_root, manifest_rows, served_state, warehouse_kpis


@pytest.fixture(scope="session")
def fault_company(tmp_path_factory):
    """Landing files only (no run yet): the state of a first night."""
    from training_impact import synthetic

    root = tmp_path_factory.mktemp("faults") / "pristine"
    synthetic.generate(root, **FAULT_COMPANY)
    return root


@pytest.fixture(scope="session")
def clean_run(fault_company, tmp_path_factory):
    """One uninterrupted `training-impact run` on a copy: the reference every faulted run must match."""
    root = copy_root(fault_company, tmp_path_factory.mktemp("faults_clean") / "root")
    # As on a new deployment (make demo): a run that builds the column schema and lineage (D118), which
    # leaves dbt-duckdb's handle open in the process before the row counts.
    run = Run(root, "clean", env={"TI_DBT_COLUMN_METADATA": "1"})
    code = run.finish(timeout=2 * RUN_TIMEOUT)
    assert code == 0, f"the clean reference run failed ({code}):\n{run.tail()}"
    from training_impact.orchestration import column_metadata
    from training_impact.orchestration.dbt_manifest import dbt_project

    assert column_metadata.load(dbt_project.manifest_path), "the run stored no column metadata"
    return {"root": root, "state": served_state(root), "manifest": manifest_rows(root),
            "kpis": warehouse_kpis(root)}
