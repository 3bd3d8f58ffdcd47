"""python -m synthetic --employees N --years Y --seed S --out DIR"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from . import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synthetic", description=__doc__)
    ap.add_argument("--employees", type=int, default=2000)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 10, 31))
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--adversity", default=None, help="all | name,name (synthetic/adversity.py)")
    ap.add_argument("--worker-attributes", dest="worker_attributes", action=argparse.BooleanOptionalAction,
                    default=None, help="write hris/worker_attributes (default: only with --adversity)")
    args = ap.parse_args(argv)

    started = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:7.1f}s] {stage:<9} {fraction:6.1%}", file=sys.stderr)

    summary = generate(args.out, args.employees, args.years, args.seed, args.end_date, progress,
                       adversity=args.adversity, worker_attributes=args.worker_attributes)
    print(json.dumps({"rows": summary["rows"], "landing": summary["landing"], "truth": summary["truth"],
                      "files": len(summary["files"])}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
