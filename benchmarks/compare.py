"""Growth between two `make bench` results: `python -m training_impact.benchmarks.compare SMALL.json LARGE.json`.

For the full run, its steps and every dbt model: seconds at each scale and their ratio, beside the growth of
the input (landing megabytes). A model whose time grows more than 1.5 times faster than its input, and takes
at least a second at the larger scale (below that, dbt's fixed cost per model is most of it), is marked
`FASTER THAN INPUT`. Prints a table; writes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOLERANCE = 1.5
MIN_SECONDS = 1.0


def growth(small: dict, large: dict) -> list[tuple[str, float, float, float | None, str]]:
    """(name, small seconds, large seconds, ratio, flag) for the run, its steps and the dbt models."""
    inputs = large["landing_full"]["megabytes"] / small["landing_full"]["megabytes"]
    rows = [("full run (wall)", small["full"]["wall_seconds"], large["full"]["wall_seconds"])]
    rows += [(f"step {name}", small["full"]["steps"].get(name, 0.0), seconds)
             for name, seconds in large["full"]["steps"].items()]
    small_models = small["full"].get("dbt", {}).get("models_seconds", {})
    rows += [(f"model {name}", small_models.get(name, 0.0), seconds)
             for name, seconds in large["full"].get("dbt", {}).get("models_seconds", {}).items()]
    out = []
    for name, a, b in rows:
        ratio = round(b / a, 2) if a else None
        flag = ("FASTER THAN INPUT" if ratio is not None and b >= MIN_SECONDS and ratio > TOLERANCE * inputs
                else "")
        out.append((name, a, b, ratio, flag))
    return out


def main(argv: list[str]) -> int:
    small, large = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[:2])
    inputs = large["landing_full"]["megabytes"] / small["landing_full"]["megabytes"]
    print(f"{small['scale_employees']:,} -> {large['scale_employees']:,} employees: input x{inputs:.2f}"
          f" ({small['landing_full']['megabytes']} -> {large['landing_full']['megabytes']} MB of landing files)")
    for name, a, b, ratio, flag in growth(small, large):
        print(f"{name:<58} {a:>9.2f} {b:>9.2f}  x{ratio if ratio is not None else '-':<6} {flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
