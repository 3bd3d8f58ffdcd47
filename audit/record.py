"""Record one run in the audit trail: ledger, KPI history, members, lineage, OpenLineage.

``record_published_run`` is called by the Dagster asset ``audit_ledger`` at the end of
every successful run (it reads the warehouse, so it runs in the writer pool);
``record_failed_run`` by the run-failure sensor under the daemon and by
``training_impact.pipeline`` for in-process runs, so blocked and failed runs are in
the ledger too (without KPI history: nothing was published).

The callers hand in ``asset_graph``, a zero-argument callable returning the Dagster asset
graph (``orchestration.asset_graph``): the audit sits below the orchestration and never
imports its definitions (tests/unit/test_layers.py). It is called only when the
OpenLineage events are built, as the definitions were imported only then before. Likewise
``column_metadata`` (optional) returns the dbt column schema and lineage stored for the code
version (``orchestration.column_metadata.load``), and ``openlineage_target`` (the settings' URL,
API key and namespace, built at the edge) says where the events go besides the audit file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from training_impact.audit import history, ledger, members, openlineage, run_lineage, store
from training_impact.settings import Parameters, Paths, Settings

Log = Callable[[str], None]
# () -> dagster AssetGraph of the definitions the run belongs to (parents of each asset).
AssetGraphSource = Callable[[], Any]


def _write_rows(target: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    table = pa.Table.from_pylist(rows, schema=schema) if rows or schema else pa.table({})
    return store.write_new(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("job_name", pa.string()), ("status", pa.string()),
    ("started_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")), ("code_version", pa.string()),
    ("dbt_manifest_hash", pa.string()), ("parameters_hash", pa.string()), ("definition_version", pa.string()),
    ("input_files", pa.int64()), ("input_rows", pa.int64()), ("checks", pa.int64()),
    ("checks_failed", pa.int64()), ("published", pa.bool_()),
])
CHECK_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("asset", pa.string()), ("check_name", pa.string()), ("passed", pa.bool_()),
    ("severity", pa.string()), ("description", pa.string()), ("evaluated_at", pa.timestamp("us")),
])
INPUT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("staging_model", pa.string()), ("family", pa.string()), ("entity", pa.string()),
    ("source_file", pa.string()), ("sha256", pa.string()), ("batch_id", pa.string()), ("size_bytes", pa.int64()),
    ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_quarantined", pa.int64()),
    ("rows_used", pa.int64()), ("loaded_at", pa.timestamp("us", tz="UTC")), ("stored_copy", pa.bool_()),
])
FINGERPRINT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("staging_model", pa.string()), ("period_column", pa.string()),
    ("month", pa.string()), ("rows", pa.int64()), ("content_hash", pa.string()),
])


def write_lineage(paths: Paths, run_id: str, manifest_path: Path) -> Path:
    """The run's dbt graph (models, sources, parents, code checksums): ``trace`` prints chains from it."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    nodes = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        fqn = node.get("fqn", [])
        nodes[uid] = {"name": node["name"], "layer": fqn[1] if len(fqn) > 2 else node["resource_type"],
                      "relation": f"{node['schema']}.{node.get('alias') or node['name']}",
                      "file": node.get("original_file_path"), "checksum": node.get("checksum", {}).get("checksum")}
    for uid, source in manifest["sources"].items():
        nodes[uid] = {"name": source["name"], "layer": "bronze", "relation": f"bronze/{source['name']}",
                      "file": source.get("original_file_path"), "checksum": None}
    parents = {uid: [p for p in manifest["parent_map"].get(uid, []) if p in nodes] for uid in nodes}
    return store.write_json(store.lineage_file(paths, run_id), {"run_id": run_id, "nodes": nodes, "parents": parents})


def keep_inputs(paths: Paths, inputs: list[dict], log: Log) -> None:
    """Copy each input's bytes into the audit store once (landing files may be replaced later)."""
    for item in inputs:
        stored = store.input_copy(paths, item["sha256"]).exists()
        if not stored:
            source = paths.landing / item["source_file"]
            if source.exists() and ledger.sha256_file(source) == item["sha256"]:
                store.keep_input_copy(paths, source, item["sha256"])
                stored = True
            else:
                log(f"audit: {item['source_file']} no longer has sha256 {item['sha256'][:12]} in landing: "
                    "not stored, that run cannot be reproduced from this store")
        item["stored_copy"] = stored


