"""Formula-injection hygiene for anything opened in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage
return, which some spreadsheets strip before parsing) is run as a formula by
Excel, LibreOffice and Google Sheets. Free text from surveys, memos or vendor
files reaches our CSV/XLSX exports, so such values get a leading ``'``.
Numbers are left alone: a numeric column's -12.5 is data, and a text cell that
is exactly a plain number ("-12.5") is read as a number, not a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_formula(value: Any) -> Any:
    """``'``-prefix a string a spreadsheet would run as a formula; anything else
    (numbers, None, plain numeric text, ordinary text) comes back unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Copy of ``df`` with the text columns neutralised (all text columns by
    default). Numeric, boolean and date columns are never touched."""
    out = df.copy()
    targets = list(columns) if columns is not None else list(df.columns)
    for col in targets:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype) \
                or pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise_formula, na_action="ignore")
    return out


# The raw record may hold anything the vendor sent (names, e-mails, ids): it stays in
# the raw zone (bronze/_quarantine); _source_file + _source_row point at it.
EXPORT_DROPS = ("record_json",)
MASKED = "<redacted>"


def mask_identifiers(frame: pd.DataFrame, pseudonym) -> pd.DataFrame:
    """The quarantine rows as they may leave the raw zone (SECURITY.md): a value of a
    direct-identifier column masked, a worker id as its keyed pseudonym, a compound
    key or xAPI actor holding either masked, and the message quoting the masked form."""
    from training_impact.privacy import IDENTIFIER_COLUMNS, PII_COLUMNS, WORKER_ID_COLUMNS

    out = frame.drop(columns=[c for c in EXPORT_DROPS if c in frame.columns])

    def masked(column, value):
        if value is None or (isinstance(value, float) and pd.isna(value)) or column is None:
            return value
        if column in PII_COLUMNS:
            return MASKED
        if column in WORKER_ID_COLUMNS:
            return pseudonym(str(value))
        if set(str(column).split("+")) & IDENTIFIER_COLUMNS or str(column).startswith("actor"):
            return MASKED
        return value

    values = [masked(c, v) for c, v in zip(out["column"].tolist(), out["value"].tolist())]
    out["message"] = [m.replace(str(v), nv) if isinstance(m, str) and v is not None and nv != v else m
                      for m, v, nv in zip(out["message"].tolist(), out["value"].tolist(), values)]
    out["value"] = values
    return out


def export_quarantine_csv(data_root, out_path, *, batch_id: str | None = None, entity: str | None = None) -> int:
    """Write the quarantine table (``bronze/_quarantine``) to one CSV for people to open
    in a spreadsheet, every text cell neutralised and identifiers masked
    (``mask_identifiers``); returns the rows written.

    ``batch_id`` / ``entity`` narrow it to one run or one entity. The file is
    UTF-8 with a BOM (Excel then reads it as UTF-8) and appears only when complete.
    Worker ids are pseudonymised with the run's key, so a production export needs it.
    """
    import os
    from pathlib import Path

    import pyarrow.parquet as pq

    from training_impact.privacy import Pseudonymizer, guard_run

    pseudonym = Pseudonymizer(guard_run())

    root = Path(data_root)
    files = sorted((root / "bronze" / "_quarantine").glob(f"{entity or '*'}/*.parquet"))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    written = 0
    columns: list[str] | None = None
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
            for path in files:
                if batch_id is not None and not path.name.startswith(f"{batch_id}__"):
                    continue
                for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
                    frame = batch.to_pandas()
                    if batch_id is not None:
                        frame = frame[frame["_batch_id"] == batch_id]
                    frame = mask_identifiers(frame, pseudonym)
                    if columns is None:
                        columns = list(frame.columns)
                        handle.write(",".join(columns) + "\n")
                    neutralise_frame(frame[columns]).to_csv(handle, header=False, index=False)
                    written += len(frame)
            if columns is None:
                from training_impact.ingestion.store import QUARANTINE_SCHEMA

                handle.write(",".join(n for n in QUARANTINE_SCHEMA.names if n not in EXPORT_DROPS) + "\n")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return written
