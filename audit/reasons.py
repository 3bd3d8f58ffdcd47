"""Why a published figure changed between two runs, read from the two runs' ledgers.

- ``new definition version``: the cell's ``definition_version`` differs (config/parameters.yml);
- ``restated HR history``: an HR entity's content differs for a month both runs read
  (the HR fingerprints of audit.ledger), i.e. the newer extract rewrote the past
  rather than only adding later dates;
- ``new data``: input files the new run read and the old one did not (new event
  files, a newer snapshot), or HR months only the new run has;
- ``new code version`` / ``new parameters``: the dbt code hash or the parameter
  file changed without a new definition version.

A reason applies to a cell only when its source is upstream of the cell's mart
(dbt lineage of the new run). A change with no reason left is reported as
``unexplained``: an auditor should never see one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from training_impact.audit import store
from training_impact.settings import Paths

HR_FAMILY = "hris"


def _rows(path) -> list[dict]:
    if not path.exists():
        return []
    relation = duckdb.connect().execute("select * from read_parquet(?)", [str(path)])
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row)) for row in relation.fetchall()]


def upstream_entities(paths: Paths, run_id: str) -> dict[str, set[str]]:
    """mart name → bronze entities upstream of it, from the run's lineage file."""
    path = store.lineage_file(paths, run_id)
    if not path.exists():
        return {}
    lineage = json.loads(path.read_text(encoding="utf-8"))
    parents = lineage["parents"]
    out = {}
    for uid, node in lineage["nodes"].items():
        if node.get("layer") != "marts":
            continue
        seen, stack, entities = set(), [uid], set()
        while stack:
            current = stack.pop()
            for parent in parents.get(current, []):
                if parent in seen:
                    continue
                seen.add(parent)
                if parent.startswith("source."):
                    entities.add(parent.rsplit(".", 1)[-1])
                stack.append(parent)
        out[node["name"]] = entities
    return out


@dataclass
class Reason:
    text: str
    entities: set[str] = field(default_factory=set)  # empty: applies to every cell
    detail: list[str] = field(default_factory=list)


@dataclass
class ChangeReasons:
    old_run: str
    new_run: str
    reasons: list[Reason]
    upstream: dict[str, set[str]]
    kpi_marts: dict[str, str]

    def for_cell(self, cell: dict) -> list[str]:
        out = []
        old_version, new_version = cell.get("old_definition_version"), cell.get("new_definition_version")
        if old_version is not None and new_version is not None and old_version != new_version:
            out.append("new definition version")
        mart = self.kpi_marts.get(cell.get("kpi"), "kpi_summary")
        sources = self.upstream.get(mart) or self.upstream.get("kpi_summary") or set()
        for reason in self.reasons:
            if (not reason.entities or reason.entities & sources) and reason.text not in out:
                out.append(reason.text)
        return out or ["unexplained"]

    def summary(self) -> list[dict]:
        return [{"reason": r.text, "entities": sorted(r.entities), "detail": r.detail} for r in self.reasons]


def change_reasons(paths: Paths, old_run: str, new_run: str) -> ChangeReasons:
    ledger = {run: (_rows(store.ledger_file(paths, "runs", run)) or [{}])[0] for run in (old_run, new_run)}
    inputs = {run: _rows(store.ledger_file(paths, "inputs", run)) for run in (old_run, new_run)}
    prints = {run: _rows(store.ledger_file(paths, "fingerprints", run)) for run in (old_run, new_run)}
    reasons: list[Reason] = []

    restated, added_months = Reason("restated HR history"), Reason("new data")
    old_prints = {(p["staging_model"], p["month"]): p for p in prints[old_run]}
    entity_of = {i["staging_model"]: i["entity"] for i in inputs[new_run] + inputs[old_run]}
    for p in prints[new_run]:
        before = old_prints.get((p["staging_model"], p["month"]))
        entity = entity_of.get(p["staging_model"], p["staging_model"])
        if before is None:
            added_months.entities.add(entity)
            added_months.detail.append(f"{entity} {p['month']}: {p['rows']} rows only in the new run")
        elif (before["content_hash"], before["rows"]) != (p["content_hash"], p["rows"]):
            restated.entities.add(entity)
            restated.detail.append(f"{entity} {p['month']}: {before['rows']} → {p['rows']} rows, content differs")
    if restated.entities:
        reasons.append(restated)

    old_files = {i["sha256"] for i in inputs[old_run]}
    new_data = added_months
    for item in inputs[new_run]:
        if item["sha256"] not in old_files and item["family"] != HR_FAMILY:
            new_data.entities.add(item["entity"])
            new_data.detail.append(f"{item['source_file']} (sha256 {item['sha256'][:12]}, {item['rows_used']} rows)")
    if new_data.entities:
        reasons.append(new_data)

    old, new = ledger[old_run], ledger[new_run]
    if old.get("dbt_manifest_hash") != new.get("dbt_manifest_hash") or old.get("code_version") != new.get(
            "code_version"):
        reasons.append(Reason("new code version", detail=[f"{old.get('code_version')} → {new.get('code_version')}"]))
    if old.get("parameters_hash") != new.get("parameters_hash") and old.get("definition_version") == new.get(
            "definition_version"):
        reasons.append(Reason("new parameters", detail=["config/parameters.yml changed, same definition version"]))

    kpi_marts = {}
    folder = store.history_dir(paths, new_run)
    con = duckdb.connect()
    for path in sorted(folder.glob("kpi_*.parquet")):
        if path.stem == "kpi_summary":
            continue
        for (kpi,) in con.execute("select distinct kpi from read_parquet(?)", [str(path)]).fetchall():
            kpi_marts.setdefault(kpi, path.stem)
    return ChangeReasons(old_run, new_run, reasons, upstream_entities(paths, new_run), kpi_marts)
