"""What a person reads at the end of a run: the run summary and the KPI summary."""

from __future__ import annotations

import re

import duckdb

from training_impact.settings import Paths


def _manifest_rows(paths: Paths, batch_id: str) -> list[tuple]:
    manifest = paths.bronze / "_manifest"
    if not manifest.exists() or not any(manifest.glob("*.parquet")):
        return []
    with duckdb.connect() as con:
        return con.execute(
            """
            select status, source_file, coalesce(reason, ''), coalesce(rows_read, 0),
                   coalesce(rows_loaded, 0), coalesce(rows_quarantined, 0)
            from read_parquet(?, union_by_name = true)
            where batch_id = ?
            order by source_file
            """,
            [str(manifest / "*.parquet"), batch_id],
        ).fetchall()


def _quarantine_reasons(paths: Paths, batch_id: str) -> list[tuple]:
    quarantine = paths.bronze / "_quarantine"
    if not quarantine.exists() or not any(quarantine.rglob("*.parquet")):
        return []
    with duckdb.connect() as con:
        return con.execute(
            """
            select entity, rule, count(*) as n
            from read_parquet(?, union_by_name = true)
            where _batch_id = ?
            group by all order by entity, n desc
            """,
            [str(quarantine / "*" / "*.parquet"), batch_id],
        ).fetchall()


_QUARANTINED = re.compile(r"^(?P<rule>\S+): (?P<rows>\d+) rows? quarantined$")


def check_line(check: dict) -> str:
    """A failed check for the console. Blocking (ERROR) ones as they are; a warning says what was set
    aside, by rule, and where to look, instead of reading like a failure."""
    what = f"{check['asset']} {check['check']}"
    if str(check.get("severity", "")).upper() != "WARN":
        return f"  FAILED {check['severity']} {what}: {check['description']}"
    rows: dict[str, int] = {}
    other: dict[str, int] = {}
    for part in (check.get("description") or "").split("; "):
        _, _, reason = part.partition(": ")
        found = _QUARANTINED.match(reason.strip())
        if found:
            rows[found["rule"]] = rows.get(found["rule"], 0) + int(found["rows"])
        elif reason:
            rule = reason.split(":")[0].strip()
            other[rule] = other.get(rule, 0) + 1
    said = []
    if rows:
        said.append(f"{sum(rows.values()):,} rows set aside by " + ", ".join(f"{r} ×{n:,}" for r, n in rows.items())
                    + " (see quarantine)")
    said += [f"{n:,} file{'s' if n > 1 else ''} {rule}" for rule, n in other.items()]
    return f"  warning {what}: " + ("; ".join(said) if said else check.get("description") or "")


def print_run_summary(paths: Paths, outcome) -> None:
    rows = _manifest_rows(paths, outcome.run_id)
    loaded = [r for r in rows if r[0] == "loaded"]
    print(f"\nrun {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'} in {outcome.seconds:.1f}s")
    print(f"  files: {len(loaded)} loaded, {sum(r[0] == 'duplicate' for r in rows)} already loaded, "
          f"{sum(r[0] == 'rejected' for r in rows)} rejected")
    print(f"  rows:  {sum(r[3] for r in loaded):,} read, {sum(r[4] for r in loaded):,} loaded, "
          f"{sum(r[5] for r in loaded):,} quarantined")
    for status, source_file, reason, *_ in rows:
        if status == "rejected":
            print(f"  REJECTED {source_file}: {reason}")
        elif status == "duplicate" and "set aside in" in reason:
            print(f"  SET ASIDE {source_file}: {reason}")
    checks = outcome.check_results
    failed = [c for c in checks if not c["passed"]]
    # the rows an entity's gate set aside, by rule; said once: a failed gate's own line below says it (D131)
    said = {c["asset"] for c in failed}
    for entity, rule, count in _quarantine_reasons(paths, outcome.run_id):
        if f"bronze/{entity}" not in said:
            print(f"  quarantined {entity}: {rule} × {count:,}")
    warned = sum(str(c.get("severity", "")).upper() == "WARN" for c in failed)
    print(f"  checks: {len(checks) - len(failed)} passed, {warned} warnings (not blocking), "
          f"{len(failed) - warned} failed")
    for check in failed:
        print(check_line(check))
    marts = [key for key in outcome.materialized if key.startswith("marts/")]
    reused = [key for key in getattr(outcome, "reused", []) if key.startswith("marts/")]
    print(f"  KPI marts rebuilt: {len(marts) - len(reused)}"
          + (f", {len(reused)} unchanged (nothing they read changed)" if reused else ""))
    for warning in kpi_warnings_of(paths):  # what the sources lack, KPI by KPI (config/kpis.yml needs, D137)
        print(f"  KPI warning: {warning}")
    for failure in outcome.failures:
        print(f"  step failure {failure.splitlines()[0]}")


