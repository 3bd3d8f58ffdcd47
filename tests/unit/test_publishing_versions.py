"""Versioned serving set (D90–D92): one symlink switch, readers never see a mix, crashes leave the old set.

No pipeline run: a tiny fake warehouse stands in for dbt's marts. Crashes are real
`kill -9`s of a separate process doing the publish.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from publishing_support import FAKE_CONTRACTS, write_fake_manifest, write_fake_warehouse
from repo_paths import REPO_ROOT

from training_impact.publishing import publish
from training_impact.publishing.serving import (
    CURRENT_LINK,
    PUBLISH_INFO,
    current_version,
    parquet_dir,
    published_versions,
    serving_file,
    versions_dir,
)

TESTS = REPO_ROOT / "tests"


@pytest.fixture
def fake(tmp_path):
    manifest = write_fake_manifest(tmp_path / "manifest.json")
    warehouse = write_fake_warehouse(tmp_path / "warehouse" / "training_impact.duckdb")
    return manifest, warehouse, tmp_path / "serving"


def _set_ids(folder: Path) -> set[str]:
    """Every run id in one version folder: the DuckDB tables, publish_info and each Parquet file."""
    ids = set()
    with duckdb.connect(str(folder / "training_impact.duckdb"), read_only=True) as con:
        for name in FAKE_CONTRACTS:
            ids |= {r[0] for r in con.execute(f"select distinct _published_run_id from reporting.{name}").fetchall()}
        ids |= {r[0] for r in con.execute("select distinct run_id from reporting.publish_info").fetchall()}
    for path in (folder / "parquet").glob("*.parquet"):
        table = pq.read_table(path)
        ids |= set(table.column("run_id" if path.stem == PUBLISH_INFO else "_published_run_id").to_pylist())
    return ids


def _hidden(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob(".*"))


def test_layout_fixed_links_through_current_and_n_versions_kept(fake, monkeypatch):
    manifest, warehouse, directory = fake
    monkeypatch.setenv("TI_SERVING_KEEP", "3")
    reports = []
    for i in range(5):
        write_fake_warehouse(warehouse, version=i + 1)
        reports.append(publish(warehouse, directory, f"run-{i}", manifest_path=manifest))
    versions = published_versions(directory)
    assert [v.name for v in versions] == [f"v{n:06d}-run-{n - 1}" for n in (3, 4, 5)]
    assert current_version(directory) == versions[-1] == reports[-1].version_dir
    assert os.readlink(directory / CURRENT_LINK) == "versions/v000005-run-4"  # relative: the folder can move
    assert os.readlink(serving_file(directory)) == "current/training_impact.duckdb"
    assert os.readlink(parquet_dir(directory)) == "current/parquet"
    assert reports[-1].removed_versions == ["v000002-run-1"]
    for version in versions:
        assert _set_ids(version) == {version.name.split("-", 1)[1]}
    # BI reads the documented paths; they show the newest set.
    with duckdb.connect(str(serving_file(directory)), read_only=True) as con:
        assert con.execute("select distinct run_id from reporting.publish_info").fetchall() == [("run-4",)]
    assert set(pq.read_table(parquet_dir(directory) / "kpi_beta.parquet").column("_published_run_id")
               .to_pylist()) == {"run-4"}
    with duckdb.connect() as con:  # DuckDB globbing through the linked folder
        assert con.execute("select count(*) from read_parquet(?)",
                           [str(parquet_dir(directory) / "kpi_*.parquet")]).fetchone()[0] == 2 + 5
    assert _hidden(directory) == []

    monkeypatch.setenv("TI_SERVING_KEEP", "1")
    publish(warehouse, directory, "run-5", manifest_path=manifest)
    assert [v.name for v in published_versions(directory)] == ["v000006-run-5"]
    monkeypatch.setenv("TI_SERVING_KEEP", "0")
    with pytest.raises(ValueError, match="TI_SERVING_KEEP"):
        publish(warehouse, directory, "run-6", manifest_path=manifest)
    assert current_version(directory).name == "v000006-run-5"


def test_pre_versioning_layout_is_taken_over(fake):
    """A serving folder from before D90 (a plain file and a plain parquet/ folder) becomes the fixed links."""
    manifest, warehouse, directory = fake
    (directory / "parquet").mkdir(parents=True)
    (directory / "parquet" / "kpi_alpha.parquet").write_bytes(b"old")
    (directory / "training_impact.duckdb").write_bytes(b"old")
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    assert serving_file(directory).is_symlink() and parquet_dir(directory).is_symlink()
    assert _set_ids(directory) == {"run-a"}
    assert _hidden(directory) == []


READER = r"""
import duckdb, json, os, sys, time
import pyarrow.parquet as pq

serving, out_path, stop_path = sys.argv[1:4]
with open(out_path, "w") as out:
    while not os.path.exists(stop_path):
        line = {"t": time.time()}
        try:
            folder = os.path.realpath(os.path.join(serving, "current"))  # resolve the pointer once
            ids = set()
            con = duckdb.connect(os.path.join(folder, "training_impact.duckdb"), read_only=True)
            marts = [r[0] for r in con.execute("select mart from reporting.publish_info").fetchall()]
            for m in marts:
                ids |= {r[0] for r in con.execute(f"select distinct _published_run_id from reporting.{m}").fetchall()}
            ids |= {r[0] for r in con.execute("select distinct run_id from reporting.publish_info").fetchall()}
            con.close()
            for name in marts + ["publish_info"]:
                table = pq.read_table(os.path.join(folder, "parquet", name + ".parquet"))
                ids |= set(table.column("run_id" if name == "publish_info" else "_published_run_id").to_pylist())
            # and the fixed path a BI tool is configured with (one file: resolved once at open)
            con = duckdb.connect(os.path.join(serving, "training_impact.duckdb"), read_only=True)
            fixed = {r[0] for r in con.execute("select distinct run_id from reporting.publish_info").fetchall()}
            con.close()
            line.update(ids=sorted(ids), fixed=sorted(fixed), version=os.path.basename(folder))
        except Exception as error:
            line["error"] = repr(error)
        out.write(json.dumps(line) + "\n")
        out.flush()
