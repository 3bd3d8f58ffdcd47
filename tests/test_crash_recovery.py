"""After a crash (DECISIONS D81–D83): a run killed with ``kill -9`` never wedges the next one.

Real processes throughout: ``training-impact run`` is started in its own process group and
killed while dbt builds; the next ``training-impact run`` must mark the dead run failed,
free its ``duckdb_warehouse`` pool slot, record it as ``aborted`` in the audit ledger,
remove what it left half-written, and publish the same KPI tables as a clean run. A run
of the report alone through Dagster's API must reach the audit ledger too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("training-impact"))
COMPANY = {"employees": 300, "years": 2, "seed": 23}
RUN_TIMEOUT = 1200  # seconds; a run of this company takes 1-5 minutes on 2 busy cores


def _env(root: Path) -> dict:
    env = {**os.environ, "TI_ENV": "development", "TI_DATA_DIR": str(root),
           "DAGSTER_HOME": str(root / "dagster_home"), "TI_DBT_COLUMN_METADATA": "0"}
    env.pop("TI_RUN_LOCK_TIMEOUT", None)
    return env


def _run(root: Path, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    """``training-impact run`` in its own process group; a run that hangs is killed and fails the test."""
    process = subprocess.Popen([CLI, "run", "--data", str(root), *args], env=_env(root), cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"`training-impact run` still running after {timeout}s (wedged?)\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture(scope="module")
def landing_only(tmp_path_factory) -> Path:
    import synthetic

    root = tmp_path_factory.mktemp("crash_company") / "data"
    synthetic.generate(root, **COMPANY)
    return root


@pytest.fixture(scope="module")
def clean_run(landing_only, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "data"
    shutil.copytree(landing_only, root)
    done = _run(root)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return root


def _wait_for_line(process: subprocess.Popen, wanted, timeout: float) -> str | None:
    """The first stdout line of ``process`` for which ``wanted(line)`` is true, or None after ``timeout``."""
    import queue
    import threading

    lines: queue.Queue = queue.Queue()
    if not hasattr(process, "_reader"):
        def pump():
            for line in process.stdout:
                lines.put(line)
            lines.put(None)
        process._lines = lines
        process._reader = threading.Thread(target=pump, daemon=True)
        process._reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = process._lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            return None
        if wanted(line):
            return line
    return None


def _instance(root: Path):
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "dagster_home")))


def _pool_runs(instance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info("duckdb_warehouse")
    return {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}


def _ledger_row(root: Path, run_id: str) -> dict:
    import pyarrow.parquet as pq

    path = root / "audit" / "ledger" / "runs" / f"{run_id}.parquet"
    assert path.exists(), f"no ledger row for run {run_id}"
    return pq.read_table(path).to_pylist()[0]


def _kpi_tables(root: Path) -> dict[str, list[tuple]]:
    """Every published kpi_* mart, rows sorted, without columns that name a run, a batch or a wall-clock time
    (the audit's kpi_history is not a mart: it lists every run's publication)."""
    import duckdb

    con = duckdb.connect(str(root / "warehouse" / "training_impact.duckdb"), read_only=True)
    try:
        out = {}
        for schema, table in con.execute("select table_schema, table_name from information_schema.tables "
                                         "where table_name like 'kpi_%' and table_schema like '%marts' "
                                         "order by 2").fetchall():
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall()
                if not any(word in c for word in ("run_id", "batch", "built_at", "loaded_at", "ingested_at"))]
            select = ", ".join(f'"{c}"' for c in columns)
            out[table] = sorted(con.execute(f'select {select} from "{schema}"."{table}"').fetchall(), key=repr)
        return out
    finally:
        con.close()


def test_run_killed_during_dbt_is_recovered_by_the_next_run(landing_only, clean_run, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(landing_only, root)
    log = open(tmp_path / "killed.stderr", "w")
    killed = subprocess.Popen([CLI, "run", "--data", str(root)], env=_env(root), cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    state = {"in_dbt": False, "building": 0}

    def dbt_is_building(line: str) -> bool:  # wait until dbt is writing the warehouse
        state["in_dbt"] = state["in_dbt"] or ("training_impact_dbt" in line and "started" in line)
        state["building"] += state["in_dbt"] and " START sql " in line
        return state["building"] >= 6

    assert _wait_for_line(killed, dbt_is_building, RUN_TIMEOUT), "the run never reached the dbt build"
    os.killpg(killed.pid, signal.SIGKILL)  # kill -9 of the whole process tree, dbt included
    killed.wait(timeout=60)
    log.close()
    dead_run = json.loads((root / "run.lock").read_text())["run_id"]

    import dagster as dg

    instance = _instance(root)
    assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.STARTED
    assert dead_run in _pool_runs(instance)  # the dead run still holds the writer pool
    # What a kill during ingestion leaves: a hidden manifest temp file and a bronze file without its manifest row.
    some_bronze = next(p for p in sorted((root / "bronze" / "workers").glob("*.parquet")))
    orphan = some_bronze.with_name(f"{dead_run}__half_loaded_copy.parquet")
    shutil.copyfile(some_bronze, orphan)
    manifest_tmp = root / "bronze" / "_manifest" / f".{dead_run}__0123456789abcdef.parquet.deadbeef.tmp"
    manifest_tmp.write_bytes(b"PAR1 partial")
    instance.dispose()

    rerun = _run(root, "--lock-timeout", "30")
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]
    assert f"run {dead_run} was STARTED but its process is gone" in rerun.stdout, rerun.stdout[:3000]

    instance = _instance(root)
    dead = instance.get_run_by_id(dead_run)
    assert dead.status == dg.DagsterRunStatus.FAILURE
    assert dead.tags.get("training_impact/aborted") == "true"
    assert dead_run not in _pool_runs(instance)
    assert not _pool_runs(instance)  # nothing left claimed after the rerun either
    new_runs = [r for r in instance.get_runs() if r.run_id != dead_run]
    assert len(new_runs) == 1 and new_runs[0].status == dg.DagsterRunStatus.SUCCESS
    instance.dispose()

    aborted = _ledger_row(root, dead_run)
    assert aborted["status"] == "aborted" and aborted["published"] is False
    assert _ledger_row(root, new_runs[0].run_id)["status"] == "success"
    assert not orphan.exists() and not manifest_tmp.exists()
    assert not list((root / "bronze").rglob(".*.tmp"))

    assert _kpi_tables(root) == _kpi_tables(clean_run)


SUBSET_RUN = """
import dagster as dg
from orchestration.definitions import defs

