"""Serving DuckDB file and Parquet: atomic swap, stable schemas, failures leave the old set (no pipeline run)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from publishing_support import FAKE_CONTRACTS, write_fake_manifest, write_fake_warehouse

from training_impact.publishing import ContractError, load_mart_contracts, publish
from training_impact.publishing.serving import PUBLISH_INFO, parquet_dir, serving_file


@pytest.fixture
def fake(tmp_path):
    manifest = write_fake_manifest(tmp_path / "manifest.json")
    warehouse = write_fake_warehouse(tmp_path / "warehouse" / "training_impact.duckdb")
    return manifest, warehouse, tmp_path / "serving"


def _ids(con) -> set[str]:
    ids = set()
    for name in FAKE_CONTRACTS:
        ids |= {row[0] for row in con.execute(f"select distinct _published_run_id from reporting.{name}").fetchall()}
    return ids | {row[0] for row in con.execute("select distinct run_id from reporting.publish_info").fetchall()}


def _leftovers(directory) -> list:
    return sorted(p.name for p in directory.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".wal"))


def test_contracts_come_from_the_manifest_in_contract_order(fake):
    manifest, _, _ = fake
    contracts = load_mart_contracts(manifest)
    assert [mart.name for mart in contracts] == ["kpi_alpha", "kpi_beta"]
    assert [(c.name, c.data_type) for c in contracts[0].columns] == FAKE_CONTRACTS["kpi_alpha"]
    assert [c.name for c in contracts[0].served_columns][-2:] == ["_published_run_id", "_published_at"]


def test_every_real_mart_has_a_typed_contract():
    from training_impact.orchestration.defs.dbt import dbt_project  # parses the dbt project when its manifest is stale

    contracts = load_mart_contracts(dbt_project.manifest_path)
    names = {mart.name for mart in contracts}
    assert {"kpi_summary", "kpi_completion_rate", "kpi_productivity_change", "kpi_roi",
            "kpi_impact_event_study"} <= names
    for mart in contracts:
        for column in mart.columns:
            assert column.postgres_type and column.data_type, (mart.name, column)


def test_publish_writes_serving_file_and_parquet_with_contract_types(fake):
    manifest, warehouse, directory = fake
    report = publish(warehouse, directory, "run-a", manifest_path=manifest)

    assert report.row_counts == {"kpi_alpha": 2, "kpi_beta": 5}
    with duckdb.connect(str(serving_file(directory)), read_only=True) as con:
        described = con.execute("describe reporting.kpi_alpha").fetchall()
        assert [(row[0], row[1]) for row in described] == [
            ("kpi", "VARCHAR"), ("program_type", "VARCHAR"), ("evaluation_level", "INTEGER"), ("n", "BIGINT"),
            ("estimate", "DOUBLE"), ("suppressed", "BOOLEAN"), ("_published_run_id", "VARCHAR"),
            ("_published_at", "TIMESTAMP"),
        ]
        assert _ids(con) == {"run-a"}
        assert con.execute("select mart, row_count from reporting.publish_info order by mart").fetchall() == [
            ("kpi_alpha", 2), ("kpi_beta", 5)]
        comment = con.execute("select comment from duckdb_columns() where table_name = 'kpi_alpha' "
                              "and column_name = 'estimate'").fetchone()[0]
        assert comment == "estimate of kpi_alpha"
    schema = pq.read_schema(parquet_dir(directory) / "kpi_alpha.parquet")
    assert [(f.name, f.type) for f in schema] == [
        ("kpi", pa.string()), ("program_type", pa.string()), ("evaluation_level", pa.int32()), ("n", pa.int64()),
        ("estimate", pa.float64()), ("suppressed", pa.bool_()), ("_published_run_id", pa.string()),
        ("_published_at", pa.timestamp("us")),
    ]
    assert all(field.nullable for field in schema)
    assert (parquet_dir(directory) / f"{PUBLISH_INFO}.parquet").exists()
    assert pq.read_table(parquet_dir(directory) / "kpi_beta.parquet").column("estimate").to_pylist() == [
        0.0, 1.0, 2.0, 3.0, 4.0]
    assert _leftovers(directory) == []


def test_parquet_schema_is_stable_when_nulls_appear(fake):
    """DuckDB would mark a null-free column REQUIRED; the served schema must not change with the data."""
    manifest, warehouse, directory = fake
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    before = {p.name: pq.read_schema(p) for p in parquet_dir(directory).glob("*.parquet")}
    write_fake_warehouse(warehouse, version=2, with_nulls=True)
    publish(warehouse, directory, "run-b", manifest_path=manifest)
    after = {p.name: pq.read_schema(p) for p in parquet_dir(directory).glob("*.parquet")}
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].equals(after[name], check_metadata=True), name
    rows = pq.read_table(parquet_dir(directory) / "kpi_alpha.parquet").to_pylist()
    assert {row["_published_run_id"] for row in rows} == {"run-b"}
    assert any(row["estimate"] is None for row in rows)


def test_reader_holding_the_old_file_keeps_its_snapshot_and_never_blocks(fake):
    manifest, warehouse, directory = fake
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    # A separate process stands in for a BI tool (DuckDB caches one instance per path within a process).
    import subprocess
    import sys

    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "q = \"select (select string_agg(distinct _published_run_id) from reporting.kpi_alpha) || '/' || "
        "(select string_agg(distinct _published_run_id) from reporting.kpi_beta)\"\n"
        "print(con.execute(q).fetchone()[0], flush=True)\n"
        "sys.stdin.readline()\n"
        "print(con.execute(q).fetchone()[0], flush=True)\n"
        "con.close()\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(con.execute(q).fetchone()[0], flush=True)\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", script, str(serving_file(directory))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "run-a/run-a"
        write_fake_warehouse(warehouse, version=2)
        publish(warehouse, directory, "run-b", manifest_path=manifest)  # while the reader holds the file open
        out, _ = reader.communicate("\n", timeout=60)
    finally:
        reader.kill()
    assert out.split() == ["run-a/run-a", "run-b/run-b"]
    assert reader.returncode == 0


def test_missing_mart_fails_and_leaves_the_old_set(fake):
    manifest, warehouse, directory = fake
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    before = serving_file(directory).read_bytes()
    parquet_before = {p.name: p.read_bytes() for p in parquet_dir(directory).glob("*.parquet")}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table main_marts.kpi_beta")
    with pytest.raises(ContractError, match="kpi_beta"):
        publish(warehouse, directory, "run-b", manifest_path=manifest)
    assert serving_file(directory).read_bytes() == before
    assert {p.name: p.read_bytes() for p in parquet_dir(directory).glob("*.parquet")} == parquet_before
    assert _leftovers(directory) == []


def test_contract_drift_fails_the_publish(fake):
    manifest, warehouse, directory = fake
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table main_marts.kpi_beta add column surprise integer")
    with pytest.raises(ContractError, match="surprise"):
        publish(warehouse, directory, "run-a", manifest_path=manifest)
    assert not serving_file(directory).exists()


def test_temporaries_of_an_interrupted_publish_are_removed(fake):
    manifest, warehouse, directory = fake
    (directory / "parquet").mkdir(parents=True)
    (directory / ".training_impact.duckdb.crashed.tmp").write_bytes(b"half")
    (directory / "parquet" / ".kpi_alpha.parquet.crashed.tmp").write_bytes(b"half")
    publish(warehouse, directory, "run-a", manifest_path=manifest)
    assert _leftovers(directory) == []


def test_published_marts_asset_waits_for_every_mart_and_shares_the_pool():
    import dagster as dg

    from training_impact.orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey("published_marts")
    node = graph.get(key)
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts" and k.path[-1].startswith("kpi_")}
    assert marts and marts <= set(node.parent_keys)
    assert node.group_name == "published"
    assert graph.assets_def_for_key(key).op.pool == "duckdb_warehouse"
    assert dg.AssetKey(["bronze", "workers"]) in graph.get_ancestor_asset_keys(key)  # so a failed gate skips it