def source_stats(paths: Paths) -> dict:
    """Per entity a KPI needs (config/kpis.yml `needs`), what the staging tables the marts read hold:
    rows, and rows with a value in each column a need names. Entities without a staging table are left out."""
    from training_impact.ingestion.schemas import load_schemas
    from training_impact.kpis import SourceStats, load_registry

    if not paths.warehouse.exists():
        return {}
    wanted: dict[str, set[str]] = {}
    for kpi in load_registry().kpis.values():
        for need in kpi.needs:
            wanted.setdefault(need.entity, set()).update([need.column] if need.column else [])
    schemas = load_schemas()
    out = {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        present = {(schema, name): {c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name]).fetchall()} for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = 'main_staging'"
        ).fetchall()}
        for entity, columns in wanted.items():
            if entity not in schemas.entities:
                continue
            table = f"stg_{schemas.entity(entity).family}__{entity}"
            have = present.get(("main_staging", table))
            if have is None:
                continue
            cols = sorted(c for c in columns if c in have)
            counts = ", ".join([f'count("{c}")' for c in cols] + ["count(*)"])
            row = con.execute(f'select {counts} from main_staging."{table}"').fetchone()
            out[entity] = SourceStats(int(row[-1]), {c: int(v) for c, v in zip(cols, row[:-1])})
    return out


def kpi_warnings_of(paths: Paths) -> list:
    """The KPIs the run left not measured, empty or degenerate, and why (training_impact.kpis.kpi_warnings)."""
    from training_impact.kpis import kpi_warnings

    try:
        stats = source_stats(paths)
    except duckdb.Error:
        return []
    return kpi_warnings(stats, entities=set(stats)) if stats else []


SUMMARY_QUERY = """
select kpi, estimation_method, program_type, n, estimate, ci_low, ci_high, suppressed, unit, is_flagged, flag_reason
from main_marts.kpi_summary
where slice_grain = 'program_type'
order by evaluation_level, kpi, estimation_method, program_type
"""

# How each estimation method is labelled for a reader who never saw the marts.
METHOD_LABELS = {"naive_pre_post": "naive before/after", "did_matched": "vs matched comparison",
                 "naive_vs_nonparticipants": "naive vs everyone else"}


def kpi_rows(paths: Paths) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(SUMMARY_QUERY).fetchall()


def _cell(n, estimate, ci_low, ci_high, suppressed, unit, is_flagged) -> str:
    if suppressed:
        return f"suppressed (n<min) n={n}"
    if estimate is None:
        return f"— n={n}"
    text = f"{estimate:,.1f} {unit}"
    if ci_low is not None and ci_high is not None:
        text += f" [{ci_low:,.1f}, {ci_high:,.1f}]"
    return text + f" n={n}" + (" !" if is_flagged else "")


# The KPI report's headline (reporting/build.py, its tiles): what the demo prints (D131).
HEADLINE = (("completion_rate", "observed"), ("productivity_change", "did_matched"),
            ("internal_mobility", "did_matched"), ("retention", "did_matched"), ("roi", "phillips"),
            ("roi_conservative", "phillips"))


