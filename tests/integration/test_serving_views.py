"""The analyst-safe serving views (D126) as a BI tool reads them, after a real run (the session's `pipeline_run`).

A BI tool opens the *published* serving DuckDB file read-only, or the Parquet files, or PostgreSQL, and
queries one table per family and grain. Each table must give one row per slice with the unit in the
column name; an avg() over it can mix neither estimation methods nor grains; a suppressed slice is a row
with status 'suppressed' and a reason, not a missing row or a bare NULL. PostgreSQL, when its server
binaries are present (always under CI), gets a publish of the same warehouse (a publish, not a run).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from publishing_support import find_bindir, start_or_skip

from training_impact.orchestration.dbt_manifest import dbt_project
from training_impact.publishing import load_serving_contracts, publish
from training_impact.publishing.contracts import GRAIN_DIMENSIONS, LINEAGE_COLUMNS, SLICE_DIMENSIONS
from training_impact.publishing.serving import current_version, serving_dir, serving_file

STATUSES = {"reported", "flagged", "suppressed", "not_enough_data", "not_measured"}
LINEAGE = tuple(name for name, *_ in LINEAGE_COLUMNS)
# family view -> (its mart, the headline KPI of a row, the primary estimation method, the served headline column)
HEADLINES = {
    "serving_completion_rate": ("kpi_completion_rate", "completion_rate", "observed", "completion_rate_pct"),
    "serving_certification_attainment": ("kpi_certification_attainment", "certification_attainment", "observed",
                                         "certification_attainment_pct"),
    "serving_active_certification": ("kpi_certification_attainment", "active_certification_rate", "observed",
                                     "active_certification_rate_pct"),
    "serving_time_to_competency": ("kpi_time_to_competency", "time_to_competency_median_days", "kaplan_meier",
                                   "time_to_competency_median_days"),
    "serving_internal_mobility": ("kpi_internal_mobility", "internal_mobility", "did_matched", "internal_mobility_pp"),
    "serving_productivity_change": ("kpi_productivity_change", "productivity_change", "did_matched",
                                    "productivity_change_pts"),
    "serving_retention": ("kpi_retention", "retention", "did_matched", "retention_pp"),
    "serving_roi": ("kpi_roi", "roi", "phillips", "roi_pct"),
    "serving_learning_nps": ("kpi_learning_nps", "learning_nps", "observed", "learning_nps_score"),
    "serving_feedback_themes": ("kpi_qualitative_themes", "feedback_theme_time", "observed",
                                "feedback_theme_time_pct"),
    "serving_efficiency": ("kpi_efficiency", "participants", "observed", "n_participants"),
}


@pytest.fixture(scope="module")
def served():
    return load_serving_contracts(dbt_project.manifest_path)


@pytest.fixture(scope="module")
def published(pipeline_run):
    """The serving set the fixture's run published (through the Dagster asset), resolved once."""
    paths, _ = pipeline_run
    version = current_version(serving_dir(paths))
    assert version is not None, "the run published nothing"
    return paths, version


def _mart_cells(warehouse, mart: str, kpi: str, method: str, grain: str) -> dict[tuple, tuple]:
    """{slice key of the grain: (estimate, suppressed)} of one KPI's primary rows in its mart."""
    keys = ", ".join("method" if d == "training_method" else d for d in GRAIN_DIMENSIONS[grain]) or "'all'"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"select {keys}, estimate, suppressed from main_marts.{mart} "
                           "where kpi = ? and estimation_method = ? and slice_grain = ?",
                           [kpi, method, grain]).fetchall()
    return {tuple(row[:-2]) if GRAIN_DIMENSIONS[grain] else (): (row[-2], row[-1]) for row in rows}


