"""Loads ``policy.yml`` (kept free of GX imports so the gate loads fast)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

POLICY_PATH = Path(__file__).resolve().parent / "policy.yml"


@functools.cache
def load_policy(path: Path = POLICY_PATH) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())
