"""The KPI report: a self-contained page whose every declared chart is drawn in headless Chromium.

The report of a real pipeline run is tests/integration/test_report_run.py."""

from __future__ import annotations

import re
from html import escape
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from report_support import require_chromium
from training_impact.reporting import ReportData, render_report, write_report
from training_impact.reporting.browser import check_render, screenshot
from training_impact.reporting.png import colour_share, png_size, read_png
from training_impact.reporting.svg import SERIES_COLOURS

PARAMS = {"definition_version": "test.1", "reporting": {"min_cell_size": 5, "currency": "EUR"}}
METHODS = {"upskilling": ["online_self_paced", "cohort_based"], "reskilling": ["bootcamp", "hybrid"]}
KPIS = [  # kpi, estimation_method, unit, level, estimate, half-width of the CI
    ("completion_rate", "observed", "pct", 0, 70.0, 8.0),
    ("certification_attainment", "observed", "pct", 2, 30.0, 9.0),
    ("productivity_change", "did_matched", "index_points", 4, 6.0, 2.0),
    ("productivity_change", "naive_pre_post", "index_points", 4, 9.5, 2.0),
    ("productivity_change_pct", "did_matched", "pct", 4, 5.5, 1.8),
    ("productivity_change_pct", "naive_pre_post", "pct", 4, 8.7, 1.8),
    ("internal_mobility", "did_matched", "pp", 4, 25.0, 15.0),
    ("retention", "did_matched", "pp", 4, -3.0, 10.0),
    ("roi", "phillips", "pct", 5, 40.0, None),
]


def _row(kpi, est, unit, level, estimate, half, grain, program_type="all", method="all", period="all",
         n=40, suppressed=False, flagged=False, **extra) -> dict:
    row = {
        "kpi": kpi, "slice_grain": grain, "program_type": program_type, "method": method, "period": period,
        "estimation_method": est, "evaluation_level": level, "unit": unit, "numerator": None, "denominator": None,
        "n": None if suppressed else n, "n_band": "suppressed" if suppressed else str(n),
        "n_comparison": None if suppressed or est != "did_matched" else n + 10,
        "estimate": None if suppressed else estimate,
        "ci_low": None if suppressed or half is None else estimate - half,
        "ci_high": None if suppressed or half is None else estimate + half,
        "is_flagged": flagged, "definition_version": "test.1", "suppressed": suppressed,
    }
    row.update(extra)
    return row


def _roi_row(grain: str, program_type: str = "all", method: str = "all", scale: float = 1.0) -> dict:
    costs = {"cost_vendor_fee": 100_000, "cost_tuition": 50_000, "cost_licence": 40_000,
             "cost_design_development": 60_000, "cost_facilitator": 30_000, "cost_travel": 0,
             "cost_stipend": 10_000, "cost_evaluation": 5_000, "cost_participant_wages": 150_000,
             "cost_allocated_shared": 25_000}
    costs = {k: v * scale for k, v in costs.items()}
    total = sum(costs.values())
    benefits = {"benefit_productivity": 500_000 * scale, "benefit_retention": -40_000 * scale,
                "benefit_mobility": 120_000 * scale}
    total_benefits = sum(benefits.values())
    return {"kpi": "roi", "slice_grain": grain, "program_type": program_type, "method": method, "period": "all",
            "estimation_method": "phillips", "unit": "pct", "n": 60, "estimate": (total_benefits - total) / total * 100,
            "roi_pct_conservative": -20.0, "roi_pct_after_offsets": 70.0, "benefit_cost_ratio": total_benefits / total,
            "payback_months": 9.0, **costs, "fully_loaded_cost": total, "offset_grant": -20_000 * scale,
            "offset_tax_credit": 0.0, **benefits, "monetary_benefits": total_benefits, "has_improvement_data": True,
            "is_flagged": program_type == "reskilling", "is_confident": program_type != "reskilling",
            "currency": "EUR", "definition_version": "test.1", "suppressed": False}