def test_bi_reads_each_served_table_from_the_published_duckdb_file(published, served):
    paths, _ = published
    assert {table.model for table in served} == set(HEADLINES)
    suppressed_seen = 0
    with duckdb.connect(str(serving_file(serving_dir(paths))), read_only=True) as con:  # as BI opens it
        for table in served:
            relation = f"reporting.{table.name}"
            columns = [row[0] for row in con.execute(f"describe {relation}").fetchall()]
            assert columns == [c.name for c in table.columns] + list(LINEAGE), table.name
            keys = list(GRAIN_DIMENSIONS[table.grain])
            assert not set(SLICE_DIMENSIONS) - set(keys) & set(columns), table.name  # no `all` columns
            # one grain, one estimation method: nothing for an avg() to mix
            grains, methods, rows, slices = con.execute(
                f"select count(distinct slice_grain), count(distinct estimation_method), count(*), "
                f"count(distinct ({', '.join(keys) or 'slice_grain'})) from {relation}").fetchone()
            assert rows == 0 or (grains, methods) == (1, 1), table.name
            assert slices == rows, f"{table.name}: more than one row for a slice"
            if rows:
                assert con.execute(f"select any_value(slice_grain) from {relation}").fetchone()[0] == table.grain
            # every row says how to read it
            statuses = dict(con.execute(f"select status, count(*) from {relation} group by 1").fetchall())
            assert set(statuses) <= STATUSES, (table.name, statuses)
            bad = con.execute(f"select count(*) from {relation} where (status = 'reported') = "
                              "(status_reason is not null)").fetchone()[0]
            assert bad == 0, f"{table.name}: a status_reason must explain exactly the rows not plainly reported"
            figures = [c.name for c in table.columns if c.data_type in ("double", "bigint")]
            leaks = con.execute(f"select count(*) from {relation} where status = 'suppressed' and ("
                                + " or ".join(f"{f} is not null" for f in figures) + ")").fetchone()[0]
            assert leaks == 0, f"{table.name}: a suppressed row publishes a figure"
            suppressed_seen += statuses.get("suppressed", 0)
            # the comments BI tools show
            assert con.execute("select comment from duckdb_tables() where schema_name = 'reporting' and "
                               "table_name = ?", [table.name]).fetchone()[0]
            bare = con.execute("select column_name from duckdb_columns() where schema_name = 'reporting' and "
                               "table_name = ? and coalesce(comment, '') = ''", [table.name]).fetchall()
            assert not bare, (table.name, bare)
    assert suppressed_seen > 0, "the small company has suppressed cells: the check above must have seen some"


def test_every_slice_of_the_marts_is_a_row_with_its_status_never_missing(published, served):
    """For each family and grain: every cell of the headline KPI in its mart is a row of the served table;
    a suppressed cell is status 'suppressed' with a reason; a reported figure is the mart's primary one."""
    paths, _ = published
    with duckdb.connect(str(serving_file(serving_dir(paths))), read_only=True) as con:
        for table in served:
            mart, kpi, method, headline = HEADLINES[table.model]
            cells = _mart_cells(paths.warehouse, mart, kpi, method, table.grain)
            keys = list(GRAIN_DIMENSIONS[table.grain])
            rows = {tuple(row[:-3]): row[-3:] for row in con.execute(
                f"select {', '.join(keys + [headline, 'status', 'status_reason'])} "
                f"from reporting.{table.name}").fetchall()}
            assert set(cells) <= set(rows), f"{table.name}: slices missing {sorted(set(cells) - set(rows))[:5]}"
            for key, (estimate, suppressed) in cells.items():
                value, status, reason = rows[key]
                if suppressed:
                    assert (value, status) == (None, "suppressed") and "fewer than" in reason, (table.name, key)
                else:
                    assert status in ("reported", "flagged", "not_enough_data"), (table.name, key, status)
                    assert value == estimate, (table.name, key, value, estimate)
            for key in set(rows) - set(cells):  # slices the KPI has nobody in
                assert rows[key][1] == "not_enough_data" and rows[key][0] is None, (table.name, key)


