"""Streaming readers: one landing file -> batches of raw records.

A reader never holds a whole file in memory: CSV is read by Arrow's streaming
reader (or the csv module when the file needs record-level care), NDJSON line
by line, JSON arrays with an incremental decoder, XLSX with openpyxl's
read-only mode, Parquet by record batches.

Readers do not type values (casting.py does) and do not know the canonical
schema beyond scoring headers. They raise `FileRejected` when the file cannot
be read as its format, and hand records they cannot split into fields (short
rows, lines that are not JSON, invalid xAPI statements) to the caller as
`RawReject`s, so nothing read is dropped.
"""
from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads

from .casting import raw_text

CHUNK = 1 << 20
# Bytes Arrow parses per block; a block yields up to batch_size-row slices.
ARROW_BLOCK_SIZE = 4 << 20
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# csv module refuses fields over 128 KiB by default; free-text survey answers
# and statement JSON can be longer.
csv.field_size_limit(min(2**31 - 1, 64 << 20))

BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),   # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# A file that is readable but holds no records: rejected for snapshot
# entities (an empty snapshot would wipe the population), loaded as 0 rows for
# append entities (a month without ratings or survey answers happens).
EMPTY_EXTRACT_RULES = ("header_only", "no_records")

# Bounds on one record (config/parameters.yml `ingestion:`; DECISIONS D85). A JSON record
# nested deeper than MAX_JSON_DEPTH is quarantined (`json_nesting_depth`) before the
# recursive JSON parser sees it; a record longer than MAX_RECORD_BYTES is quarantined
# (`oversize_record`) without being held in memory whole.
MAX_JSON_DEPTH = 64
MAX_RECORD_BYTES = 64 << 20
DEPTH_RULE = "json_nesting_depth"
OVERSIZE_RECORD_RULE = "oversize_record"
# iter_json_array yields this as the value of an element nested deeper than max_depth.
TOO_DEEP = object()

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Does the JSON text nest arrays/objects deeper than `max_depth`? No parsing, no recursion.

    Brackets inside strings do not count. The bracket count bounds the depth, so the
    common case costs two C-level counts.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for ch in _JSON_BRACKETS.findall(_JSON_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _json_value_end(buf: str, pos: int) -> int:
    """Index just after the array/object starting at buf[pos], or -1 if the buffer ends first."""
    depth = 0
    in_str = escaped = False
    for i in range(pos, len(buf)):
        ch = buf[i]
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _preview(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


class FileRejected(Exception):
    """The file as a whole cannot be read as its source; `rule` names why."""

    def __init__(self, rule: str, detail: str):
        self.rule = rule
        self.detail = detail
        super().__init__(f"{rule}: {detail}")


@dataclass
class RawReject:
    """A record the reader could not turn into fields: quarantined as is."""
    source_row: int
    rule: str
    column: str | None
    value: str | None
    message: str
    record_json: str


@dataclass
class RawBatch:
    """Up to batch_size records of one file, values not yet typed.

    `table` columns are positional (vendor headers may repeat or be blank);
    `source_rows` are the 1-based record ordinals; `raw_records` is the record
    as received when a row of `table` does not show it (xAPI statements).
    """
    table: pa.Table
    source_rows: list[int]
    raw_records: list[str] | None = None
    rejects: list[RawReject] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return self.table.num_rows + len({r.source_row for r in self.rejects})


@dataclass
class FileProbe:
    """What one pass over the bytes tells: identity, size, text encoding and shape."""
    sha256: str
    size_bytes: int
    encoding: str | None = None          # None for binary formats
    encoding_note: str | None = None     # set when the encoding was not plain UTF-8
    quote_count: int = 0
    ends_with_newline: bool = True
    has_nul: bool = False


def probe_file(path: Path, text: bool, forced_encoding: str | None = None) -> FileProbe:
    """Hash the file and, for text formats, find its encoding in the same pass.

    UTF-8 is tried first (a BOM decides outright); a file that is not valid
    UTF-8 is read as cp1252 (Windows exports), or latin-1 when cp1252 has no
    character for some byte. latin-1 decodes anything, so the choice is
    recorded: a wrong guess shows as odd characters, never as lost rows.
    """
    h = hashlib.sha256()
    size = 0
    quotes = 0
    has_nul = False
    last = b""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    bom_encoding = None
    with open(path, "rb") as fh:
        first = True
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if not text:
                continue
            if first:
                for bom, enc in BOMS:
                    if chunk.startswith(bom):
                        bom_encoding = enc
                        break
                first = False
            if bom_encoding and bom_encoding.startswith("utf-") and bom_encoding != "utf-8-sig":
                continue  # UTF-16/32: quotes and NULs are multi-byte; decoding checks it later
            quotes += chunk.count(b'"')
            if b"\x00" in chunk:
                has_nul = True
            if utf8_ok:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if text and utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False  # a multi-byte character cut at EOF
    probe = FileProbe(sha256=h.hexdigest(), size_bytes=size, quote_count=quotes,
                      ends_with_newline=last in (b"\n", b"\r"), has_nul=has_nul)
    if not text:
        return probe
    if forced_encoding:
        probe.encoding = forced_encoding
        probe.encoding_note = f"encoding={forced_encoding} (set by mapping)"
    elif bom_encoding:
        probe.encoding = bom_encoding
        if bom_encoding != "utf-8-sig":
            probe.has_nul = False
            probe.encoding_note = f"encoding={bom_encoding} (BOM)"
        else:
            probe.encoding_note = "encoding=utf-8-sig (BOM)"
    elif utf8_ok:
        probe.encoding = "utf-8"
    else:
        probe.encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
        probe.encoding_note = f"encoding={probe.encoding} (not valid UTF-8)"
    return probe


def _decodes(path: Path, encoding: str) -> bool:
    dec = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(CHUNK):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


class SourceReader:
    """Base of all readers: `header` (vendor column names), `notes`, `batches()`."""

    header: list[str]
    notes: list[str]

    def batches(self) -> Iterator[RawBatch]:  # pragma: no cover - interface
        raise NotImplementedError

    def record_of(self, batch: RawBatch, indices: Iterable[int]) -> list[str]:
        """The raw records at `indices` of `batch` as JSON objects {header: value}."""
        indices = list(indices)
        if batch.raw_records is not None:
            return [batch.raw_records[i] for i in indices]
        if not indices:
            return []
        taken = batch.table.take(pa.array(indices, pa.int64()))
        cols = [c.to_pylist() for c in taken.columns]
        names = _unique_names(self.header)
        return [
            json.dumps({n: _jsonable(col[k]) for n, col in zip(names, cols)}, ensure_ascii=False)
            for k in range(len(indices))
        ]


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        name = h if h else f"_column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return raw_text(v)


# --------------------------------------------------------------------------- CSV

HeaderScore = Callable[[list[str]], int]


def _first_record(text: str, delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), None)
    except csv.Error:
        return None


class CsvReader(SourceReader):
    """Delimited text. Sniffs the delimiter by which header fits the mapping best.

    Arrow's parser is the fast path. The csv module reads the file instead,
    record by record, when the file needs that care: an odd number of quote
    characters (an unterminated quote), a header Arrow would read differently,
    or a row whose field count is off (Arrow cannot tell which record it was).
    That last case shows only while parsing, so the caller then discards what
    it made of the file and starts over with `slow_batches()`.
    """

    def __init__(self, path: Path, probe: FileProbe, score_header: HeaderScore,
                 batch_size: int, delimiter: str | None = None, max_record_bytes: int = MAX_RECORD_BYTES):
        self.path = path
        self.probe = probe
        self.batch_size = batch_size
        # A record longer than this (no record boundary for that long) rejects the file: it is
        # never held whole in memory (oversize_record, D85).
        self.max_record_bytes = int(max_record_bytes)
        self.notes: list[str] = []
        if probe.encoding_note:
            self.notes.append(probe.encoding_note)
        if probe.size_bytes == 0:
            raise FileRejected("empty_file", "the file has 0 bytes")
        if probe.has_nul:
            raise FileRejected("undecodable", "NUL bytes in a text file (binary content or an undeclared UTF-16 file)")
        head = self._head_text()
        if not head.strip():
            raise FileRejected("empty_file", "the file holds only whitespace")
        candidates = [delimiter] if delimiter else list(DELIMITERS)
        best: tuple[int, int, str, list[str], list[str]] | None = None
        for d in candidates:
            fields = _first_record(head, d)
            if not fields:
                continue
            raw_fields = [f.replace("\ufeff", "") for f in fields]
            fields = [f.strip() for f in raw_fields]
            score = score_header(fields)
            cand = (score, len(fields), d, fields, raw_fields)
            if best is None or cand[:2] > best[:2]:
                best = cand
        if best is None or best[0] == 0:
            # No ';' in the text: the gate splits a rejection reason on it.
            tried = " or ".join(DELIMITER_NAMES.get(d, repr(d)) for d in candidates)
            first = head.splitlines()[0][:200] if head.splitlines() else ""
            raise FileRejected(
                "no_expected_columns",
                f"no header field matches a mapped column when split by {tried} (first line {first!r})",
            )
        self.delimiter = best[2]
        self.header = best[3]
        self._raw_header = best[4]
        if self.delimiter != ",":
            self.notes.append(f"delimiter={DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}")

    def _head_text(self) -> str:
        with open(self.path, "rb") as fh:
            raw = fh.read(CHUNK)
        # errors="replace": only the header is needed, and the probe has
        # already checked that the whole file decodes.
        return raw.decode(self.probe.encoding or "utf-8", errors="replace").lstrip("\ufeff")

    def batches(self) -> Iterator[RawBatch]:
        """Arrow fast path when the file allows it. It may raise NeedSlowPath at
        any batch; the caller then discards what it made and reads
        `slow_batches()` instead (record ordinals must be exact)."""
        if self._arrow_can_read():
            yield from self._arrow_batches()
        else:
            yield from self._python_batches()

    def slow_batches(self) -> Iterator[RawBatch]:
        """Record by record with the csv module: exact ordinals whatever the file holds."""
        yield from self._python_batches()

    def _arrow_can_read(self) -> bool:
        if self.probe.quote_count % 2:
            return False
        names = self.header
        return all(names) and len(set(names)) == len(names) and self.probe.encoding in (
            "utf-8", "utf-8-sig", "cp1252", "latin-1")

    def _arrow_batches(self) -> Iterator[RawBatch]:
        """Parse the file in byte blocks cut at record boundaries, one block at a time.

        Arrow's own streaming reader reads ahead without bound (a 190 MB file
        was buffered whole), so blocks are cut here: at a line break with an
        even number of quote characters before it, which in RFC 4180 CSV is
        outside any quoted field. Only one block and its parsed table are in
        memory at a time.
        """
        bad: list[str] = []

        def on_invalid(row) -> str:
            bad.append(f"a row has {row.actual_columns} fields, the header {row.expected_columns}")
            return "error"

        enc = self.probe.encoding
        transcode = enc not in ("utf-8", "utf-8-sig")
        parse_opts = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                        invalid_row_handler=on_invalid)
        names: list[str] | None = None      # Arrow's names, from the first block's header
        ordinal = 0
        with open(self.path, "rb") as fh:
            carry = b""
            eof = False
            while not eof:
                data = fh.read(ARROW_BLOCK_SIZE)
                eof = not data
                buf = carry + data
                if eof:
                    block, carry = buf, b""
                else:
                    cut = _record_boundary(buf)
                    if cut <= 0:
                        if len(buf) > self.max_record_bytes:
                            raise FileRejected(OVERSIZE_RECORD_RULE, self._oversize(ordinal + 1))
                        carry = buf     # one record longer than a block: read on
                        continue
                    block, carry = buf[:cut], buf[cut:]
                if names is None and enc == "utf-8-sig":
                    block = block[len(codecs.BOM_UTF8):] if block.startswith(codecs.BOM_UTF8) else block
                if transcode:
                    block = block.decode(enc).encode("utf-8")
                if names is not None and not block.strip():
                    continue
                read_opts = pacsv.ReadOptions(use_threads=True, block_size=max(1 << 20, len(block) + 1),
                                              column_names=names)
                convert_opts = pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in (names or self._arrow_names())},
                    strings_can_be_null=False, quoted_strings_can_be_null=False)
                try:
                    table = pacsv.read_csv(io.BytesIO(block), read_options=read_opts, parse_options=parse_opts,
                                           convert_options=convert_opts)
                except pa.ArrowInvalid as exc:
                    raise _NeedSlowPath(bad[0] if bad else str(exc).splitlines()[0]) from None
                if names is None:
                    names = table.column_names
                    if [n.strip() for n in names] != self.header:
                        raise _NeedSlowPath("Arrow read the header differently")
                for rb in table.to_batches(max_chunksize=self.batch_size):
                    n = rb.num_rows
                    if n:
                        yield RawBatch(pa.Table.from_batches([rb]), list(range(ordinal + 1, ordinal + n + 1)))
                        ordinal += n
                del table
        if ordinal == 0:
            raise FileRejected("header_only", "the file has a header but no data records")

    def _arrow_names(self) -> list[str]:
        # Before the first block is parsed Arrow's names are the raw header fields.
        return [h for h in self._raw_header]

    def _python_batches(self) -> Iterator[RawBatch]:
        ncols = len(self.header)
        lines: list[str] = []

        limit = self.max_record_bytes
        ordinal = 0

        def feed(fh) -> Iterator[str]:
            # Keep the physical lines of the current record: a malformed one
            # is quarantined with its text. readline(limit): a line without a
            # break is never read whole.
            while line := fh.readline(limit + 1):
                if len(line) > limit and not line.endswith(("\n", "\r")):
                    raise FileRejected(OVERSIZE_RECORD_RULE, self._oversize(ordinal + 1))
                lines.append(line)
                yield line

        gc_was_enabled = gc.isenabled()

        def handing_over(batch: RawBatch) -> RawBatch:
            # The collector is off only while this reader builds rows (millions
            # of short-lived lists: collection passes only cost time); the
            # caller's GX and pandas work runs with it on.
            if gc_was_enabled:
                gc.enable()
            return batch

        gc.disable()
        try:
            with open(self.path, encoding=self.probe.encoding, newline="") as fh:
                reader = csv.reader(feed(fh), delimiter=self.delimiter, strict=True)
                try:
                    next(reader)  # header, already parsed by the sniffer
                except csv.Error as exc:
                    raise FileRejected("malformed_header", f"the header record cannot be parsed ({exc})") from None
                lines.clear()
                rows: list[list[str]] = []
                ords: list[int] = []
                rejects: list[RawReject] = []
                ordinal = 0
                pending: tuple[int, list[str], str, str | None] | None = None  # lookahead of one record
                while True:
                    try:
                        rec = next(reader)
                        err = None
                    except StopIteration:
                        break
                    except csv.Error as exc:
                        err = str(exc)
                        if "unexpected end of data" in err:
                            start = reader.line_num - len(lines) + 1
                            raise FileRejected(
                                "truncated_file",
                                f"unterminated quoted field at end of file (record {ordinal + 1}, from line {start})",
                            ) from None
                        rec = self._lenient("".join(lines))
                    text = "".join(lines)
                    lines.clear()
                    if err is None and (not rec or (len(rec) == 1 and not rec[0].strip())):
                        continue  # blank line: not a record
                    ordinal += 1
                    if pending is not None:
                        self._place(pending, ncols, rows, ords, rejects, last=False)
                    pending = (ordinal, rec, text, err)
                    if len(rows) >= self.batch_size:
                        yield handing_over(self._batch(rows, ords, rejects))
                        gc.disable()
                        rows, ords, rejects = [], [], []
                if pending is None:
                    raise FileRejected("header_only", "the file has a header but no data records")
                self._place(pending, ncols, rows, ords, rejects, last=True)
                if rows or rejects:
                    yield handing_over(self._batch(rows, ords, rejects))
        except UnicodeDecodeError as exc:
            raise FileRejected("undecodable", f"not valid {self.probe.encoding}: {exc}") from None
        finally:
            if gc_was_enabled:
                gc.enable()

    def _oversize(self, record: int) -> str:
        return (f"record {record} runs past {self.max_record_bytes:,} bytes without ending"
                " (config/parameters.yml ingestion.max_record_mb)")

    def _lenient(self, text: str) -> list[str] | None:
        """Re-read a record the strict parser refused the way spreadsheets do."""
        recs = list(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter))
        return recs[0] if len(recs) == 1 else None

    def _place(self, item, ncols, rows, ords, rejects, last: bool) -> None:
        ordinal, rec, text, err = item
        if rec is not None and len(rec) > ncols and not any(f.strip() for f in rec[ncols:]):
            rec = rec[:ncols]  # trailing delimiters (legacy exports end every line with one)
        if rec is not None and len(rec) == ncols:
            rows.append(rec)
            ords.append(ordinal)
            return
        if last and rec is not None and len(rec) < ncols:
            raise FileRejected(
                "truncated_file",
                f"last record {ordinal} has {len(rec)} of {ncols} fields"
                + ("" if self.probe.ends_with_newline else " and no final line break"),
            )
        if rec is None:
            msg = f"cannot be split into fields ({err})"
        else:
            msg = f"has {len(rec)} fields, the header has {ncols}"
        rejects.append(RawReject(ordinal, "malformed_record", None, None, msg,
                                 json.dumps({"_raw_text": text}, ensure_ascii=False)))

    def _batch(self, rows: list[list[str]], ords: list[int], rejects: list[RawReject]) -> RawBatch:
        ncols = len(self.header)
        if rows:
            cols = list(zip(*rows))
            arrays = [pa.array(c, pa.string()) for c in cols]
        else:
            arrays = [pa.array([], pa.string()) for _ in range(ncols)]
        table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(ncols)])
        return RawBatch(table, ords, None, rejects)


