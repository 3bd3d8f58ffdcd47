"""Date columns are parsed once per distinct text (D147): the same dates and the same failures, per row,
as parsing every value."""

from __future__ import annotations

import pyarrow as pa
import pytest

from training_impact.ingestion.casting import CastError, cast_column, parse_date
from training_impact.ingestion.mapping import EntityMapping
from training_impact.ingestion.schemas import ColumnSpec

VALUES = ["2024-01-31", " 2024-01-31", "2024-02-30", "31/01/2024", None, "2024-01-31 00:00:00", "", "x",
          "2024-02-29", "2023-02-29", "x", "2024-01-31"] * 3


def _one_by_one(values, fmt):
    dates, failures = [], []
    for i, v in enumerate(values):
        if v is None or v == "":
            dates.append(None)
            continue
        try:
            dates.append(parse_date(v, fmt))
        except CastError:
            dates.append(None)
            failures.append(i)
    return dates, failures


@pytest.mark.parametrize("fmt", [None, "%d/%m/%Y"])
def test_each_row_gets_the_date_and_failure_of_its_own_text(fmt):
    em = EntityMapping(entity="enrollments", patterns=("x/*.csv",), format="csv", columns={},
                       date_formats={"enrolled_on": fmt} if fmt else {})
    got = cast_column(pa.array(VALUES, pa.string()), ColumnSpec("enrolled_on", "date"), em)
    dates, failed_rows = _one_by_one(VALUES, fmt)
    assert got.array.to_pylist() == dates
    assert [row for row, _, _ in got.failures] == failed_rows
    assert all(raw == VALUES[row].strip() for row, raw, _ in got.failures)
    assert failed_rows, "the fixture holds bad dates"
