"""Incremental writers for the landing zone, the canonical column orders, and the
ledger of planted defects.

Files are opened in append mode per write and closed again, so any number of
monthly files can grow chunk by chunk without holding handles or rows.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

# Column orders: exactly ingestion/canonical_schemas.yml (minus lineage columns).
COLUMNS: dict[str, tuple[str, ...]] = {
    "workers": ("worker_id", "first_name", "last_name", "email", "national_id", "hire_date",
                "original_hire_date", "rehire_flag", "termination_date", "termination_category",
                "termination_reason", "regrettable_flag", "location", "region", "birth_year_band", "fte_pct"),
    "job_history": ("worker_id", "effective_date", "event_sequence", "event_reason", "position_id",
                    "job_profile", "job_family", "management_level", "department", "cost_center",
                    "manager_id", "compensation_grade", "base_pay", "currency"),
    "worker_attributes": ("worker_id", "attribute", "value", "valid_from"),
    "productivity": ("worker_id", "period", "metric", "unit", "value"),
    "ratings": ("evaluation_id", "worker_id", "evaluation_date", "evaluation_type", "competency",
                "rating", "evaluator_id"),
    "programs": ("program_id", "title", "provider", "method", "program_type", "target_job_family",
                 "planned_hours", "window_days", "credential_offered", "move_on_rule",
                 "waived_counts_as_completed", "score_min", "score_max", "mastery_score",
                 "expected_life_years", "xapi_activity_id"),
    "enrollments": ("enrollment_id", "worker_id", "program_id", "attempt", "assignment_type", "enrolled_at",
                    "started_at", "status", "completion_date", "score", "hours_spent", "waiver_reason"),
    "credentials": ("credential_id", "worker_id", "program_id", "credential_name", "issuer", "issued_on",
                    "expires_on"),
    "cost_lines": ("line_id", "posting_date", "cost_center", "gl_account", "cost_category", "vendor",
                   "invoice_id", "amount", "currency", "memo", "program_id", "cohort", "worker_id"),
}

# Qualtrics export: column ids, question texts, ImportId JSON (three header rows).
SURVEY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("StartDate", "Start Date", "startDate"),
    ("EndDate", "End Date", "endDate"),
    ("Status", "Response Type", "status"),
    ("IPAddress", "IP Address", "ipAddress"),
    ("Progress", "Progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration"),
    ("Finished", "Finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate"),
    ("ResponseId", "Response ID", "_recordId"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName"),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName"),
    ("RecipientEmail", "Recipient Email", "recipientEmail"),
    ("ExternalReference", "External Data Reference", "externalDataReference"),
    ("LocationLatitude", "Location Latitude", "locationLatitude"),
    ("LocationLongitude", "Location Longitude", "locationLongitude"),
    ("DistributionChannel", "Distribution Channel", "distributionChannel"),
    ("UserLanguage", "User Language", "userLanguage"),
    ("Q1", "How likely are you to recommend this program to a colleague?", "QID1"),
    ("Q2", "How relevant was the program to your job?", "QID2"),
    ("Q3_1", "How confident were you in the skills the program covers? - Before the program", "QID3_1"),
    ("Q3_2", "How confident were you in the skills the program covers? - After the program", "QID3_2"),
    ("Q4", "What, if anything, would you change about the program?", "QID4_TEXT"),
    ("program_id", "program_id", "program_id"),
    ("enrollment_id", "enrollment_id", "enrollment_id"),
)


def survey_header_rows() -> list[list[str]]:
    return [[c[0] for c in SURVEY_COLUMNS], [c[1] for c in SURVEY_COLUMNS],
            ['{"ImportId":"%s"}' % c[2] for c in SURVEY_COLUMNS]]


class LandingWriter:
    """Appends rows to files under `root`, writing header rows when a file is new,
    and counts data records per file (header rows excluded)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows: dict[str, int] = {}

    def _open(self, rel: str, header_rows: Sequence[Sequence[str]] | None):
        path = self.root / rel
        new = rel not in self.rows
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.rows[rel] = 0
        fh = open(path, "a" if not new else "w", encoding="utf-8", newline="")
        if new and header_rows:
            w = csv.writer(fh, lineterminator="\n")
            w.writerows(header_rows)
        return fh

    def csv_rows(self, rel: str, header_rows: Sequence[Sequence[str]] | None, rows: Iterable[Sequence]) -> None:
        """Rows needing CSV quoting (free text, names)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        n = 0
        for r in rows:
            w.writerow(r)
            n += 1
        with self._open(rel, header_rows) as fh:
            fh.write(buf.getvalue())
        self.rows[rel] += n

    def lines(self, rel: str, header: Sequence[str] | None, lines: list[str]) -> None:
        """Pre-formatted lines whose fields can never contain a comma or quote."""
        with self._open(rel, [header] if header else None) as fh:
            if lines:
                fh.write("\n".join(lines))
                fh.write("\n")
        self.rows[rel] += len(lines)

    def touch(self, rel: str, header_rows: Sequence[Sequence[str]] | None) -> None:
        """Create the file with its header even if no row ever lands in it."""
        if rel not in self.rows:
            self._open(rel, header_rows).close()


DEFECT_KINDS = {
    "orphan_worker_id": "enrollment rows whose worker_id is in no HRIS extract (contractors, deleted accounts)",
    "score_above_max": "enrollment score greater than the program's score_max",
    "nps_out_of_range": "survey NPS answer 11 (outside 0-10)",
    "duplicate_row": "exact duplicate productivity row (same key and value) in one monthly file",
    "bad_date": "impossible calendar date such as 2025-13-40 in a date column",
    "duplicate_invoice_line": "the same cost line (same line_id) delivered again in the next monthly extract",
    "non_eur_currency": "cost line in USD in an EUR ledger",
    "invalid_xapi_statement": "xAPI statement breaking the 1.0.3 spec (extra statement; the valid ones are intact)",
}


class DefectLedger:
    """What was planted where, for truth.json and the tests."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.detail: dict[str, list] = defaultdict(list)

    def add(self, kind: str, rel: str, n: int = 1, detail: object | None = None) -> None:
        if kind not in DEFECT_KINDS:
            raise KeyError(kind)
        if n:
            self.counts[kind][rel] += n
        if detail is not None:
            self.detail[kind].append(detail)

    def as_dict(self) -> dict:
        out = {}
        for kind, description in DEFECT_KINDS.items():
            files = dict(sorted(self.counts.get(kind, {}).items()))
            out[kind] = {"description": description, "total": sum(files.values()), "files": files}
            if self.detail.get(kind):
                out[kind]["line_ids"] = sorted(self.detail[kind])
        return out
