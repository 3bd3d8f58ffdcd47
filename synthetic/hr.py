"""Monthly simulation of one chunk of workers: careers, enrolments, productivity.

Vectorised over the chunk, looping over months. Every employed worker draws at
most one HR event a month from competing hazards (separation first, then one of
promotion / lateral / job-family change / planted extra move / transfer /
demotion / data change), on a random day of the month.

Planted effects act on completers of a program in (exit, exit + 12 months]:
lower voluntary-exit hazard and an extra move hazard, plus a permanent
productivity multiplier (1 + e) from the month after exit. For first-attempt
completers the same uniforms also drive an *untreated shadow* path over that
window (common random numbers), which is how truth.json gets the exact effect
on mobility and retention for the very people in the data.
"""

from __future__ import annotations

import numpy as np

from . import catalog as C
from . import adversity as ADV
from .timeline import NEVER, add_months
from .world import ENROL_SEASON, HIRING_SEASON, PROMOTION_SEASON, RATING_MONTHS, World

HIRE, REHIRE, PROMOTION, TRANSFER, LATERAL, DEMOTION, DATA_CHANGE, TERMINATION = range(8)
REASONS = ("hire", "rehire", "promotion", "transfer", "lateral", "demotion", "data_change", "termination")

NO_OUTCOME, COMPLETER, FAILED, WITHDRAWN, WAIVED = range(5)
VOLUNTARY, INVOLUNTARY = 1, 2

# Competing-risk segments of the monthly move draw, in this order.
K_PROMO, K_LATERAL, K_FAMILY, K_EXTRA, K_TRANSFER, K_DEMOTION, K_DATA, K_NONE = range(8)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Attempts:
    """One registration slot per worker (attempt 1, or the retake)."""

    def __init__(self, n: int) -> None:
        self.prog = np.full(n, -1, dtype=np.int64)
        self.enrolled = np.full(n, NEVER, dtype=np.int64)
        self.start = np.full(n, NEVER, dtype=np.int64)
        self.exit = np.full(n, NEVER, dtype=np.int64)
        self.outcome = np.zeros(n, dtype=np.int8)
        self.left = np.full(n, NEVER, dtype=np.int64)       # first separation after start
        self.by_separation = np.zeros(n, dtype=bool)        # withdrawn because the worker left
        self.cohort_dept = np.full(n, -1, dtype=np.int64)   # department at start (for cost centres)


