"""A Dagster run as OpenLineage: each asset's real inputs and outputs, with their standard facets.

Reads the run's event log (step times, materializations and their metadata), its check results,
the ledger's input files and the dbt manifest; ``audit.openlineage`` builds and sends the events.

Which datasets an asset reads and writes (``Datasets``):

- ``bronze/<entity>``: the Parquet folder ``bronze/<folder>`` (the dbt source's location), read
  from the landing files this run loaded (each with its sha256 as version);
- dbt models and seeds: their relation in the warehouse DuckDB file, ``warehouse.<schema>.<table>``;
- ``published_marts``: every served copy, ``serving.reporting.<mart>`` (DuckDB file BI opens),
  ``serving/parquet/<mart>.parquet`` and, when the run published there, PostgreSQL
  ``<db>.reporting.<mart>``; each with the mart's contract columns and a column lineage to the
  warehouse table it copies;
- ``kpi_report``: ``reports/kpi_report.html``; ``audit_ledger``: ``audit/ledger`` and ``audit/history``.

An asset's inputs are the datasets of its parents in the asset graph. Column schema and column
lineage of the dbt models come from the materialization's metadata when the run attached them,
else from the store built once per dbt code version (``column_metadata``, orchestration/column_metadata.py);
a model without either has no such facets.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training_impact.audit import openlineage
from training_impact.audit.openlineage import AssetRun, Check, Names
from training_impact.settings import Paths

# () -> {dbt unique_id: {"dagster/column_schema": …, "dagster/column_lineage": …}} or None
ColumnMetadataSource = Callable[[], Mapping[str, Mapping[str, Any]] | None]

SCHEMA_KEY, LINEAGE_KEY = "dagster/column_schema", "dagster/column_lineage"
# read_parquet('<bronze dir>/<folder>/*.parquet' …): the folder a bronze source reads (rendered at parse time)
_BRONZE_FOLDER = re.compile(r"'[^'*]*/([^/'*]+)/\*")


@dataclass
class DbtFacts:
    """What the manifest tells about the assets: relations, bronze folders, tests, mart contracts."""

    relations: dict[str, str] = field(default_factory=dict)     # asset key -> <schema>.<table>
    unique_ids: dict[str, str] = field(default_factory=dict)    # asset key -> dbt unique_id
    bronze: dict[str, str] = field(default_factory=dict)        # asset key -> folder under the data root
    tests: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # check -> (kind, column)
    contracts: list = field(default_factory=list)               # publishing.contracts.MartContract

    @classmethod
    def read(cls, manifest_path: Path | None) -> DbtFacts:
        facts = cls()
        if not manifest_path or not Path(manifest_path).exists():
            return facts
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
        for uid, node in manifest.get("nodes", {}).items():
            kind, fqn = node.get("resource_type"), node.get("fqn", [])
            if kind in ("model", "seed"):
                # the asset keys of orchestration/defs/dbt.py (TrainingImpactTranslator)
                key = f"{fqn[1] if len(fqn) > 2 else 'models'}/{node['name']}"
                facts.relations[key] = f"{node['schema']}.{node.get('alias') or node['name']}"
                facts.unique_ids[key] = uid
            elif kind == "test":
                metadata = node.get("test_metadata") or {}
                facts.tests[node["name"]] = (metadata.get("name"), node.get("column_name"))
        for source in manifest.get("sources", {}).values():
            location = str((source.get("meta") or {}).get("external_location")
                           or (source.get("config") or {}).get("meta", {}).get("external_location") or "")
            found = _BRONZE_FOLDER.search(location)
            folder = found.group(1).replace("{name}", source["name"]) if found else source["name"]
            facts.bronze[f"bronze/{source['name']}"] = f"bronze/{folder}"
        from training_impact.publishing import contracts

        # what a publish serves: the kpi_* marts and, where the project has them, the serving views per grain
        load = getattr(contracts, "load_published_contracts", contracts.load_mart_contracts)
        try:
            facts.contracts = load(manifest_path)
        except (contracts.ContractError, OSError, KeyError, ValueError):
            facts.contracts = []
        return facts


def _value(item):
    return getattr(item, "value", item)


def _columns(schema) -> list[tuple[str, str | None, str | None]]:
    table = getattr(schema, "schema", schema)
    return [(c.name, c.type or None, getattr(c, "description", None)) for c in getattr(table, "columns", None) or []]


@dataclass
class Datasets:
    """The datasets of each asset of one run (names from ``Names``, facts from the manifest)."""

    names: Names
    paths: Paths
    facts: DbtFacts
    published: Mapping[str, Any] = field(default_factory=dict)   # published_marts' metadata in this run
    report: Mapping[str, Any] = field(default_factory=dict)      # kpi_report's

    def of(self, key: str) -> list[tuple[str, str]]:
        """(namespace, name) of every dataset the asset writes."""
        if key.startswith("bronze/"):
            return [self.names.file(self.facts.bronze.get(key, key))]
        if key in self.facts.relations:
            return [self.names.warehouse(self.facts.relations[key])]
        if key == "published_marts":
            return [pair for table in self.served_tables() for pair, _ in self._copies(table)]
        if key == "kpi_report":
            return [self.names.file(self._report_file())]
        if key == "audit_ledger":
            return [self.names.file("audit/ledger"), self.names.file("audit/history")]
        return [(self.names.namespace, key)]  # an asset with no known store: named by its key

    def served_tables(self) -> list[str]:
        from training_impact.publishing.contracts import PUBLISH_INFO

        counts = _value(self.published.get("row_counts")) or {}
        marts = list(counts) if isinstance(counts, Mapping) and counts else [c.name for c in self.facts.contracts]
        return [*marts, PUBLISH_INFO]

    def _copies(self, table: str) -> list[tuple[tuple[str, str], bool]]:
        """(dataset, versioned?) of every served copy of ``table``: DuckDB, Parquet, PostgreSQL."""
        from training_impact.publishing.contracts import PUBLISH_INFO

        copies = [(self.names.serving(table), True), (self.names.file(f"serving/parquet/{table}.parquet"), True)]
        postgres = _value(self.published.get("postgres"))
        if isinstance(postgres, Mapping) and postgres.get("server") and table != PUBLISH_INFO:
            copies.append((self.names.postgres(str(postgres["server"]), table, postgres.get("schema") or "reporting"),
                           False))
        return copies

    def _report_file(self) -> str:
        path = _value(self.report.get("path"))
        if path:
            try:
                return Path(str(path)).resolve().relative_to(self.paths.root.resolve()).as_posix()
            except ValueError:
                return f"reports/{Path(str(path)).name}"
        return "reports/kpi_report.html"

    def published_parts(self) -> list[tuple[list, list]]:
        """Per served table: (its warehouse source, its copies with schema, rows, version, column lineage)."""
        from training_impact.publishing.contracts import PUBLISH_INFO, PUBLISH_INFO_COLUMNS, PUBLISH_INFO_DESCRIPTION

        contracts = {c.name: c for c in self.facts.contracts}
        counts = _value(self.published.get("row_counts")) or {}
        version = _value(self.published.get("version"))
        parts = []
        for table in self.served_tables():
            contract = contracts.get(table)
            if contract is not None:
                columns = [(c.name, c.data_type, c.description) for c in contract.served_columns]
                source = self.names.warehouse(f"{contract.schema}.{contract.alias}")
                lineage = {c.name: [(*source, c.name)] for c in contract.columns}
                description, rows, inputs = contract.description, counts.get(table), [openlineage.dataset(source)]
            else:
                columns = list(PUBLISH_INFO_COLUMNS) if table == PUBLISH_INFO else []
                lineage, description = {}, PUBLISH_INFO_DESCRIPTION if table == PUBLISH_INFO else None
                rows, inputs = (len(counts) if table == PUBLISH_INFO and counts else None), []
            parts.append((inputs, [openlineage.output(pair, rows=rows, columns=columns, lineage=lineage,
                                                      version=str(version) if versioned and version else None,
                                                      description=description, copied=True)
                                   for pair, versioned in self._copies(table)]))
        return parts

    def column_lineage(self, lineage) -> dict[str, list[tuple[str, str, str]]]:
        """Dagster's TableColumnLineage as (namespace, name, column) of the upstream datasets."""
        table = getattr(lineage, "column_lineage", lineage)
        out = {}
        for column, deps in (getattr(table, "deps_by_column", None) or {}).items():
            out[column] = [(*self.of(dep.asset_key.to_user_string())[0], dep.column_name) for dep in deps]
        return out


