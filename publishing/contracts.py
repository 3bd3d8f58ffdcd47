"""The tables to publish and their column types, read from the dbt contracts.

Every served copy (DuckDB file, Parquet, PostgreSQL) takes its columns, their
order and their types from the contract columns of dbt's manifest, so a BI tool
sees the same schema run after run:

- the ``marts/kpi_*`` models, each as it is (the long tables, for power users);
- the ``serving/`` views (DECISIONS D126), each once per grain it declares in
  ``config.meta.serving``: ``<table>_overall`` and ``<table>_by_<grain>``, holding
  that grain's rows and only its slice columns, so an ``avg()`` over a served
  table never mixes grains.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from training_impact.settings import DBT_PROJECT_DIR

DEFAULT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
MART_PREFIX = "kpi_"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_DECIMAL = re.compile(r"^(decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
SERVING_LAYER = "serving"  # models/serving: the analyst-safe views (D126)

# The slice columns of a serving view and the ones each grain keeps: the grains of macros/kpi.sql
# (kpi_slices), whose `method` the serving views call training_method. A unit test holds the two
# together (tests/unit/test_serving_contracts.py).
SLICE_GRAIN_COLUMN = "slice_grain"
SLICE_DIMENSIONS = ("program_type", "training_method", "program_id", "cohort", "department", "region", "period")
GRAIN_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "overall": (),
    "program_type": ("program_type",),
    "program_type_method": ("program_type", "training_method"),
    "program": ("program_type", "training_method", "program_id"),
    "cohort": ("program_type", "training_method", "program_id", "cohort"),
    "department": ("department",),
    "region": ("region",),
    "period": ("period",),
    "program_type_period": ("program_type", "period"),
}


# The column naming rule of the serving views (docs/serving.md): a figure's column ends with its unit
# (the registry's units, config/kpis.yml), a count starts with n_. tests/unit/test_serving_contracts.py
# holds every served column to it.
UNIT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "pct": ("_pct",),                # percent, 0-100
    "pp": ("_pp",),                  # percentage points (a difference of two percentages)
    "index_points": ("_pts",),       # productivity index points
    "points": ("_score",),           # NPS points, -100..100
    "ratio": ("_ratio",),
    "days": ("_days",),
    "months": ("_months",),
    "hours": ("_hours", "_hours_per_fte"),
    "currency": ("_amount",),        # in the row's `currency`
}
COUNT_PREFIX = "n_"


def serving_table_name(stem: str, grain: str) -> str:
    """The served name of a serving view at one grain: ``<stem>_overall`` or ``<stem>_by_<grain>``."""
    return f"{stem}_overall" if grain == "overall" else f"{stem}_by_{grain}"


# Contract type → PostgreSQL type. DuckDB and Parquet use the contract type as written.
POSTGRES_TYPES = {
    "varchar": "text",
    "text": "text",
    "string": "text",
    "integer": "integer",
    "int": "integer",
    "bigint": "bigint",
    "smallint": "smallint",
    "double": "double precision",
    "float": "double precision",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}

# Lineage columns appended to every served table (after the contract columns).
RUN_ID_COLUMN = "_published_run_id"
PUBLISHED_AT_COLUMN = "_published_at"
LINEAGE_COLUMNS = (
    (RUN_ID_COLUMN, "varchar", "Dagster run id that published this copy (the same in every table of one publish)."),
    (PUBLISHED_AT_COLUMN, "timestamp", "When this copy was published (UTC)."),
)


def arrow_type(data_type: str):
    """Contract type → Arrow type of the served Parquet column (every column nullable)."""
    import pyarrow as pa

    text = data_type.strip().lower()
    simple = {
        "varchar": pa.string(), "text": pa.string(), "string": pa.string(),
        "integer": pa.int32(), "int": pa.int32(), "smallint": pa.int16(), "bigint": pa.int64(),
        "double": pa.float64(), "float": pa.float64(), "boolean": pa.bool_(),
        "date": pa.date32(), "timestamp": pa.timestamp("us"),
    }
    if text in simple:
        return simple[text]
    match = _DECIMAL.match(text)
    if match:
        return pa.decimal128(int(match.group(2)), int(match.group(3)))
    raise ContractError(f"no Parquet type for contract type {data_type!r}")


def arrow_schema(columns, description: str = ""):
    """The Parquet schema of a served table: contract order and types, all nullable, descriptions kept."""
    import pyarrow as pa

    fields = [
        pa.field(column.name, arrow_type(column.data_type), nullable=True,
                 metadata={"description": column.description} if column.description else None)
        for column in columns
    ]
    return pa.schema(fields, metadata={"description": description} if description else None)

# The table beside the marts that says which run published them (DuckDB, Parquet, PostgreSQL).
PUBLISH_INFO = "publish_info"
PUBLISH_INFO_DESCRIPTION = ("One row per published table (kpi_* marts and serving views): which run published it, "
                            "when, and how many rows.")
PUBLISH_INFO_COLUMNS = (
    ("mart", "varchar", "Published table (one row per table: a kpi_* mart or a serving view at one grain)."),
    ("row_count", "bigint", "Rows in the published table."),
    ("run_id", "varchar", "Dagster run id of the publish (equals every table's _published_run_id)."),
    ("published_at", "timestamp", "When the publish happened (UTC)."),
)


class ContractError(RuntimeError):
    """A mart cannot be published with a stable schema."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str = ""

    @property
    def postgres_type(self) -> str:
        return postgres_type(self.data_type)


