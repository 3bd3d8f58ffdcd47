"""The fictional company's fixed structure: departments, job families, metrics,
locations, the program catalogue and the text banks.

Everything here is static data. Randomness lives in the simulation modules, so a
change to this file changes the company but never the random streams' layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPANY_DOMAIN = "alderfinch.example"          # reserved TLD: e-mails can never be real
LMS_HOME = "https://lms.example.com"
LMS_COURSE_BASE = f"{LMS_HOME}/courses"


# --------------------------------------------------------------------------- org


@dataclass(frozen=True)
class Department:
    name: str
    cost_center: str
    families: tuple[str, ...]   # job families the department employs
    family_share: tuple[float, ...]
    weight: float               # share of hires


@dataclass(frozen=True)
class Family:
    key: str
    metric: str
    unit: str
    scale: float                # typical monthly value; the only family dependence of productivity
    pay_mult: float
    season_bump: tuple[float, ...]   # 12 family-specific multipliers on top of the holiday pattern
    ic_titles: tuple[str, ...]       # levels 1-4: prefixed by seniority
    manager_titles: tuple[str, ...]  # level 5
    director_titles: tuple[str, ...]  # level 6


DEPARTMENTS: tuple[Department, ...] = (
    Department("Customer Support", "CC-1100", ("support",), (1.0,), 0.19),
    Department("Sales", "CC-1200", ("sales",), (1.0,), 0.14),
    Department("Engineering", "CC-1300", ("software_engineering", "data_analytics"), (0.75, 0.25), 0.17),
    Department("Operations", "CC-1400", ("operations", "support"), (0.8, 0.2), 0.13),
    Department("Finance", "CC-1500", ("finance", "data_analytics"), (0.8, 0.2), 0.08),
    Department("Human Resources", "CC-1600", ("hr",), (1.0,), 0.05),
    Department("Marketing", "CC-1700", ("marketing", "data_analytics"), (0.8, 0.2), 0.09),
    Department("Supply Chain", "CC-1800", ("operations",), (1.0,), 0.15),
)
LND_COST_CENTER = "CC-1610"     # Learning & Development, under HR: owns shared training costs

_FLAT = (1.0,) * 12

FAMILIES: tuple[Family, ...] = (
    Family("support", "tickets_closed", "tickets", 120.0, 0.85,
           (1.12, 1.02, 1.0, 0.98, 0.97, 0.96, 0.97, 0.98, 1.0, 1.0, 1.04, 1.08),
           ("Customer Support Specialist", "Technical Support Engineer", "Customer Care Advisor"),
           ("Support Team Manager", "Service Quality Manager"),
           ("Director of Customer Support", "Director of Support Operations")),
    Family("sales", "sales_eur", "EUR", 40000.0, 1.05,
           (0.85, 0.95, 1.08, 0.95, 0.97, 1.08, 0.93, 0.9, 1.06, 1.0, 1.05, 1.22),
           ("Account Executive", "Sales Development Representative", "Inside Sales Representative"),
           ("Sales Manager", "Key Account Manager"),
           ("Director of Sales", "Director of Enterprise Sales")),
    Family("software_engineering", "story_points", "points", 30.0, 1.25, _FLAT,
           ("Software Engineer", "Backend Engineer", "Frontend Engineer", "DevOps Engineer"),
           ("Engineering Manager", "Platform Engineering Manager"),
           ("Director of Engineering", "Director of Platform")),
    Family("data_analytics", "analyses_delivered", "deliverables", 9.0, 1.2,
           (1.05, 1.0, 1.04, 1.0, 0.98, 1.02, 0.98, 0.96, 1.0, 1.0, 0.99, 0.98),
           ("Data Analyst", "BI Developer", "Data Scientist"),
           ("Analytics Manager", "Data Science Manager"),
           ("Director of Data and Analytics", "Director of Business Intelligence")),
    Family("operations", "units_processed", "units", 2400.0, 0.9,
           (0.95, 0.97, 1.0, 1.0, 1.01, 1.0, 0.99, 1.0, 1.01, 1.03, 1.08, 0.96),
           ("Operations Specialist", "Logistics Coordinator", "Process Technician"),
           ("Operations Manager", "Warehouse Manager"),
           ("Director of Operations", "Director of Supply Chain")),
    Family("finance", "documents_processed", "documents", 650.0, 1.1,
           (1.1, 1.0, 1.04, 1.02, 0.98, 1.03, 0.97, 0.95, 1.0, 0.99, 0.97, 0.95),
           ("Financial Analyst", "Accountant", "Accounts Payable Specialist"),
           ("Finance Manager", "Controller"),
           ("Director of Finance", "Director of FP and A")),
    Family("hr", "cases_resolved", "cases", 85.0, 1.0, _FLAT,
           ("HR Generalist", "Recruiter", "HR Business Partner"),
           ("HR Manager", "Talent Acquisition Manager"),
           ("Director of People", "Director of Talent")),
    Family("marketing", "qualified_leads", "leads", 310.0, 1.0,
           (0.94, 1.0, 1.04, 1.02, 1.0, 0.98, 0.95, 0.94, 1.05, 1.06, 1.04, 0.98),
           ("Marketing Specialist", "Content Marketer", "Performance Marketing Specialist"),
           ("Marketing Manager", "Brand Manager"),
           ("Director of Marketing", "Director of Growth")),
)
FAMILY_INDEX = {f.key: i for i, f in enumerate(FAMILIES)}
N_FAMILIES = len(FAMILIES)
N_LEVELS = 6
LEVEL_PREFIX = ("Junior ", "", "Senior ", "Lead ")
BASE_PAY_BY_LEVEL = (36000.0, 45000.0, 58000.0, 74000.0, 96000.0, 128000.0)

# Common holiday pattern (August and December are quiet everywhere in Europe).
_HOLIDAY = (0.97, 1.0, 1.03, 1.0, 1.0, 1.02, 0.96, 0.88, 1.03, 1.04, 1.04, 0.92)


def seasonal_matrix() -> np.ndarray:
    """[family, month-of-year - 1] multipliers, each family's row averaging 1."""
    m = np.array([[h * b for h, b in zip(_HOLIDAY, f.season_bump)] for f in FAMILIES])
    return m / m.mean(axis=1, keepdims=True)


def department_owners() -> list[list[int]]:
    """family index -> departments that employ it (transfers keep the family)."""
    owners: list[list[int]] = [[] for _ in FAMILIES]
    for d, dep in enumerate(DEPARTMENTS):
        for fam in dep.families:
            owners[FAMILY_INDEX[fam]].append(d)
    return owners


def job_profile(family: int, level: int, profile: int) -> str:
    fam = FAMILIES[family]
    if level <= 4:
        return LEVEL_PREFIX[level - 1] + fam.ic_titles[profile % len(fam.ic_titles)]
    titles = fam.manager_titles if level == 5 else fam.director_titles
    return titles[profile % len(titles)]


def n_profiles(family: int, level: int) -> int:
    fam = FAMILIES[family]
    return len(fam.ic_titles if level <= 4 else fam.manager_titles if level == 5 else fam.director_titles)


def compensation_grade(level: int) -> str:
    return f"P{level}" if level <= 4 else f"M{level - 4}"


# --------------------------------------------------------------------------- locations


@dataclass(frozen=True)
class Location:
    city: str
    region: str
    locale: str
    lat: float
    lon: float
    pay_mult: float
    weight: float
    national_id: str    # Faker provider method for the country's id, or a local format name


LOCATIONS: tuple[Location, ...] = (
    Location("Berlin", "DACH", "de_DE", 52.52, 13.40, 1.0, 0.12, "rvnr"),
    Location("Munich", "DACH", "de_DE", 48.14, 11.58, 1.08, 0.08, "rvnr"),
    Location("Vienna", "DACH", "de_AT", 48.21, 16.37, 0.98, 0.05, "ssn"),
    Location("Zurich", "DACH", "de_CH", 47.38, 8.54, 1.45, 0.03, "ssn"),
    Location("Amsterdam", "Benelux", "nl_NL", 52.37, 4.90, 1.03, 0.08, "ssn"),
    Location("Rotterdam", "Benelux", "nl_NL", 51.92, 4.48, 0.97, 0.04, "ssn"),
    Location("Brussels", "Benelux", "nl_BE", 50.85, 4.35, 1.0, 0.04, "ssn"),
    Location("Stockholm", "Nordics", "sv_SE", 59.33, 18.07, 1.05, 0.05, "ssn"),
    Location("Gothenburg", "Nordics", "sv_SE", 57.71, 11.97, 0.98, 0.03, "ssn"),
    Location("Madrid", "Southern Europe", "es_ES", 40.42, -3.70, 0.78, 0.07, "nif"),
    Location("Barcelona", "Southern Europe", "es_ES", 41.39, 2.17, 0.8, 0.05, "nif"),
    Location("Milan", "Southern Europe", "it_IT", 45.46, 9.19, 0.85, 0.05, "ssn"),
    Location("Lisbon", "Southern Europe", "pt_PT", 38.72, -9.14, 0.68, 0.05, "pt_nif"),
    Location("Paris", "France", "fr_FR", 48.86, 2.35, 1.05, 0.07, "ssn"),
    Location("Lyon", "France", "fr_FR", 45.76, 4.84, 0.95, 0.03, "ssn"),
    Location("Warsaw", "CEE", "pl_PL", 52.23, 21.01, 0.55, 0.05, "ssn"),
    Location("Krakow", "CEE", "pl_PL", 50.06, 19.94, 0.52, 0.03, "ssn"),
    Location("London", "UK and Ireland", "en_GB", 51.51, -0.13, 1.2, 0.05, "ssn"),
    Location("Dublin", "UK and Ireland", "en_IE", 53.35, -6.26, 1.1, 0.03, "ie_ppsn"),
)

