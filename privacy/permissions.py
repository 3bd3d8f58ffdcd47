"""Owner-only files for what holds direct identifiers or keys (SECURITY.md).

The raw zone (landing, bronze with its quarantine, rejected), the warehouse and
the GX results hold raw records or their traces; secrets are secrets. The process
umask makes every file created later owner-only as well; ``restrict`` also tightens
folders and files that already exist (an older data root, a copied landing zone).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set the owner-only umask for this process; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def restrict(folders: Iterable[Path], recursive: bool = True) -> None:
    """chmod 0700 on each folder (and its sub-folders) and 0600 on its files."""
    for folder in folders:
        folder = Path(folder)
        if not folder.exists():
            continue
        _chmod(folder, 0o700)
        if not recursive:
            continue
        for root, dirs, files in os.walk(folder):
            for name in dirs:
                _chmod(Path(root) / name, 0o700)
            for name in files:
                _chmod(Path(root) / name, 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.is_symlink() or (path.stat().st_mode & 0o777) == mode:
            return
        path.chmod(mode)
    except OSError:
        pass    # not ours (a shared mount): the umask still covers what we write