@dataclass(frozen=True)
class MartContract:
    """One published table: a kpi_* mart as it is, or a serving view at one grain (``grain`` set)."""

    name: str
    schema: str  # schema of the built relation in the warehouse (e.g. main_marts)
    alias: str
    description: str
    columns: tuple[Column, ...]
    # A serving view at one grain: the rows whose slice_grain is `grain`, `columns` a projection of the
    # view's contract, whose every column name is `source_columns`; the dbt model is `model`.
    grain: str | None = None
    source_columns: tuple[str, ...] = ()
    model: str | None = None

    @property
    def served_columns(self) -> tuple[Column, ...]:
        return self.columns + tuple(Column(*spec) for spec in LINEAGE_COLUMNS)

    @property
    def is_serving_view(self) -> bool:
        return self.grain is not None

    @property
    def warehouse_columns(self) -> tuple[str, ...]:
        """Every column the warehouse relation must have (its contract)."""
        return self.source_columns or tuple(column.name for column in self.columns)


def identifier(name: str) -> str:
    """A lower-case SQL identifier, validated so it can be quoted safely anywhere."""
    if not _IDENTIFIER.match(name):
        raise ContractError(f"unsupported identifier {name!r}")
    return name


def postgres_type(data_type: str) -> str:
    text = data_type.strip().lower()
    if text in POSTGRES_TYPES:
        return POSTGRES_TYPES[text]
    match = _DECIMAL.match(text)
    if match:
        return f"numeric({match.group(2)},{match.group(3)})"
    raise ContractError(f"no PostgreSQL type for contract type {data_type!r}")


def _read_manifest(manifest_path: Path | str | None) -> tuple[Path, dict]:
    path = Path(manifest_path or DEFAULT_MANIFEST)
    if not path.exists():
        raise ContractError(f"no dbt manifest at {path}: run `dbt parse` (loading the Dagster definitions does)")
    return path, json.loads(path.read_text(encoding="utf-8"))


def _layer_models(manifest: dict, layer: str):
    for node in manifest["nodes"].values():
        fqn = node.get("fqn", [])
        if node.get("resource_type") == "model" and len(fqn) >= 3 and fqn[1] == layer:
            yield node


def _contract_columns(node: dict, kind: str) -> tuple[Column, ...]:
    if not node.get("config", {}).get("contract", {}).get("enforced"):
        raise ContractError(f"{kind} {node['name']} has no enforced contract: its served schema would drift")
    columns = []
    for column in node["columns"].values():
        if not column.get("data_type"):
            raise ContractError(f"{kind} {node['name']} column {column['name']} has no data_type in its contract")
        columns.append(Column(identifier(column["name"]), column["data_type"], column.get("description") or ""))
    if not columns:
        raise ContractError(f"{kind} {node['name']} declares no columns")
    return tuple(columns)


