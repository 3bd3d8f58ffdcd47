"""Inline SVG charts drawn in plain Python: no JavaScript, no CSS from elsewhere.

Every chart is returned as an ``<svg>`` string carrying ``data-chart-id``, a
``<title>`` and an ``aria-label`` so screen readers and the render test can find it.
Sizes are in SVG user units inside a ``viewBox``; the page scales them to its width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e3e7eb"
ZERO = "#9aa5b1"
SUPPRESSED_FILL = "url(#ti-hatch)"

# Colour-blind safe pairs (blue / orange) for the two program types, grey for totals.
SERIES_COLOURS = {
    "upskilling": "#2166ac",
    "reskilling": "#d6604d",
    "all": "#52606d",
    "unknown": "#9aa5b1",
}
FALLBACK_COLOURS = ["#2166ac", "#d6604d", "#1b9e77", "#7570b3", "#e6ab02", "#66a61e", "#a6761d"]
MATCHED_COLOUR = "#1d4e89"
NAIVE_COLOUR = "#8c8c8c"
COST_COLOUR = "#c0392b"
BENEFIT_COLOUR = "#2e8b57"
OFFSET_COLOUR = "#8e6c8a"
TOTAL_COLOUR = "#34495e"


def colour_for(series: str, index: int) -> str:
    return SERIES_COLOURS.get(series, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])


def text_width(text: str, size: float = 12) -> float:
    """A conservative guess of rendered width (no font metrics without a browser)."""
    return len(text) * size * 0.58


@dataclass
class Point:
    """One figure to draw: an estimate with its interval, or the reason there is none."""

    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    suppressed: bool = False
    flagged: bool = False
    label: str = ""  # the value as the reader should read it, e.g. "7.5% [6.1, 8.9]"
    note: str = ""  # shown instead of a value when there is none, e.g. "suppressed (n < 5)"


@dataclass
class Series:
    name: str
    label: str
    colour: str
    points: list[Point] = field(default_factory=list)


def _defs() -> str:
    return (
        "<defs><pattern id='ti-hatch' width='6' height='6' patternUnits='userSpaceOnUse' "
        "patternTransform='rotate(45)'><rect width='6' height='6' fill='#f4f5f7'/>"
        "<line x1='0' y1='0' x2='0' y2='6' stroke='#b8c0c8' stroke-width='2'/></pattern></defs>"
    )


def _open(chart_id: str, title: str, width: float, height: float) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' data-chart-id='{escape(chart_id)}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' width='{width:.0f}' height='{height:.0f}' "
        f"role='img' aria-label='{escape(title)}' font-family=\"{FONT}\" font-size='12' fill='{INK}'>"
        f"<title>{escape(title)}</title>{_defs()}"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: float = 12, fill: str = INK,
          weight: str = "normal", style: str = "normal", cls: str = "") -> str:
    cls_attr = f" class='{cls}'" if cls else ""
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' font-size='{size}' fill='{fill}' "
        f"font-weight='{weight}' font-style='{style}'{cls_attr}>{escape(text)}</text>"
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (the classic 1-2-5 steps)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


class Scale:
    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def _domain(values: list[float], include_zero: bool = True) -> tuple[float, float, list[float]]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if include_zero:
        finite.append(0.0)
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if low == high:
        high = low + 1.0
    ticks = nice_ticks(low, high)
    return ticks[0], ticks[-1], ticks


def _x_axis(scale: Scale, ticks: list[float], top: float, bottom: float, fmt) -> str:
    parts = []
    for tick in ticks:
        x = scale(tick)
        colour = ZERO if tick == 0 else GRID
        parts.append(f"<line x1='{x:.1f}' y1='{top:.1f}' x2='{x:.1f}' y2='{bottom:.1f}' stroke='{colour}' "
                     f"stroke-width='{1.5 if tick == 0 else 1}'/>")
        parts.append(_text(x, bottom + 14, fmt(tick), anchor="middle", size=11, fill=MUTED))
    return "".join(parts)


def _legend(items: list[tuple[str, str, str]], x: float, y: float) -> str:
    """items: (label, colour, shape in {'rect', 'circle', 'diamond', 'hatch'})."""
    parts = []
    for label, colour, shape in items:
        if shape == "circle":
            parts.append(f"<circle cx='{x + 6:.1f}' cy='{y - 4:.1f}' r='5' fill='{colour}'/>")
        elif shape == "diamond":
            parts.append(f"<path d='M{x + 6:.1f},{y - 10:.1f} l6,6 l-6,6 l-6,-6 z' fill='white' "
                         f"stroke='{colour}' stroke-width='2'/>")
        elif shape == "hatch":
            parts.append(f"<rect x='{x:.1f}' y='{y - 10:.1f}' width='12' height='12' fill='{SUPPRESSED_FILL}' "
                         f"stroke='#b8c0c8'/>")
        else:
            parts.append(f"<rect x='{x:.1f}' y='{y - 10:.1f}' width='12' height='12' rx='2' fill='{colour}'/>")
        parts.append(_text(x + 17, y, label, size=12))
        x += 17 + text_width(label) + 18
    return "".join(parts)


def bar_chart(chart_id: str, title: str, categories: list[str], series: list[Series], *, fmt,
              width: float = 760, axis_label: str = "") -> str:
    """Horizontal grouped bars with 95% CI whiskers; one group per category, one bar per series.

    Suppressed cells are drawn as a hatched band labelled with the point's note, so a
    missing bar is never mistaken for a zero.
    """
    bar_h, bar_gap, group_gap = 16, 3, 14
    label_w = max([text_width(c) for c in categories] + [60]) + 16
    value_w = max([text_width(p.label or p.note, 11) for s in series for p in s.points] + [60]) + 12
    legend_h = 28
    group_h = len(series) * (bar_h + bar_gap) - bar_gap
    plot_top = legend_h + 8
    plot_bottom = plot_top + len(categories) * (group_h + group_gap)
    height = plot_bottom + (34 if axis_label else 22)
    left, right = label_w, width - value_w
    values = [v for s in series for p in s.points if not p.suppressed
              for v in (p.estimate, p.ci_low, p.ci_high) if v is not None]
    low, high, ticks = _domain(values)
    scale = Scale(low, high, left, right)
    out = [_open(chart_id, title, width, height)]
    out.append(_legend([(s.label, s.colour, "rect") for s in series]
                       + [("suppressed (too few people)", "", "hatch")], 0, 18))
    out.append(_x_axis(scale, ticks, plot_top - 4, plot_bottom - group_gap + 4, fmt))
    zero = scale(0.0) if low <= 0 <= high else scale(low)
    for gi, category in enumerate(categories):
        gy = plot_top + gi * (group_h + group_gap)
        out.append(_text(left - 10, gy + group_h / 2 + 4, category, anchor="end", weight="600"))
        for si, s in enumerate(series):
            point = s.points[gi]
            y = gy + si * (bar_h + bar_gap)
            if point.suppressed:
                band = min(90.0, right - zero)
                out.append(f"<rect class='mark suppressed' x='{zero:.1f}' y='{y:.1f}' width='{band:.1f}' "
                           f"height='{bar_h}' fill='{SUPPRESSED_FILL}' stroke='#b8c0c8'/>")
                out.append(_text(zero + band + 6, y + bar_h - 4, point.note or "suppressed",
                                 size=11, fill=MUTED, style="italic"))
                continue
            if point.estimate is None:
                out.append(_text(zero + 6, y + bar_h - 4, point.note or "no data", size=11, fill=MUTED,
                                 style="italic"))
                continue
            x0, x1 = sorted((zero, scale(point.estimate)))
            out.append(f"<rect class='mark' x='{x0:.1f}' y='{y:.1f}' width='{max(x1 - x0, 1.5):.1f}' "
                       f"height='{bar_h}' rx='2' fill='{s.colour}' fill-opacity='{0.55 if point.flagged else 0.9}'/>")
            if point.ci_low is not None and point.ci_high is not None:
                lo, hi, mid = scale(point.ci_low), scale(point.ci_high), y + bar_h / 2
                out.append(f"<path d='M{lo:.1f},{mid - 4:.1f} v8 M{lo:.1f},{mid:.1f} H{hi:.1f} "
                           f"M{hi:.1f},{mid - 4:.1f} v8' "
                           f"stroke='{INK}' stroke-width='1.2' fill='none'/>")
            end = max(x1, scale(point.ci_high) if point.ci_high is not None else x1)
            if point.estimate < 0:
                end = max(zero, scale(point.ci_high) if point.ci_high is not None else zero)
            out.append(_text(min(end + 6, right + 4), y + bar_h - 4,
                             point.label + (" ⚠" if point.flagged else ""), size=11))
    if axis_label:
        out.append(_text((left + right) / 2, height - 4, axis_label, anchor="middle", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)


@dataclass
class ForestRow:
    label: str
    points: list[Point]  # one per forest series, in the order of the series passed


def forest_plot(chart_id: str, title: str, rows: list[ForestRow], series: list[tuple[str, str, str]], *, fmt,
                width: float = 760, axis_label: str = "", zero_label: str = "no effect") -> str:
    """Point estimates with 95% CI lines, one line per row and series (naive vs matched side by side).

    series: (label, colour, marker in {'circle', 'diamond'}).
    """
    row_h = 14 * len(series) + 14
    label_w = max([text_width(r.label) for r in rows] + [80]) + 16
    value_w = max([text_width(p.label or p.note, 11) for r in rows for p in r.points] + [80]) + 14
    plot_top, left, right = 40, label_w, width - value_w
    plot_bottom = plot_top + len(rows) * row_h
    height = plot_bottom + (38 if axis_label else 26)
    values = [v for r in rows for p in r.points if not p.suppressed
              for v in (p.estimate, p.ci_low, p.ci_high) if v is not None]
    low, high, ticks = _domain(values)
    scale = Scale(low, high, left, right)
    out = [_open(chart_id, title, width, height)]
    out.append(_legend([(label, colour, marker) for label, colour, marker in series], 0, 18))
    out.append(_x_axis(scale, ticks, plot_top - 6, plot_bottom, fmt))
    if low <= 0 <= high:
        out.append(_text(scale(0) + 4, plot_top - 10, zero_label, size=10, fill=MUTED))
    for ri, row in enumerate(rows):
        ry = plot_top + ri * row_h
        if ri % 2 == 0:
            out.append(f"<rect x='0' y='{ry:.1f}' width='{width:.0f}' height='{row_h}' fill='#f7f9fb' "
                       f"fill-opacity='0.8'/>")
        out.append(_text(left - 10, ry + row_h / 2 + 4, row.label, anchor="end", weight="600"))
        for si, ((_, colour, marker), point) in enumerate(zip(series, row.points)):
            cy = ry + 10 + si * 14
            value_text = point.label + (" ⚠" if point.flagged else "") if point.estimate is not None \
                else (point.note or "no data")
            style = "italic" if point.estimate is None or point.suppressed else "normal"
            out.append(_text(right + 10, cy + 4, value_text, size=11, fill=colour if point.estimate is not None
                             else MUTED, style=style))
            if point.suppressed or point.estimate is None:
                continue
            if point.ci_low is not None and point.ci_high is not None:
                lo, hi = scale(point.ci_low), scale(point.ci_high)
                out.append(f"<path class='mark' d='M{lo:.1f},{cy - 4:.1f} v8 M{lo:.1f},{cy:.1f} H{hi:.1f} "
                           f"M{hi:.1f},{cy - 4:.1f} v8' stroke='{colour}' stroke-width='2' fill='none'/>")
            cx = scale(point.estimate)
            if marker == "diamond":
                out.append(f"<path class='mark' d='M{cx:.1f},{cy - 6:.1f} l6,6 l-6,6 l-6,-6 z' fill='white' "
                           f"stroke='{colour}' stroke-width='2'/>")
            else:
                out.append(f"<circle class='mark' cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{colour}'/>")
    if axis_label:
        out.append(_text((left + right) / 2, height - 4, axis_label, anchor="middle", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)


@dataclass
class Step:
    label: str
    value: float
    kind: str  # 'cost' | 'benefit' | 'offset' | 'total'


def waterfall(chart_id: str, title: str, steps: list[Step], *, fmt, width: float = 760) -> str:
    """Horizontal bridge: costs step down from zero, benefits step up, totals span from zero.

    'cost' and 'offset' values are given as positive amounts of money: a cost moves the
    running total down, an offset (grant, tax credit) moves it back up; a 'total' is drawn
    from zero to its value and resets the running total.
    """
    row_h, bar_h = 24, 16
    label_w = max([text_width(s.label) for s in steps] + [80]) + 16
    value_w = max([text_width(fmt(s.value), 11) for s in steps] + [60]) + 26
    plot_top, left, right = 40, label_w, width - value_w
    plot_bottom = plot_top + len(steps) * row_h
    height = plot_bottom + 26
    running, spans = 0.0, []
    for step in steps:
        if step.kind == "total":
            spans.append((0.0, step.value))
            running = step.value
        else:
            delta = -step.value if step.kind == "cost" else step.value
            spans.append((running, running + delta))
            running += delta
    low, high, ticks = _domain([v for span in spans for v in span])
    scale = Scale(low, high, left, right)
    out = [_open(chart_id, title, width, height)]
    out.append(_legend([("cost", COST_COLOUR, "rect"), ("benefit (isolated effect)", BENEFIT_COLOUR, "rect"),
                        ("grant / tax credit (offset)", OFFSET_COLOUR, "rect"), ("total", TOTAL_COLOUR, "rect")],
                       0, 18))
    out.append(_x_axis(scale, ticks, plot_top - 6, plot_bottom, fmt))
    previous_end = None
    for i, (step, (start, end)) in enumerate(zip(steps, spans)):
        y = plot_top + i * row_h + (row_h - bar_h) / 2
        colour = {"cost": COST_COLOUR, "benefit": BENEFIT_COLOUR if step.value >= 0 else COST_COLOUR,
                  "offset": OFFSET_COLOUR, "total": TOTAL_COLOUR}[step.kind]
        x0, x1 = sorted((scale(start), scale(end)))
        if previous_end is not None and step.kind != "total":
            px = scale(previous_end)
            out.append(f"<line x1='{px:.1f}' y1='{y - (row_h - bar_h):.1f}' x2='{px:.1f}' y2='{y:.1f}' "
                       f"stroke='{MUTED}' stroke-dasharray='2,2'/>")
        out.append(f"<rect class='mark' x='{x0:.1f}' y='{y:.1f}' width='{max(x1 - x0, 1.5):.1f}' height='{bar_h}' "
                   f"fill='{colour}' rx='2'/>")
        weight = "700" if step.kind == "total" else "normal"
        out.append(_text(left - 10, y + bar_h - 4, step.label, anchor="end", weight=weight))
        signed = -step.value if step.kind == "cost" else step.value
        text = fmt(signed)
        if step.kind in ("benefit", "offset") and signed > 0:
            text = "+" + text
        out.append(_text(right + 10, y + bar_h - 4, text, size=11, weight=weight))
        previous_end = end
    out.append("</svg>")
    return "".join(out)


def line_chart(chart_id: str, title: str, x_labels: list[str], series: list[Series], *, fmt,
               width: float = 760, height: float = 260, axis_label: str = "") -> str:
    """Trend over cohorts or periods: one line per series, CI as a light band, suppressed points hollow."""
    left, right, top, bottom = 56, width - 40, 40, height - 40
    values = [v for s in series for p in s.points if not p.suppressed
              for v in (p.estimate, p.ci_low, p.ci_high) if v is not None]
    low, high, ticks = _domain(values, include_zero=False)
    y_scale = Scale(low, high, bottom, top)
    step = (right - left) / max(len(x_labels) - 1, 1)
    x_of = (lambda i: left + i * step) if len(x_labels) > 1 else (lambda i: (left + right) / 2)
    out = [_open(chart_id, title, width, height)]
    out.append(_legend([(s.label, s.colour, "rect") for s in series] + [("suppressed", MUTED, "diamond")], 0, 18))
    for tick in ticks:
        y = y_scale(tick)
        out.append(f"<line x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' stroke='{GRID}'/>")
        out.append(_text(left - 6, y + 4, fmt(tick), anchor="end", size=11, fill=MUTED))
    every = max(1, math.ceil(len(x_labels) * 60 / (right - left)))
    shown = list(range(0, len(x_labels), every))
    last = len(x_labels) - 1
    if shown and shown[-1] != last:  # always label the latest cohort/period, never on top of another label
        if last - shown[-1] < every and len(shown) > 1:
            shown[-1] = last
        else:
            shown.append(last)
    for i in shown:
        out.append(_text(x_of(i), bottom + 16, x_labels[i], anchor="middle", size=11, fill=MUTED))
    for s in series:
        band_top, band_bottom, path = [], [], []
        for i, point in enumerate(s.points):
            if point.estimate is None or point.suppressed:
                if len(band_top) > 1:
                    out.append(_band(band_top, band_bottom, s.colour))
                band_top, band_bottom = [], []
                if point.suppressed:
                    out.append(f"<path class='mark suppressed' "
                               f"d='M{x_of(i):.1f},{bottom - 14:.1f} l5,5 l-5,5 l-5,-5 z' "
                               f"fill='white' stroke='{MUTED}' stroke-width='1.5'/>")
                path.append(None)
                continue
            x, y = x_of(i), y_scale(point.estimate)
            path.append((x, y))
            if point.ci_low is not None and point.ci_high is not None:
                band_top.append((x, y_scale(point.ci_high)))
                band_bottom.append((x, y_scale(point.ci_low)))
            out.append(f"<circle class='mark' cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='{s.colour}'/>")
        if len(band_top) > 1:
            out.append(_band(band_top, band_bottom, s.colour))
        segment: list[tuple[float, float]] = []
        for xy in path + [None]:
            if xy is None:
                if len(segment) > 1:
                    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in segment)
                    out.append(f"<path class='mark' d='{d}' fill='none' stroke='{s.colour}' stroke-width='2'/>")
                segment = []
            else:
                segment.append(xy)
    if axis_label:
        out.append(_text((left + right) / 2, height - 4, axis_label, anchor="middle", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)


def _band(top: list[tuple[float, float]], bottom: list[tuple[float, float]], colour: str) -> str:
    points = top + list(reversed(bottom))
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + " Z"
    return f"<path d='{d}' fill='{colour}' fill-opacity='0.12' stroke='none'/>"


def event_study_chart(chart_id: str, title: str, months: list[int], points: list[Point], *, fmt,
                      colour: str = MATCHED_COLOUR, reference_month: int = -1, width: float = 760,
                      height: float = 280, axis_label: str = "", start_label: str = "program start") -> str:
    """Effect by month relative to the program start: one dot per published month with its 95% CI
    whisker, a zero line, a dashed vertical line where the program starts (between months -1 and 0).

    months: every month of the study in order (the x axis); points: one per month. A suppressed
    month is left out (no dot, no whisker: a gap, never a zero) and listed under the axis. The
    reference month is drawn hollow: it is 0 by construction.
    """
    left, right, top = 64, width - 24, 40
    bottom = height - (58 if axis_label else 44)
    values = [v for p in points if not p.suppressed for v in (p.estimate, p.ci_low, p.ci_high) if v is not None]
    low, high, ticks = _domain(values)  # zero always in range: the line the leads are read against
    y_scale = Scale(low, high, bottom, top)
    first, last = (min(months), max(months)) if months else (0, 1)
    x_scale = Scale(first - 0.5, last + 0.5, left, right)
    out = [_open(chart_id, title, width, height)]
    first_item = "estimate with 95% CI"
    out.append(_legend([(first_item, colour, "circle")], 0, 18))
    ref_x = 17 + text_width(first_item) + 18
    out.append(f"<circle cx='{ref_x + 6:.1f}' cy='14' r='4.5' fill='white' stroke='{colour}' stroke-width='1.5'/>")
    out.append(_text(ref_x + 17, 18, f"reference month {reference_month:+d} (0 by construction)".replace("-", "−")))
    for tick in ticks:
        y = y_scale(tick)
        cls = " class='zero-line'" if tick == 0 else ""
        out.append(f"<line{cls} x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' "
                   f"stroke='{ZERO if tick == 0 else GRID}' stroke-width='{1.5 if tick == 0 else 1}'/>")
        out.append(_text(left - 6, y + 4, fmt(tick), anchor="end", size=11, fill=MUTED))
    step = max(1, math.ceil(len(months) * 28 / max(right - left, 1)))
    for month in months:
        if (month - first) % step == 0 or month in (0, reference_month):
            label = f"{month:+d}".replace("-", "−") if month else "0"
            out.append(_text(x_scale(month), bottom + 16, label, anchor="middle", size=11, fill=MUTED))
    start_x = x_scale(-0.5)
    out.append(f"<line class='start-line' x1='{start_x:.1f}' y1='{top - 6:.1f}' x2='{start_x:.1f}' "
               f"y2='{bottom:.1f}' stroke='{INK}' stroke-width='1.2' stroke-dasharray='4,3'/>")
    out.append(_text(start_x + 4, top + 4, start_label, size=10, fill=MUTED))
    suppressed = []
    for month, point in zip(months, points):
        if point.suppressed:
            suppressed.append(month)
            continue
        if point.estimate is None:
            continue
        x, y = x_scale(month), y_scale(point.estimate)
        if point.ci_low is not None and point.ci_high is not None and point.ci_high > point.ci_low:
            lo, hi = y_scale(point.ci_low), y_scale(point.ci_high)
            out.append(f"<path class='mark ci' d='M{x - 4:.1f},{lo:.1f} h8 M{x:.1f},{lo:.1f} V{hi:.1f} "
                       f"M{x - 4:.1f},{hi:.1f} h8' stroke='{colour}' stroke-width='1.5' fill='none'/>")
        hollow = month == reference_month
        tooltip = f"<title>{escape(f'month {month:+d}: {point.label}')}</title>" if point.label else ""
        out.append(f"<circle class='mark point' data-month='{month}' cx='{x:.1f}' cy='{y:.1f}' r='4' "
                   f"fill='{'white' if hollow else colour}' stroke='{colour}' stroke-width='1.5'>{tooltip}</circle>")
    note_y = bottom + 32
    if suppressed:
        listed = ", ".join(f"{m:+d}".replace("-", "−") if m else "0" for m in suppressed)
        out.append(_text(left, note_y, f"suppressed (small cells), not drawn: months {listed}", size=11,
                         fill=MUTED, style="italic", cls="suppressed-note"))
    if axis_label:
        out.append(_text((left + right) / 2, height - 4, axis_label, anchor="middle", size=11, fill=MUTED))
    out.append("</svg>")
    return "".join(out)
