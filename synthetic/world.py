"""Lookup arrays derived once from the catalogue and parameters, shared by every
chunk, plus the global id counters that keep ids unique across chunks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import catalog as C
from .adversity import AdversityParams
from .params import PROGRAM_TYPES, Planted
from .timeline import Timeline

# Calendar patterns (index = month of year - 1), normalised where they scale a rate.
HIRING_SEASON = np.array([1.3, 1.1, 1.1, 1.0, 1.0, 0.9, 0.8, 0.6, 1.4, 1.2, 1.0, 0.5])
ENROL_SEASON = np.array([1.3, 1.2, 1.1, 1.0, 1.0, 0.9, 0.7, 0.5, 1.3, 1.2, 1.0, 0.4])
_PROMO = np.array([1.8, 0.75, 0.75, 1.3, 0.75, 0.75, 1.6, 0.75, 0.75, 1.0, 0.75, 0.75])
PROMOTION_SEASON = _PROMO / _PROMO.mean()
RATING_MONTHS = (3, 6, 9, 12)
GLOBAL_CHUNK = 10**6    # spawn key of the company-wide streams (no chunk ever gets this number)


class Counters:
    """Sequential ids handed out in chunk order, so they are deterministic and unique."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, name: str, k: int) -> np.ndarray:
        start = self._next.get(name, 1)
        self._next[name] = start + k
        return np.arange(start, start + k, dtype=np.int64)

    def one(self, name: str) -> int:
        return int(self.take(name, 1)[0])


@dataclass
class World:
    timeline: Timeline
    params: Planted
    seed: int
    employees: int
    counters: Counters = field(default_factory=Counters)
    adversity: frozenset = frozenset()      # names from synthetic/adversity.py
    adv: AdversityParams = field(default_factory=AdversityParams)

    def __post_init__(self) -> None:
        F = C.N_FAMILIES
        self.seasonal = C.seasonal_matrix()
        if "seasonality" in self.adversity:
            phase = np.arange(F)[:, None] * 12.0 / F
            moy = np.arange(12)[None, :]
            s = 1.0 + self.adv.season_amplitude * np.sin(2 * np.pi * (moy + phase) / 12.0)
            self.seasonal = s / s.mean(axis=1, keepdims=True)
        self.family_scale = np.array([f.scale for f in C.FAMILIES])
        self.band = np.array([[b * f.pay_mult for b in C.BASE_PAY_BY_LEVEL] for f in C.FAMILIES])
        self.loc_pay = np.array([loc.pay_mult for loc in C.LOCATIONS])
        w = np.array([loc.weight for loc in C.LOCATIONS])
        self.loc_weight = w / w.sum()
        w = np.array([d.weight for d in C.DEPARTMENTS])
        self.dept_weight = w / w.sum()
        self.dept_families = [np.array([C.FAMILY_INDEX[f] for f in d.families]) for d in C.DEPARTMENTS]
        self.dept_family_share = [np.array(d.family_share) for d in C.DEPARTMENTS]
        self.owners = [np.array(o) for o in C.department_owners()]
        self.can_transfer = np.array([len(o) > 1 for o in self.owners])
        self.n_profiles = np.zeros((F, C.N_LEVELS + 1), dtype=np.int64)
        for f in range(F):
            for lvl in range(1, C.N_LEVELS + 1):
                self.n_profiles[f, lvl] = C.n_profiles(f, lvl)
        progs = C.PROGRAMS
        self.prog_type = np.array([PROGRAM_TYPES.index(p.program_type) for p in progs])
        self.prog_target = np.array([C.FAMILY_INDEX[p.target_job_family] for p in progs])
        self.prog_window = np.array([p.window_days for p in progs])
        if "staggered_starts" in self.adversity:   # lengths 2-52 weeks: every window is a year
            self.prog_window = np.full(len(progs), self.adv.max_program_days)
        self.prog_logit = np.array([p.completion_logit for p in progs])
        self.prog_can_fail = np.array([p.can_fail for p in progs])
        self.prog_waivable = np.array([p.waivable for p in progs])
        self.prog_off_job = np.array([p.method in C.OFF_THE_JOB_METHODS for p in progs])
        self.up_by_family = [np.flatnonzero((self.prog_type == 0) & (self.prog_target == f)) for f in range(F)]
        self.re_by_family = [np.flatnonzero((self.prog_type == 1) & (self.prog_target != f)) for f in range(F)]
        if any(len(u) == 0 for u in self.up_by_family):
            raise ValueError("every job family needs an upskilling program")
        P = self.params
        self.effect = np.array([P.productivity_effect[t] for t in PROGRAM_TYPES])
        self.extra_hazard = np.array([P.mobility_extra_hazard[t] for t in PROGRAM_TYPES])
        self.vol_multiplier = np.array([P.voluntary_exit_multiplier[t] for t in PROGRAM_TYPES])
        self.tenure_edges = np.array(P.tenure_band_edges_years, dtype=float)
        self.vol_by_band = np.array(P.voluntary_exit_by_tenure_band)
        self.promotion_by_level = np.concatenate([[0.0], np.array(P.promotion_by_level)])  # index = level

    def rng(self, chunk: int, stream: int) -> np.random.Generator:
        """Independent stream per (chunk, purpose): adding a draw to one purpose
        never shifts another's numbers."""
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(chunk, stream)))

    def global_rng(self, stream: int) -> np.random.Generator:
        """Streams for company-wide outputs (finance, orphan rows), apart from every chunk's."""
        return self.rng(GLOBAL_CHUNK, stream)

    def worker_ids(self, offset: int, n: int) -> np.ndarray:
        return np.array([f"W{g:07d}" for g in range(offset + 1, offset + n + 1)], dtype=object)
