"""Column schema and column-level lineage of the dbt models: built once per dbt code version, stored.

dagster-dbt's ``fetch_column_metadata()`` parses every model's compiled SQL with sqlglot and asks
DuckDB for every model's and parent's columns: about 220 s of a 20,000-employee run's 315 s on
2 cores, and as much at any size, because the answer depends on the dbt code only (DECISIONS D118).
So it runs when the code changes, at deploy / build time (`training-impact prepare
--column-metadata`, or any run with ``TI_DBT_COLUMN_METADATA=1``, e.g. ``make demo``), and is
stored beside the dbt manifest, keyed by the manifest's hash. Every other run (the nightly)
attaches the stored metadata to its events, which costs milliseconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

# the metadata dagster-dbt's fetch_column_metadata() attaches
KEYS = ("dagster/column_schema", "dagster/column_lineage")


def cache_path(manifest_path: Path) -> Path:
    """The store: beside the manifest it was built from (the project's build output, not a data root)."""
    return Path(manifest_path).with_name("column_metadata.json")


def code_version(manifest_path: Path) -> str:
    from training_impact.audit.ledger import dbt_manifest_hash

    return dbt_manifest_hash(manifest_path)


def load(manifest_path: Path) -> dict[str, dict[str, Any]] | None:
    """unique_id -> metadata of the models, when the store was built from this dbt code; else None."""
    path = cache_path(manifest_path)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if stored.get("code") != code_version(manifest_path):
        return None
    return {unique_id: {key: dg.deserialize_value(text) for key, text in entry.items()}
            for unique_id, entry in stored["models"].items()}


def _unique_id(event: Any) -> str | None:
    value = getattr(event, "metadata", {}).get("unique_id")
    return getattr(value, "text", None)


def store(manifest_path: Path, events: Iterable[Any]) -> int:
    """Keep the column metadata the events carry, for this dbt code; returns the models stored.

    Written to a temporary file and renamed, so a reader never sees half a store.
    """
    models: dict[str, dict[str, str]] = {}
    for event in events:
        unique_id = _unique_id(event)
        found = {key: dg.serialize_value(event.metadata[key]) for key in KEYS if key in event.metadata}
        if unique_id and found:
            models.setdefault(unique_id, {}).update(found)
    path = cache_path(manifest_path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({"code": code_version(manifest_path), "models": models}, sort_keys=True),
                       encoding="utf-8")
    os.replace(partial, path)
    return len(models)


def attach(events: Iterable[Any], stored: Mapping[str, Mapping[str, Any]]) -> Iterator[Any]:
    """The events, each model's with its stored column schema and lineage."""
    for event in events:
        unique_id = _unique_id(event)
        found = stored.get(unique_id) if unique_id else None
        if found and isinstance(event, (dg.Output, dg.AssetMaterialization)):
            event = event.with_metadata({**event.metadata, **found})
        yield event
