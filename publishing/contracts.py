"""The marts to publish and their column types, read from the dbt contracts.

Every served copy (DuckDB file, Parquet, PostgreSQL) takes its columns, their
order and their types from the contract columns of the ``marts/kpi_*`` models in
dbt's manifest, so a BI tool sees the same schema run after run.
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
PUBLISH_INFO_DESCRIPTION = "One row per published mart: which run published it, when, and how many rows."
PUBLISH_INFO_COLUMNS = (
    ("mart", "varchar", "Published table (one row per mart)."),
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
    name: str
    schema: str  # schema of the built table in the warehouse (e.g. main_marts)
    alias: str
    description: str
    columns: tuple[Column, ...]

    @property
    def served_columns(self) -> tuple[Column, ...]:
        return self.columns + tuple(Column(*spec) for spec in LINEAGE_COLUMNS)


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


def load_mart_contracts(manifest_path: Path | str | None = None) -> list[MartContract]:
    """Every ``marts/kpi_*`` model with an enforced contract, sorted by name."""
    path = Path(manifest_path or DEFAULT_MANIFEST)
    if not path.exists():
        raise ContractError(f"no dbt manifest at {path}: run `dbt parse` (loading the Dagster definitions does)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    marts = []
    for node in manifest["nodes"].values():
        fqn = node.get("fqn", [])
        if node.get("resource_type") != "model" or len(fqn) < 3 or fqn[1] != "marts":
            continue
        if not node["name"].startswith(MART_PREFIX):
            continue
        if not node.get("config", {}).get("contract", {}).get("enforced"):
            raise ContractError(f"mart {node['name']} has no enforced contract: its served schema would drift")
        columns = []
        for column in node["columns"].values():
            if not column.get("data_type"):
                raise ContractError(f"mart {node['name']} column {column['name']} has no data_type in its contract")
            columns.append(Column(identifier(column["name"]), column["data_type"], column.get("description") or ""))
        if not columns:
            raise ContractError(f"mart {node['name']} declares no columns")
        marts.append(
            MartContract(
                name=identifier(node["name"]),
                schema=identifier(node["schema"]),
                alias=identifier(node.get("alias") or node["name"]),
                description=node.get("description") or "",
                columns=tuple(columns),
            )
        )
    if not marts:
        raise ContractError(f"no marts/{MART_PREFIX}* models in {path}")
    return sorted(marts, key=lambda mart: mart.name)
