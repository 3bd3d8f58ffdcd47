"""Free disk space: checked before heavy steps, and a clear error when a write runs out of it.

Standard library only, so every layer may import it (ingestion, expectations, orchestration,
publishing, the CLI); it sits beside ``settings``, the bottom of the one-way import order.

    ensure_free_space(path, needed_bytes, what)     # before a step: DiskSpaceError when too little is free
    with no_space_is_clear(path, what, needed):     # around writes: OSError(ENOSPC) -> DiskSpaceError
        ...

A full disk otherwise surfaces far from its cause (``sqlite3.OperationalError: disk I/O
error`` from Dagster's storage, an Arrow ``IOError`` with no path). ``DiskSpaceError``
names the path, the space the step needs and the space free:
``no space left on device writing data/bronze/x.parquet: need ~12 MB, 0 MB free``.

``TI_MIN_FREE_MB`` (default 64) is kept free on top of every estimate: the run's own
logs, Dagster's storage and DuckDB's temporary files need room too (docs/deployment.md).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIN_FREE_ENV = "TI_MIN_FREE_MB"
MB = 1 << 20
NO_SPACE_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e is not None)
# Libraries that wrap the OS error (Arrow, SQLite, DuckDB) keep only its text.
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded", "errno 28", "database or disk is full")


class DiskSpaceError(RuntimeError):
    """Too little free space for a step, or a write that hit ENOSPC. Deliberately not an OSError:
    nothing that handles unreadable source files may mistake it for a bad input."""

    def __init__(self, message: str, *, path: Path | str, needed_bytes: int, free_bytes: int | None, what: str):
        super().__init__(message)
        self.path = str(path)
        self.needed_bytes = int(needed_bytes)
        self.free_bytes = free_bytes
        self.what = what


def reserve_bytes() -> int:
    """Bytes kept free on top of every estimate (``TI_MIN_FREE_MB``, default 64; the settings layer)."""
    from training_impact.settings import Settings

    return max(0, int(Settings.from_environment().min_free_mb * MB))


def _existing(path: Path | str) -> Path:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: Path | str) -> int:
    """Free bytes (for an unprivileged writer) on the filesystem that holds ``path`` or its nearest existing parent."""
    return shutil.disk_usage(_existing(path)).free


def _mb(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / MB:.1f}" if 0 < n < 10 * MB else f"{round(n / MB):,}"


def ensure_free_space(path: Path | str, needed_bytes: int, what: str, *, reserve: int | None = None) -> int:
    """Raise DiskSpaceError unless ``needed_bytes`` + the reserve are free where ``path`` lives; return the free bytes.

    ``what`` says which step needs the space ("the dbt build", "loading hris/workers.csv").
    """
    reserve = reserve_bytes() if reserve is None else max(0, int(reserve))
    needed = max(0, int(needed_bytes))
    free = free_bytes(path)
    if free < needed + reserve:
        raise DiskSpaceError(
            f"not enough free disk space for {what}: need ~{_mb(needed + reserve)} MB in {path}"
            f" ({_mb(needed)} MB estimated + {_mb(reserve)} MB kept free, {MIN_FREE_ENV}),"
            f" {_mb(free)} MB free",
            path=path, needed_bytes=needed + reserve, free_bytes=free, what=what)
    return free


def is_no_space(exc: BaseException) -> bool:
    """Is this the OS saying the disk (or the quota) is full, even wrapped by a library?"""
    if isinstance(exc, DiskSpaceError):
        return True
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(t in text for t in _NO_SPACE_TEXT)


def no_space_error(exc: BaseException, path: Path | str, what: str, needed_bytes: int = 0) -> DiskSpaceError:
    """The DiskSpaceError that explains ``exc`` (an ENOSPC while writing ``path``)."""
    if isinstance(exc, DiskSpaceError):
        return exc
    try:
        free = free_bytes(path)
    except OSError:
        free = None
    needed = max(int(needed_bytes), MB)
    err = DiskSpaceError(
        f"no space left on device writing {path}: need ~{_mb(needed)} MB, {_mb(free)} MB free ({what})",
        path=path, needed_bytes=needed, free_bytes=free, what=what)
    err.__cause__ = exc
    return err


def full_disk_error(exc: BaseException, path: Path | str, what: str) -> DiskSpaceError | None:
    """The DiskSpaceError behind ``exc`` when the disk under ``path`` is full, else None.

    SQLite (Dagster's run storage) reports a write that hit a full disk as a bare
    "disk I/O error"; that text counts as a full disk only when ``path`` really has less
    free space than the reserve, so a genuine I/O fault is not misnamed.
    """
    if is_no_space(exc):
        return no_space_error(exc, path, what)
    if "disk i/o error" in str(exc).lower():
        try:
            low = free_bytes(path) < reserve_bytes() + 16 * MB
        except OSError:
            low = False
        if low:
            return no_space_error(exc, path, what)
    return None


@contextmanager
def no_space_is_clear(path: Path | str, what: str, needed_bytes: int = 0) -> Iterator[None]:
    """Turn an ENOSPC (or EDQUOT) raised inside the block into a DiskSpaceError naming ``path``."""
    try:
        yield
    except DiskSpaceError:
        raise
    except Exception as exc:
        if is_no_space(exc):
            raise no_space_error(exc, getattr(exc, "filename", None) or path, what, needed_bytes) from exc
        raise


def size_of(*paths: Path | str) -> int:
    """Bytes of the files (directories: every file below them, symlinks not followed); missing paths count 0."""
    total = 0
    for path in paths:
        p = Path(path)
        try:
            if p.is_symlink():
                continue
            if p.is_file():
                total += p.stat().st_size
            elif p.is_dir():
                for root, _dirs, files in os.walk(p):
                    for name in files:
                        try:
                            st = os.lstat(os.path.join(root, name))
                        except OSError:
                            continue
                        total += st.st_size
        except OSError:
            continue
    return total


__all__ = [
    "DiskSpaceError", "MIN_FREE_ENV", "ensure_free_space", "free_bytes", "is_no_space",
    "no_space_error", "no_space_is_clear", "reserve_bytes", "size_of",
]
