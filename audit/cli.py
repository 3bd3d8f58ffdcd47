"""CLI for auditors: ``trace``, ``history``, ``diff``, ``reproduce`` (docs/audit.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from training_impact.settings import data_paths


def _data(args) -> object:
    return data_paths(args.data)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cmd_trace(args: argparse.Namespace) -> int:
    from training_impact.audit.trace import render, trace

    try:
        result = trace(_data(args), args.kpi, args.slice, args.run, args.estimation_method,
                       full=args.json, limit=args.limit)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 1
    if args.json:
        print(result.to_json())
    else:
        print(render(result, limit=args.limit))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    import duckdb

    from training_impact.audit import history
    from training_impact.audit.trace import parse_slice

    paths = _data(args)
    if not args.as_of:
        runs = history.runs_table(paths)
        if args.json:
            print(json.dumps(runs, default=str, indent=1))
            return 0
        print(f"{'run id':<38} {'status':<8} {'ended (UTC)':<20} {'definition':<11} {'files':>5} "
              f"{'checks':>6} {'failed':>6}  code")
        for run in runs:
            print(f"{run['run_id']:<38} {run['status']:<8} {str(run['ended_at'])[:19]:<20} "
                  f"{run['definition_version']:<11} {run['input_files']:>5} {run['checks']:>6} "
                  f"{run['checks_failed']:>6}  {str(run['code_version'])[:12]}")
        return 0
    try:
        run = history.run_as_of(paths, date.fromisoformat(args.as_of))
    except LookupError as error:
        print(error, file=sys.stderr)
        return 1
    # only the columns named: `--slice grain=department` lists every department
    named = {part.partition("=")[0].strip() for part in (args.slice or "").split(",") if part}
    named = {"slice_grain" if name == "grain" else name for name in named}
    where = {k: v for k, v in parse_slice(args.slice).items() if k in named}
    rows = history.cells(duckdb.connect(), paths, run["run_id"], kpi=args.kpi, where=where)
    if args.json:
        print(json.dumps({"as_of": args.as_of, "run": run, "cells": rows}, default=str, indent=1))
        return 0
    print(f"reported on {args.as_of}: run {run['run_id']} (published {str(run['ended_at'])[:19]} UTC, "
          f"definition {run['definition_version']})")
    print(f"{'kpi':<36} {'grain':<20} {'slice':<28} {'method':<12} {'estimate':>10} {'numerator':>10} "
          f"{'denominator':>11} {'n':>6}")
    for row in rows:
        label = ",".join(str(row[d]) for d in ("program_type", "method", "program_id", "cohort", "department",
                                                "region", "period") if row.get(d) not in (None, "all")) or "all"
        print(f"{row['kpi']:<36} {row['slice_grain']:<20} {label[:28]:<28} {row['estimation_method']:<12} "
              f"{_fmt(row['estimate']):>10} {_fmt(row['numerator']):>10} {_fmt(row['denominator']):>11} "
              f"{_fmt(row['n'] if not row['suppressed'] else row['n_band']):>6}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from training_impact.audit import history
    from training_impact.audit.reasons import change_reasons

    paths = _data(args)
    try:
        old, new = history.resolve_run(paths, args.old), history.resolve_run(paths, args.new)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 1
    rows = history.diff_runs(paths, old, new, mart=args.mart, kpi=args.kpi)
    summary = change_reasons(paths, old, new).summary()
    if args.json:
        print(json.dumps({"old_run": old, "new_run": new, "reasons": summary, "cells": rows}, default=str, indent=1))
        return 0
    print(f"{len(rows)} cells of {args.mart} differ between {old} and {new}")
    for reason in summary:
        print(f"  reason: {reason['reason']} ({', '.join(reason['entities']) or 'all KPIs'})")
        for line in reason["detail"][:5]:
            print(f"      {line}")
        if len(reason["detail"]) > 5:
            print(f"      ... {len(reason['detail']) - 5} more (--json lists them all)")
    print(f"{'kpi':<36} {'grain':<20} {'slice':<24} {'old':>10} {'new':>10}  reasons")
    for row in rows[:args.limit]:
        label = ",".join(str(row[d]) for d in ("program_type", "method", "program_id", "cohort", "department",
                                                "region", "period") if row.get(d) not in (None, "all")) or "all"
        print(f"{row['kpi']:<36} {row['slice_grain']:<20} {label[:24]:<24} {_fmt(row['old_estimate']):>10} "
              f"{_fmt(row['new_estimate']):>10}  {'; '.join(row['reasons'])}")
    if len(rows) > args.limit:
        print(f"... {len(rows) - args.limit} more (--limit, or --json)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from training_impact.audit.reproduce import ReproductionError, reproduce

    try:
        result = reproduce(_data(args), args.run, args.into, force=args.force)
    except (ReproductionError, LookupError) as error:
        print(error, file=sys.stderr)
        return 1
    for mart, counts in result.marts.items():
        state = "identical" if counts["only_old"] == counts["only_new"] == 0 else "DIFFERENT"
        print(f"  {mart:<32} {counts['rows']:>6} rows  {state}")
    print(f"run {result.run_id} reproduced as {result.new_run_id} in {result.target}: "
          + ("every KPI value identical" if result.identical else "KPI VALUES DIFFER"))
    return 0 if result.identical else 2


def add_parsers(sub) -> None:
    trace = sub.add_parser("trace", help="from a published KPI cell to its people and source rows")
    trace.add_argument("kpi", help="KPI name, e.g. completion_rate, retention, internal_mobility")
    trace.add_argument("--slice", default=None,
                       help="grain=GRAIN and dimensions, e.g. grain=program,program_type=upskilling,method=bootcamp,"
                            "program_id=P001 (missing dimensions read 'all'; default the overall cell)")
    trace.add_argument("--run", default=None, help="run id or unique prefix (default: the latest published run)")
    trace.add_argument("--estimation-method", default=None)
    trace.add_argument("--limit", type=int, default=20, help="members and rows shown in the table")
    trace.add_argument("--json", action="store_true", help="everything, as JSON")
    trace.add_argument("--data", default=None, help="data root (default $TI_DATA_DIR or ./data)")
    trace.set_defaults(func=cmd_trace)

    hist = sub.add_parser("history", help="the run ledger, or what was reported on a date (--as-of)")
    hist.add_argument("--as-of", default=None, metavar="YYYY-MM-DD")
    hist.add_argument("--kpi", default=None)
    hist.add_argument("--slice", default=None, help="as for trace")
    hist.add_argument("--json", action="store_true")
    hist.add_argument("--data", default=None)
    hist.set_defaults(func=cmd_history)

    diff = sub.add_parser("diff", help="published cells that changed between two runs, with the reasons")
    diff.add_argument("old", help="run id (or prefix) reported first")
    diff.add_argument("new", nargs="?", default="latest", help="run id (or prefix), default the latest")
    diff.add_argument("--kpi", default=None)
    diff.add_argument("--mart", default="kpi_summary", help="kpi_* table to compare (default kpi_summary)")
    diff.add_argument("--limit", type=int, default=30)
    diff.add_argument("--json", action="store_true")
    diff.add_argument("--data", default=None)
    diff.set_defaults(func=cmd_diff)

    repro = sub.add_parser("reproduce", help="re-run a past run's inputs in a new data root, compare every KPI")
    repro.add_argument("run", help="run id (or prefix) or 'latest'")
    repro.add_argument("--into", required=True, metavar="DIR", help="new, empty data root")
    repro.add_argument("--force", action="store_true", help="run even if code or parameters differ")
    repro.add_argument("--data", default=None)
    repro.set_defaults(func=cmd_reproduce)
