"""Data-quality rules for training-impact: GX suites per canonical entity,
row validation for the ingestion, the source-level gate and export hygiene.

Import the submodules directly (``expectations.validate``, ``expectations.gate``,
``expectations.results``, ``expectations.export``); this package module stays
free of the slow Great Expectations import so ``gate`` and ``export`` load fast.
The one name here is ``row_rules``, the row rules the ingestion is given
(``ingest_family(..., row_rules=row_rules)``): ingestion sits a layer below and
never imports expectations (tests/unit/test_layers.py).
"""

from __future__ import annotations


def row_rules(as_of, source_file: str, gx_references):
    """The row validator of one landing file: ``(entity, df, parts=None) -> validate.RowValidation``, the
    entity's GX suite with the file's load date (``as_of``), name and reference frames (``gx_references``).
    ``parts``: the file of each row when several small files are validated together (D119).

    ``expectations.validate`` (and with it GX) is imported here, when the ingestion first needs the
    rules of a file, not when this package is imported: a step whose files are all duplicates or
    rejected never loads GX.
    """
    try:
        from training_impact.expectations.validate import validate_rows
    except ImportError as exc:  # no silent skip: rows would load unchecked
        raise RuntimeError(f"row rules cannot run: expectations.validate is not importable ({exc})") from exc

    def run(entity: str, df, parts=None):
        return validate_rows(entity, df, as_of=as_of, source_file=source_file, references=gx_references,
                             parts=parts)

    return run
