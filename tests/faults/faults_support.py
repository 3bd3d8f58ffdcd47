"""Helpers of the fault-injection suite (tests/faults, `make test-faults`).

A `training-impact run --data ROOT` is started as a real process in its own process
group; its step lines (stdout), Dagster's event log (stderr) and the data root show
which stage it is in; `kill()` sends SIGKILL to the whole group (dbt included).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
# A generous bound per pipeline run, so a wedged run fails the test instead of hanging CI.
RUN_TIMEOUT = float(os.environ.get("TI_FAULTS_RUN_TIMEOUT", "600"))
FAULT_COMPANY = {"employees": 300, "years": 2, "seed": 3}
LINEAGE_COLUMNS = ("_published_run_id", "_published_at")


def cli() -> list[str]:
    script = Path(sys.executable).with_name("training-impact")
    return [str(script)] if script.exists() else [sys.executable, "-m", "training_impact.cli"]


class Run:
    """One `training-impact run` process; lines are collected as they come."""

    def __init__(self, root: Path, name: str, env: dict[str, str] | None = None):
        self.root = Path(root)
        self.name = name
        self.out: list[str] = []
        self.err: list[str] = []
        self.started = time.monotonic()
        environment = {**os.environ, "TI_ENV": "development", "PYTHONUNBUFFERED": "1", **(env or {})}
        environment.pop("DAGSTER_HOME", None)  # the data root's own instance
        environment.pop("TI_DATA_DIR", None)
        self.logs = self.root.parent / f"{self.root.name}.{name}"
        self.process = subprocess.Popen(
            # --verbose: the stages are told apart by Dagster's event log and dbt's line per model
            [*cli(), "run", "--verbose", "--data", str(self.root)], cwd=REPO_ROOT, env=environment, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, errors="replace",
        )
        self._threads = [threading.Thread(target=self._pump, args=(stream, lines, suffix), daemon=True)
                         for stream, lines, suffix in ((self.process.stdout, self.out, "out"),
                                                       (self.process.stderr, self.err, "err"))]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream, lines: list[str], suffix: str) -> None:
        with open(f"{self.logs}.{suffix}", "w") as copy:
            for line in stream:
                lines.append(line.rstrip("\n"))
                copy.write(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def text(self) -> str:
        return "\n".join(self.out) + "\n" + "\n".join(self.err)

    def stdout_has(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.out))

    def stderr_has(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.err))

    def wait_until(self, predicate: Callable[[], bool], timeout: float = RUN_TIMEOUT, poll: float = 0.005) -> bool:
        """True once predicate() holds while the run is still alive; False if it ended first or timed out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return self.process.poll() is None
            if self.process.poll() is not None:
                return False
            time.sleep(poll)
        return False

    def kill(self) -> None:
        """SIGKILL to the whole process group: the CLI, Dagster's in-process steps, dbt."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self._join()

    def finish(self, timeout: float = RUN_TIMEOUT) -> int | None:
        """The exit code, or None after killing a run that did not end within timeout."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._join()
        return code

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)

    def tail(self, lines: int = 25) -> str:
        interesting = [line for line in self.out + self.err if not re.match(r"^\d+ of \d+ ", line)]
        return "\n".join(interesting[-lines:])


