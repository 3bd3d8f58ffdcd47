"""Daily drops: the last days of the event sources as one file per day, and a week of nightly deliveries.

``split_daily(landing, end_date, days)`` rewrites the event extracts (xAPI
statements, finance cost lines, post-training surveys) of the last ``days`` days
as daily files named with their day (``statements_2026-10-25.ndjson``); the rows
of earlier days stay in the monthly file of their month. Every day gets its
file, also a quiet one (header only), as a real nightly feed delivers. History
before the cut stays monthly: three years as daily files would mean a thousand
files and a quality check each (DECISIONS D57).

The snapshots (HR workers and job history, LMS programs, enrollments and
credentials) stay as the generator writes them, renamed to the day before the
first daily drop: they arrive with the history, so the daily events find the
workers and programs they point at.

``lay_out_drops(source_landing, target_landing, day)`` builds what landing
holds after the delivery of ``day`` (None: the history only), for a simulated
week of nightly runs (tests/integration/test_nightly_run.py).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

# entity -> (folder/prefix, suffix, header rows, day of a record)
_QUALTRICS_HEADER_ROWS = 3
SNAPSHOT_PREFIXES = ("hris/workers_", "hris/job_history_", "lms/programs_", "lms/enrollments_",
                     "lms/credentials_")


def _xapi_day(line: str) -> str | None:
    try:
        return str(json.loads(line).get("timestamp", ""))[:10] or None
    except (ValueError, AttributeError):
        return None


EVENT_FILES: dict[str, tuple[str, str, int, Callable]] = {
    # prefix, suffix, header rows, day of a parsed record
    "xapi_statements": ("lms/xapi/statements_", ".ndjson", 0, None),
    "cost_lines": ("finance/cost_lines_", ".csv", 1, lambda row: row[1][:10] if len(row) > 1 else None),
    "survey_responses": ("surveys/post_training_survey_", ".csv", _QUALTRICS_HEADER_ROWS,
                         lambda row: row[7][:10] if len(row) > 7 else None),  # RecordedDate
}


def daily_days(end_date: date, days: int) -> list[date]:
    if not 1 <= days <= 28:
        raise ValueError("daily days must be between 1 and 28")
    return [end_date - timedelta(days=days - 1 - k) for k in range(days)]


def split_daily(landing: Path, end_date: date, days: int) -> dict:
    """Cut the last `days` days of the event extracts into daily files.

    Returns {"drops": {day: [files]}, "rows": {file: records}, "renamed": {old: new}}
    for every file written or renamed (files are relative to landing).
    """
    landing = Path(landing)
    wanted = [d.isoformat() for d in daily_days(end_date, days)]
    months = sorted({day[:7] for day in wanted})
    drops: dict[str, list[str]] = {day: [] for day in wanted}
    rows: dict[str, int] = {}
    for prefix, suffix, header_rows, day_of in EVENT_FILES.values():
        for month in months:
            monthly_rel = f"{prefix}{month}{suffix}"
            header, kept, daily = _split_file(landing / monthly_rel, header_rows, day_of, set(wanted))
            _write(landing / monthly_rel, header, kept, csv_rows=header_rows > 0)
            rows[monthly_rel] = len(kept)
            for day in wanted:
                if day[:7] == month:
                    rel = f"{prefix}{day}{suffix}"
                    _write(landing / rel, header, daily.get(day, []), csv_rows=header_rows > 0)
                    drops[day].append(rel)
                    rows[rel] = len(daily.get(day, []))
    cut = (date.fromisoformat(wanted[0]) - timedelta(days=1)).isoformat()
    renamed = {}
    for prefix in SNAPSHOT_PREFIXES:
        for path in sorted(landing.glob(f"{prefix}{end_date.isoformat()}.*")):
            target = path.with_name(path.name.replace(end_date.isoformat(), cut))
            path.rename(target)
            renamed[path.relative_to(landing).as_posix()] = target.relative_to(landing).as_posix()
    return {"drops": {day: sorted(files) for day, files in drops.items()}, "rows": rows, "renamed": renamed}


def _split_file(path: Path, header_rows: int, day_of, wanted: set[str]):
    """Stream one monthly file: (header rows, rows kept, {day: rows}) as raw CSV rows or ndjson lines."""
    header: list = []
    kept: list = []
    daily: dict[str, list] = {}
    if not path.exists():
        return header, kept, daily
    with open(path, encoding="utf-8", newline="") as fh:
        if header_rows == 0:  # ndjson: one statement a line
            for line in fh:
                line = line.rstrip("\n")
                if not line:
                    continue
                day = _xapi_day(line)
                (daily.setdefault(day, []) if day in wanted else kept).append(line)
            return header, kept, daily
        reader = csv.reader(fh)
        for _ in range(header_rows):
            header.append(next(reader))
        for row in reader:
            day = day_of(row)
            (daily.setdefault(day, []) if day in wanted else kept).append(row)
    return header, kept, daily


def _write(path: Path, header: list, rows: list, csv_rows: bool) -> None:
    """Same writer settings as synthetic.writer.LandingWriter, via a temp name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        if csv_rows:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerows(header)
            writer.writerows(rows)
            fh.write(buf.getvalue())
        elif rows:
            fh.write("\n".join(rows) + "\n")
    os.replace(tmp, path)


def drop_days(truth_or_summary: dict) -> list[str]:
    """The daily drop days recorded by the generator (truth.json `daily_drops`)."""
    return sorted((truth_or_summary.get("daily_drops") or {}).keys())


def lay_out_drops(source_landing: Path, target_landing: Path, through_day: str | None,
                  daily_drops: dict[str, list[str]]) -> list[str]:
    """Copy into `target_landing` the history plus every daily drop up to `through_day`.

    Files already in the target are left alone (a landing zone only grows); returns
    the files this call added, relative to landing.
    """
    source_landing, target_landing = Path(source_landing), Path(target_landing)
    later = {rel for day, files in daily_drops.items() if through_day is None or day > through_day for rel in files}
    added = []
    for path in sorted(p for p in source_landing.rglob("*") if p.is_file()):
        rel = path.relative_to(source_landing).as_posix()
        dest = target_landing / rel
        if rel in later or dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        added.append(rel)
    return added
