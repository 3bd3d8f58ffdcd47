"""Five vendor formats the project has never shipped a mapping for, written from a canonical company,
and the mapping YAML that reads each of them with transforms only (no pre-processing).

Used by tests/unit/test_transforms.py (bronze round trip) and
tests/integration/test_transforms_run.py (the real pipeline: every kpi_* mart equals the canonical run).
The mapping files go to ``<data root>/mappings/`` and ``landing/mappings.yml`` names them by path;
nothing is written to ingestion/mappings/.

| format | family | what its mapping has to derive |
|---|---|---|
| peoplehub | hris | FTE as a fraction (convert x100); no event sequence (sequence within employee and day); no currency (constant); voluntary/involuntary and the reason only in the job action's "Action Reason" (lookup in the job history, split, value map) |
| learnpath | lms | programme length in weeks (convert x7, rounded); one field "worker|course" (split twice); no enrollment id (hashed key of that field and the attempt) |
| opsboard | performance | one file per metric without metric or unit columns (a spec per metric with constants); month as YYYY-MM |
| ledger | finance | GL lines without a line id (concatenated key of journal and line), the category only as the account number (regex + value map), the program code only in the memo (regex), DE number format; payroll stipends with constants (category, account, currency), a hashed line key and "program/cohort" in one field (split) |
| pulse | surveys | Qualtrics export without enrollment ids: the enrollment looked up by learner, course and the latest exit on or before the answer |
"""
from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

FORMATS = ("peoplehub", "learnpath", "opsboard", "ledger", "pulse")
LANDING_FAMILIES = {
    "hris": ["../mappings/peoplehub.yml"],
    "lms": ["../mappings/learnpath.yml", "canonical"],          # credentials and xAPI stay canonical
    "performance": ["../mappings/opsboard.yml", "canonical"],   # ratings stay canonical
    "finance": ["../mappings/ledger.yml"],
    "surveys": ["../mappings/pulse.yml"],
}

# Columns whose values the new formats carry differently by design (a generated key, a richer memo):
# compared by the relation they keep, not value by value.
DIFFERENT_BY_DESIGN = {
    "job_history": {"event_sequence"},        # numbered within employee and day, not over the whole history
    "enrollments": {"enrollment_id"},         # a hash of "worker|course" and the attempt
    "survey_responses": {"enrollment_id"},    # the hashed enrollment id it was linked to
    "cost_lines": {"line_id", "memo"},        # stipend lines: hashed key; GL memos carry the program code
}

PEOPLEHUB = """\
description: PeopleHub-like HR export (Employees, Job Actions), US dates; the termination type is only in the job actions.
defaults:
  format: csv
  timezone: America/Chicago
entities:
  workers:
    pattern: hris/peoplehub/Employees_*.csv
    columns:
      Employee: worker_id
      First Name: first_name
      Last Name: last_name
      Work Email: email
      SSN: national_id
      Hire Date: hire_date
      Original Hire: original_hire_date
      Rehired: rehire_flag
      Term Date: termination_date
      Regrettable: regrettable_flag
      Site: location
      Region: region
      Birth Years: birth_year_band
    derive:
      fte_pct: {convert: {column: FTE, multiply: 100, round: 4}}
      termination_category:
        lookup:
          entity: job_history
          match: {worker_id: worker_id}
          where: {event_reason: termination}
          nearest: {column: effective_date, to: termination_date}
          take: {split: {column: Action Reason, separator: ">", index: 0}}
      termination_reason:
        lookup:
          entity: job_history
          match: {worker_id: worker_id}
          where: {event_reason: termination}
          nearest: {column: effective_date, to: termination_date}
          take: {split: {column: Action Reason, separator: ">", index: 1}}
    value_maps:
      termination_category: {case_insensitive: true, values: {Voluntary: voluntary, Involuntary: involuntary}}
      rehire_flag: {values: {"Y": true, "N": false}}
      regrettable_flag: {values: {"Y": true, "N": false}}
    date_formats:
      hire_date: "%m/%d/%Y"
      original_hire_date: "%m/%d/%Y"
      termination_date: "%m/%d/%Y"
    identifiers: [First Name, Last Name, Work Email, SSN]
  job_history:
    pattern: hris/peoplehub/Job_Actions_*.csv
    columns:
      Employee: worker_id
      Effective: effective_date
      Action: event_reason
      Position: position_id
      Job Title: job_profile
      Job Family: job_family
      Level: management_level
      Department: department
      Cost Center: cost_center
      Manager: manager_id
      Grade: compensation_grade
      Annual Salary: base_pay
    derive:
      event_sequence: {sequence: {within: [Employee, Effective]}}
      currency: {constant: EUR}
    value_maps:
      event_reason:
        case_insensitive: true
        values: {Hire: hire, Rehire: rehire, Promotion: promotion, Transfer: transfer, Lateral Move: lateral,
                 Demotion: demotion, Data Change: data_change, Termination: termination}
    date_formats:
      effective_date: "%m/%d/%Y"
"""

