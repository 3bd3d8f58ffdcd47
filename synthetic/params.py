"""Planted parameters: the data-generating process the pipeline must recover.

All rates are monthly unless named otherwise. They are dumped verbatim into
``truth.json["planted"]`` so a reader can see exactly what was simulated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PROGRAM_TYPES = ("upskilling", "reskilling")


@dataclass(frozen=True)
class Planted:
    # --- ability: one N(0,1) draw per person, never written anywhere
    ability_clip: float = 1.5            # bounded talent: the top of a cell always has peers to match

    # --- productivity: value = family_scale x (1 + ability_coef*ability) x seasonal(month)
    #     x exp((growth_base + growth_ability*ability) * months_since_window_start) x lognormal noise
    ability_coef: float = 0.25
    growth_base: float = 0.002
    growth_ability: float = 0.003        # stronger performers improve faster: a naive bias
    noise_sd: float = 0.05
    off_the_job_dip: float = 0.04        # output dip while in a bootcamp/apprenticeship (never in a window)
    productivity_effect: dict = field(default_factory=lambda: {"upskilling": 0.08, "reskilling": 0.04})

    # --- enrolment: P(ever enrol) = logistic(enrol_intercept + enrol_ability*ability)
    enrol_intercept: float = -1.3
    enrol_ability: float = 0.6
    reskilling_share: float = 0.35
    completion_ability: float = 0.5      # added to the program's completion log-odds
    waiver_rate: float = 0.03            # among enrolments in waivable programs
    failed_share_of_noncompleters: float = 0.45
    retake_probability: float = 0.4      # after failed/withdrawn (not after leaving the company)
    retake_completion_bonus: float = 0.5
    min_tenure_months_to_enrol: int = 3
    share_starts_with_pre_window: float = 0.92   # starts at least 6 months into the window

    # --- workforce flows: hires per year as a share of the starting headcount
    annual_hiring_rate: float = 0.18
    # Hires during the window come from a weaker pool than the incumbents were:
    # the average output per head of each metric drifts down, so an incumbent's
    # productivity index rises with no change in output (the other naive bias;
    # a comparison group measured over the same months cancels it).
    window_hire_ability_shift: float = -0.7

    # --- levels at the window start: level = hire_level_base + level_ability*a (+ tenure), noisy
    hire_level_base: float = 1.6
    level_ability: float = 0.9
    level_per_tenure_year: float = 0.18
    level_noise: float = 0.45

    # --- separations
    tenure_band_edges_years: tuple = (1, 3, 6, 10)          # = parameters.yml matching bands
    voluntary_exit_by_tenure_band: tuple = (0.014, 0.009, 0.007, 0.005, 0.004)
    voluntary_exit_ability: float = -0.3   # log-hazard per SD of ability
    involuntary_exit: float = 0.0025
    involuntary_exit_ability: float = -0.5
    rehire_monthly: float = 0.012
    rehire_min_gap_days: int = 395         # > 12 months: a boomerang never lands inside an outcome window
    boomerang_share_of_hires: float = 0.08

    # --- internal moves (a "move" = promotion, lateral, job-family change)
    promotion_by_level: tuple = (0.018, 0.014, 0.010, 0.007, 0.004, 0.0)
    promotion_ability: float = 0.45
    lateral: float = 0.004
    family_change: float = 0.0015
    transfer: float = 0.003                # department change, same job: not a move
    demotion: float = 0.0003
    data_change: float = 0.004

    # --- planted effects for completers, during (exit, exit + effect_months]
    effect_months: int = 12
    mobility_extra_hazard: dict = field(default_factory=lambda: {"upskilling": 0.015, "reskilling": 0.035})
    voluntary_exit_multiplier: dict = field(default_factory=lambda: {"upskilling": 0.55, "reskilling": 0.6})

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
