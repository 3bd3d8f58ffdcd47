"""Speed of ``validate_rows`` on generated batches: ``python -m training_impact.expectations.bench``.

Batches are shaped like bronze rows (typed columns, ~1% bad rows) so the
timing includes building the failures table, not only the GX pass.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np
import pandas as pd

AS_OF = dt.date(2026, 11, 1)


def productivity_rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-01", "2026-10-01", freq="MS")
    df = pd.DataFrame({
        "worker_id": [f"W{i:06d}" for i in range(n)],
        "period": months[rng.integers(0, len(months), n)].date,
        "metric": rng.choice(["tickets_closed", "units_per_hour", "billable_utilisation"], n),
        "unit": "count",
        "value": rng.gamma(4.0, 10.0, n),
    })
    bad = rng.choice(n, n // 100, replace=False)
    df.loc[bad[: len(bad) // 2], "value"] = -1.0
    df.loc[bad[len(bad) // 2:], "worker_id"] = df["worker_id"].iloc[0]  # duplicate keys
    return df


def enrollments_rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    enrolled = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    done = enrolled + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    df = pd.DataFrame({
        "enrollment_id": [f"E{i:07d}" for i in range(n)],
        "worker_id": [f"W{i % 20000:06d}" for i in range(n)],
        "program_id": rng.choice([f"P{i:03d}" for i in range(40)], n),
        "attempt": rng.integers(1, 3, n),
        "assignment_type": rng.choice(["mandatory", "optional", "recommended"], n),
        "enrolled_at": enrolled.date,
        "started_at": enrolled.date,
        "status": rng.choice(["completed", "passed", "failed", "in_progress", "withdrawn"], n),
        "completion_date": done.date,
        "score": rng.uniform(0, 100, n).round(1),
        "hours_spent": rng.uniform(0, 40, n).round(1),
        "waiver_reason": None,
    })
    bad = rng.choice(n, n // 100, replace=False)
    df.loc[bad[::3], "status"] = "Completed"
    df.loc[bad[1::3], "score"] = 140.0
    df.loc[bad[2::3], "completion_date"] = dt.date(2023, 1, 1)
    return df


def run(rows: int = 100_000, repeat: int = 3) -> dict[str, float]:
    from training_impact.expectations.validate import validate_rows

    validate_rows("productivity", productivity_rows(100), as_of=AS_OF)  # context + suite warm-up
    out: dict[str, float] = {}
    for entity, make in [("productivity", productivity_rows), ("enrollments", enrollments_rows)]:
        df = make(rows)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            v = validate_rows(entity, df, as_of=AS_OF)
            times.append(time.perf_counter() - t)
        out[f"{entity}_seconds_per_{rows}_rows"] = round(min(times), 3)
        out[f"{entity}_failures"] = int(len(v.failures))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.repeat), indent=2))


if __name__ == "__main__":
    main()
