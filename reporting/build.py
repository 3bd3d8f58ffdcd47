"""Assemble the KPI report: one self-contained HTML page (inline CSS, inline SVG, no scripts).

``render_report`` turns mart rows into HTML (pure, testable on hand-made rows);
``write_report`` reads the warehouse and writes ``<data>/reports/kpi_report.html``
plus, for a pipeline run, ``<data>/reports/runs/<run_id>.html``.
"""

from __future__ import annotations

import math
import os
import re
import string
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from training_impact.kpis import load_registry
from training_impact.reporting import svg
from training_impact.reporting.data import DEFAULT_WINDOWS, ReportData, load_report_data

TEMPLATE = Path(__file__).with_name("template.html")
REPORT_NAME = "kpi_report.html"

PROGRAM_TYPES = ["upskilling", "reskilling"]
TYPE_LABELS = {"upskilling": "Upskilling", "reskilling": "Reskilling", "all": "All programs", "unknown": "Type unknown"}
METHOD_LABELS = {
    "online_self_paced": "Online self-paced",
    "bootcamp": "Bootcamp",
    "cohort_based": "Cohort-based",
    "registered_apprenticeship": "Registered apprenticeship",
    "rotation_mentorship": "Rotation / mentorship",
    "hybrid": "Hybrid (online + capstone)",
}
ESTIMATION_LABELS = {
    "observed": "",
    "did_matched": "vs matched comparison",
    "naive_pre_post": "naive before/after",
    "phillips": "",
}
LEVEL_LABELS = {
    0: "Participation and completion",
    1: "Level 1 · Reaction",
    2: "Level 2 · Learning",
    3: "Level 3 · Application",
    4: "Level 4 · Business impact",
    5: "Level 5 · Return on investment",
}


@dataclass(frozen=True)
class KpiInfo:
    """A KPI's label and one-line meaning; {placeholders} are the windows the marts were built with."""
    label: str
    what: str
    higher_is_better: bool = True

    def format(self, windows: dict) -> "KpiInfo":
        values = {**DEFAULT_WINDOWS, **{k: v for k, v in (windows or {}).items() if v is not None}}
        return KpiInfo(self.label.format(**values), self.what.format(**values), self.higher_is_better)



def kpi_order() -> list[str]:
    """KPIs by evaluation level (input, reaction, learning, application, impact, ROI), then registry order."""
    ranks = load_registry().ranks
    return sorted(ranks, key=ranks.__getitem__)

COST_CATEGORIES = [
    ("cost_vendor_fee", "Vendor fees"),
    ("cost_tuition", "Tuition"),
    ("cost_licence", "Platform / licences"),
    ("cost_design_development", "Design & development"),
    ("cost_facilitator", "Facilitators & coordinators"),
    ("cost_participant_wages", "Learners' paid time"),
    ("cost_travel", "Travel"),
    ("cost_stipend", "Stipends"),
    ("cost_evaluation", "Evaluation"),
    ("cost_allocated_shared", "Shared costs (allocated)"),
]
BENEFIT_CATEGORIES = [
    ("benefit_productivity", "Productivity gain"),
    ("benefit_retention", "Avoided turnover"),
    ("benefit_mobility", "Internal fills"),
]
OFFSET_CATEGORIES = [("offset_grant", "Grants"), ("offset_tax_credit", "Tax credits")]

UNIT_NOTES = {
    "pct": "percent",
    "pp": "percentage points, participants minus matched comparison",
    "ratio": "ratio",
    "months": "months",
    "days": "days",
    "currency": "money",
    "index_points": "productivity index points",
}
# KPIs charted over cohorts / periods (the rest stay in the published marts).
TREND_KPIS = [("completion_rate", "observed"), ("certification_attainment", "observed"),
              ("productivity_change", "did_matched"), ("internal_mobility", "did_matched"),
              ("retention", "did_matched"), ("learning_nps", "observed"), ("roi", "phillips")]
BREAKDOWN_GRAINS = {"overall", "program_type", "program_type_method"}
TREND_GRAINS = ("period", "cohort")
SLICE_DIMENSIONS = ("program", "cohort", "department", "region", "period", "method", "program_type")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


# ---------------------------------------------------------------- formatting

def kpi_info(kpi: str, windows: dict | None = None) -> KpiInfo | None:
    """Label, meaning and direction of a KPI, from the KPI registry (config/kpis.yml)."""
    entry = load_registry().kpis.get(kpi)
    info = KpiInfo(entry.label, entry.what, entry.higher_is_better) if entry else None
    return info.format(windows or {}) if info else None


def kpi_label(kpi: str, estimation_method: str | None = None, windows: dict | None = None) -> str:
    info = kpi_info(kpi, windows)
    base = info.label if info else kpi.replace("_", " ").capitalize()
    extra = ESTIMATION_LABELS.get(estimation_method or "", estimation_method or "")
    return f"{base} ({extra})" if extra else base


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " ").capitalize())


def type_label(program_type: str) -> str:
    return TYPE_LABELS.get(program_type, program_type.replace("_", " ").capitalize())


def money(value: float, currency: str, compact: bool = True) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} " if currency else "")
    sign = "−" if value < 0 else ""
    amount = abs(value)
    if compact and amount >= 1e6:
        return f"{sign}{symbol}{amount / 1e6:,.2f}m"
    if compact and amount >= 1e4:
        return f"{sign}{symbol}{amount / 1e3:,.0f}k"
    return f"{sign}{symbol}{amount:,.0f}"


