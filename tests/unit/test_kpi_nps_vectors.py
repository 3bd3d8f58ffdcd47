"""Learning NPS against shared/fixtures/surveys/nps_test_vectors.json, read as it is.

dbt_project/scripts/nps_fixture_unit_tests.py turns every scored case of the fixture into
one program of a dbt unit test of kpi_learning_nps (run by `dbt build`). Here: its reference
values agree with every value the fixture states, within the fixture's tolerance, and the
committed unit-test YAML is exactly what the script writes from the fixture today.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from repo_paths import REPO_ROOT

SCRIPT = REPO_ROOT / "dbt_project" / "scripts" / "nps_fixture_unit_tests.py"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("nps_fixture_unit_tests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixture_file(shared_fixtures) -> Path:
    return shared_fixtures / "surveys" / "nps_test_vectors.json"


def test_every_scored_vector_agrees_with_the_fixture(generator, fixture_file):
    data = json.loads(fixture_file.read_text(encoding="utf-8"))
    scored = [c for c in data["cases"] if "scores" in c] + ([data["dataset_case"]] if "dataset_case" in data else [])
    cases = generator.cases(fixture_file)  # asserts each stated value within tolerance
    assert len(cases) == len(scored)
    assert all(case["checked"] for case in cases), "a case states nothing to check"
    by_name = {case["name"]: case for case in cases}
    # spot checks straight from the fixture text: [0,7,7,9,9,9] -> 33.33 points, se 0.304 +- 0.001
    first = by_name["case_01"]["reference"]
    assert round(100 * first["nps"], 2) == 33.33
    assert abs(first["se"] - 0.304) <= 0.001
    assert by_name["dataset"]["reference"]["n"] == data["dataset_case"]["n"]


def test_committed_unit_tests_match_the_fixture(generator, fixture_file):
    assert generator.OUTPUT.exists(), f"run {SCRIPT.name} to write {generator.OUTPUT.name}"
    assert generator.OUTPUT.read_text(encoding="utf-8") == generator.render(fixture_file), (
        f"{generator.OUTPUT.name} is stale: rerun {SCRIPT}")
