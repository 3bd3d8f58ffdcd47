"""Bench company: `python -m training_impact.benchmarks.generate OUT EMPLOYEES YEARS SEED`.

Writes OUT/landing/ with the last day delivered as daily files, and OUT/daily_drops.json
naming them (synthetic/daily.py), so the bench can hold that day back for the delta run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training_impact import synthetic


def main(out: str, employees: str, years: str, seed: str) -> int:
    result = synthetic.generate(Path(out), employees=int(employees), years=int(years), seed=int(seed), daily_days=1)
    (Path(out) / "daily_drops.json").write_text(json.dumps(result["daily_drops"], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
