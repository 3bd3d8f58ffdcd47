"""`make demo`'s console (issue 17): at most 80 lines, no traceback, no warning from a library.

The demo runs as `make demo` runs it (its own process, the Makefile's vendor formats, stdout and
stderr together, not a terminal), on a tiny company: what it prints does not grow with the company
(DECISIONS D117, D131). Column lineage is not built here (minutes; its console is
tests/unit/test_console.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from repo_paths import REPO_ROOT

CLI = str(Path(sys.executable).with_name("training-impact"))
MAX_LINES = 80


def _make_formats() -> str:
    found = re.search(r"^FORMATS \?= (\S+)$", (Path(REPO_ROOT) / "Makefile").read_text(encoding="utf-8"), re.M)
    assert found, "FORMATS ?= ... not in the Makefile"
    return found[1]


def test_the_demo_prints_at_most_80_lines_without_tracebacks_or_warnings(tmp_path):
    root = tmp_path / "demo"
    env = {**os.environ, "TI_ENV": "development", "TI_DATA_DIR": str(root),
           "DAGSTER_HOME": str(root / "dagster_home"), "TI_DBT_COLUMN_METADATA": "0"}
    env.pop("PYTHONWARNINGS", None)  # the user's default warning filters
    done = subprocess.run([CLI, "demo", "--employees", "60", "--years", "2", "--seed", "7", "--data", str(root),
                           "--formats", _make_formats()],
                          env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1800)
    printed = done.stdout
    assert done.returncode == 0, printed[-6000:]
    lines = printed.splitlines()
    assert len(lines) <= MAX_LINES, f"the demo printed {len(lines)} lines:\n{printed}"
    for noise in ("Traceback", "Stack Trace"):
        assert noise not in printed, printed
    warnings = [line for line in lines if re.search(r"\w*Warning\b", line)]  # DeprecationWarning, UserWarning, ...
    assert not warnings, "\n".join(warnings)
    # what it does print: the steps, the run summary, the headline KPIs and where everything is
    assert f"{'training_impact_dbt':<24} done in" in printed and "succeeded in" in printed
    assert "Headline KPIs by program type" in printed and "every KPI by program type: training-impact summary" in printed
    assert f"GX Data Docs:       {root}" in printed
