"""HRIS and performance extracts of one simulated chunk: workers, job history,
productivity and ratings rows, with their planted defects."""

from __future__ import annotations

import numpy as np

from . import catalog as C
from .hr import REASONS, VOLUNTARY, ChunkSim
from .timeline import NEVER, day_strings
from .writer import COLUMNS, DefectLedger, LandingWriter

DUPLICATE_ROW_RATE = 0.003
BAD_RATING_DATE_RATE = 0.003

_PROFILE_TABLE = np.array([[[C.job_profile(f, lvl, p) for p in range(4)] for lvl in range(C.N_LEVELS + 1)]
                           for f in range(C.N_FAMILIES)], dtype=object)
_FAMILY_KEYS = np.array([f.key for f in C.FAMILIES], dtype=object)
_DEPT_NAMES = np.array([d.name for d in C.DEPARTMENTS], dtype=object)
_DEPT_CC = np.array([d.cost_center for d in C.DEPARTMENTS], dtype=object)
_GRADES = np.array([""] + [C.compensation_grade(lvl) for lvl in range(1, C.N_LEVELS + 1)], dtype=object)
_REASONS = np.array(REASONS, dtype=object)


def bad_date(rng: np.random.Generator, year: int) -> str:
    """An impossible calendar date in ISO shape, the kind a typo produces."""
    return rng.choice([f"{year}-13-40", f"{year}-02-30", f"{year}-04-31", f"{year}-00-12", f"{year}-11-31"])


