"""Quality suites, row validation, gate, Data Docs and export hygiene (real GX, no mocks)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
import yaml

from training_impact.expectations import suites
from training_impact.expectations.export import neutralise_formula, neutralise_frame
from training_impact.expectations.gate import evaluate_gate
from training_impact.expectations.results import build_data_docs, record_run
from training_impact.expectations.validate import SchemaError, validate_rows

AS_OF = dt.date(2026, 10, 31)
PARAMS = yaml.safe_load((suites.PACKAGE_DIR.parent / "config" / "parameters.yml").read_text())

# One clean row per entity, as bronze holds it after the vendor mapping.
CLEAN: dict[str, dict] = {
    "workers": dict(worker_id="W1", hire_date=dt.date(2020, 3, 1), original_hire_date=dt.date(2018, 1, 1),
                    termination_date=None, termination_category=None, fte_pct=100.0,
                    first_name="Ada", email="ada@example.com"),
    "job_history": dict(worker_id="W1", effective_date=dt.date(2020, 3, 1), event_sequence=1,
                        event_reason="hire", management_level=3, base_pay=52000.0, currency="EUR"),
    "productivity": dict(worker_id="W1", period=dt.date(2026, 9, 1), metric="tickets_closed",
                         unit="count", value=42.0),
    "ratings": dict(evaluation_id="R1", worker_id="W1", evaluation_date=dt.date(2026, 6, 30),
                    evaluation_type="manager_rating", rating=4),
    "programs": dict(program_id="P1", title="Data literacy", method="bootcamp", program_type="reskilling",
                     planned_hours=40.0, window_days=90, move_on_rule="passed", score_min=0.0,
                     score_max=100.0, mastery_score=80.0, expected_life_years=3),
    "enrollments": dict(enrollment_id="E1", worker_id="W1", program_id="P1", attempt=1,
                        assignment_type="optional", enrolled_at=dt.date(2026, 1, 5),
                        started_at=dt.date(2026, 1, 6), status="completed",
                        completion_date=dt.date(2026, 3, 1), score=87.5, hours_spent=12.0),
    "xapi_statements": dict(statement_id="S1", actor_id="W1", verb_id="http://adlnet.gov/expapi/verbs/passed",
                            verb="passed", statement_timestamp=pd.Timestamp("2026-03-01T10:00:00Z"),
                            stored=pd.Timestamp("2026-03-01T10:00:02Z"), score_scaled=0.9, score_raw=9.0,
                            score_min=0.0, score_max=10.0, duration_seconds=3600.0),
    "credentials": dict(credential_id="C1", worker_id="W1", program_id="P1", credential_name="Analyst",
                        issued_on=dt.date(2026, 3, 2), expires_on=dt.date(9999, 12, 31)),
    "cost_lines": dict(line_id="INV1-1", posting_date=dt.date(2026, 2, 28), cost_category="tuition",
                       amount=1200.0, currency="EUR", program_id="P1"),
    "survey_responses": dict(response_id="R_1", worker_id="W1", program_id="P1",
                             started_at=pd.Timestamp("2026-03-02T09:00:00Z"),
                             ended_at=pd.Timestamp("2026-03-02T09:04:00Z"), finished=True, progress=100,
                             duration_seconds=240, nps=9, relevance=4, confidence_before=2,
                             confidence_after=4, feedback_text="=useful"),
}


def rows(entity: str, *changes: dict) -> pd.DataFrame:
    """One clean row per change dict, each with the change applied."""
    return pd.DataFrame([{**CLEAN[entity], **c} for c in changes])


def failures(v) -> list[tuple[int, str]]:
    return list(zip(v.failures["row_index"].tolist(), v.failures["rule"].tolist()))


# --------------------------------------------------------------------------- suites


@pytest.mark.parametrize("entity", list(CLEAN))
def test_every_entity_suite_builds_versioned(entity):
    suite = suites.build_suite(entity)
    assert suite.name == entity
    assert suite.meta["entity"] == entity
    assert suite.meta["suite_version"] >= 1
    names = [e.meta["rule"] for e in suite.expectations]
    assert names and all(":" in n or n == "duplicate_key" for n in names)
    assert "duplicate_key" in names


def test_suite_versions_match_the_lock():
    # Fails when a schema/rule/policy change altered a suite without a version
    # bump: run `python -m training_impact.expectations.suites --lock`.
    stale = [e for e in suites.load_schemas() if not suites.suite_version(e)[2]]
    assert stale == []


def test_schema_rules_and_no_rules_on_pii():
    names = [e.meta["rule"] for e in suites.build_suite("survey_responses").expectations]
    assert "expect_column_values_to_be_between:nps" in names
    assert not any("recipient_email" in n or "ip_address" in n for n in names)


# --------------------------------------------------------------------------- clean rows


@pytest.mark.parametrize("entity", list(CLEAN))
def test_clean_rows_pass(entity):
    v = validate_rows(entity, rows(entity, {}), as_of=AS_OF)
    assert v.success, v.failures.to_dict("records")
    assert v.failures.empty
    assert v.result["success"] is True and v.result["rows"] == 1


def test_empty_batch_passes():
    v = validate_rows("ratings", rows("ratings", {}).iloc[0:0], as_of=AS_OF)
    assert v.success and v.rows == 0


# --------------------------------------------------------------------------- bad rows


def test_nps_out_of_range():
    v = validate_rows("survey_responses", rows("survey_responses", {}, {"response_id": "R_2", "nps": 11}),
                      as_of=AS_OF, source_file="surveys/post_training_survey_2026-03.csv")
    assert failures(v) == [(1, "expect_column_values_to_be_between:nps")]
    f = v.failures.iloc[0]
    assert (f["column"], f["value"]) == ("nps", "11")
    assert v.result["rules"]["expect_column_values_to_be_between:nps"]["unexpected_count"] == 1
    assert v.rows_by_rule() == {"expect_column_values_to_be_between:nps": 1}


def test_score_above_default_max_and_program_max():
    df = rows("enrollments", {}, {"enrollment_id": "E2", "score": 140.0}, {"enrollment_id": "E3", "score": 12.0})
    assert failures(validate_rows("enrollments", df, as_of=AS_OF)) == [(1, "score_range:score")]
    programs = rows("programs", {"score_max": 10.0, "mastery_score": 8.0})  # 87.5 and 12 exceed 10
    v = validate_rows("enrollments", df, as_of=AS_OF, references={"programs": programs})
    assert failures(v) == [(0, "score_range:score"), (1, "score_range:score"), (2, "score_range:score")]
    assert v.failures.loc[2, "message"] == "is above the program's maximum (10)"


def test_end_before_start():
    df = rows("enrollments", {}, {"enrollment_id": "E2", "completion_date": dt.date(2025, 12, 1)})
    v = validate_rows("enrollments", df, as_of=AS_OF)
    assert failures(v) == [(1, "date_order:completion_date>=enrolled_at")]
    assert v.failures.loc[0, "value"] == "2025-12-01"
    s = rows("survey_responses", {"ended_at": pd.Timestamp("2026-03-02T08:00:00Z")})
    assert failures(validate_rows("survey_responses", s, as_of=AS_OF)) == [(0, "date_order:ended_at>=started_at")]
    c = rows("credentials", {"expires_on": dt.date(2025, 1, 1)})
    assert failures(validate_rows("credentials", c, as_of=AS_OF)) == [(0, "date_order:expires_on>=issued_on")]
    w = rows("workers", {"termination_date": dt.date(2019, 1, 1)})
    assert failures(validate_rows("workers", w, as_of=AS_OF)) == [(0, "date_order:termination_date>=hire_date")]


def test_future_date_with_tolerance():
    df = rows("enrollments",
              {"enrollment_id": "E1", "enrolled_at": AS_OF + dt.timedelta(days=2), "completion_date": None},
              {"enrollment_id": "E2", "enrolled_at": AS_OF + dt.timedelta(days=3), "completion_date": None})
    v = validate_rows("enrollments", df, as_of=AS_OF)
    assert failures(v) == [(1, "future_date:enrolled_at")]
    assert v.failures.loc[0, "message"].endswith("(2026-11-02)")
    # Open-ended expiry dates and future hires are not future-date errors.
    assert validate_rows("workers", rows("workers", {"hire_date": dt.date(2027, 1, 1)}), as_of=AS_OF).success


def test_null_key_and_duplicate_key_keep_first():
    df = rows("productivity", {}, {"worker_id": None}, {}, {"metric": "units_per_hour"}, {})
    df.index = [10, 20, 30, 40, 50]  # row_index is the position, whatever the index
    v = validate_rows("productivity", df, as_of=AS_OF)
    assert failures(v) == [(1, "expect_column_values_to_not_be_null:worker_id"),
                           (2, "duplicate_key"), (4, "duplicate_key")]
    dup = v.failures.iloc[1]
    assert dup["column"] == "worker_id+period+metric"
    assert dup["value"] == "W1|2026-09-01|tickets_closed"
    assert dup["message"] == "duplicate key: another row with this key is kept"


def test_duplicate_keeps_first_row_that_passes_other_rules():
    df = rows("ratings", {"rating": 9}, {}, {})
    v = validate_rows("ratings", df, as_of=AS_OF)
    assert failures(v) == [(0, "duplicate_key"), (0, "expect_column_values_to_be_between:rating"),
                           (2, "duplicate_key")]
    assert set(v.failed_rows) == {0, 2}


def test_bad_and_mixed_case_status():
    df = rows("enrollments", {}, {"enrollment_id": "E2", "status": "done"},
              {"enrollment_id": "E3", "status": "Completed"})
    v = validate_rows("enrollments", df, as_of=AS_OF)
    # Strict on purpose: vendor values are mapped before validation.
    assert failures(v) == [(1, "expect_column_values_to_be_in_set:status"),
                           (2, "expect_column_values_to_be_in_set:status")]
    assert v.failures["value"].tolist() == ["done", "Completed"]


def test_cost_line_rules():
    df = rows("cost_lines", {},
              {"line_id": "G1", "cost_category": "grant", "amount": 500.0},
              {"line_id": "G2", "cost_category": "grant", "amount": -500.0},
              {"line_id": "X1", "amount": 2.5e7},
              {"line_id": "X2", "currency": "USD"},
              {"line_id": "X3", "amount": -300.0})  # a credit note on tuition: sign is free
    v = validate_rows("cost_lines", df, as_of=AS_OF)
    assert failures(v) == [(1, "offset_sign:amount"), (3, "amount_range:amount"),
                           (4, "accepted_currency:currency")]


def test_references_only_when_given():
    df = rows("enrollments", {}, {"enrollment_id": "E2", "program_id": "P404"})
    plain = validate_rows("enrollments", df, as_of=AS_OF)
    assert plain.success and "unknown_reference:program_id" in plain.result["skipped_rules"]
    refs = {"programs": rows("programs", {}), "workers": rows("workers", {})}
    v = validate_rows("enrollments", df, as_of=AS_OF, references=refs)
    assert failures(v) == [(1, "unknown_reference:program_id")]
    assert v.failures.loc[0, "message"] == "not found in programs.program_id"


def test_invalid_type_and_blank_required():
    df = rows("ratings", {}, {"evaluation_id": "R2", "evaluation_date": "31/06/2026"},
              {"evaluation_id": "  "})
    v = validate_rows("ratings", df, as_of=AS_OF)
    assert failures(v) == [(1, "expect_column_values_to_not_be_null:evaluation_date"),
                           (1, "invalid_type:evaluation_date"),
                           (2, "expect_column_values_to_not_be_null:evaluation_id")]


def test_missing_required_column_is_a_schema_error():
    with pytest.raises(SchemaError) as err:
        validate_rows("workers", rows("workers", {}).drop(columns=["hire_date"]), as_of=AS_OF)
    assert err.value.errors == ["missing_required_column: hire_date"]


# --------------------------------------------------------------------------- gate


def report(name="hris/workers_2026-10-31.csv", entity="workers", status="loaded", read=1000,
           quarantined=0, by_rule=None, reason=None, **extra):
    return dict(source_file=name, entity=entity, status=status, reason=reason, rows_read=read,
                rows_loaded=read - quarantined, rows_quarantined=quarantined,
                quarantine_by_rule=by_rule or {}, **extra)


def test_gate_clean_and_duplicate_files_pass():
    out = evaluate_gate("hris", [report(), report(name="hris/job_history_2026-10-31.csv", entity="job_history",
                                                  status="duplicate", read=0)], PARAMS)
    assert (out.passed, out.blocking, out.failures) == (True, False, [])
    assert out.metadata["files"] == {"loaded": 1, "duplicate": 1, "rejected": 0}


def test_gate_rejected_file_blocks():
    out = evaluate_gate("hris", [report(status="rejected", read=0,
                                        reason="missing_required_column: hire_date")], PARAMS)
    assert out.blocking and not out.passed
    assert out.failures == ["hris/workers_2026-10-31.csv: missing_required_column: hire_date"]


def test_gate_quarantine_share_blocks_and_small_share_warns():
    rule = "expect_column_values_to_be_in_set:status"
    big = report("lms/enrollments_2026-10-31.csv", "enrollments", quarantined=60, by_rule={rule: 60})
    out = evaluate_gate("lms", [big], PARAMS)
    assert out.blocking
    assert out.failures == ["lms/enrollments_2026-10-31.csv: quarantine_share: 60 of 1000 rows (6.0%)"
                            f" quarantined, limit 5.0%; top rules: {rule} (60)"]
    small = report("lms/enrollments_2026-10-31.csv", "enrollments", quarantined=3, by_rule={rule: 3})
    out = evaluate_gate("lms", [small], PARAMS)
    assert (out.passed, out.blocking) == (False, False)
    assert out.failures == [f"lms/enrollments_2026-10-31.csv: {rule}: 3 rows quarantined"]


def test_gate_reference_failures_block_above_threshold():
    rep = report("lms/enrollments_2026-10-31.csv", "enrollments", quarantined=20,
                 by_rule={"unknown_reference:program_id": 20})
    out = evaluate_gate("lms", [rep], PARAMS)
    assert out.blocking
    assert out.failures[0].startswith("lms/enrollments_2026-10-31.csv: unknown_reference:program_id: 20 of 1000")


def test_gate_few_failing_rows_warn_however_small_the_extract():
    # 2 orphans in a 132-row snapshot are 1.5%: quarantined and reported, but no trend to block on
    rep = report("lms/enrollments_2026-10-31.csv", "enrollments", read=132, quarantined=2,
                 by_rule={"unknown_reference:worker_id": 2})
    out = evaluate_gate("lms", [rep], PARAMS, entity="enrollments")
    assert (out.passed, out.blocking) == (False, False)
    assert out.failures == ["lms/enrollments_2026-10-31.csv: unknown_reference:worker_id: 2 rows quarantined"]
    rep = report("lms/enrollments_2026-10-31.csv", "enrollments", read=132, quarantined=5,
                 by_rule={"unknown_reference:worker_id": 5})
    assert evaluate_gate("lms", [rep], PARAMS, entity="enrollments").blocking


def test_gate_reconciliation_blocks():
    rep = report()
    rep["rows_loaded"] = 990
    out = evaluate_gate("hris", [rep], PARAMS)
    assert out.blocking
    assert out.failures == ["hris/workers_2026-10-31.csv: reconciliation: rows_read 1000 != rows_loaded 990"
                            " + rows_quarantined 0"]


def test_gate_volume_drop_warns_or_blocks_by_policy():
    rep = report(read=300, previous_rows_loaded=1000)
    out = evaluate_gate("hris", [rep], PARAMS)
    assert (out.passed, out.blocking) == (False, False)
    assert out.failures == ["hris/workers_2026-10-31.csv: volume_drop: 300 rows loaded vs 1000 in the"
                            " previous load (70% fewer)"]
    from training_impact.expectations.policy import load_policy
    policy = json.loads(json.dumps(load_policy()))
    policy["gate"]["volume_drop"]["action"] = "block"
    assert evaluate_gate("hris", [rep], PARAMS, policy=policy).blocking


def test_gate_no_files_warns():
    out = evaluate_gate("finance", [], PARAMS)
    assert out.failures == ["finance: no_files: no new files this run"] and not out.blocking
    out = evaluate_gate("hris", [], PARAMS, entity="job_history")
    assert out.failures == ["hris/job_history: no_files: no new files this run"]


# --------------------------------------------------------------------------- results + Data Docs


def test_record_run_and_data_docs(tmp_path):
    bad = rows("survey_responses", {}, {"response_id": "R_2", "nps": 11})
    v1 = validate_rows("survey_responses", bad, as_of=AS_OF,
                       source_file="surveys/post_training_survey_2026-03.csv",
                       references={"workers": rows("workers", {})})
    v2 = validate_rows("survey_responses", rows("survey_responses", {}), as_of=AS_OF,
                       source_file="surveys/post_training_survey_2026-04.csv")
    stored = record_run(tmp_path, "survey_responses", v1, v2, run_name="batch-0001")
    assert len(stored) == 2 and all(p.exists() for p in stored)
    doc = json.loads(stored[0].read_text())
    assert doc["meta"]["source_file"] == "surveys/post_training_survey_2026-03.csv"
    assert doc["meta"]["suite_version"] == suites.suite_version("survey_responses")[0]
    text = stored[0].read_text()
    assert "\"unexpected_index_list\"" not in text  # only GX's partial lists are kept
    assert '"W1"' not in text  # the reference id list is not copied into the result
    index = build_data_docs(tmp_path)
    assert index == tmp_path.resolve() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.exists()
    pages = list(index.parent.glob("validations/survey_responses/batch-0001/*/*.html"))
    assert len(pages) == 2
    assert "expect_column_values_to_be_between:nps" in (index.parent / "expectations" / "survey_responses.html").read_text()


REMOTE_ASSET = re.compile(r"<(?:link|script|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def test_data_docs_open_offline(tmp_path):
    """D125: no page loads anything from another host, and the index is plain HTML (no script) with one
    row per stored result linking its page; a later run's build adds its rows and fixes only its pages."""
    from training_impact.expectations import data_docs

    bad = rows("survey_responses", {}, {"response_id": "R_2", "nps": 11})
    first = validate_rows("survey_responses", bad, as_of=AS_OF,
                          source_file="surveys/post_training_survey_2026-03.csv")
    keys: list = []
    record_run(tmp_path, "survey_responses", first, run_name="batch-0001", _keys=keys)
    index = build_data_docs(tmp_path, keys)
    site = index.parent
    later = validate_rows("workers", rows("workers", {}), as_of=AS_OF, source_file="hris/workers_2026-10-31.csv")
    keys = []
    record_run(tmp_path, "workers", later, run_name="batch-0002", _keys=keys)
    old_page = next(site.glob("validations/survey_responses/batch-0001/*/*.html"))
    written = old_page.stat().st_mtime_ns
    assert build_data_docs(tmp_path, keys) == index
    assert old_page.stat().st_mtime_ns == written          # only the new run's pages were rewritten

    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 5  # index, two results, two suites
    assert [p for p in pages if REMOTE_ASSET.search(p.read_text(encoding="utf-8"))] == []
    assert all(data_docs.STYLE in p.read_text(encoding="utf-8") for p in pages)
    text = index.read_text(encoding="utf-8")
    assert "<script" not in text
    result_rows = re.findall(r'<tr class="ti-result" data-success="(\w+)">(.*?)</tr>', text, re.S)
    assert [(ok, re.search(r'href="([^"]+)"', row)[1].split("/")[1]) for ok, row in result_rows] == \
        [("true", "workers"), ("false", "survey_responses")]   # newest first
    for _, row in result_rows:
        assert (site / re.search(r'href="([^"]+)"', row)[1]).is_file()
    assert ">hris/workers_2026-10-31.csv</a>" in text and ">surveys/post_training_survey_2026-03.csv</a>" in text
    assert '<a href="expectations/workers.html">workers</a>' in text
    assert (tmp_path / "gx" / "uncommitted" / data_docs.INDEX_CACHE).is_file()


# --------------------------------------------------------------------------- export


def test_neutralise_formula():
    assert neutralise_formula("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert [neutralise_formula(v) for v in ["+1+2", "-2+3", "@SUM(A1)", "\t=1"]] == \
        ["'+1+2", "'-2+3", "'@SUM(A1)", "'\t=1"]
    assert [neutralise_formula(v) for v in ["-12.5", "+3", "plain", "", None, -4.0]] == \
        ["-12.5", "+3", "plain", "", None, -4.0]
    df = pd.DataFrame({"memo": ["=cmd|' /C calc'!A0", "ok", None], "amount": [-1.0, 2.0, -3.0]})
    out = neutralise_frame(df)
    assert out["memo"].tolist()[:2] == ["'=cmd|' /C calc'!A0", "ok"] and pd.isna(out["memo"].iloc[2])
    assert out["amount"].tolist() == [-1.0, 2.0, -3.0]
    assert df["memo"].iloc[0].startswith("=")  # the input is not modified
