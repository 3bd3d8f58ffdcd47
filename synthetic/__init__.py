"""The synthetic company: a seeded, streaming generator of the source extracts
this pipeline ingests (HRIS, performance, LMS + xAPI, credentials, finance,
Qualtrics surveys), with known planted effects written to ``truth.json``.

Model. Each worker has an unobserved ability: N(0, 1) at hire, clipped to
+-1.5 (bounded talent keeps every cell's strongest people matchable);
incumbents at the window start are survivors of ability-dependent exits, so
their ability is the hire distribution tilted by survival. Ability raises
output, value = family_scale x (1 + 0.25 a) x seasonal(month) x
exp((g0 + g1 a) t) x lognormal noise, and the chance of enrolling (logistic
selection), completing, being promoted (levels track ability) and staying.
Careers run month by month: hire, rehire, promotion, lateral, transfer,
job-family change, demotion, data change, termination. Completers get the
planted effects from their exit: output x (1 + e) from the month after exit,
and for 12 months an extra move hazard (reskilling: into the program's target
family) and a lower voluntary-exit hazard.

Why a naive before/after overstates. Two mechanisms, both removed by the
matched comparison of docs/methods.md: participants are stronger and stronger
performers improve faster (g1 > 0); and hires during the window come from a
weaker pool than the incumbents, so each metric's average output per head
drifts down and an incumbent's productivity index rises with no real change.
See ``truth.py`` for how the true effects are computed.

**One program per worker.** A worker enrols in at most one program over the
window (plus a retake of that same program after failing or withdrawing). This
keeps every participant's pre window free of other training and makes the
estimand in docs/methods.md (first attempt per worker x program) unambiguous.

**No two events on one day.** A worker never gets two different HR events with
the same effective date, so rebuilding history as "latest sequence per
effective date" can never hide a move. Retroactive corrections restate an
earlier non-move row on its own date with a higher sequence.

Determinism: the same arguments give byte-identical files. All randomness
comes from numpy generators keyed by (seed, chunk, purpose) and from Faker
instances reseeded per chunk; nothing reads the clock.

Scale: workers are simulated in chunks of 25,000 and every row is appended to
its monthly file as the chunk finishes, so memory does not grow with the
number of employees.
"""

from .generator import generate

__all__ = ["generate"]