LEARNPATH = """\
description: LearnPath-like LMS (catalogue with lengths in weeks; transcript keyed "learner|course", no enrollment id).
defaults:
  format: csv
  timezone: Europe/Berlin
entities:
  programs:
    pattern: lms/learnpath/catalogue_*.csv
    columns:
      Code: program_id
      Name: title
      Provider: provider
      Format: method
      Track: program_type
      Audience: target_job_family
      Hours: planned_hours
      Credential: credential_offered
      Completion Rule: move_on_rule
      Waiver Counts: waived_counts_as_completed
      Score Min: score_min
      Score Max: score_max
      Pass Mark: mastery_score
      Life (years): expected_life_years
      Activity IRI: xapi_activity_id
    derive:
      window_days: {convert: {column: Length (weeks), multiply: 7, round: 0}}
    value_maps:
      method:
        values: {Self-paced online: online_self_paced, Bootcamp: bootcamp, Cohort: cohort_based,
                 Apprenticeship: registered_apprenticeship, Rotation & mentoring: rotation_mentorship,
                 Blended: hybrid}
      program_type: {values: {Upskilling: upskilling, Reskilling: reskilling}}
      waived_counts_as_completed: {values: {"Yes": true, "No": false}}
  enrollments:
    pattern: lms/learnpath/transcript_*.csv
    columns:
      Attempt: attempt
      Assignment: assignment_type
      Enrolled: enrolled_at
      Started: started_at
      Status: status
      Finished On: completion_date
      Score: score
      Hours Spent: hours_spent
      Exemption Reason: waiver_reason
    derive:
      worker_id: {split: {column: Learner / Course, separator: "|", index: 0}}
      program_id: {split: {column: Learner / Course, separator: "|", index: 1}}
      enrollment_id: {key: {columns: [Learner / Course, Attempt], method: hash}}
    value_maps:
      status:
        values: {Registered: not_started, Active: in_progress, Finished: completed, Passed: passed,
                 Not passed: failed, Exempt: waived, Dropped: withdrawn}
      assignment_type: {case_insensitive: true, values: {Mandatory: mandatory, Optional: optional,
                                                         Recommended: recommended}}
    date_formats:
      enrolled_at: "%d/%m/%Y"
      started_at: "%d/%m/%Y"
      completion_date: "%d/%m/%Y"
"""

LEDGER = """\
description: GL and payroll exports; no line ids, the category as the account number, program codes in memos.
entities:
  cost_lines:
    - pattern: finance/ledger/GL_*.csv
      format: csv
      delimiter: ";"
      decimal_separator: ","
      thousands_separator: "."
      columns:
        Journal: invoice_id
        Posted: posting_date
        Cost Centre: cost_center
        Account: gl_account
        Supplier: vendor
        Amount: amount
        Currency: currency
        Description: memo
      derive:
        line_id: {key: {columns: [Journal, Line], method: concat, separator: "-"}}
        cost_category: {regex: {column: Account, pattern: '^(\\d{4})\\b'}}
        program_id: {regex: {column: Description, pattern: '\\[(PRG-\\d{3})\\]'}}
        cohort: {regex: {column: Description, pattern: 'cohort (?P<month>\\d{4}-\\d{2})', group: month}}
      value_maps:
        cost_category:
          values: {"6410": vendor_fee, "6411": tuition, "6420": design_development, "6421": facilitator,
                   "6430": licence, "6440": travel, "6450": stipend, "6460": evaluation, "7910": grant,
                   "7920": tax_credit}
      date_formats:
        posting_date: "%d.%m.%Y"
    - pattern: finance/payroll/Stipends_*.csv
      format: csv
      columns:
        Document: invoice_id
        Pay Date: posting_date
        Employee: worker_id
        Cost Centre: cost_center
        Amount: amount
        Text: memo
      derive:
        line_id: {key: {columns: [Document, Line], method: hash}}
        cost_category: {constant: stipend}
        gl_account: {constant: 6450 Learner stipends}
        currency: {constant: EUR}
        program_id: {split: {column: Reference, separator: "/", index: 0}}
        cohort: {split: {column: Reference, separator: "/", index: 1}}
"""

