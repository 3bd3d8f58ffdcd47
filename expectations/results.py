"""Validation results that last: the file-backed GX project under ``<data_root>/gx/``.

``record_run`` stores the (trimmed) GX results of a run's row validations in
the project's validation-results store, next to the suites they ran; 
``build_data_docs`` renders the HTML site from that store. Both run offline:
analytics are off (see ``_gx.py``) and nothing is fetched while building; the
site opens offline too (``data_docs.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from training_impact.expectations import contexts, data_docs, suites
from training_impact.expectations.validate import RowValidation
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

SITE = "local_site"


def gx_root(data_root: str | Path) -> Path:
    return Path(data_root).resolve() / "gx"


def _safe(text: str) -> str:
    # Store keys become path segments: a source file's "/" would nest folders.
    return re.sub(r"[^A-Za-z0-9._-]+", "__", text).strip("_") or "batch"


def record_run(
    data_root: str | Path,
    entity: str,
    *results: RowValidation | Iterable[RowValidation],
    run_name: str | None = None,
    run_time: dt.datetime | None = None,
    _keys: list[Any] | None = None,
) -> list[Path]:
    """Persist the validation results of one run (e.g. one ingestion batch).

    ``run_name``: the ingestion batch id (default: the run time). Each result
    is stored under its source file. Returns the stored JSON files.
    """
    flat: list[RowValidation] = []
    for r in results:
        flat.extend([r] if isinstance(r, RowValidation) else list(r))
    for r in flat:
        if r.entity != entity:
            raise ValueError(f"result for {r.entity!r} recorded under {entity!r}")
        if r.gx_result is None:
            raise ValueError("a RowValidation without its GX result cannot be recorded")
    run_time = run_time or dt.datetime.now(dt.timezone.utc)
    run_id = RunIdentifier(run_name=run_name or run_time.strftime("%Y%m%dT%H%M%SZ"), run_time=run_time)

    keys: list[Any] = _keys if _keys is not None else []
    ctx = contexts.file_context(data_root)
    with contexts.LOCK:
        # The stored suite is the full versioned one (the run may have skipped
        # reference rules; each result lists them in meta.skipped_rules).
        ctx.suites.add_or_update(suites.build_suite(entity))
        suite_id = ExpectationSuiteIdentifier(name=entity)
        written: list[Path] = []
        seen: dict[str, int] = {}
        for i, r in enumerate(flat):
            batch = _safe(r.source_file or f"{entity}_dataframe_{i + 1}")
            # A large file is validated in several batches: one result each, none overwritten.
            seen[batch] = seen.get(batch, 0) + 1
            if seen[batch] > 1:
                batch = f"{batch}__part{seen[batch]}"
            r.gx_result.meta["run_id"] = run_id
            r.gx_result.meta["validation_time"] = run_time
            r.gx_result.meta["run_name"] = run_id.run_name
            key = ValidationResultIdentifier(
                expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch
            )
            ctx.validation_results_store.store_validation_results(
                suite_validation_result=r.gx_result,
                suite_validation_result_identifier=key,
                expectation_suite_identifier=suite_id,
            )
            base = gx_root(data_root) / "uncommitted" / "validations" / entity / _safe(run_id.run_name)
            written.extend(sorted(base.glob(f"*/{batch}.json"))[-1:])
            keys.append(key)
        keys.append(suite_id)
    return written


def record_reports(data_root: str | Path, file_reports: Iterable[Any], run_name: str) -> list[Any]:
    """Store the GX results an ingestion run kept on its file reports
    (``ingestion.FileReport.gx_results``), one entity at a time.

    Returns the GX resource identifiers written (validation results and their
    suites), for an incremental ``build_data_docs(..., resource_identifiers=...)``.
    """
    by_entity: dict[str, list[RowValidation]] = {}
    for rep in file_reports:
        for result in getattr(rep, "gx_results", None) or ():
            by_entity.setdefault(result.entity, []).append(result)
    run_time = dt.datetime.now(dt.timezone.utc)
    identifiers: list[Any] = []
    for entity, results in by_entity.items():
        record_run(data_root, entity, *results, run_name=run_name, run_time=run_time, _keys=identifiers)
    return identifiers


def build_data_docs(data_root: str | Path, resource_identifiers: list[Any] | None = None) -> Path:
    """Render the Data Docs site from the stored results; returns index.html.

    With ``resource_identifiers`` only those pages are (re)rendered: a run's docs cost what the run
    validated, not the whole history. The site opens offline (D125, ``data_docs.py``): GX's pages
    load nothing from the network, and the index is a static page of every stored result, written
    here instead of by GX (whose index would read every stored result on each build).
    """
    ctx = contexts.file_context(data_root)
    site = gx_root(data_root) / "uncommitted" / "data_docs" / SITE
    ids = None if resource_identifiers is None else list(resource_identifiers)
    with contexts.LOCK:
        # A site's first build since D125 (no index cache yet) also fixes the pages of earlier runs.
        first = not (gx_root(data_root) / "uncommitted" / data_docs.INDEX_CACHE).exists()
        ctx.build_data_docs(site_names=[SITE], resource_identifiers=ids, build_index=False)
        data_docs.make_offline(site, data_docs.page_paths(site, None if first else ids))
        return data_docs.write_index(gx_root(data_root), site)
