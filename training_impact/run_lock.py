"""One run per data root: ``<data root>/run.lock`` (DECISIONS D80).

The lock is an exclusive ``flock`` on the file, held for the whole run; the file's
content names the holder (pid, host, start time, run id when known, command). The
kernel drops the ``flock`` when the holding process dies, however it dies (``kill -9``
included), so a lock left by a dead process is taken over at once; the content it
left is reported as the stale owner that was recovered. The file itself is never
deleted (deleting a locked file lets two processes lock two different files).

API (used by ``training_impact.pipeline``, the run guard resource, the landing
sensor, the nightly schedule and the fault suite):

- ``acquire(root, run_id=None, timeout=None, purpose="run") -> RunLock``: waits up to
  ``timeout`` seconds (``None``: ``TI_RUN_LOCK_TIMEOUT``, default 60), then raises
  ``RunLockBusy`` naming the holder. Re-entrant within one process.
- ``RunLock.release()`` (or use it as a context manager), ``RunLock.set_run_id(id)``.
- ``holder(root) -> dict | None``: who holds it now (None when free).
- ``describe(info) -> str``: "pid 123 on host h since 2026-…Z (run …)".
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

LOCK_NAME = "run.lock"
POLL_SECONDS = 0.5


class RunLockBusy(RuntimeError):
    """Another live process holds the data root's run lock."""

    def __init__(self, root: Path, info: dict | None, waited: float):
        self.root, self.info, self.waited = Path(root), info or {}, waited
        super().__init__(f"another run holds {Path(root) / LOCK_NAME}: {describe(info)}; "
                         f"gave up after waiting {waited:.0f}s")


def lock_path(root: Path | str) -> Path:
    return Path(root) / LOCK_NAME


def default_timeout() -> float:
    """``TI_RUN_LOCK_TIMEOUT`` (default 60 s), from the settings layer."""
    from training_impact.settings import Settings

    return Settings.from_environment().run_lock_timeout


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux /proc), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True when ``pid`` runs on this host (not a zombie) and, if given, started at ``start_ticks``."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        return True
    if start_ticks is not None:
        ticks = process_start_ticks(pid)
        if ticks is not None and ticks != int(start_ticks):
            return False  # the pid was reused by another process
    return True


def owner_info(run_id: str | None = None, purpose: str = "run") -> dict:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": run_id, "purpose": purpose, "command": " ".join(sys.argv[:4])[:200],
            "start_ticks": process_start_ticks(pid), "token": uuid.uuid4().hex}


def describe(info: dict | None) -> str:
    if not info:
        return "an unknown process"
    text = f"pid {info.get('pid')} on host {info.get('host')} since {info.get('since')}"
    if info.get("run_id"):
        text += f" (run {info['run_id']})"
    if info.get("purpose") and info.get("purpose") != "run":
        text += f" [{info['purpose']}]"
    return text


def _read(path: Path) -> dict | None:
    for _ in range(5):  # a holder may be writing it right now
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            time.sleep(0.05)
    return None


# Locks this process holds, by data root: a run that the CLI started under the lock takes it again in its
# first step (the run guard resource) without deadlocking on its own flock.
_HELD: dict[str, "RunLock"] = {}
_HELD_MUTEX = threading.Lock()


class RunLock:
    def __init__(self, root: Path, fd: int, info: dict, recovered: dict | None):
        self.root, self._fd, self.info, self.recovered = Path(root), fd, info, recovered
        self._depth = 1

    @property
    def path(self) -> Path:
        return lock_path(self.root)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _write(self) -> None:
        data = json.dumps(self.info, sort_keys=True).encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data + b"\n", 0)
        os.fsync(self._fd)

    def set_run_id(self, run_id: str) -> None:
        if self._fd is not None and self.info.get("run_id") != run_id:
            self.info["run_id"] = run_id
            self._write()

    def release(self) -> None:
        with _HELD_MUTEX:
            if self._fd is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            _HELD.pop(str(self.root), None)
            fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # an empty file: nobody holds it
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def held_here(root: Path | str) -> RunLock | None:
    """The lock of ``root`` if this process holds it."""
    with _HELD_MUTEX:
        return _HELD.get(str(Path(root).resolve()))


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def acquire(root: Path | str, run_id: str | None = None, timeout: float | None = None, purpose: str = "run",
            log: Callable[[str], None] | None = None, interrupted: Callable[[], bool] | None = None) -> RunLock:
    """Take the run lock of ``root``; wait up to ``timeout`` seconds, then raise ``RunLockBusy``.

    ``log`` hears once that the lock is busy and whom it waits for, and about a stale owner
    that was recovered. ``interrupted()`` is polled while waiting (a SIGTERM Dagster captured).
    """
    root = Path(root).resolve()
    limit = default_timeout() if timeout is None else float(timeout)
    with _HELD_MUTEX:
        mine = _HELD.get(str(root))
        if mine is not None and mine.held:
            mine._depth += 1
            if run_id:
                mine.set_run_id(run_id)
            return mine
    root.mkdir(parents=True, exist_ok=True)
    path = lock_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    started = time.monotonic()
    told = False
    try:
        while not _try_lock(fd):
            waited = time.monotonic() - started
            if waited >= limit:
                raise RunLockBusy(root, _read(path), waited)
            if interrupted is not None and interrupted():
                raise KeyboardInterrupt(f"interrupted while waiting for {path}")
            if log is not None and not told:
                log(f"run lock {path} is held by {describe(_read(path))}: waiting up to {limit:.0f}s")
                told = True
            time.sleep(min(POLL_SECONDS, max(limit - waited, 0.01)))
    except BaseException:
        os.close(fd)
        raise
    # The flock is ours. Whatever the file still names is an owner that died without releasing it.
    stale = _read(path)
    if stale and stale.get("pid") == os.getpid() and stale.get("host") == socket.gethostname():
        stale = None  # this very process, which released it without clearing (cannot happen; be safe)
    lock = RunLock(root, fd, owner_info(run_id, purpose), stale)
    lock._write()
    with _HELD_MUTEX:
        _HELD[str(root)] = lock
    if stale and log is not None:
        log(f"recovered the stale run lock {path} of {describe(stale)}: that process is gone")
    return lock


def holder(root: Path | str) -> dict | None:
    """Who holds the run lock of ``root`` now, or None when it is free (or held by this process: see held_here)."""
    root = Path(root).resolve()
    path = lock_path(root)
    if not path.exists():
        return None
    mine = held_here(root)
    if mine is not None and mine.held:
        return dict(mine.info)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        if _try_lock(fd):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return _read(path) or {"pid": None, "host": None, "since": None}
    finally:
        os.close(fd)