PULSE = """\
description: Qualtrics export of the LMS-triggered survey; no enrollment id (the link carries learner and course).
entities:
  survey_responses:
    pattern: surveys/pulse/*.csv
    format: qualtrics
    timezone: UTC
    columns:
      ResponseId: response_id
      ExternalReference: worker_id
      StartDate: started_at
      EndDate: ended_at
      Finished: finished
      Progress: progress
      "Duration (in seconds)": duration_seconds
      DistributionChannel: distribution_channel
      RecipientFirstName: recipient_first_name
      RecipientLastName: recipient_last_name
      RecipientEmail: recipient_email
      IPAddress: ip_address
      Q1: nps
      Q2: relevance
      Q3_1: confidence_before
      Q3_2: confidence_after
      Q4: feedback_text
      CourseCode: program_id
    derive:
      enrollment_id:
        lookup:
          entity: enrollments
          match: {worker_id: LearnerID, program_id: program_id}
          nearest: {column: completion_date, to: started_at, direction: before}
          take: enrollment_id
    value_maps:
      finished: {case_insensitive: true, values: {"True": true, "False": false}}
    identifiers: [RecipientFirstName, RecipientLastName, RecipientEmail, IPAddress]
"""

_WORDS = {
    "event_reason": {"hire": "Hire", "rehire": "Rehire", "promotion": "Promotion", "transfer": "Transfer",
                     "lateral": "Lateral Move", "demotion": "Demotion", "data_change": "Data Change",
                     "termination": "Termination"},
    "method": {"online_self_paced": "Self-paced online", "bootcamp": "Bootcamp", "cohort_based": "Cohort",
               "registered_apprenticeship": "Apprenticeship", "rotation_mentorship": "Rotation & mentoring",
               "hybrid": "Blended"},
    "program_type": {"upskilling": "Upskilling", "reskilling": "Reskilling"},
    "status": {"not_started": "Registered", "in_progress": "Active", "completed": "Finished", "passed": "Passed",
               "failed": "Not passed", "waived": "Exempt", "withdrawn": "Dropped"},
    "assignment_type": {"mandatory": "Mandatory", "optional": "Optional", "recommended": "Recommended"},
}
ACCOUNT_CATEGORY = {"6410": "vendor_fee", "6411": "tuition", "6420": "design_development", "6421": "facilitator",
                    "6430": "licence", "6440": "travel", "6450": "stipend", "6460": "evaluation", "7910": "grant",
                    "7920": "tax_credit"}
STIPEND_ACCOUNT = "6450 Learner stipends"


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _date(value: str, fmt: str) -> str:
    """An ISO date in the vendor's format; a planted impossible date stays as it is (quarantined on ingest)."""
    try:
        return date.fromisoformat(value).strftime(fmt) if value else ""
    except ValueError:
        return value


def _yn(value: str) -> str:
    return {"true": "Y", "false": "N"}.get(value, value)


def _word(column: str, value: str) -> str:
    return _WORDS[column].get(value, value)


def _de_number(value: str) -> str:
    """'-1234.50' -> '-1.234,50' (a value that is no plain number stays as it is)."""
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?", value)
    if not m:
        return value
    sign, whole, frac = m.groups()
    whole = f"{int(whole):,}".replace(",", ".")
    return sign + whole + ("," + frac if frac is not None else "")