def print_kpi_summary(paths: Paths, headline: bool = False) -> int:
    """Every KPI of kpi_summary by program type, or (`headline`) the report's headline KPIs only."""
    if not paths.warehouse.exists():
        print(f"no warehouse at {paths.warehouse}: run the pipeline first")
        return 1
    cells: dict[tuple[str, str], dict[str, str]] = {}
    reasons: dict[tuple[str, str], list[str]] = {}  # (program type, reason) -> the KPIs it flags
    rows = kpi_rows(paths)
    if headline:
        rows = sorted((r for r in rows if (r[0], r[1]) in HEADLINE), key=lambda r: HEADLINE.index((r[0], r[1])))
    for kpi, method, program_type, n, estimate, ci_low, ci_high, suppressed, unit, flagged, reason in rows:
        label = kpi + (f" ({METHOD_LABELS[method]})" if method in METHOD_LABELS else "")
        cells.setdefault((label, method), {})[program_type] = _cell(n, estimate, ci_low, ci_high, suppressed,
                                                                    unit, flagged)
        if flagged and not suppressed and reason:
            flagged_kpis = reasons.setdefault((program_type, reason), [])
            if kpi not in flagged_kpis:
                flagged_kpis.append(kpi)
    width = 40
    print(f"\n{'Headline KPIs' if headline else 'KPI summary'} by program type"
          " (95% CI in brackets; ! = a credibility check failed, reasons below)")
    print(f"  {'KPI':<46}{'upskilling':>{width}}{'reskilling':>{width}}")
    for (label, _), by_type in cells.items():
        print(f"  {label:<46}" + "".join(f"{by_type.get(t, '—'):>{width}}" for t in ("upskilling", "reskilling")))
    if reasons:
        print("\nnot confident figures, and why (docs/kpis.md, Flags)")
        # one line per reason: the ROI figures of a slice share their impact rows' flags
        print("\n".join(f"  ! {', '.join(kpis)} ({program_type}): {reason}"
                        for (program_type, reason), kpis in reasons.items()))
    not_measured = not_measured_rows(paths)
    if not_measured:
        print("\nnot measured (the company does not deliver what they need)")
        print("\n".join(f"  {kpi}: {reason}" for kpi, reason in not_measured))
    return 0


def not_measured_rows(paths: Paths) -> list[tuple[str, str]]:
    """(kpi, reason) of the KPIs kpi_summary publishes as not measured (D137)."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        has = con.execute("select 1 from information_schema.columns where table_schema = 'main_marts' and "
                          "table_name = 'kpi_summary' and column_name = 'measurement_status'").fetchone()
        if not has:
            return []
        return con.execute("select distinct kpi, not_measured_reason from main_marts.kpi_summary "
                           "where measurement_status = 'not_measured' order by kpi").fetchall()


def print_output_locations(paths: Paths) -> None:
    print("\noutputs")
    from training_impact.publishing.serving import serving_dir
    from training_impact.reporting.build import reports_dir

    serving = serving_dir(paths)
    print(f"  for BI (read-only): {serving / 'training_impact.duckdb'}  and  {serving / 'parquet'}")
    report = reports_dir(paths.root) / "kpi_report.html"
    if report.exists():
        print(f"  KPI report (HTML):  {report}")
    print(f"  warehouse (DuckDB): {paths.warehouse}  (schema main_marts, tables kpi_*; pipeline only)")
    print(f"  bronze Parquet:     {paths.bronze}")
    print(f"  quarantine:         {paths.bronze / '_quarantine'}")
    print(f"  rejected files:     {paths.rejected}")
    docs = paths.gx / "uncommitted" / "data_docs" / "local_site" / "index.html"
    if docs.exists():
        print(f"  GX Data Docs:       {docs}")
    print(f"  known truth:        {paths.truth}")
