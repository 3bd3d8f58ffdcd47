"""The shared small company in vendor formats through the real pipeline: exported twice
(its canonical run is the session's `pipeline_run`), every KPI mart is identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from training_impact.synthetic.vendors import export_vendor_format
from vendor_formats_support import VENDOR_SETS


# --------------------------------------------------------------------------- the real pipeline

def _kpi_tables(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main_marts' "
            "and table_name like 'kpi_%' order by 1").fetchall()]
        return {n: con.execute(f"select * from main_marts.{n} order by all").fetchall() for n in names}


def test_same_company_in_every_vendor_format_gives_identical_kpi_marts(pipeline_run, tmp_path):
    """The shared small company (its canonical run is the session's pipeline run), exported twice."""
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    canonical, canonical_outcome = pipeline_run
    checks = {"canonical": _checks(canonical_outcome)}
    marts = {"canonical": _kpi_tables(canonical.warehouse)}
    for name, formats in VENDOR_SETS.items():
        root = tmp_path / name
        shutil.copytree(canonical.landing, root / "landing")
        export_vendor_format(root, formats)
        paths = data_paths(root)
        outcome = run_pipeline(paths)
        assert outcome.success, (name, outcome.failures)
        checks[name] = _checks(outcome)
        marts[name] = _kpi_tables(paths.warehouse)
    base = marts["canonical"]
    assert len(base) >= 6 and all(base.values()), {k: len(v) for k, v in base.items()}
    for name in VENDOR_SETS:
        assert checks[name] == checks["canonical"], name       # the same gates pass and warn
        assert marts[name].keys() == base.keys()
        for table, rows in base.items():
            assert marts[name][table] == rows, f"{name}: main_marts.{table} differs from the canonical run"


def _checks(outcome) -> list[tuple]:
    return sorted((c["asset"], c["check"], c["passed"], c["severity"]) for c in outcome.check_results)