def fmt_number(value: float, unit: str, currency: str = "", signed: bool = False) -> str:
    if unit == "currency":
        return money(value, currency)
    sign = "+" if signed and value > 0 else ""
    text = {
        "pct": f"{value:,.1f}%",
        "pp": f"{value:,.1f} pp",
        "ratio": f"{value:,.2f}",
        "months": f"{value:,.1f} months",
        "days": f"{value:,.0f} days",
        "score": f"{value:,.1f}",
        "index_points": f"{value:,.1f} index points",
    }.get(unit, f"{value:,.2f} {unit}".strip())
    return (sign + text).replace("-", "−")


def fmt_bare(value: float, unit: str, currency: str = "") -> str:
    """A CI bound without its unit (the estimate beside it carries the unit)."""
    if unit == "currency":
        return money(value, currency)
    digits = 2 if unit == "ratio" else 0 if unit == "days" else 1
    return f"{value:,.{digits}f}".replace("-", "−")


def tick_formatter(unit: str, currency: str = ""):
    def fmt(value: float) -> str:
        if unit == "currency":
            return money(value, currency)
        if unit == "pct":
            return f"{value:g}%".replace("-", "−")
        if unit == "pp":
            return f"{value:+g}".replace("-", "−") if value else "0"
        return f"{value:g}".replace("-", "−")
    return fmt


def flag_title(row: dict) -> str:
    """The tooltip of a flagged figure: which check failed and by how much (flag_reason)."""
    return escape(row.get("flag_reason") or "a credibility check failed", quote=True)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_not_measured(row: dict | None) -> bool:
    """A KPI the company cannot measure (no credential records, no survey answers; D137): its mart
    publishes one row saying why, shown in words, never as a figure."""
    return bool(row) and row.get("measurement_status") == "not_measured"


def not_measured_text(row: dict) -> str:
    reason = row.get("not_measured_reason")
    return f"Not measured: {reason}" if reason else "Not measured"


def suppressed_note(row: dict, min_cell: int) -> str:
    """A suppressed cell reads the same whether it is small or suppressed alongside a small one
    (complementary suppression): telling them apart would give the small one away."""
    return "suppressed"


def to_point(row: dict | None, min_cell: int, currency: str = "", with_n: bool = True) -> svg.Point:
    if row is None:
        return svg.Point(None, note="not offered")
    if is_not_measured(row):
        return svg.Point(None, note="not measured")
    if row.get("suppressed"):
        return svg.Point(None, suppressed=True, note=suppressed_note(row, min_cell))
    estimate = row.get("estimate")
    if not _is_number(estimate):
        return svg.Point(None, note="no data yet")
    unit = row.get("unit") or ""
    signed = unit == "pp" or row.get("kpi") == "productivity_change"
    label = fmt_number(estimate, unit, currency, signed=signed)
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if _is_number(lo) and _is_number(hi):
        label += f" ({fmt_bare(lo, unit, currency)} to {fmt_bare(hi, unit, currency)})"
    else:
        lo = hi = None
    if with_n and row.get("n") is not None:
        label += f" n={row['n']}"
    return svg.Point(estimate, lo, hi, flagged=bool(row.get("is_flagged")), label=label)


# ---------------------------------------------------------------- row selection

def _key(row: dict) -> tuple:
    return (row.get("kpi"), row.get("estimation_method"))


def _kpi_sort_key(kpi_method: tuple) -> tuple:
    kpi, method = kpi_method
    ranks = load_registry().ranks
    order = ranks.get(kpi, (len(ranks), len(ranks)))  # a KPI the registry lacks: after every registered one
    method_order = ["observed", "did_matched", "naive_pre_post", "phillips"]
    return (order, kpi, method_order.index(method) if method in method_order else 9, method or "")


def _index(rows: list[dict], grain: str, *dims: str) -> dict[tuple, dict]:
    out = {}
    for row in rows:
        if row.get("slice_grain") == grain:
            out[(*_key(row), *(row.get(d) for d in dims))] = row
    return out


# ---------------------------------------------------------------- html pieces

@dataclass
class Page:
    parts: list[str] = field(default_factory=list)
    chart_ids: list[str] = field(default_factory=list)
    suppressed_cells: int = 0

    def add(self, html: str) -> None:
        self.parts.append(html)

    def chart(self, chart_id: str, caption: str, note: str, svg_markup: str) -> None:
        assert chart_id not in self.chart_ids, chart_id
        self.chart_ids.append(chart_id)
        self.add(f"<figure class='chart-figure' id='fig-{escape(chart_id)}'><figcaption>{escape(caption)}"
                 f"<span>{escape(note)}</span></figcaption>{svg_markup}</figure>")


