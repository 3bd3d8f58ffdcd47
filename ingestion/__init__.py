"""Ingestion: landing files -> typed, lineage-stamped bronze Parquet, nothing lost.

Public API (pure Python, no Dagster):

    from training_impact.expectations import row_rules                        # the GX row rules, passed in (never imported here)
    batch_id = new_batch_id()
    report = ingest_family("hris", data_root, batch_id, row_rules=row_rules)    # FamilyReport
    report.to_metadata()                                      # JSON-able summary
    ingest_file(path, data_root, batch_id, entity=None, row_rules=row_rules)    # FileReport
    read_manifest(data_root)                                  # pyarrow.Table
    reconcile_batch(data_root, batch_id)                      # manifest vs bronze/quarantine/rejected on disk
    load_reference_ids(data_root)                             # {"worker_id": set, "program_id": set}
    landing_freshness(data_root, entity)                      # age of the newest landing file (gate)
    IngestLimits.from_parameters()                            # JSON depth / record / file size bounds (D85)

Run families in the order hris -> lms -> performance -> finance -> surveys:
worker and program ids are checked against the latest loaded snapshots.
Layout of the data root: docs/layout.md. Vendor formats: ingestion/mappings/.
"""
from .engine import (
    DEFAULT_BATCH_SIZE,
    FamilyReport,
    FileReport,
    IngestLimits,
    ProgressEvent,
    ReconciliationError,
    RowRules,
    RowValidator,
    discover_files,
    file_series,
    ingest_family,
    ingest_file,
    landing_freshness,
    new_batch_id,
)
from .mapping import Mapping, MappingError, available_mappings, load_mapping
from .references import REFERENCE_CHECKS, load_reference_ids
from .schemas import LINEAGE_COLUMNS, arrow_schema, load_schemas
from .store import MANIFEST_SCHEMA, QUARANTINE_SCHEMA, Layout, find_orphans, read_manifest, reconcile_batch

__all__ = [
    "DEFAULT_BATCH_SIZE", "FamilyReport", "FileReport", "IngestLimits", "ProgressEvent", "ReconciliationError",
    "RowRules", "RowValidator",
    "discover_files", "file_series", "ingest_family", "ingest_file", "landing_freshness", "new_batch_id",
    "Mapping", "MappingError", "available_mappings", "load_mapping",
    "REFERENCE_CHECKS", "load_reference_ids",
    "LINEAGE_COLUMNS", "arrow_schema", "load_schemas",
    "MANIFEST_SCHEMA", "QUARANTINE_SCHEMA", "Layout", "find_orphans", "read_manifest", "reconcile_batch",
]