def global_ids(wid: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Worker id strings of local indices; -1 (nobody) becomes ''."""
    return np.where(local >= 0, wid[np.maximum(local, 0)], "")


def write_workers(sim: ChunkSim, wid, names, writer: LandingWriter, rel: str) -> None:
    first, last, email, nid = names
    tl = sim.tl
    gone = ~sim.employed & (sim.term_day != NEVER)
    term = np.where(gone, sim.term_day, tl.first_day)
    term_s = np.where(gone, day_strings(term), "")
    cat = np.where(gone, np.where(sim.term_cat == VOLUNTARY, "voluntary", "involuntary"), "")
    reason = np.where(gone, sim.term_reason, "")
    regret = np.where(gone, np.where(sim.regrettable, "true", "false"), "")
    hire_s, orig_s = day_strings(sim.hire_day), day_strings(sim.orig_hire_day)
    band0 = sim.birth_year // 5 * 5
    rows = []
    for i in range(sim.n):
        loc = C.LOCATIONS[sim.loc[i]]
        rows.append((wid[i], first[i], last[i], email[i], nid[i], hire_s[i], orig_s[i],
                     "true" if sim.rehired[i] else "false", term_s[i], cat[i], reason[i], regret[i],
                     loc.city, loc.region, f"{band0[i]}-{band0[i] + 4}", f"{sim.fte[i]:g}"))
    writer.csv_rows(rel, [COLUMNS["workers"]], rows)


def write_job_history(sim: ChunkSim, wid, writer: LandingWriter, rel: str) -> int:
    h = sim.job_history_arrays()
    prof = h["prof"] % sim.w.n_profiles[h["fam"], h["level"]]
    profile = _PROFILE_TABLE[h["fam"], h["level"], prof]
    eff = day_strings(h["day"])
    mgr = global_ids(wid, h["mgr"])
    pay = np.round(h["pay"], -1)
    rows = zip(wid[h["w"]], eff, h["seq"], _REASONS[h["reason"]], h["pos"], profile, _FAMILY_KEYS[h["fam"]],
               h["level"], _DEPT_NAMES[h["dept"]], _DEPT_CC[h["dept"]], mgr, _GRADES[h["level"]], pay)
    lines = [f"{w},{d},{s},{r},P{p:08d},{jp},{f},{lv},{dn},{cc},{m},{g},{b:.2f},EUR"
             for w, d, s, r, p, jp, f, lv, dn, cc, m, g, b in rows]
    writer.lines(rel, COLUMNS["job_history"], lines)
    return len(lines)


def write_productivity(sim: ChunkSim, wid, writer: LandingWriter, ledger: DefectLedger, truth,
                       rng: np.random.Generator) -> None:
    """Monthly files; a few exact duplicate rows of never-enrolled workers (the
    defect must not touch anyone's estimation windows)."""
    never = (sim.att[0].prog < 0) & (sim.att[1].prog < 0)
    metric_unit = [f"{f.metric},{f.unit}" for f in C.FAMILIES]
    for (m, idx, fam, value), value0 in zip(sim.productivity, sim.productivity0):
        truth.add_productivity(sim, m, idx, fam, value, value0)
        period = f"{sim.tl.label(m)}-01"
        lines = [f"{w},{period},{metric_unit[f]},{v:.2f}" for w, f, v in zip(wid[idx], fam.tolist(), value.tolist())]
        dup = np.flatnonzero(never[idx] & (rng.random(idx.size) < DUPLICATE_ROW_RATE))
        lines.extend(lines[i] for i in dup.tolist())
        rel = f"performance/productivity_{sim.tl.label(m)}.csv"
        writer.lines(rel, COLUMNS["productivity"], lines)
        ledger.add("duplicate_row", rel, int(dup.size))


def write_ratings(sim: ChunkSim, wid, competency, writer: LandingWriter, ledger: DefectLedger,
                  rng: np.random.Generator) -> None:
    """Manager ratings (quarterly) and competency evaluations, one file per month
    of the evaluation date. Some manager ratings carry an impossible date."""
    parts = []
    for idx, day, rating, mgr in sim.manager_ratings:
        parts.append((idx, day, rating, mgr, np.full(idx.size, -1)))
    c_idx, c_day, c_rating, c_mgr, c_comp = competency
    parts.append((c_idx, c_day, c_rating, c_mgr, c_comp))
    idx, day, rating, mgr, comp = (np.concatenate([p[i] for p in parts]) for i in range(5))
    order = np.argsort(day, kind="stable")
    idx, day, rating, mgr, comp = idx[order], day[order], rating[order], mgr[order], comp[order]
    ev_id = sim.w.counters.take("evaluation", idx.size)
    month = sim.tl.month_index(day)
    date_s = day_strings(day).astype(object)
    is_mgr = comp < 0
    bad = np.flatnonzero(is_mgr & (rng.random(idx.size) < BAD_RATING_DATE_RATE))
    for i in bad.tolist():
        date_s[i] = bad_date(rng, int(date_s[i][:4]))
    comp_names = np.array([p.competency for p in C.PROGRAMS] + [""], dtype=object)
    cols = ([f"EV{e:09d}" for e in ev_id.tolist()], wid[idx].tolist(), date_s.tolist(),
            np.where(is_mgr, "manager_rating", "competency").tolist(), comp_names[comp].tolist(),
            rating.tolist(), global_ids(wid, mgr).tolist())
    is_bad = np.zeros(idx.size, dtype=bool)
    is_bad[bad] = True
    bounds = np.r_[0, np.flatnonzero(np.diff(month)) + 1, month.size]
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        if lo == hi:
            continue
        rel = f"performance/ratings_{sim.tl.label(int(month[lo]))}.csv"
        writer.csv_rows(rel, [COLUMNS["ratings"]], zip(*(c[lo:hi] for c in cols)))
        ledger.add("bad_date", rel, int(is_bad[lo:hi].sum()))


def write_worker_attributes(sim: ChunkSim, wid, writer: LandingWriter, rel: str) -> int:
    """The optional worker_attributes extract (long format: worker_id, attribute,
    value, valid_from; an empty valid_from means static). education_level is the
    attribute hidden_selection selects on (synthetic/adversity.py); a few workers
    get a dated second education row when they finish a higher degree."""
    from .adversity import EDUCATION_LEVELS

    tl = sim.tl
    edu = np.array(EDUCATION_LEVELS, dtype=object)
    hire_s = day_strings(sim.orig_hire_day)
    lo = np.maximum(sim.hire_day, tl.first_day)
    up_day = lo + ((tl.end_day - lo) * sim.edu_upgrade_u).astype(np.int64)
    up = sim.edu_upgrade & (up_day > lo) & (up_day <= tl.end_day)
    up_s = day_strings(np.where(up, up_day, tl.first_day))
    rows = []
    for i in range(sim.n):
        w = wid[i]
        rows.append((w, "birth_year", str(int(sim.birth_year[i])), ""))
        rows.append((w, "education_level", edu[sim.edu[i]], ""))
        if up[i]:
            rows.append((w, "education_level", edu[sim.edu[i] + 1], up_s[i]))
        rows.append((w, "employment_type", "full_time" if sim.fte[i] >= 100.0 else "part_time", hire_s[i]))
        rows.append((w, "location", C.LOCATIONS[sim.loc[i]].city, ""))
        rows.append((w, "prior_earnings", f"{sim.prior_earnings[i]:.0f}", ""))
    writer.csv_rows(rel, [COLUMNS["worker_attributes"]], rows)
    return len(rows)
