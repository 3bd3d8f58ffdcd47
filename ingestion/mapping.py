"""Vendor mapping files: the project's `ingestion/mappings/<name>.yml` and a deployment's own, kept with its
data (`<data root>/mappings/`, or the folder TI_MAPPINGS_DIR names; `mapping_dirs`, docs/mappings.md).

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
from .transforms import Constant, Convert, Key, Lookup, Sequence, Transform, TransformError, parse_transform

MAPPINGS_DIR = Path(__file__).with_name("mappings")

FORMATS = ("csv", "ndjson_xapi", "json", "qualtrics", "xlsx", "parquet")
# Formats whose records are xAPI statements, validated and flattened by ingestion.xapi.
XAPI_FORMATS = ("ndjson_xapi", "json")

_ENTITY_KEYS = {
    "pattern", "format", "columns", "value_maps", "date_formats", "timezone",
    "identifiers", "sheet", "encoding", "delimiter", "decimal_separator",
    "thousands_separator", "null_values", "derive",
}
# Canonical columns holding a worker id (training_impact.privacy.WORKER_ID_COLUMNS says the same; the dbt
# staging models pseudonymise them): a transform must not copy one raw into another column.
WORKER_ID_COLUMNS = frozenset({"worker_id", "manager_id", "evaluator_id", "actor_id"})


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
    # canonical column -> transform (ingestion.transforms): columns the file does not hold as such
    derive: dict[str, Transform] = field(default_factory=dict)

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
        explicit_targets = set(self.columns.values()) | set(self.derive)
        for c in schema.column_names:
            # A canonical name already fed by an explicit rename (or derived) is not
            # also fed by a same-named vendor column: the mapping chose the source.
            if normalize_header(c) == norm and c not in explicit_targets:
                return c
        return None

    def transform_inputs(self, schema: EntitySchema) -> list[str]:
        """Vendor columns the derived columns read (names as the mapping writes them), in order.

        A lookup's own-side column that is a canonical column of the entity is read typed, after
        casting; any other name is a vendor column of the file.
        """
        out: list[str] = []
        for t in self.derive.values():
            names = t.our_columns() if isinstance(t, Lookup) else t.inputs()
            for n in names:
                if isinstance(t, Lookup) and n in schema.column_names:
                    continue
                if normalize_header(n) not in {normalize_header(x) for x in out}:
                    out.append(n)
        return out


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


def _parse_entity(where: str, entity: str, spec: dict[str, Any], schema: EntitySchema,
                  default_timezone: str | None = None, schemas: CanonicalSchemas | None = None) -> EntityMapping:
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
    tz = str(spec.get("timezone") or default_timezone or "UTC")
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
        derive=_parse_derive(where, spec.get("derive"), columns, schema),
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
    _check_derive(where, em, schema, schemas or load_schemas())
    return em


# --------------------------------------------------------------------------- derived columns

def _parse_derive(where: str, spec: Any, columns: dict[str, str], schema: EntitySchema) -> dict[str, Transform]:
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: 'derive' must map canonical columns to a transform, got {type(spec).__name__}")
    out: dict[str, Transform] = {}
    for col, tspec in spec.items():
        col = str(col)
        w = f"{where}.derive.{col}"
        if col not in schema.column_names:
            raise MappingError(f"{w}: {col!r} is not a column of {schema.name}")
        fed_by = [v for v, c in columns.items() if c == col]
        if fed_by:
            raise MappingError(f"{w}: {col!r} is fed by both vendor column {fed_by[0]!r} and a transform; keep one")
        try:
            out[col] = parse_transform(w, tspec)
        except TransformError as exc:
            raise MappingError(str(exc)) from None
    return out


def _check_constant(where: str, value: str, col, em: EntityMapping) -> None:
    """A constant must read as its column's type and be an accepted value (after the value map)."""
    from .casting import CastError, apply_value_map, parse_bool, parse_date, parse_decimal, parse_float, \
        parse_int, parse_timestamp
    import pyarrow as pa

    vm = em.value_maps.get(col.name)
    if vm is not None:
        value = apply_value_map(pa.array([value], pa.string()), vm)[0].as_py()
    parse = {"int": parse_int, "float": parse_float, "decimal": parse_decimal, "bool": parse_bool,
             "date": lambda s: parse_date(s, em.date_formats.get(col.name)),
             "timestamp": lambda s: parse_timestamp(s, em.date_formats.get(col.name), em.timezone)}.get(col.type)
    try:
        if parse is not None and value is not None:
            parse(value)
    except CastError as exc:
        raise MappingError(f"{where}: constant cannot be read as {col.type}: {exc}") from None
    if col.accepted_values and value not in col.accepted_values:
        raise MappingError(f"{where}: constant {value!r} is not an accepted value of {col.name} "
                           f"({', '.join(col.accepted_values)})")