FTE_VALUES = (100.0, 80.0, 60.0, 50.0)
FTE_SHARE = (0.86, 0.08, 0.04, 0.02)

VOLUNTARY_REASONS = ("Better career opportunity", "Compensation", "Relocation", "Personal reasons",
                     "Return to education", "Work-life balance", "Career change")
VOLUNTARY_REASON_SHARE = (0.32, 0.18, 0.1, 0.14, 0.06, 0.12, 0.08)
RETIREMENT_REASON = "Retirement"
INVOLUNTARY_REASONS = ("Performance", "Restructuring", "Misconduct", "End of fixed-term contract",
                       "Position eliminated")
INVOLUNTARY_REASON_SHARE = (0.4, 0.22, 0.06, 0.2, 0.12)


# --------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class Program:
    program_id: str
    title: str
    provider: str
    method: str
    program_type: str
    target_job_family: str
    planned_hours: float
    window_days: int
    credential_offered: str          # "" when the program awards none
    credential_validity_years: int   # 0 = the credential never expires
    move_on_rule: str
    waived_counts_as_completed: bool
    score_min: float | None          # None: no assessment score at all
    score_max: float | None
    mastery_score: float | None
    expected_life_years: int
    completion_logit: float          # baseline log-odds of completing (ability adds on top)
    fee_per_participant: float       # vendor fee / tuition per registration, EUR (0 = internal)
    cost_category: str               # how the provider invoices: vendor_fee or tuition
    stipend_per_month: float         # paid to the participant while enrolled (0 = none)
    competency: str
    competency_days: int             # typical days from start to "meets standard"
    n_modules: int
    waivable: bool

    @property
    def xapi_activity_id(self) -> str:
        return f"{LMS_COURSE_BASE}/{self.program_id}"

    @property
    def has_score(self) -> bool:
        return self.score_max is not None

    @property
    def completer_status(self) -> str:
        """The transcript status of a successful exit under this program's moveOn rule."""
        return "passed" if self.move_on_rule in ("passed", "completed_and_passed") else "completed"

    @property
    def can_fail(self) -> bool:
        return self.move_on_rule in ("passed", "completed_and_passed", "completed_or_passed")


INTERNAL = "internal"
COURSERA = "Coursera"
LINKEDIN = "LinkedIn Learning"
COLLEGE = "Riverside Community College"
BOOTCAMP = "Northbridge Coding Bootcamp"

