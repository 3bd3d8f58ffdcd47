"""truth.json: the planted parameters and the exact effects the marts must recover.

Productivity: the generator multiplies a completer's output by (1 + e_i) from the
month after exit (e_i = the planted e unless heterogeneous_effects), and under
zero_outputs may turn a would-be zero month into a worked one; it keeps each
row's untreated output Y0 beside the written Y1. ``productivity_pct`` is the
ratio of means 100 x sum(Y1 - Y0) / sum(Y0) over the evaluated completers' post
windows (months exit+3 .. exit+9), Y the productivity index as the marts compute
it (value / mean value of the metric and month x 100, the mean as observed);
``productivity_index_points`` is the mean over those completers of their mean
post-window Y1 - Y0. Without adversity settings this is e x 100 exactly. Mobility and
retention: each first-attempt completer's 12 months after exit are simulated
twice with the same uniforms, treated (the data) and untreated (a shadow), and
the truth is the mean difference over the population docs/methods.md
evaluates: exit at least 12 months before the end date, employed at exit.
The naive productivity change is computed here exactly as the marts label it,
from the very rows written, so the gap between the two is visible in truth.
"""

from __future__ import annotations

import numpy as np

from . import adversity as ADV
from . import catalog as C
from .hr import COMPLETER, INVOLUNTARY, VOLUNTARY, ChunkSim
from .params import PROGRAM_TYPES
from .timeline import NEVER, day_string
from .world import World

PRE_MONTHS = 6
POST_FIRST, POST_LAST = 3, 9
MIN_MONTHS = 3


