"""OpenLineage events of a run, built and sent with the official client (``openlineage-python``).

What a catalog (Marquez, DataHub, …) receives, and ``<data>/audit/openlineage.ndjson`` keeps (one
event a line, docs/audit.md):

- the run: job ``<namespace>/<Dagster job>``, runId = the Dagster run id (a UUID);
- each asset: job ``<asset key>`` with its own runId (UUID5 of the run id and the asset key) and a
  ``parent`` facet on the run; inputs and outputs are the real datasets it read and wrote;
- each asset's checks (GX quality gate, reconciliation, dbt tests): job ``<asset key>.checks``
  whose input is the checked dataset with a ``dataQualityAssertions`` facet (as dbt-ol does).

Datasets are named by namespace and a name relative to their store, never by a host path
(``Names``): files of the data root in ``file://<namespace>`` (``landing/lms/…csv``,
``bronze/<entity>``, ``serving/parquet/<mart>.parquet``), tables of the two DuckDB files in
``duckdb://<namespace>`` (``warehouse.<schema>.<table>``, ``serving.reporting.<mart>``),
PostgreSQL by the client's naming (``postgres://host:port``, ``<db>.reporting.<mart>``).

The events go through the client's transports: ``FileTransport`` appends them to the audit file,
``HttpTransport`` POSTs them to ``TI_OPENLINEAGE_URL`` (bearer API key, retried); a failed POST is
logged and never fails the run. The client's ``OpenLineageClient`` wrapper is not used: it reads
its own configuration (``OPENLINEAGE_*`` variables, ``openlineage.yml`` in the working directory)
and may disable or filter events, while the audit file must hold every event and settings enter
at the edge (DECISIONS D123).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    documentation_dataset,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.naming.dataset import Postgres, RemoteFileSystem

from training_impact.audit import store
from training_impact.settings import Paths, Settings

NAMESPACE = "training_impact"
PRODUCER = "https://github.com/training-impact/training-impact/tree/main/audit"
# The project's own facet schemas (audit/schemas/), for what no standard facet says.
SCHEMA_BASE = "https://github.com/training-impact/training-impact/blob/main/audit/schemas"
INTEGRATION = "DAGSTER"
# urllib3 Retry of each POST: a refused connection, a timeout or a 429/5xx is tried again after
# 0 s, 1 s, 2 s (at most 4 attempts, each with a 5 s timeout); Retry-After is not waited for, so
# a catalog that is down costs a run seconds, not minutes.
HTTP_RETRY = {
    "total": 3, "connect": 3, "read": 3, "status": 3, "backoff_factor": 0.5,
    "status_forcelist": [429, 500, 502, 503, 504], "allowed_methods": ["POST"],
    "respect_retry_after_header": False,
}
HTTP_TIMEOUT = 5.0
DEFAULT_ENDPOINT = "api/v1/lineage"  # Marquez's, when TI_OPENLINEAGE_URL has no path

Stamp = float | datetime
Log = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """Where a run's events go besides the audit file, from the settings (built at the edge)."""

    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    namespace: str = NAMESPACE

    @classmethod
    def from_settings(cls, settings: Settings) -> Target:
        return cls(url=settings.openlineage_url, api_key=settings.openlineage_api_key,
                   namespace=settings.openlineage_namespace or NAMESPACE)


