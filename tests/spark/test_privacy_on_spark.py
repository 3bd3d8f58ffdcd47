"""Pseudonyms and redaction on Spark: the same functions as DuckDB's, run on Spark's Python workers,
the key in no SQL, plan or log (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import RUN_KEY

pytestmark = pytest.mark.spark


def test_pseudonyms_equal_duckdbs(spark):
    import duckdb

    from training_impact.privacy.dbt_plugin import register_functions
    from training_impact.privacy.pseudonym import Pseudonymizer

    ids = ["W000001", "W123456", "  padded ", "Ünïcode-ïd", "12345"]
    on_spark = [row[0] for row in spark.sql(
        "select ti_pseudonym(id) from values " + ", ".join(f"('{i}')" for i in ids) + " as t(id)").collect()]
    con = duckdb.connect()
    register_functions(con, Pseudonymizer(RUN_KEY.encode()))
    on_duckdb = [con.execute("select ti_pseudonym(?)", [i]).fetchone()[0] for i in ids]
    assert on_spark == on_duckdb
    assert len(set(on_spark)) == len(ids) and all(p and "W0" not in p for p in on_spark)
    assert spark.sql("select ti_pseudonym(cast(null as string))").collect()[0][0] is None


def test_redaction_runs_on_the_python_workers(spark):
    """The functions are shipped to Spark's Python workers by their installed module name; a bare
    `privacy` module failed there with ModuleNotFoundError in the first port."""
    from training_impact.privacy import redaction

    text = "Ask Anna Berg (anna.berg@example.com, +44 20 7946 0958) about id ZZ 261191 T"
    row = spark.sql(
        f"select ti_redact('{text}', array('Anna', 'Berg'), array('ZZ261191T')) as redacted, "
        f"ti_text_terms('{text}') as terms, ti_name_tokens('Anna-Lena de Berg') as names, "
        "ti_id_key('zz 261191-t') as id_key").collect()[0]
    assert row.redacted == redaction.redact(text, ["Anna", "Berg"], ["ZZ261191T"])
    assert "Anna" not in row.redacted and "@" not in row.redacted and "[NATIONAL_ID]" in row.redacted
    assert list(row.terms) == redaction.text_terms(text)
    assert list(row.names) == redaction.name_tokens("Anna-Lena de Berg")
    assert row.id_key == "ZZ261191T"
    # many rows: real executor tasks, not a constant folded in the driver
    redacted = spark.sql("select ti_redact(concat('Mail anna', cast(id as string), '@example.com'), "
                         "cast(null as array<string>), cast(null as array<string>)) as r from range(2000)").collect()
    assert {r.r for r in redacted} == {"Mail [EMAIL]"}


def test_the_key_is_in_no_sql_plan_or_log(spark, engine_runs):
    plan = spark.sql("select ti_pseudonym('W1')")._jdf.queryExecution().toString()
    assert RUN_KEY not in plan
    _, spark_root, done = engine_runs
    assert RUN_KEY not in done.stdout and RUN_KEY not in done.stderr
    leaked = []
    for path in Path(spark_root).rglob("*"):
        if path.is_file() and path.suffix != ".parquet" and path.stat().st_size < 50_000_000:
            if RUN_KEY.encode() in path.read_bytes():
                leaked.append(str(path))
    assert not leaked