def sample_data(with_trends: bool = True) -> ReportData:
    """Every grain the marts have or will have: overall, type, type × method, period, cohort, department."""
    summary = []
    for kpi, est, unit, level, value, half in KPIS:
        summary.append(_row(kpi, est, unit, level, value, half, "overall", n=120))
        for i, ptype in enumerate(METHODS):
            summary.append(_row(kpi, est, unit, level, value + 3 * i, half, "program_type", ptype, n=60,
                                flagged=(ptype == "reskilling" and est == "did_matched")))
            for j, method in enumerate(METHODS[ptype]):
                summary.append(_row(kpi, est, unit, level, value - 2 * j, half, "program_type_method", ptype, method,
                                    n=30, suppressed=(ptype == "reskilling" and method == "hybrid")))
        if with_trends and est in ("observed", "did_matched"):
            for k, period in enumerate(["2024-H1", "2024-H2", "2025-H1", "2025-H2"]):
                for ptype in METHODS:
                    summary.append(_row(kpi, est, unit, level, value + k + (4 if ptype == "reskilling" else 0), half,
                                        "period", ptype, period=period,
                                        n=25, suppressed=(period == "2024-H1" and ptype == "reskilling")))
            for c, cohort in enumerate(["2024-01", "2024-04", "2024-07"]):
                summary.append(_row(kpi, est, unit, level, value + c, half, "cohort", "upskilling", cohort=cohort,
                                    period="all", n=12))
    if with_trends:
        for department in ["Finance", "Operations"]:
            summary.append(_row("completion_rate", "observed", "pct", 0, 65.0, 7.0, "department",
                                department=department, n=30))
        summary.append(_row("completion_rate", "observed", "pct", 0, 65.0, 7.0, "department", department="Legal",
                            suppressed=True))
    roi = [_roi_row("overall", scale=2.0), _roi_row("program_type", "upskilling"),
           _roi_row("program_type", "reskilling", scale=1.3), _roi_row("program_type_method", "upskilling",
                                                                       "online_self_paced", scale=0.5)]
    return ReportData(summary=summary, roi=roi, params=PARAMS, run_id="run-1234",
                      generated_at=datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc), source="sample")


# ---------------------------------------------------------------- the page

