"""Validate OpenLineage events offline against the official schemas vendored in tests/fixtures/openlineage/.

Every event is checked against the core 2-0-2 schema, and every facet in it (run, job, dataset,
input and output facets) against the schema its ``_schemaURL`` names: a standard facet against the
vendored OpenLineage file of that exact version, the project's own against audit/schemas/. A facet
whose schema is in neither fails, as does a facet under a key its schema does not define (the
standard key, e.g. ``dataQualityAssertions``) or in a place its kind does not belong (an input
facet outside ``inputFacets``). Also the lineage walk the integration test makes over events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
from referencing import Registry, Resource
from repo_paths import REPO_ROOT

VENDORED = REPO_ROOT / "tests" / "fixtures" / "openlineage"
OWN = REPO_ROOT / "audit" / "schemas"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT = f"{CORE}#/$defs/RunEvent"
# where each kind of facet may stand (the base its schema extends)
PLACES = {"run": "RunFacet", "job": "JobFacet", "facets": "DatasetFacet", "inputFacets": "InputDatasetFacet",
          "outputFacets": "OutputDatasetFacet"}


def _format_checker() -> jsonschema.FormatChecker:
    """The formats OpenLineage uses, checked without the optional format packages."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value.upper():
            raise ValueError(f"{value!r} has no time")
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None

    @checker.checks("uri", raises=ValueError)
    def uri(value) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)

    return checker


@cache
def documents() -> dict[str, dict]:
    """$id -> schema of every vendored OpenLineage file and of the project's own facets."""
    found = {}
    for path in [*VENDORED.rglob("*.json"), *OWN.rglob("*.json")]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        found[schema["$id"]] = schema
    return found


@cache
def registry() -> Registry:
    return Registry().with_resources((uri, Resource.from_contents(schema)) for uri, schema in documents().items())


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry(), format_checker=_format_checker())


def facets_of(event: dict) -> Iterator[tuple[str, str, dict]]:
    """(place, key, facet) of every facet of the event."""
    for place, holder in (("run", event.get("run", {})), ("job", event.get("job", {}))):
        for key, facet in (holder.get("facets") or {}).items():
            yield place, key, facet
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for place in ("facets", "inputFacets", "outputFacets"):
            for key, facet in (dataset.get(place) or {}).items():
                yield place, key, facet


def _base(schema: dict, name: str) -> str | None:
    """The base facet (RunFacet, InputDatasetFacet, …) the facet definition ``name`` extends."""
    for part in schema["$defs"][name].get("allOf", []):
        ref = part.get("$ref", "")
        if ref.startswith(CORE):
            return ref.rsplit("/", 1)[-1]
    return None


def validate_event(event: dict) -> None:
    """Raise (jsonschema.ValidationError or AssertionError) unless the event and all its facets are valid."""
    assert event.get("schemaURL") == RUN_EVENT, event.get("schemaURL")
    _validator(CORE).validate(event)
    for place, key, facet in facets_of(event):
        url = facet.get("_schemaURL", "")
        document, _, pointer = url.partition("#")
        schema = documents().get(document)
        assert schema is not None, f"facet {key!r}: no vendored schema for {url!r}"
        assert key in schema.get("properties", {}), f"facet {key!r} is not the key {document} defines"
        name = pointer.rsplit("/", 1)[-1]
        assert _base(schema, name) == PLACES[place], f"facet {key!r} ({_base(schema, name)}) stands in {place}"
        _validator(document).validate({key: facet})
        _validator(url).validate(facet)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def upstream(events: Iterable[dict], start: tuple[str, str]) -> set[tuple[str, str]]:
    """Every dataset a dataset is made from, walking the events' outputs back to their inputs
    (the events that state what a run did: COMPLETE, and OTHER events that add to it)."""
    made_from: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for event in events:
        if event["eventType"] not in ("COMPLETE", "OTHER"):
            continue
        inputs = {(d["namespace"], d["name"]) for d in event.get("inputs", [])}
        for out in event.get("outputs", []):
            made_from.setdefault((out["namespace"], out["name"]), set()).update(inputs)
    seen, todo = set(), [start]
    while todo:
        for parent in made_from.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen
