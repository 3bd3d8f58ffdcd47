"""One GX ExpectationSuite per canonical entity, built in code.

A suite = the rules the canonical schema implies (required -> not null,
min/max -> between, accepted_values -> in set, key -> unique) plus the
hand-written rules of ``rules.py``. Suites are versioned by
``suite_versions.yml``: each entry holds the version and a fingerprint of the
suite's content. When a schema, rule or policy change alters a suite, the
fingerprint no longer matches and the test suite fails until
``python -m training_impact.expectations.suites --lock`` bumps that suite's version.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from training_impact.expectations import rules
from training_impact.ingestion import schemas as canonical
from training_impact.ingestion.schemas import EntitySchema
from training_impact.expectations._gx import gx
from training_impact.expectations.policy import load_policy

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMAS_PATH = PACKAGE_DIR.parent / "ingestion" / "canonical_schemas.yml"
LOCK_PATH = PACKAGE_DIR / "suite_versions.yml"


def load_schemas(path: Path = SCHEMAS_PATH) -> dict[str, EntitySchema]:
    """The canonical entities, parsed once by the ingestion layer: one schema, one reader."""
    return dict(canonical.load_schemas(path).entities)


def families(path: Path = SCHEMAS_PATH) -> dict[str, list[str]]:
    return {family: list(entities) for family, entities in canonical.load_schemas(path).families.items()}


def entity_names() -> list[str]:
    return list(load_schemas())


def schema_expectations(spec: EntitySchema) -> list:
    out = []
    for col in spec.columns:
        if col.required:
            out.append(rules.not_null(col.name))
        # Range and set rules copy offending values into results and Data Docs;
        # a direct identifier must never travel that far.
        if col.pii:
            continue
        if col.min is not None or col.max is not None:
            out.append(rules.between(col.name, col.min, col.max))
        if col.accepted_values:
            out.append(rules.in_set(col.name, list(col.accepted_values)))
    if spec.key_columns:
        out.append(rules.unique_key(spec.key_columns))
    return out


def expectations_for(entity: str, policy: Mapping[str, Any] | None = None) -> list:
    spec = load_schemas()[entity]
    policy = policy or load_policy()
    exps = schema_expectations(spec) + rules.extra_rules(entity, policy["row_rules"])
    pii = {c.name for c in spec.columns if c.pii}
    for e in exps:
        # Notes show in Data Docs: a data engineer reading a failed check there
        # sees the same rule name as in the quarantine table.
        e.notes = f"rule `{e.meta['rule']}`: {e.meta['message']}"
        touched = set(_columns_of(e))
        if touched & pii and e.meta["kind"] != "not_null":
            raise ValueError(f"rule {e.meta['rule']} reads a PII column: {sorted(touched & pii)}")
    return exps


def _columns_of(expectation) -> list[str]:
    cfg = expectation.configuration.kwargs
    cols = [cfg[k] for k in ("column", "column_A", "column_B") if k in cfg]
    cols += list(cfg.get("column_list") or [])
    cond = getattr(expectation, "row_condition", None)
    if cond is not None and hasattr(cond, "column"):
        cols.append(cond.column.name)
    return cols


def columns_used(entity: str) -> list[str]:
    """Every column a rule of the entity reads (helper columns included)."""
    seen: dict[str, None] = {}
    for e in _cached_expectations(entity):
        for c in _columns_of(e):
            seen.setdefault(c, None)
    return list(seen)


@functools.cache
def _cached_expectations(entity: str) -> tuple:
    return tuple(expectations_for(entity))


def fingerprint(expectations: Iterable) -> str:
    """Content hash of a suite: same rules, same hash, whatever the run."""
    items = []
    for e in expectations:
        cfg = e.configuration.to_json_dict()
        cfg.pop("id", None)
        cfg.pop("rendered_content", None)
        items.append(cfg)
    blob = json.dumps(items, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def read_lock(path: Path = LOCK_PATH) -> dict[str, dict[str, Any]]:
    if not Path(path).exists():
        return {}
    return yaml.safe_load(Path(path).read_text()) or {}


def suite_version(entity: str) -> tuple[int, str, bool]:
    """(version, fingerprint, fingerprint matches the lock)."""
    fp = fingerprint(_cached_expectations(entity))
    entry = read_lock().get(entity, {})
    return int(entry.get("version", 0)), fp, entry.get("fingerprint") == fp


def build_suite(entity: str, *, skip_rules: Iterable[str] = (), per_file: bool = False) -> gx.ExpectationSuite:
    """A fresh suite object for the entity. `skip_rules` leaves out rules that
    cannot run this time (references the caller did not pass). `per_file`: the batch
    holds several landing files (column rules.FILE_PART) and a key is unique within its file:
    the same rules, so the version and fingerprint stay the entity's (D119)."""
    if entity not in load_schemas():
        raise KeyError(f"unknown entity {entity!r}; known: {', '.join(load_schemas())}")
    version, fp, in_sync = suite_version(entity)
    skip = set(skip_rules)
    # Expectations go in through the constructor: add_expectation() would look
    # the suite up in whichever GX context is "current" in this process.
    suite = gx.ExpectationSuite(
        name=entity,
        expectations=[_within_file(e) if per_file else e for e in expectations_for(entity)
                      if e.meta["rule"] not in skip],
        meta={
            "suite_version": version,
            "entity": entity,
            "fingerprint": fp,
            "fingerprint_matches_lock": in_sync,
            "policy_version": load_policy()["version"],
            "schema_version": yaml.safe_load(SCHEMAS_PATH.read_text())["version"],
        },
    )
    return suite


def _within_file(expectation):
    if expectation.meta["kind"] != "unique":
        return expectation
    scoped = rules.unique_key(expectation.meta["key"], within=rules.FILE_PART)
    scoped.notes = expectation.notes
    return scoped


def build_all_suites() -> dict[str, gx.ExpectationSuite]:
    return {entity: build_suite(entity) for entity in load_schemas()}


def write_lock(path: Path = LOCK_PATH) -> dict[str, dict[str, Any]]:
    """Bump the version of every suite whose content changed since the lock."""
    old = read_lock(path)
    new: dict[str, dict[str, Any]] = {}
    for entity in load_schemas():
        fp = fingerprint(_cached_expectations(entity))
        prev = old.get(entity, {})
        version = int(prev.get("version", 0))
        new[entity] = {"version": version if prev.get("fingerprint") == fp else version + 1,
                       "fingerprint": fp}
    header = ("# Suite versions. Generated by `python -m training_impact.expectations.suites --lock`, which bumps\n"
              "# the version of every suite whose content (rules, schema, policy) changed.\n")
    Path(path).write_text(header + yaml.safe_dump(new, sort_keys=False))
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", action="store_true", help="update suite_versions.yml")
    args = parser.parse_args(argv)
    if args.lock:
        for entity, entry in write_lock().items():
            print(f"{entity}: v{entry['version']} {entry['fingerprint']}")
        return 0
    stale = 0
    for entity in load_schemas():
        version, fp, ok = suite_version(entity)
        stale += not ok
        rules_ = [e.meta["rule"] for e in _cached_expectations(entity)]
        print(f"{entity} v{version} {fp}{'' if ok else ' (changed: run --lock)'}: {len(rules_)} rules")
        for r in dict.fromkeys(rules_):
            print(f"  {r}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
