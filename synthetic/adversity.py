"""Adversity settings: opt-in ways for the synthetic company to stop flattering the estimator.

The default company is kind to a matched difference in differences: one start per
worker mostly with a full pre window, comparison workers who rarely enrol inside a
participant's outcome window, output that is never zero, continuous values that
never tie, mild seasonality, one homogeneous effect per program type and
selection on an ability that baseline productivity reveals. Each setting below
breaks one of those assumptions (DECISIONS D95-D96):

``late_control_enrolment``
    Many more workers enrol (ever-enrol log-odds + ``late_enrol_logit_shift``) and
    their start month is drawn uniformly over the whole window, so would-be
    comparison workers enrol later, inside other participants' outcome windows,
    and carry their own effect into the comparison trend.
``zero_outputs``
    Employed workers have months of zero output (leave, unemployment-like gaps; a
    two-state monthly chain, more often for part-timers and weaker performers),
    written as value 0 for treated and untreated alike; after the exit a
    completer who would have been at zero works instead with probability
    ``zero_to_work``.
``staggered_starts``
    Start months uniform over the whole window (no guaranteed pre window, no
    seasonal intake) and program lengths of 2-52 weeks whatever the catalogue
    says (the programs extract then states ``window_days`` 364 for all).
``heterogeneous_effects``
    Each person's productivity effect is the planted one times
    ``max(0, 1 + het_ability * ability + het_education * education_z + N(0, het_noise))``,
    so completers (abler than average) get more than the planted parameter.
``baseline_ties``
    Output is reported as whole multiples of a coarse step (family scale / 8,
    rounded to a whole number), so many candidates tie on baseline productivity.
``seasonality``
    A strong seasonal pattern (amplitude ``season_amplitude``) with a different
    phase per job family, replacing the mild holiday pattern.
``hidden_selection``
    Enrolment log-odds and monthly productivity growth both rise with the
    worker's education level, which no HR field carries; it is delivered only in
    the optional ``worker_attributes`` extract (attribute ``education_level``),
    so matching on it can remove the bias.

Every setting draws from its own random streams: a company generated without
any setting is byte-identical to one generated before the settings existed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

ADVERSITIES: tuple[str, ...] = (
    "late_control_enrolment", "zero_outputs", "staggered_starts", "heterogeneous_effects", "baseline_ties",
    "seasonality", "hidden_selection",
)

DESCRIPTIONS: dict[str, str] = {
    "late_control_enrolment": "more workers enrol, start months uniform over the window: comparison workers enrol "
                              "later, inside participants' outcome windows, with their own effect",
    "zero_outputs": "months of zero output (leave, gaps, part-time) written as 0 for everyone; the program moves "
                    "some completers from 0 to work",
    "staggered_starts": "starts uniform over the whole window, program lengths 2-52 weeks",
    "heterogeneous_effects": "per-person productivity effect rising with ability and education: the ATT differs "
                             "from the planted mean parameter",
    "baseline_ties": "output reported in coarse whole steps: many candidates tie on baseline productivity",
    "seasonality": "strong seasonal pattern with a different phase per job family",
    "hidden_selection": "enrolment and productivity growth rise with education_level, carried only by the "
                        "worker_attributes extract",
}

# Random stream ids of the settings (ChunkSim uses 0-2, the generator 3-11).
S_ATTRIBUTES, S_ZERO, S_EFFECTS, S_STARTS = 20, 21, 22, 23

EDUCATION_LEVELS: tuple[str, ...] = ("secondary", "vocational", "bachelor", "master", "doctorate")
EDUCATION_SHARE: tuple[float, ...] = (0.22, 0.28, 0.32, 0.15, 0.03)


@dataclass(frozen=True)
class AdversityParams:
    late_enrol_logit_shift: float = 1.4      # ever-enrol log-odds added: about 22% -> 55% of workers enrol
    zero_enter: float = 0.02                 # monthly chance of a zero-output spell starting (full-timers)
    zero_enter_part_time: float = 0.05       # ... for part-timers (fte < 100)
    zero_enter_weak: float = 0.02            # added below ability -0.5
    zero_exit: float = 0.3                   # monthly chance a spell ends (mean length about 3.3 months)
    zero_to_work: float = 0.5                # completer after exit: would-be-zero month worked instead
    min_program_days: int = 14               # staggered_starts: 2-52 weeks
    max_program_days: int = 364
    het_ability: float = 0.9
    het_education: float = 0.3
    het_noise: float = 0.3
    tie_steps: int = 8                       # baseline_ties: output in steps of family scale / tie_steps
    season_amplitude: float = 0.3
    hidden_enrol: float = 0.7                # log-odds of ever enrolling per SD of education
    hidden_growth: float = 0.004             # monthly productivity growth per SD of education

    def as_dict(self) -> dict:
        return asdict(self)


def parse_adversity(value: str | Iterable[str] | None) -> frozenset[str]:
    """None, "", "none" -> no setting; "all" -> every setting; "a,b" or an iterable of names."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    else:
        names = [str(v).strip() for v in value]
    if names in ([], ["none"]):
        return frozenset()
    if "all" in names:
        return frozenset(ADVERSITIES)
    unknown = sorted(set(names) - set(ADVERSITIES))
    if unknown:
        raise ValueError(f"unknown adversity setting(s) {unknown}; choose from all, {', '.join(ADVERSITIES)}")
    return frozenset(names)
