"""Data Docs that open offline (DECISIONS D125): GX's pages without their CDN assets, and a static index.

GX's page templates take Bootstrap, Font Awesome, jQuery, bootstrap-table and Vega from CDNs (the
package ships only a logo, fonts and a 4 KB stylesheet), and its index draws the list of results in
JavaScript from those CDNs: offline the index lists nothing and the pages are unstyled. So:

* every page GX writes has its ``<link>``/``<script>`` to other hosts removed and a stylesheet inlined
  (``STYLE``: the part of Bootstrap 4 the pages use, the status icons as characters, and the
  "Failed Only" filter and "Show more info" links in CSS, since the jQuery they called is gone);
* the index is ours (``write_index``): plain HTML, no script, one table row per validation result in
  the store (suite, data asset, files, run, rows, failed rows, expectations, the page's link) and the
  suites. A cache next to the store keeps the summary of each result, so a step reads only new results.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

INDEX_CACHE = "data_docs_index.json"
_CACHE_VERSION = 1

# --------------------------------------------------------------------------- the stylesheet

_SPACES = {"0": "0", "1": ".25rem", "2": ".5rem", "3": "1rem", "4": "1.5rem", "5": "3rem"}
_SIDES = {"": ("",), "t": ("-top",), "b": ("-bottom",), "l": ("-left",), "r": ("-right",),
          "x": ("-left", "-right"), "y": ("-top", "-bottom")}


def _spacing() -> str:
    rules = []
    for short, prop in (("m", "margin"), ("p", "padding")):
        for side, suffixes in _SIDES.items():
            for size, value in _SPACES.items():
                body = ";".join(f"{prop}{s}:{value}!important" for s in suffixes)
                rules.append(f".{short}{side}-{size}{{{body}}}")
    return "".join(rules)


def _columns(prefix: str = "", widths: Iterable[int] = range(1, 13)) -> str:
    return "".join(f".col-{prefix}{n}{{flex:0 0 {n / 12:.4%};max-width:{n / 12:.4%}}}" for n in widths)


def _breakpoint(name: str, width: int) -> str:
    # responsive spacing: only the side paddings GX's templates use (pl-sm-3, pl-md-4, pr-md-3)
    pads = "".join(f".p{side}-{name}-{size}{{padding{suffix}:{_SPACES[size]}!important}}"
                   for side, suffix in (("l", "-left"), ("r", "-right")) for size in "012345")
    return (f"@media (min-width:{width}px){{{_columns(name + '-', (2, 3, 4, 6, 8, 9, 10, 12))}{pads}"
            f".d-{name}-none{{display:none!important}}.d-{name}-block{{display:block!important}}"
            f".d-{name}-flex{{display:flex!important}}.d-{name}-inline-flex{{display:inline-flex!important}}}}")


STYLE = "".join([
    # base
    "*,*::before,*::after{box-sizing:border-box}"
    "body{margin:0;font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Liberation Sans',"
    "'DejaVu Sans',sans-serif;font-size:1rem;line-height:1.5;color:#212529;background:#fff;text-align:left}"
    "h1,h2,h3,h4,h5,h6,.h6{margin:0 0 .5rem;font-weight:500;line-height:1.2}"
    "h3{font-size:1.75rem}h4{font-size:1.5rem}h5{font-size:1.25rem}h6,.h6{font-size:1rem}"
    "p,ul,ol{margin:0 0 1rem}a{color:#007bff;text-decoration:none}a:hover{color:#0056b3;text-decoration:underline}"
    "img{vertical-align:middle;border-style:none}code,pre{font-family:'DejaVu Sans Mono',monospace;"
    "font-size:87.5%}code{color:#e83e8c}.lead{font-size:1.25rem;font-weight:300}strong{font-weight:bolder}"
    "label{display:inline-block}",
    # grid and display
    ".container,.container-fluid{width:100%;padding-right:15px;padding-left:15px;margin-right:auto;margin-left:auto}"
    ".row{display:flex;flex-wrap:wrap;margin-right:-15px;margin-left:-15px}"
    "[class*='col-']{position:relative;width:100%;padding-right:15px;padding-left:15px}",
    _columns(),
    ".d-none{display:none!important}.d-block{display:block!important}.d-flex{display:flex!important}"
    ".d-inline-flex{display:inline-flex!important}.float-left{float:left!important}.h-100{height:100%!important}"
    ".align-items-center{align-items:center!important}.justify-content-center{justify-content:center!important}"
    ".mr-auto{margin-right:auto!important}.ml-auto{margin-left:auto!important}"
    ".sticky-top{position:sticky;top:0;z-index:1020;background:#fff}"
    ".border-bottom{border-bottom:1px solid #dee2e6!important}.rounded{border-radius:.25rem!important}"
    ".bg-light{background-color:#f8f9fa!important}.text-success{color:#28a745!important}"
    ".text-danger{color:#dc3545!important}.text-info{color:#17a2b8!important}"
    ".text-muted{color:#6c757d!important}",
    _spacing(),
    _breakpoint("sm", 576), _breakpoint("md", 768), _breakpoint("lg", 992), _breakpoint("xl", 1200),
    # components
    ".navbar{position:relative;display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;"
    "padding:.5rem 1rem}.navbar-brand{display:inline-block;padding:.3125rem 0;margin-right:1rem;"
    "font-size:1.25rem;white-space:nowrap}"
    ".nav{display:flex;flex-wrap:wrap;padding-left:0;margin-bottom:0;list-style:none}"
    ".nav-link{display:block;padding:.5rem 1rem}.nav-pills .nav-link{border-radius:.25rem}"
    ".breadcrumb{display:flex;flex-wrap:wrap;padding:.75rem 1rem;margin-bottom:1rem;list-style:none;"
    "background-color:#e9ecef;border-radius:.25rem}.breadcrumb-item+.breadcrumb-item{padding-left:.5rem}"
    ".breadcrumb-item+.breadcrumb-item::before{display:inline-block;padding-right:.5rem;color:#6c757d;"
    "content:'/'}.breadcrumb-item.active{color:#6c757d}"
    ".alert{position:relative;padding:.75rem 1.25rem;margin-bottom:1rem;border:1px solid transparent;"
    "border-radius:.25rem}.alert-secondary{color:#383d41;background-color:#e2e3e5;border-color:#d6d8db}"
    ".card{position:relative;display:flex;flex-direction:column;min-width:0;word-wrap:break-word;"
    "background-color:#fff;border:1px solid rgba(0,0,0,.125);border-radius:.25rem}"
    ".card-header{padding:.75rem 1.25rem;margin-bottom:0;background-color:rgba(0,0,0,.03);"
    "border-bottom:1px solid rgba(0,0,0,.125)}.card-body{flex:1 1 auto;min-height:1px;padding:1.25rem}"
    ".table{width:100%;margin-bottom:1rem;color:#212529;border-collapse:collapse}"
    ".table th,.table td{padding:.75rem;vertical-align:top;border-top:1px solid #dee2e6;text-align:left}"
    ".table thead th{vertical-align:bottom;border-bottom:2px solid #dee2e6}"
    ".table-sm th,.table-sm td{padding:.3rem}.table-bordered,.table-bordered th,.table-bordered td"
    "{border:1px solid #dee2e6}.table-responsive{display:block;width:100%;overflow-x:auto}"
    ".badge{display:inline-block;padding:.25em .4em;font-size:75%;font-weight:700;line-height:1;"
    "text-align:center;white-space:nowrap;vertical-align:baseline;border-radius:.25rem}"
    ".badge-secondary{color:#fff;background-color:#6c757d}.badge-info{color:#fff;background-color:#17a2b8}"
    ".btn{display:inline-block;font-weight:400;text-align:center;vertical-align:middle;cursor:pointer;"
    "user-select:none;border:1px solid transparent;padding:.375rem .75rem;font-size:1rem;line-height:1.5;"
    "border-radius:.25rem}.btn-sm{padding:.25rem .5rem;font-size:.875rem}"
    ".btn-primary{color:#fff;background-color:#007bff;border-color:#007bff}"
    ".btn-secondary{color:#fff;background-color:#6c757d;border-color:#6c757d}"
    ".btn-group{position:relative;display:inline-flex}.btn-group>.btn{margin-left:-1px}"
    ".btn-group-toggle input{position:absolute;clip:rect(0,0,0,0);pointer-events:none}"
    # the Font Awesome icons GX uses, as characters every system font has
    ".fas,.far{display:inline-block;font-style:normal;font-weight:700;line-height:1}"
    ".fa-check-circle::before{content:'\\2714'}.fa-times::before,.fa-times-circle::before{content:'\\2716'}"
    ".fa-exclamation-triangle::before{content:'\\26A0'}.fa-comment::before{content:'\\270E'}"
    ".fa-question-circle::before{content:'?'}"
    # "Show more info...": a link to the collapsed block's id, so :target opens it without script
    ".collapse:not(.show):not(:target){display:none}"
    # "Validation Filter": the radio buttons work without script; :has() hides what passed
    ".btn-group-toggle .btn{padding:.25rem .5rem;font-size:.875rem;white-space:nowrap;opacity:.65}"
    ".btn-group-toggle .btn:has(input:checked){opacity:1}"
    "body:has(#option2:checked) tr:has(>td.hide-succeeded-validation-target-child),"
    "body:has(#option2:checked) .ge-section:has(.hide-succeeded-validations-column-section-target-child)"
    "{display:none}",
    # GX's pages carry dark-mode rules for tables and the footer; the rest of a dark page
    "@media (prefers-color-scheme:dark){body{color:#f1f1f1;background:#212529}a{color:#6ea8fe}"
    ".card,.sticky-top{background-color:#2b3035}.breadcrumb{background-color:#343a40}"
    ".alert-secondary{color:#e2e3e5;background-color:#41464b;border-color:#495057}code{color:#f78fc0}"
    ".table{color:#f1f1f1}.ti-summary,.ti-results code{color:#ced4da!important}}",
])

# the index page's own rules
_INDEX_STYLE = (
    "main{padding:1rem 2rem 3rem}.ti-summary{color:#495057}.ti-results{font-size:.875rem}"
    ".ti-results td{vertical-align:middle}.ti-results .num{text-align:right;font-variant-numeric:tabular-nums}"
    ".ti-results code{color:#495057;font-size:85%}.nowrap{white-space:nowrap}"
    ".ti-status{display:inline-block;min-width:4.5em;padding:.3em .5em;border-radius:.25rem;color:#fff;"
    "font-weight:700;text-align:center}.ti-passed{background:#1e7e34}.ti-failed{background:#c82333}"
    "body:has(#ti-failed-only:checked) tr[data-success='true']{display:none}"
    ".ti-filter{margin:0 0 .5rem}"
)

# --------------------------------------------------------------------------- GX's pages

_REMOTE_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//[^>]*>\s*</script>\s*"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//[^>]*>\s*", re.I)
# GX's page header loads its logo from GX's S3 bucket with the data context id and the build time in
# the query string: a beacon each time someone opens the docs. The same image ships in static/.
_REMOTE_LOGO = re.compile(r'https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/([\w.-]+)'
                          r'(\?[^"\']*)?')
_MARK = '<style id="ti-offline">'


def offline_page(text: str, static_dir: str) -> str:
    """A GX page that loads nothing from the network: CDN tags removed, the logo local, ``STYLE``
    inlined. ``static_dir``: the site's static/ folder relative to the page. Idempotent."""
    if _MARK in text:
        return text
    text = _REMOTE_TAG.sub("", text)
    text = _REMOTE_LOGO.sub(lambda m: f"{static_dir}/images/{m.group(1)}", text)
    # first in <head>: GX's own inline styles (default and custom) still win where they set something
    return re.sub(r"<head>", lambda m: f"{m.group(0)}\n{_MARK}{STYLE}</style>", text, count=1, flags=re.I)


