"""The one place that imports Great Expectations.

Every context this package makes is configured with analytics off
(expectations/contexts.py); GX 1.24 sends nothing else, so importing this
module leaves the environment alone (D106).
"""

from __future__ import annotations

import warnings

# GX deprecation chatter (string row conditions, pydantic v1 shims) would land
# in every Dagster run log; our own code uses the non-deprecated APIs.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"great_expectations(\.|$)")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

__all__ = ["gx", "gxe"]
