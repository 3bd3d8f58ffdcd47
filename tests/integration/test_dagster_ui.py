"""The Dagster UI after a real run, as a person opening it sees it (issue 17: "the Dagster UI reads like a product").

A real ``dagster-webserver`` serves the instance and the definitions of the shared pipeline run, the way
`training-impact dev` serves a data root (its Dagster home, the code location's module); headless Chromium
loads the partitions page of a partitioned bronze asset, saves a screenshot and dumps the DOM. Done when no
"Join the Dagster community" dialog covers the page and the delivery days the run loaded read as materialised.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from html import unescape
from pathlib import Path

from report_support import require_chromium
from repo_paths import REPO_ROOT

ASSET = ("bronze", "xapi_statements")  # an event entity: one partition per delivery day (D56)
MODULE = "training_impact.orchestration.definitions"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(url: str, query: str, timeout: float = 30) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


PARTITION_STATS = """{ assetNodes(assetKeys: [{path: %s}]) {
    partitionStats { numMaterialized numPartitions numFailed } } }""" % json.dumps(list(ASSET))


def _partition_stats(url: str) -> dict | None:
    nodes = _graphql(url, PARTITION_STATS)["data"]["assetNodes"]
    return nodes[0]["partitionStats"] if nodes else None


def _home_of(paths, run_id: str) -> Path:
    """The Dagster home the run was recorded in: its data root's, or $DAGSTER_HOME when an earlier run of
    this test process set it (training_impact.pipeline.prepare_dagster_home)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    for home in dict.fromkeys([os.environ.get("DAGSTER_HOME"), str(paths.dagster_home)]):
        if home and (Path(home) / "dagster.yaml").exists():
            with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
                if instance.has_run(run_id):
                    return Path(home)
    raise AssertionError(f"no Dagster home holds run {run_id}")


@contextmanager
def _webserver(home: Path, data_root: Path, log: Path, timeout: float = 300):
    """dagster-webserver on a free loopback port, serving `home` and the code location; stopped after."""
    from training_impact.settings import subprocess_environment

    port = _free_port()
    env = subprocess_environment(DAGSTER_HOME=str(home), TI_DATA_DIR=str(data_root), TI_ENV="development")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        server = subprocess.Popen([str(Path(sys.executable).with_name("dagster-webserver")), "-m", MODULE,
                                   "-h", "127.0.0.1", "-p", str(port)],
                                  cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # its code server too: stopped as one group
    try:
        deadline = time.monotonic() + timeout
        while True:  # up once the code location has loaded and serves the asset
            assert server.poll() is None, f"dagster-webserver exited {server.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if _partition_stats(url) is not None:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the UI did not serve {ASSET} in {timeout} s:\n" \
                                                f"{log.read_text()[-3000:]}"
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def _chromium(args: list[str], timeout: float = 120) -> str:
    """Headless Chromium with the report's flags (reporting/browser.py), a throw-away profile, and no host name
    resolving but 127.0.0.1, where the UI is: nothing else may be reached."""
    from training_impact.reporting.browser import FLAGS, find_chromium
    from training_impact.settings import subprocess_environment

    with tempfile.TemporaryDirectory(prefix="ti-ui-chromium-") as profile:
        done = subprocess.run([find_chromium(), *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
                               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=subprocess_environment(HOME=profile))
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _text(dom: str) -> str:
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def _rendered_dom(page: str, ready: str, attempts: int = 4) -> str:
    """The DOM once the React app has fetched and drawn `ready` (a regex of the page's text)."""
    dom = ""
    for attempt in range(attempts):
        # virtual time runs on while the page waits for GraphQL; a slow code server gets a longer budget
        dom = _chromium([f"--virtual-time-budget={15000 * (attempt + 1)}", "--dump-dom", page])
        if re.search(ready, _text(dom)):
            return dom
    raise AssertionError(f"the page never showed {ready!r}:\n{_text(dom)[:3000]}")


def _distinct_colours(png: Path) -> int:
    from training_impact.reporting.png import read_png

    image = read_png(png)
    return len({image.pixel(x, y) for y in range(0, image.height, 7) for x in range(0, image.width, 7)})


def test_the_ui_shows_no_pop_up_and_the_loaded_delivery_days_as_materialised(pipeline_run, tmp_path):
    require_chromium()
    from training_impact.ingestion.delivery import delivery_day

    paths, outcome = pipeline_run
    # the delivery days the run loaded xAPI statements of (a monthly file: its month's first day)
    loaded = {delivery_day(p.relative_to(paths.landing).as_posix()) for p in (paths.landing / "lms").rglob("*")
              if p.is_file() and "statements" in p.name}
    loaded.discard(None)
    assert loaded, "the generated company has no dated xAPI files"
    home = _home_of(paths, outcome.run_id)
    with _webserver(home, paths.root, tmp_path / "webserver.log") as url:
        assert _graphql(url, "{ shouldShowNux }")["data"]["shouldShowNux"] is False
        stats = _partition_stats(url)
        page = f"{url}/assets/{'/'.join(ASSET)}?view=partitions"
        dom = _rendered_dom(page, r"Materialized \(\d")
        png = tmp_path / "dagster_ui_partitions.png"
        _chromium([f"--virtual-time-budget={15000}", f"--screenshot={png}", page])
    (tmp_path / "dagster_ui_partitions.html").write_text(dom, encoding="utf-8")
    text = _text(dom)

    # no "Join the Dagster community" pop-up (the instance's `nux: enabled: false`, training_impact/pipeline.py)
    assert "community" not in text.lower(), text[:2000]
    assert 'role="dialog"' not in dom and "bp5-overlay-open" not in dom

    # every delivery day the run loaded is a materialised partition, and the page says so
    assert stats["numMaterialized"] >= len(loaded) > 0, (stats, sorted(loaded))
    assert stats["numFailed"] == 0
    shown = re.search(r"Materialized \(([\d,]+)\)", text)
    assert shown and int(shown.group(1).replace(",", "")) == stats["numMaterialized"], text[:2000]
    assert f"Missing ({stats['numPartitions'] - stats['numMaterialized']:,})".replace(",", "") in \
        text.replace(",", ""), text[:2000]

    # the screenshot is the page, not a blank window
    from training_impact.reporting.png import png_size

    assert png.exists() and png_size(png) == (1400, 1000)
    assert _distinct_colours(png) > 8, f"{png} looks blank"
