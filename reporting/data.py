"""Read what the report shows from the warehouse marts, read-only.

Rows come back as plain dicts keyed by column name, so marts that gain columns or
rows (new slice grains such as cohort, period, department) need no change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

SCHEMA = "main_marts"
SUMMARY_TABLE = "kpi_summary"
ROI_TABLE = "kpi_roi"
EVENT_STUDY_TABLE = "kpi_impact_event_study"
# config/parameters.yml's windows, when neither the warehouse nor the caller says otherwise.
DEFAULT_WINDOWS = {"pre_months": 6, "post_start_months": 3, "post_end_months": 9, "mobility_months": 12,
                   "retention_months": 12, "certification_days": 365}


@dataclass
class ReportData:
    summary: list[dict]
    roi: list[dict] = field(default_factory=list)
    event_study: list[dict] = field(default_factory=list)  # kpi_impact_event_study, when built
    params: dict = field(default_factory=dict)
    windows: dict = field(default_factory=dict)  # the windows the marts were built with (stg_config__parameters)
    run_id: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    source: str = ""

    def window(self, name: str) -> int:
        """A window of the build behind the marts; else of the parameters given; else the default."""
        value = self.windows.get(name)
        if value is None:
            value = self.params.get("windows", {}).get(name, DEFAULT_WINDOWS[name])
        return int(value)

    def _organisation(self, name: str, default):
        """An organisation setting of the parameters given (config/parameters.yml `organisation:`; a file of an
        earlier version keeps it under `reporting:`)."""
        for block in ("organisation", "reporting"):
            value = (self.params.get(block) or {}).get(name)
            if value is not None:
                return value
        return default

    @property
    def min_cell_size(self) -> int:
        return int(self._organisation("min_cell_size", 5))

    @property
    def currency(self) -> str:
        for row in self.roi:
            if row.get("currency"):
                return str(row["currency"])
        return str(self._organisation("currency", ""))

    @property
    def definition_version(self) -> str:
        versions = sorted({str(r["definition_version"]) for r in self.summary if r.get("definition_version")})
        return ", ".join(versions) or str(self.params.get("definition_version", ""))


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    cursor = con.execute(f'select * from "{SCHEMA}"."{table}"')
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]).fetchall()}


def load_report_data(warehouse: Path, params: dict | None = None, run_id: str | None = None) -> ReportData:
    """The KPI summary (required), the ROI build-up and the event study (when those marts exist)."""
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run the pipeline first")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = _tables(con)
        if SUMMARY_TABLE not in tables:
            raise LookupError(f"{SCHEMA}.{SUMMARY_TABLE} is missing from {warehouse}: run the pipeline first")
        summary = _rows(con, SUMMARY_TABLE)
        roi = _rows(con, ROI_TABLE) if ROI_TABLE in tables else []
        event_study = _rows(con, EVENT_STUDY_TABLE) if EVENT_STUDY_TABLE in tables else []
        windows = _built_windows(con)
    return ReportData(summary=summary, roi=roi, event_study=event_study, params=params or {}, windows=windows,
                      run_id=run_id, source=str(warehouse))


WINDOW_COLUMNS = ("pre_months", "post_start_months", "post_end_months", "mobility_months", "retention_months",
                  "certification_days")


def _built_windows(con: duckdb.DuckDBPyConnection) -> dict:
    """The windows of config/parameters.yml as the dbt build that made the marts read them."""
    found = con.execute("select 1 from information_schema.tables where table_schema = 'main_staging' "
                        "and table_name = 'stg_config__parameters'").fetchone()
    if not found:
        return {}
    cursor = con.execute(f"select {', '.join(WINDOW_COLUMNS)} from main_staging.stg_config__parameters")
    row = cursor.fetchone()
    return dict(zip(WINDOW_COLUMNS, row)) if row else {}
