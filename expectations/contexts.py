"""GX data contexts, created once per process.

Row validation uses an in-memory (ephemeral) context: nothing is written while
the ingestion validates thousands of batches, and creating a context is slow
enough (datasource, stores) that doing it per call would dominate small files.
Results meant to last go to the file-backed project under ``<data_root>/gx/``
(see ``results.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from training_impact.expectations._gx import gx
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

DATASOURCE = "training_impact_rows"
BATCH_DEFINITION = "whole_dataframe"

# GX is not documented as thread-safe; Dagster's in-process executor may run
# assets on threads, so context set-up and validation hold this lock.
LOCK = threading.RLock()

_ephemeral = None
_batch_definitions: dict[str, object] = {}
_file_contexts: dict[Path, object] = {}


def _quiet_config(**kwargs) -> DataContextConfig:
    return DataContextConfig(
        analytics_enabled=False,
        # tqdm bars would flood Dagster's captured stderr on every batch.
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        **kwargs,
    )


def _skip_dataframe_fingerprint() -> None:
    """GX hashes every in-memory DataFrame under 1 GB into a batch marker (`pandas_data_fingerprint`) before
    validating it: about 40% of a validation's time at 500,000 rows, for a marker nothing reads. The rows'
    lineage is the landing file's sha256 and row number (D2). So the threshold is 0 in processes that
    validate rows (D147); GX reads the module's constant at each batch."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def ephemeral_context():
    global _ephemeral
    with LOCK:
        if _ephemeral is None:
            _skip_dataframe_fingerprint()
            _ephemeral = gx.get_context(
                mode="ephemeral",
                project_config=_quiet_config(store_backend_defaults=InMemoryStoreBackendDefaults()),
            )
            _ephemeral.data_sources.add_pandas(name=DATASOURCE)
        return _ephemeral


def batch_definition(entity: str):
    """Whole-dataframe batch definition of the entity's in-memory asset."""
    with LOCK:
        if entity not in _batch_definitions:
            source = ephemeral_context().data_sources.get(DATASOURCE)
            asset = source.add_dataframe_asset(name=entity)
            _batch_definitions[entity] = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        return _batch_definitions[entity]


def file_context(data_root: str | Path):
    """The file-backed GX project at ``<data_root>/gx/``, created on demand."""
    root = Path(data_root).resolve()
    with LOCK:
        if root not in _file_contexts:
            root.mkdir(parents=True, exist_ok=True)
            ctx = gx.get_context(mode="file", project_root_dir=str(root))
            changed = False
            if ctx.variables.config.analytics_enabled is not False:
                ctx.variables.config.analytics_enabled = False
                changed = True
            if ctx.variables.progress_bars is None or ctx.variables.progress_bars.get("globally", True):
                ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
                changed = True
            sites = ctx.variables.data_docs_sites or {}
            for site in sites.values():
                # The "how to" buttons link to the GX website; the run docs are
                # for data engineers reading results, not for onboarding.
                if site.get("show_how_to_buttons", True):
                    site["show_how_to_buttons"] = False
                    changed = True
            if changed:
                ctx.variables.data_docs_sites = sites
                ctx.variables.save()
                ctx = gx.get_context(mode="file", project_root_dir=str(root))
            _file_contexts[root] = ctx
        return _file_contexts[root]


def forget_file_context(data_root: str | Path) -> None:
    """Drop the cached project (tests delete and recreate data roots)."""
    with LOCK:
        _file_contexts.pop(Path(data_root).resolve(), None)
