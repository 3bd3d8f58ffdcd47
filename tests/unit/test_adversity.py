"""Adversity settings of the synthetic company (synthetic/adversity.py): each one
changes the data as it claims, and truth.json stays exact under every setting.

Small companies (1000 employees x 3 years, about a second each): every measure
below is compared with the same seed generated without the setting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from training_impact import synthetic
from training_impact.synthetic.adversity import ADVERSITIES, parse_adversity

COMPANY = {"employees": 1000, "years": 3, "seed": 11}
PROGRAM_TYPES = ("upskilling", "reskilling")


@pytest.fixture(scope="module")
def companies(tmp_path_factory):
    """name -> root: the default company (with the attributes extract), every setting alone, and all."""
    made = {}

    def get(name: str) -> Path:
        if name not in made:
            root = tmp_path_factory.mktemp(name)
            if name == "base":
                synthetic.generate(root, **COMPANY, worker_attributes=True)
            else:
                synthetic.generate(root, **COMPANY, adversity=name)
            made[name] = root
        return made[name]
    return get


def truth(root: Path) -> dict:
    return json.loads((root / "truth.json").read_text())


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    landing = root / "landing"
    con = duckdb.connect()
    con.execute(f"""
        create view productivity as select distinct * from read_csv('{landing}/performance/productivity_*.csv',
            header=true, columns={{'worker_id':'VARCHAR','period':'DATE','metric':'VARCHAR','unit':'VARCHAR',
            'value':'DOUBLE'}});
        create view enrollments as select * from read_csv('{landing}/lms/enrollments_*.csv', header=true,
            all_varchar=true);
        create view programs as select * from read_csv('{landing}/lms/programs_*.csv', header=true, all_varchar=true);
        create view firsts as select worker_id, program_id, status, cast(started_at as date) s,
                cast(completion_date as date) x
            from enrollments where attempt = '1' and started_at is not null
                and worker_id in (select worker_id from read_csv('{landing}/hris/workers_*.csv', header=true,
                                  all_varchar=true));
    """)
    files = sorted(landing.glob("hris/worker_attributes_*.csv"))
    if files:
        con.execute(f"create view attributes as select * from read_csv('{files[0]}', header=true, all_varchar=true)")
    return con


# ----------------------------------------------------------------------------- measures


def zero_share(con) -> tuple[float, float, float]:
    """Share of productivity rows at 0: all, of participants, of never-enrolled workers."""
    return con.execute("""
        select avg((value = 0)::int),
               avg((value = 0)::int) filter (where worker_id in (select worker_id from enrollments)),
               avg((value = 0)::int) filter (where worker_id not in (select worker_id from enrollments))
        from productivity""").fetchone()


def tie_share(con) -> float:
    """Share of workers whose mean output over the first six months of the window
    equals another worker's of the same metric (a tie on baseline productivity)."""
    return con.execute("""
        with first_months as (select distinct period from productivity order by period limit 6),
        base as (select worker_id, metric, avg(value) v, count(*) n from productivity
                 where period in (select period from first_months) group by 1, 2 having count(*) = 6),
        tied as (select metric, v, count(*) k from base group by 1, 2)
        select avg((k > 1)::int) from base join tied using (metric, v)""").fetchone()[0]


def contaminated_share(con) -> float:
    """Mean over completers of: among workers not yet enrolled at the completer's
    start month (the comparison pool's would-be members, employed or not), the
    share who start a program before the end of the completer's outcome window
    (exit + 9 months)."""
    return con.execute("""
        with comp as (select worker_id, date_trunc('month', s) s, x from firsts
                      where status in ('completed', 'passed')),
        people as (select distinct worker_id from productivity),
        starts as (select worker_id, min(s) s from firsts group by 1),
        pool as (select c.worker_id p, w.worker_id, st.s
                 from comp c cross join people w left join starts st on st.worker_id = w.worker_id
                 where w.worker_id <> c.worker_id and (st.s is null or st.s >= c.s + interval 1 month))
        select avg(share) from (
            select c.worker_id, avg((pool.s is not null and pool.s <= c.x + interval 9 month)::int) share
            from comp c join pool on pool.p = c.worker_id group by 1)""").fetchone()[0]


def seasonal_spread(con) -> tuple[float, int]:
    """Mean over metrics of max/min of the month-of-year mean output (detrended by
    year), and the number of distinct peak months across metrics."""
    rows = con.execute("""
        with m as (select metric, year(period) y, month(period) moy, avg(value) v from productivity
                   where value > 0 group by all),
        rel as (select metric, moy, v / avg(v) over (partition by metric, y) r from m
                where (metric, y) in (select metric, y from m group by all having count(*) = 12)),
        season as (select metric, moy, avg(r) r from rel group by all)
        select metric, max(r) / min(r), arg_max(moy, r) from season group by 1""").fetchall()
    return sum(r[1] for r in rows) / len(rows), len({r[2] for r in rows})