def _record_boundary(buf: bytes, max_tries: int = 10_000) -> int:
    """Index just after the last line break of `buf` that lies outside quotes, or -1.

    Quote characters come in pairs in RFC 4180 CSV (open/close, "" escapes),
    so a line break preceded by an even number of them ends a record. Files
    with an odd total go to the csv module instead (see _arrow_can_read).
    """
    total = buf.count(b'"')
    after = 0
    end = len(buf)
    for _ in range(max_tries):
        nl = buf.rfind(b"\n", 0, end)
        if nl < 0:
            return -1
        after += buf.count(b'"', nl + 1, end)
        if (total - after) % 2 == 0:
            return nl + 1
        end = nl
    return -1


class _NeedSlowPath(Exception):
    """The Arrow fast path met something only the record-by-record reader handles."""


NeedSlowPath = _NeedSlowPath


# --------------------------------------------------------------------------- xAPI

class XapiReader(SourceReader):
    """xAPI statements, NDJSON (one a line) or a JSON array, validated one by one.

    A line that is not JSON, or a statement that breaks the spec, is rejected
    alone (quarantined with its violations); only a file cut mid-statement at
    its end is rejected whole.
    """

    def __init__(self, path: Path, probe: FileProbe, columns: list[str], batch_size: int, ndjson: bool,
                 max_depth: int = MAX_JSON_DEPTH, max_record_bytes: int = MAX_RECORD_BYTES):
        from . import xapi  # the xAPI validator/flattener (separate module, spec rules)

        self.xapi = xapi
        self.path = path
        self.probe = probe
        self.header = list(columns)
        self.batch_size = batch_size
        self.ndjson = ndjson
        self.max_depth = int(max_depth)
        self.max_record_bytes = int(max_record_bytes)
        self.position = 0            # the line (NDJSON) or array element being read: named if reading fails
        self.notes: list[str] = []
        if probe.encoding_note:
            self.notes.append(probe.encoding_note)
        if probe.size_bytes == 0:
            raise FileRejected("no_records", "the file has 0 bytes")

    def batches(self) -> Iterator[RawBatch]:
        items = self._ndjson_items() if self.ndjson else self._array_items()
        rows: list[dict] = []
        raws: list[str] = []
        ords: list[int] = []
        rejects: list[RawReject] = []
        seen = 0
        for ordinal, raw, stmt, err in items:
            seen += 1
            if err is not None:
                rejects.append(RawReject(ordinal, err[0], None, None, err[1],
                                         json.dumps({"_raw_text": raw}, ensure_ascii=False)))
            else:
                try:
                    violations = self.xapi.validate_statement(stmt)
                    flat = None if violations else self.xapi.flatten_statement(stmt)
                except RecursionError:  # a bound below the depth check's: never stop the file for one record
                    rejects.append(RawReject(ordinal, DEPTH_RULE, None, None,
                                             f"{self._where(ordinal)} nests JSON too deeply to process",
                                             json.dumps({"_raw_text": _preview(raw)}, ensure_ascii=False)))
                    violations, flat = [], None
                if violations:
                    for v in violations:
                        rejects.append(RawReject(ordinal, v.rule, v.path, _value_at(stmt, v.path),
                                                 v.message, raw))
                elif flat is not None:
                    rows.append(flat)
                    raws.append(raw)
                    ords.append(ordinal)
            if len(rows) >= self.batch_size:
                yield self._batch(rows, raws, ords, rejects)
                rows, raws, ords, rejects = [], [], [], []
        if seen == 0:
            raise FileRejected("no_records", "no statements in the file")
        if rows or rejects:
            yield self._batch(rows, raws, ords, rejects)

    def _batch(self, rows, raws, ords, rejects) -> RawBatch:
        arrays = [pa.array([raw_text(r.get(c)) for r in rows], pa.string()) for c in self.header]
        return RawBatch(pa.Table.from_arrays(arrays, names=self.header), ords, raws, rejects)

    def _where(self, ordinal: int) -> str:
        return f"line {self.position}" if self.ndjson else f"array element {ordinal}"

    def _ndjson_items(self) -> Iterator[tuple[int, str, Any, tuple[str, str] | None]]:
        ordinal = 0
        limit = self.max_record_bytes
        with open(self.path, "rb") as fh:
            lineno = 0
            while True:
                # readline(limit): a line without a break for gigabytes is never held whole
                line = fh.readline(limit + 1)
                if not line:
                    break
                lineno += 1
                self.position = lineno
                if len(line) > limit and not line.endswith(b"\n"):
                    size = len(line)
                    while rest := fh.readline(CHUNK):
                        size += len(rest)
                        if rest.endswith(b"\n"):
                            break
                    ordinal += 1
                    head = line[:2000].decode(self.probe.encoding or "utf-8", errors="replace")
                    yield (ordinal, _preview(head + "...", 2100), None,
                           (OVERSIZE_RECORD_RULE, f"line {lineno} has {size:,} bytes, above the limit of {limit:,}"
                                                  " (config/parameters.yml ingestion.max_record_mb)"))
                    continue
                try:
                    text = line.decode(self.probe.encoding or "utf-8").lstrip("\ufeff")
                except UnicodeDecodeError as exc:
                    ordinal += 1
                    yield (ordinal, line.decode("latin-1"), None,
                           ("xapi.json", f"line {lineno} is not valid {self.probe.encoding} ({exc})"))
                    continue
                if not text.strip():
                    continue
                ordinal += 1
                if json_depth_exceeds(text, self.max_depth):
                    yield (ordinal, _preview(text.rstrip("\r\n")), None,
                           (DEPTH_RULE, f"line {lineno} nests JSON deeper than {self.max_depth} levels"
                                        " (config/parameters.yml ingestion.max_json_depth)"))
                    continue
                try:
                    stmt = json.loads(text)
                    item = (ordinal, text.rstrip("\r\n"), stmt, None)
                except RecursionError:
                    item = (ordinal, _preview(text.rstrip("\r\n")), None,
                            (DEPTH_RULE, f"line {lineno} nests JSON too deeply to parse"))
                except json.JSONDecodeError as exc:
                    item = (ordinal, text.rstrip("\r\n"), None,
                            ("xapi.json", f"line {lineno} is not valid JSON ({exc.msg} at column {exc.colno})"))
                    if not line.endswith(b"\n"):
                        # the very last line, without a line break, not JSON: cut in transfer
                        raise FileRejected("truncated_file",
                                           f"last line {lineno} is incomplete JSON ({exc.msg}) and has no line break")
                yield item

    def _array_items(self) -> Iterator[tuple[int, str, Any, tuple[str, str] | None]]:
        ordinal = 0
        for raw, value in iter_json_array(self.path, self.probe.encoding or "utf-8",
                                          max_item_bytes=self.max_record_bytes, max_depth=self.max_depth):
            ordinal += 1
            self.position = ordinal
            if value is TOO_DEEP:
                yield (ordinal, _preview(raw), None,
                       (DEPTH_RULE, f"array element {ordinal} nests JSON deeper than {self.max_depth} levels"
                                    " (config/parameters.yml ingestion.max_json_depth)"))
                continue
            yield ordinal, raw, value, None


