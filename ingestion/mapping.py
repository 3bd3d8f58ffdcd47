"""Vendor mapping files: `ingestion/mappings/<name>.yml`.

A mapping is data, not code: adding a vendor format means adding a YAML file
that says which landing files it reads and how their columns and values become
the canonical ones. See `mappings/canonical.yml` for the documented format.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .schemas import CanonicalSchemas, EntitySchema, load_schemas

MAPPINGS_DIR = Path(__file__).with_name("mappings")

FORMATS = ("csv", "ndjson_xapi", "json", "qualtrics", "xlsx", "parquet")
# Formats whose records are xAPI statements, validated and flattened by ingestion.xapi.
XAPI_FORMATS = ("ndjson_xapi", "json")

_ENTITY_KEYS = {
    "pattern", "format", "columns", "value_maps", "date_formats", "timezone",
    "identifiers", "sheet", "encoding", "delimiter", "decimal_separator",
    "thousands_separator", "null_values",
}


class MappingError(ValueError):
    """A mapping file is malformed or contradicts the canonical schema."""


def normalize_header(name: str) -> str:
    """Header names are matched trimmed and case-insensitively: exports differ in both."""
    return re.sub(r"\s+", " ", str(name).replace("\ufeff", "")).strip().casefold()


@dataclass(frozen=True)
class ValueMap:
    values: dict[str, str | None]
    case_insensitive: bool = False

    def lookup_keys(self) -> dict[str, str | None]:
        if not self.case_insensitive:
            return dict(self.values)
        # lower() matches pyarrow.compute.utf8_lower, used for the vectorised lookup
        return {k.strip().lower(): v for k, v in self.values.items()}


@dataclass(frozen=True)
class EntityMapping:
    entity: str
    patterns: tuple[str, ...]
    format: str
    columns: dict[str, str]                      # vendor column -> canonical column
    value_maps: dict[str, ValueMap] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    identifiers: tuple[str, ...] = ()
    sheet: str | None = None
    encoding: str | None = None                  # force instead of detecting
    delimiter: str | None = None                 # force instead of sniffing
    decimal_separator: str = "."
    thousands_separator: str | None = None
    null_values: tuple[str, ...] = ("",)

    def matches(self, relative_path: str) -> bool:
        rel = relative_path.replace("\\", "/")
        return any(fnmatch.fnmatchcase(rel, p) for p in self.patterns)

    def canonical_for(self, vendor_column: str, schema: EntitySchema) -> str | None:
        """Canonical column a vendor header feeds, or None when it is not mapped.

        Explicit `columns` entries win; otherwise a header equal to a canonical
        column name (trimmed, case-insensitive) maps to it (identity mapping).
        """
        norm = normalize_header(vendor_column)
        for vendor, canonical in self.columns.items():
            if normalize_header(vendor) == norm:
                return canonical
        explicit_targets = set(self.columns.values())
        for c in schema.column_names:
            # A canonical name already fed by an explicit rename is not also
            # fed by a same-named vendor column: the mapping chose the source.
            if normalize_header(c) == norm and c not in explicit_targets:
                return c
        return None


@dataclass(frozen=True)
class Mapping:
    name: str
    path: Path
    description: str
    entities: dict[str, tuple[EntityMapping, ...]]   # an entity may arrive in several shapes

    def for_entity(self, entity: str) -> tuple[EntityMapping, ...]:
        return self.entities.get(entity, ())

    def source_for(self, entity: str, relative_path: str) -> EntityMapping | None:
        """The first source spec of `entity` whose pattern matches the landing path."""
        for em in self.for_entity(entity):
            if em.matches(relative_path):
                return em
        return None

    def identifier_columns(self, entity: str, schemas: CanonicalSchemas | None = None) -> list[str]:
        """Canonical direct identifiers of `entity`: schema pii flags plus the mapping's list."""
        schema = (schemas or load_schemas()).entity(entity)
        out = list(schema.pii_columns)
        for em in self.for_entity(entity):
            for ident in em.identifiers:
                canon = em.canonical_for(ident, schema) or ident
                if canon in schema.column_names and canon not in out:
                    out.append(canon)
        return out


def _as_str_key(k: Any) -> str:
    # YAML turns unquoted True/1 into bool/int; vendor values are text in the file.
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(k)


