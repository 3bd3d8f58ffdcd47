"""The optional HRIS entity worker_attributes: schema flag and gate. The real pipeline on a tiny
company with the extract and on one without it is tests/integration/test_worker_attributes_run.py."""

from __future__ import annotations

from training_impact.expectations.gate import evaluate_gate
from training_impact.ingestion.schemas import load_schemas

PARAMS = {"quality": {"max_quarantine_share": 0.02}}


def test_schema_marks_worker_attributes_optional():
    s = load_schemas()
    e = s.entity("worker_attributes")
    assert e.optional and e.family == "hris" and e.load == "snapshot"
    assert e.column_names == ["worker_id", "attribute", "value", "valid_from"]
    assert e.key_columns == ["worker_id", "attribute", "valid_from"]
    assert not any(s.entity(n).optional for n in s.entities if n != "worker_attributes")


def test_gate_passes_an_optional_entity_never_delivered_but_not_a_required_one():
    never = {"entity": "worker_attributes", "newest_file": None, "modified_at": None, "age_days": None, "files": 0}
    assert evaluate_gate("hris", [], PARAMS, entity="worker_attributes", freshness=never).passed
    out = evaluate_gate("hris", [], PARAMS, entity="job_history", freshness={**never, "entity": "job_history"})
    assert not out.passed and not out.blocking
    assert any("no_files" in f for f in out.failures) and any("freshness" in f for f in out.failures)
    # delivered once, nothing new this run: the usual warning
    seen = {**never, "newest_file": "hris/worker_attributes_2026-10-31.csv", "age_days": 1.0, "files": 1}
    out = evaluate_gate("hris", [], PARAMS, entity="worker_attributes", freshness=seen)
    assert [f.split(": ")[1] for f in out.failures] == ["no_files"]