def iter_json_array(path: Path, encoding: str, max_item_bytes: int = MAX_RECORD_BYTES,
                    max_depth: int | None = None) -> Iterator[tuple[str, Any]]:
    """Yield (raw text, value) for each element of a top-level JSON array, streaming.

    Also accepts an LRS response object {"statements": [...], ...} by reading
    its "statements" array. A syntax error cannot be skipped in a JSON array
    (there is no record boundary to resume at), so it rejects the file. An element
    nested deeper than `max_depth` (or too deep for the parser) is skipped by a
    bracket scan and yielded with the value TOO_DEEP; an element above
    `max_item_bytes` rejects the file (`oversize_record`).
    """
    dec = json.JSONDecoder()
    with open(path, encoding=encoding) as fh:
        buf = fh.read(CHUNK).lstrip("\ufeff")
        pos = 0
        eof = False

        def more() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(CHUNK)
            if not chunk:
                eof = True
                return False
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return

        skip_ws()
        if pos >= len(buf):
            raise FileRejected("no_records", "the file holds only whitespace")
        if buf[pos] == "{":
            # {"statements": [...]}: find the array start without decoding the whole object
            key = '"statements"'
            while key not in buf[pos:] and more():
                pass
            k = buf.find(key, pos)
            if k < 0:
                raise FileRejected("invalid_json", "a JSON object without a 'statements' array")
            pos = buf.index(":", k) + 1
            skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise FileRejected("invalid_json", "the file is not a JSON array of statements")
        pos += 1
        first = True
        count = 0
        while True:
            skip_ws()
            if pos >= len(buf):
                raise FileRejected("truncated_file", "the JSON array is not closed (file ends inside it)")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise FileRejected("invalid_json", f"expected ',' between array elements, found {buf[pos]!r}")
                pos += 1
                skip_ws()
            first = False
            while True:
                try:
                    value, end = dec.raw_decode(buf, pos)
                    # a number or literal at the buffer edge may continue in the next chunk
                    if end == len(buf) and not eof and more():
                        continue
                    if max_depth is not None and json_depth_exceeds(buf[pos:end], max_depth):
                        value = TOO_DEEP
                    break
                except RecursionError:
                    # deeper than the parser can go: find the element's end without parsing it
                    while (end := _json_value_end(buf, pos)) < 0:
                        if len(buf) - pos > max_item_bytes:
                            raise FileRejected(OVERSIZE_RECORD_RULE, f"array element {count + 1} exceeds"
                                                                     f" {max_item_bytes:,} bytes") from None
                        if not more():
                            raise FileRejected("truncated_file",
                                               f"the file ends inside array element {count + 1}") from None
                    value = TOO_DEEP
                    break
                except json.JSONDecodeError as exc:
                    if len(buf) - pos > max_item_bytes:
                        raise FileRejected(OVERSIZE_RECORD_RULE,
                                           f"array element {count + 1} exceeds {max_item_bytes:,} bytes") from None
                    if not more():
                        # An error at the very end of the text (or an open string)
                        # means the element was cut off, not written wrong.
                        if exc.pos >= len(buf.rstrip()) or exc.msg.startswith("Unterminated string"):
                            raise FileRejected("truncated_file",
                                               f"the file ends inside array element {count + 1} ({exc.msg})") from None
                        raise FileRejected("invalid_json", f"{exc.msg} in array element {count + 1}") from None
            raw = buf[pos:end]
            pos = end
            count += 1
            yield raw, value


