"""The synthetic company: a seeded, streaming generator of the source extracts
this pipeline ingests (HRIS, performance, LMS + xAPI, credentials, finance,
Qualtrics surveys), with known planted effects written to ``truth.json``.

Model in one paragraph. Each worker has an unobserved ability ~ N(0, 1).
Ability raises output (value = family_scale x (1 + 0.25 a) x seasonal(month) x
exp((g0 + g1 a) t) x lognormal noise), the chance of ever enrolling (logistic
selection), of completing, of promotion, and of staying; that is the selection
bias a naive before/after comparison falls for. Careers run month by month
(hire, rehire, promotion, lateral, transfer, job-family change, demotion, data
change, termination). Completers of a program get the planted effects from
their exit: productivity x (1 + e) from the month after exit, and for 12 months
an extra move hazard (reskilling: into the program's target family) and a lower
voluntary-exit hazard. See ``truth.py`` for how the true effects are computed.

**One program per worker.** A worker enrols in at most one program over the
window (plus a retake of that same program after failing or withdrawing). This
keeps every participant's pre window free of other training and makes the
estimand in docs/methods.md (first attempt per worker x program) unambiguous.

Determinism: the same arguments give byte-identical files. All randomness
comes from numpy generators keyed by (seed, chunk, purpose) and from Faker
instances reseeded per chunk; nothing reads the clock.

Scale: workers are simulated in chunks of 25,000 and every row is appended to
its monthly file as the chunk finishes, so memory does not grow with the
number of employees.
"""

from .generator import generate

__all__ = ["generate"]