def test_a_completion_by_department_chart_lists_every_department(published):
    """The chart that dropped departments: every department the marts know is a row, suppressed or not."""
    paths, _ = published
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        departments = {r[0] for r in con.execute("select distinct department from main_marts.kpi_summary "
                                                 "where slice_grain = 'department'").fetchall()}
    with duckdb.connect(str(serving_file(serving_dir(paths))), read_only=True) as con:
        chart = con.execute("select department, completion_rate_pct, status, status_reason "
                            "from reporting.completion_rate_by_department order by department").fetchall()
    assert {row[0] for row in chart} == departments and len(chart) == len(departments)
    assert all(row[1] is not None or row[3] for row in chart)  # a blank bar always has its reason


def test_avg_over_a_served_table_cannot_mix_methods_or_grains(published):
    """avg(estimate) where kpi = 'productivity_change' over the long table mixes the matched figure, the naive
    ones and every grain; avg() over productivity_change_by_department is the matched department cells'."""
    paths, _ = published
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        matched = con.execute("select avg(estimate), count(estimate) from main_marts.kpi_productivity_change where "
                              "estimation_method = 'did_matched' and slice_grain = 'department'").fetchone()
        mixed = con.execute("select avg(estimate), count(distinct estimation_method), count(distinct slice_grain) "
                            "from main_marts.kpi_summary where kpi = 'productivity_change'").fetchone()
        overall = con.execute("select estimate from main_marts.kpi_productivity_change where "
                              "estimation_method = 'did_matched' and slice_grain = 'overall'").fetchone()[0]
    assert matched[1] > 0 and mixed[1] >= 2 and mixed[2] >= 2  # what the long table lets an avg() mix
    with duckdb.connect(str(serving_file(serving_dir(paths))), read_only=True) as con:
        served = con.execute("select avg(productivity_change_pts), count(productivity_change_pts) "
                             "from reporting.productivity_change_by_department").fetchone()
        headline = con.execute("select productivity_change_pts, count(*) over () "
                               "from reporting.productivity_change_overall").fetchall()
    assert served == pytest.approx(matched) and served[0] != pytest.approx(mixed[0])
    assert headline == [(overall, 1)]


def test_the_parquet_files_hold_the_same_tables_typed_and_described(published, served):
    _, version = published  # one version, resolved once: every file of one publish
    with duckdb.connect(str(version / "training_impact.duckdb"), read_only=True) as con:
        for table in served:
            path = version / "parquet" / f"{table.name}.parquet"
            assert path.exists(), path
            schema = pq.read_schema(path)
            assert schema.names == [c.name for c in table.columns] + list(LINEAGE)
            assert all(field.metadata and field.metadata.get(b"description") for field in schema
                       if field.name not in LINEAGE), table.name
            assert schema.metadata[b"description"].decode().startswith(table.description[:40])
            from_file = con.execute(f"select * from read_parquet('{path}') order by all").fetchall()
            assert from_file == con.execute(f"select * from reporting.{table.name} order by all").fetchall()


@pytest.fixture
def postgres(tmp_path):
    if find_bindir() is None and os.environ.get("CI", "").lower() != "true":
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql); CI=true requires them")
    import psycopg

    server = start_or_skip()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as con:
            con.execute("create role ti_publisher login createrole")
            con.execute("create database ti owner ti_publisher")
        yield server
    finally:
        server.stop()


def test_postgres_serves_the_same_tables_with_comments_to_a_bi_login(published, served, postgres, tmp_path):
    import psycopg

    paths, version = published
    report = publish(paths.warehouse, tmp_path / "serving", "pg-serving",
                     manifest_path=dbt_project.manifest_path, postgres_dsn=postgres.dsn("ti_publisher", "ti"))
    assert set(report.serving_views) == {table.name for table in served}
    with psycopg.connect(postgres.dsn("ti_publisher", "ti"), autocommit=True) as con:
        con.execute("create role analyst login in role ti_bi")
    with psycopg.connect(postgres.dsn("analyst", "ti")) as con, \
            duckdb.connect(str(version / "training_impact.duckdb"), read_only=True) as served_file:
        for table in served:
            columns = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'reporting' "
                "and table_name = %s order by ordinal_position", [table.name]).fetchall()]
            assert columns == [c.name for c in table.columns] + list(LINEAGE), table.name
            undescribed = con.execute(
                "select a.attname from pg_attribute a where a.attrelid = %s::regclass and a.attnum > 0 "
                "and not a.attisdropped and coalesce(col_description(a.attrelid, a.attnum), '') = ''",
                [f"reporting.{table.name}"]).fetchall()
            assert not undescribed, (table.name, undescribed)
            assert con.execute("select obj_description(%s::regclass, 'pg_class')", [f"reporting.{table.name}"]
                               ).fetchone()[0]
            count = con.execute(f'select count(*) from reporting."{table.name}"').fetchone()[0]
            assert count == report.row_counts[table.name]
            assert count == served_file.execute(f"select count(*) from reporting.{table.name}").fetchone()[0]
        rows = con.execute("select department, completion_rate_pct, status, status_reason "
                           "from reporting.completion_rate_by_department").fetchall()
        assert rows and len({r[0] for r in rows}) == len(rows)
        assert {r[2] for r in rows} <= STATUSES


