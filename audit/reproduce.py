"""Re-run a past run's inputs in a new data root and compare every published KPI value.

The ledger lists the files the run's staging read (with sha256); the audit store
keeps their bytes. They are laid into ``<target>/landing`` under their original
names, the pipeline runs once, and each kpi_* table of the new run is compared
with the past run's published history, cell by cell and exactly (no tolerance):
the KPIs are doubles rounded to 4 decimals (DECISIONS.md D17), so equal inputs,
code and parameters give equal values.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from training_impact.audit import history, ledger, store
from training_impact.settings import Paths, Settings, data_paths



class ReproductionError(RuntimeError):
    pass


@dataclass
class Reproduction:
    run_id: str
    new_run_id: str
    target: Path
    marts: dict[str, dict] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return bool(self.marts) and all(m["only_old"] == 0 and m["only_new"] == 0 for m in self.marts.values())


def _ledger_row(paths: Paths, run_id: str) -> dict:
    path = store.ledger_file(paths, "runs", run_id)
    relation = duckdb.connect().execute("select * from read_parquet(?)", [str(path)])
    return dict(zip([d[0] for d in relation.description], relation.fetchone()))


def lay_out_inputs(paths: Paths, run_id: str, target: Path) -> list[dict]:
    """Copy the run's input files from the audit store into ``target/landing``."""
    relation = duckdb.connect().execute(
        "select distinct source_file, sha256 from read_parquet(?) order by source_file",
        [str(store.ledger_file(paths, "inputs", run_id))])
    files = [{"source_file": f, "sha256": s} for f, s in relation.fetchall()]
    names = [f["source_file"] for f in files]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ReproductionError(f"two versions of {clashes[0]} were read by run {run_id}: lay them out by batch")
    landing = Path(target) / "landing"
    for item in files:
        copy = store.input_copy(paths, item["sha256"])
        if not copy.exists():
            raise ReproductionError(f"input {item['source_file']} ({item['sha256'][:12]}) is not in the audit store")
        destination = landing / item["source_file"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copy, destination)
        if ledger.sha256_file(destination) != item["sha256"]:
            raise ReproductionError(f"stored copy of {item['source_file']} does not match its sha256")
    mappings = paths.landing / "mappings.yml"  # vendor mapping choice, when the deployment uses one
    if mappings.exists():
        shutil.copyfile(mappings, landing / "mappings.yml")
    return files


def compare(old: Paths, old_run: str, new: Paths, new_run: str) -> dict[str, dict]:
    """Per kpi_* table: rows in the past run only / in the new run only (all columns but the run stamps)."""
    con = duckdb.connect()
    out = {}
    for path in sorted(store.history_dir(old, old_run).glob("kpi_*.parquet")):
        other = store.history_dir(new, new_run) / path.name
        if not other.exists():
            out[path.stem] = {"rows": None, "only_old": -1, "only_new": -1}
            continue
        columns = [d[0] for d in con.execute("select * from read_parquet(?) limit 0", [str(path)]).description
                   if d[0] not in ("_run_id", "_published_at")]
        cols = ", ".join(f'"{c}"' for c in columns)
        old_sql = f"select {cols} from read_parquet('{path}')"
        new_sql = f"select {cols} from read_parquet('{other}')"
        only_old = con.execute(f"select count(*) from ({old_sql} except all {new_sql})").fetchone()[0]
        only_new = con.execute(f"select count(*) from ({new_sql} except all {old_sql})").fetchone()[0]
        rows = con.execute(f"select count(*) from ({old_sql})").fetchone()[0]
        out[path.stem] = {"rows": rows, "only_old": only_old, "only_new": only_new}
    return out


def reproduce(paths: Paths, run: str, target: Path, *, force: bool = False) -> Reproduction:
    run_id = history.resolve_run(paths, run)
    past = _ledger_row(paths, run_id)
    if not past["published"]:
        raise ReproductionError(f"run {run_id} published nothing: there is no KPI to reproduce")
    now_params, now_code = ledger.parameters_hash(), ledger.code_version()
    if not force and now_params != past["parameters_hash"]:
        raise ReproductionError("config/parameters.yml differs from the run's (sha256 "
                                f"{past['parameters_hash'][:12]} then, {now_params[:12]} now); --force to run anyway")
    if not force and now_code != past["code_version"]:
        raise ReproductionError(f"code version {now_code} differs from the run's {past['code_version']}; "
                                "check out that commit, or --force")
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise ReproductionError(f"{target} is not empty")
    lay_out_inputs(paths, run_id, target)
    from training_impact.pipeline import run_pipeline

    new_paths = data_paths(target)
    # a scratch run: the Dagster column lineage of its dbt models is not worth its minutes (D54)
    outcome = run_pipeline(new_paths, settings=Settings.from_environment(column_metadata="0"))
    if not outcome.success:
        raise ReproductionError(f"the reproduction run failed: {outcome.failures}")
    result = Reproduction(run_id=run_id, new_run_id=outcome.run_id, target=target)
    result.marts = compare(paths, run_id, new_paths, outcome.run_id)
    return result
