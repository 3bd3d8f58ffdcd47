"""Wait for the DuckDB warehouse instead of failing when another process holds it.

DuckDB allows one read-write process per file (or many read-only ones). Runs never
overlap (run queue of one, pool ``duckdb_warehouse``), so a conflict comes from
outside: a BI tool or a notebook opened the live warehouse (docs/serving.md forbids
it, but it happens), or a hand-run ``dbt``. The dbt step, publishing and the report
wait here until the file opens, up to ``TI_WAREHOUSE_LOCK_TIMEOUT`` seconds (default
900), then fail with the holder's message, which names the process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import duckdb

from training_impact.settings import Settings


def is_lock_conflict(error: BaseException) -> bool:
    text = str(error).lower()
    return "could not set lock" in text or "conflicting lock" in text


def wait_for_warehouse(path: Path | str, *, read_only: bool = False, timeout: float | None = None,
                       interval: float = 2.0, log: Callable[[str], None] | None = None) -> float:
    """Block until `path` opens (read-write unless `read_only`); returns the seconds waited.

    A missing file is not waited for (dbt creates it; readers report it themselves).
    """
    path = Path(path)
    if not path.exists():
        return 0.0
    limit = Settings.from_environment().warehouse_lock_timeout if timeout is None else timeout
    started = time.monotonic()
    warned = False
    while True:
        try:
            duckdb.connect(str(path), read_only=read_only).close()
            return time.monotonic() - started
        except duckdb.IOException as error:
            waited = time.monotonic() - started
            if not is_lock_conflict(error) or waited >= limit:
                raise
            if log is not None and not warned:
                log(f"the warehouse {path} is held by another process; waiting up to {limit:.0f}s: {error}")
                warned = True
            time.sleep(min(interval, max(limit - waited, 0.05)))