PROGRAMS: tuple[Program, ...] = (
    # upskilling: the target family is the learner's own
    Program("PRG-001", "Advanced Customer Support Techniques", INTERNAL, "online_self_paced", "upskilling",
            "support", 12, 60, "", 0, "completed", True, 0, 100, 60, 3, 0.4, 0, "vendor_fee", 0,
            "De-escalation and first-contact resolution", 45, 4, True),
    Program("PRG-002", "Consultative Selling", LINKEDIN, "online_self_paced", "upskilling",
            "sales", 10, 60, "Consultative Selling Certificate", 0, "completed", True, 0, 100, 60, 3,
            0.3, 180, "vendor_fee", 0, "Needs-based discovery", 50, 5, True),
    Program("PRG-003", "Sales Leadership Cohort", INTERNAL, "cohort_based", "upskilling",
            "sales", 40, 120, "", 0, "completed", False, None, None, None, 4, 1.3, 0, "vendor_fee", 0,
            "Pipeline coaching", 90, 6, False),
    Program("PRG-004", "Cloud-Native Engineering", COURSERA, "hybrid", "upskilling",
            "software_engineering", 60, 150, "Cloud-Native Engineering Professional Certificate", 3,
            "completed_or_passed", False, 0, 1000, 700, 4, 0.9, 420, "vendor_fee", 0,
            "Containerised service delivery", 100, 6, True),
    Program("PRG-005", "Secure Coding Practices", INTERNAL, "online_self_paced", "upskilling",
            "software_engineering", 16, 60, "", 0, "completed", True, 0, 100, 70, 2, 0.6, 0, "vendor_fee", 0,
            "Secure code review", 40, 4, True),
    Program("PRG-006", "Applied Machine Learning", COURSERA, "online_self_paced", "upskilling",
            "data_analytics", 45, 120, "Applied Machine Learning Certificate", 0, "passed", False,
            0, 100, 70, 3, 0.2, 350, "vendor_fee", 0, "Model building and evaluation", 95, 5, True),
    Program("PRG-007", "Lean Operations Rotation", INTERNAL, "rotation_mentorship", "upskilling",
            "operations", 80, 180, "", 0, "not_applicable", False, None, None, None, 5, 1.5, 0,
            "vendor_fee", 0, "Continuous improvement", 110, 3, False),
    Program("PRG-008", "FP&A Modelling", COLLEGE, "cohort_based", "upskilling",
            "finance", 48, 120, "Certificate in Financial Planning and Analysis", 0, "passed", False,
            0, 100, 65, 4, 1.0, 1450, "tuition", 0, "Driver-based forecasting", 85, 6, False),
    Program("PRG-009", "People Analytics for HR", LINKEDIN, "online_self_paced", "upskilling",
            "hr", 14, 60, "People Analytics Certificate", 0, "completed", True, 0, 100, 60, 3,
            0.35, 160, "vendor_fee", 0, "Workforce metrics", 50, 4, True),
    Program("PRG-010", "Performance Marketing Lab", INTERNAL, "hybrid", "upskilling",
            "marketing", 30, 90, "", 0, "completed_and_passed", False, 0, 100, 65, 3, 1.0, 0,
            "vendor_fee", 0, "Campaign experimentation", 70, 5, False),
    Program("PRG-011", "Operations Excellence Essentials", LINKEDIN, "online_self_paced", "upskilling",
            "operations", 9, 45, "", 0, "completed", True, 0, 100, 60, 2, 0.45, 120, "vendor_fee", 0,
            "Standard work", 40, 3, True),
    # reskilling: the target family is another one
    Program("PRG-012", "Data Analyst Career Switch", BOOTCAMP, "bootcamp", "reskilling",
            "data_analytics", 400, 120, "Certified Data Analyst", 3, "completed_and_passed", False,
            0, 100, 70, 4, 1.0, 9800, "vendor_fee", 350, "SQL and dashboarding", 110, 8, False),
    Program("PRG-013", "Software Developer Apprenticeship", COLLEGE, "registered_apprenticeship",
            "reskilling", "software_engineering", 1400, 365, "Registered Apprenticeship Certificate: Software Developer",
            0, "passed", False, 0, 100, 60, 6, 0.8, 14500, "tuition", 400, "Production code delivery", 240, 12, False),
    Program("PRG-014", "Full-Stack Web Bootcamp", BOOTCAMP, "bootcamp", "reskilling",
            "software_engineering", 480, 120, "Full-Stack Web Developer Certificate", 3,
            "completed_and_passed", False, 0, 100, 70, 4, 0.9, 11200, "vendor_fee", 350,
            "Full-stack feature delivery", 120, 8, False),
    Program("PRG-015", "Customer Success to Sales Pathway", INTERNAL, "rotation_mentorship", "reskilling",
            "sales", 120, 180, "", 0, "not_applicable", False, None, None, None, 5, 1.4, 0,
            "vendor_fee", 0, "Closing and negotiation", 130, 4, False),
    Program("PRG-016", "Finance Operations Reskilling", COLLEGE, "hybrid", "reskilling",
            "finance", 90, 180, "Certificate in Accounting Operations", 5, "completed_or_passed", True,
            0, 100, 65, 5, 0.8, 2600, "tuition", 0, "Month-end close", 130, 6, True),
    Program("PRG-017", "Digital Marketing Certificate", COURSERA, "online_self_paced", "reskilling",
            "marketing", 100, 150, "Digital Marketing Professional Certificate", 0, "passed", False,
            0, 100, 70, 3, 0.3, 390, "vendor_fee", 0, "Channel strategy", 110, 7, True),
    Program("PRG-018", "Operations Technician Apprenticeship", COLLEGE, "registered_apprenticeship",
            "reskilling", "operations", 900, 365, "Registered Apprenticeship Certificate: Operations Technician",
            0, "passed", False, 0, 100, 60, 6, 1.0, 9200, "tuition", 300, "Line maintenance", 200, 10, False),
)

