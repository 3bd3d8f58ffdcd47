"""Issue 18's silent traps: SQL that DuckDB runs right and Spark runs wrong without an error.

Each test runs the OLD spelling (what the project had) on Spark and shows the wrong answer, then the
project's NEW spelling (its macros, compiled by dbt for the spark target) and shows the right one; the
same macros compiled for DuckDB give the same answer there. A last test reads every model dbt compiled
for Spark in the engine run: no double-quoted identifier, no backslash in a string literal.
"""

from __future__ import annotations

import re

import duckdb
import pytest

pytestmark = pytest.mark.spark

QUARANTINE_ROW = "from values ('worker_id', 'W0001') as t({column}, value)"


def _one(spark, sql: str):
    return spark.sql(sql).collect()[0][0]


def _on_duckdb(sql: str):
    return duckdb.connect().execute(sql).fetchone()[0]


def test_a_double_quoted_identifier_is_a_string_on_spark(spark, compile_inline):
    """The quarantine masking compared the word 'column' with the column names: a broken worker id was
    published as it arrived, never pseudonymised (stg_ingestion__quarantine)."""
    old = ("select case when \"column\" in ('worker_id', 'manager_id') then '<masked>' else value end "
           + QUARANTINE_ROW.format(column="`column`"))
    assert _one(spark, old) == "W0001"  # the raw worker id, no error
    new = ("select case when {{ adapter.quote('column') }} in ('worker_id', 'manager_id') then '<masked>' "
           "else value end " + QUARANTINE_ROW.format(column="{{ adapter.quote('column') }}"))
    assert _one(spark, compile_inline(new, "spark")) == "<masked>"
    duck = compile_inline(new, "dev").replace("from values", "from (values").replace("as t(", ") as t(")
    assert _on_duckdb(duck) == "<masked>"


def test_a_backslash_in_a_regex_literal_is_an_escape_on_spark(spark, compile_inline):
    """'\\b' became a backspace: no survey theme term ever started a word (int_survey_responses__themes)."""
    assert _one(spark, r"select '\b' = chr(8)") is True
    assert _one(spark, r"select rlike(lower('My Manager helped'), '\b' || 'manager')") is False  # old
    assert _one(spark, r"select regexp_extract('due 2024-05-01', '(\d{4}-\d{2}-\d{2})', 1)") == ""  # old, \d
    starts = "select {{ ti_regexp_contains(\"lower('My Manager helped')\", ti_regex_word_start() ~ \" || 'manager'\") }}"
    inside = "select {{ ti_regexp_contains(\"lower('Sometimes')\", ti_regex_word_start() ~ \" || 'time'\") }}"
    for target, run in (("spark", lambda sql: _one(spark, sql)), ("dev", _on_duckdb)):
        assert run(compile_inline(starts, target)) is True, target
        assert run(compile_inline(inside, target)) is False, target  # a term inside a word does not tag
    assert "\\" not in compile_inline(starts, "spark")


def test_the_placeholder_regex_mangles_redacted_text_on_spark(spark, compile_inline):
    """'\\[(EMAIL|…)\\]' became a character class and DuckDB's 'g' flag Spark's position argument."""
    text = "'Call me on [PHONE], My Manager'"
    old = r"'\[(EMAIL|PHONE|NAME|NATIONAL_ID)\]'"
    assert _one(spark, f"select regexp_replace({text}, {old}, ' ', 'g')") is None
    assert _one(spark, f"select regexp_replace({text}, {old}, ' ')") == "Call me on [     ],  y  anager"
    new = "select {{ without_redaction_placeholders(\"" + text + "\") }}"
    assert _one(spark, compile_inline(new, "spark")) == "Call me on  , My Manager"
    assert _on_duckdb(compile_inline(new, "dev")) == "Call me on  , My Manager"


# a string literal: '…' with '' or \' inside
_LITERAL = re.compile(r"'(?:[^'\\]|''|\\.)*'", re.S)
# a double-quoted word outside string literals and comments
_DOUBLE_QUOTED = re.compile(r'"[A-Za-z_][A-Za-z0-9_]*"')


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", re.sub(r"/\*.*?\*/", "", sql, flags=re.S))


def test_no_model_compiled_for_spark_holds_a_trap(engine_runs):
    _, spark_root, _ = engine_runs
    compiled = sorted((spark_root / "warehouse" / "dbt_target_spark" / "compiled").rglob("*.sql"))
    models = [path for path in compiled if "/models/" in str(path)]
    assert len(models) >= 50
    found = []
    for path in models:
        sql = _without_comments(path.read_text())
        for literal in _LITERAL.findall(sql):
            if "\\" in literal:
                found.append(f"{path.name}: backslash in {literal[:60]}")
        if _DOUBLE_QUOTED.search(_LITERAL.sub("''", sql)):
            found.append(f"{path.name}: double-quoted {_DOUBLE_QUOTED.search(_LITERAL.sub(chr(39) * 2, sql)).group()}")
    assert not found, "\n".join(found)
