"""The GX Data Docs of a real pipeline run, opened in headless Chromium with the network off (issue 17, D125).

GX's own index draws its list of results with jQuery + bootstrap-table from CDNs, so offline it listed
nothing, and every page took its styles from CDNs. The run's site must show every validation result and
draw its pages styled with no network at all.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from report_support import require_chromium
from training_impact.reporting.browser import NO_NETWORK, dump_dom, screenshot
from training_impact.reporting.png import Image, colour_share, read_png

# Bootstrap 4's .alert-secondary background: GX draws every section header of a page in it.
ALERT_GREY = (226, 227, 229)


def _site(paths) -> Path:
    return paths.gx / "uncommitted" / "data_docs" / "local_site"


def _stored_results(paths) -> list[dict]:
    """Every validation result in the run's GX store, with the page GX renders it on."""
    store = paths.gx / "uncommitted" / "validations"
    out = []
    for path in sorted(store.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out.append({
            "suite": doc["suite_name"],
            "file": doc["meta"]["source_file"],
            "run": doc["meta"]["run_id"]["run_name"],
            "success": bool(doc["success"]),
            "rows": doc["meta"]["rows"],
            "evaluated": doc["statistics"]["evaluated_expectations"],
            "page": (_site(paths) / "validations" / path.relative_to(store)).with_suffix(".html"),
        })
    return out


class _TableRows(HTMLParser):
    """Each <tr> of a page: the text of its cells and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self._row: dict | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = {"cells": [], "links": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._row is not None and dict(attrs).get("href"):
            self._row["links"].append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table_rows(dom: str) -> list[dict]:
    parser = _TableRows()
    parser.feed(dom)
    return parser.rows


def _runs(image: Image, hit, min_pixels: int = 6) -> int:
    """Vertical runs of pixel rows holding at least ``min_pixels`` pixels that ``hit``: one per badge
    when badges sit in different table rows."""
    runs, inside = 0, False
    for row in image.rows:
        count = 0
        for x in range(0, len(row), 3):
            if hit(row[x], row[x + 1], row[x + 2]):
                count += 1
                if count >= min_pixels:
                    break
        found = count >= min_pixels
        runs += found and not inside
        inside = found
    return runs


def _green(r, g, b) -> bool:
    return g > 100 and g - r > 60 and g - b > 40


def _red(r, g, b) -> bool:
    # not the orange of GX's logo (255, 98, 16)
    return r > 150 and g < 90 and b < 90 and r - g > 100


def _offline_dom(page: Path) -> str:
    return dump_dom(page, flags=NO_NETWORK)


def test_the_offline_browser_has_no_network(tmp_path):
    """The flags the tests below use really cut the network: an image from the web does not load."""
    require_chromium()
    probe = tmp_path / "probe.html"
    probe.write_text('<html><head><title>loading</title></head><body>'
                     '<img src="https://example.com/favicon.ico" onload="document.title=\'online\'"'
                     ' onerror="document.title=\'offline\'"></body></html>', encoding="utf-8")
    assert "<title>offline</title>" in _offline_dom(probe)


def test_data_docs_index_lists_every_result_offline(pipeline_run, tmp_path):
    require_chromium()
    paths, outcome = pipeline_run
    index = _site(paths) / "index.html"
    results = _stored_results(paths)
    assert results and any(r["run"] == outcome.run_id for r in results)

    rows = _table_rows(_offline_dom(index))
    missing = []
    for r in results:
        matches = [row for row in rows
                   if r["suite"] in row["cells"] and any(r["file"] in c for c in row["cells"])
                   and any(r["run"] in c for c in row["cells"])]
        if len(matches) != 1:
            missing.append((r["suite"], r["file"], len(matches)))
            continue
        row = matches[0]
        text = " ".join(row["cells"]).lower()
        assert ("passed" if r["success"] else "failed") in text, (r, row)
        assert ("failed" if r["success"] else "passed") not in text, (r, row)
        assert str(r["rows"]) in row["cells"] and str(r["evaluated"]) in text, (r, row)
        pages = [(index.parent / unquote(href)).resolve() for href in row["links"]]
        assert r["page"].resolve() in pages and r["page"].is_file(), (r, row)
    assert not missing, f"{len(missing)} of {len(results)} results not listed in the offline index: {missing[:5]}"

    png = screenshot(index, tmp_path / "data_docs_index.png", width=1280, flags=NO_NETWORK)
    image = read_png(png)
    assert colour_share(image, (255, 255, 255), tolerance=16) < 0.97, "the index screenshot is blank"
    # one green or red status badge drawn per result
    passed = sum(r["success"] for r in results)
    assert (_runs(image, _green), _runs(image, _red)) == (passed, len(results) - passed)


def test_data_docs_pages_load_nothing_from_the_network(pipeline_run):
    """Every page of the site: no stylesheet, script, image or frame from another host."""
    paths, _ = pipeline_run
    pages = sorted(_site(paths).rglob("*.html"))
    assert len(pages) > 2
    remote = re.compile(r"<(?:link|script|img|iframe|source|embed|object)\b[^>]*?\b(?:href|src|data)\s*=\s*"
                        r"[\"']?\s*(?:https?:)?//", re.I)
    imports = re.compile(r"@import|url\(\s*[\"']?\s*(?:https?:)?//", re.I)
    offenders = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        found = remote.search(text) or imports.search(text)
        if found:
            offenders[str(page.relative_to(_site(paths)))] = found.group(0)
    assert not offenders, f"{len(offenders)} of {len(pages)} pages load from the network: {list(offenders.items())[:3]}"


def test_a_validation_page_is_styled_offline(pipeline_run, tmp_path):
    """A failed result's page, drawn offline: section headers on GX's grey bands, failures marked in red."""
    require_chromium()
    paths, _ = pipeline_run
    results = _stored_results(paths)
    failed = [r for r in results if not r["success"]]
    result = (failed or results)[0]
    image = read_png(screenshot(result["page"], tmp_path / "validation_page.png", width=1280, flags=NO_NETWORK))
    assert colour_share(image, ALERT_GREY, tolerance=4) > 0.01, "section headers are not drawn (no stylesheet?)"
    if failed:
        assert _runs(image, _red, min_pixels=4) > 0, "the failed expectations carry no red mark"
    assert _runs(image, _green, min_pixels=4) > 0, "the passed expectations carry no green mark"
