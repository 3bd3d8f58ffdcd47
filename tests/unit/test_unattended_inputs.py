"""Unattended nights (issue 13): inputs and disks that used to stop a whole family or a whole run.

- a JSON record nested past the parser's recursion limit is quarantined by name (file, line,
  rule), the other lines and files of the family load, the manifest has its row;
- an undecodable file and an oversize file are rejected with a reason, an oversize record
  is quarantined;
- a full disk is a DiskSpaceError naming the path, the space needed and the space free
  (a real 1 MB tmpfs when this process may mount one), and `ensure_free_space` checks first;
- a symlink, a dangling symlink and a FIFO in landing/ are set aside with a reason, never
  opened or followed, the rest of HRIS loads, and the next run does not trip on them;
- 1900-01-01 dates are quarantined as `implausible_date:<column>` (the bad-input catalogue
  holds the per-entity cases: hris-20, performance-11, lms-13, lms-14).

Real ingestion, real GX suites; nothing of Dagster, dbt or GX is mocked.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training_impact import ingestion
from repo_paths import REPO_ROOT
from ingest_support import ingest_family, ingest_file
from training_impact.expectations.gate import evaluate_gate
from training_impact.ingestion.engine import IngestLimits
from training_impact.ingestion.store import AtomicParquetWriter
from training_impact import disk
from training_impact.settings import load_parameters

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "bad_inputs"
PARAMS = load_parameters()
GOOD = json.loads((FIXTURES / "lms" / "xapi_mixed_lines.ndjson").read_text(encoding="utf-8").splitlines()[0])


def statement(i: int, **extra) -> dict:
    s = json.loads(json.dumps(GOOD))
    s["id"] = f"7c1a3c7e-0000-4000-8000-{i:012d}"
    s.update(extra)
    return s


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def with_deep_extension(i: int, levels: int) -> str:
    text = json.dumps(statement(i))
    return text[:-1] + ', "context": {"extensions": {"https://lms.example.org/x/deep": ' + deep(levels) + "}}}"


def land(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / "landing" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def by_file(report) -> dict[str, ingestion.FileReport]:
    return {f.source_file: f for f in report.files}


def quarantine_rows(root: Path, fr) -> list[dict]:
    return pq.read_table(root / fr.quarantine_file).to_pylist()


def all_reconciled(root: Path, batch: str) -> bool:
    entries = ingestion.reconcile_batch(root, batch)
    assert entries, "no manifest rows for the batch"
    assert all(e["ok"] for e in entries), [e for e in entries if not e["ok"]]
    return True


# ----------------------------------------------------------------------------- JSON nesting depth

def test_deeply_nested_xapi_line_is_quarantined_and_the_family_loads(tmp_path: Path):
    root = tmp_path / "data"
    lines = [json.dumps(statement(1)), with_deep_extension(2, 5000), json.dumps(statement(3)),
             with_deep_extension(4, 100), json.dumps(statement(5))]
    land(root, "lms/xapi/statements_2026-09-01.ndjson", "\n".join(lines) + "\n")
    land(root, "lms/xapi/statements_2026-09-02.ndjson", json.dumps(statement(6)) + "\n")
    # a JSON array (an LRS export) with an element too deep for the parser between two good ones
    array = "[" + ",".join([json.dumps(statement(7)), '{"id": "x", "deep": ' + deep(5000) + "}",
                            json.dumps(statement(8))]) + "]"
    land(root, "lms/xapi/statements_2026-09-03.json", array)

    files = by_file(ingest_family("lms", root, "b1", references={}))

    nd = files["lms/xapi/statements_2026-09-01.ndjson"]
    assert (nd.status, nd.rows_read, nd.rows_loaded, nd.rows_quarantined) == ("loaded", 5, 3, 2)
    assert nd.quarantine_by_rule == {"json_nesting_depth": 2}
    rows = quarantine_rows(root, nd)
    assert sorted(r["_source_row"] for r in rows) == [2, 4]
    for r in rows:
        assert r["rule"] == "json_nesting_depth" and r["_source_file"] == nd.source_file
        assert r["message"].startswith(f"{nd.source_file} record {r['_source_row']}: line {r['_source_row']} nests JSON")
        assert "deeper than 64 levels" in r["message"]
        assert json.loads(r["record_json"])["_raw_text"]          # kept as text, readable without recursion
    assert files["lms/xapi/statements_2026-09-02.ndjson"].rows_loaded == 1
    arr = files["lms/xapi/statements_2026-09-03.json"]
    assert (arr.status, arr.rows_read, arr.rows_loaded, arr.quarantine_by_rule) == ("loaded", 3, 2,
                                                                                     {"json_nesting_depth": 1})
    assert "array element 2" in quarantine_rows(root, arr)[0]["message"]
    bronze_ids = pq.read_table(root / nd.bronze_file)["statement_id"].to_pylist()
    assert bronze_ids == [statement(i)["id"] for i in (1, 3, 5)]

    manifest = {r["source_file"]: r for r in ingestion.read_manifest(root).to_pylist()}
    assert manifest[nd.source_file]["rows_quarantined"] == 2 and manifest[nd.source_file]["status"] == "loaded"
    assert all_reconciled(root, "b1")


def test_max_json_depth_is_configurable():
    assert IngestLimits.from_parameters(PARAMS).max_json_depth == PARAMS["ingestion"]["max_json_depth"]
    limits = IngestLimits.from_parameters({"ingestion": {"max_json_depth": 8, "max_record_mb": 1, "max_file_mb": 2}})
    assert (limits.max_json_depth, limits.max_record_bytes, limits.max_file_bytes) == (8, 1 << 20, 2 << 20)


def test_a_shallower_limit_quarantines_what_the_default_loads(tmp_path: Path):
    root = tmp_path / "data"
    land(root, "lms/xapi/statements_2026-09-01.ndjson",
         with_deep_extension(1, 20) + "\n" + json.dumps(statement(2)) + "\n")
    fr = ingest_family("lms", root, "b1", references={},
                                 limits=IngestLimits(max_json_depth=16)).files[0]
    assert (fr.rows_loaded, fr.quarantine_by_rule) == (1, {"json_nesting_depth": 1})
    assert "deeper than 16 levels" in quarantine_rows(root, fr)[0]["message"]


# ----------------------------------------------------------------------------- undecodable, oversize

def test_undecodable_json_array_is_rejected_with_file_and_record(tmp_path: Path):
    """A UTF-8 BOM, then bytes that are not UTF-8: the text reader raised UnicodeDecodeError through
    the family; now the file is set aside with the rule and where the reading stopped."""
    root = tmp_path / "data"
    good = b",\n".join(json.dumps(statement(i)).encode() for i in range(1, 2001))   # > 1 MB: read in chunks
    bad = json.dumps(statement(9999)).encode().replace(b"completed", b"compl\xff\xfeted")
    content = b"\xef\xbb\xbf[" + good + b",\n" + bad + b"]"
    land(root, "lms/xapi/statements_2026-09-01.json", content)
    land(root, "lms/xapi/statements_2026-09-02.ndjson", json.dumps(statement(3)) + "\n")

    files = by_file(ingest_family("lms", root, "b1", references={}))

    rej = files["lms/xapi/statements_2026-09-01.json"]
    assert rej.status == "rejected", rej.reason
    assert re.match(r"undecodable: not valid utf-8-sig after array element \d{3,4} \('utf-8' codec can't decode"
                    r" byte 0xff in position \d+", rej.reason), rej.reason
    assert rej.reason.endswith("(file lms/xapi/statements_2026-09-01.json)")
    assert rej.rejected_file == "rejected/b1/lms/xapi/statements_2026-09-01.json"
    assert (root / "rejected/b1/lms/xapi/statements_2026-09-01.json.reason.txt").is_file()
    assert files["lms/xapi/statements_2026-09-02.ndjson"].rows_loaded == 1      # the family went on
    assert all_reconciled(root, "b1")


def test_oversize_file_rejected_and_oversize_record_quarantined(tmp_path: Path):
    root = tmp_path / "data"
    big_line = json.dumps(statement(2, result={"response": "x" * 5000}))
    land(root, "lms/xapi/statements_2026-09-01.ndjson",
         json.dumps(statement(1)) + "\n" + big_line + "\n" + json.dumps(statement(3)) + "\n")
    land(root, "lms/xapi/statements_2026-09-02.ndjson", "\n".join(json.dumps(statement(i)) for i in range(10, 30)))
    limits = IngestLimits(max_record_bytes=4000, max_file_bytes=9000)

    files = by_file(ingest_family("lms", root, "b1", references={}, limits=limits))

    ok = files["lms/xapi/statements_2026-09-01.ndjson"]
    assert (ok.status, ok.rows_read, ok.rows_loaded, ok.quarantine_by_rule) == ("loaded", 3, 2,
                                                                               {"oversize_record": 1})
    (row,) = quarantine_rows(root, ok)
    assert row["_source_row"] == 2 and row["rule"] == "oversize_record"
    assert f"line 2 has {len(big_line) + 1:,} bytes, above the limit of 4,000" in row["message"]
    big = files["lms/xapi/statements_2026-09-02.ndjson"]
    assert big.status == "rejected" and big.reason.startswith("oversize_file: ")
    assert "above the limit of 9,000" in big.reason and big.rejected_file
    assert all_reconciled(root, "b1")


# ----------------------------------------------------------------------------- disk space

def test_ensure_free_space(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(disk.MIN_FREE_ENV, "0")
    free = disk.ensure_free_space(tmp_path, 0, "nothing")
    assert free > 0
    # a path that does not exist yet is measured on its nearest existing parent
    assert disk.ensure_free_space(tmp_path / "not" / "yet", 1, "a new folder") > 0
    with pytest.raises(disk.DiskSpaceError) as info:
        disk.ensure_free_space(tmp_path / "bronze", free * 4, "loading hris/workers.csv")
    err = info.value
    assert str(err).startswith("not enough free disk space for loading hris/workers.csv: need ~")
    assert f"in {tmp_path / 'bronze'}" in str(err) and str(err).endswith("MB free")
    assert err.needed_bytes == free * 4 and err.free_bytes is not None and err.path == str(tmp_path / "bronze")
    assert not isinstance(err, OSError)         # never mistaken for an unreadable source file

    # the reserve ($TI_MIN_FREE_MB) is kept free on top of every estimate
    monkeypatch.setenv(disk.MIN_FREE_ENV, str(free * 2 // (1 << 20)))
    with pytest.raises(disk.DiskSpaceError, match="kept free, TI_MIN_FREE_MB"):
        disk.ensure_free_space(tmp_path, 0, "a run")
    monkeypatch.setenv(disk.MIN_FREE_ENV, "lots")
    with pytest.raises(ValueError, match="TI_MIN_FREE_MB"):
        disk.reserve_bytes()


def test_no_space_is_clear_turns_enospc_into_a_named_error(tmp_path: Path):
    target = tmp_path / "serving" / "kpi.parquet"
    with pytest.raises(disk.DiskSpaceError) as info:
        with disk.no_space_is_clear(target, "publishing the marts", 3 << 20):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value).startswith(f"no space left on device writing {target}: need ~3.0 MB, ")
    assert str(info.value).endswith("MB free (publishing the marts)")
    assert isinstance(info.value.__cause__, OSError)
    # a library that keeps only the text (Arrow, SQLite) is recognised too
    assert disk.is_no_space(OSError("IOError: [errno 28] Error writing bytes to file"))
    assert disk.is_no_space(Exception("database or disk is full"))
    # any other error passes through untouched
    with pytest.raises(PermissionError):
        with disk.no_space_is_clear(target, "x"):
            raise PermissionError(errno.EACCES, "Permission denied")


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 1 MB tmpfs (needs root or CAP_SYS_ADMIN); skipped where mounting is not allowed."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a small real filesystem")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): ENOSPC not reproducible")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _incompressible_workers(n: int) -> str:
    header = "worker_id,first_name,last_name,email,hire_date,fte_pct,termination_reason\n"
    rows = (f"W{i:06d},A,B,a{i}@example.org,2020-01-05,100,{base64.b64encode(os.urandom(60)).decode()}\n"
            for i in range(n))
    return header + "".join(rows)


def test_full_disk_while_writing_bronze_names_the_path(tmp_path: Path, tiny_disk: Path, monkeypatch):
    """Bronze on a 1 MB filesystem. The free-space check refuses first; with the check out of the
    way (a file smaller than what it writes), the real ENOSPC surfaces as a DiskSpaceError naming
    the bronze file, and nothing half-written stays behind."""
    monkeypatch.setenv(disk.MIN_FREE_ENV, "0")
    root = tmp_path / "data"
    (root / "bronze").parent.mkdir(parents=True, exist_ok=True)
    (root / "bronze").symlink_to(tiny_disk, target_is_directory=True)
    land(root, "hris/workers_2026-10-31.csv", _incompressible_workers(25_000))   # ~2.9 MB, ~1.6 MB of it random

    with pytest.raises(disk.DiskSpaceError) as before:
        ingest_family("hris", root, "b1", references={})
    assert str(before.value).startswith("not enough free disk space for loading hris/workers_2026-10-31.csv")
    assert f"in {root / 'bronze'}" in str(before.value)

    import training_impact.ingestion.engine as engine

    monkeypatch.setattr(engine, "ensure_free_space", lambda *args, **kwargs: 0)   # only the pre-check
    with pytest.raises(disk.DiskSpaceError) as during:
        ingest_family("hris", root, "b2", references={})
    message = str(during.value)
    assert message.startswith(f"no space left on device writing {root / 'bronze'}/")
    assert "b2__workers_2026-10-31.parquet" in message and "MB free" in message and "need ~" in message
    assert disk.is_no_space(during.value.__cause__)
    assert not [p for p in tiny_disk.rglob("*") if p.is_file() and "b2__" in p.name]   # temp files removed


def test_full_disk_writing_parquet_directly(tiny_disk: Path):
    """AtomicParquetWriter on a full filesystem: the Arrow IOError becomes a named DiskSpaceError."""
    table = pa.table({"x": pa.array([os.urandom(64).hex() for _ in range(20_000)])})
    final = tiny_disk / "entity" / "batch__file.parquet"
    writer = AtomicParquetWriter(final, table.schema, expected_bytes=2 << 20)
    with pytest.raises(disk.DiskSpaceError, match=rf"^no space left on device writing {final}: need ~2\.0 MB"):
        try:
            writer.write(table)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    assert not final.exists() and not list(final.parent.glob(".*.tmp"))


# ----------------------------------------------------------------------------- special files in landing

def test_symlink_and_fifo_in_landing_are_set_aside_and_hris_loads(tmp_path: Path):
    root = tmp_path / "data"
    hris = root / "landing" / "hris"
    hris.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "_base" / "hris" / "workers_2026-09-30.csv", hris / "workers_2026-09-30.csv")
    outside = tmp_path / "elsewhere" / "workers.csv"
    outside.parent.mkdir()
    outside.write_text("not for us\n")
    os.symlink(outside, hris / "workers_2026-10-31.csv")             # points outside landing/
    os.symlink("/nonexistent/x.csv", hris / "workers_2026-11-30.csv")  # dangling
    os.mkfifo(hris / "job_history_2026-10-31.csv")                    # opening it would block forever

    report = ingest_family("hris", root, "b1")

    files = by_file(report)
    assert files["hris/workers_2026-09-30.csv"].status == "loaded"
    assert files["hris/workers_2026-09-30.csv"].rows_loaded == 5
    special = {rel: f for rel, f in files.items() if f.status == "rejected"}
    assert set(special) == {"hris/workers_2026-10-31.csv", "hris/workers_2026-11-30.csv",
                            "hris/job_history_2026-10-31.csv"}
    assert special["hris/workers_2026-10-31.csv"].reason == (
        f"not_a_regular_file: a symbolic link to {outside}, never followed (file hris/workers_2026-10-31.csv)")
    assert special["hris/job_history_2026-10-31.csv"].reason.startswith("not_a_regular_file: a FIFO (named pipe)")
    for rel, f in special.items():
        moved = root / "rejected" / "b1" / rel
        assert f.rejected_file == f"rejected/b1/{rel}" and os.path.lexists(moved)
        assert not os.path.lexists(root / "landing" / rel)
        note = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
        assert f"file: {rel}" in note and "not_a_regular_file" in note
    assert (root / "rejected/b1/hris/workers_2026-10-31.csv").is_symlink()     # moved as the link it was
    assert outside.read_text() == "not for us\n"                                # the target was never touched
    assert all_reconciled(root, "b1")

    # a symlink, a FIFO: set aside and reported, a warning; not a lost delivery that blocks the marts
    outcome = evaluate_gate("hris", [f.to_dict() for f in report.files if f.entity == "job_history"], PARAMS,
                            entity="job_history")
    assert not outcome.blocking
    assert outcome.failures[0].startswith("hris/job_history_2026-10-31.csv: not_a_regular_file: a FIFO")

    # the next night: nothing left to trip on, nothing rejected again
    again = ingest_family("hris", root, "b2")
    assert [(f.source_file, f.status) for f in again.files] == [("hris/workers_2026-09-30.csv", "duplicate")]


def test_a_special_file_passed_directly_is_set_aside_not_raised(tmp_path: Path):
    root = tmp_path / "data"
    (root / "landing" / "performance").mkdir(parents=True)
    fifo = root / "landing" / "performance" / "ratings_2026-09.csv"
    os.mkfifo(fifo)
    fr = ingest_file(fifo, root, "b1")
    assert fr.status == "rejected" and fr.entity == "ratings"
    assert fr.reason == "not_a_regular_file: a FIFO (named pipe) (file performance/ratings_2026-09.csv)"
    assert ingestion.landing_freshness(root, "ratings")["files"] == 0


# ----------------------------------------------------------------------------- plausible dates

def test_1900_dates_are_quarantined_by_name(tmp_path: Path):
    root = tmp_path / "data"
    land(root, "hris/workers_2026-09-30.csv", (FIXTURES / "_base/hris/workers_2026-09-30.csv").read_text())
    land(root, "lms/programs_2026-09-30.csv", (FIXTURES / "_base/lms/programs_2026-09-30.csv").read_text())
    land(root, "performance/ratings_2026-09.csv", (FIXTURES / "performance/implausible_date.csv").read_text())
    land(root, "lms/enrollments_2026-10-31.csv", (FIXTURES / "lms/implausible_enrolment.csv").read_text())
    files = {}
    for family in ("hris", "lms", "performance"):
        files.update(by_file(ingest_family(family, root, "b1")))

    rating = files["performance/ratings_2026-09.csv"]
    assert (rating.rows_loaded, rating.quarantine_by_rule) == (2, {"implausible_date:evaluation_date": 1})
    (row,) = quarantine_rows(root, rating)
    assert (row["_source_row"], row["column"], row["value"]) == (2, "evaluation_date", "1900-01-01")
    assert row["message"].startswith("performance/ratings_2026-09.csv record 2: is before 2000-01-01")

    enrolment = files["lms/enrollments_2026-10-31.csv"]
    assert enrolment.quarantine_by_rule == {"implausible_date:enrolled_at": 1, "implausible_date:started_at": 1}
    rows = quarantine_rows(root, enrolment)
    assert {(r["_source_row"], r["column"], r["value"]) for r in rows} == {
        (2, "enrolled_at", "1900-01-01"), (2, "started_at", "1900-01-01")}
    assert "E0002" not in pq.read_table(root / enrolment.bronze_file)["enrollment_id"].to_pylist()
    assert all_reconciled(root, "b1")


def test_plausible_max_follows_the_run_date():
    import datetime as dt

    import pandas as pd

    from training_impact.expectations.validate import validate_rows

    as_of = dt.date(2026, 12, 7)
    frame = pd.DataFrame({
        "worker_id": ["W1", "W2", "W3"],
        "hire_date": pd.to_datetime(["2027-12-08", "2027-12-09", "1949-12-31"]),   # +366 days passes, +367 not
    })
    v = validate_rows("workers", frame, as_of=as_of)
    failed = v.failures[["row_index", "rule", "value"]].values.tolist()
    assert failed == [[1, "implausible_date:hire_date", "2027-12-09"], [2, "implausible_date:hire_date", "1949-12-31"]]
    assert "plausible 1950-01-01 .. 2027-12-08" in v.failures["message"][0]


@pytest.mark.parametrize("quotes", [False, True], ids=["no_line_break", "quote_never_closed"])
def test_csv_record_without_end_is_rejected_not_read_whole(tmp_path: Path, quotes: bool):
    """A CSV 'record' running on past ingestion.max_record_mb (no line break, or a quote never closed)
    rejects the file as oversize_record, naming the record; it is read line by line, never whole."""
    root = tmp_path / "data"
    header = "evaluation_id,worker_id,evaluation_date,evaluation_type,competency,rating,evaluator_id\n"
    good = "EV1,W1,2026-09-30,manager_rating,,4,W5\n"
    runaway = 'EV2,W2,2026-09-30,manager_rating,"' if quotes else "EV2,W2,2026-09-30,manager_rating,"
    land(root, "performance/ratings_2026-09.csv", header + good + runaway + "x" * 20_000)
    land(root, "performance/ratings_2026-10.csv", header + good.replace("EV1", "EV3"))
    files = by_file(ingest_family("performance", root, "b1", references={},
                                            limits=IngestLimits(max_record_bytes=8000)))
    bad = files["performance/ratings_2026-09.csv"]
    assert bad.status == "rejected", bad.reason
    assert bad.reason.startswith("oversize_record: record ") and "past 8,000 bytes without ending" in bad.reason
    assert files["performance/ratings_2026-10.csv"].rows_loaded == 1
    assert all_reconciled(root, "b1")