@dataclass(frozen=True)
class Names:
    """Dataset names of one deployment: a namespace per store, a name relative to it."""

    namespace: str = NAMESPACE

    @property
    def files(self) -> str:
        return RemoteFileSystem(host=self.namespace, path=".").get_namespace()

    @property
    def duckdb(self) -> str:
        return f"duckdb://{self.namespace}"

    def file(self, relative: str) -> tuple[str, str]:
        """A file or folder of the data root (``landing/…``, ``bronze/<entity>``, ``serving/parquet/…``)."""
        name = RemoteFileSystem(host=self.namespace, path=str(relative).lstrip("/")).get_name()
        return self.files, name

    def warehouse(self, relation: str) -> tuple[str, str]:
        """A dbt model or seed: ``<schema>.<table>`` of the warehouse DuckDB file."""
        return self.duckdb, f"warehouse.{relation}"

    def serving(self, table: str, schema: str = "reporting") -> tuple[str, str]:
        """A table of the serving DuckDB file BI tools open."""
        return self.duckdb, f"serving.{schema}.{table}"

    @staticmethod
    def postgres(server: str, table: str, schema: str = "reporting") -> tuple[str, str]:
        """A table in PostgreSQL; ``server`` is ``host:port/dbname`` (a socket folder counts as localhost)."""
        address, _, database = server.rpartition("/") if "/" in server else (server, "", "")
        host, _, port = address.rpartition(":")
        host = "localhost" if not host or host.startswith("/") else host
        naming = Postgres(host=host, port=port or "5432", database=database or "postgres", schema=schema, table=table)
        return naming.get_namespace(), naming.get_name()


@attr.define
class IngestionInputDatasetFacet(InputDatasetFacet):
    """Rows of a landing file loaded into bronze or quarantined (rows read: ``inputStatistics``)."""

    rowsLoaded: int | None = attr.field(default=None)  # noqa: N815
    rowsQuarantined: int | None = attr.field(default=None)  # noqa: N815
    KEY: ClassVar[str] = "trainingImpact_ingestion"

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_BASE}/1-0-0/IngestionInputDatasetFacet.json#/$defs/IngestionInputDatasetFacet"


@dataclass(frozen=True)
class Check:
    """One check result on an asset's dataset (a Dagster asset check: GX gate, reconciliation, dbt test)."""

    name: str
    passed: bool
    severity: str                # ERROR | WARN (Dagster's)
    evaluated_at: Stamp
    kind: str | None = None      # the test's classification, e.g. not_null (dbt), else the name
    column: str | None = None

    def assertion(self) -> data_quality_assertions_dataset.Assertion:
        return data_quality_assertions_dataset.Assertion(
            assertion=self.kind or self.name, success=self.passed, column=self.column,
            severity=self.severity.lower(), name=self.name, params=None)


@dataclass
class AssetRun:
    """One asset's step in a run: its own OpenLineage job and run under the pipeline run."""

    key: str
    started: Stamp
    ended: Stamp
    status: str = "COMPLETE"                                       # COMPLETE | FAIL
    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    job_type: str = "ASSET"
    # (inputs, outputs) sent as OTHER events of the asset's run before its terminal event, each with
    # its facets: one per served table for ``published_marts`` (its warehouse source, its copies), so
    # no event grows with the number of outputs (hundreds of served tables would make one event MBs)
    parts: list[tuple[list[InputDataset], list[OutputDataset]]] = field(default_factory=list)


def _moment(stamp: Stamp) -> datetime:
    """A POSIX timestamp or a datetime (naive = UTC, as the ledger keeps them) as an aware UTC datetime."""
    moment = stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(stamp, UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time(stamp: Stamp) -> str:
    return _moment(stamp).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def asset_run_id(run_id: str, asset: str) -> str:
    return str(uuid.uuid5(uuid.UUID(run_id), asset))


def checks_job(asset: str) -> str:
    return f"{asset}.checks"


def landing_file(names: Names, source_file: str, *, sha256: str, rows_read: int | None = None,
                 rows_loaded: int | None = None, rows_quarantined: int | None = None,
                 size_bytes: int | None = None) -> InputDataset:
    """A landing file a run read: its sha256 is the dataset version (the bytes are kept by sha256, D52)."""
    namespace, name = names.file(f"landing/{source_file}")
    return InputDataset(
        namespace=namespace, name=name,
        facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=sha256,
                                                                              producer=PRODUCER)},
        inputFacets={
            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=rows_read, size=size_bytes, fileCount=1, producer=PRODUCER),
            IngestionInputDatasetFacet.KEY: IngestionInputDatasetFacet(
                rowsLoaded=rows_loaded, rowsQuarantined=rows_quarantined, producer=PRODUCER),
        })


