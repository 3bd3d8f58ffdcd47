"""Where the repository and the shared public fixtures are, for tests in any folder.

Test modules import these from here, not from `conftest`: with more than one conftest.py
(tests/ and tests/faults/), `import conftest` gets whichever was collected last.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_fixtures_dir() -> Path:
    """shared/fixtures sits beside the repository (CI lays it there); TI_SHARED_DIR overrides."""
    env = os.environ.get("TI_SHARED_DIR")
    base = Path(env) if env else REPO_ROOT.parent / "shared"
    return base / "fixtures"