"""


def test_a_reader_resolving_current_during_publishes_sees_one_consistent_set(fake, tmp_path, monkeypatch):
    manifest, warehouse, directory = fake
    monkeypatch.setenv("TI_SERVING_KEEP", "50")  # this test is about mixing, not about readers outliving versions
    publish(warehouse, directory, "run-0", manifest_path=manifest)
    out, stop = tmp_path / "reader.jsonl", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(directory), str(out), str(stop)])
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") >= 2):
            assert reader.poll() is None and time.monotonic() < deadline, "reader did not start"
            time.sleep(0.05)
        for i in range(1, 13):
            write_fake_warehouse(warehouse, version=i + 1, with_nulls=bool(i % 2))
            publish(warehouse, directory, f"run-{i}", manifest_path=manifest)
            if i % 3 == 0:  # on a loaded machine, let the reader catch up now and then
                lines = out.read_text().count("\n")
                deadline = time.monotonic() + 30
                while out.read_text().count("\n") < lines + 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
        time.sleep(0.3)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    lines = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    assert len(lines) > 8
    errors = [line for line in lines if "error" in line]
    assert not errors, errors[:3]
    for line in lines:
        assert len(line["ids"]) == 1 and len(line["fixed"]) == 1, f"a reader saw a mix: {line}"
        assert line["version"].endswith("-" + line["ids"][0])
    seen = [int(line["ids"][0].split("-")[1]) for line in lines]
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == 12 and len(set(seen)) >= 3, seen


CRASHER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[5])
import training_impact.publishing.serving as serving

warehouse, directory, manifest, where = sys.argv[1:5]
real_write, real_swap = serving._write_parquet, serving._swap_link
written = []


def write(con, table, schema, path):
    real_write(con, table, schema, path)
    written.append(table)
    if where == "parquet" and len(written) == 1:
        print("MIDWAY", flush=True)
        time.sleep(600)


def swap(link, target):
    if where == "switch" and link.name == "current":
        print("MIDWAY", flush=True)
        time.sleep(600)
    real_swap(link, target)


serving._write_parquet, serving._swap_link = write, swap
serving.publish(warehouse, directory, "run-crash", manifest_path=manifest)
print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("where", ["parquet", "switch"])
def test_kill_9_mid_publish_leaves_the_previous_set_and_the_next_publish_succeeds(fake, where):
    """`parquet`: killed while the new version is half written; `switch`: built and renamed, not yet switched."""
    manifest, warehouse, directory = fake
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    before = current_version(directory)
    write_fake_warehouse(warehouse, version=2)
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(warehouse), str(directory), str(manifest), where, str(TESTS)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "MIDWAY"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    left = sorted(p.name for p in versions_dir(directory).iterdir())
    assert left == (["v000001-run-a", ".v000002-run-crash.tmp"][::-1] if where == "parquet"
                    else ["v000001-run-a", "v000002-run-crash"])
    # BI still sees the whole previous set through every documented path.
    assert current_version(directory) == before
    assert _set_ids(before) == {"run-a"}
    with duckdb.connect(str(serving_file(directory)), read_only=True) as con:
        assert con.execute("select distinct run_id from reporting.publish_info").fetchall() == [("run-a",)]
    assert {p.stem for p in parquet_dir(directory).glob("*.parquet")} == {*FAKE_CONTRACTS, PUBLISH_INFO}

    report = publish(warehouse, directory, "run-b", manifest_path=manifest)
    assert current_version(directory) == report.version_dir
    assert [v.name for v in published_versions(directory)] == ["v000001-run-a", "v000002-run-b"]
    assert _set_ids(report.version_dir) == {"run-b"}
    assert _hidden(directory) == []


def test_a_full_disk_fails_clearly_and_keeps_the_set(fake, tmp_path):
    """A real small tmpfs as the serving folder (root only): clear error, set intact, success once space is freed."""
    manifest, warehouse, _ = fake
    directory = tmp_path / "small"
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(directory)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        from training_impact.publishing.serving import ServingDiskFull

        publish(warehouse, directory, "run-a", manifest_path=manifest)
        filler = directory / "filler"
        with open(filler, "wb") as handle:  # fill the device
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        write_fake_warehouse(warehouse, version=2)
        with pytest.raises(ServingDiskFull, match="no space left") as caught:
            publish(warehouse, directory, "run-b", manifest_path=manifest)
        assert str(directory) in str(caught.value)
        assert current_version(directory).name == "v000001-run-a" and _set_ids(directory / "current") == {"run-a"}
        assert _hidden(directory) == []
        filler.unlink()
        report = publish(warehouse, directory, "run-c", manifest_path=manifest)
        assert _set_ids(report.version_dir) == {"run-c"}
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)
