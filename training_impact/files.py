"""Owner-only permissions on folders and files that already exist (SECURITY.md, DECISIONS D42).

Settings level: ``Paths.ensure`` (training_impact/settings.py) tightens the raw zone with
``restrict`` before a run writes anything; ``privacy.permissions`` re-exports it beside the
process umask, so the settings never import from the privacy package above them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


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
