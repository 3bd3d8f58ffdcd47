"""`make bench SCALE=N`: wall time and peak memory per pipeline stage.

Each stage runs in its own process so that its peak RSS is its own
(os.wait4 returns the child's rusage). A benchmark, not a test: results are
written to benchmarks/results/ and read by people, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAGES = ["generate", "ingest", "dbt_run", "dbt_test"]


def run_stage(stage: str, root: Path, scale: int, years: int, seed: int) -> dict:
    cmd = [sys.executable, "-m", "training_impact.benchmarks.stage", stage, str(root), str(scale), str(years), str(seed)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"stage {stage} failed with exit code {code}")
    return {"stage": stage, "wall_seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000, help="employees")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default=str(HERE / "work"), help="scratch data root (git-ignored)")
    args = parser.parse_args()

    root = Path(args.work) / f"scale_{args.scale}"
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    results = []
    load_before = os.getloadavg()
    for stage in STAGES:
        print(f"== {stage} (scale {args.scale:,})", flush=True)
        results.append(run_stage(stage, root, args.scale, args.years, args.seed))
        print(f"   {results[-1]['wall_seconds']} s, peak {results[-1]['peak_rss_mb']} MB", flush=True)

    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "scale_employees": args.scale,
        "years": args.years,
        "seed": args.seed,
        "finished_at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        # Other work on the machine inflates wall times: the 1-minute load average says how much.
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "stages": results,
        "bronze_rows": _bronze_rows(root),
    }
    target = out_dir / f"bench_{args.scale}_{stamp}.json"
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"results: {target}")
    return 0


def _bronze_rows(root: Path) -> dict:
    import duckdb

    counts = {}
    bronze = root / "bronze"
    for folder in sorted(p for p in bronze.iterdir() if p.is_dir() and not p.name.startswith("_")):
        with duckdb.connect() as con:
            counts[folder.name] = con.execute(
                "select count(*) from read_parquet(?)", [str(folder / "*.parquet")]
            ).fetchone()[0]
    return counts


if __name__ == "__main__":
    sys.exit(main())
