"""The KPI report: a self-contained HTML page (inline CSS + SVG charts drawn in Python).

``write_report`` is what the Dagster asset ``published/kpi_report`` and
``training-impact report`` call; ``browser`` renders the page in headless Chromium
(screenshots, and the check that every declared chart is drawn).
"""

from training_impact.reporting.build import REPORT_NAME, RenderedReport, WrittenReport, render_report, reports_dir, write_report
from training_impact.reporting.data import ReportData, load_report_data

__all__ = ["REPORT_NAME", "RenderedReport", "ReportData", "WrittenReport", "load_report_data", "render_report",
           "reports_dir", "write_report"]