def dagster_instance(root: Path):
    """The data root's own Dagster instance (runs, event log, the writer pool)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(Path(root) / "dagster_home")))


def pool_runs(instance) -> set[str]:
    """Runs holding or waiting for a slot of the warehouse writer pool."""
    info = instance.event_log_storage.get_concurrency_info("duckdb_warehouse")
    return {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}


def ledger_row(root: Path, run_id: str) -> dict:
    import pyarrow.parquet as pq

    path = Path(root) / "audit" / "ledger" / "runs" / f"{run_id}.parquet"
    assert path.exists(), f"no ledger row for run {run_id}"
    return pq.read_table(path).to_pylist()[0]


def copy_root(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def _norm(value):
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.9g}")
    return value


def _rows(con, relation: str, exclude: tuple[str, ...]) -> list[tuple]:
    columns = [row[0] for row in con.execute(f"describe select * from {relation}").fetchall()]
    keep = ", ".join(f'"{c}"' for c in columns if c not in exclude)
    return sorted((tuple(_norm(v) for v in row) for row in con.execute(f"select {keep} from {relation}").fetchall()),
                  key=repr)


def served_state(root: Path) -> dict:
    """What BI reads, without run ids and timestamps: every reporting table of the serving DuckDB file
    (kpi_* and publish_info) and every Parquet file. Also asserts the set is one publish."""
    serving = Path(root) / "serving"
    state: dict = {"duckdb": {}, "parquet": {}}
    run_ids: set = set()
    with duckdb.connect(str(serving / "training_impact.duckdb"), read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'reporting' order by 1").fetchall()]
        for table in tables:
            relation = f'reporting."{table}"'
            if table == "publish_info":
                state["duckdb"][table] = _rows(con, relation, ("run_id", "published_at"))
                run_ids |= {r[0] for r in con.execute(f"select distinct run_id from {relation}").fetchall()}
            else:
                state["duckdb"][table] = _rows(con, relation, LINEAGE_COLUMNS)
                run_ids |= {r[0] for r in con.execute(f"select distinct _published_run_id from {relation}").fetchall()}
    with duckdb.connect() as con:
        for path in sorted((serving / "parquet").glob("*.parquet")):
            relation = f"read_parquet('{path}')"
            if path.stem == "publish_info":
                state["parquet"][path.stem] = _rows(con, relation, ("run_id", "published_at"))
                run_ids |= {r[0] for r in con.execute(f"select distinct run_id from {relation}").fetchall()}
            else:
                state["parquet"][path.stem] = _rows(con, relation, LINEAGE_COLUMNS)
                run_ids |= {r[0] for r in con.execute(f"select distinct _published_run_id from {relation}").fetchall()}
    assert len(run_ids) == 1, f"the serving set of {root} mixes publishes: {sorted(run_ids)}"
    state["run_id"] = run_ids.pop()
    return state


def warehouse_kpis(root: Path) -> dict:
    with duckdb.connect(str(Path(root) / "warehouse" / "training_impact.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main_marts' "
            "and table_name like 'kpi%' order by 1").fetchall()]
        return {t: _rows(con, f'main_marts."{t}"', ()) for t in tables}


def assert_same_as_clean(root: Path, clean: dict) -> None:
    state = served_state(root)
    assert set(state["duckdb"]) == set(clean["duckdb"]), "serving DuckDB tables differ from a clean run"
    for table, rows in clean["duckdb"].items():
        assert state["duckdb"][table] == rows, f"serving DuckDB reporting.{table} differs from a clean run"
    assert set(state["parquet"]) == set(clean["parquet"]), "Parquet files differ from a clean run"
    for table, rows in clean["parquet"].items():
        assert state["parquet"][table] == rows, f"Parquet {table} differs from a clean run"


def manifest_rows(root: Path) -> list[dict]:
    folder = Path(root) / "bronze" / "_manifest"
    if not any(folder.glob("*.parquet")):
        return []
    with duckdb.connect() as con:
        relation = con.execute("select * from read_parquet(?, union_by_name = true)", [str(folder / "*.parquet")])
        names = [d[0] for d in relation.description]
        return [dict(zip(names, row)) for row in relation.fetchall()]


def assert_loaded_exactly_once(root: Path, clean_manifest: list[dict]) -> None:
    """Every landing file the clean run loaded is loaded once here: one `loaded` manifest row, one bronze
    file holding its rows, no bronze or quarantine file of a batch the manifest does not record.

    A file is its path and its bytes: identical files under two names (empty monthly extracts) are two files.
    """
    root = Path(root)
    rows = manifest_rows(root)
    loaded: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        if row["status"] == "loaded":
            loaded.setdefault((row["source_file"], row["source_sha256"]), []).append(row)
    twice = {key[0]: [r["batch_id"] for r in found] for key, found in loaded.items() if len(found) > 1}
    assert not twice, f"landing files loaded more than once (file: batches): {twice}"
    expected = {(r["source_file"], r["source_sha256"]) for r in clean_manifest if r["status"] == "loaded"}
    assert set(loaded) == expected, (
        f"loaded files differ from a clean run: missing {sorted(expected - set(loaded))[:5]}, "
        f"extra {sorted(set(loaded) - expected)[:5]}")
    bronze_files = {str(p.relative_to(root)) for p in (root / "bronze").glob("*/*.parquet")
                    if not p.parent.name.startswith("_")}
    recorded = {r[0]["bronze_file"] for r in loaded.values() if r[0]["bronze_file"]}
    assert bronze_files == recorded, (
        f"bronze files without a loaded manifest row (a killed batch?): {sorted(bronze_files - recorded)[:5]}; "
        f"manifest rows without their bronze file: {sorted(recorded - bronze_files)[:5]}")
    with duckdb.connect() as con:
        counts = {(f, sha): n for f, sha, n in con.execute(
            "select _source_file, _source_sha256, count(*) from read_parquet(?, union_by_name = true) group by all",
            [sorted(str(root / name) for name in bronze_files)]).fetchall()} if bronze_files else {}
    for key, (row, *_) in loaded.items():
        assert counts.get(key, 0) == row["rows_loaded"], (
            f"{row['source_file']}: {counts.get(key, 0)} bronze rows, manifest says {row['rows_loaded']}")
    batches = {(r[0]["batch_id"], Path(r[0]["source_file"]).stem) for r in loaded.values()}
    for path in (root / "bronze" / "_quarantine").glob("*/*.parquet"):
        batch, _, stem = path.stem.partition("__")
        assert (batch, stem) in batches, f"quarantine file of an unrecorded batch: {path.relative_to(root)}"


class Tmpfs:
    """A small tmpfs (root only); `skip_reason` is set when mounting is not allowed here."""

    def __init__(self, where: Path, megabytes: int):
        self.where = Path(where)
        self.where.mkdir(parents=True, exist_ok=True)
        self.mounted = False
        self.skip_reason = None
        if os.geteuid() != 0:
            self.skip_reason = "mounting a tmpfs needs root"
            return
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs",
                                 str(self.where)], capture_output=True, text=True)
        if result.returncode != 0:
            self.skip_reason = f"mount -t tmpfs refused: {result.stderr.strip() or result.returncode}"
        else:
            self.mounted = True

    def free_bytes(self) -> int:
        stats = os.statvfs(self.where)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave_bytes: int = 0, name: str = "filler") -> Path:
        """Write a filler file until only about leave_bytes are free."""
        filler = self.where / name
        chunk = b"\0" * (1 << 20)
        with open(filler, "ab") as handle:
            while True:
                room = self.free_bytes() - leave_bytes
                if room <= 0:
                    break
                try:
                    handle.write(chunk[: min(len(chunk), room)])
                    handle.flush()
                except OSError:
                    break
        return filler

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.where)], capture_output=True)
            if os.path.ismount(self.where):
                subprocess.run(["umount", "-l", str(self.where)], capture_output=True)
            self.mounted = False
