"""Write the dbt unit tests of kpi_learning_nps from shared/fixtures/surveys/nps_test_vectors.json.

    python dbt_project/scripts/nps_fixture_unit_tests.py            # rewrite the YAML
    python dbt_project/scripts/nps_fixture_unit_tests.py --check    # fail if it is stale

The fixture is read as it is. Every case with scores becomes one program of a unit test
(slice grain `program`), its scores the survey answers. The expected NPS, variance and
standard error are computed here with the fixture's own formulas and first checked against
every value the fixture states, within its tolerance (`*_tol`, else half a unit of the last
printed decimal); the dbt unit test then holds the SQL to those values exactly (4 decimals,
DECISIONS.md D17). tests/unit/test_kpi_nps_vectors.py runs the check in pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parent.parent
REPO_ROOT = DBT_PROJECT.parent
OUTPUT = DBT_PROJECT / "models" / "marts" / "kpi_learning_nps__fixture_vectors.yml"
FIXTURE_NAME = Path("surveys") / "nps_test_vectors.json"
DEFAULT_BREAKS = (6, 9)  # detractors <= 6, promoters >= 9 (config/parameters.yml nps.*)


def fixture_path() -> Path:
    """shared/fixtures beside the repository; TI_SHARED_DIR overrides (as tests/conftest.py)."""
    base = Path(os.environ["TI_SHARED_DIR"]) if os.environ.get("TI_SHARED_DIR") else REPO_ROOT.parent / "shared"
    return base / "fixtures" / FIXTURE_NAME


def _scores(case: dict) -> list[int] | None:
    scores = case.get("scores")
    if isinstance(scores, list):
        return [int(s) for s in scores]
    if isinstance(scores, str):
        match = re.match(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)", scores)
        if match:
            return list(range(int(match.group(1)), int(match.group(2)) + 1))
    return None


def _breaks(case: dict) -> tuple[int, int]:
    """(detractor_max, promoter_min); R-style breaks c(0, 6, 8, 15) = (6, 9)."""
    text = case.get("breaks")
    if not text:
        return DEFAULT_BREAKS
    edges = [int(x) for x in re.findall(r"-?\d+", text.split(":")[0])]
    return edges[1], edges[2] + 1


def _tolerance(raw_text: str, key: str, case: dict) -> float:
    """The case's stated tolerance, else half a unit of the last decimal printed in the fixture
    (an integer such as 0 or -1 is exact)."""
    if f"{key}_tol" in case:
        return float(case[f"{key}_tol"])
    match = re.search(rf'"{key}"\s*:\s*(-?\d+(?:\.(\d+))?)', raw_text)
    decimals = len(match.group(2) or "") if match else 0
    return 0.5 * 10 ** (-decimals) + 1e-12 if decimals else 1e-12


def reference(scores: list[int], breaks: tuple[int, int]) -> dict:
    """NPS as the fixture defines it: shares as fractions, population variance of +1/0/-1."""
    detractor_max, promoter_min = breaks
    n = len(scores)
    promoters = sum(s >= promoter_min for s in scores)
    detractors = sum(s <= detractor_max for s in scores)
    p, d = promoters / n, detractors / n
    var = (p + d) - (p - d) ** 2
    return {"n": n, "promoters": promoters, "detractors": detractors, "passives": n - promoters - detractors,
            "nps": p - d, "var": var, "se": math.sqrt(var / n)}


def cases(fixture: Path) -> list[dict]:
    """The fixture's scored cases with their reference values, each checked against the fixture."""
    raw = fixture.read_text(encoding="utf-8")
    data = json.loads(raw)
    out = []
    entries = [(f"case_{i + 1:02d}", case, json.dumps(case)) for i, case in enumerate(data["cases"])]
    dataset = data.get("dataset_case")
    if dataset:
        scores = [10] * dataset["promoters"] + [8] * dataset["passives"] + [0] * dataset["detractors"]
        entries.append(("dataset", {**dataset, "scores": scores}, json.dumps(dataset)))
    for name, case, text in entries:
        scores = _scores(case)
        if not scores:
            continue  # notes only (input validation is ingestion's job)
        breaks = _breaks(case)
        ref = reference(scores, breaks)
        if "n" in case:
            assert case["n"] == ref["n"], (name, case["n"], ref["n"])
        for key in ("nps", "var", "se"):
            if key in case:
                tol = _tolerance(text, key, case)
                assert abs(ref[key] - float(case[key])) <= tol, (name, key, ref[key], case[key], tol)
        if "nps_x100" in case:
            assert abs(100 * ref["nps"] - case["nps_x100"]) <= _tolerance(text, "nps_x100", case), name
        if "score" in case:  # reported as rounded integer points
            assert round(100 * ref["nps"]) == case["score"], (name, case["score"], ref["nps"])
        checked = [k for k in ("nps", "var", "se", "nps_x100", "score") if k in case]
        out.append({"name": name, "source": case.get("source", "dataset"), "scores": scores, "breaks": breaks,
                    "reference": ref, "checked": checked})
    return out