def test_page_is_self_contained():
    html = render_report(sample_data()).html
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert not re.search(r"url\((?!#)", html)
    # http(s) appears only as the SVG namespace, never as something to fetch
    assert set(re.findall(r"https?://[^\s'\"<>]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_every_svg_is_well_formed_and_declared():
    rendered = render_report(sample_data())
    svgs = re.findall(r"<svg\b.*?</svg>", rendered.html, re.S)
    ids = []
    for markup in svgs:
        element = ET.fromstring(markup)
        ids.append(element.get("data-chart-id"))
        assert element.find("{http://www.w3.org/2000/svg}title").text
    assert ids == rendered.chart_ids and len(set(ids)) == len(ids)
    meta = re.search(r"<meta name=\"ti-charts\" content=\"([^\"]*)\"", rendered.html).group(1).split()
    assert meta == rendered.chart_ids


def test_sections_and_charts_present():
    ids = set(render_report(sample_data()).chart_ids)
    assert {"type-rates", "forest-productivity", "forest-people", "roi-all", "roi-upskilling", "roi-reskilling",
            "method-completion_rate", "method-productivity_change"} <= ids
    assert {"trend-period-completion_rate-observed", "trend-cohort-completion_rate-observed"} <= ids


def test_suppressed_cells_are_shown_as_such():
    data = sample_data()
    rendered = render_report(data)
    assert "<span class='suppressed'>suppressed</span>" in rendered.html  # tables
    chart = re.search(r"<svg[^>]*data-chart-id='method-completion_rate'.*?</svg>", rendered.html, re.S).group(0)
    assert "class='mark suppressed'" in chart and "suppressed" in chart  # hatched band + label
    # a suppressed cell may be complementary (>= min_cell_size people): no "n < 5" claim, no band
    assert "n &lt; 5" not in rendered.html and "people</span>" not in rendered.html
    assert rendered.suppressed_cells >= sum(1 for r in data.summary if r["suppressed"]
                                            and r["slice_grain"] in ("program_type_method", "department"))


def test_naive_and_matched_are_labelled_side_by_side():
    html = render_report(sample_data()).html
    forest = re.search(r"<svg[^>]*data-chart-id='forest-productivity'.*?</svg>", html, re.S).group(0)
    assert "vs matched comparison" in forest and "naive before/after" in forest
    assert "(vs matched comparison)" in html and "(naive before/after)" in html


def test_roi_waterfall_builds_from_costs_to_net():
    html = render_report(sample_data()).html
    waterfall = re.search(r"<svg[^>]*data-chart-id='roi-upskilling'.*?</svg>", html, re.S).group(0)
    order = ["Vendor fees", "Learners&#x27; paid time", "Fully-loaded cost", "Productivity gain",
             "Avoided turnover", "Net benefit", "Grants (offset)", "Net after offsets"]
    positions = [waterfall.index(label) for label in order]
    assert positions == sorted(positions)
    assert "Travel" not in waterfall  # zero-cost categories are left out
    assert "not a confident figure" in html and "confident figure" in html


def test_without_trend_slices_the_page_says_so():
    rendered = render_report(sample_data(with_trends=False))
    assert not any(cid.startswith("trend-") for cid in rendered.chart_ids)
    assert "do not publish cohort or period slices yet" in rendered.html


def _warehouse_from(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema main_marts")
        summary = pd.DataFrame(data.summary)  # noqa: F841 (read by duckdb below)
        roi = pd.DataFrame(data.roi)  # noqa: F841
        con.execute("create table main_marts.kpi_summary as select * from summary")
        con.execute("create table main_marts.kpi_roi as select * from roi")
    return path


def test_write_report_writes_latest_and_run_copy(tmp_path):
    warehouse = _warehouse_from(sample_data(), tmp_path / "warehouse" / "training_impact.duckdb")
    written = write_report(tmp_path, warehouse, params=PARAMS, run_id="abc/../123")
    assert written.path == tmp_path / "reports" / "kpi_report.html"
    assert written.run_copy == tmp_path / "reports" / "runs" / "abc_.._123.html"
    assert written.path.read_text() == written.run_copy.read_text()
    assert written.kpi_rows == len(sample_data().summary)
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_report_without_a_warehouse_fails_cleanly(tmp_path, capsys):
    from training_impact.cli import main

    assert main(["report", "--data", str(tmp_path)]) == 1
    assert "run the pipeline first" in capsys.readouterr().err


# ---------------------------------------------------------------- rendered in headless Chromium

def test_every_declared_chart_is_drawn_in_chromium(tmp_path):
    require_chromium()
    rendered = render_report(sample_data())
    page = tmp_path / "report.html"
    page.write_text(rendered.html, encoding="utf-8")
    check = check_render(page)
    assert set(check.charts) == set(rendered.chart_ids)
    assert check.drawn() == set(rendered.chart_ids), {k: v for k, v in check.charts.items()
                                                       if k not in check.drawn()}
    assert all(chart["width"] > 300 for chart in check.charts.values())


def test_cli_report_writes_a_full_page_screenshot(tmp_path, capsys):
    require_chromium()
    from training_impact.cli import main

    _warehouse_from(sample_data(), tmp_path / "warehouse" / "training_impact.duckdb")
    png = tmp_path / "reports" / "kpi_report.png"
    assert main(["report", "--data", str(tmp_path), "--screenshot", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"{len(render_report(sample_data()).chart_ids)}/" in out and "charts drawn" in out
    width, height = png_size(png)
    assert width == 1200 and height > 5000  # the whole page, not one window


def test_screenshot_pixels_show_the_bars(tmp_path):
    require_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_report(sample_data()).html, encoding="utf-8")
    image = read_png(screenshot(page, tmp_path / "top.png", height=2400))  # headline, type and method charts
    for name in ("upskilling", "reskilling"):
        rgb = tuple(int(SERIES_COLOURS[name][i:i + 2], 16) for i in (1, 3, 5))
        assert colour_share(image, rgb, tolerance=30) > 0.002, name
    assert 1 - colour_share(image, (255, 255, 255), tolerance=3) > 0.15  # not a blank page


def test_definitions_register_the_report_after_every_mart():
    import dagster as dg

    from training_impact.orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("kpi_report")
    assert key in graph.materializable_asset_keys
    assert graph.get(key).group_name == "published"
    parents = graph.get(key).parent_keys
    assert dg.AssetKey(["marts", "kpi_summary"]) in parents and dg.AssetKey(["marts", "kpi_roi"]) in parents
    assert graph.assets_def_for_key(key).op.pool == "duckdb_warehouse"


def test_suppressed_cells_print_no_number_anywhere():
    """Even if a suppressed row still carried figures, the report prints none of them
    (tables, tiles, SVG titles and tooltips): every number of every suppressed row is a sentinel."""
    data = sample_data()
    sentinel = 424242.0
    tainted = 0
    for row in data.summary + data.roi:
        if row.get("suppressed") or (row.get("slice_grain") == "program_type" and row.get("program_type") == "reskilling"):
            row["suppressed"] = True
            for column, value in list(row.items()):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and column != "evaluation_level":
                    row[column] = sentinel
                    tainted += 1
            row["n_band"] = "424242"
    assert tainted
    html = render_report(data).html
    leaks = re.findall(r"424[ ,.\u202f]?242|424\.2|424k|424 k", html)
    assert not leaks, leaks


# ---------------------------------------------------------------- event study (kpi_impact_event_study)

EVENT_MONTHS = list(range(-6, 13))


def event_study_rows(suppressed: dict[str, set[int]] | None = None) -> list[dict]:
    """The mart's rows: overall and both program types, months -6..+12, reference month -1."""
    suppressed = suppressed or {}
    rows = []
    for grain, ptype in (("overall", "all"), ("program_type", "upskilling"), ("program_type", "reskilling")):
        for k in EVENT_MONTHS:
            hidden = k in suppressed.get(ptype, set())
            estimate = 0.0 if k == -1 else (0.1 * k if k < 0 else 0.6 * k)
            half = 0.0 if k == -1 else 1.5
            rows.append({
                "kpi": "productivity_event_study", "slice_grain": grain, "program_type": ptype, "method": "all",
                "program_id": "all", "cohort": "all", "department": "all", "region": "all", "period": "all",
                "relative_month": k, "estimation_method": "did_matched", "evaluation_level": 4,
                "unit": "index_points", "n": None if hidden else 40, "n_band": "suppressed" if hidden else "40",
                "n_comparison": None if hidden else 90, "estimate": None if hidden else estimate,
                "ci_low": None if hidden else estimate - half, "ci_high": None if hidden else estimate + half,
                "se": None if hidden else half / 1.96, "is_reference_month": k == -1, "is_flagged": False,
                "definition_version": "test.1", "suppressed": hidden,
            })
    return rows


def _chart(html: str, chart_id: str) -> str:
    return re.search(rf"<svg[^>]*data-chart-id='{chart_id}'.*?</svg>", html, re.S).group(0)


def test_event_study_draws_every_month_of_an_unsuppressed_mart():
    data = sample_data()
    data.event_study = event_study_rows()
    rendered = render_report(data)
    assert {"event-study-all", "event-study-upskilling", "event-study-reskilling"} <= set(rendered.chart_ids)
    for chart_id in ("event-study-all", "event-study-upskilling", "event-study-reskilling"):
        chart = _chart(rendered.html, chart_id)
        ET.fromstring(chart)
        points = re.findall(r"<circle class='mark point' data-month='(-?\d+)' cx='([\d.]+)'", chart)
        assert [int(m) for m, _ in points] == EVENT_MONTHS  # one dot per month, in order
        assert chart.count("class='mark ci'") == len(EVENT_MONTHS) - 1  # the reference month has no spread
        assert chart.count("class='zero-line'") == 1 and chart.count("class='start-line'") == 1
        start_x = float(re.search(r"class='start-line' x1='([\d.]+)'", chart).group(1))
        x = {int(m): float(cx) for m, cx in points}
        assert x[-1] < start_x < x[0]  # the program starts between month -1 and month 0
        assert "suppressed-note" not in chart


def test_event_study_leaves_suppressed_months_out_and_says_so():
    data = sample_data()
    data.event_study = event_study_rows({"reskilling": {11, 12}, "upskilling": set(EVENT_MONTHS)})
    sentinel = 424242.0
    for row in data.event_study:  # a suppressed row that still carried figures prints none of them
        if row["suppressed"]:
            row.update(n=sentinel, estimate=sentinel, ci_low=sentinel, ci_high=sentinel, se=sentinel)
    rendered = render_report(data)
    chart = _chart(rendered.html, "event-study-reskilling")
    months = [int(m) for m in re.findall(r"class='mark point' data-month='(-?\d+)'", chart)]
    assert months == [k for k in EVENT_MONTHS if k not in (11, 12)]
    assert "suppressed" in re.search(r"class='suppressed-note'>([^<]*)<", chart).group(1)
    assert "+11, +12" in chart
    # every month of upskilling suppressed: no chart, a note instead
    assert "event-study-upskilling" not in rendered.chart_ids
    assert "Upskilling: every month is suppressed" in rendered.html
    assert not re.findall(r"424[ ,.\u202f]?242|424\.2|424k|424 k", rendered.html)


def test_without_the_event_study_mart_the_page_says_so():
    rendered = render_report(sample_data())
    assert not any(cid.startswith("event-study-") for cid in rendered.chart_ids)
    assert "kpi_impact_event_study) is not in the warehouse yet" in rendered.html


def test_write_report_reads_the_event_study_mart(tmp_path):
    data = sample_data()
    warehouse = _warehouse_from(data, tmp_path / "warehouse" / "training_impact.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        event_study = pd.DataFrame(event_study_rows())  # noqa: F841 (read by duckdb below)
        con.execute("create table main_marts.kpi_impact_event_study as select * from event_study")
    written = write_report(tmp_path, warehouse, params=PARAMS)
    assert {"event-study-all", "event-study-upskilling", "event-study-reskilling"} <= set(written.chart_ids)


def test_labels_follow_the_windows_the_marts_were_built_with(tmp_path):
    """windows.retention_months (and the other windows) reach the report's labels: from the warehouse's
    stg_config__parameters row, the build the marts came from, not from literals in the report code."""
    from training_impact.reporting.build import render_report
    from training_impact.reporting.data import load_report_data

    default = render_report(sample_data()).html
    assert "Still employed after 12 months" in default and "18 months" not in default
    warehouse = _warehouse_from(sample_data(), tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema main_staging")
        con.execute("create table main_staging.stg_config__parameters as select 6 as pre_months, "
                    "2 as post_start_months, 10 as post_end_months, 9 as mobility_months, 18 as retention_months, "
                    "180 as certification_days")
    html = render_report(load_report_data(warehouse, params=PARAMS)).html
    assert "Still employed after 18 months" in html and "9 months (moves) and 18 months (retention)" in html
    assert "Internal moves within 9 months" in html and "within 180 days of exit" in html
    assert "months 2-10 after" in html
    assert "Still employed after 12 months" not in html and "365 days" not in html


# ---------------------------------------------------------------- KPIs the company cannot measure (D137)

NOT_MEASURED = {
    "certification_attainment": "no credential records were delivered (LMS credentials): nobody can be counted as "
                                "certified",
    "learning_nps": "no survey answers were delivered (surveys): no NPS and no response rate",
}


def not_measured_data() -> ReportData:
    """The sample company without credentials and surveys: their KPIs publish one not-measured row each."""
    data = sample_data()
    summary = [r for r in data.summary if r["kpi"] not in NOT_MEASURED]
    for kpi, reason in NOT_MEASURED.items():
        unit, level = ("pct", 2) if kpi == "certification_attainment" else ("points", 1)
        row = _row(kpi, "observed", unit, level, None, None, "overall", n=None, measurement_status="not_measured",
                   not_measured_reason=reason)
        row.update(n_band="not measured", estimate=None, ci_low=None, ci_high=None)
        summary.append(row)
    data.summary = summary
    return data


def test_not_measured_kpis_are_said_in_words_never_as_a_figure():
    html = render_report(not_measured_data()).html
    assert "<b>Not measured.</b>" in html and "<b>Certification attainment</b>: no credential records" in html
    # the table row of each KPI says why across its columns
    for reason in NOT_MEASURED.values():
        assert f"Not measured: {escape(reason)}" in html
    row = re.search(r"<tr><td><b>Certification attainment</b>.*?</tr>", html, re.S).group(0)
    assert "colspan" in row and "%" not in row.split("</span>", 1)[1]      # no 0.0% (CI …) anywhere in the row
    chart = re.search(r"<svg[^>]*data-chart-id='type-rates'.*?</svg>", html, re.S).group(0)
    assert "Certification" not in chart and "Completion rate" in chart   # charted only where measured
    assert "not measured" not in render_report(sample_data()).html.lower()


def test_not_measured_kpis_in_chromium(tmp_path):
    """The page of a company without credentials and surveys, drawn in headless Chromium: the amber
    "Not measured" box and table rows are on screen, and every chart is still drawn."""
    require_chromium()
    rendered = render_report(not_measured_data())
    page = tmp_path / "report.html"
    page.write_text(rendered.html, encoding="utf-8")
    check = check_render(page)
    assert check.drawn() == set(rendered.chart_ids)
    png = screenshot(page, tmp_path / "not_measured.png", height=2400)
    image = read_png(png)
    assert colour_share(image, (0xFF, 0xF8, 0xE6), tolerance=4) > 0.005     # the not-measured background
    assert png_size(png) == (1200, 2400)
