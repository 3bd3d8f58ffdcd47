"""`training-impact` command line: generate, run, demo, summary, report, dev."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from training_impact.settings import ENGINES, REPO_ROOT, data_paths, default_environment, disable_telemetry, subprocess_environment


def _progress(label: str, fraction: float) -> None:
    """One rewritten line per step, so long generations show they are alive."""
    end = "\n" if fraction >= 1 else ""
    print(f"\r  {label:<40} {fraction * 100:5.1f}%", end=end, file=sys.stderr, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from training_impact import synthetic

    out = Path(args.out).resolve()
    started = time.monotonic()
    summary = synthetic.generate(out, employees=args.employees, years=args.years, seed=args.seed, progress=_progress,
                                 daily_days=getattr(args, "daily_days", 0) or 0,
                                 adversity=getattr(args, "adversity", None),
                                 worker_attributes=getattr(args, "worker_attributes", None))
    if getattr(args, "formats", None):  # rewrite the canonical extracts in vendor formats (synthetic/vendors.py)
        from training_impact.synthetic.vendors import export_vendor_format
        exported = export_vendor_format(out, args.formats)["families"]
        print("  vendor formats (landing/mappings.yml): " + "; ".join(f"{f}: {'+'.join(m)}" for f, m in exported.items()))
    print(f"generated a company of {args.employees:,} employees over {args.years} years "
          f"(seed {args.seed}) in {time.monotonic() - started:.1f}s")
    print(f"  landing files: {out / 'landing'}")
    print(f"  known truth:   {out / 'truth.json'}")
    if isinstance(summary, dict) and summary.get("rows"):  # one line: the demo's console stays short (D131)
        print("  rows: " + ", ".join(f"{name} {rows:,}" for name, rows in sorted(summary["rows"].items())))
    return 0


def _step_line(step: str, state: str, seconds: float) -> None:
    """One stdout line per step start and end (Dagster's own log goes to stderr)."""
    clock = time.strftime("%H:%M:%S")
    took = "" if state == "started" else f" in {seconds:.1f}s"
    print(f"  [{clock}] {step:<24} {state}{took}", flush=True)


def _log_level(args: argparse.Namespace) -> str:
    """Dagster's console log: warnings and errors, or every event with --verbose (the run's event
    log in the Dagster UI keeps every level either way)."""
    return "DEBUG" if getattr(args, "verbose", False) else "WARNING"


def _settings(args: argparse.Namespace):
    """The run's settings: the environment's, with dbt's log cut to its problems unless --verbose."""
    from training_impact.settings import Settings

    verbose = getattr(args, "verbose", False)
    overrides = {} if verbose else {"dbt_console": "problems"}
    if getattr(args, "column_metadata", None):
        overrides["column_metadata"] = args.column_metadata
    if getattr(args, "engine", None):
        overrides["engine"] = args.engine
    return Settings.from_environment(**overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from training_impact.pipeline import run_pipeline
    from training_impact.summary import print_run_summary

    paths = data_paths(args.data)
    tags = None
    if getattr(args, "full_refresh", False):  # after a key rotation: incremental staging rebuilt from all of bronze
        from training_impact.orchestration.defs.dbt import FULL_REFRESH_TAG

        tags = {FULL_REFRESH_TAG: "true"}
    try:
        outcome = run_pipeline(paths, tags=tags, progress=_step_line, settings=_settings(args),
                               lock_timeout=getattr(args, "lock_timeout", None), log_level=_log_level(args))
    except Exception as error:  # a full disk under Dagster's own storage: say so, with the path
        from training_impact.disk import full_disk_error

        explained = full_disk_error(error, paths.root, "the run's storage under the data root")
        if explained is None:
            raise
        print(f"training-impact: {explained}", file=sys.stderr, flush=True)
        return 1
    print_run_summary(paths, outcome)
    return 0 if outcome.success else 1


def cmd_backfill(args: argparse.Namespace) -> int:
    """Re-run the event files of a range of delivery days in one run, then one dbt build."""
    from datetime import date

    from training_impact.pipeline import run_pipeline
    from training_impact.summary import print_run_summary

    try:
        first, last = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    except ValueError as error:
        print(f"dates are YYYY-MM-DD: {error}", file=sys.stderr)
        return 2
    if first > last:
        print(f"--from {first} is after --to {last}", file=sys.stderr)
        return 2
    paths = data_paths(args.data)
    print(f"== backfill of delivery days {first} .. {last} ({(last - first).days + 1} days):"
          " landing files named with those days not loaded yet, then one dbt build")
    outcome = run_pipeline(paths, partition_range=(first.isoformat(), last.isoformat()),
                           tags={"training_impact/trigger": "backfill"}, progress=_step_line,
                           settings=_settings(args), lock_timeout=getattr(args, "lock_timeout", None), log_level=_log_level(args))
    print_run_summary(paths, outcome)
    return 0 if outcome.success else 1


def cmd_summary(args: argparse.Namespace) -> int:
    from training_impact.summary import print_kpi_summary

    return print_kpi_summary(data_paths(args.data))


def cmd_demo(args: argparse.Namespace) -> int:
    # a demo runs on generated people with the published development key (SECURITY.md)
    default_environment(TI_ENV="development")
    paths = data_paths(args.data)
    has_landing = paths.landing.exists() and any(p.is_file() for p in paths.landing.rglob("*"))
    if not has_landing:
        print(f"== generating a synthetic company into {paths.root}")
        cmd_generate(argparse.Namespace(out=str(paths.root), employees=args.employees, years=args.years, seed=args.seed,
                                        formats=args.formats))
    else:
        print(f"== landing files already in {paths.landing}: re-running on them (nothing new loads twice)")
    print("== running the pipeline (Dagster: ingest → quality gate → dbt → KPI marts)")
    # A new install's demo is its first run of this dbt code: it builds the column schema and lineage the UI
    # shows and stores them for every later run (D118), unless they are stored already.
    from training_impact.orchestration import column_metadata
    from training_impact.orchestration.dbt_manifest import dbt_project
    from training_impact.settings import Settings

    columns = ("1" if Settings.from_environment().column_metadata == "auto"
               and column_metadata.load(dbt_project.manifest_path) is None else None)
    code = cmd_run(argparse.Namespace(data=str(paths.root), verbose=args.verbose, column_metadata=columns))
    if code == 0:
        from training_impact.summary import print_kpi_summary, print_output_locations

        # the report's headline KPIs; every KPI is one command away (D131)
        print_kpi_summary(paths, headline=True)
        print(f"  every KPI by program type: training-impact summary --data {paths.root}")
        print_output_locations(paths)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    """Build the HTML KPI report from the existing warehouse (and optionally screenshot it)."""
    from training_impact.reporting import write_report
    from training_impact.settings import load_parameters

    paths = data_paths(args.data)
    try:
        written = write_report(paths.root, paths.warehouse, params=load_parameters(), run_id=args.run_id)
    except (FileNotFoundError, LookupError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"KPI report: {written.path}  ({len(written.chart_ids)} charts, {written.suppressed_cells} suppressed cells)")
    if args.screenshot:
        from training_impact.reporting.browser import ChromiumNotFound, check_render, screenshot

        try:
            check = check_render(written.path)
        except ChromiumNotFound as error:
            print(error, file=sys.stderr)
            return 1
        missing = sorted(set(written.chart_ids) - check.drawn())
        png = screenshot(written.path, Path(args.screenshot), height=min(max(check.height, 600), 30000))
        print(f"screenshot: {png}  ({len(check.drawn())}/{len(written.chart_ids)} charts drawn)")
        if missing:
            print(f"charts NOT drawn: {', '.join(missing)}", file=sys.stderr)
            return 1
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """Quarantined rows as a CSV for a spreadsheet (formula-like text neutralised)."""
    from training_impact.expectations.export import export_quarantine_csv

    paths = data_paths(args.data)
    rows = export_quarantine_csv(paths.root, args.csv, batch_id=args.batch, entity=args.entity)
    print(f"{rows:,} quarantined rows written to {Path(args.csv).resolve()}")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from training_impact.pipeline import prepare_dagster_home

    paths = data_paths(args.data).ensure()
    paths.export_env()
    prepare_dagster_home(paths)
    # `dg dev` re-parses the dbt project as it changes (dagster-dbt's prepare_if_dev): the venv's dbt first.
    child = subprocess_environment()
    child["PATH"] = str(Path(sys.executable).parent) + os.pathsep + child.get("PATH", "")
    # `dg dev` (dagster-dg-cli, the [dev] extra): `dagster dev` is superseded by it and says so at every
    # start. With -m it serves the module as `dagster dev` did: webserver, daemon, one code server (D129).
    command = Path(sys.executable).with_name("dg")
    if not command.exists():
        print("training-impact: `dg` is not installed (pip install 'training-impact[dev]'): starting `dagster dev`,"
              " which Dagster has superseded by `dg dev`", file=sys.stderr, flush=True)
        command = Path(sys.executable).with_name("dagster")
    os.chdir(REPO_ROOT)
    os.execve(str(command), [str(command), "dev", "-m", "training_impact.orchestration.definitions",
                             "-p", str(args.port)], child)


def cmd_prepare(args: argparse.Namespace) -> int:
    from training_impact.orchestration.dbt_manifest import dbt_project, prepare_manifest

    parsed = prepare_manifest(force=args.force)
    print(f"dbt manifest {'parsed' if parsed else 'up to date'}: {dbt_project.manifest_path}")
    if getattr(args, "column_metadata", False):
        return _prepare_column_metadata(dbt_project.manifest_path, force=args.force)
    return 0


def _prepare_column_metadata(manifest_path: Path, force: bool = False) -> int:
    """The deploy step of D118: the dbt models' column schema and lineage, built once for this dbt code on a
    small generated company in a scratch folder and stored beside the manifest; the nightly only attaches them."""
    import tempfile

    from training_impact.orchestration import column_metadata
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import Settings, environment_for_children

    if column_metadata.load(manifest_path) is not None and not force:
        print(f"column schema and lineage: up to date for this dbt code ({column_metadata.cache_path(manifest_path)})")
        return 0
    # the scratch company is generated people: the published development key (SECURITY.md)
    default_environment(TI_ENV="development")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ti-column-metadata-") as scratch:
        paths = data_paths(scratch)
        from training_impact import synthetic

        synthetic.generate(paths.root, employees=60, years=2, seed=7)
        # its own Dagster instance: the scratch run never shows in a deployment's ($DAGSTER_HOME)
        with environment_for_children({"DAGSTER_HOME": str(paths.dagster_home)}):
            outcome = run_pipeline(paths, settings=Settings.from_environment(column_metadata="1",
                                                                             dbt_console="problems"),
                                   log_level="WARNING")
    if not outcome.success or column_metadata.load(manifest_path) is None:
        print("column schema and lineage: the scratch run failed: " + "; ".join(outcome.failures or ["nothing stored"]),
              file=sys.stderr)
        return 1
    print(f"column schema and lineage built in {time.monotonic() - started:.0f}s: "
          f"{column_metadata.cache_path(manifest_path)}")
    return 0


# Commands that never load the Dagster definitions, so never need the dbt manifest.
_WITHOUT_DEFINITIONS = {"generate", "mappings", "quarantine", "summary", "prepare"}


def _add_verbose(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--verbose", action="store_true",
                     help="print Dagster's debug log too (by default: step lines, warnings, errors, the summary)")


def _add_lock_timeout(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--lock-timeout", type=float, default=None, metavar="SECONDS",
                     help="wait this long for another run on the same data root to finish, then exit 3 naming it"
                          " (default $TI_RUN_LOCK_TIMEOUT or 60; 0: do not wait)")


def _version() -> str:
    """The installed distribution's version (pyproject.toml), else the package's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("training-impact")
    except PackageNotFoundError:
        from training_impact import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="training-impact", description=__doc__)
    parser.add_argument("--version", action="version", version=f"training-impact {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic company's raw extracts and truth.json")
    gen.add_argument("--employees", type=int, default=2000)
    gen.add_argument("--years", type=int, default=3)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", default=str(data_paths().root), help="data root (landing/ and truth.json go here)")
    gen.add_argument("--formats", default=None, help="vendor formats, e.g. workday,docebo,xapi_json (docs/mappings.md)")
    gen.add_argument("--daily-days", type=int, default=0, metavar="N",
                     help="deliver the last N days of xAPI, finance and surveys as daily files (synthetic/daily.py)")
    gen.add_argument("--adversity", default=None, metavar="all|NAME,NAME",
                     help="settings that break the estimator's assumptions (synthetic/adversity.py): "
                          "late_control_enrolment, zero_outputs, staggered_starts, heterogeneous_effects, "
                          "baseline_ties, seasonality, hidden_selection")
    gen.add_argument("--worker-attributes", dest="worker_attributes", action=argparse.BooleanOptionalAction,
                     default=None, help="write hris/worker_attributes_<date>.csv (default: only with --adversity)")
    gen.set_defaults(func=cmd_generate)

    for name, func, text in (
        ("run", cmd_run, "ingest, gate and build the KPI marts in one Dagster run"),
        ("summary", cmd_summary, "print the KPI summary from the warehouse"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--data", default=None, help="data root (default $TI_DATA_DIR or ./data)")
        if name == "run":
            cmd.add_argument("--full-refresh", action="store_true",
                             help="rebuild the incremental staging models in full (after a key rotation)")
            cmd.add_argument("--engine", choices=ENGINES, default=None,
                             help="where dbt builds the models: duckdb (default, $TI_ENGINE) or spark "
                                  "(docs/scale-out.md; needs `pip install training-impact[spark]`)")
            _add_lock_timeout(cmd)
            _add_verbose(cmd)
        cmd.set_defaults(func=func)

    backfill = sub.add_parser("backfill", help="re-run the landing files of a range of delivery days, then dbt")
    backfill.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD", help="first delivery day")
    backfill.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD", help="last delivery day")
    backfill.add_argument("--data", default=None, help="data root (default $TI_DATA_DIR or ./data)")
    _add_lock_timeout(backfill)
    _add_verbose(backfill)
    backfill.set_defaults(func=cmd_backfill)

    demo = sub.add_parser("demo", help="generate a company (if none), run everything, print the KPIs")
    demo.add_argument("--employees", type=int, default=2000)
    demo.add_argument("--years", type=int, default=3)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--data", default=None)
    demo.add_argument("--formats", default=None, help="vendor formats of the generated extracts (see generate)")
    _add_verbose(demo)
    demo.set_defaults(func=cmd_demo)

    report = sub.add_parser("report", help="write the HTML KPI report (data/reports/kpi_report.html)")
    report.add_argument("--data", default=None, help="data root (default $TI_DATA_DIR or ./data)")
    report.add_argument("--screenshot", default=None, metavar="PNG",
                        help="also render it in headless Chromium and save a full-page PNG")
    report.add_argument("--run-id", default=None, help="also write reports/runs/<RUN_ID>.html")
    report.set_defaults(func=cmd_report)

    from training_impact.mappings_cli import add_parser as add_mappings_parser
    add_mappings_parser(sub)  # training-impact mappings list|check|suggest|docs

    from training_impact.audit.cli import add_parsers as add_audit_parsers
    add_audit_parsers(sub)  # training-impact trace|history|diff|reproduce (docs/audit.md)

    quarantine = sub.add_parser("quarantine", help="export quarantined rows to CSV (spreadsheet-safe)")
    quarantine.add_argument("--data", default=None, help="data root (default $TI_DATA_DIR or ./data)")
    quarantine.add_argument("--csv", required=True, metavar="OUT", help="CSV file to write")
    quarantine.add_argument("--batch", default=None, help="only this run's rows (batch id = Dagster run id)")
    quarantine.add_argument("--entity", default=None, help="only this entity")
    quarantine.set_defaults(func=cmd_quarantine)

    prepare = sub.add_parser("prepare", help="build step: parse the dbt project into its manifest (make runs it)")
    prepare.add_argument("--force", action="store_true", help="parse even when the manifest is up to date")
    prepare.add_argument("--column-metadata", action="store_true",
                         help="also build the dbt models' column schema and lineage for this dbt code (minutes, on a"
                              " small generated company; the deploy step: nightly runs only attach them, D118)")
    prepare.set_defaults(func=cmd_prepare)

    dev = sub.add_parser("dev", help="start the Dagster UI on the whole asset graph")
    dev.add_argument("--data", default=None)
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    args = build_parser().parse_args(argv)
    if args.command not in _WITHOUT_DEFINITIONS:
        from training_impact.orchestration.dbt_manifest import prepare_manifest

        prepare_manifest()  # the build step, when a model changed since the last parse (D106)
    from training_impact.privacy import PseudonymKeyError
    from training_impact.run_lock import RunLockBusy

    try:
        return args.func(args)
    except PseudonymKeyError as error:   # production without a usable key: say what to set, no traceback
        print(f"training-impact: {error}", file=sys.stderr)
        return 2
    except RunLockBusy as error:   # another run on this data root (DECISIONS D80): name it, exit 3
        print(f"training-impact: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
