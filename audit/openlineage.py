"""OpenLineage run events for a Dagster run and each of its assets.

Written as NDJSON to ``<data>/audit/openlineage.ndjson`` (one event a line) and, when
``TI_OPENLINEAGE_URL`` is set, POSTed there too (e.g. Marquez's /api/v1/lineage);
a failed POST is logged, never fails the run.

- the run: job ``training_impact/<job name>``, runId = the Dagster run id (a UUID);
- each asset: job ``training_impact/<asset key>``, its own runId (UUID5 of run id and
  asset key) with a ``parent`` facet pointing at the run; inputs = the upstream assets,
  output = the asset itself, with the auditor's facets (rows, checks, file hashes).

Datasets are named by asset key in namespace ``training_impact``; landing files are
datasets in namespace ``file`` named by absolute path, each with its sha256.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from training_impact.audit import store
from training_impact.settings import Paths, Settings

NAMESPACE = "training_impact"
PRODUCER = "https://github.com/training-impact/training-impact/tree/main/audit"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/{name}.json#/$defs/{name}"
CUSTOM_FACET_SCHEMA = "https://github.com/training-impact/training-impact/blob/main/docs/audit.md#{name}"


def _time(stamp: float | datetime) -> str:
    moment = stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(stamp, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _facet(name: str, body: dict, standard: bool = False) -> dict:
    schema = FACET_SCHEMA.format(name=name) if standard else CUSTOM_FACET_SCHEMA.format(name=name)
    return {"_producer": PRODUCER, "_schemaURL": schema, **body}


def asset_run_id(run_id: str, asset: str) -> str:
    return str(uuid.uuid5(uuid.UUID(run_id), asset))


def dataset(name: str, facets: dict | None = None, namespace: str = NAMESPACE) -> dict:
    item = {"namespace": namespace, "name": name}
    if facets:
        item["facets"] = facets
    return item


def event(event_type: str, when, job: str, run_id: str, *, inputs=(), outputs=(), run_facets=None,
          job_facets=None) -> dict:
    body = {
        "eventType": event_type,
        "eventTime": _time(when),
        "run": {"runId": run_id, **({"facets": run_facets} if run_facets else {})},
        "job": {"namespace": NAMESPACE, "name": job, **({"facets": job_facets} if job_facets else {})},
        "inputs": list(inputs),
        "outputs": list(outputs),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }
    return body


def run_events(*, run_id: str, job_name: str, started, ended, success: bool, assets: Iterable[dict],
               run_facets: dict | None = None) -> list[dict]:
    """START/terminal events for the run and each asset.

    ``assets``: dicts with ``key``, ``started``, ``ended``, ``status`` (COMPLETE|FAIL|ABORT), ``inputs``
    (list of dataset dicts), ``output_facets`` and ``input_files`` (dataset dicts of landing files).
    """
    parent = {"parent": _facet("ParentRunFacet", {"run": {"runId": run_id},
                                                   "job": {"namespace": NAMESPACE, "name": job_name}}, True)}
    events = [event("START", started, job_name, run_id, run_facets=run_facets)]
    for asset in assets:
        child = asset_run_id(run_id, asset["key"])
        inputs = [*asset.get("input_files", []), *asset.get("inputs", [])]
        output = dataset(asset["key"], asset.get("output_facets"))
        events.append(event("START", asset["started"], asset["key"], child, inputs=inputs, run_facets=parent))
        events.append(event(asset["status"], asset["ended"], asset["key"], child, inputs=inputs,
                            outputs=[output] if asset["status"] == "COMPLETE" else [], run_facets=parent))
    events.append(event("COMPLETE" if success else "FAIL", ended, job_name, run_id, run_facets=run_facets))
    return events


def emit(paths: Paths, events: list[dict], log: Callable[[str], None] = lambda message: None,
         url: str | None = None) -> int:
    """Append the events to the NDJSON file; POST them to `url` (the run's, else TI_OPENLINEAGE_URL) when set."""
    store.append_lines(store.openlineage_file(paths), [json.dumps(e, sort_keys=True) for e in events])
    url = url or Settings.from_environment().openlineage_url
    if url:
        sent = 0
        for item in events:
            request = urllib.request.Request(url, data=json.dumps(item).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (configured URL)
                    sent += 200 <= response.status < 300
            except OSError as error:
                log(f"OpenLineage POST to {urllib.request.urlparse(url).netloc} failed: {error}")
                break
        log(f"OpenLineage: {sent}/{len(events)} events posted")
    return len(events)
