"""The Spark engine's tests (make test-spark): they run in .venv-spark, where pyspark is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The size of the DuckDB suites' shared company (tests/conftest.py SMALL_COMPANY).
SPARK_COMPANY = {"employees": 1500, "years": 3, "seed": 5}
# Both runs in production mode with the same secret key: the key must not surface anywhere on Spark's side.
RUN_KEY = "spark-test-key-9f2c51d0a7e84b36b1c0d5e2f3a4b5c6d7e8f901"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/spark/" in str(item.fspath):
            item.add_marker(pytest.mark.spark)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("training-impact")
    env = {**os.environ, "TI_ENV": "production", "TI_PSEUDONYM_KEY": RUN_KEY}
    env.pop("TI_PSEUDONYM_KEY_FILE", None)
    return subprocess.run([str(executable), *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="session")
def engine_runs(tmp_path_factory):
    """One small company's landing files run through `training-impact run` twice: on DuckDB and, from a
    copy of the same files, on local Spark. Returns the two data roots and the Spark run's output."""
    pytest.importorskip("pyspark", reason="the Spark engine needs .venv-spark (make test-spark)")
    from training_impact import synthetic

    duck = tmp_path_factory.mktemp("duckdb_root")
    synthetic.generate(duck, **SPARK_COMPANY)
    spark = tmp_path_factory.mktemp("spark_root")
    shutil.copytree(duck / "landing", spark / "landing")
    ran = {}
    for root, extra in ((duck, ()), (spark, ("--engine", "spark"))):
        done = _cli("run", "--data", str(root), *extra, cwd=root)
        assert done.returncode == 0, f"run {extra or 'duckdb'} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        ran[root] = done
    return duck, spark, ran[spark]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A local Spark session as the dbt step starts it: the project's settings and privacy functions."""
    pytest.importorskip("pyspark", reason="the Spark engine needs .venv-spark (make test-spark)")
    from training_impact.orchestration.spark_dbt import start_session
    from training_impact.settings import Settings

    root = tmp_path_factory.mktemp("spark_session")
    session = start_session(Settings.from_environment(data_dir=root, mode="production", pseudonym_key=RUN_KEY,
                                                      spark_warehouse_dir=root / "spark"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def compile_inline(spark, tmp_path_factory):
    """SQL with the project's macros, compiled for a target by dbt in this process (on Spark, dbt-spark's
    session is the fixture's: getOrCreate)."""
    from dbt.cli.main import dbtRunner

    from training_impact.settings import DBT_PROJECT_DIR

    target_path = tmp_path_factory.mktemp("dbt_inline")
    # DuckDB's compile opens a warehouse: a throwaway one, never the repository's data/
    os.environ["TI_WAREHOUSE"] = str(target_path / "inline.duckdb")

    def compile_for(sql: str, target: str) -> str:
        result = dbtRunner().invoke(["compile", "--inline", sql, "--target", target, "--quiet",
                                     "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                                     "--target-path", str(target_path / target)])
        assert result.success, result.exception
        return result.result.results[0].node.compiled_code

    return compile_for
