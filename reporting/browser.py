"""Render the report in headless Chromium: screenshots and the "every chart is drawn" check.

Chromium runs with networking features off and a throw-away profile, so a render
makes no outbound call. The executable is ``$TI_CHROMIUM`` or the first of
chromium / chromium-browser / google-chrome on PATH (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from training_impact.settings import Settings, subprocess_environment

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-default-browser-check",
    "--force-device-scale-factor=1",
]
CHECK_ID = "ti-render-check"
# No network at all (a test's "offline" browser): every http(s) request goes to a proxy that is not
# there (port 9, discard), loopback included, and no host name resolves. file:// pages still load.
NO_NETWORK = (
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

# Appended to a *copy* of the page (the report itself carries no script): after layout,
# measure every declared chart and write the result into the DOM for --dump-dom to return.
CHECK_SCRIPT = """
<script>
(function () {
  var out = {charts: {}, height: 0};
  var svgs = document.querySelectorAll('svg[data-chart-id]');
  for (var i = 0; i < svgs.length; i++) {
    var s = svgs[i], box = s.getBoundingClientRect();
    var marks = s.querySelectorAll('.mark'), drawn = 0;
    for (var j = 0; j < marks.length; j++) {
      var b = marks[j].getBBox();
      if (b.width > 0 || b.height > 0) { drawn++; }
    }
    out.charts[s.getAttribute('data-chart-id')] = {width: box.width, height: box.height, marks: marks.length,
                                                   drawn: drawn};
  }
  out.height = Math.ceil(document.documentElement.scrollHeight);
  var pre = document.createElement('pre');
  pre.id = '%s';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
""" % CHECK_ID


class ChromiumNotFound(RuntimeError):
    pass


def find_chromium() -> str:
    explicit = Settings.from_environment().chromium
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise ChromiumNotFound(f"TI_CHROMIUM={explicit} is not an executable")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumNotFound("no Chromium found: apt-get install -y chromium (scripts/install_system_deps.sh), "
                           "or set TI_CHROMIUM to the browser executable")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="ti-chromium-") as profile:
        command = [find_chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env=subprocess_environment(HOME=profile))
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def dump_dom(html_path: Path, timeout: float = 60, flags: tuple[str, ...] = ()) -> str:
    """The DOM after load (scripts run), as serialised HTML. ``flags``: more Chromium flags (NO_NETWORK)."""
    return _run([*flags, "--virtual-time-budget=2000", "--dump-dom", Path(html_path).resolve().as_uri()],
                timeout).stdout


@dataclass
class RenderCheck:
    charts: dict[str, dict]
    height: int

    def drawn(self) -> set[str]:
        """Chart ids whose SVG has a non-empty box and at least one visible mark."""
        return {cid for cid, c in self.charts.items() if c["width"] > 0 and c["height"] > 0 and c["drawn"] > 0}


def check_render(html_path: Path, width: int = 1200, timeout: float = 60,
                 flags: tuple[str, ...] = ()) -> RenderCheck:
    """Load a copy of the page with the measuring script appended and read its verdict."""
    html = Path(html_path).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="ti-render-") as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(html.replace("</body>", CHECK_SCRIPT + "</body>", 1), encoding="utf-8")
        dom = _run([*flags, f"--window-size={width},900", "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()],
                   timeout).stdout
    match = re.search(rf"<pre id=\"{CHECK_ID}\">(.*?)</pre>", dom, re.S)
    if not match:
        raise RuntimeError("the render check found no result in the DOM (did the page load?)")
    result = json.loads(unescape(match.group(1)))
    return RenderCheck(charts=result["charts"], height=int(result["height"]))


def screenshot(html_path: Path, png_path: Path, width: int = 1200, height: int | None = None,
               timeout: float = 90, flags: tuple[str, ...] = ()) -> Path:
    """A full-page PNG: the page height is measured first, then the window is sized to it."""
    if height is None:
        height = min(max(check_render(html_path, width=width, timeout=timeout, flags=flags).height, 600), 30000)
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    if png_path.exists():
        png_path.unlink()
    _run([*flags, f"--window-size={width},{height}", "--virtual-time-budget=2000", f"--screenshot={png_path}",
          Path(html_path).resolve().as_uri()], timeout)
    if not png_path.exists():
        raise RuntimeError(f"chromium wrote no screenshot at {png_path}")
    return png_path