def _value_at(stmt: Any, path: str) -> str | None:
    """The value a violation points at ("context.contextActivities.parent[0].id"), as text."""
    cur = stmt
    try:
        for part in path.replace("]", "").split("."):
            if not part or part == "statement":
                continue
            name, *idx = part.split("[")
            if name:
                cur = cur[name]
            for i in idx:
                cur = cur[int(i)]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if cur is None or isinstance(cur, str):
        return cur
    return json.dumps(cur, ensure_ascii=False)[:1000]


# --------------------------------------------------------------------------- Qualtrics

class QualtricsReader(SourceReader):
    """A Qualtrics CSV export (v3: three header rows, legacy: two), via ingestion.qualtrics."""

    def __init__(self, path: Path, probe: FileProbe, batch_size: int):
        from . import qualtrics  # header detection and record streaming (separate module)

        self.qualtrics = qualtrics
        self.path = path
        self.probe = probe
        self.batch_size = batch_size
        self.notes: list[str] = []
        if probe.size_bytes == 0:
            raise FileRejected("empty_file", "the file has 0 bytes")
        if probe.has_nul:
            raise FileRejected("undecodable", "NUL bytes in a text file")
        try:
            self.qheader = qualtrics.read_header(path)
        except ValueError as exc:
            raise FileRejected("unrecognised_layout", str(exc).replace(str(path), "the file")) from None
        except UnicodeDecodeError as exc:
            raise FileRejected("undecodable", f"header rows are not valid text ({exc})") from None
        self.header = list(self.qheader.columns)
        self.time_zones = dict(self.qheader.time_zones)
        self.notes.append(f"qualtrics layout={self.qheader.format}, encoding={self.qheader.encoding}")

    def batches(self) -> Iterator[RawBatch]:
        if self.probe.quote_count % 2 and unterminated_quote_at_eof(
                self.path, self.qheader.encoding, self.qheader.delimiter):
            raise FileRejected("truncated_file", "unterminated quoted field at end of file")
        cols = self.header
        pending: RawBatch | None = None
        last_short: tuple[int, str] | None = None
        seen = 0
        try:
            for records in self.qualtrics.iter_records(self.path, self.batch_size):
                if pending is not None:
                    yield pending
                rows: list[dict] = []
                ords: list[int] = []
                rejects: list[RawReject] = []
                for rec in records:
                    seen += 1
                    ordinal = int(rec["_source_row"])
                    err = rec.get("_row_error")
                    if err:
                        raw = {k: v for k, v in rec.items() if not k.startswith("_")}
                        rejects.append(RawReject(ordinal, "malformed_record", None, None,
                                                 err, json.dumps(raw, ensure_ascii=False)))
                        last_short = (ordinal, err)
                    else:
                        rows.append(rec)
                        ords.append(ordinal)
                        last_short = None
                arrays = [pa.array([r.get(c) for r in rows], pa.string()) for c in cols]
                pending = RawBatch(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(cols))]),
                                   ords, None, rejects)
        except UnicodeDecodeError as exc:
            raise FileRejected("undecodable", f"not valid {self.qheader.encoding} ({exc})") from None
        if seen == 0:
            raise FileRejected("header_only", "the export has header rows but no responses")
        if last_short is not None and "found" in last_short[1] and _fewer_fields(last_short[1]):
            raise FileRejected("truncated_file", f"last record {last_short[0]}: {last_short[1]}")
        if pending is not None:
            yield pending