def cell_html(row: dict | None, min_cell: int, currency: str) -> str:
    if row is None:
        return "<td><span class='suppressed'>—</span></td>"
    if is_not_measured(row):
        title = escape(not_measured_text(row), quote=True)
        return f"<td class='not-measured'><span class='not-measured' title='{title}'>not measured</span></td>"
    if row.get("suppressed"):  # no figure, no count, no band: nothing of the cell is printed
        return f"<td><span class='suppressed'>{escape(suppressed_note(row, min_cell))}</span></td>"
    estimate = row.get("estimate")
    if not _is_number(estimate):
        return "<td><span class='suppressed'>no data yet</span></td>"
    unit = row.get("unit") or ""
    signed = unit == "pp" or row.get("kpi") == "productivity_change"
    html = f"<span class='v'>{escape(fmt_number(estimate, unit, currency, signed=signed))}"
    if row.get("is_flagged"):
        html += f" <span class='flag' title='{flag_title(row)}'>⚠</span>"
    html += "</span>"
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if _is_number(lo) and _is_number(hi):
        bounds = f"{fmt_number(lo, unit, currency)} to {fmt_number(hi, unit, currency)}"
        html += f"<span class='ci'>95% CI {escape(bounds)}</span>"
    n_parts = []
    if row.get("n") is not None:
        n_parts.append(f"n = {row['n']:,}")
    if row.get("n_comparison") is not None:
        n_parts.append(f"comparison {row['n_comparison']:,}")
    if n_parts:
        html += f"<span class='n'>{escape(', '.join(n_parts))}</span>"
    return f"<td>{html}</td>"


