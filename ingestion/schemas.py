"""Canonical schemas: `canonical_schemas.yml` as dataclasses and Arrow schemas.

The YAML file is the contract shared by the generator, the mappings, the GX
suites and dbt; this module only reads it, so a column added there reaches
bronze without code changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

CANONICAL_SCHEMAS_PATH = Path(__file__).with_name("canonical_schemas.yml")

# decimal(18,2): money amounts in currency units with cents; 16 integer digits
# is far beyond any training budget, so overflow there is a data error.
DECIMAL_TYPE = pa.decimal128(18, 2)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": DECIMAL_TYPE,
    "date": pa.date32(),
    "timestamp": TIMESTAMP_TYPE,
    "bool": pa.bool_(),
}

# Lineage columns stamped on every bronze row (docs/layout.md).
LINEAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_sha256", pa.string(), nullable=False),
    pa.field("_source_row", pa.int64(), nullable=False),
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("_ingested_at", TIMESTAMP_TYPE, nullable=False),
)
LINEAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in LINEAGE_FIELDS)

LOAD_MODES = ("snapshot", "append")


class SchemaError(ValueError):
    """canonical_schemas.yml does not describe a usable schema."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = False
    key: bool = False
    pii: bool = False
    min: float | None = None
    max: float | None = None
    accepted_values: tuple[str, ...] | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class EntitySchema:
    name: str
    family: str
    load: str
    columns: tuple[ColumnSpec, ...]
    optional: bool = False      # a company may never deliver it (canonical_schemas.yml)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def key_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.key]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"entity {self.name!r} has no column {name!r}")

    def arrow_schema(self, lineage: bool = True) -> pa.Schema:
        """Bronze schema: canonical columns in YAML order, then lineage columns."""
        fields = [pa.field(c.name, c.arrow_type, nullable=True) for c in self.columns]
        if lineage:
            fields.extend(LINEAGE_FIELDS)
        return pa.schema(fields, metadata={b"entity": self.name.encode(), b"load": self.load.encode()})


@dataclass(frozen=True)
class CanonicalSchemas:
    version: int
    families: dict[str, tuple[str, ...]]
    entities: dict[str, EntitySchema] = field(repr=False)

    def entity(self, name: str) -> EntitySchema:
        try:
            return self.entities[name]
        except KeyError:
            raise KeyError(f"unknown entity {name!r}; known: {sorted(self.entities)}") from None

    def family_entities(self, family: str) -> list[EntitySchema]:
        try:
            names = self.families[family]
        except KeyError:
            raise KeyError(f"unknown family {family!r}; known: {sorted(self.families)}") from None
        return [self.entities[n] for n in names]


def _parse_column(entity: str, name: str, spec: dict[str, Any] | None) -> ColumnSpec:
    spec = dict(spec or {})
    ctype = spec.pop("type", None)
    if ctype not in ARROW_TYPES:
        raise SchemaError(f"{entity}.{name}: type {ctype!r} is not one of {sorted(ARROW_TYPES)}")
    accepted = spec.pop("accepted_values", None)
    col = ColumnSpec(
        name=name,
        type=ctype,
        required=bool(spec.pop("required", False)),
        key=bool(spec.pop("key", False)),
        pii=bool(spec.pop("pii", False)),
        min=spec.pop("min", None),
        max=spec.pop("max", None),
        accepted_values=tuple(str(v) for v in accepted) if accepted is not None else None,
    )
    if spec:
        raise SchemaError(f"{entity}.{name}: unknown column attributes {sorted(spec)}")
    return col


def parse_schemas(doc: dict[str, Any]) -> CanonicalSchemas:
    families = {f: tuple(ents) for f, ents in (doc.get("families") or {}).items()}
    family_of: dict[str, str] = {}
    for fam, ents in families.items():
        for e in ents:
            if e in family_of:
                raise SchemaError(f"entity {e!r} is listed in families {family_of[e]!r} and {fam!r}")
            family_of[e] = fam
    entities: dict[str, EntitySchema] = {}
    for name, spec in (doc.get("entities") or {}).items():
        if name not in family_of:
            raise SchemaError(f"entity {name!r} belongs to no family")
        load = spec.get("load")
        if load not in LOAD_MODES:
            raise SchemaError(f"entity {name!r}: load {load!r} is not one of {LOAD_MODES}")
        cols = tuple(_parse_column(name, c, s) for c, s in (spec.get("columns") or {}).items())
        if not cols:
            raise SchemaError(f"entity {name!r} has no columns")
        clash = set(c.name for c in cols) & set(LINEAGE_COLUMNS)
        if clash:
            raise SchemaError(f"entity {name!r} uses reserved lineage column names {sorted(clash)}")
        entities[name] = EntitySchema(name=name, family=family_of[name], load=load, columns=cols,
                                      optional=bool(spec.get("optional", False)))
    missing = set(family_of) - set(entities)
    if missing:
        raise SchemaError(f"families list entities without a schema: {sorted(missing)}")
    return CanonicalSchemas(version=int(doc.get("version", 1)), families=families, entities=entities)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> CanonicalSchemas:
    with open(path, encoding="utf-8") as fh:
        return parse_schemas(yaml.safe_load(fh))


def load_schemas(path: Path | str | None = None) -> CanonicalSchemas:
    """Load (and cache until the file changes) the canonical schemas."""
    p = Path(path) if path is not None else CANONICAL_SCHEMAS_PATH
    return _load_cached(str(p), p.stat().st_mtime_ns)


# The name the orchestration layer imports.
load_canonical = load_schemas


def arrow_schema(entity: str, lineage: bool = True) -> pa.Schema:
    """Bronze Arrow schema of `entity` (canonical columns + lineage columns)."""
    return load_schemas().entity(entity).arrow_schema(lineage=lineage)
