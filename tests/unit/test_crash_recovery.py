"""After a crash (DECISIONS D81–D83): what a run killed inside ingestion leaves half-written is
cleaned up. A run blocked by the writer pool is tests/integration/test_crash_recovery_run.py; the
kills themselves are in the fault suite (tests/faults, `make test-faults`).
"""

from __future__ import annotations


def test_half_done_ingestion_of_a_dead_run_is_undone(tmp_path):
    """What ``kill -9`` inside ingestion leaves (ingestion/store.py writes bronze, then the manifest row;
    moves a rejected file, then writes its row) is removed, or put back in landing/ to be judged again."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from training_impact.ingestion.store import Layout, append_manifest_row, write_table_atomic
    from training_impact.orchestration.recovery import remove_partial_files, restore_unrecorded_rejections
    from training_impact.settings import data_paths

    paths = data_paths(tmp_path / "data")
    layout = Layout(paths.root)
    dead, done = "dead-run", "earlier-run"
    table = pa.table({"worker_id": ["W1", "W2"]})
    kept = layout.bronze_file("workers", done, "workers_2026-10-31")
    write_table_atomic(table, kept)
    now = datetime.now(UTC)
    append_manifest_row(layout, {"batch_id": done, "source_file": "hris/workers_2026-10-31.csv",
                                 "source_sha256": "a" * 64, "size_bytes": 10, "status": "loaded",
                                 "bronze_file": layout.relative(kept), "rows_read": 2, "rows_loaded": 2,
                                 "rows_quarantined": 0, "started_at": now, "finished_at": now})
    orphan = layout.bronze_file("workers", dead, "workers_2026-11-30")  # committed, manifest row never written
    write_table_atomic(table, orphan)
    manifest_tmp = layout.manifest_dir / f".{dead}__0123456789abcdef.parquet.1a2b3c4d.tmp"
    manifest_tmp.write_bytes(b"PAR1")
    set_aside = layout.rejected_file(dead, "lms/enrollments_2026-11-30.csv")  # moved, row never written
    set_aside.parent.mkdir(parents=True)
    set_aside.write_text("worker_id\n")
    set_aside.with_name(set_aside.name + ".reason.txt").write_text("reason: empty\n")

    notes: list[str] = []
    removed = remove_partial_files(paths, log=notes.append)
    restored = restore_unrecorded_rejections(paths, dead, log=notes.append)
    assert not orphan.exists() and not manifest_tmp.exists() and kept.exists()
    assert sorted(removed) == sorted([layout.relative(orphan), layout.relative(manifest_tmp)])
    assert (paths.landing / "lms" / "enrollments_2026-11-30.csv").read_text() == "worker_id\n"
    assert not set_aside.exists() and not set_aside.with_name(set_aside.name + ".reason.txt").exists()
    assert restored and len(notes) == 3, notes
