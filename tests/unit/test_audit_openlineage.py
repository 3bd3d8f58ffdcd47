"""OpenLineage events built with the official client: valid against the vendored schemas, named
relative to their stores, and sent over HTTP with the API key and a retry (docs/audit.md).

The events here are built by hand through the same functions the audit uses; the events of real
runs are validated in tests/integration/test_audit.py.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import jsonschema
import pytest
from openlineage.client.serde import Serde
from openlineage_support import read_events, upstream, validate_event

from training_impact.audit import openlineage as ol
from training_impact.audit import store
from training_impact.audit.run_lineage import Datasets, DbtFacts
from training_impact.settings import Settings, data_paths

NAMES = ol.Names("acme")
SHA = "ab" * 32
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def direct(monkeypatch):
    """Requests to 127.0.0.1 go straight there, whatever proxy the machine sets (requests reads them)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _facts() -> DbtFacts:
    from training_impact.orchestration.dbt_manifest import dbt_project

    return DbtFacts.read(dbt_project.manifest_path)


def _events(published: dict | None = None) -> list:
    """A small run: a landing file into bronze, a staging model with column lineage and a failed dbt test,
    and the served copies of one mart."""
    facts = _facts()
    paths = data_paths("/nonexistent/data")
    datasets = Datasets(NAMES, paths, facts, published or {"row_counts": {"kpi_completion_rate": 7},
                                                          "version": "v000003-abcdef12",
                                                          "postgres": {"server": "db.internal:5433/ti"}})
    workers = datasets.of("bronze/workers")[0]
    staging = datasets.of("staging/stg_hris__workers")[0]
    lineage = datasets.column_lineage(dg.TableColumnLineage({"worker_id": [
        dg.TableColumnDep(asset_key=dg.AssetKey(["bronze", "workers"]), column_name="worker_id")]}))
    mart = datasets.of("marts/kpi_completion_rate")[0]
    assets = [
        ol.AssetRun("bronze/workers", 1.7e9, 1.7e9 + 5, inputs=[ol.landing_file(
            NAMES, "hris/workers_2026-10-31.csv", sha256=SHA, rows_read=10, rows_loaded=9, rows_quarantined=1,
            size_bytes=2048)], outputs=[ol.output(workers, rows=9)],
            checks=[ol.Check("quality_gate", True, "WARN", datetime(2026, 11, 1, 10))]),
        ol.AssetRun("staging/stg_hris__workers", 1.7e9 + 6, 1.7e9 + 9, inputs=[ol.dataset(workers)],
                    outputs=[ol.output(staging, rows=9, columns=[("worker_id", "varchar", "the HRIS id")],
                                       lineage=lineage)],
                    checks=[ol.Check("not_null_stg_hris__workers_worker_id", False, "ERROR",
                                     datetime(2026, 11, 1, 10, 1), kind="not_null", column="worker_id")]),
        ol.AssetRun("published_marts", 1.7e9 + 10, 1.7e9 + 12, inputs=[ol.dataset(mart)],
                    parts=datasets.published_parts()),
    ]
    return ol.run_events(run_id=str(uuid.uuid4()), job_name="__ASSET_JOB", started=1.7e9, ended=1.7e9 + 13,
                         success=False, assets=assets, namespace=NAMES.namespace)


def _as_json(events) -> list[dict]:
    return [json.loads(Serde.to_json(event)) for event in events]


