"""Recovery of the planted effects on a generated company of 20,000 employees (slow, on demand).

    pytest -m slow tests/integration/test_kpi_recovery.py
    TI_RECOVERY_DATA=/tmp/ti_kpi20k pytest -m slow tests/integration/test_kpi_recovery.py   # reuse a generated root

Generates the company (python -m synthetic --employees 20000 --years 3 --seed 7), runs the real
pipeline (Dagster: ingestion, quality gates, dbt) and reads kpi_summary at the program_type
grain. For each program type the matched difference-in-differences estimates of productivity,
internal mobility and 12-month retention contain truth.json's effect in their 95% interval,
and the naive before/after productivity estimate lies outside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

COMPANY = {"employees": 20000, "years": 3, "seed": 7}
PROGRAM_TYPES = ("upskilling", "reskilling")
# kpi_summary KPI -> truth.json effects key
# productivity: the effect in index points and, beside it, the relative effect (ratio of means)
RECOVERED = {"productivity_change": "productivity_index_points", "productivity_change_pct": "productivity_pct",
             "internal_mobility": "mobility_12m_pp", "retention": "retention_12m_pp"}


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    from training_impact import synthetic
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import data_paths

    reuse = os.environ.get("TI_RECOVERY_DATA")
    if reuse and (Path(reuse) / "truth.json").exists():
        root = Path(reuse)
    else:
        root = tmp_path_factory.mktemp("company_20k")
        synthetic.generate(root, **COMPANY)
    paths = data_paths(root)
    outcome = run_pipeline(paths)
    assert outcome.success, outcome.failures
    truth = json.loads(paths.truth.read_text())
    assert (truth["employees"], truth["seed"]) == (COMPANY["employees"], COMPANY["seed"]), "not the 20k/seed 7 company"
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute(
            """
            select kpi, estimation_method, program_type, estimate, ci_low, ci_high, n, suppressed
            from main_marts.kpi_summary
            where slice_grain = 'program_type'
              and kpi in ('productivity_change', 'productivity_change_pct', 'internal_mobility', 'retention')
            """
        ).fetchall()
    estimates = {(kpi, method, program_type): (estimate, low, high, n, suppressed)
                 for kpi, method, program_type, estimate, low, high, n, suppressed in rows}
    return truth, estimates


@pytest.mark.parametrize("program_type", PROGRAM_TYPES)
@pytest.mark.parametrize("kpi", sorted(RECOVERED))
def test_did_interval_contains_the_planted_effect(recovery, kpi, program_type):
    truth, estimates = recovery
    true_effect = truth["effects"][program_type][RECOVERED[kpi]]
    estimate, low, high, n, suppressed = estimates[(kpi, "did_matched", program_type)]
    assert not suppressed and n, (kpi, program_type, n)
    assert low <= true_effect <= high, f"{kpi} {program_type}: {estimate} [{low}, {high}] misses truth {true_effect}"


@pytest.mark.parametrize("program_type", PROGRAM_TYPES)
def test_naive_productivity_interval_misses_the_planted_effect(recovery, program_type):
    truth, estimates = recovery
    true_effect = truth["effects"][program_type]["productivity_pct"]
    estimate, low, high, n, _ = estimates[("productivity_change_pct", "naive_pre_post", program_type)]
    assert not (low <= true_effect <= high), f"naive {program_type}: {estimate} [{low}, {high}] contains {true_effect}"