def dataset(names_pair: tuple[str, str]) -> InputDataset:
    """An input named only (its facets travel with the event of the asset that wrote it)."""
    namespace, name = names_pair
    return InputDataset(namespace=namespace, name=name, facets=None, inputFacets=None)


def output(names_pair: tuple[str, str], *, rows: int | None = None,
           columns: Sequence[tuple[str, str | None, str | None]] | None = None,
           lineage: Mapping[str, Sequence[tuple[str, str, str]]] | None = None,
           version: str | None = None, description: str | None = None, copied: bool = False) -> OutputDataset:
    """An output with the standard facets known for it.

    ``columns``: (name, type, description); ``lineage``: column -> [(namespace, name, column)] it is
    computed from (dbt column lineage, or the warehouse column a served copy repeats: ``copied``,
    a DIRECT IDENTITY transformation; dbt's lineage does not say which transformation, so none is named).
    """
    identity = [column_lineage_dataset.Transformation(type="DIRECT", subtype="IDENTITY")] if copied else None
    namespace, name = names_pair
    facets: dict[str, Any] = {}
    if columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=c, type=t or None, description=d or None)
                    for c, t, d in columns], producer=PRODUCER)
    fields = {column: column_lineage_dataset.Fields(inputFields=[
        column_lineage_dataset.InputField(namespace=ns, name=dataset_name, field=source, transformations=identity)
        for ns, dataset_name, source in sources]) for column, sources in (lineage or {}).items() if sources}
    if fields:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)
    if version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version,
                                                                               producer=PRODUCER)
    if description:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(description=description,
                                                                                  producer=PRODUCER)
    output_facets = {}
    if isinstance(rows, int) and not isinstance(rows, bool):
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, producer=PRODUCER)
    return OutputDataset(namespace=namespace, name=name, facets=facets or None, outputFacets=output_facets or None)


def _engine(dagster_version: str, adapter_version: str) -> processing_engine_run.ProcessingEngineRunFacet:
    return processing_engine_run.ProcessingEngineRunFacet(version=dagster_version, name="Dagster",
                                                          openlineageAdapterVersion=adapter_version,
                                                          producer=PRODUCER)


def _job_type(kind: str) -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION, jobType=kind,
                                        producer=PRODUCER)


def _versions() -> tuple[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        import dagster
        dagster_version = dagster.__version__
    except ImportError:  # pragma: no cover - the pipeline always has it
        dagster_version = "unknown"
    try:
        ours = version("training-impact")
    except PackageNotFoundError:
        ours = "unknown"
    return dagster_version, ours


def _names_only(items: Iterable[InputDataset | OutputDataset], kind) -> list:
    return [kind(namespace=item.namespace, name=item.name, facets=None) for item in items]


def run_events(*, run_id: str, job_name: str, started: Stamp, ended: Stamp, success: bool,
               assets: Iterable[AssetRun], namespace: str = NAMESPACE) -> list[RunEvent]:
    """START and terminal events of the run, of each asset and of each asset's checks.

    START events name the inputs and outputs; the terminal event carries their facets, or, for an
    asset with ``parts``, OTHER events before it do (the terminal event names them all).
    """
    engine = _engine(*_versions())
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id, facets=None),
        job=parent_run.Job(namespace=namespace, name=job_name, facets=None),
        root=parent_run.Root(run=parent_run.RootRun(runId=run_id, facets=None),
                             job=parent_run.RootJob(namespace=namespace, name=job_name, facets=None)),
        producer=PRODUCER)

    def event(state: RunState, when: Stamp, job: str, child_id: str, kind: str, inputs=(), outputs=(),
              child: bool = True) -> RunEvent:
        facets = {"processing_engine": engine, **({"parent": parent} if child else {})}
        return RunEvent(eventType=state, eventTime=_time(when), producer=PRODUCER,
                        run=Run(runId=child_id, facets=facets),
                        job=Job(namespace=namespace, name=job, facets={"jobType": _job_type(kind)}),
                        inputs=list(inputs), outputs=list(outputs))

    events = [event(RunState.START, started, job_name, run_id, "JOB", child=False)]
    for asset in assets:
        child = asset_run_id(run_id, asset.key)
        done = RunState.COMPLETE if asset.status == "COMPLETE" else RunState.FAIL
        parts = asset.parts if done == RunState.COMPLETE else []
        outputs = asset.outputs if done == RunState.COMPLETE else []
        written = [*outputs, *(item for _, part in parts for item in part)]
        events.append(event(RunState.START, asset.started, asset.key, child, asset.job_type,
                            _names_only(asset.inputs, InputDataset), _names_only(written, OutputDataset)))
        for part_inputs, part_outputs in parts:
            events.append(event(RunState.OTHER, asset.ended, asset.key, child, asset.job_type, part_inputs,
                                part_outputs))
        events.append(event(done, asset.ended, asset.key, child, asset.job_type, asset.inputs,
                            [*outputs, *_names_only(written[len(outputs):], OutputDataset)]))
        if asset.checks and outputs:
            events.extend(_check_events(asset, outputs, run_id, event))
    events.append(event(RunState.COMPLETE if success else RunState.FAIL, ended, job_name, run_id, "JOB",
                        child=False))
    return events