class ChunkSim:
    """State arrays for `n` workers with global numbers offset+1 .. offset+n."""

    def __init__(self, world: World, chunk: int, offset: int, n: int) -> None:
        self.w = world
        self.P = world.params
        self.tl = world.timeline
        self.chunk, self.offset, self.n = chunk, offset, n
        self.rng_init = world.rng(chunk, 0)
        self.rng = world.rng(chunk, 1)
        self.rng_enrol = world.rng(chunk, 2)
        self._records: list[tuple] = []
        self._order = 0
        self.productivity: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        # untreated output of the same rows (no effect, no off-the-job dip): truth.json's Y0
        self.productivity0: list[np.ndarray] = []
        self.adv = world.adversity
        self.A = world.adv
        self.manager_ratings: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.counts = {"rehires": 0, "boomerang_hires": 0, "future_dated_rows": 0, "corrected_rows": 0,
                       "data_change_events": 0}
        self._init_population()

    # ------------------------------------------------------------------ setup

    def _init_population(self) -> None:
        new, tenure_years = self._place_workers()
        self.a = self._draw_ability(np.where(new, 0.0, tenure_years))
        self.a[new] = np.clip(self.a[new] + self.P.window_hire_ability_shift, -self.P.ability_clip,
                              self.P.ability_clip)
        self._init_attributes()
        level0 = self._levels_and_pay(new, tenure_years)
        # annual earnings before joining: near the pay at hire, rounded as people report it
        self.prior_earnings = np.round(self.pay / 1.1 ** self.pre_promotions * self.earnings_factor, -2)
        self._blank_career_state(new)
        self._init_enrolment_plan(new)
        self._init_treatment_state()
        self._build_manager_index()
        self._assign_managers(np.flatnonzero(self.employed))
        self._pre_window_history(level0)

    def _place_workers(self) -> tuple[np.ndarray, np.ndarray]:
        """Location, department, family, FTE and the hiring timeline. Returns
        (hired during the window, tenure in years at the window start)."""
        w, P, tl, rng, n = self.w, self.P, self.tl, self.rng_init, self.n
        M = tl.n_months
        self.loc = rng.choice(len(C.LOCATIONS), size=n, p=w.loc_weight)
        self.dept = rng.choice(len(C.DEPARTMENTS), size=n, p=w.dept_weight)
        self.fam = np.empty(n, dtype=np.int64)
        for d in range(len(C.DEPARTMENTS)):
            sel = np.flatnonzero(self.dept == d)
            self.fam[sel] = rng.choice(w.dept_families[d], size=sel.size, p=w.dept_family_share[d])
        self.fte = rng.choice(C.FTE_VALUES, size=n, p=C.FTE_SHARE)

        # Who joins during the window: replacement of attrition plus some growth.
        hires = P.annual_hiring_rate * M / 12
        new = rng.random(n) < hires / (1.0 + hires)
        hw = HIRING_SEASON[tl.month_of_year - 1]
        self.hire_month = np.where(new, rng.choice(M, size=n, p=hw / hw.sum()), -1)
        hm = np.maximum(self.hire_month, 0)
        in_window_day = tl.month_start[hm] + (rng.random(n) * tl.month_days[hm]).astype(np.int64)
        tenure_years = np.clip(rng.exponential(5.0, n), 0.05, 30.0)
        self.hire_day = np.where(new, in_window_day, tl.first_day - (tenure_years * 365.25).astype(np.int64))
        # Boomerangs: hired in the window, but worked here before (hire, leave, come back).
        self.boomerang = new & (rng.random(n) < P.boomerang_share_of_hires)
        prior_tenure = (rng.uniform(1.0, 6.0, n) * 365.25).astype(np.int64)
        gap = (rng.uniform(1.2, 4.0, n) * 365.25).astype(np.int64)
        self.prior_term_day = np.where(self.boomerang, self.hire_day - gap, NEVER)
        self.orig_hire_day = np.where(self.boomerang, self.prior_term_day - prior_tenure, self.hire_day)
        return new, tenure_years

    def _levels_and_pay(self, new: np.ndarray, tenure_years: np.ndarray) -> np.ndarray:
        """Level tracks ability and tenure, as a history of ability-driven
        promotions leaves it; returns the level at (original) hire."""
        P, rng, n = self.P, self.rng_init, self.n
        years_before = np.where(new, 0.0, np.minimum(tenure_years, 15.0))
        level0 = np.clip(np.rint(P.hire_level_base + P.level_ability * self.a
                                 + rng.normal(0.0, P.level_noise, n)), 1, C.N_LEVELS - 1).astype(np.int64)
        level = np.clip(np.rint(level0 + P.level_per_tenure_year * years_before
                                + rng.normal(0.0, P.level_noise, n) * (years_before > 0)), level0, C.N_LEVELS)
        # at most one promotion per nine months of service before the window
        self.level = np.minimum(level, level0 + (years_before / 0.75).astype(np.int64)).astype(np.int64)
        self.pre_promotions = self.level - level0
        self.prof = (rng.random(n) * 12).astype(np.int64)   # reduced modulo the title list when shown
        self.pay = self._band(self.fam, self.level, self.loc) * rng.lognormal(0.0, 0.07, n)
        hire_year = self.orig_hire_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        age_at_hire = np.clip(21 + 2 * level0 + rng.exponential(4.0, n), 18, 60)
        self.birth_year = (hire_year - age_at_hire).astype(np.int64)
        return level0

    def _blank_career_state(self, new: np.ndarray) -> None:
        n = self.n
        self.employed = ~new
        self.rehired = self.boomerang.copy()
        self.term_day = np.full(n, NEVER, dtype=np.int64)
        self.term_cat = np.zeros(n, dtype=np.int8)
        self.term_reason = np.full(n, "", dtype=object)
        self.regrettable = np.zeros(n, dtype=bool)
        self.rehire_eligible = np.zeros(n, dtype=bool)
        self.mgr = np.full(n, -1, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        # Latest effective date written per worker: a worker never gets two
        # different events on one day, so "latest sequence per effective date"
        # (how HR history is rebuilt) can never hide a move.
        self.last_row_day = np.full(n, -(2**40), dtype=np.int64)
        self.needs_manager = np.zeros(n, dtype=bool)

    def _draw_ability(self, tenure_years: np.ndarray) -> np.ndarray:
        """Ability at hire is N(0, 1) (clipped). Incumbents at the window start
        are the survivors of `tenure_years` of ability-dependent exits, so their
        ability is drawn from the hire distribution tilted by the probability of
        surviving that long (rejection sampling). Without it the workforce's
        mean ability would drift upwards during the window purely as an
        artefact of starting from an unselected population."""
        P, rng = self.P, self.rng_init
        months = tenure_years * 12.0
        edges = np.array([0.0, *P.tenure_band_edges_years, np.inf]) * 12.0
        rates = np.array(P.voluntary_exit_by_tenure_band)
        vol_months = sum(r * np.clip(months - lo, 0.0, hi - lo) for r, lo, hi in zip(rates, edges[:-1], edges[1:]))

        def cum_hazard(a, who):
            return (vol_months[who] * np.exp(P.voluntary_exit_ability * a)
                    + P.involuntary_exit * months[who] * np.exp(P.involuntary_exit_ability * a))

        a = np.empty(tenure_years.size)
        todo = np.arange(tenure_years.size)
        lowest = cum_hazard(np.full(todo.size, P.ability_clip), todo)   # the best survivor's hazard
        while todo.size:
            cand = np.clip(rng.standard_normal(todo.size), -P.ability_clip, P.ability_clip)
            accept = rng.random(todo.size) < np.exp(lowest[todo] - cum_hazard(cand, todo))
            a[todo[accept]] = cand[accept]
            todo = todo[~accept]
        return a

    def _init_attributes(self) -> None:
        """Worker attributes HR fields do not carry (education, prior earnings), the
        per-person effect multiplier and the zero-output state, each from streams of
        their own (synthetic/adversity.py), so the default company's draws never move."""
        n, A = self.n, self.A
        rng = self.w.rng(self.chunk, ADV.S_ATTRIBUTES)
        share = np.array(ADV.EDUCATION_SHARE)
        self.edu = rng.choice(len(share), size=n, p=share)
        levels = np.arange(len(share))
        mean = float((levels * share).sum())
        sd = float(np.sqrt(((levels - mean) ** 2 * share).sum()))
        self.edu_z = (self.edu - mean) / sd
        self.earnings_factor = rng.lognormal(-0.1, 0.25, n)
        # a few workers finish a higher degree during the window (a dated attribute row)
        self.edu_upgrade = (rng.random(n) < 0.04) & (self.edu < len(share) - 1)
        self.edu_upgrade_u = rng.random(n)
        self.effect_mult = np.ones(n)
        if "heterogeneous_effects" in self.adv:
            r = self.w.rng(self.chunk, ADV.S_EFFECTS)
            self.effect_mult = np.maximum(0.0, 1.0 + A.het_ability * self.a + A.het_education * self.edu_z
                                          + r.normal(0.0, A.het_noise, n))
        if "zero_outputs" in self.adv:
            self.rng_zero = self.w.rng(self.chunk, ADV.S_ZERO)
            enter = self._zero_enter_rate()
            self.zero = self.rng_zero.random(n) < enter / (enter + A.zero_exit)
        if {"staggered_starts", "late_control_enrolment"} & self.adv:
            self.rng_starts = self.w.rng(self.chunk, ADV.S_STARTS)

    def _zero_enter_rate(self) -> np.ndarray:
        A = self.A
        return (np.where(self.fte < 100.0, A.zero_enter_part_time, A.zero_enter)
                + A.zero_enter_weak * (self.a < -0.5))

    def _init_enrolment_plan(self, new: np.ndarray) -> None:
        """Who will ever enrol (selection on ability) and in which month they try.
        Month index n_months means "the month after the extract": those become
        not_started registrations."""
        P, tl, rng, n = self.P, self.tl, self.rng_init, self.n
        M = tl.n_months
        logit = P.enrol_intercept + P.enrol_ability * self.a
        if "late_control_enrolment" in self.adv:
            logit = logit + self.A.late_enrol_logit_shift
        if "hidden_selection" in self.adv:
            logit = logit + self.A.hidden_enrol * self.edu_z
        ever = rng.random(n) < _logistic(logit)
        moy = np.concatenate([tl.month_of_year, [tl.month_of_year[-1] % 12 + 1]])
        weight = ENROL_SEASON[moy - 1].astype(float)
        months = np.arange(M + 1)
        late = weight * (months >= 6)
        early = weight * (months < 6)
        with_pre = rng.random(n) < P.share_starts_with_pre_window
        plan = np.where(with_pre, rng.choice(M + 1, size=n, p=late / late.sum()),
                        rng.choice(M + 1, size=n, p=early / early.sum()))
        if {"staggered_starts", "late_control_enrolment"} & self.adv:
            # a constant enrolment hazard over the whole window: no seasonal intake, no
            # guaranteed pre window, many starts inside other participants' outcome windows
            plan = self.rng_starts.integers(0, M + 1, size=n)
        earliest = np.where(new, self.hire_month + P.min_tenure_months_to_enrol, 0)
        plan = np.maximum(plan, earliest)
        self.plan_month = np.where(ever & (plan <= M), plan, -1)
        self.ever_planned = ever

    def _init_treatment_state(self) -> None:
        n = self.n
        self.att = (Attempts(n), Attempts(n))
        self.retake_day = np.full(n, NEVER, dtype=np.int64)
        self.treat_exit = np.full(n, NEVER, dtype=np.int64)
        self.treat_end = np.full(n, NEVER, dtype=np.int64)
        self.treat_type = np.zeros(n, dtype=np.int64)
        self.treat_target = np.zeros(n, dtype=np.int64)
        self.treat_attempt = np.zeros(n, dtype=np.int8)
        # Shadow (untreated) path of first-attempt completers over (exit, exit + 12 months].
        self.trk = np.zeros(n, dtype=bool)
        self.trk_exit = np.full(n, NEVER, dtype=np.int64)
        self.trk_end = np.full(n, NEVER, dtype=np.int64)
        self.sh_level = np.zeros(n, dtype=np.int64)
        self.sh_alive = np.zeros(n, dtype=bool)
        self.sh_moved = np.zeros(n, dtype=bool)
        self.sh_exit_cat = np.zeros(n, dtype=np.int8)
        self.tr_moved = np.zeros(n, dtype=bool)
        self.tr_exit_cat = np.zeros(n, dtype=np.int8)

    def _band(self, fam, level, loc) -> np.ndarray:
        return self.w.band[fam, level - 1] * self.w.loc_pay[loc]

    def _pre_window_history(self, level0: np.ndarray) -> None:
        """Hire (and promotions) before the window, plus the first spell of
        boomerang hires, so job history reaches back to the original hire."""
        tl = self.tl
        pre = np.flatnonzero(self.hire_month < 0)
        boom = np.flatnonzero(self.boomerang)
        starters = np.concatenate([pre, boom])
        k = self.pre_promotions[starters]
        start_level = np.where(self.boomerang[starters], self.level[starters], level0[starters])
        pay0 = np.where(self.boomerang[starters], self.pay[starters] / 1.12, self.pay[starters] / (1.1 ** k))
        self._new_positions(starters)
        self._record(starters, self.orig_hire_day[starters], HIRE, level=start_level, pay=pay0)
        span_end = np.where(self.boomerang[starters], self.prior_term_day[starters], tl.first_day)
        span = span_end - self.orig_hire_day[starters]
        for j in range(int(k.max()) if k.size else 0):
            sel = np.flatnonzero(k > j)
            who = starters[sel]
            day = self.orig_hire_day[who] + (span[sel] * (j + 1) // (k[sel] + 1))
            self._new_positions(who)
            self._record(who, day, PROMOTION, level=start_level[sel] + j + 1, pay=pay0[sel] * 1.1 ** (j + 1))
        if boom.size:
            self._record(boom, self.prior_term_day[boom], TERMINATION, pay=self.pay[boom] / 1.05)
            self.counts["boomerang_hires"] += int(boom.size)

    # ------------------------------------------------------------------ records

    def _new_positions(self, idx: np.ndarray) -> None:
        self.pos[idx] = self.w.counters.take("position", idx.size)

    def _record(self, idx: np.ndarray, day, reason: int, *, level=None, pay=None) -> None:
        """Append job-history rows for `idx`, snapshotting their current job."""
        k = idx.size
        if k == 0:
            return
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), (k,)).copy()
        self.last_row_day[idx] = np.maximum(self.last_row_day[idx], day)
        self._records.append((
            idx.copy(), day, np.full(k, reason, dtype=np.int8), self.pos[idx].copy(), self.fam[idx].copy(),
            self.prof[idx].copy(), (self.level[idx] if level is None else np.asarray(level)).copy(),
            self.dept[idx].copy(), self.mgr[idx].copy(),
            (self.pay[idx] if pay is None else np.asarray(pay, dtype=float)).copy(),
            np.arange(self._order, self._order + k, dtype=np.int64),
        ))
        self._order += k

    # ------------------------------------------------------------------ managers

    def _build_manager_index(self) -> None:
        cand = np.flatnonzero(self.employed & (self.level >= 5))
        key = self.dept[cand] * 10 + self.level[cand]
        order = np.argsort(key, kind="stable")
        self._mgr_cand, self._mgr_key = cand[order], key[order]

    def _assign_managers(self, idx: np.ndarray) -> None:
        """Manager = a random colleague of the lowest available people-manager
        level above the worker's, in the same department (none for the top)."""
        if idx.size == 0:
            return
        keys = self._mgr_key
        if keys.size == 0:
            self.mgr[idx] = -1
            return
        want = self.dept[idx] * 10 + np.maximum(self.level[idx] + 1, 5)
        start = np.searchsorted(keys, want, side="left")
        ok = start < keys.size
        first = keys[np.minimum(start, keys.size - 1)]
        ok &= (first // 10) == self.dept[idx]
        end = np.searchsorted(keys, first, side="right")
        pick = start + (self.rng.random(idx.size) * (end - start)).astype(np.int64)
        self.mgr[idx] = np.where(ok, self._mgr_cand[np.minimum(pick, keys.size - 1)], -1)

    # ------------------------------------------------------------------ month loop

    def run(self) -> None:
        for m in range(self.tl.n_months):
            self._month(m)
        self._finish()

    def _month(self, m: int) -> None:
        tl = self.tl
        emp_start = self.employed.copy()
        fam_start = self.fam.copy()
        joined = self._hires(m)
        self._start_enrolments(m)
        self._start_retakes(m)
        opening = self.trk & (tl.month_index(self.trk_exit) == m)
        self.sh_level[opening] = self.level[opening]
        self._events(m, joined)
        self._productivity(m, emp_start & self.employed, fam_start)
        if tl.month_of_year[m] in RATING_MONTHS:
            self._manager_ratings(m)

    def _hires(self, m: int) -> np.ndarray:
        tl, P, rng = self.tl, self.P, self.rng
        ms, nd = tl.month_start[m], tl.month_days[m]
        new = np.flatnonzero(self.hire_month == m)
        back = np.flatnonzero(~self.employed & self.rehire_eligible
                              & (ms - self.term_day >= P.rehire_min_gap_days))
        back = back[rng.random(back.size) < P.rehire_monthly]
        if back.size:
            self.hire_day[back] = ms + (rng.random(back.size) * nd).astype(np.int64)
            self.rehired[back] = True
            self.rehire_eligible[back] = False
            self.pay[back] *= rng.uniform(1.0, 1.08, back.size)
            self.counts["rehires"] += int(back.size)
        joined = np.zeros(self.n, dtype=bool)
        joined[new] = True
        joined[back] = True
        who = np.flatnonzero(joined)
        self.employed[who] = True
        self._new_positions(who)
        self._build_manager_index()
        self._assign_managers(who)
        first = who[~self.rehired[who]]         # boomerangs and rehires come back as "rehire"
        self._record(first, self.hire_day[first], HIRE)
        again = who[self.rehired[who]]
        self._record(again, self.hire_day[again], REHIRE)
        return joined

    # ------------------------------------------------------------------ enrolment

    def _choose_programs(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        w = self.w
        prog = np.empty(idx.size, dtype=np.int64)
        reskill = rng.random(idx.size) < self.P.reskilling_share
        u = rng.random(idx.size)
        fam = self.fam[idx]
        for f in range(C.N_FAMILIES):
            for want_re, pool in ((False, w.up_by_family[f]), (True, w.re_by_family[f])):
                sel = (fam == f) & (reskill == want_re)
                if not pool.size:
                    pool = w.up_by_family[f]
                prog[sel] = pool[(u[sel] * pool.size).astype(np.int64)]
        return prog

    def _draw_outcomes(self, idx, prog, start, rng, *, retake: bool):
        """Outcome and exit day of a registration, decided at its start; a
        separation before the exit turns it into a withdrawal later on."""
        w, P = self.w, self.P
        k = idx.size
        u = rng.random((k, 5))
        waived = np.zeros(k, dtype=bool) if retake else (w.prog_waivable[prog] & (u[:, 0] < P.waiver_rate))
        logit = w.prog_logit[prog] + P.completion_ability * self.a[idx] + (P.retake_completion_bonus if retake else 0.0)
        complete = ~waived & (u[:, 1] < _logistic(logit))
        failed = ~waived & ~complete & w.prog_can_fail[prog] & (u[:, 2] < P.failed_share_of_noncompleters)
        outcome = np.select([waived, complete, failed], [WAIVED, COMPLETER, FAILED], WITHDRAWN).astype(np.int8)
        window = w.prog_window[prog]
        frac = np.select([complete, failed, waived],
                         [0.55 + 0.45 * u[:, 3], 0.85 + 0.15 * u[:, 3], np.zeros(k)], 0.1 + 0.6 * u[:, 3])
        length = np.where(waived, 1 + (u[:, 3] * 14).astype(np.int64), np.maximum(1, (window * frac).astype(np.int64)))
        if "staggered_starts" in self.adv:     # 2-52 weeks, whatever the catalogue says
            A = self.A
            full = A.min_program_days + self.rng_starts.random(k) * (A.max_program_days - A.min_program_days)
            frac = np.select([complete, failed], [np.ones(k), 0.85 + 0.15 * u[:, 3]], 0.1 + 0.6 * u[:, 3])
            length = np.where(waived, length, np.maximum(1, (full * frac).astype(np.int64)))
        retake_plan = (~complete & ~waived & (u[:, 4] < P.retake_probability)) if not retake else np.zeros(k, bool)
        return outcome, start + length, retake_plan

    def _open_attempt(self, slot: int, idx, prog, start, rng, *, retake: bool) -> None:
        att = self.att[slot]
        enrolled = start - (3 + rng.random(idx.size) * 42).astype(np.int64)
        outcome, exit_day, retake_plan = self._draw_outcomes(idx, prog, start, rng, retake=retake)
        att.prog[idx], att.enrolled[idx], att.start[idx] = prog, enrolled, start
        att.exit[idx], att.outcome[idx] = exit_day, outcome
        att.cohort_dept[idx] = self.dept[idx]
        done = idx[outcome == COMPLETER]
        self.treat_exit[done] = att.exit[done]
        self.treat_end[done] = add_months(att.exit[done], self.P.effect_months)
        self.treat_type[done] = self.w.prog_type[att.prog[done]]
        self.treat_target[done] = self.w.prog_target[att.prog[done]]
        self.treat_attempt[done] = slot + 1
        if slot == 0:
            self.trk[done] = True
            self.trk_exit[done] = self.treat_exit[done]
            self.trk_end[done] = self.treat_end[done]
            self.sh_alive[done] = True
            gap = (30 + rng.random(idx.size) * 90).astype(np.int64)
            self.retake_day[idx] = np.where(retake_plan, exit_day + gap, NEVER)

    def _start_enrolments(self, m: int) -> None:
        tl, rng = self.tl, self.rng_enrol
        due = self.plan_month == m
        s = np.flatnonzero(due & self.employed & (self.att[0].prog < 0))
        self.plan_month[due] = -2          # tried once: nobody re-plans a missed start
        if not s.size:
            return
        start = tl.month_start[m] + (rng.random(s.size) * tl.month_days[m]).astype(np.int64)
        start = np.maximum(start, self.hire_day[s] + 1)     # a rehire starting this month
        self._open_attempt(0, s, self._choose_programs(s, rng), start, rng, retake=False)

    def _start_retakes(self, m: int) -> None:
        tl, rng = self.tl, self.rng_enrol
        due = (self.retake_day >= tl.month_start[m]) & (self.retake_day <= tl.month_stop[m])
        r = np.flatnonzero(due & self.employed & (self.att[1].prog < 0))
        start = self.retake_day[r]
        self.retake_day[due] = NEVER
        if r.size:
            self._open_attempt(1, r, self.att[0].prog[r], start, rng, retake=True)

    # ------------------------------------------------------------------ events

    def _events(self, m: int, joined: np.ndarray) -> None:
        tl = self.tl
        idx = np.flatnonzero(self.employed & ~joined)
        if not idx.size:
            return
        u = self.rng.random((idx.size, 3))    # day, separation, move
        day = tl.month_start[m] + (u[:, 0] * tl.month_days[m]).astype(np.int64)
        h_vol0, h_vol, h_inv, promo_factor, H = self._hazards(idx, day, m)
        vol = u[:, 1] < h_vol
        inv = ~vol & (u[:, 1] < h_vol + h_inv)
        kind = (u[:, 2, None] >= np.cumsum(H, axis=1)).sum(axis=1)
        kind[vol | inv] = K_NONE

        self._shadow(idx, day, u, h_vol0, h_inv, promo_factor, vol, inv, kind)

        self._terminate(idx[vol], day[vol], VOLUNTARY)
        self._terminate(idx[inv], day[inv], INVOLUNTARY)
        self._build_manager_index()
        self._apply_moves(idx, day, kind)
        self._replace_departed_managers(idx[vol | inv], day[vol | inv], m)

        # A move before the exit day (in the exit month) is part of the state at exit.
        pre = self.trk[idx] & (tl.month_index(self.trk_exit[idx]) == m) & (day <= self.trk_exit[idx])
        self.sh_level[idx[pre]] = self.level[idx[pre]]

    def _hazards(self, idx, day, m):
        """This month's hazards: baseline voluntary exit, voluntary exit with the
        planted effect, involuntary exit, the promotion multiplier, and the
        move segments in K_* order (planted extra move included)."""
        w, P = self.w, self.P
        k = idx.size
        a = self.a[idx]
        band = np.searchsorted(w.tenure_edges, (day - self.hire_day[idx]) / 365.25, side="right")
        effect = (self.treat_exit[idx] < day) & (day <= self.treat_end[idx])
        ttype = self.treat_type[idx]
        h_vol0 = w.vol_by_band[band] * np.exp(P.voluntary_exit_ability * a)
        h_vol = h_vol0 * np.where(effect, w.vol_multiplier[ttype], 1.0)
        h_inv = P.involuntary_exit * np.exp(P.involuntary_exit_ability * a)
        level, fam = self.level[idx], self.fam[idx]
        promo_factor = np.exp(P.promotion_ability * a) * PROMOTION_SEASON[self.tl.month_of_year[m] - 1]
        extra = np.where(effect, w.extra_hazard[ttype], 0.0)
        extra = np.where((ttype == 1) & (fam == self.treat_target[idx]), 0.0, extra)   # already there
        H = np.column_stack([
            w.promotion_by_level[level] * promo_factor,
            np.full(k, P.lateral), np.full(k, P.family_change), extra,
            P.transfer * w.can_transfer[fam], P.demotion * (level > 1), np.full(k, P.data_change),
        ])
        return h_vol0, h_vol, h_inv, promo_factor, H

    def _shadow(self, idx, day, u, h_vol0, h_inv, promo_factor, vol, inv, kind) -> None:
        """Outcomes of tracked completers inside their window, treated (actual)
        and untreated (shadow, baseline hazards, same uniforms)."""
        P, w = self.P, self.w
        win = self.trk[idx] & (self.trk_exit[idx] < day) & (day <= self.trk_end[idx])
        if not win.any():
            return
        t = np.flatnonzero(win)
        who = idx[t]
        moved = kind[t] <= K_EXTRA
        self.tr_moved[who] |= moved
        self.tr_exit_cat[who[vol[t]]] = VOLUNTARY
        self.tr_exit_cat[who[inv[t]]] = INVOLUNTARY
        alive = self.sh_alive[who]
        s_vol = alive & (u[t, 1] < h_vol0[t])
        s_inv = alive & ~s_vol & (u[t, 1] < h_vol0[t] + h_inv[t])
        base_move = w.promotion_by_level[self.sh_level[who]] * promo_factor[t] + P.lateral + P.family_change
        s_move = alive & ~s_vol & ~s_inv & (u[t, 2] < base_move)
        self.sh_moved[who] |= s_move
        self.sh_exit_cat[who[s_vol]] = VOLUNTARY
        self.sh_exit_cat[who[s_inv]] = INVOLUNTARY
        self.sh_alive[who[s_vol | s_inv]] = False

    def _apply_moves(self, idx, day, kind) -> None:
        F = C.N_FAMILIES
        for K, fn in ((K_PROMO, self._promote), (K_LATERAL, self._lateral), (K_TRANSFER, self._transfer),
                      (K_DEMOTION, self._demote), (K_DATA, self._data_change)):
            sel = kind == K
            fn(idx[sel], day[sel])
        sel = kind == K_FAMILY
        who = idx[sel]
        new_fam = (self.fam[who] + 1 + (self.rng.random(who.size) * (F - 1)).astype(np.int64)) % F
        self._change_family(who, day[sel], new_fam)
        sel = kind == K_EXTRA
        who, d = idx[sel], day[sel]
        up = self.treat_type[who] == 0
        top = self.level[who] == C.N_LEVELS     # decided before anyone is promoted
        self._promote(who[up & ~top], d[up & ~top])
        self._lateral(who[up & top], d[up & top])
        self._change_family(who[~up], d[~up], self.treat_target[who[~up]])

    def _promote(self, idx, day) -> None:
        if not idx.size:
            return
        self.level[idx] += 1
        floor = self._band(self.fam[idx], self.level[idx], self.loc[idx]) * 0.92
        self.pay[idx] = np.maximum(self.pay[idx] * self.rng.uniform(1.06, 1.12, idx.size), floor)
        self._new_positions(idx)
        self._assign_managers(idx)
        self._record(idx, day, PROMOTION)

    def _lateral(self, idx, day) -> None:
        if not idx.size:
            return
        n_prof = self.w.n_profiles[self.fam[idx], self.level[idx]]
        cur = self.prof[idx] % n_prof
        self.prof[idx] = (cur + 1 + (self.rng.random(idx.size) * (n_prof - 1)).astype(np.int64)) % n_prof
        self.pay[idx] *= self.rng.uniform(1.0, 1.03, idx.size)
        self._new_positions(idx)
        self._record(idx, day, LATERAL)

    def _change_family(self, idx, day, new_fam) -> None:
        """A job-family change (the reskilling move). It keeps the level; the
        department follows the new family unless the current one employs it."""
        if not idx.size:
            return
        owners = self.w.owners
        new_dept = self.dept[idx].copy()
        u = self.rng.random(idx.size)
        for f in range(C.N_FAMILIES):
            sel = np.flatnonzero(new_fam == f)
            keep = np.isin(self.dept[idx[sel]], owners[f])
            pick = owners[f][(u[sel] * owners[f].size).astype(np.int64)]
            new_dept[sel] = np.where(keep, self.dept[idx[sel]], pick)
        moved_dept = new_dept != self.dept[idx]
        ratio = self.pay[idx] / self._band(self.fam[idx], self.level[idx], self.loc[idx])
        self.fam[idx] = new_fam
        self.dept[idx] = new_dept
        self.prof[idx] = (self.rng.random(idx.size) * 12).astype(np.int64)
        self.pay[idx] = np.maximum(ratio, 0.9) * self._band(self.fam[idx], self.level[idx], self.loc[idx])
        self._new_positions(idx)
        self._assign_managers(idx)
        self._record(idx[moved_dept], day[moved_dept], TRANSFER)
        self._record(idx[~moved_dept], day[~moved_dept], LATERAL)

    def _transfer(self, idx, day) -> None:
        """Department change in the same job (families employed by two departments)."""
        if not idx.size:
            return
        u = self.rng.random(idx.size)
        for f in np.unique(self.fam[idx]):
            sel = np.flatnonzero(self.fam[idx] == f)
            others = self.w.owners[f]
            cur = np.searchsorted(others, self.dept[idx[sel]])
            step = 1 + (u[sel] * (others.size - 1)).astype(np.int64)
            self.dept[idx[sel]] = others[(cur + step) % others.size]
        self._new_positions(idx)
        self._assign_managers(idx)
        self._record(idx, day, TRANSFER)

    def _demote(self, idx, day) -> None:
        if not idx.size:
            return
        self.level[idx] -= 1
        self.pay[idx] *= self.rng.uniform(0.92, 0.97, idx.size)
        self._new_positions(idx)
        self._assign_managers(idx)
        self._record(idx, day, DEMOTION)

    def _data_change(self, idx, day) -> None:
        """Same job, new data: a market pay adjustment or a new reporting line."""
        if not idx.size:
            return
        pay_fix = self.rng.random(idx.size) < 0.5
        self.pay[idx[pay_fix]] *= self.rng.uniform(1.01, 1.06, int(pay_fix.sum()))
        self._assign_managers(idx[~pay_fix])
        self._record(idx, day, DATA_CHANGE)
        self.counts["data_change_events"] += int(idx.size)

    def _replace_departed_managers(self, gone, gone_day, m) -> None:
        """Reports of a leaver get a new manager (a data_change) within two weeks;
        when that would collide with another event of theirs this month, it
        waits for the start of next month."""
        stop = self.tl.month_stop[m]
        late = np.flatnonzero(self.needs_manager & self.employed)
        self.needs_manager[:] = False
        if late.size:
            self._reassign(late, np.maximum(self.tl.month_start[m], self.last_row_day[late] + 1), stop)
        if not gone.size:
            return
        subs = np.flatnonzero(self.employed & np.isin(self.mgr, gone))
        if not subs.size:
            return
        left_on = dict(zip(gone.tolist(), gone_day.tolist()))
        base = np.array([left_on[x] for x in self.mgr[subs].tolist()], dtype=np.int64)
        day = base + 1 + (self.rng.random(subs.size) * 14).astype(np.int64)
        self._reassign(subs, np.maximum(day, self.last_row_day[subs] + 1), stop)

    def _reassign(self, subs, day, stop) -> None:
        now = day <= stop
        self.needs_manager[subs[~now]] = True
        subs, day = subs[now], day[now]
        self._assign_managers(subs)
        self._record(subs, day, DATA_CHANGE)
        self.counts["data_change_events"] += int(subs.size)

    def _terminate(self, idx, day, cat: int) -> None:
        if not idx.size:
            return
        rng = self.rng
        k = idx.size
        self.employed[idx] = False
        self.term_day[idx] = day
        self.term_cat[idx] = cat
        if cat == VOLUNTARY:
            age = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - self.birth_year[idx]
            reason = rng.choice(C.VOLUNTARY_REASONS, size=k, p=C.VOLUNTARY_REASON_SHARE).astype(object)
            reason[(age >= 60) & (rng.random(k) < 0.7)] = C.RETIREMENT_REASON
            self.regrettable[idx] = self.a[idx] + rng.normal(0.0, 0.6, k) > 0.2
            self.rehire_eligible[idx] = self.a[idx] > -0.5
        else:
            p = np.array(C.INVOLUNTARY_REASON_SHARE)
            reason = rng.choice(C.INVOLUNTARY_REASONS, size=k, p=p).astype(object)
            reason[(self.a[idx] < -0.8) & (rng.random(k) < 0.5)] = "Performance"
            self.regrettable[idx] = False
            self.rehire_eligible[idx] = False
        self.term_reason[idx] = reason
        self._record(idx, day, TERMINATION)
        self._close_open_attempts(idx, day)

    def _close_open_attempts(self, idx, day) -> None:
        """Leaving the company ends any registration still running: it becomes a
        withdrawal on the leaving day, so every completer was employed at exit."""
        for slot, att in enumerate(self.att):
            started = att.prog[idx] >= 0
            first_leave = started & (att.left[idx] == NEVER)
            att.left[idx[first_leave]] = day[first_leave]
            open_ = started & (day <= att.exit[idx])
            who = idx[open_]
            if not who.size:
                continue
            att.outcome[who] = WITHDRAWN
            att.by_separation[who] = True
            att.exit[who] = np.maximum(day[open_], att.start[who])
            cleared = who[self.treat_attempt[who] == slot + 1]
            self.treat_exit[cleared] = NEVER
            self.treat_end[cleared] = NEVER
            self.treat_attempt[cleared] = 0
            if slot == 0:
                self.trk[who] = False
        self.retake_day[idx] = NEVER

    # ------------------------------------------------------------------ measures

    def _productivity(self, m: int, full: np.ndarray, fam_start: np.ndarray) -> None:
        """One row per worker employed for the whole month (joiners and leavers
        have partial months, which a real system would not report either)."""
        if "zero_outputs" in self.adv:
            self._zero_step()
        if not self.tl.month_complete[m]:
            return
        w, P = self.w, self.P
        idx = np.flatnonzero(full)
        fam, a = fam_start[idx], self.a[idx]
        growth = P.growth_base + P.growth_ability * a
        if "hidden_selection" in self.adv:
            growth = growth + self.A.hidden_growth * self.edu_z[idx]
        value = (w.family_scale[fam] * (1.0 + P.ability_coef * a)
                 * w.seasonal[fam, self.tl.month_of_year[m] - 1]
                 * np.exp(growth * m)
                 * np.exp(self.rng.normal(0.0, P.noise_sd, idx.size)))
        value0 = value.copy()
        treated = self.tl.month_index(self.treat_exit[idx]) < m
        value *= np.where(treated, 1.0 + w.effect[self.treat_type[idx]] * self.effect_mult[idx], 1.0)
        for att in self.att:
            prog = att.prog[idx]
            inside = ((prog >= 0) & w.prog_off_job[np.maximum(prog, 0)]
                      & (self.tl.month_index(att.start[idx]) <= m) & (m <= self.tl.month_index(att.exit[idx])))
            value *= np.where(inside, 1.0 - P.off_the_job_dip, 1.0)
        if "baseline_ties" in self.adv:    # reported in coarse whole steps
            step = np.maximum(1.0, np.rint(w.family_scale[fam] / self.A.tie_steps))
            value, value0 = np.rint(value / step) * step, np.rint(value0 / step) * step
        if "zero_outputs" in self.adv:
            z0 = self.zero[idx]
            work = treated & (self.zero_u[idx] < self.A.zero_to_work)
            value = np.where(z0 & ~work, 0.0, value)
            value0 = np.where(z0, 0.0, value0)
        self.productivity.append((m, idx, fam, value))
        self.productivity0.append(value0)

    def _zero_step(self) -> None:
        """One month of the zero-output chain for every worker (employed or not, so
        the draws never depend on who is employed)."""
        u = self.rng_zero.random((2, self.n))
        self.zero = np.where(self.zero, u[0] >= self.A.zero_exit, u[0] < self._zero_enter_rate())
        self.zero_u = u[1]

    def _manager_ratings(self, m: int) -> None:
        rng, tl = self.rng, self.tl
        idx = np.flatnonzero(self.employed)
        idx = idx[rng.random(idx.size) < 0.92]
        day = tl.month_start[m] + np.minimum(14 + (rng.random(idx.size) * 16).astype(np.int64), tl.month_days[m] - 1)
        rating = np.clip(np.rint(3.1 + 0.7 * self.a[idx] + rng.normal(0.0, 0.7, idx.size)), 1, 5).astype(np.int64)
        self.manager_ratings.append((idx, day, rating, self.mgr[idx].copy()))

    # ------------------------------------------------------------------ wrap-up

    def _finish(self) -> None:
        rng, tl = self.rng, self.tl
        # Registrations for next month's intake: enrolled, not started.
        late = np.flatnonzero((self.plan_month == tl.n_months) & self.employed)
        if late.size:
            att = self.att[0]
            att.prog[late] = self._choose_programs(late, self.rng_enrol)
            att.enrolled[late] = tl.end_day - (self.rng_enrol.random(late.size) * 20).astype(np.int64)
            att.cohort_dept[late] = self.dept[late]
        # Scheduled promotions already keyed in with a future effective date.
        fut = np.flatnonzero(self.employed & (self.level < C.N_LEVELS))
        fut = fut[rng.random(fut.size) < 0.004]
        if fut.size:
            day = tl.end_day + 1 + (rng.random(fut.size) * 45).astype(np.int64)
            saved_pos = self.pos[fut].copy()
            self._new_positions(fut)
            self._record(fut, day, PROMOTION, level=self.level[fut] + 1, pay=self.pay[fut] * 1.08)
            self.pos[fut] = saved_pos
            self.counts["future_dated_rows"] += int(fut.size)
        self._corrections()

    def _corrections(self) -> None:
        """Retroactive HR corrections: a later entry restates an earlier
        non-move row (same effective date and reason, higher sequence) with a
        corrected base pay. Moves are never restated, so spells keep their shape."""
        rec = self.job_history_arrays(raw=True)
        rng = self.rng
        eligible = np.isin(rec["reason"], (HIRE, REHIRE, DATA_CHANGE)) & (rec["day"] <= self.tl.end_day - 30)
        cand = np.flatnonzero(eligible)
        pick = cand[rng.random(cand.size) < 0.02]
        if not pick.size:
            return
        k = pick.size
        self._records.append((
            rec["w"][pick], rec["day"][pick], rec["reason"][pick], rec["pos"][pick], rec["fam"][pick],
            rec["prof"][pick], rec["level"][pick], rec["dept"][pick], rec["mgr"][pick],
            rec["pay"][pick] * rng.uniform(0.97, 1.03, k), np.arange(self._order, self._order + k),
        ))
        self._order += k
        self.counts["corrected_rows"] += int(k)

    def job_history_arrays(self, raw: bool = False) -> dict[str, np.ndarray]:
        names = ("w", "day", "reason", "pos", "fam", "prof", "level", "dept", "mgr", "pay", "order")
        cols = {nm: np.concatenate([r[i] for r in self._records]) for i, nm in enumerate(names)}
        if raw:
            return cols
        # Sequence = order of entry per worker; rows sorted as an HRIS prints them.
        by_entry = np.lexsort((cols["order"], cols["w"]))
        seq = np.empty(by_entry.size, dtype=np.int64)
        w_sorted = cols["w"][by_entry]
        first = np.r_[0, np.flatnonzero(np.diff(w_sorted)) + 1]
        run_start = np.repeat(first, np.diff(np.r_[first, w_sorted.size]))
        seq[by_entry] = np.arange(by_entry.size) - run_start + 1
        cols["seq"] = seq
        out = np.lexsort((seq, cols["day"], cols["w"]))
        return {k: v[out] for k, v in cols.items()}