def lineage_events(paths: Paths, instance, run_id: str, job_name: str, started, ended, success: bool,
                   checks: list[dict], inputs: list[dict], extra_assets: list[dict] = (), *,
                   asset_graph: AssetGraphSource, target: openlineage.Target,
                   manifest_path: Path | None = None,
                   column_metadata: run_lineage.ColumnMetadataSource | None = None) -> list:
    """The OpenLineage events of a run, from its Dagster event log (parents from ``asset_graph()``)."""
    assets = run_lineage.asset_runs(paths, instance, run_id, ended, checks, inputs, extra_assets,
                                    asset_graph=asset_graph, names=openlineage.Names(target.namespace),
                                    manifest_path=manifest_path, column_metadata=column_metadata)
    return openlineage.run_events(run_id=run_id, job_name=job_name, started=started, ended=ended, success=success,
                                  assets=assets, namespace=target.namespace)


def _definition_version(paths: Paths) -> str:
    """The version the run's dbt build used (the warehouse's parameters), else the parameter file's."""
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
        try:
            return str(con.execute(f"select definition_version from {ledger.STAGING_SCHEMA}.stg_config__parameters")
                       .fetchone()[0])
        finally:
            con.close()
    except (duckdb.Error, TypeError):
        return Parameters().definition_version


def _ledger_row(run_id, job_name, status, started, ended, manifest_path, inputs, checks, published,
                definition_version=None) -> dict:
    return {
        "run_id": run_id, "job_name": job_name, "status": status, "started_at": started, "ended_at": ended,
        "code_version": ledger.code_version(),
        "dbt_manifest_hash": ledger.dbt_manifest_hash(manifest_path) if manifest_path else None,
        "parameters_hash": ledger.parameters_hash(),
        "definition_version": definition_version or Parameters().definition_version,
        "input_files": len({i["sha256"] for i in inputs}), "input_rows": sum(i["rows_used"] or 0 for i in inputs),
        "checks": len(checks), "checks_failed": sum(not c["passed"] for c in checks), "published": published,
    }


