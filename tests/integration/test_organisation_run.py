"""A USD company without credentials or surveys, run end to end (issue 16; DECISIONS D135-D137).

One small generated company (300 employees), its money in US dollars and its currency set in the one
place (config/parameters.yml `organisation.currency`, here a copy named by TI_PARAMETERS), with no
credentials extract and no survey export, and a few more planted defects than the generator's. `mappings check` predicts
the run before it happens; then the real pipeline runs, and:

* the prediction equals the run, file by file and rule by rule;
* the USD company runs: its dollars load, the planted euro lines are quarantined, nothing blocks;
* certification attainment and the learning NPS are published as "not measured", and the report
  says so in words (drawn in headless Chromium).
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from report_support import require_chromium

SWAPPED = re.compile(r"\b(EUR|USD)\b")


def _rewrite_csv(path: Path, change) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    body = change(header, body)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    path.write_text(out.getvalue(), encoding="utf-8")


def _planted_rows(changes: tuple[tuple[str, str], ...], key: str, prefix: str):
    """More rows, each a copy of an existing one with one rule broken."""
    def change(header: list[str], body: list[list[str]]) -> list[list[str]]:
        col = {name: i for i, name in enumerate(header)}
        extra = []
        for n, (name, value) in enumerate(changes):
            row = list(body[n])
            row[col[key]] = f"{prefix}{n}"
            row[col[name]] = value
            extra.append(row)
        return body + extra
    return change


@pytest.fixture(scope="module")
def usd_company(tmp_path_factory):
    from training_impact import synthetic
    from training_impact.mappings_cli import check_landing
    from training_impact.pipeline import run_pipeline
    from training_impact.settings import PARAMETERS_FILE, data_paths

    root = tmp_path_factory.mktemp("usd_company")
    synthetic.generate(root, employees=300, years=2, seed=11)
    landing = root / "landing"
    for path in [*landing.glob("lms/credentials_*"), *landing.glob("surveys/*")]:
        path.unlink()
    # the company's money is in dollars; the generator's planted "USD in an EUR ledger" lines become euros
    euro_lines = 0
    for path in [*landing.glob("finance/*.csv"), *landing.glob("hris/job_history_*.csv")]:
        text = SWAPPED.sub(lambda m: "USD" if m.group(1) == "EUR" else "EUR", path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")
        if path.parts[-2] == "finance":
            euro_lines += sum(row.get("currency") == "EUR" for row in csv.DictReader(io.StringIO(text)))
    # a status word no value map knows (the enrollments of 300 people are few: one more keeps the gate at warn)
    _rewrite_csv(next(landing.glob("lms/enrollments_*.csv")),
                 _planted_rows((("status", "Lost"),), "enrollment_id", "ENR-PLANTED-"))
    # a 1900 placeholder date, a rating outside 1-5, a worker nobody employs
    _rewrite_csv(sorted(landing.glob("performance/ratings_*.csv"))[-2],
                 _planted_rows((("evaluation_date", "1900-01-01"), ("rating", "9"), ("worker_id", "W9999999")),
                               "evaluation_id", "EV-PLANTED-"))
    params = yaml.safe_load(PARAMETERS_FILE.read_text(encoding="utf-8"))
    params["organisation"]["currency"] = "USD"           # the one place
    (root / "parameters.yml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TI_PARAMETERS", str(root / "parameters.yml"))
        predicted = check_landing(root)
        outcome = run_pipeline(data_paths(root))
        yield {"paths": data_paths(root), "predicted": predicted, "outcome": outcome, "euro_lines": euro_lines}


def _run_quarantine(paths, run_id: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with duckdb.connect() as con:
        rows = con.execute(
            "select _source_file, rule, count(distinct _source_row) from read_parquet(?, union_by_name = true) "
            "where _batch_id = ? group by all",
            [str(paths.bronze / "_quarantine" / "*" / "*.parquet"), run_id]).fetchall()
    for source_file, rule, n in rows:
        out.setdefault(source_file, {})[rule] = int(n)
    return out


def _manifest(paths, run_id: str) -> dict[str, tuple]:
    with duckdb.connect() as con:
        rows = con.execute(
            "select source_file, status, coalesce(rows_read, 0), coalesce(rows_loaded, 0), "
            "coalesce(rows_quarantined, 0) from read_parquet(?, union_by_name = true) where batch_id = ?",
            [str(paths.bronze / "_manifest" / "*.parquet"), run_id]).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_check_predicted_the_run_file_by_file_and_rule_by_rule(usd_company):
    paths, predicted, outcome = usd_company["paths"], usd_company["predicted"], usd_company["outcome"]
    assert outcome.success, outcome.failures
    files = predicted.files
    assert {f["source_file"]: (f["status"], f["rows_read"], f["rows_loaded"], f["rows_quarantined"])
            for f in files} == _manifest(paths, outcome.run_id)
    by_rule = {f["source_file"]: f["quarantine_by_rule"] for f in files if f["quarantine_by_rule"]}
    assert by_rule == _run_quarantine(paths, outcome.run_id)
    rules = {rule for counts in by_rule.values() for rule in counts}
    # the planted defects, the generator's and ours: currency, plausible range, references, accepted values, ...
    assert {"accepted_currency:currency", "implausible_date:evaluation_date", "expect_column_values_to_be_between:rating",
            "unknown_reference:worker_id", "expect_column_values_to_be_in_set:status", "duplicate_key",
            "invalid_type:evaluation_date", "score_range:score"} <= rules
    assert not predicted.blocks


def test_a_usd_company_runs_by_setting_its_currency_in_one_place(usd_company):
    from training_impact.expectations import suites

    paths, predicted, outcome = usd_company["paths"], usd_company["predicted"], usd_company["outcome"]
    assert outcome.success, outcome.failures
    assert not [c for c in outcome.check_results if not c["passed"] and c["severity"] != "WARN"]
    currency = {f: n["accepted_currency:currency"] for f, n in _run_quarantine(paths, outcome.run_id).items()
                if "accepted_currency:currency" in n}
    assert sum(currency.values()) == usd_company["euro_lines"] >= 1     # only the planted euro lines
    assert all(f.startswith("finance/") for f in currency)
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        assert con.execute("select distinct currency from main_marts.kpi_roi").fetchall() == [("USD",)]
        assert con.execute("select currency from main_staging.stg_config__parameters").fetchone() == ("USD",)
        assert con.execute("select fully_loaded_cost from main_marts.kpi_roi where slice_grain = 'overall'"
                           ).fetchone()[0] > 0
    assert all(suites.suite_version(e)[2] for e in ("cost_lines", "job_history"))   # no suite to re-lock


def test_without_credentials_or_surveys_kpis_are_not_measured(usd_company, capsys):
    from training_impact.summary import print_run_summary

    paths, predicted, outcome = usd_company["paths"], usd_company["predicted"], usd_company["outcome"]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute("select kpi, slice_grain, n_band, estimate, n, suppressed, not_measured_reason "
                           "from main_marts.kpi_summary where measurement_status = 'not_measured' order by kpi"
                           ).fetchall()
        assert [r[0] for r in rows] == ["active_certification_rate", "certification_attainment", "learning_nps",
                                        "survey_response_rate"]
        assert all(r[1:6] == ("overall", "not measured", None, None, False) for r in rows)
        assert "no credential records were delivered" in rows[0][6] and "no survey answers" in rows[2][6]
        # nothing else of them: no 0% with an interval, no suppressed cells by program type
        assert con.execute("select count(*) from main_marts.kpi_certification_attainment").fetchone() == (2,)
        assert con.execute("select count(*) from main_marts.kpi_learning_nps").fetchone() == (1,)
        assert con.execute("select count(*) from main_marts.kpi_completion_rate "
                           "where measurement_status = 'measured' and not suppressed").fetchone()[0] > 0
    # said beforehand by `mappings check`, and after the run by its summary
    said = [w["text"] for w in predicted.kpi_warnings]
    assert any(t.startswith("Certification attainment, Active certifications: not measured") for t in said)
    assert any(t.startswith("Learning NPS, Survey response rate: not measured") for t in said)
    print_run_summary(paths, outcome)
    out = capsys.readouterr().out
    assert "KPI warning: Certification attainment, Active certifications: not measured" in out
    assert "KPI warning: Learning NPS, Survey response rate: not measured" in out


def test_the_report_says_not_measured_in_words_and_chromium_draws_it(usd_company):
    from training_impact.reporting.browser import check_render, screenshot
    from training_impact.reporting.png import colour_share, png_size, read_png

    paths = usd_company["paths"]
    page = paths.root / "reports" / "kpi_report.html"
    html = page.read_text(encoding="utf-8")
    assert "<b>Not measured.</b>" in html
    row = re.search(r"<tr><td><b>Certification attainment</b>.*?</tr>", html, re.S).group(0)
    assert "Not measured: no credential records were delivered" in row and "%" not in row.split("</span>", 1)[1]
    assert "Not measured: no survey answers were delivered" in html
    assert "$" in html                                         # money in the organisation's currency
    require_chromium()
    # (a company of 300 suppresses every impact cell: the forest plots have nothing to draw)
    assert {"type-rates", "roi-all"} <= check_render(page).drawn()
    png = screenshot(page, paths.root / "reports" / "not_measured.png", height=1800)
    assert png_size(png) == (1200, 1800)
    assert colour_share(read_png(png), (0xFF, 0xF8, 0xE6), tolerance=4) > 0.005   # the "Not measured" box
