"""The data-root layout of docs/layout.md: paths, atomic Parquet writes, manifest.

Every file this module writes appears under its final name only when complete
(temp name + os.replace), so a crash leaves either the old state or the new one.
"""
from __future__ import annotations

import os
import shutil
import stat
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from training_impact.disk import no_space_is_clear

from .schemas import TIMESTAMP_TYPE

MANIFEST_SCHEMA = pa.schema([
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("source_sha256", pa.string(), nullable=False),
    pa.field("size_bytes", pa.int64(), nullable=False),
    pa.field("family", pa.string()),
    pa.field("entity", pa.string()),
    pa.field("mapping", pa.string()),
    pa.field("status", pa.string(), nullable=False),      # loaded | duplicate | rejected
    pa.field("reason", pa.string()),
    pa.field("rows_read", pa.int64()),
    pa.field("rows_loaded", pa.int64()),
    pa.field("rows_quarantined", pa.int64()),
    pa.field("bronze_file", pa.string()),                 # relative to the data root
    pa.field("started_at", TIMESTAMP_TYPE, nullable=False),
    pa.field("finished_at", TIMESTAMP_TYPE, nullable=False),
])

QUARANTINE_SCHEMA = pa.schema([
    pa.field("entity", pa.string(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_sha256", pa.string(), nullable=False),
    pa.field("_source_row", pa.int64(), nullable=False),
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("rule", pa.string(), nullable=False),
    pa.field("column", pa.string()),
    pa.field("value", pa.string()),
    pa.field("message", pa.string(), nullable=False),
    pa.field("record_json", pa.string(), nullable=False),
])

STATUSES = ("loaded", "duplicate", "rejected")
PARQUET_COMPRESSION = "zstd"


class Layout:
    """Paths under one data root (default `data/`, env TI_DATA_DIR)."""

    def __init__(self, data_root: Path | str):
        self.root = Path(data_root)
        self.landing = self.root / "landing"
        self.bronze = self.root / "bronze"
        self.manifest_dir = self.bronze / "_manifest"
        self.quarantine_dir = self.bronze / "_quarantine"
        self.rejected = self.root / "rejected"

    def bronze_file(self, entity: str, batch_id: str, stem: str) -> Path:
        return self.bronze / entity / f"{batch_id}__{stem}.parquet"

    def quarantine_file(self, entity: str, batch_id: str, stem: str) -> Path:
        return self.quarantine_dir / entity / f"{batch_id}__{stem}.parquet"

    def manifest_file(self, batch_id: str, sha256: str) -> Path:
        return self.manifest_dir / f"{batch_id}__{sha256[:16]}.parquet"

    def rejected_file(self, batch_id: str, source_file: str) -> Path:
        return self.rejected / batch_id / source_file

    def relative(self, path: Path) -> str:
        """Path relative to the data root, '/'-separated (stored in the manifest)."""
        return Path(os.path.relpath(path, self.root)).as_posix()


def _tmp_name(final: Path) -> Path:
    # Hidden, unique temp name in the same directory: os.replace is atomic
    # only within one filesystem, and readers globbing *.parquet skip it.
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")


class AtomicParquetWriter:
    """ParquetWriter to a temp file; `commit()` renames it, `abort()` deletes it."""

    def __init__(self, final: Path, schema: pa.Schema, expected_bytes: int = 0):
        self.final = final
        self.schema = schema
        # A full disk is reported with this file and this estimate (training_impact.disk).
        self.expected_bytes = expected_bytes
        self.tmp = _tmp_name(final)
        self.writer: pq.ParquetWriter | None = None
        try:
            with self._no_space():
                final.parent.mkdir(parents=True, exist_ok=True)
                self.writer = pq.ParquetWriter(self.tmp, schema, compression=PARQUET_COMPRESSION,
                                               use_dictionary=True)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        self.rows = 0

    def _no_space(self):
        return no_space_is_clear(self.final, f"writing {self.final.name}", self.expected_bytes)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            assert self.writer is not None, "write after commit/abort"
            with self._no_space():
                self.writer.write_table(table.cast(self.schema) if table.schema != self.schema else table)
            self.rows += table.num_rows

    def commit(self) -> Path:
        assert self.writer is not None, "commit twice"
        with self._no_space():
            self.writer.close()
            self.writer = None
            os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Drop the temp file; after commit() there is nothing to undo."""
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # the temp file is removed anyway
                pass
            self.writer = None
        self.tmp.unlink(missing_ok=True)


def write_table_atomic(table: pa.Table, final: Path) -> None:
    w = AtomicParquetWriter(final, table.schema)
    try:
        w.write(table)
        w.commit()
    except BaseException:
        w.abort()
        raise


def append_manifest_row(layout: Layout, row: dict[str, Any]) -> Path:
    """Write the manifest row of one file: `_manifest/<batch_id>__<sha256[:16]>.parquet`.

    The same bytes seen twice in one batch (two names, or a retry) share that
    file name, so rows already there are kept and the new one appended.
    """
    final = layout.manifest_file(row["batch_id"], row["source_sha256"])
    new = pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA)
    if final.exists():
        new = pa.concat_tables([pq.read_table(final, schema=MANIFEST_SCHEMA), new])
    write_table_atomic(new, final)
    return final


def read_manifest(data_root: Path | str) -> pa.Table:
    """Every manifest row under `bronze/_manifest/`, one per file seen per batch."""
    layout = Layout(data_root)
    files = sorted(str(p) for p in layout.manifest_dir.glob("*.parquet")) if layout.manifest_dir.is_dir() else []
    if not files:
        return MANIFEST_SCHEMA.empty_table()
    return pads.dataset(files, schema=MANIFEST_SCHEMA, format="parquet").to_table()


def move_to_rejected(layout: Layout, src: Path, source_file: str, batch_id: str, reason: str,
                     sha256: str) -> Path:
    """Move a rejected landing file aside with a `.reason.txt` beside it."""
    dest = layout.rejected_file(batch_id, source_file)
    note = dest.with_name(dest.name + ".reason.txt")
    tmp = _tmp_name(note)
    with no_space_is_clear(note, f"setting {source_file} aside"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(
            f"file: {source_file}\nsha256: {sha256}\nbatch: {batch_id}\n"
            f"rejected_at: {datetime.now(timezone.utc).isoformat()}\nreason: {reason}\n",
            encoding="utf-8",
        )
        os.replace(tmp, note)
    if os.path.islink(src) or not stat.S_ISREG(os.lstat(src).st_mode):
        # A symlink, FIFO, device or socket is moved as the entry it is: never opened, never
        # followed (a copy across filesystems would read a FIFO or the link's target).
        os.rename(src, dest)
    else:
        with no_space_is_clear(dest, f"setting {source_file} aside"):
            shutil.move(str(src), str(dest))
    return dest


def find_orphans(data_root: Path | str) -> list[Path]:
    """Bronze and quarantine files that no manifest row accounts for.

    Bronze is committed before its manifest row (the manifest is the commit
    record), so a crash between the two leaves a complete but unlisted file;
    the landing file is then loaded again by the next run. Consumers should
    read bronze files listed as loaded in the manifest, or remove these first.
    """
    layout = Layout(data_root)
    m = read_manifest(data_root)
    listed = {b for b in m["bronze_file"].to_pylist() if b}
    out: list[Path] = []
    if not layout.bronze.is_dir():
        return out
    for p in sorted(layout.bronze.glob("*/*.parquet")):
        if p.parent.name.startswith("_"):
            continue
        if layout.relative(p) not in listed:
            out.append(p)
    for p in sorted(layout.quarantine_dir.glob("*/*.parquet")) if layout.quarantine_dir.is_dir() else []:
        bronze_twin = layout.bronze / p.parent.name / p.name
        if layout.relative(bronze_twin) not in listed:
            out.append(p)
    return out


def reconcile_batch(data_root: Path | str, batch_id: str, entity: str | None = None) -> list[dict[str, Any]]:
    """Check what one batch left on disk against its manifest, file by file.

    For a loaded file: rows_read = rows_loaded + rows_quarantined (as recorded),
    the bronze file holds rows_loaded rows and the quarantine file holds
    rows_quarantined distinct records. For a rejected file: it sits in
    rejected/<batch>/ with its .reason.txt. Each entry carries `ok` and, when
    not ok, `problem`. Reads Parquet footers and one quarantine column only.
    """
    layout = Layout(data_root)
    m = read_manifest(data_root)
    rows = [r for r in m.to_pylist() if r["batch_id"] == batch_id and (entity is None or r["entity"] == entity)]
    out: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: r["source_file"]):
        entry = {k: r[k] for k in ("source_file", "entity", "status", "rows_read", "rows_loaded",
                                   "rows_quarantined")}
        problems: list[str] = []
        if r["status"] == "loaded":
            read, loaded, quarantined = (int(r[k] or 0) for k in ("rows_read", "rows_loaded", "rows_quarantined"))
            if read != loaded + quarantined:
                problems.append(f"rows_read {read} != rows_loaded {loaded} + rows_quarantined {quarantined}")
            bronze = layout.root / r["bronze_file"] if r["bronze_file"] else None
            bronze_rows = pq.ParquetFile(bronze).metadata.num_rows if bronze and bronze.exists() else None
            if bronze_rows != loaded:
                problems.append(f"bronze holds {bronze_rows} rows, manifest says {loaded} loaded")
            q_records = 0
            if bronze is not None:
                q = layout.quarantine_dir / r["entity"] / bronze.name
                if q.exists():
                    q_records = len(set(pq.read_table(q, columns=["_source_row"])["_source_row"].to_pylist()))
            if q_records != quarantined:
                problems.append(f"quarantine holds {q_records} records, manifest says {quarantined}")
            entry.update(bronze_rows=bronze_rows, quarantined_records=q_records)
        elif r["status"] in ("rejected", "duplicate"):
            # Rejected files, and duplicates delivered under another name, are set aside with a reason.
            moved = layout.rejected_file(batch_id, r["source_file"])
            note = moved.with_name(moved.name + ".reason.txt")
            set_aside = r["status"] == "rejected" or "set aside in" in (r["reason"] or "")
            # lexists: a symlink set aside is checked as the link, never followed
            in_rejected = os.path.lexists(moved)
            if set_aside and not (in_rejected or os.path.lexists(layout.landing / r["source_file"])):
                problems.append(f"the file is neither in {layout.relative(moved)} nor in landing")
            if set_aside and in_rejected and not note.exists():
                problems.append(f"no reason file {layout.relative(note)}")
            entry.update(reason=r["reason"])
            if set_aside:
                entry.update(rejected_file=layout.relative(moved))
        entry["ok"] = not problems
        if problems:
            entry["problem"] = "; ".join(problems)
        out.append(entry)
    return out
