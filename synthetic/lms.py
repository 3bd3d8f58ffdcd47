"""LMS extracts of one chunk: the transcript (enrollments), xAPI statements,
credentials and competency evaluations, all derived from the registrations the
HR simulation opened and closed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import numpy as np

from . import catalog as C
from .extracts import bad_date
from .hr import COMPLETER, FAILED, WAIVED, ChunkSim
from .timeline import NEVER, day_string, day_strings
from .writer import COLUMNS, DefectLedger, LandingWriter

SCORE_DEFECT_RATE = 0.03      # of retake/failed rows with a score: about 0.4% of all registrations
VOIDED_RATE = 0.01
INVALID_XAPI_RATE = 0.003

_ADL = "http://adlnet.gov/expapi/verbs/"
_ADL_W3ID = "https://w3id.org/xapi/adl/verbs/"
VERB_IDS = {v: _ADL + v for v in ("launched", "initialized", "completed", "passed", "failed", "terminated", "voided")}
VERB_IDS.update({v: _ADL_W3ID + v for v in ("abandoned", "waived", "satisfied")})
CMI5_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
SESSION_EXT = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
REASON_EXT = "https://w3id.org/xapi/cmi5/result/extensions/reason"
COURSE_TYPE = "https://w3id.org/xapi/cmi5/activitytype/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
WAIVER_XAPI_REASON = {"Prior certification": "Equivalent Outside Activity", "Equivalent experience": "Equivalent AU",
                      "Tested out": "Tested Out", "Administrative": "Administrative"}


@dataclass
class AttemptTable:
    """All registrations of a chunk, one row each, in (worker, attempt) order."""
    w: np.ndarray
    attempt: np.ndarray
    prog: np.ndarray
    enrolled: np.ndarray
    start: np.ndarray
    exit: np.ndarray
    outcome: np.ndarray
    by_separation: np.ndarray
    left: np.ndarray
    cohort_dept: np.ndarray
    status: np.ndarray
    enrollment_id: np.ndarray
    score: np.ndarray
    hours: np.ndarray
    waiver: np.ndarray

    @property
    def exited(self) -> np.ndarray:
        return ~np.isin(self.status, ("not_started", "in_progress"))


def _status(prog, start, exit_day, outcome, end_day) -> np.ndarray:
    completer = np.array([C.PROGRAMS[p].completer_status for p in prog.tolist()], dtype=object)
    return np.select(
        [start == NEVER, exit_day > end_day, outcome == COMPLETER, outcome == FAILED, outcome == WAIVED],
        ["not_started", "in_progress", completer, "failed", "waived"], "withdrawn").astype(object)


def build_attempts(sim: ChunkSim, rng: np.random.Generator) -> AttemptTable:
    parts = []
    for slot, att in enumerate(sim.att):
        sel = np.flatnonzero(att.prog >= 0)
        parts.append((sel, np.full(sel.size, slot + 1), att.prog[sel], att.enrolled[sel], att.start[sel],
                      att.exit[sel], att.outcome[sel], att.by_separation[sel], att.left[sel], att.cohort_dept[sel]))
    cols = [np.concatenate([p[i] for p in parts]) for i in range(10)]
    order = np.lexsort((cols[1], cols[0]))
    w, attempt, prog, enrolled, start, exit_day, outcome, by_sep, left, cdept = (c[order] for c in cols)
    status = _status(prog, start, exit_day, outcome, sim.tl.end_day)
    k = w.size
    ids = sim.w.counters.take("enrollment", k)
    a = sim.a[w]
    score = _scores(prog, status, a, rng)
    hours = _hours(prog, status, start, exit_day, sim.tl.end_day, rng)
    waiver = np.where(status == "waived", rng.choice(C.WAIVER_REASONS, size=k), "").astype(object)
    return AttemptTable(w, attempt, prog, enrolled, start, exit_day, outcome, by_sep, left, cdept, status,
                        np.array([f"ENR{i:08d}" for i in ids.tolist()], dtype=object), score, hours, waiver)


def _scores(prog, status, a, rng) -> np.ndarray:
    """Assessment score consistent with the status: passers at or above mastery
    (higher with ability), failures below it, nothing for unassessed exits."""
    k = prog.size
    smin = np.array([np.nan if p.score_min is None else p.score_min for p in C.PROGRAMS])[prog]
    smax = np.array([np.nan if p.score_max is None else p.score_max for p in C.PROGRAMS])[prog]
    mastery = np.array([np.nan if p.mastery_score is None else p.mastery_score for p in C.PROGRAMS])[prog]
    good = np.clip(0.45 + 0.15 * a + rng.normal(0.0, 0.2, k), 0.02, 1.0)
    low = rng.uniform(0.45, 0.97, k)
    passed = np.isin(status, ("completed", "passed"))
    score = np.where(passed, mastery + (smax - mastery) * good,
                     np.where(status == "failed", smin + (mastery - smin) * low, np.nan))
    return np.where(smax > 100, np.round(score), np.round(score, 1))


def _hours(prog, status, start, exit_day, end_day, rng) -> np.ndarray:
    k = prog.size
    planned = np.array([p.planned_hours for p in C.PROGRAMS])[prog]
    window = np.array([p.window_days for p in C.PROGRAMS])[prog]
    elapsed = np.clip((np.minimum(exit_day, end_day) - start) / window, 0.0, 1.0)
    u = rng.random(k)
    h = np.select(
        [np.isin(status, ("completed", "passed")), status == "failed", status == "withdrawn",
         status == "in_progress"],
        [planned * (0.8 + 0.45 * u), planned * (0.7 + 0.4 * u), planned * elapsed * (0.5 + 0.5 * u),
         planned * elapsed * (0.6 + 0.4 * u)], 0.0)
    return np.round(h, 1)


def _fmt(x: float) -> str:
    return "" if np.isnan(x) else f"{x:g}"


def write_enrollments(t: AttemptTable, wid, writer: LandingWriter, ledger: DefectLedger, rel: str,
                      rng: np.random.Generator) -> None:
    enrolled_s = day_strings(t.enrolled)
    started_s = np.where(t.start != NEVER, day_strings(np.where(t.start != NEVER, t.start, 0)), "")
    done_s = np.where(t.exited, day_strings(np.where(t.exited, t.exit, 0)), "")
    # Reskilling is a career choice: never mandatory.
    reskill = np.array([p.program_type == "reskilling" for p in C.PROGRAMS])[t.prog]
    assign = np.where(reskill, rng.choice(C.ASSIGNMENT_TYPES, size=t.w.size, p=(0.0, 0.8, 0.2)),
                      rng.choice(C.ASSIGNMENT_TYPES, size=t.w.size, p=C.ASSIGNMENT_SHARE))
    smax = np.array([np.nan if p.score_max is None else p.score_max for p in C.PROGRAMS])[t.prog]
    score = t.score.copy()
    # Typos land on retakes and failed attempts only: a quarantined first-attempt
    # completion would drop a treated worker into the comparison pool.
    eligible = ~np.isnan(score) & ((t.attempt == 2) | (t.status == "failed"))
    pool = np.flatnonzero(eligible)
    n_bad = min(pool.size, max(1, round(SCORE_DEFECT_RATE * pool.size)))
    bad = np.sort(rng.choice(pool, size=n_bad, replace=False)) if pool.size else pool
    score[bad] = np.round(smax[bad] + rng.uniform(1.0, 0.25 * smax[bad]), 1)
    ledger.add("score_above_max", rel, int(bad.size))
    rows = [(t.enrollment_id[i], wid[t.w[i]], C.PROGRAMS[t.prog[i]].program_id, int(t.attempt[i]), assign[i],
             enrolled_s[i], started_s[i], t.status[i], done_s[i], _fmt(score[i]), f"{t.hours[i]:g}", t.waiver[i])
            for i in range(t.w.size)]
    writer.csv_rows(rel, [COLUMNS["enrollments"]], rows)


def write_orphan_enrollments(n: int, first_orphan: int, world, writer: LandingWriter, ledger: DefectLedger,
                             rel: str) -> None:
    """Registrations of people the HRIS does not know (contractors, test users)."""
    if n <= 0:
        return
    rng = world.global_rng(0)
    tl = world.timeline
    ids = world.counters.take("enrollment", n)
    rows = []
    for j in range(n):
        p = C.PROGRAMS[int(rng.integers(len(C.PROGRAMS)))]
        start = int(rng.integers(tl.first_day, max(tl.first_day + 1, tl.end_day - p.window_days)))
        status = p.completer_status if rng.random() < 0.6 else "withdrawn"
        exit_day = min(start + int(rng.integers(20, p.window_days)), tl.end_day)
        score = "" if not p.has_score or status == "withdrawn" else f"{p.mastery_score + 5:g}"
        rows.append((f"ENR{ids[j]:08d}", f"W{first_orphan + j:07d}", p.program_id, 1, "optional",
                     day_string(start - 7), day_string(start), status, day_string(exit_day), score,
                     f"{p.planned_hours:g}", ""))
    writer.csv_rows(rel, [COLUMNS["enrollments"]], rows)
    ledger.add("orphan_worker_id", rel, n)


def write_programs(writer: LandingWriter, rel: str, window_days=None) -> None:
    """The catalogue; ``window_days`` (one per program) overrides the catalogue's
    windows (staggered_starts: every program may run up to 52 weeks)."""
    def num(x):
        return "" if x is None else f"{x:g}"
    windows = [p.window_days for p in C.PROGRAMS] if window_days is None else [int(x) for x in window_days]
    rows = [(p.program_id, p.title, p.provider, p.method, p.program_type, p.target_job_family,
             f"{p.planned_hours:g}", win, p.credential_offered, p.move_on_rule,
             "true" if p.waived_counts_as_completed else "false", num(p.score_min), num(p.score_max),
             num(p.mastery_score), p.expected_life_years, p.xapi_activity_id) for p, win in zip(C.PROGRAMS, windows)]
    writer.csv_rows(rel, [COLUMNS["programs"]], rows)


# --------------------------------------------------------------------------- credentials


def write_credentials(t: AttemptTable, sim: ChunkSim, wid, writer: LandingWriter, ledger: DefectLedger,
                      rel: str, rng: np.random.Generator) -> int:
    """Badges for some completers, 0-300 days after exit, as a Credly export lists them."""
    end = sim.tl.end_day
    offered = np.array([bool(p.credential_offered) for p in C.PROGRAMS])[t.prog]
    p_earn = np.clip(0.55 + 0.1 * sim.a[t.w], 0.2, 0.9)
    issued = t.exit + (rng.random(t.w.size) * 301).astype(np.int64)
    earn = np.flatnonzero(np.isin(t.status, ("completed", "passed")) & offered
                          & (rng.random(t.w.size) < p_earn) & (issued <= end))
    bad = set(earn[rng.random(earn.size) < 0.003].tolist())
    rows = []
    for i in earn.tolist():
        p = C.PROGRAMS[t.prog[i]]
        issued_s = day_string(issued[i])
        if i in bad:
            issued_s = bad_date(rng, int(issued_s[:4]))
        expires = ""
        if p.credential_validity_years:
            expires = day_string(issued[i] + int(round(365.25 * p.credential_validity_years)))
        issuer = "Alder & Finch Academy" if p.provider == C.INTERNAL else p.provider
        rows.append((str(uuid.UUID(bytes=rng.bytes(16), version=4)), wid[t.w[i]], p.program_id,
                     p.credential_offered, issuer, issued_s, expires))
    writer.csv_rows(rel, [COLUMNS["credentials"]], rows)
    ledger.add("bad_date", rel, len(bad))
    return len(rows)


# --------------------------------------------------------------------------- competency


def competency_evaluations(t: AttemptTable, sim: ChunkSim, rng: np.random.Generator):
    """Evaluations every 4-6 weeks after start; the rating reaches "meets
    standard" (3+) after a person-specific time-to-competency, sooner for the
    able and for completers. Stops when the worker leaves or well after the
    competency was reached, so some participants stay censored."""
    sel = np.flatnonzero((t.start != NEVER) & (t.status != "waived"))
    k = sel.size
    comp_days = np.array([p.competency_days for p in C.PROGRAMS])[t.prog[sel]]
    window = np.array([p.window_days for p in C.PROGRAMS])[t.prog[sel]]
    start = t.start[sel]
    slow = np.where(t.outcome[sel] == COMPLETER, 1.0, 1.6)
    ttc = comp_days * np.exp(-0.25 * sim.a[t.w[sel]] + rng.normal(0.0, 0.35, k)) * slow
    stop = np.minimum.reduce([np.full(k, sim.tl.end_day), t.left[sel] - 1, start + ttc.astype(np.int64) + 90,
                              start + window + 200])
    n_max = int(((stop - start).max(initial=0)) // 28) + 2
    gaps = rng.integers(28, 46, size=(k, n_max))
    gaps[:, 0] = rng.integers(25, 40, size=k)
    day = start[:, None] + np.cumsum(gaps, axis=1)
    keep = day <= stop[:, None]
    reached = (day - start[:, None]) >= ttc[:, None]
    u = rng.random((k, n_max))
    rating = np.where(reached, 3 + (u > 0.6) + (u > 0.9), 1 + (u > 0.35))
    row, col = np.nonzero(keep)
    w = t.w[sel][row]
    return (w, day[row, col].astype(np.int64), rating[row, col].astype(np.int64), sim.mgr[w],
            t.prog[sel][row].astype(np.int64))


# --------------------------------------------------------------------------- xAPI


class UuidSource:
    """Version-4 UUIDs from a seeded generator, drawn 4096 at a time (one
    rng call per UUID dominated the xAPI writer's run time)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._buf = b""
        self._pos = 0

    def __call__(self) -> str:
        if self._pos >= len(self._buf):
            self._buf, self._pos = self.rng.bytes(16 * 4096), 0
        raw = self._buf[self._pos:self._pos + 16]
        self._pos += 16
        return str(uuid.UUID(bytes=raw, version=4))


def _ts(day: int, seconds: int) -> str:
    return f"{day_string(day)}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"


def _duration(seconds: float) -> str:
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"PT{h}H{m}M" if h else f"PT{m}M{s % 60}S"


class StatementFactory:
    """Builds cmi5-flavoured xAPI 1.0.3 statements for one registration."""

    def __init__(self, rng: np.random.Generator, end_day: int) -> None:
        self.rng = rng
        self.uuid = UuidSource(rng)
        self.end_day = end_day
        self.out: list[tuple[int, int, str, dict]] = []   # (day, seconds, id, statement)

    def emit(self, day: int, secs: int, actor: dict, verb: str, obj: dict, ctx: dict | None,
             result: dict | None = None) -> str | None:
        if day > self.end_day:
            return None
        sid = self.uuid()
        stmt = {"id": sid, "actor": actor, "verb": {"id": VERB_IDS[verb], "display": {"en-US": verb}},
                "object": obj}
        if result is not None:
            stmt["result"] = result
        if ctx is not None:
            stmt["context"] = ctx
        stored_secs = secs + int(self.rng.integers(1, 90))
        stmt["timestamp"] = _ts(day, secs)
        stmt["stored"] = _ts(day, min(stored_secs, 86399))
        stmt["version"] = "1.0.3"
        self.out.append((day, secs, sid, stmt))
        return sid


def _score_obj(raw: float, p: C.Program) -> dict:
    scaled = (raw - p.score_min) / (p.score_max - p.score_min)
    return {"scaled": round(min(max(scaled, 0.0), 1.0), 4), "raw": raw, "min": p.score_min, "max": p.score_max}


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def registration_statements(f: StatementFactory, t: AttemptTable, i: int, worker_id: str) -> list[str]:
    """Statements of registration i; returns the ids of final-outcome statements
    (candidates for a mistaken duplicate that gets voided)."""
    rng = f.rng
    p = C.PROGRAMS[t.prog[i]]
    iri = p.xapi_activity_id
    actor = {"objectType": "Agent", "account": {"homePage": C.LMS_HOME, "name": worker_id}}
    course = {"objectType": "Activity", "id": iri,
              "definition": {"name": {"en-US": p.title}, "type": COURSE_TYPE}}
    ctx = {"registration": f.uuid(),
           "contextActivities": {"parent": [{"objectType": "Activity", "id": iri}],
                                 "category": [{"objectType": "Activity", "id": CMI5_CATEGORY}]},
           "extensions": {SESSION_EXT: f.uuid()}}
    start, status = int(t.start[i]), t.status[i]
    secs = int(rng.integers(7 * 3600, 18 * 3600))
    total = max(t.hours[i], 0.25) * 3600
    if status == "waived":
        f.emit(int(t.exit[i]), secs, actor, "waived", course, ctx,
               {"success": True, "completion": True,
                "extensions": {REASON_EXT: WAIVER_XAPI_REASON[t.waiver[i]]}})
        if p.waived_counts_as_completed:
            f.emit(int(t.exit[i]), secs + 2, actor, "satisfied", course, ctx)
        return []
    f.emit(start, secs, actor, "launched", course, ctx)
    f.emit(start, secs + int(rng.integers(2, 30)), actor, "initialized", course, ctx)
    planned_end = int(t.exit[i])
    for j in range(1, p.n_modules + 1):
        mday = start + (planned_end - start) * j // (p.n_modules + 1)
        if status == "withdrawn" and mday >= planned_end:
            break
        module = {"objectType": "Activity", "id": f"{iri}/modules/{j}",
                  "definition": {"name": {"en-US": f"{p.title}: module {j}"}, "type": MODULE_TYPE}}
        f.emit(mday, int(rng.integers(7 * 3600, 20 * 3600)), actor, "completed", module, ctx,
               {"completion": True, "duration": _duration(total / (p.n_modules + 1))})
    if status in ("not_started", "in_progress"):
        return []
    day = planned_end
    secs = int(rng.integers(8 * 3600, 19 * 3600))
    finals = []
    if status == "withdrawn":
        f.emit(day, secs, actor, "abandoned", course, ctx, {"duration": _duration(total)})
        return []
    score = None if np.isnan(t.score[i]) else _score_obj(float(t.score[i]), p)
    if status in ("completed", "passed"):
        res = {"completion": True, "duration": _duration(total)}
        if score and status == "completed":
            res["score"] = score
        finals.append(f.emit(day, secs, actor, "completed", course, ctx, res))
        if status == "passed":
            finals.append(f.emit(day, secs + 1, actor, "passed", course, ctx,
                                 _drop_none({"score": score, "success": True, "completion": True,
                                             "duration": _duration(total)})))
        f.emit(day, secs + 3, actor, "satisfied", course, ctx)
    else:  # failed
        finals.append(f.emit(day, secs, actor, "failed", course, ctx,
                             _drop_none({"score": score, "success": False, "completion": True,
                                         "duration": _duration(total)})))
    f.emit(day, secs + 5, actor, "terminated", course, ctx, {"duration": _duration(total)})
    return [s for s in finals if s]


def _void(f: StatementFactory, sid_source: dict, day: int, secs: int) -> bool:
    """A statement issued in error (wrong outcome), then voided by the LMS admin
    within two days (only when the voiding still falls inside the extract)."""
    if day + 2 > f.end_day:
        return False
    wrong = json.loads(json.dumps(sid_source))
    wrong_verb = "failed" if wrong["verb"]["display"]["en-US"] != "failed" else "passed"
    actor = wrong["actor"]
    result = dict(wrong.get("result") or {})
    result["success"] = wrong_verb == "passed"
    bad_id = f.emit(day, secs + 40, actor, wrong_verb, wrong["object"], wrong.get("context"), result)
    admin = {"objectType": "Agent", "account": {"homePage": C.LMS_HOME, "name": "lms-admin"}}
    delay = int(f.rng.integers(1, 36)) * 3600
    vday, vsecs = day + (secs + 40 + delay) // 86400, (secs + 40 + delay) % 86400
    f.emit(vday, vsecs, admin, "voided", {"objectType": "StatementRef", "id": bad_id}, None)
    return True


def _invalid(stmt: dict, f: StatementFactory) -> dict:
    """A statement broken the way real LRS exports are."""
    rng = f.rng
    bad = json.loads(json.dumps(stmt))
    bad["id"] = f.uuid()
    kind = int(rng.integers(4))
    if kind == 0:
        bad["verb"]["id"] = bad["verb"]["display"]["en-US"]            # not an IRI
    elif kind == 1:
        del bad["actor"]
    elif kind == 2:
        bad.setdefault("result", {})["score"] = {"scaled": 1.7, "raw": 170, "min": 0, "max": 100}
    else:
        bad["timestamp"] = bad["timestamp"][:5] + "02-30" + bad["timestamp"][10:]
    return bad


def write_xapi(t: AttemptTable, sim: ChunkSim, wid, writer: LandingWriter, ledger: DefectLedger,
               rng: np.random.Generator, counts: dict) -> None:
    f = StatementFactory(rng, sim.tl.end_day)
    for i in np.flatnonzero((t.start != NEVER) | (t.status == "waived")).tolist():
        finals = registration_statements(f, t, i, wid[t.w[i]])
        if finals and rng.random() < VOIDED_RATE:
            day, secs, _, stmt = next(x for x in reversed(f.out) if x[2] == finals[-1])
            if _void(f, stmt, day, secs):
                counts["voided_statements"] = counts.get("voided_statements", 0) + 1
    invalid = np.flatnonzero(rng.random(len(f.out)) < INVALID_XAPI_RATE)
    extra = [(f.out[j][0], f.out[j][1] + 7, "", _invalid(f.out[j][3], f)) for j in invalid.tolist()]
    stmts = sorted(f.out + extra, key=lambda x: (x[0], x[1]))
    month = sim.tl.month_index(np.array([s[0] for s in stmts], dtype=np.int64)) if stmts else np.zeros(0, int)
    bad_ids = {id(x[3]) for x in extra}
    for m in np.unique(month).tolist():
        rel = f"lms/xapi/statements_{sim.tl.label(m)}.ndjson"
        sel = np.flatnonzero(month == m).tolist()
        lines = [json.dumps(stmts[j][3], separators=(",", ":"), ensure_ascii=False) for j in sel]
        writer.lines(rel, None, lines)
        ledger.add("invalid_xapi_statement", rel, sum(1 for j in sel if id(stmts[j][3]) in bad_ids))