def enrolment_by_education(con) -> dict[str, float]:
    rows = con.execute("""
        with edu as (select worker_id, value from attributes where attribute = 'education_level'
                     and valid_from is null)
        select value, avg((worker_id in (select worker_id from enrollments))::int) from edu group by 1""").fetchall()
    return dict(rows)


# ----------------------------------------------------------------------------- settings


def test_parse_adversity_names():
    assert parse_adversity(None) == frozenset() == parse_adversity("") == parse_adversity("none")
    assert parse_adversity("all") == frozenset(ADVERSITIES)
    assert parse_adversity("zero_outputs, seasonality") == {"zero_outputs", "seasonality"}
    assert parse_adversity(["baseline_ties"]) == {"baseline_ties"}
    with pytest.raises(ValueError, match="unknown adversity"):
        parse_adversity("zero_output")


def test_default_company_has_no_adversity_and_no_attributes_extract(tmp_path):
    summary = synthetic.generate(tmp_path, employees=200, years=2, seed=3)
    t = truth(tmp_path)
    assert t["adversity"] == [] and summary["adversity"] == []
    assert not list((tmp_path / "landing").glob("hris/worker_attributes_*"))
    for name in PROGRAM_TYPES:
        e = t["effects"][name]
        assert e["productivity_pct"] == e["productivity_pct_planted"]


def test_zero_outputs_are_written_for_everyone_and_the_program_moves_some_to_work(companies):
    base, adv = connect(companies("base")), connect(companies("zero_outputs"))
    assert zero_share(base) == (0.0, 0.0, 0.0)
    everyone, participants, others = zero_share(adv)
    assert 0.03 < everyone < 0.3 and participants > 0.01 and others > 0.01
    effects = truth(companies("zero_outputs"))["effects"]
    untreated = sum(effects[t]["productivity_post_rows_zero_untreated"] for t in PROGRAM_TYPES)
    treated = sum(effects[t]["productivity_post_rows_zero_treated"] for t in PROGRAM_TYPES)
    assert untreated > treated >= 0
    # zero months the program turned into work add to the effect
    assert effects["upskilling"]["productivity_pct"] > effects["upskilling"]["productivity_pct_planted"]


def test_baseline_ties(companies):
    base, adv = tie_share(connect(companies("base"))), tie_share(connect(companies("baseline_ties")))
    assert base < 0.02 and adv > 0.3, (base, adv)
    values = connect(companies("baseline_ties")).execute(
        "select count(*) filter (where value <> round(value)), count(distinct value) from productivity").fetchone()
    assert values[0] == 0


def test_late_control_enrolment_puts_own_effects_inside_outcome_windows(companies):
    base = contaminated_share(connect(companies("base")))
    adv = contaminated_share(connect(companies("late_control_enrolment")))
    assert adv > 2 * base and adv > 0.12, (base, adv)
    rate = truth(companies("late_control_enrolment"))["selection_bias"]["enrolment_rate"]
    assert rate > 1.8 * truth(companies("base"))["selection_bias"]["enrolment_rate"]


def test_staggered_starts_and_program_lengths(companies):
    con = connect(companies("staggered_starts"))
    lo, hi = con.execute("""select min(x - s), max(x - s) from firsts
                            where status in ('completed', 'passed')""").fetchone()
    assert lo <= 30 and hi >= 300, (lo, hi)
    assert con.execute("select min(window_days::int), max(window_days::int) from programs").fetchone() == (364, 364)
    early = """with w as (select min(period) p0 from productivity)
               select avg((s < p0 + interval 6 month)::int) from firsts, w"""
    base_early = connect(companies("base")).execute(early).fetchone()[0]
    adv_early = con.execute(early).fetchone()[0]
    assert adv_early > 0.12 and adv_early > 1.3 * base_early, (base_early, adv_early)
    base_lo, base_hi = connect(companies("base")).execute(
        "select min(x - s), max(x - s) from firsts where status in ('completed', 'passed')").fetchone()
    assert hi - lo > base_hi - base_lo


def test_heterogeneous_effects_move_the_att_away_from_the_parameter(companies):
    effects = truth(companies("heterogeneous_effects"))["effects"]
    for name in PROGRAM_TYPES:
        e = effects[name]
        assert abs(e["productivity_pct"] - e["productivity_pct_planted"]) > 0.5, e
    base = truth(companies("base"))["effects"]
    assert all(base[t]["productivity_pct"] == base[t]["productivity_pct_planted"] for t in PROGRAM_TYPES)


