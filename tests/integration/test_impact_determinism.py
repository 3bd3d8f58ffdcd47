"""No published figure depends on the pseudonymisation key (issue 12, D70).

Matching used to break ties in baseline distance by the pseudonymous worker id, so a
new key picked other controls and moved published estimates. The same landing files
run under a second key must give the very same kpi_* tables, value for value, while
every pseudonym differs (so the test can fail: the keys really were different).
"""

from __future__ import annotations

import shutil

import duckdb

OTHER_KEY = "a second pseudonymisation key for the determinism test, 2026"


def _kpi_tables(warehouse) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [n for (n,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main_marts' and table_name like 'kpi_%' order by 1").fetchall()]
        return {name: sorted(con.execute(f'select * from main_marts."{name}"').fetchall(), key=_order)
                for name in names}


def _order(row: tuple) -> str:
    """A sort key in which 0.0 and -0.0 (equal values: an SMD of zero rounded from either side) sort alike."""
    return repr(tuple(0.0 if isinstance(v, float) and v == 0 else v for v in row))


def _worker_ids(warehouse) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {w for (w,) in con.execute("select worker_id from main_staging.stg_hris__workers").fetchall()}


def test_two_keys_publish_identical_kpis(pipeline_run, tmp_path, monkeypatch):
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    paths, _ = pipeline_run
    root = tmp_path / "other_key"
    root.mkdir()
    shutil.copytree(paths.landing, root / "landing")
    monkeypatch.setenv("TI_PSEUDONYM_KEY", OTHER_KEY)
    other = data_paths(root)
    outcome = run_pipeline(other)
    assert outcome.success, outcome.failures

    assert not (_worker_ids(paths.warehouse) & _worker_ids(other.warehouse)), "the second key gave the same pseudonyms"
    first, second = _kpi_tables(paths.warehouse), _kpi_tables(other.warehouse)
    assert first.keys() == second.keys()
    assert len(first) >= 12
    for name in first:
        assert first[name] == second[name], f"{name} differs between two pseudonymisation keys"
