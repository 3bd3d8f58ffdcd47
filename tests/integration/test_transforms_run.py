"""Issue 16: a new vendor in an afternoon. The shared small company (its canonical run is the session's
`pipeline_run`) exported in five vendor formats no shipped mapping reads (tests/transforms_support.py),
read through mapping YAML in the data root that uses every transform (docs/mappings.md, "Derived
columns"), with no pre-processing: the real pipeline gives every kpi_* mart exactly as the canonical run.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from transforms_support import export_new_formats


def _kpi_tables(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main_marts' "
            "and table_name like 'kpi_%' order by 1").fetchall()]
        return {n: con.execute(f"select * from main_marts.{n} order by all").fetchall() for n in names}


def test_new_vendor_formats_read_with_transforms_give_identical_kpi_marts(pipeline_run, tmp_path):
    from training_impact.ingestion import read_manifest
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    canonical, _ = pipeline_run
    root = tmp_path / "new_formats"
    shutil.copytree(canonical.landing, root / "landing")
    export_new_formats(root)
    paths = data_paths(root)
    outcome = run_pipeline(paths)
    assert outcome.success, outcome.failures
    manifest = read_manifest(root).to_pylist()
    assert not [r for r in manifest if r["status"] == "rejected"], "a file of the new formats was rejected"
    assert {r["mapping"] for r in manifest} >= {"peoplehub", "learnpath+canonical", "opsboard+canonical", "ledger",
                                                 "pulse"}
    base, marts = _kpi_tables(canonical.warehouse), _kpi_tables(paths.warehouse)
    assert len(base) >= 6 and all(base.values()), {k: len(v) for k, v in base.items()}
    assert marts.keys() == base.keys()
    for table, rows in base.items():
        assert marts[table] == rows, f"main_marts.{table} differs from the canonical run"
