"""The KPI report of a real pipeline run, drawn in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

from report_support import require_chromium
from training_impact.reporting.browser import check_render, screenshot
from training_impact.reporting.png import png_size


def test_pipeline_run_publishes_the_report_and_chromium_draws_it(pipeline_run):
    require_chromium()
    paths, outcome = pipeline_run
    assert "kpi_report" in outcome.materialized
    latest = paths.root / "reports" / "kpi_report.html"
    run_copy = paths.root / "reports" / "runs" / f"{outcome.run_id}.html"
    assert latest.exists() and run_copy.exists()
    html = latest.read_text(encoding="utf-8")
    declared = re.search(r"<meta name=\"ti-charts\" content=\"([^\"]*)\"", html).group(1).split()
    assert {"type-rates", "forest-productivity", "roi-all"} <= set(declared)
    check = check_render(latest)
    assert check.drawn() == set(declared)
    for program_type in ("Upskilling", "Reskilling"):
        assert program_type in html
    png = screenshot(latest, paths.root / "reports" / "kpi_report.png", height=min(check.height, 30000))
    assert png_size(png)[1] == min(check.height, 30000)


def test_changing_retention_months_changes_the_mart_and_the_report_label(copy_of_run):
    """windows.retention_months in the parameters: the marts rebuilt with 6 instead of 12 months publish other
    retention figures, and the report built from them says "6 months" where it said "12 months"."""
    import json
    import os
    import subprocess
    import sys

    import duckdb

    from training_impact.reporting.build import render_report
    from training_impact.reporting.data import load_report_data
    from training_impact.settings import DBT_PROJECT_DIR, TELEMETRY_OFF, load_parameters

    def retention(warehouse):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute("select estimate from main_marts.kpi_retention where slice_grain = 'overall' "
                               "order by all").fetchall()

    before = retention(copy_of_run.warehouse)
    assert "Still employed after 12 months" in render_report(load_report_data(copy_of_run.warehouse)).html
    params = load_parameters()
    params["windows"]["retention_months"] = 6
    env = {**os.environ, **TELEMETRY_OFF, "TI_DATA_DIR": str(copy_of_run.root),
           "TI_WAREHOUSE": str(copy_of_run.warehouse), "TI_BRONZE_DIR": str(copy_of_run.bronze)}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", "stg_config__parameters+",
         "--vars", json.dumps({"params": params}), "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(copy_of_run.root / "dbt_target_6m")],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    after = retention(copy_of_run.warehouse)
    assert after and after != before
    html = render_report(load_report_data(copy_of_run.warehouse)).html
    assert "Still employed after 6 months" in html and "Still employed after 12 months" not in html
