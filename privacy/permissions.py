"""Owner-only files for what holds direct identifiers or keys (SECURITY.md).

The raw zone (landing, bronze with its quarantine, rejected), the warehouse and
the GX results hold raw records or their traces; secrets are secrets. The process
umask makes every file created later owner-only as well; ``restrict`` also tightens
folders and files that already exist (an older data root, a copied landing zone).
"""

from __future__ import annotations

import os

# Lives with the settings, which tighten the raw zone before a run (Paths.ensure) and may
# import nothing from this package (tests/unit/test_layers.py); re-exported here.
from training_impact.files import restrict

__all__ = ["PRIVATE_UMASK", "private_umask", "restrict"]

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set the owner-only umask for this process; returns the previous one."""
    return os.umask(PRIVATE_UMASK)
