"""Post-training survey exports (Qualtrics, three header rows), one file per
month of RecordedDate.

Every exit (completed, passed, failed, or withdrawn while still employed) is
invited; 35-60% answer, completers more often and more warmly. A few finished
answers carry canary PII in the free text (an e-mail, a phone number, a colleague's
name, a national id), and a few workers' roster identifiers (name, e-mail, national
id, worker id) are listed beside them; truth.json holds both so a privacy check can
prove none of them travels past the raw zone.
"""

from __future__ import annotations

import string

import numpy as np

from . import catalog as C
from .lms import AttemptTable
from .people import IdentityFactory, _ascii_local
from .timeline import day_string
from .writer import DefectLedger, LandingWriter, survey_header_rows

RESPONSE_RATE = {"completed": 0.58, "passed": 0.58, "failed": 0.45, "withdrawn": 0.35}
PARTIAL_RATE = 0.12
NPS_DEFECT_RATE = 0.005
CANARY_QUOTA = {"email": 2, "phone": 2, "roster_name": 2}
ROSTER_CANARIES = 5     # workers of the first chunk whose roster identifiers are canaries
_ALNUM = np.array(list(string.ascii_letters + string.digits))
_PUBLIC_OCTETS = (31, 37, 46, 62, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
                  109, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217)


def _response_id(rng) -> str:
    return "R_" + "".join(rng.choice(_ALNUM, 15))


def _clock(day: int, secs: int) -> str:
    day += secs // 86400
    secs %= 86400
    return f"{day_string(day)} {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"


def feedback_text(rng, nps: int) -> str:
    """One or two sentences on one or two themes, tone following the score."""
    p_pos = 0.8 if nps >= 9 else 0.5 if nps >= 7 else 0.2
    themes = list(C.FEEDBACK_PHRASES)
    picked = rng.choice(len(themes), size=1 + int(rng.random() < 0.4), replace=False)
    parts = []
    for t in picked.tolist():
        bank = C.FEEDBACK_PHRASES[themes[t]]["pos" if rng.random() < p_pos else "neg"]
        parts.append(bank[int(rng.integers(len(bank)))])
    lead = C.FEEDBACK_CONNECTORS[int(rng.integers(len(C.FEEDBACK_CONNECTORS)))]
    text = " ".join(parts)
    if lead:
        keep_case = text.startswith(("I ", "I'"))
        text = lead + (text if keep_case else text[0].lower() + text[1:])
    return text + C.FEEDBACK_CLOSERS[int(rng.integers(len(C.FEEDBACK_CLOSERS)))]


