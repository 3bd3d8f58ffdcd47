"""Qualtrics survey exports (CSV): header detection and streaming of raw records.

Two layouts exist and are told apart by their content, not by the file name:

* ``v3`` (current): row 1 column ids (``ResponseId``, ``Q1``), row 2 question
  texts, row 3 one ``{"ImportId": ...}`` JSON object per column.
* ``legacy``: a UTF-8 BOM, row 1 positional ids (``V1``..``Vn`` for metadata, then
  ``Q1``.. for questions), row 2 names and question texts, and a trailing comma
  on every line.

Column names for ``legacy`` (decision): row 2 names the metadata columns, since
their row-1 ids ``V1``..``Vn`` only say where a column sits; question columns keep
their row-1 id (``Q1``) because row 2 holds the question *text*, which is neither
short nor stable, while ``Q1`` is the same id the v3 layout uses, so one mapping
file can serve both layouts. The texts are kept in ``question_texts``.

Records are raw strings (empty string -> None); typing and renaming to the
canonical ``survey_responses`` columns is the mapping layer's job.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["QualtricsHeader", "is_partial", "iter_records", "read_header"]

_LEGACY_ID = re.compile(r"V[0-9]+\Z")  # legacy positional metadata ids
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class QualtricsHeader:
    columns: list[str]
    question_texts: dict[str, str]  # column -> text from the second header row
    import_ids: dict[str, str]  # column -> ImportId (v3 only; legacy has none)
    header_rows: int  # 3 for v3, 2 for legacy
    format: Literal["v3", "legacy"]
    encoding: str  # as passed to open(): "utf-8-sig", "utf-8", "utf-16" or "cp1252"
    # column -> IANA zone that v3 ImportId JSON declares for date columns
    # (e.g. {"ImportId":"startDate","timeZone":"America/Denver"}); empty if none.
    time_zones: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


def _sniff_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Qualtrics' tab-separated exports
    try:
        # A multi-byte character cut at the sniff boundary is not an encoding error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"  # files re-saved by Excel on Windows


def _sniff_delimiter(first_line: str) -> str:
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def _parse_import_id(cell: str) -> dict | None:
    if not cell.startswith("{"):
        return None
    try:
        parsed = json.loads(cell)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "ImportId" in parsed else None


def _dedupe(names: list[str]) -> list[str]:
    # Records are dicts: a repeated column name would silently drop values.
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def _read_header_rows(
    reader, path: Path, encoding: str, delimiter: str
) -> tuple[QualtricsHeader, list[list[str]]]:
    """The header, plus any row read ahead that turned out to be data (legacy row 3)."""
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) == 3:
            break
    if len(rows) < 2:
        raise ValueError(f"{path}: not a Qualtrics export (fewer than two header rows)")
    ids, texts = rows[0], rows[1]
    third = rows[2] if len(rows) == 3 else []
    parsed_third = [_parse_import_id(c) for c in third]

    cells = [(p, c) for p, c in zip(parsed_third, third) if c]
    if cells and all(p is not None for p, _ in cells):
        fmt, header_rows = "v3", 3
    elif ids and _LEGACY_ID.match(ids[0]):
        fmt, header_rows = "legacy", 2
    else:
        raise ValueError(
            f"{path}: unrecognised Qualtrics layout (row 3 is not ImportId JSON and row 1 "
            "does not start with V1)"
        )

    # A trailing comma on every line leaves a last column with no id and no text.
    width = max(len(ids), len(texts))
    ids = ids + [""] * (width - len(ids))
    texts = texts + [""] * (width - len(texts))
    while width and not ids[width - 1] and not texts[width - 1]:
        width -= 1
    ids, texts = ids[:width], texts[:width]

    if fmt == "v3":
        names = ids
    else:
        names = [t if _LEGACY_ID.match(i) else i for i, t in zip(ids, texts)]
    columns = _dedupe([n.strip() for n in names])

    import_ids: dict[str, str] = {}
    time_zones: dict[str, str] = {}
    if fmt == "v3":
        for col, parsed in zip(columns, parsed_third):
            if parsed is None:
                continue
            import_ids[col] = str(parsed["ImportId"])
            if isinstance(parsed.get("timeZone"), str):
                time_zones[col] = parsed["timeZone"]
    header = QualtricsHeader(
        columns=columns,
        question_texts=dict(zip(columns, texts)),
        import_ids=import_ids,
        header_rows=header_rows,
        format=fmt,
        encoding=encoding,
        time_zones=time_zones,
        delimiter=delimiter,
    )
    return header, rows[header_rows:]


def _open(path: Path):
    encoding = _sniff_encoding(path)
    fh = open(path, encoding=encoding, newline="")  # newline="" as the csv module requires
    first = fh.readline()
    fh.seek(0)
    return fh, encoding, _sniff_delimiter(first)


def read_header(path: str | Path) -> QualtricsHeader:
    """Detect the layout and read the header rows; the data rows are not read."""
    path = Path(path)
    fh, encoding, delimiter = _open(path)
    with fh:
        header, _ = _read_header_rows(csv.reader(fh, delimiter=delimiter), path, encoding, delimiter)
        return header


def iter_records(path: str | Path, batch_size: int = 10000) -> Iterator[list[dict[str, str | None]]]:
    """Stream the responses in batches of raw records, one dict per response.

    Each record maps column -> string, with '' read as None, plus ``_source_row``:
    the 1-based ordinal of the response among the file's data records (blank lines
    are not records). A row whose field count differs from the header keeps what it
    has (missing fields None) and carries ``_row_error`` so that the caller can
    quarantine that row alone. The file is read through the csv module as it
    streams, never loaded whole.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    path = Path(path)
    fh, encoding, delimiter = _open(path)
    with fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header, read_ahead = _read_header_rows(reader, path, encoding, delimiter)
        columns = header.columns
        width = len(columns)
        batch: list[dict[str, str | None]] = []
        ordinal = 0
        for row in itertools.chain(read_ahead, reader):
            if not row or (len(row) == 1 and not row[0]):
                continue
            ordinal += 1
            record: dict[str, str | None] = {
                col: (value if value != "" else None) for col, value in zip(columns, row)
            }
            n = len(row)
            if n != width:
                extra = row[width:]
                # The legacy trailing comma yields exactly one empty extra field: not an error.
                if n < width or any(extra):
                    for col in columns[n:]:
                        record[col] = None
                    record["_row_error"] = f"expected {width} fields, found {n}"
            record["_source_row"] = ordinal  # type: ignore[assignment]
            batch.append(record)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


_FALSE = frozenset(["0", "false", "f", "no", "n"])


def is_partial(record: dict) -> bool:
    """True when the response was not finished: Finished false/0, or Progress < 100.

    A record that carries neither column (legacy exports have no Progress) is only
    judged on what it has; absent or unparsable values do not make it partial.
    """
    finished = record.get("Finished")
    if isinstance(finished, bool):
        if not finished:
            return True
    elif finished is not None and str(finished).strip().lower() in _FALSE:
        return True
    progress = record.get("Progress")
    if progress is not None:
        try:
            return float(progress) < 100
        except (TypeError, ValueError):
            return False
    return False