def _step_times(instance, run_id: str):
    """Per asset: start (its step's start), end (its materialization), status; and the run's failed steps."""
    from dagster import DagsterEventType

    step_start, step_end, failed, assets = {}, {}, set(), {}
    wanted = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
              DagsterEventType.ASSET_MATERIALIZATION}
    for entry in instance.all_logs(run_id, of_type=wanted):
        event = entry.dagster_event
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            step_start[event.step_key] = entry.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step_end[event.step_key] = entry.timestamp
            if kind == DagsterEventType.STEP_FAILURE:
                failed.add(event.step_key)
        else:
            materialization = event.event_specific_data.materialization
            assets[materialization.asset_key.to_user_string()] = {
                "step": event.step_key, "ended": entry.timestamp, "metadata": materialization.metadata}
    return step_start, step_end, failed, assets


def _rows(metadata: Mapping[str, Any]) -> int | None:
    rows = metadata.get("dagster/row_count", metadata.get("rows_loaded", metadata.get("rows")))
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def asset_runs(paths: Paths, instance, run_id: str, ended, checks: list[dict], inputs: list[dict],
               extra_assets=(), *, asset_graph, names: Names, manifest_path: Path | None = None,
               column_metadata: ColumnMetadataSource | None = None) -> list[AssetRun]:
    """Every asset the run materialized (and every failed step) as an ``AssetRun``.

    ``extra_assets``: dicts (key, started, ended, status) of assets still running (``audit_ledger``).
    """
    import dagster as dg

    graph = asset_graph()
    facts = DbtFacts.read(manifest_path)
    step_start, step_end, failed, materialized = _step_times(instance, run_id)
    metadata = {key: {name: _value(value) for name, value in info["metadata"].items()}
                for key, info in materialized.items()}
    datasets = Datasets(names, paths, facts, metadata.get("published_marts", {}), metadata.get("kpi_report", {}))
    stored = None
    if column_metadata is not None and any(k in facts.relations for k in materialized):
        try:
            stored = column_metadata()
        except Exception:  # noqa: BLE001 - a store that cannot be read only costs the column facets
            stored = None
    checks_by_asset = defaultdict(list)
    for row in checks:
        kind, column = facts.tests.get(row["check_name"], (None, None))
        checks_by_asset[row["asset"]].append(Check(name=row["check_name"], passed=bool(row["passed"]),
                                                   severity=str(row["severity"]), evaluated_at=row["evaluated_at"],
                                                   kind=kind, column=column))
    files_by_entity = defaultdict(list)
    for item in inputs:
        if item["batch_id"] == run_id:
            files_by_entity[item["entity"]].append(openlineage.landing_file(
                names, item["source_file"], sha256=item["sha256"], rows_read=item.get("rows_read"),
                rows_loaded=item.get("rows_loaded"), rows_quarantined=item.get("rows_quarantined"),
                size_bytes=item.get("size_bytes")))

    def parents(key: str) -> list:
        asset_key = dg.AssetKey.from_user_string(key)
        upstream = graph.get(asset_key).parent_keys if graph.has(asset_key) else set()
        return [openlineage.dataset(pair) for parent in sorted(upstream)
                for pair in datasets.of(parent.to_user_string())]

    def outputs(key: str) -> list:
        if key == "published_marts":
            return []  # in its parts
        meta = metadata.get(key, {})
        found = (stored or {}).get(facts.unique_ids.get(key, ""), {}) if key in facts.relations else {}
        schema, lineage = meta.get(SCHEMA_KEY) or _value(found.get(SCHEMA_KEY)), meta.get(LINEAGE_KEY) or _value(
            found.get(LINEAGE_KEY))
        contract = next((c for c in facts.contracts if facts.relations.get(key) == f"{c.schema}.{c.alias}"
                         and not getattr(c, "is_serving_view", False)), None)  # a mart: the table as it is
        columns = _columns(schema) if schema is not None else (
            [(c.name, c.data_type, c.description) for c in contract.columns] if contract else [])
        return [openlineage.output(pair, rows=_rows(meta), columns=columns,
                                   lineage=datasets.column_lineage(lineage) if lineage is not None else None,
                                   description=contract.description if contract else None)
                for pair in datasets.of(key)]

    assets = []
    for key, info in materialized.items():
        asset_key = dg.AssetKey.from_user_string(key)
        landing = files_by_entity.get(asset_key.path[-1], []) if asset_key.path[0] == "bronze" else []
        assets.append(AssetRun(key=key, started=step_start.get(info["step"], info["ended"]), ended=info["ended"],
                               inputs=[*landing, *parents(key)], outputs=outputs(key),
                               checks=checks_by_asset.get(key, []),
                               parts=datasets.published_parts() if key == "published_marts" else []))
    for step in sorted(failed):
        assets.append(AssetRun(key=step, started=step_start.get(step, ended), ended=step_end.get(step, ended),
                               status="FAIL", job_type="STEP"))
    for extra in extra_assets:
        key = extra["key"]
        assets.append(AssetRun(key=key, started=extra["started"], ended=extra["ended"],
                               status=extra.get("status", "COMPLETE"), inputs=parents(key), outputs=outputs(key)))
    return assets