def kpi_table(rows_by_column: dict[tuple, dict[str, dict]], columns: list[tuple[str, str]], min_cell: int,
              currency: str, first_header: str = "KPI", windows: dict | None = None) -> tuple[str, int]:
    """rows_by_column: (kpi, estimation_method) -> column key -> row. Returns (html, suppressed count)."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body, level, suppressed = [], None, 0
    for kpi_method in sorted(rows_by_column, key=_kpi_sort_key):
        cells = rows_by_column[kpi_method]
        some = next(iter(cells.values()))
        row_level = some.get("evaluation_level")
        if row_level != level:
            level = row_level
            body.append(f"<tr class='level'><td colspan='{len(columns) + 1}'>"
                        f"{escape(LEVEL_LABELS.get(level, f'Level {level}'))}</td></tr>")
        info = kpi_info(kpi_method[0], windows)
        what = f"<span class='what'>{escape(info.what)}</span>" if info else ""
        not_measured = [row for row in cells.values() if is_not_measured(row)]
        if not_measured and len(not_measured) == len(cells):
            # the KPI as a whole: one cell across the columns says why, in words
            body.append(f"<tr><td><b>{escape(kpi_label(*kpi_method, windows=windows))}</b>{what}</td>"
                        f"<td colspan='{len(columns)}' class='not-measured'><span class='not-measured'>"
                        f"{escape(not_measured_text(not_measured[0]))}</span></td></tr>")
            continue
        tds = "".join(cell_html(cells.get(col), min_cell, currency) for col, _ in columns)
        suppressed += sum(bool(cells.get(col, {}).get("suppressed")) for col, _ in columns)
        body.append(f"<tr><td><b>{escape(kpi_label(*kpi_method, windows=windows))}</b>{what}</td>{tds}</tr>")
    html = (f"<table class='kpi'><thead><tr><th>{escape(first_header)}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
    return html, suppressed


# ---------------------------------------------------------------- sections

def _headline(page: Page, data: ReportData) -> None:
    overall = _index(data.summary, "overall")
    currency, min_cell = data.currency, data.min_cell_size

    def tile(label: str, row: dict | None, sub: str = "") -> str:
        if row is None:
            value = "—"
        elif is_not_measured(row):
            value = "<span class='not-measured'>not measured</span>"
            sub = escape(row.get("not_measured_reason") or "")
        elif row.get("suppressed"):
            value = f"<span class='suppressed'>{escape(suppressed_note(row, min_cell))}</span>"
        elif _is_number(row.get("estimate")):
            signed = row.get("unit") == "pp" or row.get("kpi") == "productivity_change"
            value = escape(fmt_number(row["estimate"], row.get("unit") or "", currency, signed=signed))
            if row.get("is_flagged"):
                value += f" <span class='flag' title='{flag_title(row)}'>⚠</span>"
                sub = (sub + "<br>" if sub else "") + escape(f"Not a confident figure: {row.get('flag_reason')}")
        else:
            value = "no data yet"
        return (f"<div class='tile'><div class='label'>{escape(label)}</div><div class='value'>{value}</div>"
                f"<div class='sub'>{sub}</div></div>")

    tiles = []
    completion = overall.get(("completion_rate", "observed"))
    if completion:
        enrolled = "" if completion.get("suppressed") else f"{completion.get('n') or 0:,} people enrolled"
        tiles.append(tile("Completion rate, all programs", completion, escape(enrolled)))
    matched = overall.get(("productivity_change", "did_matched"))
    naive = overall.get(("productivity_change", "naive_pre_post"))
    relative = overall.get(("productivity_change_pct", "did_matched"))
    if matched:
        sub = "index points, participants vs similar non-participants"
        if relative and _is_number(relative.get("estimate")) and not relative.get("suppressed"):
            sub += f" ({fmt_number(relative['estimate'], 'pct', signed=True)} of the level without training)"
        if naive and _is_number(naive.get("estimate")) and not naive.get("suppressed"):
            sub += f"; naive before/after would say {fmt_number(naive['estimate'], 'index_points', signed=True)}"
        tiles.append(tile("Productivity change from training", matched, escape(sub)))
    mobility = overall.get(("internal_mobility", "did_matched"))
    if mobility:
        tiles.append(tile(f"Extra internal moves ({data.window('mobility_months')} months)", mobility,
                          "percentage points vs comparison group"))
    roi = overall.get(("roi", "phillips"))
    conservative = overall.get(("roi_conservative", "phillips"))
    if roi:
        sub = ""
        if conservative and _is_number(conservative.get("estimate")) and not conservative.get("suppressed"):
            sub = f"conservative: {fmt_number(conservative['estimate'], 'pct')}"
        tiles.append(tile("Return on investment, all programs", roi, escape(sub)))
    if tiles:
        page.add(f"<section class='tiles'>{''.join(tiles)}</section>")


def _not_measured(page: Page, data: ReportData) -> None:
    """The KPIs this company cannot measure, said once at the top in words (D137)."""
    reasons: dict[str, list[str]] = {}
    for row in data.summary:
        if is_not_measured(row) and row.get("slice_grain") == "overall":
            label = kpi_label(row["kpi"], windows=data.windows)
            shown = reasons.setdefault(str(row.get("not_measured_reason") or "its source is not delivered"), [])
            if label not in shown:
                shown.append(label)
    if not reasons:
        return
    items = "".join(f"<li><b>{escape(', '.join(labels))}</b>: {escape(reason)}.</li>"
                    for reason, labels in reasons.items())
    page.add("<section class='not-measured-list' id='not-measured'><b>Not measured.</b> These KPIs need data this "
             f"company does not deliver, so they are reported as not measured rather than as zero:<ul>{items}</ul>"
             "</section>")


def _by_program_type(page: Page, data: ReportData) -> None:
    min_cell, currency = data.min_cell_size, data.currency
    page.add("<h2 id='by-type'>Upskilling vs reskilling</h2>"
             "<p class='lede'>Upskilling deepens skills for the current role; reskilling trains people for a "
             "different role. Each figure shows its 95% confidence interval and the number of people behind it.</p>")
    table: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in data.summary:
        if row.get("slice_grain") == "program_type" and row.get("program_type") in (*PROGRAM_TYPES, "unknown"):
            table[_key(row)][row["program_type"]] = row
        elif row.get("slice_grain") == "overall":
            table[_key(row)]["all"] = row
    if not table:
        page.add("<p class='empty'>No KPI rows by program type yet.</p>")
        return
    types = [t for t in (*PROGRAM_TYPES, "unknown") if any(t in cells for cells in table.values())]
    columns = [(t, type_label(t)) for t in types] + [("all", "All programs")]
    html, suppressed = kpi_table(table, columns, min_cell, currency, windows=data.windows)
    page.suppressed_cells += suppressed

    rates = [(kpi, est) for kpi, est in sorted(table, key=_kpi_sort_key)
             if any((r.get("unit") == "pct" and est == "observed" and not is_not_measured(r))
                    for r in table[(kpi, est)].values())]
    if rates:
        series = [svg.Series(t, type_label(t), svg.colour_for(t, i),
                             [to_point(table[k].get(t), min_cell, currency) for k in rates])
                  for i, t in enumerate(types)]
        page.chart("type-rates", "Completion and certification by program type",
                   "Share of people, in percent; the black whisker is the 95% confidence interval.",
                   svg.bar_chart("type-rates", "Completion and certification by program type",
                                 [kpi_label(*k, windows=data.windows) for k in rates], series, fmt=tick_formatter("pct"),
                                 axis_label="percent of people"))
    page.add(html)


def _by_method(page: Page, data: ReportData) -> None:
    min_cell, currency = data.min_cell_size, data.currency
    index = _index(data.summary, "program_type_method", "program_type", "method")
    page.add("<h2 id='by-method'>By training method</h2>"
             "<p class='lede'>The same KPIs split by how the training was delivered. Smaller groups give wider "
             "intervals; groups with fewer than "
             f"{min_cell} people are suppressed to protect privacy, and so is at least one more group beside "
             "each of them, so that no suppressed figure can be worked out from the totals.</p>")
    if not index:
        page.add("<p class='empty'>No KPI rows by training method yet.</p>")
        return
    methods = sorted({k[3] for k in index}, key=lambda m: (list(METHOD_LABELS).index(m) if m in METHOD_LABELS
                                                           else 99, m))
    types = [t for t in PROGRAM_TYPES if any(k[2] == t for k in index)]
    charted = [("completion_rate", "observed"), ("certification_attainment", "observed"),
               ("productivity_change", "did_matched"), ("internal_mobility", "did_matched")]
    for kpi, est in charted:
        rows = {k: r for k, r in index.items() if k[:2] == (kpi, est)}
        if not rows:
            continue
        unit = next(iter(rows.values())).get("unit") or ""
        series = [svg.Series(t, type_label(t), svg.colour_for(t, i),
                             [to_point(rows.get((kpi, est, t, m)), min_cell, currency) for m in methods])
                  for i, t in enumerate(types)]
        chart_id = f"method-{kpi}"
        title = f"{kpi_label(kpi, est, data.windows)} by training method"
        info = kpi_info(kpi, data.windows)
        unit_note = UNIT_NOTES.get(unit, unit)
        page.chart(chart_id, title, f"{info.what if info else ''} Unit: {unit_note}.",
                   svg.bar_chart(chart_id, title, [method_label(m) for m in methods], series,
                                 fmt=tick_formatter(unit, currency), axis_label=unit_note))
    all_types = sorted({k[2] for k in index}, key=lambda t: (PROGRAM_TYPES.index(t) if t in PROGRAM_TYPES else 9, t))
    for ptype in all_types:
        table: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for k, row in index.items():
            if k[2] == ptype:
                table[k[:2]][k[3]] = row
        columns = [(m, method_label(m)) for m in methods if any(m in cells for cells in table.values())]
        html, suppressed = kpi_table(table, columns, min_cell, currency, windows=data.windows)
        page.suppressed_cells += suppressed
        page.add(f"<h3>{escape(type_label(ptype))}: all KPIs by method</h3><div class='wide'>{html}</div>")


def _forests(page: Page, data: ReportData) -> None:
    min_cell, currency = data.min_cell_size, data.currency
    page.add("<h2 id='impact'>Impact estimates and their uncertainty</h2>"
             "<p class='lede'>Each dot is an estimate, each line its 95% confidence interval. Where a line crosses "
             "the “no effect” line, the data cannot rule out that the training made no difference. "
             "A plain before/after comparison (“naive”) also counts changes that would have happened anyway, "
             "so it is shown only for contrast; the matched comparison is the figure to use.</p>")
    summary = data.summary
    overall = _index(summary, "overall")
    by_type = _index(summary, "program_type", "program_type")
    by_method = _index(summary, "program_type_method", "program_type", "method")

    def slices(kpi: str, est: str) -> list[tuple[str, dict | None]]:
        out = [("All programs", overall.get((kpi, est)))]
        out += [(type_label(t), by_type.get((kpi, est, t))) for t in PROGRAM_TYPES]
        return out

    if ("productivity_change", "did_matched") in overall or any(k[:2] == ("productivity_change", "did_matched")
                                                                 for k in by_type):
        labels = [("All programs", None, None)] + [(type_label(t), t, None) for t in PROGRAM_TYPES]
        labels += sorted({(f"{type_label(k[2])} · {method_label(k[3])}", k[2], k[3]) for k in by_method
                          if k[:2] == ("productivity_change", "did_matched")},
                         key=lambda x: (PROGRAM_TYPES.index(x[1]) if x[1] in PROGRAM_TYPES else 9, x[0]))
        rows = []
        for label, ptype, method in labels:
            def pick(est):
                if ptype is None:
                    return overall.get(("productivity_change", est))
                if method is None:
                    return by_type.get(("productivity_change", est, ptype))
                return by_method.get(("productivity_change", est, ptype, method))
            matched, naive = pick("did_matched"), pick("naive_pre_post")
            if matched is None and naive is None:
                continue
            rows.append(svg.ForestRow(label, [to_point(matched, min_cell, currency),
                                              to_point(naive, min_cell, currency)]))
        title = "Productivity change: matched comparison vs naive before/after"
        page.chart("forest-productivity", title,
                   f"Change in the productivity index, in index points (pre: {data.window('pre_months')} months "
                   f"before; post: months {data.window('post_start_months')}-{data.window('post_end_months')} "
                   "after). Matched = participants minus similar non-participants (difference-in-differences).",
                   svg.forest_plot("forest-productivity", title, rows,
                                   [("vs matched comparison (use this)", svg.MATCHED_COLOUR, "circle"),
                                    ("naive before/after (overstates)", svg.NAIVE_COLOUR, "diamond")],
                                   fmt=tick_formatter("index_points"), axis_label="index points"))

    people_kpis = [k for k in ("internal_mobility", "retention", "voluntary_separation", "involuntary_separation")
                   if (k, "did_matched") in overall or any(key[:2] == (k, "did_matched") for key in by_type)]
    if people_kpis:
        rows = []
        for kpi in people_kpis:
            for label, row in slices(kpi, "did_matched"):
                if row is not None:
                    rows.append(svg.ForestRow(f"{kpi_label(kpi, windows=data.windows)} · {label}", [to_point(row, min_cell, currency)]))
        title = "Careers and retention: participants vs matched comparison"
        page.chart("forest-people", title,
                   "Difference in percentage points between participants and similar non-participants, "
                   f"{data.window('mobility_months')} months (moves) and {data.window('retention_months')} months "
                   "(retention) after the program. For resignations and dismissals, below zero is good.",
                   svg.forest_plot("forest-people", title, rows,
                                   [("participants minus matched comparison", svg.MATCHED_COLOUR, "circle")],
                                   fmt=tick_formatter("pp"), axis_label="percentage points"))


def _event_point(row: dict | None) -> svg.Point:
    """One month of the event study: its estimate and CI in index points, or why there is none."""
    if row is None:
        return svg.Point(None, note="no episode measured")
    if row.get("suppressed"):  # nothing of a suppressed month is printed, not even in a tooltip
        return svg.Point(None, suppressed=True, note="suppressed")
    estimate = row.get("estimate")
    if not _is_number(estimate):
        return svg.Point(None, note="no data")
    label = f"{estimate:+,.1f} index points".replace("-", "−")
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if not (_is_number(lo) and _is_number(hi)):
        lo = hi = None
    else:
        label += f" (95% CI {fmt_bare(lo, 'index_points')} to {fmt_bare(hi, 'index_points')})"
    if row.get("n") is not None:
        label += f", n={row['n']}"
    return svg.Point(estimate, lo, hi, label=label)


def _event_study(page: Page, data: ReportData) -> None:
    """kpi_impact_event_study: one chart per program type (and all programs), effect by month since the start."""
    page.add("<h2 id='event-study'>Productivity month by month: the event study</h2>"
             "<p class='lede'>Each dot is the participants' change in the productivity index since the month before "
             "the program (month −1) minus the same change of their matched comparison group, by month relative to "
             "the program start; whiskers are 95% confidence intervals. Dots left of the dashed start line (the "
             "leads) should sit near zero: if they drift away, the two groups were already on different paths "
             "before training and the impact estimate is not to be trusted.</p>")
    rows = [r for r in data.event_study if r.get("slice_grain") in ("overall", "program_type")
            and r.get("relative_month") is not None]
    if not rows:
        page.add("<p class='empty'>The event study (mart kpi_impact_event_study) is not in the warehouse yet.</p>")
        return
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups["all" if row.get("slice_grain") == "overall" else str(row.get("program_type") or "unknown")].append(row)
    order = ["all"] + PROGRAM_TYPES
    for ptype in sorted(groups, key=lambda t: (order.index(t) if t in order else len(order), t)):
        by_month = {int(r["relative_month"]): r for r in groups[ptype]}
        months = list(range(min(by_month), max(by_month) + 1))
        points = [_event_point(by_month.get(m)) for m in months]
        hidden = [m for m, point in zip(months, points) if point.suppressed]
        page.suppressed_cells += len(hidden)
        name = type_label(ptype)
        if all(point.estimate is None for point in points):
            page.add(f"<p class='empty'>{escape(name)}: every month is suppressed (small groups, or groups that "
                     "would let a small one be worked out) or has no measured episode.</p>")
            continue
        chart_id = f"event-study-{re.sub(r'[^a-z0-9]+', '-', ptype.lower())}"
        title = f"Productivity by month since the program start, {name.lower()}: participants vs matched comparison"
        note = "Index points, change since month −1, participants minus matched comparison."
        if hidden:
            note += f" Suppressed months are not drawn ({len(hidden)} of {len(months)})."
        reference = next((int(r["relative_month"]) for r in groups[ptype] if r.get("is_reference_month")), -1)
        page.chart(chart_id, title, note,
                   svg.event_study_chart(chart_id, title, months, points, fmt=tick_formatter("index_points"),
                                         reference_month=reference, axis_label="months relative to the program start"))


def _roi(page: Page, data: ReportData) -> None:
    currency, min_cell = data.currency, data.min_cell_size
    page.add("<h2 id='roi'>Return on investment: from costs to benefits</h2>"
             "<p class='lede'>Phillips method: every cost is fully loaded (including learners' paid time); benefits "
             "come only from the isolated effects above, converted to money with documented factors. Grants and "
             "tax credits are shown as offsets, never netted silently.</p>")
    rows = [r for r in data.roi if r.get("kpi", "roi") == "roi" and r.get("slice_grain") in ("overall", "program_type")]
    if not rows:
        page.add("<p class='empty'>The ROI build-up (mart kpi_roi) is not in the warehouse yet.</p>")
        return
    rows.sort(key=lambda r: (r.get("slice_grain") != "overall", str(r.get("program_type"))))
    for row in rows:
        ptype = row.get("program_type") or "all"
        name = "All programs" if row.get("slice_grain") == "overall" else type_label(ptype)
        chart_id = f"roi-{re.sub(r'[^a-z0-9]+', '-', ptype.lower())}"
        page.add(f"<h3>{escape(name)}</h3>")
        if row.get("suppressed"):
            page.add(f"<p class='empty'>{escape(suppressed_note(row, min_cell))}: a small group, or one that would "
                     "let a small group be worked out from the totals.</p>")
            page.suppressed_cells += 1
            continue
        facts = []
        for label, column, unit in (("ROI", "estimate", "pct"), ("ROI, conservative", "roi_pct_conservative", "pct"),
                                    ("Benefit-cost ratio", "benefit_cost_ratio", "ratio"),
                                    ("Payback", "payback_months", "months"),
                                    ("ROI after grants/tax credits", "roi_pct_after_offsets", "pct")):
            value = row.get(column)
            if _is_number(value):
                facts.append(f"<span>{escape(label)}: <b>{escape(fmt_number(value, unit, currency))}</b></span>")
        confident = row.get("is_confident")
        if confident is not None:
            facts.append("<span class='pill ok'>confident figure</span>" if confident else
                         "<span class='pill warn'>not a confident figure: a credibility check failed</span>")
        if row.get("has_improvement_data") is False:
            facts.append("<span class='pill warn'>no improvement data: no benefits counted</span>")
        page.add(f"<div class='roi-facts'>{''.join(facts)}</div>")
        steps = [svg.Step(label, float(row[col]), "cost") for col, label in COST_CATEGORIES
                 if _is_number(row.get(col)) and row[col] != 0]
        if _is_number(row.get("fully_loaded_cost")):
            steps.append(svg.Step("Fully-loaded cost", -float(row["fully_loaded_cost"]), "total"))
        steps += [svg.Step(label, float(row[col]), "benefit") for col, label in BENEFIT_CATEGORIES
                  if _is_number(row.get(col)) and row[col] != 0]
        benefits, costs = row.get("monetary_benefits"), row.get("fully_loaded_cost")
        if _is_number(benefits) and _is_number(costs):
            steps.append(svg.Step("Net benefit", float(benefits) - float(costs), "total"))
            offsets = [(label, abs(float(row[col]))) for col, label in OFFSET_CATEGORIES
                       if _is_number(row.get(col)) and row[col] != 0]
            if offsets:
                steps += [svg.Step(f"{label} (offset)", value, "offset") for label, value in offsets]
                steps.append(svg.Step("Net after offsets", float(benefits) - float(costs) + sum(v for _, v in offsets),
                                      "total"))
        if not steps:
            page.add("<p class='empty'>No cost or benefit lines for this slice yet.</p>")
            continue
        title = f"ROI build-up, {name.lower()}: costs, benefits and net ({currency})"
        page.chart(chart_id, title, "Costs step the balance down, benefits step it back up; dark bars are totals. "
                                    "Cost categories with no spend are left out.",
                   svg.waterfall(chart_id, title, steps, fmt=lambda v: money(v, currency)))

    method_rows = [r for r in data.roi if r.get("slice_grain") == "program_type_method"]
    if method_rows:
        body = []
        for r in sorted(method_rows, key=lambda r: (str(r.get("program_type")), str(r.get("method")))):
            label = f"{type_label(str(r.get('program_type')))} · {method_label(str(r.get('method')))}"
            if r.get("suppressed"):
                page.suppressed_cells += 1
                body.append(f"<tr><td>{escape(label)}</td><td colspan='5' class='suppressed'>"
                            f"{escape(suppressed_note(r, min_cell))}</td></tr>")
                continue

            def f(col, unit):
                value = r.get(col)
                return escape(fmt_number(value, unit, currency)) if _is_number(value) else "—"
            flag = "" if r.get("is_confident", True) else \
                " <span class='flag' title='not a confident figure'>⚠</span>"
            body.append(f"<tr><td>{escape(label)}</td><td>{f('fully_loaded_cost', 'currency')}</td>"
                        f"<td>{f('monetary_benefits', 'currency')}</td><td><span class='v'>{f('estimate', 'pct')}"
                        f"{flag}</span></td><td>{f('roi_pct_conservative', 'pct')}</td>"
                        f"<td>{f('payback_months', 'months')}</td></tr>")
        page.add("<h3>ROI by program type and method</h3><table class='kpi'><thead><tr><th>Slice</th>"
                 "<th>Fully-loaded cost</th><th>Benefits</th><th>ROI</th><th>ROI, conservative</th>"
                 f"<th>Payback</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def _x_value(row: dict, grain: str) -> str | None:
    if grain == "cohort":
        return row.get("cohort") or row.get("period")
    return row.get("period")


def _trends(page: Page, data: ReportData) -> None:
    min_cell, currency = data.min_cell_size, data.currency
    page.add("<h2 id='trends'>Trends by cohort and period</h2>"
             "<p class='lede'>How each KPI moves from one intake (cohort) or reporting period to the next. "
             "Shaded bands are 95% confidence intervals; hollow diamonds mark suppressed cells.</p>")
    drew = False
    for grain in TREND_GRAINS:
        rows = [r for r in data.summary if r.get("slice_grain") == grain and _x_value(r, grain) not in (None, "all")]
        if not rows:
            continue
        xs = sorted({str(_x_value(r, grain)) for r in rows})
        for kpi_method in [k for k in TREND_KPIS if k in {_key(r) for r in rows}]:
            subset = [r for r in rows if _key(r) == kpi_method]
            types = sorted({str(r.get("program_type") or "all") for r in subset},
                           key=lambda t: (PROGRAM_TYPES + ["all"]).index(t) if t in PROGRAM_TYPES + ["all"] else 9)
            series = []
            for i, ptype in enumerate(types):
                by_x = {str(_x_value(r, grain)): r for r in subset if str(r.get("program_type") or "all") == ptype}
                series.append(svg.Series(ptype, type_label(ptype), svg.colour_for(ptype, i),
                                         [to_point(by_x.get(x), min_cell, currency) if x in by_x
                                          else svg.Point(None) for x in xs]))
            unit = subset[0].get("unit") or ""
            page.suppressed_cells += sum(bool(r.get("suppressed")) for r in subset)
            chart_id = f"trend-{grain}-{kpi_method[0]}-{kpi_method[1]}"
            title = f"{kpi_label(*kpi_method, windows=data.windows)} by {grain}"
            page.chart(chart_id, title, f"Unit: {UNIT_NOTES.get(unit, unit)}.",
                       svg.line_chart(chart_id, title, xs, series, fmt=tick_formatter(unit, currency)))
            drew = True
    if drew:
        page.add("<p class='note'>Trend charts cover the headline KPIs; every KPI by cohort and period is in the "
                 "published marts (docs/serving.md).</p>")
    else:
        page.add("<p class='empty'>The marts do not publish cohort or period slices yet (every row covers the whole "
                 "data window). Once rows with <code>slice_grain</code> = <code>cohort</code> or "
                 "<code>period</code> arrive, one trend chart per KPI appears here automatically.</p>")


def _other_breakdowns(page: Page, data: ReportData) -> None:
    grains = sorted({r.get("slice_grain") for r in data.summary}
                    - BREAKDOWN_GRAINS - set(TREND_GRAINS) - {None})
    if not grains:
        return
    page.add("<h2 id='breakdowns'>Other breakdowns</h2>")
    for grain in grains:
        rows = [r for r in data.summary if r.get("slice_grain") == grain]
        table: dict[tuple, dict[str, dict]] = defaultdict(dict)
        for r in rows:
            value = r.get(grain) or r.get("slice_value") or " · ".join(
                str(r.get(d)) for d in SLICE_DIMENSIONS if r.get(d) not in (None, "all"))
            table[_key(r)][str(value)] = r
        columns = sorted({c for cells in table.values() for c in cells})
        html, suppressed = kpi_table(table, [(c, c) for c in columns], data.min_cell_size, data.currency,
                                     windows=data.windows)
        page.suppressed_cells += suppressed
        page.add(f"<h3>By {escape(grain.replace('_', ' '))}</h3><div style='overflow-x:auto'>{html}</div>")


def _notes(page: Page, data: ReportData) -> None:
    min_cell = data.min_cell_size
    page.add(f"""<h2 id='notes'>How to read this report</h2>
