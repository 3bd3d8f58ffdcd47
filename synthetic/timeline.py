"""Calendar arithmetic on integer day numbers (days since 1970-01-01).

The simulation keeps every date as an int64 day number so vectorised code can
compare and add them; strings are made only when rows are written.
"""

from __future__ import annotations

from datetime import date

import numpy as np

NEVER = np.int64(2**40)   # "no such date": later than any real day, so comparisons just work
_EPOCH_M = np.datetime64("1970-01", "M")


def day_number(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def day_strings(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D")


def day_string(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def add_months(days: np.ndarray, months: int) -> np.ndarray:
    """Same day-of-month `months` later, clamped to the month's end (as SQL's
    ``date + INTERVAL n MONTH`` does: 2024-02-29 + 12 months = 2025-02-28)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    offset = d - month.astype("datetime64[D]")
    target = month + months
    last = (target + 1).astype("datetime64[D]") - 1
    return np.minimum(target.astype("datetime64[D]") + offset, last).astype(np.int64)


def month_number(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


class Timeline:
    """The simulated window: `years` whole months ending with the month of `end_date`."""

    def __init__(self, end_date: date, years: int) -> None:
        if years < 1:
            raise ValueError("years must be at least 1")
        self.end_date = end_date
        self.end_day = day_number(end_date)
        end_month = np.datetime64(end_date, "M")
        self.n_months = 12 * years
        self.first_month = end_month - (self.n_months - 1)
        self.first_month_number = int((self.first_month - _EPOCH_M).astype(np.int64))
        months = self.first_month + np.arange(self.n_months)
        self.month_start = months.astype("datetime64[D]").astype(np.int64)
        last_days = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
        # The last month may be cut short by end_date: nothing happens after it.
        self.month_stop = np.minimum(last_days, self.end_day)
        self.month_days = self.month_stop - self.month_start + 1
        self.month_complete = last_days <= self.end_day
        self.month_of_year = (months.astype(np.int64) % 12) + 1
        self.labels = [str(m) for m in months]            # "YYYY-MM"
        self.first_day = int(self.month_start[0])

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Window month index of each day (may be <0 or >= n_months)."""
        return month_number(days) - self.first_month_number

    def label(self, index: int) -> str:
        return str(self.first_month + index)