def test_events_validate_against_the_official_schemas_and_the_validator_can_fail():
    events = _as_json(_events())
    for event in events:
        validate_event(event)
    by_job = {(e["job"]["name"], e["eventType"]): e for e in events}
    checks = by_job[("staging/stg_hris__workers.checks", "FAIL")]  # an ERROR test failed
    assertion = checks["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0]
    assert assertion == {"assertion": "not_null", "success": False, "column": "worker_id", "severity": "error",
                         "name": "not_null_stg_hris__workers_worker_id"}
    assert by_job[("bronze/workers.checks", "COMPLETE")]

    def broken(change) -> dict:
        event = copy.deepcopy(checks)
        change(event)
        return event

    facet = checks["inputs"][0]["inputFacets"]["dataQualityAssertions"]
    misplaced = broken(lambda e: e["inputs"][0].update(facets={"dataQualityAssertions": facet}, inputFacets={}))
    with pytest.raises(AssertionError, match="stands in facets"):
        validate_event(misplaced)
    renamed = broken(lambda e: e["inputs"][0].update(inputFacets={"dqAssertions": facet}))
    with pytest.raises(AssertionError, match="not the key"):
        validate_event(renamed)
    unknown_version = broken(lambda e: e["inputs"][0]["inputFacets"]["dataQualityAssertions"].update(
        _schemaURL=facet["_schemaURL"].replace("1-1-0", "9-9-9")))
    with pytest.raises(AssertionError, match="no vendored schema"):
        validate_event(unknown_version)
    no_assertions = broken(lambda e: e["inputs"][0]["inputFacets"]["dataQualityAssertions"].pop("assertions"))
    with pytest.raises(jsonschema.ValidationError):
        validate_event(no_assertions)
    with pytest.raises(jsonschema.ValidationError):
        validate_event(broken(lambda e: e.update(eventTime="2026-11-01 10:00")))  # no time zone
    with pytest.raises(jsonschema.ValidationError):
        validate_event(broken(lambda e: e["run"].update(runId="not-a-uuid")))


def test_datasets_are_named_relative_to_their_store():
    events = _as_json(_events())
    text = json.dumps(events)
    assert "/nonexistent" not in text
    published = [e for e in events if e["job"]["name"] == "published_marts"]
    assert [e["eventType"] for e in published] == ["START", "OTHER", "OTHER", "COMPLETE"]  # one per served table
    served = {(o["namespace"], o["name"]): o for e in published if e["eventType"] == "OTHER" for o in e["outputs"]}
    assert {(o["namespace"], o["name"]) for o in published[-1]["outputs"]} == set(served)
    mart = ("duckdb://acme", "warehouse.main_marts.kpi_completion_rate")
    assert [(d["namespace"], d["name"]) for d in published[1]["inputs"]] == [mart]
    assert mart in upstream(events, ("file://acme", "serving/parquet/kpi_completion_rate.parquet"))
    for copy_of_mart in [("duckdb://acme", "serving.reporting.kpi_completion_rate"),
                         ("file://acme", "serving/parquet/kpi_completion_rate.parquet"),
                         ("postgres://db.internal:5433", "ti.reporting.kpi_completion_rate")]:
        item = served[copy_of_mart]
        assert item["outputFacets"]["outputStatistics"]["rowCount"] == 7
        fields = item["facets"]["columnLineage"]["fields"]
        assert fields["estimate"]["inputFields"] == [{"namespace": mart[0], "name": mart[1], "field": "estimate",
                                                      "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]
        assert "_published_run_id" in {f["name"] for f in item["facets"]["schema"]["fields"]}
    assert served[("duckdb://acme", "serving.reporting.kpi_completion_rate")]["facets"]["version"][
        "datasetVersion"] == "v000003-abcdef12"
    assert ("duckdb://acme", "serving.reporting.publish_info") in served
    assert ("postgres://db.internal:5433", "ti.reporting.publish_info") not in served  # not published there
    landing = ("file://acme", "landing/hris/workers_2026-10-31.csv")
    assert landing in upstream(events, ("file://acme", "bronze/workers"))
    assert ("duckdb://acme", "warehouse.main_staging.stg_hris__workers") in {
        (o["namespace"], o["name"]) for e in events for o in e["outputs"]}
    assert NAMES.postgres("/var/run/postgresql:5432/ti", "kpi_roi") == ("postgres://localhost:5432", "ti.reporting.kpi_roi")


def test_the_manifest_names_bronze_folders_dbt_relations_and_test_kinds():
    facts = _facts()
    assert facts.bronze["bronze/load_manifest"] == "bronze/_manifest"
    assert facts.bronze["bronze/workers"] == "bronze/workers"
    assert facts.relations["marts/kpi_summary"] == "main_marts.kpi_summary"
    assert facts.relations["reference/survey_theme_lexicon"] == "main_reference.survey_theme_lexicon"
    assert facts.tests["unique_int_calendar_months_month_start"] == ("unique", "month_start")
    assert {c.name for c in facts.contracts} >= {"kpi_summary", "kpi_completion_rate"}


def test_settings_carry_the_catalog_address_key_and_namespace():
    settings = Settings.from_environment({"TI_OPENLINEAGE_URL": "https://marquez.example/api/v1/lineage",
                                          "TI_OPENLINEAGE_API_KEY": "Zq81-secret", "TI_OPENLINEAGE_NAMESPACE": "acme"})
    target = ol.Target.from_settings(settings)
    assert (target.url, target.api_key, target.namespace) == ("https://marquez.example/api/v1/lineage",
                                                              "Zq81-secret", "acme")
    assert "Zq81" not in repr(settings) and "Zq81" not in repr(target)
    assert ol.Target.from_settings(Settings.from_environment({})).namespace == "training_impact"


class _Catalog(BaseHTTPRequestHandler):
    """A lineage endpoint that refuses its first request (503) and accepts the rest."""

    received: list[tuple[str, str | None, dict]]
    refusals: int

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        if server.refusals > 0:
            server.refusals -= 1
            server.received.append((self.path, self.headers.get("Authorization"), None))
            self.send_response(503)
        else:
            server.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
            self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep the test output quiet
        pass


def _serve(refusals: int):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catalog)
    server.received, server.refusals = [], refusals
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def test_events_reach_the_catalog_with_the_key_and_survive_a_refused_attempt(tmp_path, direct):
    paths = data_paths(tmp_path)
    events = _events()
    server, thread = _serve(refusals=1)
    said = []
    try:
        port = server.server_address[1]
        target = ol.Target(url=f"http://127.0.0.1:{port}/api/v1/lineage", api_key="k-7Hq2", namespace="acme")
        started = time.monotonic()
        assert ol.emit(paths, events, said.append, target) == len(events)
        assert time.monotonic() - started < 10
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert len(server.received) == len(events) + 1           # the first POST was refused, then retried
    assert server.received[0][2] is None
    assert {(path, auth) for path, auth, _ in server.received} == {("/api/v1/lineage", "Bearer k-7Hq2")}
    written = read_events(store.openlineage_file(paths))
    assert [body for _, _, body in server.received[1:]] == written == _as_json(events)
    assert said[-1] == f"OpenLineage: {len(events)}/{len(events)} events posted to 127.0.0.1"
    assert oct(store.openlineage_file(paths).stat().st_mode & 0o777) == "0o600"
    assert all("k-7Hq2" not in line for line in said)


def test_a_catalog_that_is_down_costs_a_log_line_not_the_run(tmp_path, direct):
    paths = data_paths(tmp_path)
    with socket.socket() as probe:  # a free port nobody listens on: every connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = _events()
    said = []
    assert ol.emit(paths, events, said.append, ol.Target(url=f"http://127.0.0.1:{port}", api_key="k")) == len(events)
    assert any(line.startswith("OpenLineage POST to 127.0.0.1 failed: ConnectionError") for line in said), said
    assert said[-1] == f"OpenLineage: 0/{len(events)} events posted to 127.0.0.1"
    assert read_events(store.openlineage_file(paths)) == _as_json(events)  # the audit file has them all
