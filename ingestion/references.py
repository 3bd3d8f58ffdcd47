"""Reference checks: ids in a fact file must exist in the latest master snapshot.

Not a GX rule: the value sets (all worker ids) can hold millions of entries and
change every load, so a Python set lookup per batch is both faster and keeps
the versioned GX suites independent of the data.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from .store import Layout, read_manifest

# Reference set name -> (master entity, id column). Keys are the `references`
# dict keys of the public API.
REFERENCE_SOURCES: dict[str, tuple[str, str]] = {
    "worker_id": ("workers", "worker_id"),
    "program_id": ("programs", "program_id"),
}

# entity -> [(column checked, reference set)]. xAPI carries the learner as
# actor_id (account name, else mbox): it must be a worker id.
REFERENCE_CHECKS: dict[str, list[tuple[str, str]]] = {
    "enrollments": [("worker_id", "worker_id"), ("program_id", "program_id")],
    "credentials": [("worker_id", "worker_id"), ("program_id", "program_id")],
    "xapi_statements": [("actor_id", "worker_id")],
    "ratings": [("worker_id", "worker_id")],
    "productivity": [("worker_id", "worker_id")],
    "worker_attributes": [("worker_id", "worker_id")],
    "survey_responses": [("worker_id", "worker_id")],
}

# Named like the expectations vocabulary (`unknown_reference:<col>`), which the
# source gate (expectations/policy.yml, reference_rule_prefixes) counts.
REFERENCE_RULE_PREFIX = "unknown_reference"


def reference_rule(column: str) -> str:
    return f"{REFERENCE_RULE_PREFIX}:{column}"


def latest_loaded_bronze(data_root: Path | str, entity: str) -> Path | None:
    """Bronze file of the latest loaded file of `entity` (greatest started_at, then source_file).

    Same order as staging's snapshot rule (latest `_ingested_at`, then
    `_source_file`): `_ingested_at` of a file is its manifest `started_at`.
    """
    m = read_manifest(data_root)
    if m.num_rows == 0:
        return None
    m = m.filter(pc.and_(pc.equal(m["status"], "loaded"), pc.equal(m["entity"], entity)))
    if m.num_rows == 0:
        return None
    m = m.sort_by([("started_at", "descending"), ("source_file", "descending")])
    return Layout(data_root).root / m["bronze_file"][0].as_py()


def load_reference_ids(data_root: Path | str) -> dict[str, set[str]]:
    """{"worker_id": {...}, "program_id": {...}} from the latest loaded snapshots.

    A key is absent when its master entity has never been loaded: the check is
    then skipped (and the file report says so) rather than failing every row.
    """
    out: dict[str, set[str]] = {}
    for name, (entity, column) in REFERENCE_SOURCES.items():
        path = latest_loaded_bronze(data_root, entity)
        if path is None or not path.exists():
            continue
        ids = pq.read_table(path, columns=[column])[column]
        out[name] = set(pc.unique(ids.drop_null()).to_pylist())
    return out


class LazyReferenceIds(Mapping):
    """`load_reference_ids(data_root)`, read on first use: a run whose files are all duplicates, empty or
    rejected before their rows are read never reads a million worker ids."""

    def __init__(self, data_root: Path | str):
        self._root = data_root
        self._ids: dict[str, set[str]] | None = None

    def _loaded(self) -> dict[str, set[str]]:
        if self._ids is None:
            self._ids = load_reference_ids(self._root)
        return self._ids

    def __getitem__(self, key: str) -> set[str]:
        return self._loaded()[key]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def load_program_catalogue(data_root: Path | str):
    """program_id, score_min, score_max of the latest loaded programs snapshot (pandas), or None.

    The GX enrollment suite checks each score against its program's scale
    (0-1000 for some providers) and falls back to 0-100 without it.
    """
    path = latest_loaded_bronze(data_root, "programs")
    if path is None or not path.exists():
        return None
    return pq.read_table(path, columns=["program_id", "score_min", "score_max"]).to_pandas()