def _as_canonical_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _parse_value_map(where: str, spec: Any) -> ValueMap:
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: value map must be a mapping, got {type(spec).__name__}")
    if "values" in spec and set(spec) <= {"values", "case_insensitive"}:
        values, ci = spec["values"], bool(spec.get("case_insensitive", False))
    else:
        values, ci = spec, False
    if not isinstance(values, dict):
        raise MappingError(f"{where}: 'values' must be a mapping of vendor value -> canonical value")
    return ValueMap({_as_str_key(k): _as_canonical_value(v) for k, v in values.items()}, ci)


def _parse_entity(where: str, entity: str, spec: dict[str, Any], schema: EntitySchema) -> EntityMapping:
    unknown = set(spec) - _ENTITY_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_ENTITY_KEYS)}")
    pattern = spec.get("pattern")
    patterns = (pattern,) if isinstance(pattern, str) else tuple(pattern or ())
    if not patterns:
        raise MappingError(f"{where}: 'pattern' is required (glob relative to the landing root)")
    fmt = spec.get("format")
    if fmt not in FORMATS:
        raise MappingError(f"{where}: format {fmt!r} is not one of {FORMATS}")
    columns = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
    for vendor, canonical in columns.items():
        if canonical not in schema.column_names:
            raise MappingError(f"{where}: column {vendor!r} maps to {canonical!r}, which is not a column of {entity}")
    targets = list(columns.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise MappingError(f"{where}: several vendor columns map to {dupes}")
    value_maps = {}
    for col, vm in (spec.get("value_maps") or {}).items():
        if col not in schema.column_names:
            raise MappingError(f"{where}: value map for {col!r}, which is not a column of {entity}")
        value_maps[col] = _parse_value_map(f"{where}.value_maps.{col}", vm)
    date_formats = {str(k): str(v) for k, v in (spec.get("date_formats") or {}).items()}
    for col in date_formats:
        if col not in schema.column_names or schema.column(col).type not in ("date", "timestamp"):
            raise MappingError(f"{where}: date format for {col!r}, which is not a date/timestamp column of {entity}")
    tz = str(spec.get("timezone") or "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError
        raise MappingError(f"{where}: unknown timezone {tz!r} ({exc})") from None
    em = EntityMapping(
        entity=entity,
        patterns=patterns,
        format=fmt,
        columns=columns,
        value_maps=value_maps,
        date_formats=date_formats,
        timezone=tz,
        identifiers=tuple(str(i) for i in (spec.get("identifiers") or ())),
        sheet=spec.get("sheet"),
        encoding=spec.get("encoding"),
        delimiter=spec.get("delimiter"),
        decimal_separator=str(spec.get("decimal_separator") or "."),
        thousands_separator=spec.get("thousands_separator"),
        null_values=tuple(str(v) for v in spec.get("null_values", [""])),
    )
    # A direct identifier mapped onto a non-pii canonical column would carry it
    # past the raw zone: refuse the mapping rather than leak.
    for ident in em.identifiers:
        canon = em.canonical_for(ident, schema)
        if canon is not None and not schema.column(canon).pii:
            raise MappingError(
                f"{where}: identifier {ident!r} maps to {canon!r}, which is not flagged pii in canonical_schemas.yml"
            )
    if fmt in XAPI_FORMATS and entity != "xapi_statements":
        raise MappingError(f"{where}: format {fmt!r} carries xAPI statements; entity must be xapi_statements")
    return em


def parse_mapping(doc: dict[str, Any], path: Path, schemas: CanonicalSchemas | None = None) -> Mapping:
    schemas = schemas or load_schemas()
    name = path.stem
    if not isinstance(doc, dict) or not isinstance(doc.get("entities"), dict):
        raise MappingError(f"{path}: a mapping needs an 'entities:' mapping")
    defaults = doc.get("defaults") or {}
    entities = {}
    for entity, spec in doc["entities"].items():
        where = f"{path.name}:{entity}"
        if entity not in schemas.entities:
            raise MappingError(f"{where}: unknown entity; known: {sorted(schemas.entities)}")
        specs = spec if isinstance(spec, list) else [spec]
        entities[entity] = tuple(
            _parse_entity(f"{where}[{i}]" if len(specs) > 1 else where, entity, {**defaults, **(s or {})},
                          schemas.entity(entity))
            for i, s in enumerate(specs)
        )
    return Mapping(name=name, path=path, description=str(doc.get("description", "")).strip(), entities=entities)


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int) -> Mapping:
    p = Path(path)
    with open(p, encoding="utf-8") as fh:
        return parse_mapping(yaml.safe_load(fh), p)


def load_mapping(name_or_path: str | Path | Mapping = "canonical") -> Mapping:
    """Load a mapping by name (`ingestion/mappings/<name>.yml`) or by path.

    A Mapping passes through unchanged, so callers may hand either.
    """
    if isinstance(name_or_path, Mapping):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix not in (".yml", ".yaml"):
        p = MAPPINGS_DIR / f"{name_or_path}.yml"
    if not p.is_file():
        available = sorted(x.stem for x in MAPPINGS_DIR.glob("*.yml"))
        raise MappingError(f"mapping {name_or_path!r} not found at {p}; available: {available}")
    return _load_cached(str(p), p.stat().st_mtime_ns)


def available_mappings() -> list[str]:
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.yml"))


# --------------------------------------------------------------------------- selection per data root

# landing/mappings.yml: which mapping(s) read each source family of this data
# root. Written by whoever delivers the extracts (synthetic.vendors writes it
# for the vendor-format exports); absent = every family uses "canonical".
LANDING_MAPPINGS_FILE = "mappings.yml"
DEFAULT_MAPPING = "canonical"


def combine_mappings(parts: list[str | Path | Mapping], name: str | None = None) -> Mapping:
    """One mapping made of several: per entity, the source specs of each part in order.

    A landing file is read by the first spec whose pattern matches it, so an
    earlier part wins where patterns overlap. A family delivered by two vendors
    (an LMS transcript from one, xAPI statements from an LRS) reads through the
    combination of their mappings.
    """
    loaded = [load_mapping(p) for p in parts]
    if not loaded:
        raise MappingError("combine_mappings needs at least one mapping")
    if len(loaded) == 1 and name is None:
        return loaded[0]
    entities: dict[str, tuple[EntityMapping, ...]] = {}
    for m in loaded:
        for entity, specs in m.entities.items():
            entities[entity] = entities.get(entity, ()) + specs
    return Mapping(
        name=name or "+".join(m.name for m in loaded),
        path=loaded[0].path,
        description="; ".join(m.description for m in loaded if m.description),
        entities=entities,
    )


def landing_mappings_path(data_root: str | Path) -> Path:
    return Path(data_root) / "landing" / LANDING_MAPPINGS_FILE


def read_landing_mappings(data_root: str | Path) -> dict[str, list[str]]:
    """family -> mapping names (or paths) from landing/mappings.yml; {} when there is none.

    Format (family names of canonical_schemas.yml; a value is one mapping or a
    list, combined in order; a path ending in .yml is relative to landing/):

        version: 1
        families:
          hris: workday
          lms: [docebo, xapi_lrs]
    """
    path = landing_mappings_path(data_root)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    fams = doc.get("families") if isinstance(doc, dict) else None
    if not isinstance(fams, dict):
        raise MappingError(f"{path}: expected a 'families:' mapping of family -> mapping name(s)")
    known = load_schemas().families
    out: dict[str, list[str]] = {}
    for family, value in fams.items():
        if family not in known:
            raise MappingError(f"{path}: unknown family {family!r}; known: {sorted(known)}")
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise MappingError(f"{path}: family {family!r} needs a mapping name or a list of names")
        resolved = []
        for n in names:
            n = n.strip()
            if n.endswith((".yml", ".yaml")) and not Path(n).is_absolute():
                n = str(path.parent / n)
            resolved.append(n)
        out[str(family)] = resolved
    return out


def mapping_for_family(data_root: str | Path, family: str) -> Mapping:
    """The mapping that reads `family` in this data root: landing/mappings.yml, else canonical."""
    names = read_landing_mappings(data_root).get(family)
    if not names:
        return load_mapping(DEFAULT_MAPPING)
    return combine_mappings(names)


def write_landing_mappings(data_root: str | Path, families: dict[str, list[str]], comment: str = "") -> Path:
    """Write landing/mappings.yml (family -> mapping names), atomically."""
    path = landing_mappings_path(data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}".rstrip() for line in comment.splitlines()] if comment else []
    lines += ["# Which mapping(s) of ingestion/mappings/ read each source family of this",
              "# landing zone (docs/mappings.md). Families not listed use \"canonical\".",
              "version: 1", "families:"]
    for family, names in families.items():
        value = names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"
        lines.append(f"  {family}: {value}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