def page_paths(site: Path, resource_identifiers: Iterable[Any] | None) -> list[Path]:
    """The pages GX (re)wrote for these identifiers (every page when None)."""
    if resource_identifiers is None:
        return sorted(p for p in site.rglob("*.html") if p.name != "index.html" or p.parent != site)
    out = []
    for key in resource_identifiers:
        parts = [str(p) for p in key.to_tuple()]
        # a suite key is its name; a result key the suite's, then run name, run time, batch id
        folder = "validations" if getattr(key, "run_id", None) is not None else "expectations"
        out.append(site.joinpath(folder, *parts[:-1], parts[-1] + ".html"))
    return out


def make_offline(site: Path, pages: Iterable[Path]) -> int:
    """Rewrite these pages with ``offline_page``; returns how many changed."""
    static = site / "static"
    changed = 0
    for page in pages:
        try:
            text = page.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        new = offline_page(text, Path(os.path.relpath(static, page.parent)).as_posix())
        if new != text:
            _write(page, new)
            changed += 1
    return changed


# --------------------------------------------------------------------------- the index


def _summary(doc: dict) -> dict:
    meta = doc.get("meta") or {}
    run = meta.get("run_id") or {}
    stats = doc.get("statistics") or {}
    asset = (meta.get("active_batch_definition") or {}).get("data_asset_name") or meta.get("entity")
    return {
        "suite": doc.get("suite_name") or meta.get("expectation_suite_name"),
        "suite_version": meta.get("suite_version"),
        "asset": asset,
        "file": meta.get("source_file"),
        "run_name": run.get("run_name") if isinstance(run, dict) else None,
        "run_time": run.get("run_time") if isinstance(run, dict) else None,
        "success": bool(doc.get("success")),
        "rows": meta.get("rows"),
        "failed_rows": meta.get("failed_rows"),
        "evaluated": stats.get("evaluated_expectations"),
        "unsuccessful": stats.get("unsuccessful_expectations"),
    }


