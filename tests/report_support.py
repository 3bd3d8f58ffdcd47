"""Test support for the KPI report, used by tests/unit/test_report.py and tests/integration/test_report_run.py."""

from __future__ import annotations

import os

import pytest

from training_impact.reporting.browser import ChromiumNotFound, find_chromium


def require_chromium() -> None:
    try:
        find_chromium()
    except ChromiumNotFound as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error} (CI must run scripts/install_system_deps.sh)")
        pytest.skip(str(error))
