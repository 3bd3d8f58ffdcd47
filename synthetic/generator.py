"""Orchestration: chunks of workers through the simulation and out to the landing zone."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

from . import extracts as X
from . import lms
from .adversity import parse_adversity
from .finance import FinanceBook
from .hr import ChunkSim
from .params import Planted
from .people import IdentityFactory
from .surveys import SurveyWriter
from .timeline import Timeline
from .truth import Truth
from .world import World
from .writer import COLUMNS, DefectLedger, LandingWriter, survey_header_rows

CHUNK_SIZE = 25_000
ORPHAN_RATE = 0.005

# Stream ids of the per-chunk random generators (0-2 belong to the HR simulation):
# one per purpose, so adding draws to one output never changes another.
(_S_ATTEMPTS, _S_XAPI, _S_SURVEY, _S_FINANCE, _S_DUPLICATES, _S_COMPETENCY, _S_RATINGS, _S_ENROLMENTS,
 _S_CREDENTIALS) = range(3, 12)


def generate(out_dir: Path, employees: int, years: int, seed: int, end_date: date = date(2026, 10, 31),
             progress: Callable[[str, float], None] | None = None, daily_days: int = 0,
             adversity: str | Iterable[str] | None = None, worker_attributes: bool | None = None) -> dict:
    """Write a synthetic company's extracts to ``out_dir/landing`` and the planted
    truth to ``out_dir/truth.json``; return a summary (files written, row counts).

    ``daily_days`` > 0 delivers the last that many days of the event sources (xAPI,
    finance, surveys) as one file per day, snapshots dated the day before
    (synthetic/daily.py); the summary and truth.json list them under ``daily_drops``.

    ``adversity``: settings that break the estimator's assumptions
    (synthetic/adversity.py): "all", "name,name" or an iterable of names; none by
    default. ``worker_attributes``: write the optional hris/worker_attributes
    extract; by default only when an adversity setting is on, so the default
    company's landing zone is what it always was.

    The landing tree is built next to the old one and swapped in at the end, so
    a reader never sees a half-written delivery.
    """
    if employees < 1:
        raise ValueError("employees must be at least 1")
    settings = parse_adversity(adversity)
    if worker_attributes is None:
        worker_attributes = bool(settings)
    out_dir = Path(out_dir)
    staging = out_dir / "landing.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    report = progress or (lambda stage, fraction: None)

    world = World(Timeline(end_date, years), Planted(), seed, employees, adversity=settings)
    writer = LandingWriter(staging)
    ledger = DefectLedger()
    truth = Truth(world)
    identities = IdentityFactory(seed)
    surveys = SurveyWriter(writer, ledger, identities)
    finance = FinanceBook(world, writer, ledger)
    tl = world.timeline
    snap = end_date.isoformat()
    rel = {
        "workers": f"hris/workers_{snap}.csv", "job_history": f"hris/job_history_{snap}.csv",
        "programs": f"lms/programs_{snap}.csv", "enrollments": f"lms/enrollments_{snap}.csv",
        "credentials": f"lms/credentials_{snap}.csv",
    }
    if worker_attributes:
        rel["worker_attributes"] = f"hris/worker_attributes_{snap}.csv"
    for entity, path in rel.items():
        writer.touch(path, [COLUMNS[entity]])
    lms.write_programs(writer, rel["programs"], window_days=world.prog_window)

    n_chunks = (employees + CHUNK_SIZE - 1) // CHUNK_SIZE
    enrollment_rows = 0
    counts: dict[str, int] = {}
    for chunk in range(n_chunks):
        offset = chunk * CHUNK_SIZE
        n = min(CHUNK_SIZE, employees - offset)
        report("simulate", chunk / n_chunks)
        sim = ChunkSim(world, chunk, offset, n)
        sim.run()
        identities.reseed(chunk)
        names = identities.make(sim.loc)
        wid = world.worker_ids(offset, n)
        truth.begin_chunk(sim)

        X.write_workers(sim, wid, names, writer, rel["workers"])
        X.write_job_history(sim, wid, writer, rel["job_history"])
        if worker_attributes:
            X.write_worker_attributes(sim, wid, writer, rel["worker_attributes"])
        X.write_productivity(sim, wid, writer, ledger, truth, world.rng(chunk, _S_DUPLICATES))
        attempts = lms.build_attempts(sim, world.rng(chunk, _S_ATTEMPTS))
        enrollment_rows += attempts.w.size
        comp = lms.competency_evaluations(attempts, sim, world.rng(chunk, _S_COMPETENCY))
        X.write_ratings(sim, wid, comp, writer, ledger, world.rng(chunk, _S_RATINGS))
        lms.write_enrollments(attempts, wid, writer, ledger, rel["enrollments"], world.rng(chunk, _S_ENROLMENTS))
        lms.write_credentials(attempts, sim, wid, writer, ledger, rel["credentials"],
                              world.rng(chunk, _S_CREDENTIALS))
        lms.write_xapi(attempts, sim, wid, writer, ledger, world.rng(chunk, _S_XAPI), counts)
        surveys.write_chunk(attempts, sim, wid, names, world.rng(chunk, _S_SURVEY))
        finance.add_chunk(attempts, wid, world.rng(chunk, _S_FINANCE))
        truth.add_chunk(sim)
        _count_attempt_features(truth, attempts)

    report("finance", 0.97)
    n_orphans = max(2, round(ORPHAN_RATE * enrollment_rows))
    lms.write_orphan_enrollments(n_orphans, employees + 1, world, writer, ledger, rel["enrollments"])
    finance.finish()
    for m in range(tl.n_months):    # a month with nothing to report still gets its (empty) extract
        writer.touch(f"surveys/post_training_survey_{tl.label(m)}.csv", survey_header_rows())
        writer.touch(f"performance/ratings_{tl.label(m)}.csv", [COLUMNS["ratings"]])
        writer.touch(f"lms/xapi/statements_{tl.label(m)}.ndjson", None)
    for k, v in counts.items():
        truth.count(k, v)
    truth.count("survey_invitations", surveys.invited)
    truth.count("survey_responses", surveys.responses)
    truth.count("survey_partial_responses", surveys.partials)

    daily = None
    if daily_days:
        from .daily import split_daily

        daily = split_daily(staging, end_date, daily_days)
        for old_rel, new_rel in daily["renamed"].items():
            writer.rows[new_rel] = writer.rows.pop(old_rel)
        writer.rows.update(daily["rows"])
    landing = out_dir / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    staging.rename(landing)
    result = truth.result(ledger.as_dict(), surveys.canaries)
    if daily is not None:
        result["daily_drops"] = daily["drops"]
    truth_path = out_dir / "truth.json"
    truth_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # per-episode sums behind effects.<type>.productivity_pct (synthetic/truth.py), beside truth.json
    with open(out_dir / "truth_productivity_episodes.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(Truth.EPISODE_COLUMNS) + "\n")
        fh.writelines(",".join(map(str, row)) + "\n" for row in truth.episodes)
    report("done", 1.0)
    return {
        "landing": str(landing),
        "truth": str(truth_path),
        "files": dict(sorted(writer.rows.items())),
        "rows": _rows_by_entity(writer.rows),
        "employees": employees,
        "years": years,
        "seed": seed,
        "end_date": end_date.isoformat(),
        "daily_drops": daily["drops"] if daily is not None else {},
        "adversity": sorted(settings),
    }


def _count_attempt_features(truth: Truth, t: lms.AttemptTable) -> None:
    truth.count("retakes", int((t.attempt == 2).sum()))
    for status in ("not_started", "in_progress", "waived"):
        truth.count(f"enrollments_{status}", int((t.status == status).sum()))


def _rows_by_entity(rows: dict[str, int]) -> dict[str, int]:
    prefixes = {"hris/workers_": "workers", "hris/job_history_": "job_history",
                "hris/worker_attributes_": "worker_attributes",
                "performance/productivity_": "productivity", "performance/ratings_": "ratings",
                "lms/programs_": "programs", "lms/enrollments_": "enrollments", "lms/credentials_": "credentials",
                "lms/xapi/statements_": "xapi_statements", "finance/cost_lines_": "cost_lines",
                "surveys/post_training_survey_": "survey_responses"}
    out: dict[str, int] = {}
    for path, n in rows.items():
        for prefix, entity in prefixes.items():
            if path.startswith(prefix):
                out[entity] = out.get(entity, 0) + n
    return dict(sorted(out.items()))