def _fewer_fields(err: str) -> bool:
    """'expected 20 fields, found 7' -> True (the record is short)."""
    import re

    m = re.search(r"expected (\d+) fields, found (\d+)", err)
    return bool(m) and int(m.group(2)) < int(m.group(1))


def unterminated_quote_at_eof(path: Path, encoding: str, delimiter: str) -> bool:
    """A strict csv pass: does the file end inside a quoted field?"""
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        while True:
            try:
                next(reader)
            except StopIteration:
                return False
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    return True


# --------------------------------------------------------------------------- XLSX

class XlsxReader(SourceReader):
    """One sheet of a workbook, read-only streaming.

    The mapping's `sheet` when it names one; otherwise the first sheet whose
    header row maps to the entity's columns (workbooks often carry a cover,
    notes or pivot sheet before the data), else the first sheet.
    """

    def __init__(self, path: Path, probe: FileProbe, batch_size: int, sheet: str | None,
                 score_header: HeaderScore | None = None):
        import zipfile

        import openpyxl

        self.path = path
        self.batch_size = batch_size
        self.notes: list[str] = []
        if probe.size_bytes == 0:
            raise FileRejected("empty_file", "the file has 0 bytes")
        try:
            self.wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileRejected("unreadable", f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
        names = self.wb.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise FileRejected("missing_sheet", f"sheet {sheet!r} not in workbook (sheets: {names})")
            self.ws = self.wb[sheet]
        else:
            self.ws = self._best_sheet(score_header) if score_header is not None else self.wb.worksheets[0]
        others = [n for n in names if n != self.ws.title]
        if others:
            self.notes.append(f"sheet={self.ws.title!r}; ignored sheets: {', '.join(others)}")
        self._rows = self.ws.iter_rows(values_only=True)
        self.header = self._header_of(self._rows)
        if not self.header:
            raise FileRejected("empty_file", f"sheet {self.ws.title!r} has no header row")

    @staticmethod
    def _header_of(rows) -> list[str]:
        """The first non-empty row, trailing blank cells dropped; consumes `rows` up to it."""
        header: list[str] = []
        for row in rows:
            if row and any(v is not None and str(v).strip() for v in row):
                header = [raw_text(v).strip() if v is not None else "" for v in row]
                break
        while header and not header[-1]:
            header.pop()
        return header

    def _best_sheet(self, score_header: HeaderScore):
        best, best_score = self.wb.worksheets[0], 0
        for ws in self.wb.worksheets:
            score = score_header(self._header_of(ws.iter_rows(values_only=True, max_row=50)))
            if score > best_score:
                best, best_score = ws, score
        return best

    def batches(self) -> Iterator[RawBatch]:
        ncols = len(self.header)
        rows: list[list[str | None]] = []
        ords: list[int] = []
        rejects: list[RawReject] = []
        ordinal = 0
        try:
            for row in self._rows:
                vals = [raw_text(v) for v in row]
                if not any(v is not None and v.strip() for v in vals):
                    continue  # empty spreadsheet row
                ordinal += 1
                if len(vals) > ncols and any(v is not None and v.strip() for v in vals[ncols:]):
                    rejects.append(RawReject(ordinal, "malformed_record", None, None,
                                             f"has values beyond the {ncols} header columns",
                                             json.dumps({"_cells": vals}, ensure_ascii=False)))
                else:
                    # read-only mode omits trailing empty cells
                    rows.append((vals + [None] * ncols)[:ncols])
                    ords.append(ordinal)
                if len(rows) >= self.batch_size:
                    yield self._batch(rows, ords, rejects)
                    rows, ords, rejects = [], [], []
        finally:
            self.wb.close()
        if ordinal == 0:
            raise FileRejected("header_only", f"sheet {self.ws.title!r} has a header but no data rows")
        if rows or rejects:
            yield self._batch(rows, ords, rejects)

    def _batch(self, rows, ords, rejects) -> RawBatch:
        ncols = len(self.header)
        cols = list(zip(*rows)) if rows else [[] for _ in range(ncols)]
        arrays = [pa.array(list(c), pa.string()) for c in cols]
        return RawBatch(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(ncols)]), ords, None, rejects)