def _score_counts(case: dict) -> list[tuple[int, int]]:
    counts: dict[int, int] = {}
    for score in case["scores"]:
        counts[score] = counts.get(score, 0) + 1
    return sorted(counts.items())


def _given_sql(group: list[dict]) -> list[str]:
    """The answers as SQL (every column of the input model): each case's scores as
    (score, how many) pairs expanded to one row per answer - the 1,000-answer dataset case
    stays a few lines and the unit test stays fast."""
    values = [f"('{case['name']}', {score}, {copies})" for case in group for score, copies in _score_counts(case)]
    lines = ["with vectors (program_id, nps, copies) as (", "    values"]
    lines += [f"        {value}{',' if i < len(values) - 1 else ''}" for i, value in enumerate(values)]
    lines += [
        "),",
        "answers as (",
        "    select program_id, nps, unnest(range(copies)) as copy_number from vectors",
        ")",
        "select",
        "    program_id || '_' || cast(nps as varchar) || '_' || cast(copy_number as varchar) as survey_row_id,",
        "    cast(null as varchar) as enrollment_id,",
        "    cast(null as varchar) as response_id,",
        "    'w_' || program_id || '_' || cast(nps as varchar) || '_' || cast(copy_number as varchar) as worker_id,",
        "    program_id,",
        "    'upskilling' as program_type,",
        "    'online_self_paced' as method,",
        "    cast(null as varchar) as cohort,",
        "    cast(null as varchar) as department,",
        "    cast(null as varchar) as region,",
        "    'completed' as status,",
        "    cast(null as date) as exit_date,",
        "    cast(null as date) as responded_on,",
        "    true as is_invited,",
        "    true as has_response,",
        "    cast(nps as integer) as nps,",
        "    false as has_feedback_text",
        "from answers",
    ]
    return lines


def render(fixture: Path) -> str:
    scored = cases(fixture)
    groups: dict[tuple[int, int], list[dict]] = {}
    for case in scored:
        groups.setdefault(case["breaks"], []).append(case)
    lines = [
        "# GENERATED by dbt_project/scripts/nps_fixture_unit_tests.py from",
        "# shared/fixtures/surveys/nps_test_vectors.json - do not edit; rerun the script.",
        "# Each case is one program; its expected values were checked against the fixture first.",
        "unit_tests:",
    ]
    for (detractor_max, promoter_min), group in groups.items():
        lines += [
            f"  - name: kpi_learning_nps_fixture_vectors_detractors_to_{detractor_max}_promoters_from_{promoter_min}",
            "    description: >",
            "      NPS test vectors of shared/fixtures/surveys/nps_test_vectors.json (one program per case):",
            "      NPS = % promoters - % detractors, var = (p + d) - (p - d)^2, se = sqrt(var / n).",
            "    model: kpi_learning_nps",
            "    overrides:",
            "      vars:",
            "        kpi_slice_grains: [program]",
            "    given:",
            "      - input: ref('int_survey_responses__joined_to_enrollments')",
            "        format: sql",
            "        rows: |",
        ]
        lines += ["          " + line for line in _given_sql(group)]
        lines += [
            "      - input: ref('stg_config__parameters')",
            "        rows:",
            f"          - {{definition_version: test, min_cell_size: 1, nps_detractor_max: {detractor_max}, "
            f"nps_promoter_min: {promoter_min}}}",
            "    expect:",
            "      rows:",
        ]
        for case in group:
            ref = case["reference"]
            lines.append(
                f"        # {case['name']} ({case['source']}): fixture states {', '.join(case['checked'])}")
            lines.append(
                f"        - {{program_id: {case['name']}, n: {ref['n']}, n_promoters: {ref['promoters']}, "
                f"n_detractors: {ref['detractors']}, estimate: {round(100 * ref['nps'], 4)}, "
                f"score_variance: {round(ref['var'], 4)}, standard_error: {round(100 * ref['se'], 4)}}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed YAML is stale")
    parser.add_argument("--fixture", type=Path, default=None)
    args = parser.parse_args(argv)
    text = render(args.fixture or fixture_path())
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: rerun {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
