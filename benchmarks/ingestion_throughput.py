"""Ingestion throughput: a productivity-like CSV of N rows through ingest_file.

    python -m training_impact.benchmarks.ingestion_throughput --rows 1000000 [--batch-size 100000]

Writes the CSV into a temporary data root, ingests it with the real GX row
rules and a worker reference set, and prints rows/second and peak RSS (the
process high-water mark, which includes Python, Arrow and GX themselves).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path


def write_csv(path: Path, rows: int, workers: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("worker_id,period,metric,unit,value\n")
        for i in range(rows):
            w = i % workers
            month = (i // workers) % 36
            fh.write(f"W{w:07d},{2023 + month // 12}-{month % 12 + 1:02d}-01,units_per_hour,units/h,"
                     f"{rnd.uniform(5, 60):.3f}\n")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--no-gx", action="store_true", help="skip the GX row rules (measures the engine alone)")
    args = ap.parse_args(argv)

    from training_impact.expectations import row_rules
    from training_impact.ingestion import DEFAULT_BATCH_SIZE, ingest_file, new_batch_id

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        src = root / "landing" / "performance" / "productivity_2025-01.csv"
        t0 = time.perf_counter()
        write_csv(src, args.rows, args.workers)
        t_write = time.perf_counter() - t0
        refs = {"worker_id": {f"W{w:07d}" for w in range(args.workers)}}
        kwargs = {"row_rules": row_rules}   # GX loads on the first batch, inside the timed load as before
        if args.no_gx:
            import pandas as pd

            class _NoRules:
                failures = pd.DataFrame({"row_index": [], "rule": [], "column": [], "value": [], "message": []})
                result = {"success": True}

            kwargs = {"row_validator": lambda entity, df: _NoRules()}
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        rep = ingest_file(src, root, new_batch_id(), references=refs,
                          batch_size=args.batch_size or DEFAULT_BATCH_SIZE, **kwargs)
        elapsed = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = {
            "rows": args.rows,
            "file_mb": round(src.stat().st_size / 2**20, 1),
            "batch_size": args.batch_size or DEFAULT_BATCH_SIZE,
            "gx": not args.no_gx,
            "status": rep.status,
            "rows_loaded": rep.rows_loaded,
            "rows_quarantined": rep.rows_quarantined,
            "seconds": round(elapsed, 2),
            "rows_per_second": round(args.rows / elapsed),
            "peak_rss_mb": round(peak / 1024),
            "rss_before_ingest_mb": round(rss_before / 1024),
            "csv_write_seconds": round(t_write, 1),
        }
        print(json.dumps(out))
        return out


if __name__ == "__main__":
    main()