# --------------------------------------------------------------------------- Parquet

class ParquetReader(SourceReader):
    """A Parquet extract: typed columns pass to casting as they are."""

    def __init__(self, path: Path, probe: FileProbe, batch_size: int):
        self.path = path
        self.batch_size = batch_size
        self.notes: list[str] = []
        if probe.size_bytes == 0:
            raise FileRejected("empty_file", "the file has 0 bytes")
        try:
            self.dataset = pads.dataset(str(path), format="parquet")
            self.header = list(self.dataset.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileRejected("unreadable", f"not a readable Parquet file ({exc})") from None

    def batches(self) -> Iterator[RawBatch]:
        ordinal = 0
        try:
            for rb in self.dataset.to_batches(batch_size=self.batch_size):
                if rb.num_rows == 0:
                    continue
                n = rb.num_rows
                table = pa.Table.from_batches([rb]).rename_columns([f"c{i}" for i in range(rb.num_columns)])
                yield RawBatch(table, list(range(ordinal + 1, ordinal + n + 1)))
                ordinal += n
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileRejected("unreadable", f"Parquet data cannot be read after record {ordinal} ({exc})") from None
        if ordinal == 0:
            raise FileRejected("header_only", "the Parquet file has a schema but no rows")


__all__ = [
    "EMPTY_EXTRACT_RULES", "FileRejected", "RawReject", "RawBatch", "FileProbe", "probe_file", "SourceReader",
    "CsvReader", "XapiReader", "QualtricsReader", "XlsxReader", "ParquetReader", "NeedSlowPath", "iter_json_array",
    "MAX_JSON_DEPTH", "MAX_RECORD_BYTES", "DEPTH_RULE", "OVERSIZE_RECORD_RULE", "TOO_DEEP", "json_depth_exceeds",
]
