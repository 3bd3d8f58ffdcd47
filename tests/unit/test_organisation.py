"""The organisation's settings in one place: config/parameters.yml `organisation:` (issue 16, DECISIONS D136).

Currency, fiscal year, time zone and minimum cell size are set once; the quality gate's accepted
currency derives from it (a suite parameter: no suite change, no --lock), a mapping without a
time zone reads local timestamps in the organisation's, the schedule's zone defaults to it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from training_impact.expectations import suites
from training_impact.expectations.validate import validate_rows
from training_impact.settings import PARAMETERS_FILE, Organisation, Settings, load_parameters, organisation


def parameters_with(tmp_path: Path, **org) -> Path:
    params = yaml.safe_load(PARAMETERS_FILE.read_text(encoding="utf-8"))
    params["organisation"].update(org)
    path = tmp_path / "parameters.yml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_parameters_hold_the_organisation():
    org = organisation(load_parameters())
    assert org == Organisation(currency="EUR", fiscal_year_start_month=1, timezone="UTC", min_cell_size=5)
    assert "reporting" not in load_parameters()      # one place: no second block to keep in step


def test_an_earlier_parameters_file_is_still_read():
    legacy = {"reporting": {"currency": "gbp", "min_cell_size": 10}}
    assert organisation(legacy) == Organisation(currency="GBP", min_cell_size=10)
    both = {"organisation": {"currency": "USD"}, "reporting": {"currency": "GBP", "min_cell_size": 10}}
    assert organisation(both).currency == "USD" and organisation(both).min_cell_size == 10


@pytest.mark.parametrize("org,error", [({"currency": "Euro"}, "ISO 4217"), ({"fiscal_year_start_month": 13}, "1..12"),
                                       ({"timezone": "Mars/Base"}, "IANA"), ({"min_cell_size": 0}, "at least 1")])
def test_a_wrong_setting_is_named(org, error):
    with pytest.raises(ValueError, match=error):
        organisation({"organisation": org})


def _cost_lines(*currencies: str) -> pd.DataFrame:
    return pd.DataFrame({"line_id": [f"L{i}" for i in range(len(currencies))],
                         "posting_date": pd.to_datetime(["2025-01-31"] * len(currencies)),
                         "cost_category": ["tuition"] * len(currencies), "amount": [100.0] * len(currencies),
                         "currency": list(currencies)})


def test_changing_the_currency_in_the_one_place_is_enough(tmp_path, monkeypatch):
    """A USD company: its cost lines load, EUR ones are quarantined, and no suite changes (no --lock)."""
    import datetime as dt

    before = {e: suites.suite_version(e) for e in ("cost_lines", "job_history")}
    eur = validate_rows("cost_lines", _cost_lines("EUR", "USD"), as_of=dt.date(2025, 2, 1))
    assert eur.failures["row_index"].tolist() == [1]
    monkeypatch.setenv("TI_PARAMETERS", str(parameters_with(tmp_path, currency="USD")))
    usd = validate_rows("cost_lines", _cost_lines("EUR", "USD"), as_of=dt.date(2025, 2, 1))
    assert usd.failures["row_index"].tolist() == [0]
    assert usd.failures["message"].tolist() == [
        "EUR is not the organisation's currency, USD (organisation.currency in config/parameters.yml)"]
    suites._cached_expectations.cache_clear()
    after = {e: suites.suite_version(e) for e in ("cost_lines", "job_history")}
    assert after == before and all(in_sync for _, _, in_sync in after.values())


def test_time_zone_defaults(tmp_path, monkeypatch):
    from training_impact.ingestion.mapping import parse_mapping

    path = parameters_with(tmp_path, timezone="America/Chicago")
    env = {"TI_PARAMETERS": str(path)}
    assert Settings.from_environment(env).timezone == "America/Chicago"
    assert Settings.from_environment({**env, "TI_TIMEZONE": "Europe/Paris"}).timezone == "Europe/Paris"
    assert Settings.from_environment({}).timezone == "UTC"
    monkeypatch.setenv("TI_PARAMETERS", str(path))
    doc = {"entities": {"survey_responses": {"pattern": "surveys/x_*.csv", "format": "csv",
                                             "columns": {"Id": "response_id"}}}}
    assert parse_mapping(doc, tmp_path / "x.yml").for_entity("survey_responses")[0].timezone == "America/Chicago"
    doc["entities"]["survey_responses"]["timezone"] = "Asia/Singapore"   # a mapping's own zone wins
    assert parse_mapping(doc, tmp_path / "x.yml").for_entity("survey_responses")[0].timezone == "Asia/Singapore"


def test_the_report_reads_the_organisation():
    from training_impact.reporting.data import ReportData

    data = ReportData(summary=[], params={"organisation": {"currency": "USD", "min_cell_size": 11}})
    assert (data.currency, data.min_cell_size) == ("USD", 11)
    assert ReportData(summary=[], params={"reporting": {"currency": "GBP"}}).currency == "GBP"