def _one(landing: Path, pattern: str) -> Path:
    found = sorted(landing.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


# --------------------------------------------------------------------------- the writers

def _peoplehub(landing: Path) -> None:
    workers_path = _one(landing, "hris/workers_*.csv")
    history_path = _one(landing, "hris/job_history_*.csv")
    day = workers_path.stem.split("_")[-1]
    _, workers = _rows(workers_path)
    ended = {w["worker_id"]: w for w in workers if w["termination_date"]}
    _write(landing / f"hris/peoplehub/Employees_{day}.csv",
           ["Employee", "First Name", "Last Name", "Work Email", "SSN", "Hire Date", "Original Hire", "Rehired",
            "Term Date", "Regrettable", "Site", "Region", "Birth Years", "FTE", "Status"],
           [[w["worker_id"], w["first_name"], w["last_name"], w["email"], w["national_id"],
             _date(w["hire_date"], "%m/%d/%Y"), _date(w["original_hire_date"], "%m/%d/%Y"), _yn(w["rehire_flag"]),
             _date(w["termination_date"], "%m/%d/%Y"), _yn(w["regrettable_flag"]), w["location"], w["region"],
             w["birth_year_band"], str(float(w["fte_pct"]) / 100) if w["fte_pct"] else "",
             "Terminated" if w["termination_date"] else "Active"] for w in workers])
    _, history = _rows(history_path)
    out = []
    for h in history:
        assert h["currency"] == "EUR", h
        reason = ""
        w = ended.get(h["worker_id"])
        if h["event_reason"] == "termination" and w is not None and w["termination_date"] == h["effective_date"]:
            reason = " > ".join(x for x in (w["termination_category"].capitalize(), w["termination_reason"]) if x)
        out.append([h["worker_id"], _date(h["effective_date"], "%m/%d/%Y"), _word("event_reason", h["event_reason"]),
                    reason, h["position_id"], h["job_profile"], h["job_family"], h["management_level"],
                    h["department"], h["cost_center"], h["manager_id"], h["compensation_grade"], h["base_pay"]])
    _write(landing / f"hris/peoplehub/Job_Actions_{day}.csv",
           ["Employee", "Effective", "Action", "Action Reason", "Position", "Job Title", "Job Family", "Level",
            "Department", "Cost Center", "Manager", "Grade", "Annual Salary"], out)
    workers_path.unlink()
    history_path.unlink()


def _learnpath(landing: Path) -> dict[str, str]:
    """Returns enrollment id -> worker id (the survey export carries the learner, not the enrollment)."""
    programs_path = _one(landing, "lms/programs_*.csv")
    day = programs_path.stem.split("_")[-1]
    _, programs = _rows(programs_path)
    _write(landing / f"lms/learnpath/catalogue_{day}.csv",
           ["Code", "Name", "Provider", "Format", "Track", "Audience", "Hours", "Length (weeks)", "Credential",
            "Completion Rule", "Waiver Counts", "Score Min", "Score Max", "Pass Mark", "Life (years)",
            "Activity IRI"],
           [[p["program_id"], p["title"], p["provider"], _word("method", p["method"]),
             _word("program_type", p["program_type"]), p["target_job_family"], p["planned_hours"],
             f"{int(p['window_days']) / 7:.2f}" if p["window_days"] else "", p["credential_offered"],
             p["move_on_rule"], {"true": "Yes", "false": "No"}.get(p["waived_counts_as_completed"], ""),
             p["score_min"], p["score_max"], p["mastery_score"], p["expected_life_years"], p["xapi_activity_id"]]
            for p in programs])
    enrollments_path = _one(landing, "lms/enrollments_*.csv")
    _, enrollments = _rows(enrollments_path)
    _write(landing / f"lms/learnpath/transcript_{enrollments_path.stem.split('_')[-1]}.csv",
           ["Learner / Course", "Attempt", "Assignment", "Enrolled", "Started", "Status", "Finished On", "Score",
            "Hours Spent", "Exemption Reason"],
           [[f"{e['worker_id']}|{e['program_id']}", e["attempt"], _word("assignment_type", e["assignment_type"]),
             _date(e["enrolled_at"], "%d/%m/%Y"), _date(e["started_at"], "%d/%m/%Y"), _word("status", e["status"]),
             _date(e["completion_date"], "%d/%m/%Y"), e["score"], e["hours_spent"], e["waiver_reason"]]
            for e in enrollments])
    programs_path.unlink()
    enrollments_path.unlink()
    return {e["enrollment_id"]: e["worker_id"] for e in enrollments}


def _opsboard(landing: Path) -> dict[str, str]:
    """One file per metric and month; returns metric -> unit (one spec with two constants each)."""
    units: dict[str, str] = {}
    for path in sorted(landing.glob("performance/productivity_*.csv")):
        month = path.stem.split("_")[-1]
        _, rows = _rows(path)
        by_metric: dict[str, list] = defaultdict(list)
        for r in rows:
            assert units.setdefault(r["metric"], r["unit"]) == r["unit"], r
            assert r["period"].endswith("-01") and r["period"][:7] == month, r
            by_metric[r["metric"]].append([r["worker_id"], r["period"][:7], r["value"]])
        for metric, out in by_metric.items():
            _write(landing / f"performance/ops/{metric}_{month}.csv", ["Employee", "Month", "Output"], out)
        path.unlink()
    return units


def _ledger(landing: Path) -> None:
    for path in sorted(landing.glob("finance/cost_lines_*.csv")):
        month = path.stem.split("_")[-1]
        _, rows = _rows(path)
        gl, stipends = [], []
        for r in rows:
            assert r["line_id"].startswith(r["invoice_id"] + "-"), r
            line = r["line_id"][len(r["invoice_id"]) + 1:]
            if r["cost_category"] == "stipend":
                assert r["gl_account"] == STIPEND_ACCOUNT and r["currency"] == "EUR" and not r["vendor"], r
                stipends.append([r["invoice_id"], line, r["posting_date"], r["worker_id"], r["cost_center"],
                                 f"{r['program_id']}/{r['cohort']}", r["amount"], r["memo"]])
                continue
            assert ACCOUNT_CATEGORY[r["gl_account"][:4]] == r["cost_category"] and not r["worker_id"], r
            memo = r["memo"]
            if r["program_id"]:
                memo += f" [{r['program_id']}]"
            if r["cohort"] and f"cohort {r['cohort']}" not in memo:
                memo += f" cohort {r['cohort']}"
            found = re.search(r"cohort (\d{4}-\d{2})", memo)
            assert (found.group(1) if found else "") == r["cohort"], r
            gl.append([r["invoice_id"], line, _date(r["posting_date"], "%d.%m.%Y"), r["cost_center"],
                       r["gl_account"], r["vendor"], memo, _de_number(r["amount"]), r["currency"]])
        _write(landing / f"finance/ledger/GL_{month}.csv",
               ["Journal", "Line", "Posted", "Cost Centre", "Account", "Supplier", "Description", "Amount",
                "Currency"], gl, delimiter=";")
        if stipends:
            _write(landing / f"finance/payroll/Stipends_{month}.csv",
                   ["Document", "Line", "Pay Date", "Employee", "Cost Centre", "Reference", "Amount", "Text"],
                   stipends)
        path.unlink()


def _pulse(landing: Path, learner_of: dict[str, str]) -> None:
    for path in sorted(landing.glob("surveys/post_training_survey_*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        ids, texts, imports, data = rows[0], rows[1], rows[2], rows[3:]
        enrollment, program = ids.index("enrollment_id"), ids.index("program_id")
        keep = [i for i in range(len(ids)) if i != enrollment]

        def header(row: list[str], course: str, learner: str) -> list[str]:
            out = [course if i == program else row[i] for i in keep]
            return out + [learner]
        out = [header(ids, "CourseCode", "LearnerID"), header(texts, "Course code", "LearnerID"),
               header(imports, json.dumps({"ImportId": "CourseCode"}, separators=(",", ":")),
                      json.dumps({"ImportId": "LearnerID"}, separators=(",", ":")))]
        for r in data:
            r = r + [""] * (len(ids) - len(r))
            out.append([r[i] for i in keep] + [learner_of.get(r[enrollment], "") if r[enrollment] else ""])
        target = landing / "surveys/pulse" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(out)
        path.unlink()


def _opsboard_mapping(units: dict[str, str]) -> str:
    specs = []
    for metric, unit in sorted(units.items()):
        specs.append(f"""\
    - pattern: performance/ops/{metric}_*.csv
      columns: {{Employee: worker_id, Month: period, Output: value}}
      derive:
        metric: {{constant: {metric}}}
        unit: {{constant: {unit}}}
      date_formats: {{period: "%Y-%m"}}""")
    return ("description: Operations dashboard export, one file per metric and month (no metric or unit column).\n"
            "defaults:\n  format: csv\nentities:\n  productivity:\n" + "\n".join(specs) + "\n")


def export_new_formats(root: Path) -> dict[str, Path]:
    """Rewrite the canonical landing files of `root` in the five new formats; write their mappings to
    `<root>/mappings/` and `landing/mappings.yml`. Returns mapping name -> mapping file."""
    from training_impact.ingestion.mapping import write_landing_mappings

    landing = root / "landing"
    _peoplehub(landing)
    learner_of = _learnpath(landing)
    units = _opsboard(landing)
    _ledger(landing)
    _pulse(landing, learner_of)
    folder = root / "mappings"
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"peoplehub": PEOPLEHUB, "learnpath": LEARNPATH, "opsboard": _opsboard_mapping(units),
             "ledger": LEDGER, "pulse": PULSE}
    out = {}
    for name, text in texts.items():
        out[name] = folder / f"{name}.yml"
        out[name].write_text(text, encoding="utf-8")
    write_landing_mappings(root, LANDING_FAMILIES, comment="five vendor formats read with mapping transforms")
    return out