def _load_cache(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return cache.get("results", {}) if cache.get("version") == _CACHE_VERSION else {}


def index_rows(gx_root: Path) -> list[dict]:
    """A summary of every validation result in the store, newest run first. Each result is read once:
    its summary is cached (``<gx>/uncommitted/data_docs_index.json``) under its size and mtime."""
    store = gx_root / "uncommitted" / "validations"
    cache_path = gx_root / "uncommitted" / INDEX_CACHE
    cached = _load_cache(cache_path)
    fresh: dict[str, dict] = {}
    for path in store.rglob("*.json"):
        rel = path.relative_to(store).as_posix()
        try:
            st = path.stat()
            stamp = [st.st_mtime_ns, st.st_size]
            entry = cached.get(rel)
            if entry is None or entry.get("stamp") != stamp:
                entry = {"stamp": stamp, "row": _summary(json.loads(path.read_text(encoding="utf-8")))}
        except (OSError, ValueError):
            continue  # gone, or being written: the next build lists it
        fresh[rel] = entry
    if fresh != cached or not cache_path.exists():
        _write(cache_path, json.dumps({"version": _CACHE_VERSION, "results": fresh}, sort_keys=True))
    rows = [{**e["row"], "key": rel} for rel, e in fresh.items()]
    return sorted(rows, key=lambda r: (r["run_time"] or "", r["suite"] or "", r["key"]), reverse=True)


def _when(text: str | None) -> str:
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return text or ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _num(value: Any) -> str:
    return "" if value is None else str(value)


def _result_row(site: Path, r: dict) -> str:
    e = html.escape
    page = "validations/" + r["key"][: -len(".json")] + ".html"
    status = "passed" if r["success"] else "failed"
    label = e(r["file"] or r["key"].rsplit("/", 1)[-1][: -len(".json")])
    link = (f'<a href="{e(urllib.parse.quote(page))}">{label}</a>' if (site / page).is_file()
            else f'{label} <span class="text-muted">(no page)</span>')
    version = f'<span class="text-muted">v{e(str(r["suite_version"]))}</span>' if r["suite_version"] else ""
    expectations = ("" if r["evaluated"] is None else f"{_num(r['unsuccessful'])} of {_num(r['evaluated'])}")
    return (f'<tr class="ti-result" data-success="{str(r["success"]).lower()}">'
            f'<td><span class="ti-status ti-{status}">{status}</span></td>'
            f'<td>{e(r["suite"] or "")}</td><td>{version}</td><td>{e(r["asset"] or "")}</td>'
            f"<td>{link}</td><td><code>{e(r['run_name'] or '')}</code></td>"
            f'<td class="nowrap">{e(_when(r["run_time"]))}</td>'
            f'<td class="num">{_num(r["rows"])}</td><td class="num">{_num(r["failed_rows"])}</td>'
            f'<td class="num">{expectations}</td></tr>')


def _suites(gx_root: Path, site: Path) -> list[tuple[str, Any, bool]]:
    out = []
    for path in sorted((gx_root / "expectations").glob("*.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("meta") or {}
        except (OSError, ValueError):
            meta = {}
        out.append((path.stem, meta.get("suite_version"), (site / "expectations" / f"{path.stem}.html").is_file()))
    return out


def render_index(gx_root: Path, site: Path, rows: list[dict]) -> str:
    e = html.escape
    failed = sum(not r["success"] for r in rows)
    runs = len({r["run_name"] for r in rows})
    suites = "".join(
        "<tr><td>" + (f'<a href="expectations/{e(urllib.parse.quote(name))}.html">{e(name)}</a>' if page
                      else e(name))
        + "</td><td>" + ("" if version is None else f"v{e(str(version))}") + "</td></tr>"
        for name, version, page in _suites(gx_root, site))
    logo = ('<img src="static/images/logo-long.png" alt="Great Expectations" style="height:40px">'
            if (site / "static" / "images" / "logo-long.png").is_file() else "Great Expectations")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data Docs: validation results</title>
<link rel="icon" href="static/images/favicon.ico">
<style>{STYLE}{_INDEX_STYLE}</style>
</head>
<body>
<nav class="navbar border-bottom"><span class="navbar-brand">{logo}</span><span>Data Docs</span></nav>
<main>
<h4>Validation results</h4>
<p class="ti-summary">{_count(len(rows), "validation result")} of {_count(runs, "run")}, {failed} with failed
expectations; newest first. A result is one GX validation of a landing file, or of several small files of one entity
validated together. Failed rows are quarantined (<code>bronze/_quarantine</code>). This page needs no
network and no script.</p>
<p class="ti-filter"><label><input type="checkbox" id="ti-failed-only"> failed only</label></p>
<table class="table table-sm ti-results" id="validation-results">
<thead><tr><th>Status</th><th>Suite</th><th>Version</th><th>Data asset</th><th>File(s)</th><th>Run</th>
<th>Run time (UTC)</th><th class="num">Rows</th><th class="num">Failed rows</th>
<th class="num">Failed expectations</th></tr></thead>
<tbody>
{chr(10).join(_result_row(site, r) for r in rows)}
</tbody>
</table>
<h4>Expectation suites</h4>
<table class="table table-sm ti-suites" id="expectation-suites" style="width:auto">
<thead><tr><th>Suite</th><th>Version</th></tr></thead>
<tbody>{suites}</tbody>
</table>
</main>
</body>
</html>
"""


def write_index(gx_root: Path, site: Path) -> Path:
    """Write the site's static ``index.html``; returns its path."""
    index = site / "index.html"
    _write(index, render_index(gx_root, site, index_rows(gx_root)))
    return index


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole (a reader never sees half a page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
