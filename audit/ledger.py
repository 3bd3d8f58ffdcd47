"""The run ledger: what a run read, with which code and parameters, and what its checks said.

Every value comes from something the run left behind: the warehouse's staging views
(which files' rows were read, thanks to the lineage columns), the bronze load
manifest (rows read / loaded / quarantined per file), the Dagster event log (checks,
start time) and the files of the repository (code version, dbt and parameter hashes).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from training_impact.settings import REPO_ROOT, Paths, parameters_file

LINEAGE_COLUMNS = ("_source_file", "_source_sha256", "_source_row", "_batch_id", "_ingested_at")
STAGING_SCHEMA = "main_staging"
# HR snapshots restate history: their content is fingerprinted per month of this date column.
HR_PERIOD_COLUMNS = ("effective_date", "hire_date", "valid_from")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of the code (``-dirty`` when files differ from it), else the package version."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return "training-impact " + version("training-impact")
        except PackageNotFoundError:
            return "unknown"


def dbt_manifest_hash(manifest_path: Path) -> str:
    """A hash of what dbt would run: every node's SQL checksum, config and every macro.

    Not the manifest file's bytes: those change at every parse (timestamps, invocation id).
    """
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    content = {
        "nodes": {uid: [node.get("checksum", {}).get("checksum"), node.get("config", {}).get("materialized"),
                        sorted(node.get("depends_on", {}).get("nodes", []))]
                  for uid, node in manifest["nodes"].items()},
        "macros": {uid: hashlib.sha256(macro.get("macro_sql", "").encode()).hexdigest()
                   for uid, macro in manifest["macros"].items() if macro.get("package_name") == "training_impact"},
        "sources": {uid: source.get("external", {}) and source["external"].get("location")
                    for uid, source in manifest["sources"].items()},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def parameters_hash(path: Path | None = None) -> str:
    return sha256_file(path or parameters_file())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lineage_relations(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Staging relations that carry the lineage columns → their columns."""
    rows = con.execute(
        "select table_name, list(column_name order by ordinal_position) from information_schema.columns "
        "where table_schema = ? group by table_name order by table_name", [STAGING_SCHEMA]
    ).fetchall()
    return {name: columns for name, columns in rows if set(LINEAGE_COLUMNS[:4]) <= set(columns)}


def _manifest_relation(paths: Paths) -> str:
    return f"read_parquet('{(paths.bronze / '_manifest' / '*.parquet').as_posix()}', union_by_name = true)"


def run_inputs(con: duckdb.DuckDBPyConnection, paths: Paths) -> list[dict]:
    """One row per file whose rows the run's staging read, with the manifest's reconciliation."""
    relations = lineage_relations(con)
    if not relations:
        return []
    used = " union all ".join(
        f"select '{name}' as staging_model, _source_file, _source_sha256, _batch_id, count(*) as rows_used "
        f"from {STAGING_SCHEMA}.{_q(name)} group by all"
        for name in relations
    )
    manifest = _manifest_relation(paths)
    rows = con.execute(
        f"""
        with used as ({used}),
        manifest as (
            select * from {manifest} where status = 'loaded'
        )
        select used.staging_model, manifest.family, manifest.entity, used._source_file as source_file,
               used._source_sha256 as sha256, used._batch_id as batch_id, manifest.size_bytes,
               manifest.rows_read, manifest.rows_loaded, manifest.rows_quarantined, used.rows_used,
               manifest.finished_at as loaded_at
        from used
        left join manifest
            on manifest.source_sha256 = used._source_sha256 and manifest.batch_id = used._batch_id
        order by manifest.finished_at, used._source_file
        """
    ).fetchall()
    names = ["staging_model", "family", "entity", "source_file", "sha256", "batch_id", "size_bytes", "rows_read",
             "rows_loaded", "rows_quarantined", "rows_used", "loaded_at"]
    return [dict(zip(names, row)) for row in rows]


def hr_fingerprints(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per HR staging relation and month of its date column: rows and a hash of their content.

    Lineage columns are left out (file names and row numbers change from extract to
    extract): two runs whose months hash alike read the same HR history for them.
    """
    out = []
    for name, columns in lineage_relations(con).items():
        if not name.startswith("stg_hris__"):
            continue
        content = [c for c in columns if c not in LINEAGE_COLUMNS]
        period = next((c for c in HR_PERIOD_COLUMNS if c in columns), None)
        period_sql = f"coalesce(strftime({_q(period)}, '%Y-%m'), 'none')" if period else "'all'"
        rows = con.execute(
            f"select {period_sql} as month, count(*), "
            f"cast(bit_xor(hash({', '.join(_q(c) for c in content)})) as varchar) "
            f"from {STAGING_SCHEMA}.{_q(name)} group by 1 order by 1"
        ).fetchall()
        out.extend({"staging_model": name, "period_column": period or "", "month": month, "rows": count,
                    "content_hash": digest} for month, count, digest in rows)
    return out


@dataclass
class RunRecord:
    run_id: str
    job_name: str
    status: str
    started_at: datetime | None
    ended_at: datetime
    code_version: str
    dbt_manifest_hash: str
    parameters_hash: str
    definition_version: str
    input_files: int
    input_rows: int
    checks: int
    checks_failed: int
    published: bool

    def row(self) -> dict:
        return dict(self.__dict__)


def check_rows(instance, run_id: str) -> list[dict]:
    """Every asset check evaluation of the run, from the Dagster event log."""
    from training_impact.audit.events import check_evaluations

    rows = []
    for entry, evaluation in check_evaluations(instance, run_id):
        rows.append({
            "asset": evaluation.asset_key.to_user_string(),
            "check_name": evaluation.check_name,
            "passed": bool(evaluation.passed),
            "severity": evaluation.severity.value,
            "description": (evaluation.description or "")[:2000],
            "evaluated_at": datetime.fromtimestamp(entry.timestamp, UTC).replace(tzinfo=None),
        })
    return rows


def run_start(instance, run_id: str) -> datetime | None:
    record = instance.get_run_record_by_id(run_id)
    stamp = record.start_time if record is not None else None
    if stamp is None:
        logs = instance.all_logs(run_id)
        stamp = logs[0].timestamp if logs else None
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None) if stamp else None


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