def _check_events(asset: AssetRun, outputs: list[OutputDataset], run_id: str, event) -> list[RunEvent]:
    """The asset's checks as a job reading the checked datasets, with their assertions (FAIL: an ERROR failed)."""
    facet = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[check.assertion() for check in asset.checks], producer=PRODUCER)
    checked = [InputDataset(namespace=o.namespace, name=o.name, facets=None,
                            inputFacets={"dataQualityAssertions": facet}) for o in outputs]
    times = sorted(_moment(check.evaluated_at) for check in asset.checks)
    blocked = any(not c.passed and c.severity.upper() == "ERROR" for c in asset.checks)
    job, child = checks_job(asset.key), asset_run_id(run_id, checks_job(asset.key))
    return [event(RunState.START, times[0], job, child, "TEST", _names_only(checked, InputDataset)),
            event(RunState.FAIL if blocked else RunState.COMPLETE, times[-1], job, child, "TEST", checked)]


def http_transport(target: Target):
    """The client's HTTP transport for ``target.url``: bearer API key, retried (``HTTP_RETRY``)."""
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

    parts = urlsplit(target.url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"TI_OPENLINEAGE_URL must be an http(s) URL, not {target.url!r}")
    endpoint = parts.path if parts.path.strip("/") else DEFAULT_ENDPOINT
    if parts.query:
        endpoint = f"{endpoint}?{parts.query}"
    auth = ApiKeyTokenProvider({"apiKey": target.api_key}) if target.api_key else TokenProvider({})
    return HttpTransport(HttpConfig(url=f"{parts.scheme}://{parts.netloc}", endpoint=endpoint,
                                    timeout=HTTP_TIMEOUT, auth=auth, retry=dict(HTTP_RETRY)))


def emit(paths: Paths, events: list[RunEvent], log: Log = lambda message: None,
         target: Target | None = None) -> int:
    """Append the events to the audit file; POST them to ``target.url`` when set.

    ``target`` None: the environment's settings (callers below the edge that pass none, e.g. recovery).
    A POST that fails after its retries is logged and ends the posting; the run goes on.
    """
    from openlineage.client.transport.file import FileConfig, FileTransport

    target = target or Target.from_settings(Settings.from_environment())
    path = store.openlineage_file(paths)
    store.append_lines(path, [])  # created owner-only (0600) before the transport appends to it
    writer = FileTransport(FileConfig(log_file_path=str(path), append=True))
    for item in events:
        writer.emit(item)
    if target.url:
        where = urlsplit(target.url).hostname or "?"
        sent = 0
        try:
            poster = http_transport(target)
            try:
                for item in events:
                    poster.emit(item)
                    sent += 1
            finally:
                poster.close()
        except Exception as error:  # noqa: BLE001 - a catalog that is down never fails the run
            log(f"OpenLineage POST to {where} failed: {type(error).__name__}: {str(error)[:300]}")
        log(f"OpenLineage: {sent}/{len(events)} events posted to {where}")
    return len(events)
