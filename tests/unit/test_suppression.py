"""Small-cell suppression with complementary suppression (issue 6, docs/methods.md "Small cells"):
the checker (tests/suppression_support.py) on hand-made rows. The published outputs of a real
run, and dbt's suppression unit tests, are tests/integration/test_suppression_run.py.
"""

from __future__ import annotations

from suppression_support import SLICE_DIMENSIONS, differencing_findings


# --- hand-made rows: the checker itself finds a single suppressed sibling -------------------


def _cell(grain: str, suppressed: bool, n, **dims) -> dict:
    row = {d: dims.get(d, "all") for d in SLICE_DIMENSIONS}
    row.update(kpi="completion_rate", estimation_method="observed", slice_grain=grain, suppressed=suppressed,
               n=None if suppressed else n, numerator=None if suppressed else n // 2,
               n_band="suppressed" if suppressed else str(n))
    return row


def test_checker_finds_a_primary_only_pattern_and_accepts_a_complementary_one():
    primary_only = [
        _cell("overall", False, 30),
        _cell("department", True, 3, department="a"),
        _cell("department", False, 12, department="b"),
        _cell("department", False, 15, department="c"),
    ]
    findings = differencing_findings("kpi_completion_rate", primary_only, 5)
    assert findings and all(f.endswith("gives the suppressed a") for f in findings), findings
    assert {f.split(":")[0].split()[-1] for f in findings} == {"n", "numerator", "people"}

    complementary = [dict(row) for row in primary_only]
    complementary[2] = _cell("department", True, 12, department="b")
    assert differencing_findings("kpi_completion_rate", complementary, 5) == []

    # a suppressed parent whose children are all published is their sum
    hidden_parent = [_cell("overall", True, 30), _cell("department", False, 30, department="a")]
    assert differencing_findings("kpi_completion_rate", hidden_parent, 5)

    # a count band on a suppressed row gives it away
    banded = [dict(row) for row in complementary]
    banded[1]["n_band"] = "3"
    assert any("count band" in f for f in differencing_findings("kpi_completion_rate", banded, 5))
