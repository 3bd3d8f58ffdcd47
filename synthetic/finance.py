"""Finance GL/AP lines, one file per posting month.

Stipends are per participant and written with their chunk; everything billed
per cohort (vendor fees, tuition, facilitation, travel, grants) needs the whole
company's cohort sizes and is written once all chunks are done.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from . import catalog as C
from .extracts import bad_date
from .lms import AttemptTable
from .timeline import NEVER, day_string
from .world import World
from .writer import COLUMNS, DefectLedger, LandingWriter

VENDOR_CODES = {C.COURSERA: "CRS", C.LINKEDIN: "LIL", C.COLLEGE: "RCC", C.BOOTCAMP: "NCB", "Learnwell LMS": "LWL",
                C.EVALUATOR_VENDOR: "KEP", C.GRANT_BODY: "PAF", C.TAX_AUTHORITY: "TCO"}
DESIGN_AGENCY = "Brightlane Learning Design"
INTERNAL_TRAINERS = "Internal trainer pool"
CREDIT_NOTE_RATE = 0.04
GRANT_PER_APPRENTICE = 4500.0


def _row(line_id, day, cc, category, vendor, invoice, amount, memo, program="", cohort="", worker="",
         currency="EUR", posting: str | None = None):
    return [line_id, posting or day_string(day), cc, C.GL_ACCOUNTS[category], category, vendor, invoice,
            f"{amount:.2f}", currency, memo, program, cohort, worker]


class FinanceBook:
    def __init__(self, world: World, writer: LandingWriter, ledger: DefectLedger) -> None:
        self.w, self.writer, self.ledger = world, writer, ledger
        self.tl = world.timeline
        self.cohort_size: dict[tuple[int, int], int] = defaultdict(int)

    def _file(self, m: int) -> str:
        return f"finance/cost_lines_{self.tl.label(m)}.csv"

    def _write(self, by_month: dict[int, list]) -> None:
        for m in sorted(by_month):
            self.writer.csv_rows(self._file(m), [COLUMNS["cost_lines"]], by_month[m])

    # ------------------------------------------------------------------ per chunk

    def add_chunk(self, t: AttemptTable, wid, rng: np.random.Generator) -> None:
        tl = self.tl
        started = np.flatnonzero(t.start != NEVER)
        cohort = tl.month_index(t.start[started])
        for p, c in zip(t.prog[started].tolist(), cohort.tolist()):
            self.cohort_size[(p, c)] += 1
        stipend = np.array([p.stipend_per_month for p in C.PROGRAMS])[t.prog[started]]
        by_month: dict[int, list] = defaultdict(list)
        for j in np.flatnonzero(stipend > 0).tolist():
            i = started[j]
            p = C.PROGRAMS[t.prog[i]]
            last = min(int(tl.month_index(np.array([min(t.exit[i], tl.end_day)]))[0]), tl.n_months - 1)
            cc = C.DEPARTMENTS[t.cohort_dept[i]].cost_center
            for m in range(int(cohort[j]), last + 1):
                day = min(tl.month_start[m] + 24, tl.month_stop[m])
                jid = f"JE-STP-{tl.label(m).replace('-', '')}-{self.w.counters.one('journal'):08d}"
                by_month[m].append(_row(f"{jid}-1", day, cc, "stipend", "", jid,
                                        round(p.stipend_per_month * rng.uniform(0.9, 1.1), 2),
                                        "Learner stipend (transport and childcare)", p.program_id,
                                        tl.label(int(cohort[j])), wid[t.w[i]]))
        self._write(by_month)

    # ------------------------------------------------------------------ company-wide

    def finish(self) -> None:
        rng = self.w.global_rng(1)
        tl = self.tl
        lines: dict[int, list] = defaultdict(list)
        invoices: list[tuple[int, list]] = []
        seq = defaultdict(int)

        def invoice_id(vendor: str, m: int) -> str:
            code = VENDOR_CODES.get(vendor, "GEN")
            key = (code, m)
            seq[key] += 1
            return f"INV-{code}-{tl.label(m).replace('-', '')}-{seq[key]:04d}"

        def post(m: int, row: list, is_invoice: bool = False) -> None:
            if 0 <= m < tl.n_months:
                lines[m].append(row)
                if is_invoice:
                    invoices.append((m, row))

        def day_in(m: int, lo: int = 3, hi: int = 27) -> int:
            return int(min(tl.month_start[m] + rng.integers(lo, hi), tl.month_stop[m]))

        for m in range(tl.n_months):
            for vendor, memo, base in C.LICENCES:
                inv = invoice_id(vendor, m)
                post(m, _row(f"{inv}-1", day_in(m, 2, 6), C.LND_COST_CENTER, "licence", vendor, inv,
                             round(base * rng.uniform(0.97, 1.03), 2), f"{memo} {tl.label(m)}"), True)
            if tl.month_of_year[m] in (3, 6, 9, 12):
                inv = invoice_id(C.EVALUATOR_VENDOR, m)
                post(m, _row(f"{inv}-1", day_in(m), C.LND_COST_CENTER, "evaluation", C.EVALUATOR_VENDOR, inv,
                             round(rng.uniform(6000, 12000), 2), "Quarterly training impact evaluation"), True)

        for pi, p in enumerate(C.PROGRAMS):
            if p.provider == C.INTERNAL:
                for m in range(min(3, tl.n_months)):
                    vendor = DESIGN_AGENCY if m == 0 else INTERNAL_TRAINERS
                    inv = invoice_id(vendor, m) if m == 0 else f"JE-DD-{p.program_id}-{m}"
                    post(m, _row(f"{inv}-1", day_in(m), C.LND_COST_CENTER, "design_development", vendor, inv,
                                 round(rng.uniform(8000, 30000), 2), f"Design and development: {p.title}",
                                 p.program_id), m == 0)

        for (pi, c), n in sorted(self.cohort_size.items()):
            self._cohort_lines(C.PROGRAMS[pi], c, n, rng, post, day_in, invoice_id)
        for m in range(tl.n_months):          # claimed each March on the fees of the year before
            if tl.month_of_year[m] == 3:
                self._tax_credit(m, lines, rng, post, day_in)

        # Credit notes and reversals on a few invoices, the following month.
        for m, row in list(invoices):
            if row[4] in ("vendor_fee", "tuition") and rng.random() < CREDIT_NOTE_RATE and m + 1 < tl.n_months:
                share = 1.0 if rng.random() < 0.25 else rng.uniform(0.1, 0.6)
                cn = "CN" + row[6][3:]
                memo = ("Reversal of " if share == 1.0 else "Credit note for ") + row[6]
                post(m + 1, _row(f"{cn}-1", day_in(m + 1), row[2], row[4], row[5], cn,
                                 -round(float(row[7]) * share, 2), memo, row[10], row[11]))
        self._defects(lines, invoices, rng)
        self._write(lines)

    def _cohort_lines(self, p: C.Program, c: int, n: int, rng, post, day_in, invoice_id) -> None:
        tl = self.tl
        label = tl.label(c)
        if p.fee_per_participant > 0:
            instalments = [(c, 1.0)] if p.window_days < 300 else [(c, 0.5), (c + 6, 0.5)]
            for k, (m, share) in enumerate(instalments, start=1):
                inv = invoice_id(p.provider, m) if m < tl.n_months else ""
                if inv:
                    post(m, _row(f"{inv}-1", day_in(m, 5, 28), C.LND_COST_CENTER, p.cost_category, p.provider, inv,
                                 round(n * p.fee_per_participant * share, 2),
                                 f"{p.title} cohort {label}: {n} participants, instalment {k}",
                                 p.program_id, label), True)
        if p.provider == C.INTERNAL or p.method == "hybrid":
            sessions = math.ceil(n / 12)
            amount = sessions * rng.uniform(1400, 2200) * float(np.clip(p.planned_hours / 40, 0.5, 3.0))
            jid = f"JE-FAC-{label.replace('-', '')}-{self.w.counters.one('journal'):08d}"
            post(c, _row(f"{jid}-1", day_in(c), C.LND_COST_CENTER, "facilitator", INTERNAL_TRAINERS, jid,
                         round(amount, 2), f"Facilitation {p.title} cohort {label}", p.program_id, label))
        if p.method in ("cohort_based", "bootcamp", "hybrid"):
            trips = math.ceil(n * 0.25)
            m = c + int(rng.random() < 0.5)
            if m < tl.n_months:
                vendor = C.TRAVEL_VENDORS[int(rng.integers(len(C.TRAVEL_VENDORS)))]
                inv = invoice_id(vendor, m)
                post(m, _row(f"{inv}-1", day_in(m), C.LND_COST_CENTER, "travel", vendor, inv,
                             round(trips * rng.uniform(250, 650), 2), f"Travel to {p.title} sessions, cohort {label}",
                             p.program_id, label), True)
        if p.method == "registered_apprenticeship" and c + 2 < tl.n_months:
            ref = f"GR-{p.program_id}-{label.replace('-', '')}"
            post(c + 2, _row(f"{ref}-1", day_in(c + 2), C.LND_COST_CENTER, "grant", C.GRANT_BODY, ref,
                             -n * GRANT_PER_APPRENTICE, f"Apprenticeship grant, cohort {label}", p.program_id, label))

    def _tax_credit(self, m, lines, rng, post, day_in) -> None:
        spent = sum(float(r[7]) for mm in range(max(0, m - 12), m) for r in lines.get(mm, ())
                    if r[4] in ("vendor_fee", "tuition"))
        if spent > 0:
            ref = f"TC-{self.tl.label(m).replace('-', '')}"
            post(m, _row(f"{ref}-1", day_in(m), C.LND_COST_CENTER, "tax_credit", C.TAX_AUTHORITY, ref,
                         -round(spent * rng.uniform(0.04, 0.06), 2), "Training tax credit, previous 12 months"))

    def _defects(self, lines: dict[int, list], invoices: list, rng) -> None:
        """Invoices delivered twice, a USD line, an impossible posting date."""
        tl = self.tl
        eligible = [(m, r) for m, r in invoices if m + 1 < tl.n_months]
        if not eligible:
            return
        n_dup = max(2, round(0.002 * len(eligible)))
        picked = rng.permutation(len(eligible)).tolist()
        # Distinct lines for each defect, so a duplicate is always byte-identical.
        for j in picked[:n_dup]:
            m, row = eligible[j]
            lines[m + 1].append(list(row))
            self.ledger.add("duplicate_invoice_line", self._file(m + 1), 1, row[0])
        rest = [eligible[j] for j in picked[n_dup:]]
        licences = [(m, r) for m, r in rest if r[4] == "licence"][:2]
        for m, row in licences:
            row[8] = "USD"
            row[7] = f"{float(row[7]) * 1.08:.2f}"
            row[9] += " (billed in USD)"
            self.ledger.add("non_eur_currency", self._file(m), 1, row[0])
        others = [(m, r) for m, r in rest if r[4] != "licence"]
        if others:
            m, row = others[0]
            row[1] = bad_date(rng, int(row[1][:4]))
            self.ledger.add("bad_date", self._file(m), 1, row[0])