class Truth:
    def __init__(self, world: World) -> None:
        self.w = world
        tl = world.timeline
        self.prod_sum = np.zeros((C.N_FAMILIES, tl.n_months))
        self.prod_cnt = np.zeros((C.N_FAMILIES, tl.n_months))
        self._windows: list[tuple] = []
        self.crn = {t: dict.fromkeys(("n", "tr_moved", "sh_moved", "tr_stay", "sh_stay", "tr_vol", "sh_vol",
                                      "tr_inv", "sh_inv"), 0) for t in PROGRAM_TYPES}
        self.completers = dict.fromkeys(PROGRAM_TYPES, 0)
        self.ability = {k: [0.0, 0] for k in ("enrollees", "non_enrollees", "completers", "all")}
        self.features: dict[str, int] = {}

    # ------------------------------------------------------------------ per chunk

    def begin_chunk(self, sim: ChunkSim) -> None:
        """Mark first-attempt completers and their estimation windows."""
        att, tl = sim.att[0], sim.tl
        done = (att.outcome == COMPLETER) & (att.start != NEVER) & (att.exit <= tl.end_day)
        self._comp = done
        self._s = np.where(done, tl.month_index(np.where(done, att.start, 0)), -100)
        self._x = np.where(done, tl.month_index(np.where(done, att.exit, 0)), -100)
        self._type = np.where(att.prog >= 0, self.w.prog_type[np.maximum(att.prog, 0)], -1)
        self._offset = sim.offset

    def add_productivity(self, sim: ChunkSim, m: int, idx, fam, value, value0=None) -> None:
        F = C.N_FAMILIES
        self.prod_sum[:, m] += np.bincount(fam, weights=value, minlength=F)
        self.prod_cnt[:, m] += np.bincount(fam, minlength=F)
        s, x = self._s[idx], self._x[idx]
        pre = self._comp[idx] & (m >= s - PRE_MONTHS) & (m <= s - 1)
        post = self._comp[idx] & (m >= x + POST_FIRST) & (m <= x + POST_LAST)
        sel = np.flatnonzero(pre | post)
        if sel.size:
            who = idx[sel]
            self._windows.append((who + self._offset, self._type[who], np.full(sel.size, m), fam[sel],
                                  value[sel], post[sel], (value if value0 is None else value0)[sel]))

    def add_chunk(self, sim: ChunkSim) -> None:
        end = sim.tl.end_day
        for t, name in enumerate(PROGRAM_TYPES):
            ev = sim.trk & (sim.trk_end <= end) & (self._type == t)
            c = self.crn[name]
            c["n"] += int(ev.sum())
            c["tr_moved"] += int(sim.tr_moved[ev].sum())
            c["sh_moved"] += int(sim.sh_moved[ev].sum())
            c["tr_stay"] += int((sim.tr_exit_cat[ev] == 0).sum())
            c["sh_stay"] += int((sim.sh_exit_cat[ev] == 0).sum())
            c["tr_vol"] += int((sim.tr_exit_cat[ev] == VOLUNTARY).sum())
            c["sh_vol"] += int((sim.sh_exit_cat[ev] == VOLUNTARY).sum())
            c["tr_inv"] += int((sim.tr_exit_cat[ev] == INVOLUNTARY).sum())
            c["sh_inv"] += int((sim.sh_exit_cat[ev] == INVOLUNTARY).sum())
            self.completers[name] += int((self._comp & (self._type == t)).sum())
        enrolled = sim.att[0].prog >= 0
        for key, mask in (("enrollees", enrolled), ("non_enrollees", ~enrolled), ("completers", self._comp),
                          ("all", np.ones(sim.n, bool))):
            self.ability[key][0] += float(sim.a[mask].sum())
            self.ability[key][1] += int(mask.sum())
        for k, v in sim.counts.items():
            self.features[k] = self.features.get(k, 0) + v

    def count(self, name: str, n: int) -> None:
        self.features[name] = self.features.get(name, 0) + int(n)

    # ------------------------------------------------------------------ result

    def _naive_productivity(self) -> dict[str, tuple[float | None, int]]:
        """(exp(mean ln(post/pre)) - 1) x 100 over completers, index = value /
        mean(value of the metric and month) x 100, as docs/methods.md defines it.
        Also fills ``self.exact``: the true effect over the same completers."""
        self.exact = {t: {} for t in PROGRAM_TYPES}
        self.episodes: list[tuple] = []
        if not self._windows:
            return {t: (None, 0) for t in PROGRAM_TYPES}
        gid, typ, m, fam, value, post, value0 = (np.concatenate([w[i] for w in self._windows]) for i in range(7))
        mean = self.prod_sum / np.maximum(self.prod_cnt, 1)
        index = value / mean[fam, m] * 100.0
        index0 = value0 / mean[fam, m] * 100.0
        key, inv = np.unique(gid * 2 + post, return_inverse=True)
        s = np.bincount(inv, weights=index)
        n = np.bincount(inv)
        person = key // 2
        is_post = key % 2 == 1
        pre_mean = dict(zip(person[~is_post].tolist(), zip(s[~is_post] / n[~is_post], n[~is_post])))
        first_type = dict(zip(gid.tolist(), typ.tolist()))
        d_by_type: dict[int, list[float]] = {0: [], 1: []}
        evaluated = set()
        for p, sm, cnt in zip(person[is_post].tolist(), (s[is_post] / n[is_post]).tolist(), n[is_post].tolist()):
            pre = pre_mean.get(p)
            if pre is None or pre[1] < MIN_MONTHS or cnt < MIN_MONTHS:
                continue
            evaluated.add(p)
            if pre[0] > 0 and sm > 0:     # the log change is undefined at zero (zero_outputs)
                d_by_type[first_type[p]].append(np.log(sm / pre[0]))
        self._exact_effects(gid, typ, post, value, value0, index, index0, evaluated)
        self._episode_rows(gid, typ, post, value, value0, index, index0, pre_mean)
        return {name: ((float(np.expm1(np.mean(d_by_type[t])) * 100), len(d_by_type[t]))
                       if d_by_type[t] else (None, 0)) for t, name in enumerate(PROGRAM_TYPES)}

    EPISODE_COLUMNS = ("worker_id", "program_type", "n_pre_months", "n_post_months", "pre_index_mean",
                       "post_index_y1_sum", "post_index_y0_sum", "post_value_y1_sum", "post_value_y0_sum")

    def _episode_rows(self, gid, typ, post, value, value0, index, index0, pre_mean) -> None:
        """Per first-attempt completer with a post-window row: the sums behind the
        effect, so a test can compute the exact truth over any subset of episodes
        (e.g. the matched ones): sum(Y1 - Y0) / sum(Y0) over the chosen rows."""
        sel = np.flatnonzero(post)
        self.episodes = []
        if not sel.size:
            return
        key, inv = np.unique(gid[sel], return_inverse=True)
        sums = [np.bincount(inv, weights=x[sel]) for x in (index, index0, value, value0)]
        cnt = np.bincount(inv)
        first_type = dict(zip(gid[sel].tolist(), typ[sel].tolist()))
        for j, g in enumerate(key.tolist()):
            pre = pre_mean.get(g, (None, 0))
            self.episodes.append((f"W{g + 1:07d}", PROGRAM_TYPES[first_type[g]], int(pre[1]), int(cnt[j]),
                                  "" if pre[0] is None else f"{pre[0]:.6f}",
                                  *(f"{x[j]:.6f}" for x in sums)))

    def _exact_effects(self, gid, typ, post, value, value0, index, index0, evaluated) -> None:
        """Sum(Y1 - Y0) / sum(Y0) over the post-window rows of the evaluated
        completers (index and raw output), and the mean per completer of the
        post-window mean Y1 - Y0 in index points."""
        rows = post & np.isin(gid, np.fromiter(evaluated, dtype=np.int64, count=len(evaluated)))
        for t, name in enumerate(PROGRAM_TYPES):
            sel = np.flatnonzero(rows & (typ == t))
            if not sel.size:
                continue
            key, inv = np.unique(gid[sel], return_inverse=True)
            diff = index[sel] - index0[sel]
            per_person = np.bincount(inv, weights=diff) / np.bincount(inv)
            y0, v0 = index0[sel].sum(), value0[sel].sum()
            self.exact[name] = {
                "pct": float(100.0 * diff.sum() / y0) if y0 else None,
                "points": float(per_person.mean()),
                "raw_pct": float(100.0 * (value[sel] - value0[sel]).sum() / v0) if v0 else None,
                "n": int(key.size),
                "zero_y0_rows": int((value0[sel] == 0).sum()),
                "zero_y1_rows": int((value[sel] == 0).sum()),
                "post_rows": int(sel.size),
            }

    def result(self, ledger_dict: dict, canaries: list[dict]) -> dict:
        w, P = self.w, self.w.params
        naive = self._naive_productivity()
        effects = {}
        for t, name in enumerate(PROGRAM_TYPES):
            c = self.crn[name]
            n = c["n"]

            def pct(k: str) -> float | None:
                return round(100.0 * c[k] / n, 4) if n else None

            def pp(a: str, b: str) -> float | None:
                return round(100.0 * (c[a] - c[b]) / n, 4) if n else None

            ex = self.exact.get(name, {})

            def r4(x):
                return None if x is None else round(x, 4)

            planted_pct = round(100.0 * P.productivity_effect[name], 4)
            effects[name] = {
                # exact over the evaluated completers; the planted parameter when nobody is evaluated
                "productivity_pct": r4(ex["pct"]) if ex.get("pct") is not None else planted_pct,
                "productivity_pct_planted": planted_pct,
                "productivity_index_points": r4(ex.get("points")),
                "productivity_raw_pct": r4(ex.get("raw_pct")),
                "n_evaluated_productivity_effect": ex.get("n", 0),
                "productivity_post_rows": ex.get("post_rows", 0),
                "productivity_post_rows_zero_untreated": ex.get("zero_y0_rows", 0),
                "productivity_post_rows_zero_treated": ex.get("zero_y1_rows", 0),
                "mobility_12m_pp": pp("tr_moved", "sh_moved"),
                "retention_12m_pp": pp("tr_stay", "sh_stay"),
                "n_evaluated_mobility": n,
                "n_evaluated_retention": n,
                "voluntary_exit_12m_pp": pp("tr_vol", "sh_vol"),
                "involuntary_exit_12m_pp": pp("tr_inv", "sh_inv"),
                "mobility_12m_treated_pct": pct("tr_moved"),
                "mobility_12m_untreated_pct": pct("sh_moved"),
                "retention_12m_treated_pct": pct("tr_stay"),
                "retention_12m_untreated_pct": pct("sh_stay"),
                "n_completers": self.completers[name],
                "naive_productivity_pct": None if naive[name][0] is None else round(naive[name][0], 4),
                "n_evaluated_productivity": naive[name][1],
            }
        ab = {k: round(s / n, 4) if n else None for k, (s, n) in self.ability.items()}
        ab_n = {k: n for k, (s, n) in self.ability.items()}
        return {
            "seed": w.seed,
            "end_date": w.timeline.end_date.isoformat(),
            "employees": w.employees,
            "years": w.timeline.n_months // 12,
            "window": {"first_day": day_string(w.timeline.first_day), "last_day": w.timeline.end_date.isoformat()},
            "planted": {
                **P.as_dict(),
                "family_scale": {f.key: f.scale for f in C.FAMILIES},
                "metric": {f.key: {"metric": f.metric, "unit": f.unit} for f in C.FAMILIES},
                "one_program_per_worker": True,
                "effect_window": "productivity: every month after the exit month; mobility and retention: "
                                 "(exit, exit + 12 months], completers (status completed or passed) only",
            },
            "effects": effects,
            "adversity": sorted(w.adversity),
            "productivity_episodes_file": "truth_productivity_episodes.csv",
            "adversity_settings": {
                "descriptions": {k: ADV.DESCRIPTIONS[k] for k in sorted(w.adversity)},
                "parameters": w.adv.as_dict() if w.adversity else {},
                "productivity_truth": (
                    "productivity_pct = 100 x sum(Y1 - Y0) / sum(Y0) over the post windows (months exit+3 .. "
                    "exit+9) of first-attempt completers with at least 3 measured months in the pre window "
                    "(start-6 .. start-1) and in the post window; Y = value / mean value of the metric and month "
                    "x 100 (the observed mean), Y1 the written value, Y0 the same row without the program "
                    "(no effect, and a zero month stays zero). productivity_index_points = mean over those "
                    "completers of their mean post-window Y1 - Y0; productivity_raw_pct = the same ratio on raw "
                    "output; productivity_pct_planted = the planted mean parameter x 100."),
            },
            "selection_bias": {
                "description": (
                    "Enrolment probability is logistic in an unobserved ability (intercept "
                    f"{P.enrol_intercept}, slope {P.enrol_ability}); completion, promotion and staying also rise "
                    "with ability, and stronger performers' productivity grows faster "
                    f"({P.growth_ability} per month per SD). Hires during the window come from a weaker pool "
                    f"(ability shifted by {P.window_hire_ability_shift}), so every metric's average output per "
                    "head drifts down and incumbents' productivity index drifts up. A naive before/after or "
                    "participant-vs-everyone comparison therefore overstates the effects; a comparison group "
                    "matched on cell and baseline productivity (which reflects ability) and measured over the "
                    "same months removes both."),
                "mean_ability": ab,
                "n": ab_n,
                "enrolment_rate": round(ab_n["enrollees"] / ab_n["all"], 4) if ab_n["all"] else None,
            },
            "defects": ledger_dict,
            "canaries": canaries,
            "features": dict(sorted(self.features.items())),
        }
