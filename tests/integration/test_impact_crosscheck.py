"""Cross-checks of the matched productivity DiD against maintained estimators (issue 12, item 9).

Both checks read the warehouse of the shared ``pipeline_run`` (the 1,500-employee company
of tests/conftest.py); neither runs the pipeline again.

(a) Same estimand, to numerical precision. The project's per-episode DiD
    ``did_e = (post_p - pre_p) - sum_c w_c (post_c - pre_c)`` (controls' weights
    renormalised to 1 over those with a measured change) averaged over a program type's
    episodes is the coefficient on treated x post of a weighted two-way fixed-effects
    regression on the stacked two-period panel, fitted with statsmodels WLS. See
    ``test_stacked_twfe_regression_reproduces_the_matched_did`` for the algebra.

(b) A different estimator of the same kind of effect: the Callaway & Sant'Anna group-time
    ATT of the ``differences`` package on the monthly productivity panel, with not-yet-
    treated controls, aggregated over the event months of the project's post window.
    Different design, same target: the two 95% intervals must overlap, and where the
    planted effect is large both must exclude 0.

Needs the dev extras (statsmodels, differences): ``pip install -e '.[dev]'``.
"""

from __future__ import annotations

import json
import time

import duckdb
import numpy as np
import pandas as pd
import pytest

Z95 = 1.959963984540054
# a planted effect this large (index points, truth.json) must be told apart from 0 by both
LARGE_EFFECT_POINTS = 6.0


def _read(paths, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def episodes(pipeline_run) -> pd.DataFrame:
    """Measured episodes (productivity_did not null) with their program type and windows."""
    paths, _ = pipeline_run
    return _read(paths, """
        select enrollment_id, worker_id, program_type, start_month, exit_date, productivity_did
        from main_intermediate.int_impact__episode_outcomes
        where productivity_did is not null
    """)


@pytest.fixture(scope="module")
def published(pipeline_run) -> pd.DataFrame:
    paths, _ = pipeline_run
    return _read(paths, """
        select program_type, estimate, ci_low, ci_high, se, n, n_winsorised, suppressed
        from main_marts.kpi_productivity_change
        where kpi = 'productivity_change' and slice_grain = 'program_type'
          and estimation_method = 'did_matched' and unit = 'index_points'
    """).set_index("program_type")


# ---------------------------------------------------------------- (a) stacked TWFE


def _stacked_panel(paths) -> pd.DataFrame:
    """Unit = episode x measured person, two rows each (pre, post), with the regression weight."""
    people = _read(paths, """
        select
            person_outcomes.enrollment_id,
            person_outcomes.measured_worker_id,
            person_outcomes.role,
            episode_outcomes.program_type,
            person_outcomes.pre_mean_index,
            person_outcomes.post_mean_index,
            case when person_outcomes.role = 'participant' then 1.0
                 else person_outcomes.match_weight
                      / sum(case when person_outcomes.role = 'control' then person_outcomes.match_weight end)
                        over (partition by person_outcomes.enrollment_id)
            end as weight
        from main_intermediate.int_impact__person_outcomes as person_outcomes
        inner join main_intermediate.int_impact__episode_outcomes as episode_outcomes
            on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
        where episode_outcomes.productivity_did is not null
          and (person_outcomes.role = 'participant' or person_outcomes.productivity_change is not null)
    """)
    people["unit"] = people["enrollment_id"] + "|" + people["measured_worker_id"]
    people["treated"] = (people["role"] == "participant").astype(float)
    pre = people.assign(post=0.0, y=people["pre_mean_index"])
    post = people.assign(post=1.0, y=people["post_mean_index"])
    return pd.concat([pre, post], ignore_index=True)


def _twfe_coefficient(stacked: pd.DataFrame) -> float:
    """WLS of y on unit FE + episode x post FE + treated x post; the last coefficient."""
    sm = pytest.importorskip("statsmodels.api", reason="needs the dev extra statsmodels")

    units = pd.get_dummies(stacked["unit"], dtype=float)
    episode_post = pd.get_dummies(stacked["enrollment_id"], dtype=float).mul(stacked["post"], axis=0)
    episode_post.columns = [f"post|{c}" for c in episode_post.columns]
    design = pd.concat([units, episode_post], axis=1)
    design["treated_x_post"] = stacked["treated"] * stacked["post"]
    fit = sm.WLS(stacked["y"].to_numpy(), design.to_numpy(), weights=stacked["weight"].to_numpy()).fit(method="qr")
    assert np.linalg.matrix_rank(design.to_numpy()) == design.shape[1], "design not of full rank"
    return float(fit.params[-1])


def test_stacked_twfe_regression_reproduces_the_matched_did(pipeline_run, episodes, published):
    r"""The matched DiD is a weighted two-way fixed-effects regression.

    Stack the units u = (episode e, person p) with y_u0 = pre mean, y_u1 = post mean, D_u = 1
    for the participant. The model is ``y_ut = a_u + g_e(u) * t + b * D_u * t`` with weights
    w_u = 1 for the participant and the renormalised match weights (summing to 1) for its
    controls with a measured change.

    With two periods the unit effects are swept out by differencing: the WLS estimate of
    b equals that of ``dy_u = g_e + b D_u`` with the same weights (the within transform of a
    two-period unit is (+-dy_u / 2), so both objectives differ by a factor 2). The episode
    effects are swept out by Frisch-Waugh-Lovell: within episode e the weighted mean of D is
    1 / (1 + 1) = 1/2, so D~ = +1/2 for the participant and -1/2 for each control, and

        b = sum_u w_u D~_u dy_u / sum_u w_u D~_u^2 = sum_e num_e / sum_e den_e,
        num_e = 1 * (1/2) dy_p + sum_c w_c (-1/2) dy_c = (dy_p - sum_c w_c dy_c) / 2 = did_e / 2,
        den_e = 1 * (1/2)^2 + (sum_c w_c) (1/2)^2 = 1/2,

    so b = sum_e (did_e / 2) / (n_episodes / 2) = mean(did_e): with each participant
    weighing 1 and its controls 1 in total, every episode weighs the same (den_e = 1/2),
    exactly as in the published mean. (Were the controls' weights not renormalised, den_e
    and the weighted mean of D would vary by episode and b would be a weighted mean.)
    """
    paths, _ = pipeline_run
    stacked = _stacked_panel(paths)
    checked_against_published = 0
    for program_type, group in stacked.groupby("program_type"):
        started = time.perf_counter()
        coefficient = _twfe_coefficient(group.reset_index(drop=True))
        mean_did = float(episodes.loc[episodes["program_type"] == program_type, "productivity_did"].mean())
        row = published.loc[program_type] if program_type in published.index else None
        print(
            f"\n(a) {program_type}: WLS treated x post = {coefficient:.10f}, mean(productivity_did) = "
            f"{mean_did:.10f}, diff = {coefficient - mean_did:.2e}; published = "
            f"{None if row is None else row['estimate']} (n_winsorised "
            f"{None if row is None else row['n_winsorised']}, suppressed {None if row is None else row['suppressed']}); "
            f"{group['unit'].nunique()} units, {time.perf_counter() - started:.1f}s"
        )
        assert coefficient == pytest.approx(mean_did, abs=1e-9, rel=0), program_type
        if row is not None and not row["suppressed"] and row["n_winsorised"] == 0:
            # the mart rounds to 4 decimals
            assert coefficient == pytest.approx(row["estimate"], abs=1e-4, rel=0), program_type
            checked_against_published += 1
    assert checked_against_published >= 1, "no unsuppressed, unwinsorised program type to compare with"


# ------------------------------------------------------- (b) Callaway & Sant'Anna


def _month_number(values) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(values))
    return (stamps.dt.year * 12 + stamps.dt.month - 1).to_numpy()