<dl class='notes'>
<dt>Matched comparison</dt><dd>Each participant is compared with employees who did not train but were alike before
the program started: same department, job level, job family and tenure band, and similar productivity.
The KPI is the participants' change minus the comparison group's change (difference-in-differences).</dd>
<dt>Naive before/after</dt><dd>Participants' own change, with no comparison group. People who enrol are often
already on the rise, so this overstates the effect. It is shown only so the difference is visible.</dd>
<dt>Event study</dt><dd>The matched difference month by month around the program start, in productivity index
points, measured from the month before the start. The months before the start are the pre-trend check: near zero
when the comparison group was on the same path as the participants.</dd>
<dt>95% confidence interval</dt><dd>The range that the true value very likely lies in, given how many people were
measured. Wide intervals mean small groups: read them as direction, not as a precise figure.</dd>
<dt>⚠ Credibility check failed</dt><dd>The comparison group was not balanced with the participants
(standardised mean difference above the limit) or the two groups were already trending apart before training.
The figure is reported but is not a confident result, and its ROI is not a confident figure either.</dd>
<dt>Suppressed cells</dt><dd>Any group of fewer than {min_cell} people shows “suppressed” instead of a value, so no
individual can be singled out. So does at least one more group beside it (the next smallest), so that subtracting
the shown groups from a total never gives a suppressed figure; a suppressed cell shows no count either.</dd>
<dt>ROI</dt><dd>(benefits − fully-loaded costs) ÷ costs × 100. The conservative ROI uses the lower end of each
effect's confidence interval. Intangible benefits (engagement, confidence) are not turned into money.</dd>
<dt>Units</dt><dd>% = percent of people (or percent change); pp = percentage points (difference between two
percentages); {escape(data.currency)} amounts are totals over the data window.</dd>
</dl>""")


def render_report(data: ReportData) -> "RenderedReport":
    page = Page()
    generated = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    run = f" · run {escape(data.run_id)}" if data.run_id else ""
    page.add("<header class='top'><h1>Did our training programs work?</h1>"
             "<div class='meta'>Training impact report · generated "
             f"{escape(generated)}{run} · KPI definitions version {escape(data.definition_version)}</div>"
             "<p class='lede'>Completion, learning, career moves, retention, productivity and return on investment "
             "for upskilling and reskilling programs, with each training effect measured against a matched "
             "comparison group of similar employees who did not train.</p></header>")
    _headline(page, data)
    _not_measured(page, data)
    _by_program_type(page, data)
    _by_method(page, data)
    _forests(page, data)
    _event_study(page, data)
    _roi(page, data)
    _trends(page, data)
    _other_breakdowns(page, data)
    _notes(page, data)
    page.add(f"<footer>Source: {escape(Path(data.source).name or 'warehouse')} (schema main_marts) · "
             f"{len(data.summary):,} KPI rows · {page.suppressed_cells} suppressed cells · "
             f"{len(page.chart_ids)} charts · self-contained page, works offline.</footer>")
    html = string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title="Training impact report", chart_ids=" ".join(page.chart_ids), body="\n".join(page.parts))
    return RenderedReport(html=html, chart_ids=list(page.chart_ids), suppressed_cells=page.suppressed_cells)


@dataclass
class RenderedReport:
    html: str
    chart_ids: list[str]
    suppressed_cells: int


@dataclass
class WrittenReport:
    path: Path
    run_copy: Path | None
    chart_ids: list[str]
    suppressed_cells: int
    kpi_rows: int


def reports_dir(data_root: Path) -> Path:
    return Path(data_root) / "reports"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_report(data_root: Path, warehouse: Path, params: dict | None = None,
                 run_id: str | None = None) -> WrittenReport:
    """Read the marts and write the report (atomically, so a reader never sees half a page)."""
    data = load_report_data(warehouse, params=params, run_id=run_id)
    rendered = render_report(data)
    target = reports_dir(data_root) / REPORT_NAME
    _atomic_write(target, rendered.html)
    run_copy = None
    if run_id:
        run_copy = reports_dir(data_root) / "runs" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}.html"
        _atomic_write(run_copy, rendered.html)
    return WrittenReport(target, run_copy, rendered.chart_ids, rendered.suppressed_cells, len(data.summary))
