"""The synthetic company generator: determinism, file contracts, truth, defects,
and the two properties the impact marts depend on (selection bias is visible;
the naive before/after overstates the planted effect)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from training_impact import synthetic
from repo_paths import REPO_ROOT
from training_impact.synthetic.writer import COLUMNS, SURVEY_COLUMNS

COMPANY = {"employees": 3000, "years": 3, "seed": 42}
LINEAGE = {"_source_file", "_source_sha256", "_source_row", "_batch_id", "_ingested_at"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    summary = synthetic.generate(root, **COMPANY)
    truth = json.loads((root / "truth.json").read_text())
    return root, root / "landing", summary, truth


@pytest.fixture(scope="module")
def db(company):
    _, landing, _, _ = company
    con = duckdb.connect()
    con.execute(f"""
        create view productivity as select * from read_csv('{landing}/performance/productivity_*.csv',
            header=true, filename=true,
            columns={{'worker_id':'VARCHAR','period':'DATE','metric':'VARCHAR','unit':'VARCHAR','value':'DOUBLE'}});
        create view workers as select * from read_csv('{landing}/hris/workers_*.csv', header=true, all_varchar=true);
        create view job_history as select * from read_csv('{landing}/hris/job_history_*.csv', header=true,
            all_varchar=true);
        create view enrollments as select * from read_csv('{landing}/lms/enrollments_*.csv', header=true,
            all_varchar=true);
        create view programs as select * from read_csv('{landing}/lms/programs_*.csv', header=true, all_varchar=true);
        create view ratings as select * from read_csv('{landing}/performance/ratings_*.csv', header=true,
            all_varchar=true, filename=true);
        create view credentials as select * from read_csv('{landing}/lms/credentials_*.csv', header=true,
            all_varchar=true);
        create view cost_lines as select * from read_csv('{landing}/finance/cost_lines_*.csv', header=true,
            all_varchar=true, filename=true);
        create view idx as select worker_id, period, value / avg(value) over (partition by metric, period) * 100 ix
            from (select distinct worker_id, period, metric, unit, value from productivity);
    """)
    return con


def _rel(path: str, landing: Path) -> str:
    return str(Path(path).resolve().relative_to(landing.resolve()))


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    args = {"employees": 300, "years": 2, "end_date": date(2026, 10, 31)}
    a = synthetic.generate(tmp_path / "a", seed=7, **args)
    synthetic.generate(tmp_path / "b", seed=7, **args)
    synthetic.generate(tmp_path / "c", seed=8, **args)
    ha, hb, hc = (_hashes(tmp_path / d) for d in "abc")
    assert ha == hb
    assert set(ha) == set(hc)
    same = {f for f in ha if ha[f] == hc[f]}
    # Only the fixed program catalogue and header-only months (no survey answer
    # in a 300-person company) can coincide.
    for f in same:
        assert f == "landing/lms/programs_2026-10-31.csv" or a["files"].get(f.removeprefix("landing/")) == 0, f
    assert len(same) < len(ha) / 3
    assert a["rows"]["workers"] == 300


# ----------------------------------------------------------------------------- contracts


def test_files_follow_layout_and_canonical_columns(company):
    _, landing, summary, _ = company
    schemas = yaml.safe_load((REPO_ROOT / "ingestion" / "canonical_schemas.yml").read_text())["entities"]
    globs = {"workers": "hris/workers_2026-10-31.csv", "job_history": "hris/job_history_2026-10-31.csv",
             "productivity": "performance/productivity_*.csv", "ratings": "performance/ratings_*.csv",
             "programs": "lms/programs_2026-10-31.csv", "enrollments": "lms/enrollments_2026-10-31.csv",
             "credentials": "lms/credentials_2026-10-31.csv", "cost_lines": "finance/cost_lines_*.csv"}
    for entity, pattern in globs.items():
        expected = [c for c in schemas[entity]["columns"] if c not in LINEAGE]
        assert list(COLUMNS[entity]) == expected, entity
        files = sorted(landing.glob(pattern))
        assert files, pattern
        for f in files:
            with open(f, encoding="utf-8") as fh:
                assert next(csv.reader(fh)) == expected, f
    months = {f"2023-{m:02d}" for m in (11, 12)} | {f"2024-{m:02d}" for m in range(1, 13)}
    for pattern in ("performance/productivity_{}.csv", "performance/ratings_{}.csv", "finance/cost_lines_{}.csv",
                    "lms/xapi/statements_{}.ndjson", "surveys/post_training_survey_{}.csv"):
        for m in months:
            assert (landing / pattern.format(m)).exists(), pattern.format(m)
    assert sum(summary["files"].values()) == sum(summary["rows"].values())


def test_qualtrics_export_has_three_header_rows_like_the_real_one(company, shared_fixtures):
    _, landing, _, truth = company
    with open(shared_fixtures / "surveys" / "qualtrics_3header.csv", encoding="utf-8") as fh:
        real = list(csv.reader(fh))
    files = sorted(landing.glob("surveys/post_training_survey_*.csv"))
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            r = list(csv.reader(fh))
        assert r[0] == [c[0] for c in SURVEY_COLUMNS]
        assert all(json.loads(cell)["ImportId"] for cell in r[2])
        rows.extend(r[3:])
    # The metadata columns are exactly Qualtrics' own, in Qualtrics' order.
    assert r[0][:17] == real[0][:17]
    assert len(r[1]) == len(r[0]) and "How likely" in r[1][17]
    assert rows and all(len(x) == len(SURVEY_COLUMNS) for x in rows)
    finished = Counter(x[6] for x in rows)
    assert set(finished) == {"True", "False"} and finished["False"] > 0
    assert all(re.fullmatch(r"R_[A-Za-z0-9]{15}", x[8]) for x in rows)
    assert 0.35 <= truth["features"]["survey_responses"] / truth["features"]["survey_invitations"] <= 0.65


def test_xapi_statements_are_valid_except_the_planted_ones(company):
    xapi = pytest.importorskip("training_impact.ingestion.xapi")
    _, landing, _, truth = company
    invalid = Counter()
    verbs = Counter()
    for f in sorted(landing.glob("lms/xapi/statements_*.ndjson")):
        for line in f.read_text(encoding="utf-8").splitlines():
            stmt = json.loads(line)
            if xapi.validate_statement(stmt):
                invalid[_rel(str(f), landing)] += 1
            else:
                verbs[stmt["verb"]["id"]] += 1
                assert stmt["version"] == "1.0.3" and stmt["timestamp"].endswith("Z")
    assert dict(invalid) == truth["defects"]["invalid_xapi_statement"]["files"]
    assert verbs["http://adlnet.gov/expapi/verbs/voided"] == truth["features"]["voided_statements"] > 0
    for v in ("launched", "initialized", "completed", "passed", "failed", "terminated"):
        assert verbs[f"http://adlnet.gov/expapi/verbs/{v}"] > 0, v
    for v in ("abandoned", "satisfied"):
        assert verbs[f"https://w3id.org/xapi/adl/verbs/{v}"] > 0, v


def test_hr_history_is_consistent(db):
    first = db.execute("""
        select event_reason, count(*) from (select *, row_number() over (partition by worker_id
            order by effective_date, cast(event_sequence as int)) rn from job_history) where rn = 1 group by 1
    """).fetchall()
    assert first == [("hire", 3000)]
    clashes = db.execute("""select count(*) from (select worker_id, effective_date from job_history
        group by 1, 2 having count(distinct event_reason) > 1)""").fetchone()[0]
    assert clashes == 0
    reasons = {r for (r,) in db.execute("select distinct event_reason from job_history").fetchall()}
    assert reasons == {"hire", "rehire", "promotion", "transfer", "lateral", "demotion", "data_change",
                       "termination"}
    stray = db.execute("""select count(*) from job_history where manager_id is not null
        and manager_id not in (select worker_id from workers)""").fetchone()[0]
    assert stray == 0
    corrected = db.execute("""select count(*) from (select worker_id, effective_date from job_history
        group by 1, 2 having count(*) > 1)""").fetchone()[0]
    assert corrected > 0
    rehired = db.execute("select count(*) from workers where rehire_flag = 'true' and hire_date > original_hire_date")
    assert rehired.fetchone()[0] > 0
    one_program = db.execute("select max(n) from (select worker_id, count(distinct program_id) n "
                             "from enrollments group by 1)").fetchone()[0]
    assert one_program == 1


def test_finance_covers_every_cost_category(db):
    cats = dict(db.execute("select cost_category, min(cast(amount as double)) from cost_lines group by 1").fetchall())
    assert set(cats) == {"vendor_fee", "tuition", "licence", "design_development", "facilitator", "travel",
                         "stipend", "evaluation", "grant", "tax_credit"}
    assert cats["grant"] < 0 and cats["tax_credit"] < 0 and min(cats["vendor_fee"], cats["tuition"]) < 0
    shared = db.execute("select count(*) from cost_lines where cost_category = 'licence' and program_id is null")
    assert shared.fetchone()[0] > 0
    stipends = db.execute("select count(*) from cost_lines where cost_category = 'stipend' and worker_id is null")
    assert stipends.fetchone()[0] == 0


def test_truth_has_the_contract_keys(company):
    _, _, _, truth = company
    assert truth["seed"] == 42 and truth["end_date"] == "2026-10-31"
    for key in ("planted", "effects", "selection_bias", "defects", "canaries"):
        assert truth[key], key
    for t, e in (("upskilling", 8.0), ("reskilling", 4.0)):
        eff = truth["effects"][t]
        assert eff["productivity_pct"] == e
        assert eff["n_evaluated_mobility"] > 30
        assert eff["mobility_12m_pp"] > 0 and eff["retention_12m_pp"] > 0
    sb = truth["selection_bias"]["mean_ability"]
    assert sb["enrollees"] > sb["non_enrollees"] + 0.2


# ----------------------------------------------------------------------------- defects


def test_planted_defects_are_where_truth_says(company, db):
    _, landing, _, truth = company
    d = truth["defects"]

    dups = dict(db.execute("""select filename, sum(n - 1) from (select filename, worker_id, period, metric, value,
        count(*) n from productivity group by all) where n > 1 group by 1""").fetchall())
    assert {_rel(f, landing): n for f, n in dups.items()} == d["duplicate_row"]["files"]

    orphans = db.execute("select count(*) from enrollments where worker_id not in (select worker_id from workers)")
    assert orphans.fetchone()[0] == d["orphan_worker_id"]["total"] > 0

    above = db.execute("""select count(*) from enrollments e join programs p using (program_id)
        where cast(e.score as double) > cast(p.score_max as double)""").fetchone()[0]
    assert above == d["score_above_max"]["total"] > 0

    nps11 = 0
    for f in landing.glob("surveys/*.csv"):
        with open(f, encoding="utf-8") as fh:
            nps11 += sum(1 for r in list(csv.reader(fh))[3:] if r[17] == "11")
    assert nps11 == d["nps_out_of_range"]["total"] > 0

    bad = Counter()
    for view, col in (("ratings", "evaluation_date"), ("cost_lines", "posting_date")):
        for f, v in db.execute(f"select filename, {col} from {view}").fetchall():
            try:
                date.fromisoformat(v)
            except ValueError:
                bad[_rel(f, landing)] += 1
    for (v,) in db.execute("select issued_on from credentials").fetchall():
        try:
            date.fromisoformat(v)
        except ValueError:
            bad["lms/credentials_2026-10-31.csv"] += 1
    assert dict(bad) == d["bad_date"]["files"]

    twice = db.execute("""select count(*) from (select line_id from cost_lines group by 1
        having count(distinct filename) > 1)""").fetchone()[0]
    assert twice == d["duplicate_invoice_line"]["total"] > 0
    usd = db.execute("select count(*) from cost_lines where currency <> 'EUR'").fetchone()[0]
    assert usd == d["non_eur_currency"]["total"] > 0

    rows = sum(v for k, v in company[2]["rows"].items())
    planted = sum(k["total"] for k in d.values())
    assert 0.0005 < planted / rows < 0.01


def test_canaries_sit_in_survey_free_text_and_the_roster(company):
    _, landing, _, truth = company
    kinds = Counter(c["kind"] for c in truth["canaries"])
    assert kinds == {"email": 2, "phone": 2, "national_id": 2, "roster_name": 2, "worker_record": 20}
    assert Counter(c["field"] for c in truth["canaries"] if c["kind"] == "worker_record") == \
        {"name": 5, "email": 5, "national_id": 5, "worker_id": 5}
    for c in truth["canaries"]:
        if c["kind"] != "worker_record":     # those are compared with the roster's fields below
            assert c["value"] in (landing / c["file"]).read_text(encoding="utf-8"), c
    with open(next(landing.glob("hris/workers_*.csv")), encoding="utf-8") as fh:
        roster = {r["worker_id"]: r for r in csv.DictReader(fh)}
    for c in truth["canaries"]:
        if c["kind"] == "worker_record":
            r = roster[c["worker_id"]]
            value = {"name": f"{r['first_name']} {r['last_name']}", "email": r["email"],
                     "national_id": r["national_id"], "worker_id": r["worker_id"]}[c["field"]]
            assert c["value"] == value, c
        elif c["kind"] == "national_id":
            assert c["value"] == roster[c["worker_id"]]["national_id"]


# ----------------------------------------------------------------------------- the planted story


def test_selection_bias_is_visible_in_pre_enrolment_productivity(db):
    enrolled, others = db.execute("""
        with e as (select worker_id, cast(coalesce(started_at, enrolled_at) as date) s from enrollments
                   where attempt = '1' and started_at is not null),
        pre as (select avg(ix) v from idx join e using (worker_id)
                where period >= date_trunc('month', s) - interval 6 month and period < date_trunc('month', s))
        select (select v from pre),
               (select avg(ix) from idx where worker_id not in (select worker_id from enrollments))
    """).fetchone()
    assert enrolled > others + 3.0


def test_naive_before_after_overstates_the_planted_effect(company, db):
    _, _, _, truth = company
    naive = dict(db.execute("""
        with c as (select e.worker_id, p.program_type, date_trunc('month', cast(e.started_at as date)) s,
                          date_trunc('month', cast(e.completion_date as date)) x
                   from enrollments e join programs p using (program_id)
                   where e.attempt = '1' and e.status in ('completed', 'passed')),
        w as (select c.worker_id, c.program_type,
                     avg(ix) filter (where period >= s - interval 6 month and period < s) pre,
                     count(ix) filter (where period >= s - interval 6 month and period < s) n_pre,
                     avg(ix) filter (where period >= x + interval 3 month and period <= x + interval 9 month) post,
                     count(ix) filter (where period >= x + interval 3 month and period <= x + interval 9 month) n_post
              from c join idx using (worker_id) group by all)
        select program_type, (exp(avg(ln(post / pre))) - 1) * 100 from w
        where n_pre >= 3 and n_post >= 3 group by 1
    """).fetchall())
    for t in ("upskilling", "reskilling"):
        eff = truth["effects"][t]
        assert naive[t] == pytest.approx(eff["naive_productivity_pct"], abs=1e-3)
        assert naive[t] > eff["productivity_pct"] + 1.0, (t, naive[t])