# Methods that take the learner off the job for a good part of the program: a
# small dip in output while enrolled (outside every estimation window).
OFF_THE_JOB_METHODS = ("bootcamp", "registered_apprenticeship")

WAIVER_REASONS = ("Prior certification", "Equivalent experience", "Tested out", "Administrative")
ASSIGNMENT_TYPES = ("mandatory", "optional", "recommended")
ASSIGNMENT_SHARE = (0.15, 0.6, 0.25)

# Licences billed monthly with no program: shared costs the pipeline allocates.
LICENCES = (
    (COURSERA, "Coursera for Business seats", 5200.0),
    (LINKEDIN, "LinkedIn Learning enterprise licence", 3100.0),
    ("Learnwell LMS", "LMS platform subscription", 4400.0),
)
EVALUATOR_VENDOR = "Kestrel Evaluation Partners"
TRAVEL_VENDORS = ("Corporate Travel Desk", "RailEurope Business", "Hotel Booking Hub")
GRANT_BODY = "Public Apprenticeship Fund"
TAX_AUTHORITY = "Training Tax Credit Office"

GL_ACCOUNTS = {
    "vendor_fee": "6410 External training fees",
    "tuition": "6411 Tuition",
    "licence": "6430 Learning platform licences",
    "design_development": "6420 Course design and development",
    "facilitator": "6421 Facilitation",
    "travel": "6440 Training travel",
    "stipend": "6450 Learner stipends",
    "evaluation": "6460 Training evaluation",
    "grant": "7910 Training grants received",
    "tax_credit": "7920 Training tax credits",
}


# --------------------------------------------------------------------------- survey text

# Free-text phrase bank for the post-training survey, by theme and polarity. The
# themes are the ones the qualitative KPI tags (barriers: time, relevance, manager
# support, access; benefits: confidence, promotion), so a tagger has something to find.
FEEDBACK_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "time": {
        "neg": ("I struggled to find time for the modules next to my workload.",
                "Hard to keep up with the sessions during quarter end.",
                "The schedule clashed with my shifts more than once.",
                "Not enough protected learning time, I mostly studied in the evenings."),
        "pos": ("Having two afternoons a week blocked for learning made all the difference.",
                "The pacing was realistic alongside my normal job."),
    },
    "relevance": {
        "neg": ("Some of the content felt generic and not related to what we do here.",
                "Half of the examples did not apply to our tools.",
                "Too theoretical for my day-to-day work."),
        "pos": ("Very relevant to my daily work, I used it the following week.",
                "The case studies matched our real customer situations.",
                "Exactly the skills my team needed."),
    },
    "manager_support": {
        "neg": ("My manager did not really know I was enrolled.",
                "Little support from my team lead to apply what I learned.",
                "I had no follow-up conversation with my manager afterwards."),
        "pos": ("My manager gave me projects to practise the new skills.",
                "Great support from my lead, we reviewed my progress every month."),
    },
    "access": {
        "neg": ("The platform kept logging me out and the videos would not load on the VPN.",
                "I could not access the labs from the warehouse terminals.",
                "Subtitles were missing for several videos."),
        "pos": ("Being able to learn on my phone helped a lot.",
                "Access to the sandbox environment was easy."),
    },
    "confidence": {
        "neg": ("I still do not feel confident doing this on my own.",),
        "pos": ("I feel much more confident handling complex cases now.",
                "My confidence with the new tools went up a lot.",
                "I now dare to take on tasks I used to hand over."),
    },
    "promotion": {
        "neg": ("I hoped this would open a new role but nothing has moved yet.",),
        "pos": ("The certificate helped me get the internal role I applied for.",
                "I was promoted a few months after finishing.",
                "It opened the door to a move into a new team."),
    },
}
FEEDBACK_CONNECTORS = ("", "Overall, ", "Honestly, ", "To be fair, ", "On the whole, ", "")
FEEDBACK_CLOSERS = ("", "", " Thanks to the trainers.", " Would recommend.", " Please keep it going.",
                    " More practical exercises please.")
