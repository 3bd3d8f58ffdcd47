"""Delivery days: which daily partition a landing file belongs to (docs/deployment.md, DECISIONS D56).

The day comes from the file's name, never from its contents or modification time:
- ``..._YYYY-MM-DD.ext`` (a daily drop or a dated snapshot) -> that day;
- ``..._YYYY-MM.ext`` (a monthly extract, e.g. three years of history) -> the
  first day of that month;
- ``..._YYYY.ext`` -> 1 January of that year;
- no date in the name -> ``None``: only a run without a partition (the nightly
  catch-up, ``training-impact run``) reads it.

Runs scoped to one day (a sensor run) or a range of days (a backfill) read only
the landing files whose delivery day falls inside; a run without a partition
reads every landing file. Within one run files load in delivery-day order, so a
full rebuild over all files sees them in the order a week of nightly runs did
(the latest delivery wins a key in staging either way).
"""
from __future__ import annotations

from datetime import date
from typing import Callable, Iterable

from .engine import file_series

# The families whose files are events delivered day by day: their bronze assets carry
# a DailyPartitionsDefinition. HR, LMS snapshots and performance restate or summarise
# and are rebuilt from whatever their run's day(s) delivered.
EVENT_ENTITIES = ("xapi_statements", "cost_lines", "survey_responses")


def delivery_day(source_file: str) -> date | None:
    """The delivery day of a landing file (relative path or name), from the date in its name."""
    cadence, period = file_series(source_file)
    try:
        if cadence == "daily":
            return date.fromisoformat(period)
        if cadence == "monthly":
            return date.fromisoformat(period + "-01")
        if cadence == "yearly":
            return date(int(period), 1, 1)
    except ValueError:  # 2026-13-40 in a name: no real day
        return None
    return None


def day_scope(first: date | str | None, last: date | str | None = None) -> Callable[[str], bool] | None:
    """A landing-file filter for the days first..last (inclusive); None (= every file) without days."""
    if first is None:
        return None
    lo = date.fromisoformat(first) if isinstance(first, str) else first
    hi = lo if last is None else (date.fromisoformat(last) if isinstance(last, str) else last)

    def in_scope(source_file: str) -> bool:
        day = delivery_day(source_file)
        return day is not None and lo <= day <= hi

    return in_scope


def delivery_order(source_files: Iterable[str]) -> list[str]:
    """Undated files first, then by delivery day, then by path: the order a full rebuild loads them."""
    return sorted(source_files, key=lambda rel: ((delivery_day(rel) or date.min), rel))