def _check_derive(where: str, em: EntityMapping, schema: EntitySchema, schemas: CanonicalSchemas) -> None:
    """Types, the looked-up entity's columns, and privacy: no transform carries a direct identifier or
    a raw worker id into a column that is not dropped (pii) or pseudonymised (worker id) downstream."""
    norm = normalize_header
    identifiers = {norm(i) for i in em.identifiers}
    identifiers |= {norm(v) for v, c in em.columns.items() if schema.column(c).pii}
    identifiers |= {norm(c.name) for c in schema.columns if c.pii and c.name not in em.derive}
    worker_bearing = {norm(v) for v, c in em.columns.items() if c in WORKER_ID_COLUMNS}
    worker_bearing |= {norm(c) for c in WORKER_ID_COLUMNS if c in schema.column_names and c not in em.derive}
    for col, t in em.derive.items():
        if col in WORKER_ID_COLUMNS and not isinstance(t, Lookup):
            worker_bearing |= {norm(n) for n in t.inputs()}
    lookups = {c for c, t in em.derive.items() if isinstance(t, Lookup)}
    for name, t in em.derive.items():
        w = f"{where}.derive.{name}"
        col = schema.column(name)
        if isinstance(t, Constant):
            _check_constant(w, t.value, col, em)
        elif isinstance(t, Key) and col.type != "string":
            raise MappingError(f"{w}: a key is text; {name} is {col.type} (a per-group number is a sequence)")
        elif isinstance(t, Sequence) and col.type != "int":
            raise MappingError(f"{w}: a sequence is an integer; {name} is {col.type}")
        elif isinstance(t, Convert) and col.type not in ("int", "float", "decimal"):
            raise MappingError(f"{w}: a unit conversion gives a number; {name} is {col.type}")
        if not col.pii:
            leaked = sorted({n for n in t.inputs() if norm(n) in identifiers})
            if leaked:
                raise MappingError(f"{w}: reads direct identifier {leaked[0]!r} into {name}, which is not flagged pii: "
                                   "it would travel past the raw zone")
        if isinstance(t, Key) and t.method == "concat" and name not in WORKER_ID_COLUMNS:
            raw_ids = sorted({n for n in t.columns if norm(n) in worker_bearing})
            if raw_ids:
                raise MappingError(f"{w}: a concatenated key would carry the raw worker id of {raw_ids[0]!r} into "
                                   f"{name}, which is not pseudonymised; use method: hash")
        if isinstance(t, Lookup):
            _check_lookup(w, name, t, schema, schemas, lookups)


def _check_lookup(w: str, name: str, t: Lookup, schema: EntitySchema, schemas: CanonicalSchemas,
                  lookups: set[str]) -> None:
    if t.entity not in schemas.entities:
        raise MappingError(f"{w}: lookup in unknown entity {t.entity!r}; known: {sorted(schemas.entities)}")
    if t.entity == schema.name:
        raise MappingError(f"{w}: a lookup reads another entity, not {schema.name} itself")
    theirs = schemas.entity(t.entity)
    for their_col, ours in t.match:
        if their_col not in theirs.column_names:
            raise MappingError(f"{w}: lookup match {their_col!r} is not a column of {t.entity}")
        if ours in lookups:
            raise MappingError(f"{w}: lookup matches on {ours!r}, itself a lookup (lookups read cast columns only)")
    if t.nearest is not None:
        n = t.nearest
        if n.column not in theirs.column_names or theirs.column(n.column).type not in ("date", "timestamp"):
            raise MappingError(f"{w}: nearest column {n.column!r} is not a date/timestamp column of {t.entity}")
        if n.to not in schema.column_names or schema.column(n.to).type not in ("date", "timestamp"):
            raise MappingError(f"{w}: nearest 'to' {n.to!r} is not a date/timestamp column of {schema.name}")
        if n.to in lookups:
            raise MappingError(f"{w}: nearest 'to' {n.to!r} is itself a lookup")
    if isinstance(t.take, str) and t.take in theirs.column_names:
        src = theirs.column(t.take)
        if src.pii and not schema.column(name).pii:
            raise MappingError(f"{w}: takes direct identifier {t.entity}.{t.take} into {name}, which is not pii")
        if t.take in WORKER_ID_COLUMNS and name not in WORKER_ID_COLUMNS:
            raise MappingError(f"{w}: takes the raw worker id {t.entity}.{t.take} into {name}, which is not "
                               "pseudonymised")