class SurveyWriter:
    """Keeps the canary quota across chunks (canaries land in the first chunks)."""

    def __init__(self, writer: LandingWriter, ledger: DefectLedger, identities: IdentityFactory) -> None:
        self.writer, self.ledger, self.identities = writer, ledger, identities
        self.quota = dict(CANARY_QUOTA)
        self.canaries: list[dict] = []
        self.responses = 0
        self.partials = 0
        self.invited = 0

    def write_chunk(self, t: AttemptTable, sim, wid, names, rng: np.random.Generator) -> None:
        first, last, email, nid = names
        self._nid = nid
        if not any(c["kind"] == "worker_record" for c in self.canaries):
            self._roster_canaries(sim, wid, names)
        end = sim.tl.end_day
        invited = np.flatnonzero(np.isin(t.status, list(RESPONSE_RATE)) & ~t.by_separation)
        self.invited += invited.size
        rate = np.array([RESPONSE_RATE[s] for s in t.status[invited]])
        resp = invited[rng.random(invited.size) < rate]
        rows_by_file: dict[str, list] = {}
        for i in resp.tolist():
            row, rel = self._response(t, i, sim, wid, first, last, email, rng, end)
            if row is None:
                continue
            rows_by_file.setdefault(rel, []).append(row)
        for rel in sorted(rows_by_file):
            self.writer.csv_rows(rel, survey_header_rows(), rows_by_file[rel])

    def _response(self, t, i, sim, wid, first, last, email, rng, end):
        w = t.w[i]
        completer = t.status[i] in ("completed", "passed")
        day = int(t.exit[i]) + int(rng.integers(0, 22))
        start_secs = int(rng.integers(7 * 3600, 21 * 3600))
        duration = int(rng.integers(60, 900))
        finished = rng.random() >= PARTIAL_RATE
        recorded_day = day + (0 if finished else 7)
        if recorded_day > end:
            return None, None
        answered = 5 if finished else int(rng.integers(0, 4))
        nps = int(np.clip(np.rint(rng.normal(8.2 + 0.3 * sim.a[w], 1.5) if completer
                                  else rng.normal(5.2, 2.1)), 0, 10))
        relevance = int(np.clip(np.rint(rng.normal(4.0 if completer else 3.1, 0.9)), 1, 5))
        conf_before = int(np.clip(np.rint(rng.normal(2.6, 0.9)), 1, 5))
        conf_after = int(np.clip(np.rint(conf_before + (1.2 if completer else 0.3) + rng.normal(0, 0.7)), 1, 5))
        text = feedback_text(rng, nps) if finished and rng.random() < 0.65 else ""
        rid = _response_id(rng)
        rel = f"surveys/post_training_survey_{sim.tl.label(int(sim.tl.month_index(np.array([recorded_day]))[0]))}.csv"
        if text:
            text = self._maybe_canary(text, t, i, sim, wid, first, last, rid, rel, rng)
        if answered >= 1 and rng.random() < NPS_DEFECT_RATE:
            nps = 11
            self.ledger.add("nps_out_of_range", rel)
        answers = [str(nps), str(relevance), str(conf_before), str(conf_after), text]
        answers = [a if k < answered else "" for k, a in enumerate(answers)]
        anonymous = rng.random() < 0.08
        loc = C.LOCATIONS[sim.loc[w]]
        ip = f"{rng.choice(_PUBLIC_OCTETS)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
        end_clock = _clock(day, start_secs + duration)
        self.responses += 1
        self.partials += not finished
        return [
            _clock(day, start_secs), end_clock, "IP Address", ip, 100 if finished else [0, 17, 33, 50][answered],
            duration, "True" if finished else "False", end_clock if finished else _clock(recorded_day, start_secs),
            rid, "" if anonymous else last[w], "" if anonymous else first[w], "" if anonymous else email[w],
            "" if anonymous else wid[w], f"{loc.lat + rng.normal(0, 0.03):.4f}", f"{loc.lon + rng.normal(0, 0.03):.4f}",
            "anonymous" if anonymous else "email", "EN", *answers,
            C.PROGRAMS[t.prog[i]].program_id, t.enrollment_id[i],
        ], rel

    def _maybe_canary(self, text, t, i, sim, wid, first, last, rid, rel, rng) -> str:
        """Plant a known piece of PII in free text while the quota lasts."""
        open_kinds = [k for k, q in self.quota.items() if q > 0]
        if not open_kinds or rng.random() > 0.5:
            return text
        kind = open_kinds[0]
        w = t.w[i]
        locale = C.LOCATIONS[sim.loc[w]].locale
        if kind == "email":
            value = f"{_ascii_local(first[w])}.{_ascii_local(last[w])}{int(rng.integers(10, 99))}@mailbox.example"
            text = f"{text} Happy to talk more, reach me at {value}."
        elif kind == "phone":
            value = self.identities.phone_number(locale)
            text = f"{text} Call me on {value} if the trainers want details."
            # a national id rides along (no extra random draw, so the rest of the company is unchanged)
            id_value = str(self._nid[w])
            text = f"{text} For the records my national id is {id_value}."
            self.canaries.append({"kind": "national_id", "value": id_value, "file": rel, "response_id": rid,
                                  "worker_id": wid[w]})
        else:
            other = int(rng.integers(sim.n))
            if other == w:
                other = (other + 1) % sim.n
            value = f"{first[other]} {last[other]}"
            text = f"{text} Special thanks to {value}, who coached me through it."
        self.quota[kind] -= 1
        self.canaries.append({"kind": kind, "value": value, "file": rel, "response_id": rid,
                              "worker_id": wid[w]})
        return text

    def _roster_canaries(self, sim, wid, names) -> None:
        """Identifiers of a few workers as the HRIS delivers them (evenly spaced, no random draw)."""
        first, last, email, nid = names
        rel = f"hris/workers_{sim.tl.end_date.isoformat()}.csv"
        for w in np.linspace(0, sim.n - 1, num=min(ROSTER_CANARIES, sim.n), dtype=int).tolist():
            for field, value in (("name", f"{first[w]} {last[w]}"), ("email", email[w]),
                                 ("national_id", str(nid[w])), ("worker_id", str(wid[w]))):
                self.canaries.append({"kind": "worker_record", "field": field, "value": value, "file": rel,
                                      "worker_id": str(wid[w])})
