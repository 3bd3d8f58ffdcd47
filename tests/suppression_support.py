"""The checker of small-cell suppression with complementary suppression (issue 6, docs/methods.md "Small cells").

An adversary holds every published row. Wherever the cells of a finer grain add up to a
coarser cell (departments to the all-employees cell, methods to their program type,
program_type_period cells to their program type and to their period, cohorts to their
program ...), subtracting the published children from the published parent yields the
sum of the suppressed children, and adding the published children yields a suppressed
parent. So in every such equation, for every additive column, the number of unknown
cells must be 0 or at least 2. Rows of different KPIs that count the same people must be
suppressed alike (or one of them publishes what the other hides), and a suppressed row
publishes nothing, not even an exact count band. These checks read only what is
published: the warehouse marts, the serving DuckDB file and its Parquet copies.

Used by tests/unit/test_suppression.py (the checker on hand-made rows) and
tests/integration/test_suppression_run.py (a real run's published outputs).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import yaml

from training_impact.settings import PARAMETERS_FILE

SLICE_DIMENSIONS = ("program_type", "method", "program_id", "cohort", "department", "region", "period")

# docs/kpis.md: the dimensions each grain slices by ('all' in the others)
GRAINS = {
    "overall": (),
    "program_type": ("program_type",),
    "program_type_method": ("program_type", "method"),
    "program": ("program_type", "method", "program_id"),
    "cohort": ("program_type", "method", "program_id", "cohort"),
    "department": ("department",),
    "region": ("region",),
    "period": ("period",),
    "program_type_period": ("program_type", "period"),
}

# the columns that tell tables of one mart apart (one equation system each; the event study: one per month)
TABLE_KEYS = ("kpi", "estimation_method", "definition_variant", "covariate", "matching_stage", "relative_month")

# additive over the cells of a partition: counts, sums of money and hours
ADDITIVE_PREFIXES = ("n_", "cost_", "offset_", "benefit_")
ADDITIVE_COLUMNS = {
    "n", "numerator", "denominator", "people", "fully_loaded_cost", "net_cost_after_offsets", "offsets_amount",
    "training_hours", "workforce_headcount", "workforce_fte_years", "monetary_benefits",
    "monetary_benefits_conservative",
}

# KPIs whose period cells are measured as of a different date than their 'all' cell
# (active certification: as of each year end vs as of the data end): no period equation
NOT_PERIOD_ADDITIVE = {"active_certification_rate"}

# KPIs of one mart computed on the same people per slice: suppressed alike
SAME_PEOPLE = {
    "kpi_efficiency": lambda row: "all",
    "kpi_retention": lambda row: "all",
    "kpi_qualitative_themes": lambda row: "all",
    "kpi_productivity_change": lambda row: "all",
    "kpi_time_to_competency": lambda row: "all",
    "kpi_comparison_balance": lambda row: row["kpi"],
    "kpi_internal_mobility": lambda row: "reskilling" if row["kpi"].endswith("reskilling_landed") else "all",
    "kpi_certification_attainment": lambda row: row["kpi"],
}


def _is_additive(column: str) -> bool:
    return column in ADDITIVE_COLUMNS or column.startswith(ADDITIVE_PREFIXES)


def _people(row: dict):
    """The exact people count a row publishes through n_band, if any."""
    try:
        return int(row.get("n_band"))
    except (TypeError, ValueError):
        return None


def _relations():
    for parent, parent_dims in GRAINS.items():
        for child, child_dims in GRAINS.items():
            if set(parent_dims) < set(child_dims):
                yield parent, parent_dims, child, child_dims


def differencing_findings(table: str, rows: list[dict], min_cell_size: int) -> list[str]:
    """Every way a suppressed value of one published table can be derived; [] when none."""
    findings: list[str] = []
    if not rows:
        return findings
    for row in rows:
        row["people"] = _people(row)
        if row.get("suppressed") and row["people"] is not None:
            findings.append(f"{table}: suppressed row publishes an exact count band {row['n_band']!r}: {_label(row)}")
    columns = [c for c in rows[0] if _is_additive(c)]
    keys = [k for k in TABLE_KEYS if k in rows[0]]
    by_table = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_table[tuple(row[k] for k in keys)][row["slice_grain"]].append(row)
    for table_key, grains in by_table.items():
        for parent_grain, parent_dims, child_grain, child_dims in _relations():
            if "period" in child_dims and "period" not in parent_dims and table_key and table_key[0] in NOT_PERIOD_ADDITIVE:
                continue
            children_of = defaultdict(list)
            for child in grains.get(child_grain, []):
                children_of[tuple(child[d] for d in parent_dims)].append(child)
            for parent in grains.get(parent_grain, []):
                children = children_of.get(tuple(parent[d] for d in parent_dims), [])
                if not children:
                    continue
                for column in columns:
                    unknown = [c for c in children if c.get(column) is None]
                    if parent.get(column) is not None and len(unknown) == 1 and unknown[0].get("suppressed"):
                        findings.append(
                            f"{table} {table_key} {column}: {parent_grain} {_label(parent)} minus published "
                            f"{child_grain} cells gives the suppressed {_label(unknown[0])}")
                    if parent.get(column) is None and parent.get("suppressed") and not unknown:
                        findings.append(
                            f"{table} {table_key} {column}: the suppressed {parent_grain} {_label(parent)} is the "
                            f"sum of its published {child_grain} cells")
    return findings


def consistency_findings(table: str, rows: list[dict]) -> list[str]:
    """Rows of one mart on the same people (same slice) must be suppressed alike."""
    findings = []
    population = SAME_PEOPLE.get(table)
    if population is None:
        return findings
    flags = defaultdict(set)
    for row in rows:
        flags[(population(row), row["slice_grain"], *(row[d] for d in SLICE_DIMENSIONS))].add(bool(row["suppressed"]))
    for key, seen in flags.items():
        if len(seen) > 1:
            findings.append(f"{table}: the same people {key} are suppressed in one KPI and published in another")
    return findings


def _label(row: dict) -> str:
    return "/".join(str(row[d]) for d in SLICE_DIMENSIONS if row[d] != "all") or "all"


def _rows(con, relation: str) -> list[dict]:
    cursor = con.execute(f"select * from {relation}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def cross_table_findings(tables: dict[str, list[dict]]) -> list[str]:
    """Marts that publish the same people: ROI's cells are kpi_efficiency's participants;
    the reskilling-only mobility variant is the reskilling program type of the headline one;
    kpi_summary repeats every mart."""
    findings = []
    slice_of = lambda row: (row["slice_grain"], *(row[d] for d in SLICE_DIMENSIONS))  # noqa: E731
    if "kpi_roi" in tables and "kpi_efficiency" in tables:
        participants = {slice_of(r): r for r in tables["kpi_efficiency"] if r["kpi"] == "participants"}
        for roi in tables["kpi_roi"]:
            efficiency = participants.get(slice_of(roi))
            if efficiency is None or bool(efficiency["suppressed"]) != bool(roi["suppressed"]):
                findings.append(f"kpi_roi {_label(roi)} ({roi['slice_grain']}) is suppressed unlike kpi_efficiency")
    if "kpi_internal_mobility" in tables:
        headline = {slice_of(r): r for r in tables["kpi_internal_mobility"] if r["kpi"] == "internal_mobility"}
        for row in tables["kpi_internal_mobility"]:
            if row["kpi"] != "internal_mobility_reskilling_landed":
                continue
            grain, *dims = slice_of(row)
            dims = dict(zip(SLICE_DIMENSIONS, dims))
            if grain == "overall":
                twin = ("program_type", "reskilling", *(["all"] * 6))
            elif grain == "period":
                twin = ("program_type_period", "reskilling", "all", "all", "all", "all", "all", dims["period"])
            elif "program_type" in GRAINS[grain]:
                twin = slice_of(row)
            else:
                continue
            other = headline.get(twin)
            if other is not None and bool(other["suppressed"]) != bool(row["suppressed"]):
                findings.append(f"internal_mobility_reskilling_landed {grain} {_label(row)} is suppressed unlike "
                                f"internal_mobility {twin}")
    if "kpi_summary" in tables:
        flags = {}
        for table, rows in tables.items():
            if table == "kpi_summary":
                continue
            for row in rows:
                flags[(row["kpi"], slice_of(row), row["estimation_method"])] = bool(row["suppressed"])
        for row in tables["kpi_summary"]:
            if row["suppressed"] and any(row[c] is not None for c in ("numerator", "denominator", "n", "estimate",
                                                                      "ci_low", "ci_high", "n_comparison")):
                findings.append(f"kpi_summary {row['kpi']} {_label(row)} publishes a figure of a suppressed cell")
            source = flags.get((row["kpi"], slice_of(row), row["estimation_method"]))
            if source is not None and source != bool(row["suppressed"]):
                findings.append(f"kpi_summary {row['kpi']} {_label(row)} is suppressed unlike its mart")
    return findings


def all_findings(tables: dict[str, list[dict]], min_cell_size: int) -> list[str]:
    findings = []
    for table, rows in tables.items():
        findings += differencing_findings(table, rows, min_cell_size)
        findings += consistency_findings(table, rows)
    return findings + cross_table_findings(tables)


def warehouse_tables(database: Path, schema: str = "main_marts") -> dict[str, list[dict]]:
    with duckdb.connect(str(database), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? and table_name like 'kpi_%'",
            [schema]).fetchall()]
        return {name: _rows(con, f"{schema}.{name}") for name in sorted(names)}


def parquet_tables(directory: Path) -> dict[str, list[dict]]:
    with duckdb.connect() as con:
        return {path.stem: _rows(con, f"read_parquet('{path}')") for path in sorted(directory.glob("kpi_*.parquet"))}


def _min_cell_size() -> int:
    return int(yaml.safe_load(PARAMETERS_FILE.read_text())["organisation"]["min_cell_size"])


def _report(findings: list[str]) -> str:
    return f"{len(findings)} derivable suppressed values, e.g.:\n" + "\n".join(findings[:15])