def test_metricflow_metrics_on_a_cell_are_the_served_figures(published, tmp_path):
    """`mf query` (dbt-metricflow, D127) on a copy of the run's warehouse: on one cell each metric is the figure
    the serving table publishes. dbt-metricflow is not a project dependency: skipped where it is not installed."""
    import importlib.util
    import shutil
    import subprocess
    import sys

    if importlib.util.find_spec("metricflow") is None:
        pytest.skip("dbt-metricflow is not installed (optional: pip install dbt-metricflow, docs/serving.md)")
    from training_impact.settings import DBT_PROJECT_DIR, subprocess_environment

    paths, version = published
    project = tmp_path / "dbt_project"  # mf writes logs/ beside the project it reads: a copy
    for name in ("models", "macros", "seeds", "tests"):
        shutil.copytree(DBT_PROJECT_DIR / name, project / name)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(DBT_PROJECT_DIR / name, project / name)
    (project / "target").mkdir()
    shutil.copy(dbt_project.manifest_path.parent / "semantic_manifest.json", project / "target")
    # mf opens it read-write: a copy, under the file name the manifest's relations carry as their catalog
    warehouse = tmp_path / "warehouse" / paths.warehouse.name
    warehouse.parent.mkdir()
    shutil.copy(paths.warehouse, warehouse)
    env = {**subprocess_environment(), "TI_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(project),
           "TI_DUCKDB_TEMP_DIR": str(tmp_path / "spill"), "MF_DISABLE_UPDATE_CHECK": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}

    def mf(metrics: list[str], grain: str, group_by: str | None = None) -> list[list[str]]:
        out = tmp_path / f"{grain}.csv"
        command = [str(Path(sys.executable).with_name("mf")), "query", "--metrics", ",".join(metrics),
                   "--where", "{{ Dimension('slice__slice_grain') }} = '" + grain + "'", "--csv", str(out)]
        if group_by:
            command += ["--group-by", group_by]
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
        import csv

        return list(csv.reader(out.open()))

    headlines = {"completion_rate_pct": "completion_rate_overall", "productivity_change_pts":
                 "productivity_change_overall", "retention_pp": "retention_overall", "internal_mobility_pp":
                 "internal_mobility_overall", "roi_pct": "roi_overall", "learning_nps_score": "learning_nps_overall",
                 "certification_attainment_pct": "certification_attainment_overall"}
    header, values = mf(list(headlines), "overall")
    with duckdb.connect(str(version / "training_impact.duckdb"), read_only=True) as con:
        for metric, value in zip(header, values):
            served = con.execute(f"select {metric}, status from reporting.{headlines[metric]}").fetchone()
            if served[1] in ("reported", "flagged"):
                assert float(value) == pytest.approx(served[0], rel=1e-3, abs=1e-3), metric
        by_department = {row[0]: row[1] for row in mf(["completion_rate_pct"], "department", "slice__department")[1:]}
        chart = con.execute("select department, completion_rate_pct from reporting.completion_rate_by_department "
                            "where status = 'reported'").fetchall()
    assert chart and all(float(by_department[d]) == pytest.approx(v, rel=1e-4) for d, v in chart)
