"""The one place that imports Great Expectations.

GX reads GX_ANALYTICS_ENABLED when a context is created; forcing it off here,
before the import, keeps every context this package makes offline, whatever
the caller's environment says.
"""

from __future__ import annotations

import os
import warnings

os.environ["GX_ANALYTICS_ENABLED"] = "false"

# GX deprecation chatter (string row conditions, pydantic v1 shims) would land
# in every Dagster run log; our own code uses the non-deprecated APIs.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"great_expectations(\.|$)")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

__all__ = ["gx", "gxe"]
