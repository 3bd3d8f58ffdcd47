"""What the audit reads from a run's Dagster event log.

``check_evaluations`` is read by the ledger (audit.ledger.check_rows) and by the alerts
(orchestration.alerts, which sit above the audit and import it from here).
"""

from __future__ import annotations


def check_evaluations(instance, run_id: str):
    """(event log entry, AssetCheckEvaluation) of every asset check the run evaluated."""
    from dagster import DagsterEventType

    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        yield entry, entry.dagster_event.event_specific_data