def _group_time_att(paths, episodes: pd.DataFrame, program_type: str) -> dict:
    """Callaway & Sant'Anna ATT for one program type over the post-window event months.

    Treated units: the participants of the type's measured episodes whose episode is their
    first enrolment (cohort g = start month, by coalesce(started_at, enrolled_at)). Every
    other worker is a comparison unit observed only before its own first enrolment (the
    earlier of enrolled_at and started_at, as the project censors controls), so the
    comparison group at t is the never- and not-yet-treated. ATT(g, t) uses the library's
    outcome-regression DiD on the unbalanced panel with a varying base period (g - 1).

    Aggregation: only the cells with event month e = t - g in [d + 3, d + 9] are estimated
    (``filter_gt``), d the median months from start to exit of the type's participants (the
    project's post window exit+3 .. exit+9); the library's simple aggregation (cohort-size
    weighted, analytic influence-function standard errors clustered by worker) averages them.
    """
    from differences import ATTgt

    panel = _read(paths, """
        select worker_id, period, productivity_index
        from main_intermediate.int_employee_history__monthly_panel
        where productivity_index is not null
    """)
    enrolments = _read(paths, """
        select
            worker_id,
            min(coalesce(started_at, enrolled_at)) as first_started_on,
            min(least(enrolled_at, started_at)) as first_enrolled_on
        from main_staging.stg_lms__enrollments
        group by worker_id
    """)
    enrolments["first_start_month"] = _month_number(enrolments["first_started_on"])
    enrolments["censor_month"] = _month_number(enrolments["first_enrolled_on"])

    treated = episodes[episodes["program_type"] == program_type].copy()
    treated["cohort"] = _month_number(treated["start_month"])
    treated["duration"] = _month_number(treated["exit_date"]) - treated["cohort"]
    treated = treated.merge(enrolments[["worker_id", "first_start_month"]], on="worker_id")
    treated = treated[treated["cohort"] == treated["first_start_month"]].drop_duplicates("worker_id")
    duration = int(np.median(treated["duration"]))
    window = (duration + 3, duration + 9)

    panel["t"] = _month_number(panel["period"])
    panel = panel.merge(treated[["worker_id", "cohort"]], on="worker_id", how="left")
    panel = panel.merge(enrolments[["worker_id", "censor_month"]], on="worker_id", how="left")
    comparison_censored = panel["cohort"].isna() & panel["censor_month"].notna() & (panel["t"] >= panel["censor_month"])
    panel = panel[~comparison_censored]
    # calendar months the ATT(g, t) of the window and their base months need
    first = int(treated["cohort"].min()) - 1
    last = int(treated["cohort"].max()) + window[1]
    panel = panel[(panel["t"] >= first) & (panel["t"] <= last)]
    ids = {worker: i for i, worker in enumerate(sorted(panel["worker_id"].unique()))}
    data = pd.DataFrame({
        "id": panel["worker_id"].map(ids).to_numpy(),
        "t": panel["t"].to_numpy() - first,
        "y": panel["productivity_index"].to_numpy(dtype=float),
        "cohort": panel["cohort"].to_numpy(dtype=float) - first,
    }).set_index(["id", "t"]).sort_index()

    started = time.perf_counter()
    attgt = ATTgt(data=data, cohort_column="cohort")
    # only the cells of the window are estimated (and so aggregated): e = t - g in the window
    attgt.filter_gt(base_period="varying", relative_period_start=window[0], relative_period_end=window[1])
    # panel estimator, each 2x2 cell on the units measured in both months (not the library's
    # default for unbalanced panels, repeated cross-sections)
    attgt.fit(formula="y", control_group="not_yet_treated", as_repeated_cross_section=False,
              n_jobs=1, progress_bar=False)
    simple = attgt.aggregate("simple")
    simple.columns = [column[-1] for column in simple.columns]
    aggregated = simple.iloc[0]
    n_cells = len(attgt.group_time)
    return {
        "att": float(aggregated["ATT"]),
        "se": float(aggregated["std_error"]),
        "ci": (float(aggregated["lower"]), float(aggregated["upper"])),
        "n_treated": len(treated),
        "n_cohorts": treated["cohort"].nunique(),
        "n_cells": n_cells,
        "window": window,
        "seconds": time.perf_counter() - started,
    }