job = defs.resolve_implicit_global_asset_job_def()
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("kpi_report")],
                                    raise_on_error=False)
print("RESULT", result.run_id, result.success)
"""


def test_report_only_run_through_dagster_writes_a_ledger_entry(clean_run):
    report = clean_run / "reports" / "kpi_report.html"
    before = report.stat().st_mtime_ns
    runs_before = set(p.stem for p in (clean_run / "audit" / "ledger" / "runs").glob("*.parquet"))
    done = subprocess.run([sys.executable, "-c", SUBSET_RUN], env=_env(clean_run), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    _, run_id, success = next(line for line in done.stdout.splitlines() if line.startswith("RESULT")).split()
    assert success == "True", done.stderr[-4000:]
    assert report.stat().st_mtime_ns != before  # a published output changed
    assert run_id not in runs_before
    row = _ledger_row(clean_run, run_id)
    assert row["status"] == "success" and row["published"] is True
    instance = _instance(clean_run)
    try:
        tags = instance.get_run_by_id(run_id).tags
    finally:
        instance.dispose()
    assert tags.get("training_impact/data_root") == str(clean_run.resolve())  # it went through the run guard


BLOCKED_RUN = """
import sys
from training_impact.pipeline import run_pipeline
from training_impact.settings import data_paths

run_pipeline(data_paths(sys.argv[1]), groups=["published"])
"""


def test_a_run_blocked_by_the_pool_says_so_and_stops_on_sigterm(tmp_path, monkeypatch):
    """A live run of another data root on the same instance holds the writer pool: the waiting run
    reports who holds it (stdout and the run's log) and a SIGTERM ends it instead of being ignored."""
    import socket
    import uuid

    import dagster as dg

    from training_impact.pipeline import prepare_dagster_home
    from training_impact.run_lock import process_start_ticks
    from training_impact.settings import data_paths

    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    prepare_dagster_home(data_paths(root))
    holder_run = str(uuid.uuid4())
    instance = _instance(root)
    instance.add_run(dg.DagsterRun(job_name="training_impact_pipeline", run_id=holder_run,
                                   status=dg.DagsterRunStatus.STARTED,
                                   tags={"training_impact/pid": str(os.getpid()),
                                         "training_impact/host": socket.gethostname(),
                                         "training_impact/pid_start_ticks": str(process_start_ticks(os.getpid())),
                                         "training_impact/data_root": str(tmp_path / "other")}))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("duckdb_warehouse")
    assert storage.claim_concurrency_slot("duckdb_warehouse", holder_run, "training_impact_dbt").is_claimed

    env = {**_env(root), "TI_POOL_WAIT_WARN_SECONDS": "3"}
    blocked = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, str(root)], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        warning = _wait_for_line(blocked, lambda line: "blocked by pool duckdb_warehouse" in line, 600)
        assert warning is not None, "no word of the blocked step on stdout"
        assert "WARNING" in warning and holder_run in warning, warning
        blocked_run = json.loads((root / "run.lock").read_text())["run_id"]
        os.kill(blocked.pid, signal.SIGTERM)
        code = blocked.wait(timeout=60)
    finally:
        if blocked.poll() is None:
            os.killpg(blocked.pid, signal.SIGKILL)
            blocked.wait()
    assert code != 0
    run = instance.get_run_by_id(blocked_run)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert any("blocked by pool duckdb_warehouse" in (e.message or "") for e in instance.all_logs(blocked_run))
    assert _pool_runs(instance) == {holder_run}  # the live holder keeps its slot; the waiter left none behind
    assert instance.get_run_by_id(holder_run).status == dg.DagsterRunStatus.STARTED
    instance.dispose()


def test_half_done_ingestion_of_a_dead_run_is_undone(tmp_path):
    """What ``kill -9`` inside ingestion leaves (ingestion/store.py writes bronze, then the manifest row;
    moves a rejected file, then writes its row) is removed, or put back in landing/ to be judged again."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from ingestion.store import Layout, append_manifest_row, write_table_atomic
    from orchestration.recovery import remove_partial_files, restore_unrecorded_rejections
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
