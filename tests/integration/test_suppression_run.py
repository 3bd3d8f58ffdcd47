"""Small-cell suppression with complementary suppression (issue 6, docs/methods.md "Small cells")
in a real run: nothing suppressed is derivable from the warehouse marts, the serving DuckDB file
or its Parquet copies (the checker: tests/suppression_support.py), also with a raised cell size;
and dbt's unit tests of the suppression pass.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from suppression_support import _min_cell_size, _people, _report, all_findings, parquet_tables, warehouse_tables
from training_impact.settings import DBT_PROJECT_DIR, PARAMETERS_FILE, TELEMETRY_OFF


# --- the real pipeline's published outputs ---------------------------------------------------


def test_no_suppressed_cell_is_derivable_in_the_warehouse(pipeline_run):
    paths, _ = pipeline_run
    tables = warehouse_tables(paths.warehouse)
    assert {"kpi_completion_rate", "kpi_efficiency", "kpi_roi", "kpi_summary"} <= set(tables)
    assert sum(bool(r["suppressed"]) for rows in tables.values() for r in rows) > 0
    findings = all_findings(tables, _min_cell_size())
    assert not findings, _report(findings)


def test_no_suppressed_cell_is_derivable_in_the_serving_copies(pipeline_run):
    from training_impact.publishing.serving import SERVING_SCHEMA, parquet_dir, serving_dir, serving_file

    paths, _ = pipeline_run
    served = warehouse_tables(serving_file(serving_dir(paths)), schema=SERVING_SCHEMA)
    assert "kpi_summary" in served
    findings = all_findings(served, _min_cell_size())
    assert not findings, _report(findings)
    parquet = parquet_tables(parquet_dir(serving_dir(paths)))
    assert set(parquet) == set(served)
    findings = all_findings(parquet, _min_cell_size())
    assert not findings, _report(findings)


# --- dbt: the suppression unit tests, and a raised cell size on the same company -------------


def _dbt(paths, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **TELEMETRY_OFF, "TI_WAREHOUSE": str(paths.warehouse), "TI_BRONZE_DIR": str(paths.bronze),
           "TI_ENV": os.environ.get("TI_ENV", "development")}
    return subprocess.run([str(Path(os.sys.executable).parent / "dbt"), *args, "--profiles-dir", "."],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)


def test_raised_cell_size_suppresses_more_and_nothing_is_derivable(copy_of_run, tmp_path):
    """min_cell_size 25 on the 1500-employee company: most cells small, the passes must still converge."""
    parameters = yaml.safe_load(PARAMETERS_FILE.read_text())
    parameters["organisation"]["min_cell_size"] = 25
    before = warehouse_tables(copy_of_run.warehouse)
    target = tmp_path / "target"
    result = _dbt(copy_of_run, "build", "--select", "stg_config__parameters", "marts", "--exclude", "test_type:unit",
                  "--target-path", str(target), "--vars", json.dumps({"params": parameters}))
    assert result.returncode == 0, result.stdout[-4000:]
    after = warehouse_tables(copy_of_run.warehouse)
    suppressed = lambda tables: sum(bool(r["suppressed"]) for rows in tables.values() for r in rows)  # noqa: E731
    assert suppressed(after) > suppressed(before)
    assert any(not r["suppressed"] for r in after["kpi_completion_rate"])  # still something published
    findings = all_findings(after, 25)
    assert not findings, _report(findings)
    # every published row really has at least the raised number of people
    for rows in after.values():
        for row in rows:
            assert row["suppressed"] or _people(row) is None or _people(row) >= 25


def test_dbt_unit_tests_pass(copy_of_run, tmp_path):
    """Every dbt unit test on hand-made rows, among them complementary suppression (kpi_completion_rate.yml).

    Pipeline runs exclude unit tests (they check the SQL, not the data; D63): this is where they run."""
    result = _dbt(copy_of_run, "test", "--select", "test_type:unit",
                  "--target-path", str(tmp_path / "target"))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "complementary" in result.stdout