# differences 0.3.0 still passes inplace=True to pandas (deprecated in pandas 3.1)
@pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")
def test_group_time_att_agrees_with_the_matched_did(pipeline_run, episodes, published):
    """Callaway & Sant'Anna (``differences``) vs the project's matched DiD, per program type.

    Known differences in design, so only the intervals are compared:
    - the project matches each participant to k controls within exact cells (start month x
      department x management level x job family x tenure band) on the pre-period lags; the
      library compares with every not-yet-treated worker (no covariates);
    - the project's baseline is the mean over start-6 .. start-1, the library's month g-1;
    - the project measures each participant over its own exit+3 .. exit+9; here the event
      months use the type's median duration;
    - the project weighs each episode 1; the library weighs cells by cohort size, and its
      treated are the participants whose evaluated episode is their first enrolment.
    """
    pytest.importorskip("differences", reason="needs the dev extra differences (Callaway & Sant'Anna)")

    paths, _ = pipeline_run
    truth = json.loads(paths.truth.read_text())["effects"]
    compared = 0
    for program_type in sorted(episodes["program_type"].unique()):
        did = episodes.loc[episodes["program_type"] == program_type, "productivity_did"].to_numpy(dtype=float)
        if program_type in published.index and not published.loc[program_type, "suppressed"]:
            project_ci = (float(published.loc[program_type, "ci_low"]), float(published.loc[program_type, "ci_high"]))
            project_estimate = float(published.loc[program_type, "estimate"])
        else:  # suppressed in the mart: the same formula on the episodes
            project_estimate = float(did.mean())
            half = Z95 * did.std(ddof=1) / np.sqrt(len(did))
            project_ci = (project_estimate - half, project_estimate + half)
        library = _group_time_att(paths, episodes, program_type)
        planted = truth.get(program_type, {}).get("productivity_index_points")
        print(
            f"\n(b) {program_type}: project did_matched {project_estimate:.3f} "
            f"[{project_ci[0]:.3f}, {project_ci[1]:.3f}] (n={len(did)}); "
            f"differences ATT(g,t) over e={library['window'][0]}..{library['window'][1]}: "
            f"{library['att']:.3f} [{library['ci'][0]:.3f}, {library['ci'][1]:.3f}] "
            f"(se {library['se']:.3f}, {library['n_treated']} treated in {library['n_cohorts']} cohorts, "
            f"{library['n_cells']} cells, {library['seconds']:.1f}s); planted {planted} index points"
        )
        assert library["ci"][0] <= project_ci[1] and project_ci[0] <= library["ci"][1], (
            f"{program_type}: intervals do not overlap")
        if planted is not None and planted >= LARGE_EFFECT_POINTS:
            assert project_ci[0] > 0, f"{program_type}: project CI includes 0"
            assert library["ci"][0] > 0, f"{program_type}: library CI includes 0"
        compared += 1
    assert compared >= 1
