"""Where the audit trail lives and how it is written: append-only, owner-only files.

``<data root>/audit/`` survives warehouse rebuilds (dbt never touches it) and is
never rewritten: every run adds its own files, named by run id, and a file that
exists is never replaced.

```
audit/
  ledger/runs/<run_id>.parquet          one row: start, end, status, code version, hashes
  ledger/inputs/<run_id>.parquet        every input file the run's staging read: sha256, rows
  ledger/checks/<run_id>.parquet        every asset check of the run with its result
  ledger/fingerprints/<run_id>.parquet  HR history content per entity and month (restatements)
  history/<run_id>/<mart>.parquet       the KPI tables as the run published them
  members/<run_id>/members.parquet      who counts in each KPI cell (pseudonymous)
  members/<run_id>/records.parquet      those people's source rows: file, row, sha256
  lineage/<run_id>.json                 the dbt model graph and code checksums of the run
  inputs/<sha256[:2]>/<sha256>          one copy of every input file's bytes (reproduction)
  openlineage.ndjson                    OpenLineage events, one a line
```
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from training_impact.settings import Paths

AUDIT_DIR_NAME = "audit"
TABLES = ("runs", "inputs", "checks", "fingerprints")


class AlreadyRecorded(FileExistsError):
    """A run's audit file exists already: the trail is append-only."""


def audit_dir(paths: Paths) -> Path:
    return paths.root / AUDIT_DIR_NAME


def ensure_dir(path: Path) -> Path:
    """Create ``path`` readable by the owner only, and so every folder made on the way."""
    missing = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o700)
    return path


def ledger_file(paths: Paths, table: str, run_id: str) -> Path:
    return audit_dir(paths) / "ledger" / table / f"{run_id}.parquet"


def history_dir(paths: Paths, run_id: str) -> Path:
    return audit_dir(paths) / "history" / run_id


def members_dir(paths: Paths, run_id: str) -> Path:
    return audit_dir(paths) / "members" / run_id


def lineage_file(paths: Paths, run_id: str) -> Path:
    return audit_dir(paths) / "lineage" / f"{run_id}.json"


def openlineage_file(paths: Paths) -> Path:
    return audit_dir(paths) / "openlineage.ndjson"


def input_copy(paths: Paths, sha256: str) -> Path:
    return audit_dir(paths) / "inputs" / sha256[:2] / sha256


def _claim(target: Path, tmp: Path) -> None:
    """Move ``tmp`` to ``target`` unless ``target`` exists (link + unlink: no silent overwrite)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise AlreadyRecorded(f"{target} exists: audit files are never rewritten") from None
    finally:
        tmp.unlink(missing_ok=True)
    os.chmod(target, 0o600)


def write_new(target: Path, write) -> Path:
    """Write a new file through ``write(tmp_path)``; refuse to replace an existing one."""
    ensure_dir(target.parent)
    if target.exists():
        raise AlreadyRecorded(f"{target} exists: audit files are never rewritten")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    write(tmp)
    _claim(target, tmp)
    return target


def write_json(target: Path, data) -> Path:
    return write_new(target, lambda tmp: tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str),
                                                       encoding="utf-8"))


def keep_input_copy(paths: Paths, source: Path, sha256: str) -> Path:
    """Store the bytes of an input file once under its sha256 (later runs may overwrite landing)."""
    target = input_copy(paths, sha256)
    if not target.exists():
        ensure_dir(target.parent)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        _claim(target, tmp)
    return target


def append_lines(target: Path, lines: list[str]) -> None:
    """Append whole lines with one write each (O_APPEND: concurrent writers never interleave a line)."""
    ensure_dir(target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for line in lines:
            os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def recorded_runs(paths: Paths) -> list[str]:
    folder = audit_dir(paths) / "ledger" / "runs"
    return sorted(path.stem for path in folder.glob("*.parquet")) if folder.exists() else []
