"""Run the Dagster job in-process against a persistent Dagster instance.

The CLI, the demo and the integration tests all go through here, so what they
exercise is exactly what the nightly schedule runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from training_impact.settings import Paths, disable_telemetry

DAGSTER_YAML = """\
# Written by training-impact for local runs. See docs/deployment.md for production.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1        # one run at a time against the DuckDB warehouse
  pools:
    default_limit: 1              # pool duckdb_warehouse: a single writer
"""


def prepare_dagster_home(paths: Paths) -> Path:
    """Use $DAGSTER_HOME when set (deployments), else a home inside the data root."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seconds: float
    failures: list[str] = field(default_factory=list)
    check_results: list[dict] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    alerts: list = field(default_factory=list)  # orchestration.alerts.Delivery, one per channel tried


def run_pipeline(paths: Paths, groups: list[str] | None = None) -> RunOutcome:
    """Run the whole job, or only the asset groups named (the benchmark times stages apart)."""
    disable_telemetry()
    paths.ensure().export_env()
    prepare_dagster_home(paths)

    import dagster as dg

    from orchestration.alerts import ALERTED_TAG, ALERTED_VALUE
    from orchestration.definitions import defs

    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        job = defs.get_job_def("training_impact_pipeline")
        selection = None
        if groups:
            selection = list(dg.AssetSelection.groups(*groups).resolve(defs.resolve_asset_graph()))
        result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=selection,
                                        tags={ALERTED_TAG: ALERTED_VALUE})  # the failure sensor skips these
    outcome = RunOutcome(run_id=result.run_id, success=result.success, seconds=time.monotonic() - started)
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            outcome.check_results.append(
                {
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "passed": evaluation.passed,
                    "severity": evaluation.severity.value,
                    "description": evaluation.description,
                }
            )
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            outcome.materialized.append(event.asset_key.to_user_string())
        elif event.event_type_value == "STEP_FAILURE":
            outcome.failures.append(f"{event.step_key}: {event.event_specific_data.error.message.strip()}")
    # Alerts (docs/deployment.md): a failed run or a failed blocking check goes to TI_ALERT_* channels.
    from orchestration.alerts import alert_for_outcome, send_alert, step_assets_of

    alert = alert_for_outcome(outcome, job=job.name, step_assets=step_assets_of(defs), data_dir=str(paths.root))
    if alert is not None:
        outcome.alerts = send_alert(alert)
    return outcome