def organisation_timezone() -> str:
    """A mapping without `timezone` reads local timestamps in the organisation's (config/parameters.yml
    organisation.timezone, D136)."""
    from training_impact.settings import parameters_timezone

    return parameters_timezone()


def parse_mapping(doc: dict[str, Any], path: Path, schemas: CanonicalSchemas | None = None,
                  default_timezone: str | None = None) -> Mapping:
    schemas = schemas or load_schemas()
    default_timezone = default_timezone or organisation_timezone()
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
                          schemas.entity(entity), default_timezone, schemas)
            for i, s in enumerate(specs)
        )
    return Mapping(name=name, path=path, description=str(doc.get("description", "")).strip(), entities=entities)


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, default_timezone: str) -> Mapping:
    p = Path(path)
    with open(p, encoding="utf-8") as fh:
        return parse_mapping(yaml.safe_load(fh), p, default_timezone=default_timezone)


def mapping_dirs(data_root: str | Path | None = None) -> list[Path]:
    """Where a mapping name is looked up, first hit wins: the deployment's own folders (TI_MAPPINGS_DIR,
    then `<data root>/mappings/`: user mappings live outside the project's tree), then the
    project's ingestion/mappings/ (docs/mappings.md)."""
    from training_impact.settings import user_mapping_dirs

    return [*user_mapping_dirs(data_root), MAPPINGS_DIR]


def find_mapping_file(name: str, data_root: str | Path | None = None, own_only: bool = False) -> Path | None:
    """`<name>.yml` in the first of `mapping_dirs(data_root)` that holds it (`own_only`: the
    deployment's folders only, not ingestion/mappings/)."""
    for folder in mapping_dirs(data_root)[:-1] if own_only else mapping_dirs(data_root):
        candidate = folder / f"{name}.yml"
        if candidate.is_file():
            return candidate
    return None


def load_mapping(name_or_path: str | Path | Mapping = "canonical", data_root: str | Path | None = None) -> Mapping:
    """Load a mapping by name (a deployment's folder first, then `ingestion/mappings/<name>.yml`:
    `mapping_dirs`) or by path.

    A Mapping passes through unchanged, so callers may hand either.
    """
    if isinstance(name_or_path, Mapping):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix not in (".yml", ".yaml"):
        p = find_mapping_file(str(name_or_path), data_root) or MAPPINGS_DIR / f"{name_or_path}.yml"
    if not p.is_file():
        available = available_mappings(data_root)
        raise MappingError(f"mapping {name_or_path!r} not found at {p}; available: {available}"
                           f" (searched {', '.join(str(d) for d in mapping_dirs(data_root))})")
    return _load_cached(str(p), p.stat().st_mtime_ns, organisation_timezone())


def available_mappings(data_root: str | Path | None = None) -> list[str]:
    """Mapping names of `mapping_dirs(data_root)`: the deployment's own and the project's."""
    return sorted({p.stem for folder in mapping_dirs(data_root) if folder.is_dir() for p in folder.glob("*.yml")})


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
    list, combined in order; a name is looked up in `mapping_dirs(data_root)`:
    TI_MAPPINGS_DIR, `<data root>/mappings/`, then ingestion/mappings/; a path
    ending in .yml is relative to landing/):

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
            elif not n.endswith((".yml", ".yaml")):
                own = find_mapping_file(n, data_root, own_only=True)  # the deployment's own mapping wins
                n = str(own) if own is not None else n
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
    lines += ["# Which mapping(s) read each source family of this landing zone: a name is looked up in",
              "# TI_MAPPINGS_DIR, <data root>/mappings/, then the project's ingestion/mappings/",
              "# (docs/mappings.md). Families not listed use \"canonical\".",
              "version: 1", "families:"]
    for family, names in families.items():
        value = names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"
        lines.append(f"  {family}: {value}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
