"""Test support for privacy: the published development key and the canary scan (every word of
a canary present, then the exact string), used by tests/unit/test_privacy.py and
tests/integration/test_privacy_run.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from training_impact.privacy import DEVELOPMENT_KEY

DEV_KEY = DEVELOPMENT_KEY.encode()

_WORD = re.compile(r"\w+")


def _leaks(text: str, canaries: dict[str, str], canary_words: dict[str, set]) -> list[str]:
    """Canaries found in text: every word of the canary present, then the exact string."""
    words = set(_WORD.findall(text))
    return [c for c, w in canary_words.items() if w <= words and c in text]


def _scan_duckdb(db_file: Path, canaries, canary_words, skip_schemas=()) -> dict[str, list[str]]:
    found = {}
    with duckdb.connect(str(db_file), read_only=True) as conn:
        columns = conn.execute("""
            select table_schema, table_name, column_name from information_schema.columns
            where data_type not in ('BIGINT', 'INTEGER', 'DOUBLE', 'BOOLEAN', 'DATE', 'HUGEINT', 'SMALLINT')
              and data_type not like 'DECIMAL%' and data_type not like 'TIMESTAMP%'
        """).fetchall()
        assert columns
        for schema, table, column in columns:
            if schema in skip_schemas:
                continue
            values = conn.execute(f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
                                  f'where "{column}" is not null').fetchall()
            hits = _leaks("\n".join(v for (v,) in values), canaries, canary_words)
            if hits:
                found[f"{schema}.{table}.{column}"] = hits
    return found