def test_seasonality_is_strong_and_differs_by_family(companies):
    base_spread, base_peaks = seasonal_spread(connect(companies("base")))
    adv_spread, adv_peaks = seasonal_spread(connect(companies("seasonality")))
    assert adv_spread > 1.6 and adv_spread > base_spread + 0.3, (base_spread, adv_spread)
    assert adv_peaks >= 6, adv_peaks
    assert truth(companies("seasonality"))["effects"]["upskilling"]["productivity_pct"] == 8.0


def test_hidden_selection_runs_through_education_in_the_attributes_extract(companies):
    base = enrolment_by_education(connect(companies("base")))
    adv = enrolment_by_education(connect(companies("hidden_selection")))
    high = ("master", "doctorate")

    def gap(d):
        return max(d[h] for h in high if h in d) - d["secondary"]
    assert gap(adv) > 0.2 and gap(adv) > gap(base) + 0.1, (base, adv)
    # the HR extracts do not carry it
    with open(next((companies("hidden_selection") / "landing").glob("hris/workers_*.csv")), encoding="utf-8") as fh:
        assert not any("educ" in c for c in next(csv.reader(fh)))


def test_worker_attributes_extract(companies):
    con = connect(companies("base"))
    attrs = dict(con.execute("select attribute, count(distinct worker_id) from attributes group by 1").fetchall())
    assert attrs == {a: COMPANY["employees"] for a in ("birth_year", "education_level", "employment_type",
                                                       "location", "prior_earnings")}
    dated = con.execute("""select count(*) from attributes where attribute = 'education_level'
                           and valid_from is not null""").fetchone()[0]
    assert dated > 0
    kinds = dict(con.execute("select value, count(*) from attributes where attribute = 'employment_type' "
                             "group by 1").fetchall())
    assert set(kinds) == {"full_time", "part_time"}


# ----------------------------------------------------------------------------- truth


def test_truth_under_all_settings(companies):
    t = truth(companies("all"))
    assert t["adversity"] == sorted(ADVERSITIES)
    assert set(t["adversity_settings"]["descriptions"]) == set(ADVERSITIES)
    for name in PROGRAM_TYPES:
        e = t["effects"][name]
        for key in ("productivity_pct", "productivity_pct_planted", "productivity_index_points",
                    "productivity_raw_pct", "n_evaluated_productivity_effect", "mobility_12m_pp",
                    "retention_12m_pp", "n_evaluated_mobility", "naive_productivity_pct"):
            assert e[key] is not None, (name, key)
        assert e["productivity_pct_planted"] == 100 * t["planted"]["productivity_effect"][name]
        assert 0 < e["n_evaluated_productivity_effect"] <= e["n_completers"]
        assert e["productivity_pct"] > 0 and e["productivity_index_points"] > 0
        assert e["productivity_post_rows_zero_untreated"] >= e["productivity_post_rows_zero_treated"]


def test_episode_sums_reproduce_the_truth(companies):
    """truth_productivity_episodes.csv holds the per-episode sums: over the evaluated
    episodes they give productivity_pct exactly, so a test can take any subset."""
    root = companies("all")
    t = truth(root)
    with open(root / t["productivity_episodes_file"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for name in PROGRAM_TYPES:
        used = [r for r in rows if r["program_type"] == name and int(r["n_pre_months"]) >= 3
                and int(r["n_post_months"]) >= 3]
        y1 = sum(float(r["post_index_y1_sum"]) for r in used)
        y0 = sum(float(r["post_index_y0_sum"]) for r in used)
        e = t["effects"][name]
        assert len(used) == e["n_evaluated_productivity_effect"]
        assert 100 * (y1 - y0) / y0 == pytest.approx(e["productivity_pct"], abs=1e-3)


@pytest.mark.parametrize("setting", ["late_control_enrolment", "staggered_starts", "seasonality",
                                     "hidden_selection"])
def test_multiplicative_settings_keep_the_exact_planted_ratio(companies, setting):
    """Settings that leave every completer's effect at (1 + e) on output: the ratio of
    means is e x 100 exactly, which checks the Y0 bookkeeping."""
    effects = truth(companies(setting))["effects"]
    for name in PROGRAM_TYPES:
        assert effects[name]["productivity_pct"] == effects[name]["productivity_pct_planted"]
        assert effects[name]["productivity_raw_pct"] == effects[name]["productivity_pct_planted"]


def test_adversity_all_is_fast_and_deterministic(tmp_path):
    import time

    started = time.perf_counter()
    synthetic.generate(tmp_path / "a", employees=400, years=3, seed=5, adversity="all")
    assert time.perf_counter() - started < 15
    synthetic.generate(tmp_path / "b", employees=400, years=3, seed=5, adversity="all")
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f