def load_mart_contracts(manifest_path: Path | str | None = None) -> list[MartContract]:
    """Every ``marts/kpi_*`` model with an enforced contract, sorted by name."""
    path, manifest = _read_manifest(manifest_path)
    marts = [
        MartContract(
            name=identifier(node["name"]),
            schema=identifier(node["schema"]),
            alias=identifier(node.get("alias") or node["name"]),
            description=node.get("description") or "",
            columns=_contract_columns(node, "mart"),
        )
        for node in _layer_models(manifest, "marts")
        if node["name"].startswith(MART_PREFIX)
    ]
    if not marts:
        raise ContractError(f"no marts/{MART_PREFIX}* models in {path}")
    return sorted(marts, key=lambda mart: mart.name)


def _serving_meta(node: dict) -> dict | None:
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    return meta.get(SERVING_LAYER)


def _grain_sentence(grain: str) -> str:
    dimensions = GRAIN_DIMENSIONS[grain]
    if not dimensions:
        return "This table: grain `overall`, one row, the whole population."
    return (f"This table: grain `{grain}`, one row per {' × '.join(dimensions)} (every slice, suppressed or "
            "without data included: read `status`).")


def load_serving_contracts(manifest_path: Path | str | None = None) -> list[MartContract]:
    """Every ``serving/`` view that declares ``config.meta.serving``, once per grain it lists, sorted by name.

    Each is served as ``<table>_overall`` / ``<table>_by_<grain>``: the view's rows of that grain,
    its contract columns less the slice dimensions the grain does not have (they read ``all``).
    """
    _, manifest = _read_manifest(manifest_path)
    tables = []
    for node in _layer_models(manifest, SERVING_LAYER):
        spec = _serving_meta(node)
        if spec is None:
            continue  # a helper of the layer (serving_slices), not served
        columns = _contract_columns(node, "serving view")
        names = [column.name for column in columns]
        missing = [name for name in (SLICE_GRAIN_COLUMN, *SLICE_DIMENSIONS) if name not in names]
        if missing:
            raise ContractError(f"serving view {node['name']} lacks the slice columns {missing}")
        stem = identifier(str(spec.get("table") or ""))
        grains = spec.get("grains") or []
        unknown = [grain for grain in grains if grain not in GRAIN_DIMENSIONS]
        if not grains or unknown:
            raise ContractError(f"serving view {node['name']}: meta.serving.grains must list grains of "
                                f"{sorted(GRAIN_DIMENSIONS)}, found {grains}")
        description = (node.get("description") or "").strip()
        for grain in grains:
            dropped = set(SLICE_DIMENSIONS) - set(GRAIN_DIMENSIONS[grain])
            tables.append(
                MartContract(
                    name=identifier(serving_table_name(stem, grain)),
                    schema=identifier(node["schema"]),
                    alias=identifier(node.get("alias") or node["name"]),
                    description=f"{description} {_grain_sentence(grain)}".strip(),
                    columns=tuple(column for column in columns if column.name not in dropped),
                    grain=grain,
                    source_columns=tuple(names),
                    model=node["name"],
                )
            )
    served = [table.name for table in tables]
    if len(set(served)) != len(served):
        raise ContractError(f"two serving views publish the same table name: {sorted(served)}")
    return sorted(tables, key=lambda table: table.name)


def load_published_contracts(manifest_path: Path | str | None = None) -> list[MartContract]:
    """What a publish serves: every kpi_* mart, then every serving view at each of its grains."""
    marts = load_mart_contracts(manifest_path)
    serving = load_serving_contracts(manifest_path)
    clash = {mart.name for mart in marts} & {table.name for table in serving}
    if clash:
        raise ContractError(f"serving tables named like marts: {sorted(clash)}")
    return marts + serving