def record_published_run(paths: Paths, instance, run_id: str, job_name: str, manifest_path: Path,
                         log: Log = lambda message: None, *, asset_graph: AssetGraphSource,
                         openlineage_target: openlineage.Target | None = None,
                         column_metadata: run_lineage.ColumnMetadataSource | None = None,
                         duckdb_config: dict | None = None) -> dict:
    """Everything the audit keeps of a successful run; returns metadata for the Dagster asset.

    ``openlineage_target``: where the events go besides the audit file (None: the environment's
    settings); ``column_metadata``: the stored dbt column schema and lineage (orchestration/column_metadata.py);
    ``duckdb_config``: the engine's limits for the warehouse connection (``settings.duckdb_config``).
    """
    started = ledger.run_start(instance, run_id)
    store.ensure_dir(store.audit_dir(paths))
    con = duckdb.connect(str(paths.warehouse), read_only=True,
                         config=duckdb_config or {"autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False})
    try:
        inputs = ledger.run_inputs(con, paths)
        fingerprints = ledger.hr_fingerprints(con)
        folder = store.members_dir(paths, run_id)
        counts = {}
        store.write_new(folder / "members.parquet",
                        lambda tmp: counts.update(members=members.write_members(con, tmp)))
        store.write_new(folder / "records.parquet",
                        lambda tmp: counts.update(records=members.write_records(con, folder / "members.parquet", tmp)))
        member_rows, record_rows = counts["members"], counts["records"]
        ended = ledger.now()
        snapshot = history.write_snapshot(con, paths, run_id, ended)
    finally:
        con.close()
    keep_inputs(paths, inputs, log)
    checks = ledger.check_rows(instance, run_id)
    write_lineage(paths, run_id, manifest_path)
    ended = ledger.now()
    row = _ledger_row(run_id, job_name, "success", started, ended, manifest_path, inputs, checks, True,
                      _definition_version(paths))
    _write_rows(store.ledger_file(paths, "inputs", run_id), [{"run_id": run_id, **i} for i in inputs], INPUT_SCHEMA)
    _write_rows(store.ledger_file(paths, "checks", run_id), [{"run_id": run_id, **c} for c in checks], CHECK_SCHEMA)
    _write_rows(store.ledger_file(paths, "fingerprints", run_id),
                [{"run_id": run_id, **f} for f in fingerprints], FINGERPRINT_SCHEMA)
    _write_rows(store.ledger_file(paths, "runs", run_id), [row], RUN_SCHEMA)
    this_asset = {"key": "audit_ledger", "started": ended, "ended": ledger.now(), "status": "COMPLETE"}
    target = openlineage_target or openlineage.Target.from_settings(Settings.from_environment())
    events = lineage_events(paths, instance, run_id, job_name, started or ended, ended, True, checks, inputs,
                            [this_asset], asset_graph=asset_graph, target=target, manifest_path=manifest_path,
                            column_metadata=column_metadata)
    openlineage.emit(paths, events, log, target)
    log(f"audit: run {run_id} recorded ({len(inputs)} input files, {len(checks)} checks, "
        f"{member_rows} KPI members, {sum(snapshot.values())} history rows, {len(events)} OpenLineage events)")
    return {"row": row, "inputs": inputs, "checks": checks, "history_rows": snapshot, "member_rows": member_rows,
            "record_rows": record_rows, "openlineage_events": len(events)}


def record_failed_run(paths: Paths, instance, run_id: str, job_name: str, manifest_path: Path | None,
                      log: Log = lambda message: None, status: str = "failed", *,
                      asset_graph: AssetGraphSource, openlineage_target: openlineage.Target | None = None,
                      column_metadata: run_lineage.ColumnMetadataSource | None = None) -> dict | None:
    """Ledger row (status failed), checks and this batch's files for a run that did not publish.

    ``status="aborted"``: a run whose process died, recorded by the next run's recovery (orchestration/recovery.py).
    """
    if store.ledger_file(paths, "runs", run_id).exists():
        return None
    started = ledger.run_start(instance, run_id)
    checks = ledger.check_rows(instance, run_id)
    inputs = []
    folder = paths.bronze / "_manifest"
    if folder.exists() and any(folder.glob(f"{run_id}__*.parquet")):
        relation = duckdb.connect().execute(
            "select family, entity, source_file, source_sha256 as sha256, batch_id, size_bytes, rows_read, "
            "rows_loaded, rows_quarantined, rows_loaded as rows_used, finished_at as loaded_at "
            "from read_parquet(?, union_by_name = true) where status = 'loaded'",
            [str(folder / f"{run_id}__*.parquet")])
        names = [d[0] for d in relation.description]
        inputs = [{"staging_model": None, **dict(zip(names, r))} for r in relation.fetchall()]
    keep_inputs(paths, inputs, log)
    ended = ledger.now()
    row = _ledger_row(run_id, job_name, status, started, ended, manifest_path, inputs, checks, False)
    _write_rows(store.ledger_file(paths, "inputs", run_id), [{"run_id": run_id, **i} for i in inputs], INPUT_SCHEMA)
    _write_rows(store.ledger_file(paths, "checks", run_id), [{"run_id": run_id, **c} for c in checks], CHECK_SCHEMA)
    _write_rows(store.ledger_file(paths, "runs", run_id), [row], RUN_SCHEMA)
    target = openlineage_target or openlineage.Target.from_settings(Settings.from_environment())
    openlineage.emit(paths, lineage_events(paths, instance, run_id, job_name, started or ended, ended, False,
                                           checks, inputs, asset_graph=asset_graph, target=target,
                                           manifest_path=manifest_path, column_metadata=column_metadata),
                     log, target)
    log(f"audit: {status} run {run_id} recorded ({len(checks)} checks, {row['checks_failed']} failed)")
    return row


def utc_now() -> datetime:
    return datetime.now(UTC)
