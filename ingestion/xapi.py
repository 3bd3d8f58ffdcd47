"""xAPI 1.0.3 statements: validation against the spec's Data rules, and flattening.

Pure Python, no pipeline dependencies. The ingestion layer calls
``validate_statement`` on every statement of an LRS export and quarantines the
ones with violations one by one (never the whole file), then ``flatten_statement``
turns each valid statement into one ``xapi_statements`` bronze row.

Rule names are dotted ``<spec type>.<property>.<constraint>`` strings. Agent and
Group rules are named ``actor.*`` wherever the Agent/Group appears (actor,
authority, instructor, team, group member, object) because the spec defines them
once, as the Actor types; ``path`` says where. Section references ("Data 2.4.2.1")
point at xAPI 1.0.3 Part Two (xAPI-Data.md).

Timestamps in flattened rows are ISO 8601 *strings normalised to UTC*
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``), not datetimes: DuckDB's cast of a string with
a non-zero offset to TIMESTAMP silently drops the offset, so the offset is applied
here. A timestamp without a zone designator is taken as UTC (LRSs store UTC).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "CMI5_VERBS",
    "CMI5_VERB_STATUS",
    "VOIDED_VERB",
    "XAPI_COLUMNS",
    "Violation",
    "flatten_statement",
    "parse_iso8601_duration",
    "parse_timestamp",
    "validate_statement",
]


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # e.g. "actor.account.homePage.required"
    path: str  # where in the statement, e.g. "context.instructor.account"
    message: str


# --------------------------------------------------------------------------- vocab

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"  # the one reserved verb (Data 2.3.2)

_ADL = "http://adlnet.gov/expapi/verbs/"
_ADL_W3ID = "https://w3id.org/xapi/adl/verbs/"

# Verbs a cmi5 / ADL course emits, mapped to the canonical enrollment status they
# imply. Verbs that describe an event but not a status (terminated, attempted,
# experienced, satisfied, voided) are recognised in CMI5_VERBS but have no status.
CMI5_VERB_STATUS: dict[str, str] = {
    _ADL + "launched": "in_progress",
    _ADL + "initialized": "in_progress",
    _ADL + "completed": "completed",
    _ADL + "passed": "passed",
    _ADL + "failed": "failed",
    _ADL_W3ID + "abandoned": "withdrawn",
    _ADL_W3ID + "waived": "waived",
}
CMI5_VERBS: frozenset[str] = frozenset(
    [_ADL + v for v in ("launched", "initialized", "completed", "passed", "failed",
                        "terminated", "voided", "attempted", "experienced")]
    + [_ADL_W3ID + v for v in ("abandoned", "waived", "satisfied")]
)

_INTERACTION_TYPES = frozenset(
    ["true-false", "choice", "fill-in", "long-fill-in", "matching",
     "performance", "sequencing", "likert", "numeric", "other"]
)
_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
_CONTEXT_ACTIVITY_KEYS = frozenset(["parent", "grouping", "category", "other"])
_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


class _Shape:
    """The properties an object may carry, plus a lower-case index so that a key in
    the wrong case is reported as such (Data 2.2.s4.b1.b5) rather than as unknown."""

    __slots__ = ("allowed", "by_lower")

    def __init__(self, *names: str) -> None:
        self.allowed = frozenset(names)
        self.by_lower = {n.lower(): n for n in names}


_STATEMENT = _Shape("id", "actor", "verb", "object", "result", "context", "timestamp",
                    "stored", "authority", "version", "attachments")
# id/stored/version/authority are listed so they get the specific "forbidden" rule.
_SUBSTATEMENT = _Shape("objectType", "actor", "verb", "object", "result", "context",
                       "timestamp", "attachments", "id", "stored", "version", "authority")
_SUBSTATEMENT_FORBIDDEN = frozenset(["id", "stored", "version", "authority"])
_AGENT = _Shape("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account")
_GROUP = _Shape("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member")
_ACCOUNT = _Shape("homePage", "name")
_VERB = _Shape("id", "display")
_ACTIVITY = _Shape("objectType", "id", "definition")
_DEFINITION = _Shape("name", "description", "type", "moreInfo", "extensions",
                     "interactionType", "correctResponsesPattern", *_COMPONENT_LISTS)
_COMPONENT = _Shape("id", "description")
_STATEMENT_REF = _Shape("objectType", "id")
_RESULT = _Shape("score", "success", "completion", "response", "duration", "extensions")
_SCORE = _Shape("scaled", "raw", "min", "max")
_CONTEXT = _Shape("registration", "instructor", "team", "contextActivities", "revision",
                  "platform", "language", "statement", "extensions")
_ATTACHMENT = _Shape("usageType", "display", "description", "contentType", "length",
                     "sha2", "fileUrl")

# --------------------------------------------------------------------------- formats
# All patterns are compiled once at import; re.ASCII so \d never matches other scripts' digits.

_UUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\Z")
# Best-effort IRI (Data 2.2.s4.b6): a scheme, then no whitespace, no characters RFC 3987
# excludes, and only well-formed percent escapes.
_IRI_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[^\s<>\"{}|\\^`%\x00-\x1f\x7f]|%[0-9A-Fa-f]{2})+\Z"
)
# An IRL is a locator: the scheme must be followed by an authority ("//").
_IRL_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^\s<>\"{}|\\^`%\x00-\x1f\x7f]|%[0-9A-Fa-f]{2})+\Z"
)
_MBOX_RE = re.compile(r"mailto:[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\Z")
_SHA1_RE = re.compile(r"[0-9A-Fa-f]{40}\Z")
_SHA2_RE = re.compile(r"(?:[0-9A-Fa-f]{56}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96}|[0-9A-Fa-f]{128})\Z")
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+"
    r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+\-]+=(?:[^\s;\"]+|\"[^\"]*\"))*\s*\Z"
)
_VERSION_RE = re.compile(r"1\.0(?:\.[0-9]+)?\Z")  # Data 2.4.10.s3: accept 1.0 and 1.0.x

# ISO 8601 duration, format of ISO 8601:2004 4.4.3.2 (Data 4.6). Weeks cannot be
# combined with other components; "T" must be followed by a time component.
_NUM = r"([0-9]+(?:[.,][0-9]+)?)"
_DURATION_RE = re.compile(
    rf"P(?:{_NUM}W|(?=[0-9]|T[0-9])(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?"
    rf"(?:T(?=[0-9])(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)\Z",
    re.ASCII,
)
# Seconds per unit. Years and months are nominal in ISO 8601; the Gregorian mean
# (365.2425 days, a twelfth of it) keeps long durations unbiased.
_DAY = 86400.0
_YEAR = 365.2425 * _DAY
_DURATION_UNITS = (7 * _DAY, _YEAR, _YEAR / 12, _DAY, 3600.0, 60.0, 1.0)

# ISO 8601 combined date and time (Data 4.5), extended or basic format, reduced
# precision allowed down to minutes; the zone is optional (it is a SHOULD*).
_TS_EXTENDED_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?\Z"
)
_TS_BASIC_RE = re.compile(
    r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})"
    r"(?:([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(?:(Z)|([+-])([0-9]{2})([0-9]{2})?)?\Z"
)

# RFC 5646 Language-Tag well-formedness (Data 2.2.s4.b2: at least the sequence of
# subtag lengths must match). Registry membership is not checked: no registry is
# shipped and the spec allows best effort (Data 2.2.s4.b7).
_LANGTAG_RE = re.compile(
    r"(?:"
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language [-extlang]
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"  # private use
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+"  # private-use-only tag
    r")\Z"
)
_GRANDFATHERED = frozenset(
    t.lower() for t in (
        "en-GB-oed i-ami i-bnn i-default i-enochian i-hak i-klingon i-lux i-mingo "
        "i-navajo i-pwn i-tao i-tay i-tsu sgn-BE-FR sgn-BE-NL sgn-CH-DE art-lojban "
        "cel-gaulish no-bok no-nyn zh-guoyu zh-hakka zh-min zh-min-nan zh-xiang"
    ).split()
)

# Identifiers repeat massively across an export (a handful of verbs, activities,
# homepages, language tags), so verdicts are memoised. Bounded: cleared when full.
_CACHE_LIMIT = 65536
_iri_cache: dict[str, bool] = {}
_irl_cache: dict[str, bool] = {}
_lang_cache: dict[str, bool] = {}


def _memo(cache: dict[str, bool], value: str, verdict: bool) -> bool:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[value] = verdict
    return verdict


def _is_iri(v: object) -> bool:
    if type(v) is not str:
        return False
    hit = _iri_cache.get(v)
    if hit is None:
        hit = _memo(_iri_cache, v, _IRI_RE.match(v) is not None)
    return hit


def _is_irl(v: object) -> bool:
    if type(v) is not str:
        return False
    hit = _irl_cache.get(v)
    if hit is None:
        hit = _memo(_irl_cache, v, _IRL_RE.match(v) is not None)
    return hit


def _is_uri(v: object) -> bool:
    # openid is a URI: an IRI restricted to ASCII.
    return _is_iri(v) and v.isascii()  # type: ignore[union-attr]


def _is_uuid(v: object) -> bool:
    return type(v) is str and _UUID_RE.match(v) is not None


def _is_number(v: object) -> bool:
    # bool is a subclass of int in Python but not a JSON number (Data 2.2.s4.b1.b2).
    t = type(v)
    return t is int or (t is float and math.isfinite(v))  # type: ignore[arg-type]


def _lang_tag_ok(tag: str) -> bool:
    if _LANGTAG_RE.match(tag) is None:
        return tag.lower() in _GRANDFATHERED
    # RFC 5646 2.2.9: a tag repeating a variant or an extension singleton is not valid.
    subtags = tag.lower().split("-")
    singletons: set[str] = set()
    variants: set[str] = set()
    in_extensions = False
    for sub in subtags[1:]:
        if sub == "x":
            break
        if len(sub) == 1:
            if sub in singletons:
                return False
            singletons.add(sub)
            in_extensions = True
        elif not in_extensions and (len(sub) >= 5 or (len(sub) == 4 and sub[0].isdigit())):
            if sub in variants:
                return False
            variants.add(sub)
    return True


def _is_lang_tag(v: object) -> bool:
    if type(v) is not str:
        return False
    hit = _lang_cache.get(v)
    if hit is None:
        hit = _memo(_lang_cache, v, _lang_tag_ok(v))
    return hit


def _duration_seconds(s: str) -> float | None:
    """Seconds in an ISO 8601 duration, or None if it is not one (Data 4.6)."""
    m = _DURATION_RE.match(s)
    if m is None:
        return None
    groups = m.groups()
    total = 0.0
    last = -1
    for i, g in enumerate(groups):
        if g is not None:
            last = i
    for i, g in enumerate(groups):
        if g is None:
            continue
        if "." in g or "," in g:
            if i != last:  # ISO 8601: only the lowest-order component may have a fraction
                return None
            g = g.replace(",", ".")
        total += float(g) * _DURATION_UNITS[i]
    return total


def parse_iso8601_duration(s: str) -> float:
    """``PT1H30M`` -> 5400.0 seconds. Raises ValueError on anything else.

    Weeks are 7 days, days 24 hours; years and months use the Gregorian mean
    (365.2425 days and a twelfth of it) because ISO 8601 leaves them nominal.
    """
    if type(s) is not str:
        raise ValueError(f"duration must be a string, got {type(s).__name__}")
    seconds = _duration_seconds(s)
    if seconds is None:
        raise ValueError(f"not an ISO 8601 duration: {s!r}")
    return seconds


def parse_timestamp(s: object) -> datetime | None:
    """An xAPI Timestamp as a naive UTC datetime, or None if it is not ISO 8601 (Data 4.5).

    No zone designator is read as UTC. "-00", "-0000" and "-00:00" are refused:
    ISO 8601 has no negative zero offset (RFC 3339 uses it for "unknown offset").
    """
    if type(s) is not str:
        return None
    m = _TS_EXTENDED_RE.match(s) or _TS_BASIC_RE.match(s)
    if m is None:
        return None
    year, month, day, hour, minute, sec, frac, zulu, sign, off_h, off_m = m.groups()
    second = int(sec) if sec else 0
    micro = int((frac + "00000")[:6]) if frac else 0
    if second == 60:  # a leap second: keep it inside the minute
        second, micro = 59, 999999
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), second, micro)
    except ValueError:
        return None
    if sign is not None:
        oh = int(off_h)
        om = int(off_m) if off_m else 0
        if oh > 23 or om > 59 or (sign == "-" and oh == 0 and om == 0):
            return None
        delta = timedelta(hours=oh, minutes=om)
        dt = dt - delta if sign == "+" else dt + delta
    return dt


# --------------------------------------------------------------------------- validation


def _j(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_keys(obj: dict, shape: _Shape, entity: str, path: str, out: list) -> None:
    """Unknown keys (Data 2.2.s4.b1.b7), keys in the wrong case (b5), null values (b1)."""
    if not obj.keys() <= shape.allowed:
        for k in obj:
            if k in shape.allowed:
                continue
            canonical = shape.by_lower.get(k.lower()) if type(k) is str else None
            if canonical is not None:
                out.append(Violation(f"{entity}.property_case", _j(path, k),
                                     f"property {k!r} must be spelled {canonical!r}"))
            else:
                out.append(Violation(f"{entity}.unknown_property", _j(path, str(k)),
                                     f"property {k!r} is not defined for {entity}"))
    if None in obj.values():
        for k, v in obj.items():
            if v is None and k in shape.allowed:
                out.append(Violation("value.null", _j(path, k),
                                     "null is only allowed inside extensions"))


def _language_map(m: object, path: str, out: list) -> None:
    if type(m) is not dict:
        out.append(Violation("language_map.type", path, "a language map must be an object"))
        return
    for tag, text in m.items():
        if not _is_lang_tag(tag):
            out.append(Violation("language_map.tag", f"{path}.{tag}",
                                 f"{tag!r} is not an RFC 5646 language tag"))
        if text is None:
            out.append(Violation("value.null", f"{path}.{tag}", "language map values cannot be null"))
        elif type(text) is not str:
            out.append(Violation("language_map.value.type", f"{path}.{tag}",
                                 "language map values must be strings"))


def _extensions(e: object, path: str, out: list) -> None:
    # Values are free (and may be null): an LRS must not reject on them (Data 4.1.s3.b2).
    if type(e) is not dict:
        out.append(Violation("extensions.type", path, "extensions must be an object"))
        return
    for key in e:
        if not _is_iri(key):
            out.append(Violation("extensions.key.iri", f"{path}.{key}",
                                 f"extension key {key!r} is not an IRI"))


def _account(acc: object, path: str, out: list) -> None:
    if type(acc) is not dict:
        out.append(Violation("actor.account.type", path, "account must be an object"))
        return
    _check_keys(acc, _ACCOUNT, "actor.account", path, out)
    if "homePage" not in acc:
        out.append(Violation("actor.account.homePage.required", path, "account needs a homePage"))
    elif acc["homePage"] is not None and not _is_irl(acc["homePage"]):
        out.append(Violation("actor.account.homePage.irl", _j(path, "homePage"),
                             "account homePage must be an IRL"))
    if "name" not in acc:
        out.append(Violation("actor.account.name.required", path, "account needs a name"))
    elif acc["name"] is not None and type(acc["name"]) is not str:
        out.append(Violation("actor.account.name.type", _j(path, "name"),
                             "account name must be a string"))


def _actor(a: object, path: str, out: list) -> tuple[str, int, int] | None:
    """Validate an Agent or Group (Data 2.4.2); returns (kind, number of IFIs, number of members)."""
    if type(a) is not dict:
        out.append(Violation("actor.type", path, "an Agent or Group must be an object"))
        return None
    kind = "Agent"
    ot = a.get("objectType")
    if ot is not None:
        if type(ot) is not str:
            out.append(Violation("actor.objectType.type", _j(path, "objectType"),
                                 "objectType must be a string"))
        elif ot == "Group":
            kind = "Group"
        elif ot != "Agent":  # includes wrong case such as "agent" (Data 2.2.s4.b1.b6)
            out.append(Violation("actor.objectType.invalid", _j(path, "objectType"),
                                 f"objectType {ot!r} must be 'Agent' or 'Group'"))
    _check_keys(a, _GROUP if kind == "Group" else _AGENT, "actor", path, out)

    name = a.get("name")
    if name is not None and type(name) is not str:
        out.append(Violation("actor.name.type", _j(path, "name"), "name must be a string"))

    n_ifi = 0
    v = a.get("mbox")
    if v is not None:
        n_ifi += 1
        if type(v) is not str or _MBOX_RE.match(v) is None:
            out.append(Violation("actor.mbox.format", _j(path, "mbox"),
                                 "mbox must be 'mailto:' followed by an e-mail address"))
    v = a.get("mbox_sha1sum")
    if v is not None:
        n_ifi += 1
        if type(v) is not str or _SHA1_RE.match(v) is None:
            out.append(Violation("actor.mbox_sha1sum.format", _j(path, "mbox_sha1sum"),
                                 "mbox_sha1sum must be a hex-encoded SHA-1 string"))
    v = a.get("openid")
    if v is not None:
        n_ifi += 1
        if not _is_uri(v):
            out.append(Violation("actor.openid.uri", _j(path, "openid"), "openid must be a URI"))
    v = a.get("account")
    if v is not None:
        n_ifi += 1
        _account(v, _j(path, "account"), out)

    # Data 2.4.2.1.s2.b1-b2 and 2.4.2.2.s5.b1: exactly one IFI, except anonymous Groups.
    if n_ifi > 1:
        out.append(Violation("actor.ifi.multiple", path,
                             "use exactly one of mbox, mbox_sha1sum, openid, account"))
    elif n_ifi == 0 and kind == "Agent":
        out.append(Violation("actor.ifi.required", path,
                             "an Agent needs one of mbox, mbox_sha1sum, openid, account"))

    n_members = 0
    if kind == "Group":
        member = a.get("member")
        if member is None:
            if n_ifi == 0:  # Data 2.4.2.2.s4.b1
                out.append(Violation("group.member.required", path,
                                     "an anonymous Group must list its members"))
        elif type(member) is not list:
            out.append(Violation("group.member.type", _j(path, "member"),
                                 "member must be an array of Agents"))
        else:
            n_members = len(member)
            if n_members == 0 and n_ifi == 0:
                out.append(Violation("group.member.required", _j(path, "member"),
                                     "an anonymous Group must list its members"))
            for i, m in enumerate(member):
                mpath = f"{path}.member[{i}]"
                if type(m) is dict and m.get("objectType") == "Group":
                    # Data 2.4.2.2.s4.b2 / s5.b2: Groups cannot be nested.
                    out.append(Violation("group.member.group", mpath, "a Group member must be an Agent"))
                    continue
                _actor(m, mpath, out)
    return kind, n_ifi, n_members


def _verb(v: object, path: str, out: list) -> str | None:
    if type(v) is not dict:
        out.append(Violation("verb.type", path, "verb must be an object"))
        return None
    _check_keys(v, _VERB, "verb", path, out)
    vid = v.get("id")
    if "id" not in v:
        out.append(Violation("verb.id.required", path, "verb needs an id"))
    elif vid is not None and not _is_iri(vid):
        out.append(Violation("verb.id.iri", _j(path, "id"), "verb id must be an IRI"))
    display = v.get("display")
    if display is not None:
        _language_map(display, _j(path, "display"), out)
    return vid if type(vid) is str else None


def _interaction_components(lst: object, key: str, path: str, out: list) -> None:
    if type(lst) is not list:
        out.append(Violation(f"activity.definition.{key}.type", path,
                             f"{key} must be an array of interaction components"))
        return
    seen: set[str] = set()
    for i, comp in enumerate(lst):
        cpath = f"{path}[{i}]"
        if type(comp) is not dict:
            out.append(Violation("interaction_component.type", cpath,
                                 "an interaction component must be an object"))
            continue
        _check_keys(comp, _COMPONENT, "interaction_component", cpath, out)
        cid = comp.get("id")
        if "id" not in comp:
            out.append(Violation("interaction_component.id.required", cpath,
                                 "an interaction component needs an id"))
        elif cid is not None:
            if type(cid) is not str:
                out.append(Violation("interaction_component.id.type", _j(cpath, "id"),
                                     "component id must be a string"))
            elif cid in seen:  # Data 2.4.4.1.s16.b1
                out.append(Violation("interaction_component.id.duplicate", _j(cpath, "id"),
                                     f"component id {cid!r} repeats within {key}"))
            else:
                seen.add(cid)
        if comp.get("description") is not None:
            _language_map(comp["description"], _j(cpath, "description"), out)


def _definition(d: object, path: str, out: list) -> None:
    if type(d) is not dict:
        out.append(Violation("activity.definition.type", path, "definition must be an object"))
        return
    _check_keys(d, _DEFINITION, "activity.definition", path, out)
    for key in ("name", "description"):
        if d.get(key) is not None:
            _language_map(d[key], _j(path, key), out)
    t = d.get("type")
    if t is not None and not _is_iri(t):
        out.append(Violation("activity.definition.type.iri", _j(path, "type"),
                             "activity type must be an IRI"))
    more = d.get("moreInfo")
    if more is not None and not _is_irl(more):
        out.append(Violation("activity.definition.moreInfo.irl", _j(path, "moreInfo"),
                             "moreInfo must be an IRL"))
    if d.get("extensions") is not None:
        _extensions(d["extensions"], _j(path, "extensions"), out)

    it = d.get("interactionType")
    if it is not None:
        if type(it) is not str:
            out.append(Violation("activity.definition.interactionType.type",
                                 _j(path, "interactionType"), "interactionType must be a string"))
        elif it not in _INTERACTION_TYPES:  # case-sensitive (Data 2.2.s4.b1.b6)
            out.append(Violation("activity.definition.interactionType.invalid",
                                 _j(path, "interactionType"),
                                 f"interactionType {it!r} is not one of the ten defined values"))
    crp = d.get("correctResponsesPattern")
    has_interaction_props = crp is not None
    if crp is not None and (type(crp) is not list or any(type(p) is not str for p in crp)):
        out.append(Violation("activity.definition.correctResponsesPattern.type",
                             _j(path, "correctResponsesPattern"),
                             "correctResponsesPattern must be an array of strings"))
    for key in _COMPONENT_LISTS:
        lst = d.get(key)
        if lst is not None:
            has_interaction_props = True
            _interaction_components(lst, key, _j(path, key), out)
    if has_interaction_props and "interactionType" not in d:
        # Data 2.4.4.1.s13.b1: interaction activities must say which interaction they are.
        out.append(Violation("activity.definition.interactionType.required", path,
                             "interaction properties need an interactionType"))


def _activity(a: object, path: str, out: list) -> None:
    if type(a) is not dict:
        out.append(Violation("activity.type", path, "an Activity must be an object"))
        return
    _check_keys(a, _ACTIVITY, "activity", path, out)
    ot = a.get("objectType")
    if ot is not None and ot != "Activity":
        out.append(Violation("activity.objectType.invalid", _j(path, "objectType"),
                             "objectType must be 'Activity' here"))
    if "id" not in a:
        out.append(Violation("activity.id.required", path, "an Activity needs an id"))
    elif a["id"] is not None and not _is_iri(a["id"]):
        out.append(Violation("activity.id.iri", _j(path, "id"), "activity id must be an IRI"))
    if a.get("definition") is not None:
        _definition(a["definition"], _j(path, "definition"), out)


def _statement_ref(r: object, path: str, out: list) -> None:
    if type(r) is not dict:
        out.append(Violation("statementref.type", path, "a StatementRef must be an object"))
        return
    _check_keys(r, _STATEMENT_REF, "statementref", path, out)
    ot = r.get("objectType")
    if "objectType" not in r:  # Data 2.4.4.3.s4.b1: required, unlike for Activities
        out.append(Violation("statementref.objectType.required", path,
                             "a StatementRef needs objectType 'StatementRef'"))
    elif ot is not None and ot != "StatementRef":
        out.append(Violation("statementref.objectType.invalid", _j(path, "objectType"),
                             f"objectType {ot!r} must be 'StatementRef'"))
    if "id" not in r:
        out.append(Violation("statementref.id.required", path, "a StatementRef needs an id"))
    elif r["id"] is not None and not _is_uuid(r["id"]):
        out.append(Violation("statementref.id.uuid", _j(path, "id"),
                             "StatementRef id must be a UUID in standard string form"))


def _object(o: object, path: str, out: list, in_substatement: bool) -> str | None:
    """Validate the statement's object by its objectType (Data 2.4.4); returns that objectType."""
    if type(o) is not dict:
        out.append(Violation("object.type", path, "object must be an object"))
        return None
    ot = o.get("objectType", "Activity")  # Data 2.4.4.s2: Activity when absent
    if ot is None:
        out.append(Violation("value.null", _j(path, "objectType"), "objectType cannot be null"))
        return None
    if ot == "Activity":
        _activity(o, path, out)
    elif ot == "Agent" or ot == "Group":
        _actor(o, path, out)
    elif ot == "StatementRef":
        _statement_ref(o, path, out)
    elif ot == "SubStatement":
        if in_substatement:  # Data 2.4.4.3.s8.b4
            out.append(Violation("substatement.nested", path, "a SubStatement cannot contain a SubStatement"))
        else:
            _statement_body(o, path, out, substatement=True)
    elif type(ot) is not str:
        out.append(Violation("object.objectType.type", _j(path, "objectType"), "objectType must be a string"))
        return None
    else:
        out.append(Violation("object.objectType.invalid", _j(path, "objectType"),
                             f"objectType {ot!r} must be Activity, Agent, Group, StatementRef or SubStatement"))
        return None
    return ot


def _score(s: object, path: str, out: list) -> None:
    if type(s) is not dict:
        out.append(Violation("result.score.type", path, "score must be an object"))
        return
    _check_keys(s, _SCORE, "result.score", path, out)
    nums = {}
    for key in ("scaled", "raw", "min", "max"):
        v = s.get(key)
        if v is None:
            continue
        if _is_number(v):
            nums[key] = v
        else:  # strings are refused even when they hold numbers (Data 2.2.s4.b1.b2)
            out.append(Violation(f"result.score.{key}.type", _j(path, key), f"{key} must be a number"))
    scaled = nums.get("scaled")
    if scaled is not None and not -1 <= scaled <= 1:
        out.append(Violation("result.score.scaled.range", _j(path, "scaled"),
                             "scaled must be between -1 and 1"))
    lo, hi, raw = nums.get("min"), nums.get("max"), nums.get("raw")
    if lo is not None and hi is not None and not lo < hi:
        out.append(Violation("result.score.min_max.order", path, "min must be less than max"))
    if raw is not None and ((lo is not None and raw < lo) or (hi is not None and raw > hi)):
        out.append(Violation("result.score.raw.range", _j(path, "raw"), "raw must lie within min and max"))


def _result(r: object, path: str, out: list) -> None:
    if type(r) is not dict:
        out.append(Violation("result.type", path, "result must be an object"))
        return
    _check_keys(r, _RESULT, "result", path, out)
    if r.get("score") is not None:
        _score(r["score"], _j(path, "score"), out)
    for key in ("success", "completion"):
        v = r.get(key)
        if v is not None and type(v) is not bool:  # "true" is not true (Data 2.2.s4.b1.b3)
            out.append(Violation(f"result.{key}.type", _j(path, key), f"{key} must be a boolean"))
    v = r.get("response")
    if v is not None and type(v) is not str:
        out.append(Violation("result.response.type", _j(path, "response"), "response must be a string"))
    v = r.get("duration")
    if v is not None and (type(v) is not str or _duration_seconds(v) is None):
        out.append(Violation("result.duration.format", _j(path, "duration"),
                             "duration must be an ISO 8601 duration"))
    if r.get("extensions") is not None:
        _extensions(r["extensions"], _j(path, "extensions"), out)


def _context(c: object, path: str, out: list, object_type: str | None) -> None:
    if type(c) is not dict:
        out.append(Violation("context.type", path, "context must be an object"))
        return
    _check_keys(c, _CONTEXT, "context", path, out)
    v = c.get("registration")
    if v is not None and not _is_uuid(v):
        out.append(Violation("context.registration.uuid", _j(path, "registration"),
                             "registration must be a UUID in standard string form"))
    v = c.get("instructor")
    if v is not None:
        _actor(v, _j(path, "instructor"), out)
    v = c.get("team")
    if v is not None:
        if type(v) is dict and v.get("objectType") != "Group":  # Data 2.4.6.s3.table1.row3
            out.append(Violation("context.team.group", _j(path, "team"), "team must be a Group"))
        _actor(v, _j(path, "team"), out)
    v = c.get("contextActivities")
    if v is not None:
        _context_activities(v, _j(path, "contextActivities"), out)
    for key in ("revision", "platform"):
        v = c.get(key)
        if v is None:
            continue
        if type(v) is not str:
            out.append(Violation(f"context.{key}.type", _j(path, key), f"{key} must be a string"))
        # Data 2.4.6.s4.b1-b2: only meaningful for an Activity object.
        if object_type is not None and object_type != "Activity":
            out.append(Violation(f"context.{key}.object_not_activity", _j(path, key),
                                 f"{key} is only allowed when the object is an Activity"))
    v = c.get("language")
    if v is not None and not _is_lang_tag(v):
        out.append(Violation("context.language.tag", _j(path, "language"),
                             "language must be an RFC 5646 language tag"))
    v = c.get("statement")
    if v is not None:
        _statement_ref(v, _j(path, "statement"), out)
    if c.get("extensions") is not None:
        _extensions(c["extensions"], _j(path, "extensions"), out)


def _context_activities(ca: object, path: str, out: list) -> None:
    if type(ca) is not dict:
        out.append(Violation("context.contextActivities.type", path, "contextActivities must be an object"))
        return
    for key, value in ca.items():
        kpath = f"{path}.{key}"
        if key not in _CONTEXT_ACTIVITY_KEYS:  # Data 2.4.6.2.s4.b1
            out.append(Violation("context.contextActivities.key", kpath,
                                 f"{key!r} is not parent, grouping, category or other"))
            continue
        if value is None:
            out.append(Violation("value.null", kpath, "null is only allowed inside extensions"))
        elif type(value) is dict:  # a single Activity is allowed (Data 2.4.6.2.s4.b2)
            _activity(value, kpath, out)
        elif type(value) is list:
            for i, act in enumerate(value):
                _activity(act, f"{kpath}[{i}]", out)
        else:
            out.append(Violation("context.contextActivities.value.type", kpath,
                                 "must be an Activity or an array of Activities"))


def _attachments(atts: object, path: str, out: list) -> None:
    if type(atts) is not list:
        out.append(Violation("statement.attachments.type", path, "attachments must be an array"))
        return
    for i, att in enumerate(atts):
        apath = f"{path}[{i}]"
        if type(att) is not dict:
            out.append(Violation("attachment.type", apath, "an attachment must be an object"))
            continue
        _check_keys(att, _ATTACHMENT, "attachment", apath, out)
        for key in ("usageType", "display", "contentType", "length", "sha2"):  # Data 2.4.11.s2
            if key not in att:
                out.append(Violation(f"attachment.{key}.required", apath, f"attachment needs {key}"))
        v = att.get("usageType")
        if v is not None and not _is_iri(v):
            out.append(Violation("attachment.usageType.iri", _j(apath, "usageType"),
                                 "usageType must be an IRI"))
        for key in ("display", "description"):
            if att.get(key) is not None:
                _language_map(att[key], _j(apath, key), out)
        v = att.get("contentType")
        if v is not None and (type(v) is not str or _MEDIA_TYPE_RE.match(v) is None):
            out.append(Violation("attachment.contentType.format", _j(apath, "contentType"),
                                 "contentType must be an Internet media type"))
        v = att.get("length")
        if v is not None and not (
            (type(v) is int and v >= 0) or (type(v) is float and v.is_integer() and v >= 0)
        ):
            out.append(Violation("attachment.length.type", _j(apath, "length"),
                                 "length must be a non-negative integer"))
        v = att.get("sha2")
        if v is not None and (type(v) is not str or _SHA2_RE.match(v) is None):
            out.append(Violation("attachment.sha2.format", _j(apath, "sha2"),
                                 "sha2 must be a hex-encoded SHA-2 hash"))
        v = att.get("fileUrl")
        if v is not None and not _is_irl(v):
            out.append(Violation("attachment.fileUrl.irl", _j(apath, "fileUrl"), "fileUrl must be an IRL"))


def _timestamp(s: dict, key: str, entity: str, path: str, out: list) -> None:
    v = s.get(key)
    if v is not None and parse_timestamp(v) is None:
        out.append(Violation(f"{entity}.{key}.format", _j(path, key),
                             f"{key} must be an ISO 8601 date and time"))


def _statement_body(s: dict, path: str, out: list, substatement: bool) -> None:
    entity = "substatement" if substatement else "statement"
    _check_keys(s, _SUBSTATEMENT if substatement else _STATEMENT, entity, path, out)
    if substatement:
        for key in _SUBSTATEMENT_FORBIDDEN & s.keys():  # Data 2.4.4.3.s8.b3
            out.append(Violation("substatement.property.forbidden", _j(path, key),
                                 f"a SubStatement cannot have {key!r}"))
    for key in ("actor", "verb", "object"):  # Data 2.2.s2.b3
        if key not in s:
            out.append(Violation(f"{entity}.{key}.required", path, f"a statement needs {key!r}"))

    if s.get("actor") is not None:
        _actor(s["actor"], _j(path, "actor"), out)
    verb_id = _verb(s["verb"], _j(path, "verb"), out) if s.get("verb") is not None else None
    object_type = None
    if s.get("object") is not None:
        object_type = _object(s["object"], _j(path, "object"), out, substatement)
    if s.get("result") is not None:
        _result(s["result"], _j(path, "result"), out)
    if s.get("context") is not None:
        _context(s["context"], _j(path, "context"), out, object_type)
    _timestamp(s, "timestamp", entity, path, out)
    if s.get("attachments") is not None:
        _attachments(s["attachments"], _j(path, "attachments"), out)
    if substatement:
        return

    v = s.get("id")
    if v is not None and not _is_uuid(v):
        out.append(Violation("statement.id.uuid", "id", "id must be a UUID in standard string form"))
    _timestamp(s, "stored", entity, path, out)
    v = s.get("version")
    if v is not None and (type(v) is not str or _VERSION_RE.match(v) is None):
        out.append(Violation("statement.version.unsupported", "version",
                             "version must be 1.0 or 1.0.x (Data 2.4.10.s3.b2)"))
    v = s.get("authority")
    if v is not None:
        info = _actor(v, "authority", out)
        if info is not None and info[0] == "Group":
            # Data 2.4.9.s3.b1: a Group authority only for 3-legged OAuth, i.e. an
            # anonymous Group of exactly two Agents (application + user).
            if info[1]:
                out.append(Violation("authority.group.identified", "authority",
                                     "a Group authority must be anonymous"))
            if info[2] != 2:
                out.append(Violation("authority.group.members", "authority",
                                     "a Group authority must have exactly two members"))
    if verb_id == VOIDED_VERB and object_type != "StatementRef":  # Data 2.3.2.s2.b1
        out.append(Violation("statement.voiding.object", "object",
                             "a voiding statement's object must be a StatementRef"))


def validate_statement(stmt: object, *, top_level: str = "statement") -> list[Violation]:
    """Every xAPI 1.0.3 Data rule ``stmt`` breaks; an empty list means valid.

    ``top_level="substatement"`` validates a SubStatement object on its own (as the
    spec's Appendix B example prints it) instead of a full statement.
    """
    out: list[Violation] = []
    if type(stmt) is not dict:
        out.append(Violation("statement.type", "", "a statement must be a JSON object"))
        return out
    if top_level == "statement":
        _statement_body(stmt, "", out, substatement=False)
    elif top_level == "substatement":
        if stmt.get("objectType") != "SubStatement":
            out.append(Violation("substatement.objectType.required", "objectType",
                                 "a SubStatement needs objectType 'SubStatement'"))
        _statement_body(stmt, "", out, substatement=True)
    else:
        raise ValueError(f"top_level must be 'statement' or 'substatement', not {top_level!r}")
    return out


# --------------------------------------------------------------------------- flattening

XAPI_COLUMNS = (
    "statement_id", "actor_id", "verb_id", "verb", "object_id", "course_activity_id",
    "registration", "statement_timestamp", "stored", "score_scaled", "score_raw",
    "score_min", "score_max", "success", "completion", "duration_seconds",
    "voided_statement_id", "xapi_version", "statement_json",
)


# Built once: json.dumps with non-default options constructs an encoder per call.
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _utc_iso(v: object) -> str | None:
    dt = parse_timestamp(v)
    return None if dt is None else dt.isoformat(timespec="microseconds") + "Z"


def _actor_id(actor: object) -> str | None:
    # Learner key preference from sources.md: account.name, mbox, mbox_sha1sum;
    # openid last so an openid-only learner still gets a key.
    if type(actor) is not dict:
        return None
    acc = actor.get("account")
    if type(acc) is dict and type(acc.get("name")) is str:
        return acc["name"]
    mbox = actor.get("mbox")
    if type(mbox) is str:
        return mbox[7:] if mbox.startswith("mailto:") else mbox
    for key in ("mbox_sha1sum", "openid"):
        if type(actor.get(key)) is str:
            return actor[key]
    return None


def _first_activity_id(value: object) -> str | None:
    # contextActivities values may be one Activity or an array (Data 2.4.6.2.s4.b2).
    if type(value) is list:
        value = value[0] if value else None
    if type(value) is dict and type(value.get("id")) is str:
        return value["id"]
    return None


def _last_segment(iri: str) -> str:
    # cmi5 verbs end in a path segment (".../verbs/passed"); some verbs use a fragment.
    cut = max(iri.rfind("/"), iri.rfind("#"))
    return iri[cut + 1:] if cut >= 0 else iri


def _uuid_key(v: object) -> str | None:
    # RFC 4122 hex is case-insensitive; lower case so ids from different exports join and dedupe.
    return v.lower() if type(v) is str else None


def _number(v: object) -> float | None:
    return float(v) if _is_number(v) else None  # type: ignore[arg-type]


def flatten_statement(stmt: dict) -> dict:
    """One ``xapi_statements`` row (canonical_schemas.yml) from a statement.

    Meant for statements that passed ``validate_statement``; malformed parts
    become None rather than raising. Timestamps are UTC ISO strings (module doc);
    UUIDs (statement_id, registration, voided_statement_id) are lower-cased.
    """
    verb = stmt.get("verb")
    verb_id = verb.get("id") if type(verb) is dict and type(verb.get("id")) is str else None
    obj = stmt.get("object")
    obj = obj if type(obj) is dict else {}
    object_id = obj.get("id") if type(obj.get("id")) is str else None

    ctx = stmt.get("context")
    ctx = ctx if type(ctx) is dict else {}
    cas = ctx.get("contextActivities")
    course = None
    if type(cas) is dict:
        course = _first_activity_id(cas.get("parent")) or _first_activity_id(cas.get("grouping"))

    result = stmt.get("result")
    result = result if type(result) is dict else {}
    score = result.get("score")
    score = score if type(score) is dict else {}
    success = result.get("success")
    completion = result.get("completion")
    duration = result.get("duration")

    version = stmt.get("version")
    return {
        "statement_id": _uuid_key(stmt.get("id")),
        "actor_id": _actor_id(stmt.get("actor")),
        "verb_id": verb_id,
        "verb": _last_segment(verb_id) if verb_id else None,
        "object_id": object_id,
        "course_activity_id": course,
        "registration": _uuid_key(ctx.get("registration")),
        "statement_timestamp": _utc_iso(stmt.get("timestamp")),
        "stored": _utc_iso(stmt.get("stored")),
        "score_scaled": _number(score.get("scaled")),
        "score_raw": _number(score.get("raw")),
        "score_min": _number(score.get("min")),
        "score_max": _number(score.get("max")),
        "success": success if type(success) is bool else None,
        "completion": completion if type(completion) is bool else None,
        "duration_seconds": _duration_seconds(duration) if type(duration) is str else None,
        "voided_statement_id": (
            _uuid_key(object_id) if verb_id == VOIDED_VERB and obj.get("objectType") == "StatementRef" else None
        ),
        # Data 2.4.10.s3.b3: a statement without a version is a 1.0.0 statement.
        "xapi_version": version if type(version) is str else "1.0.0",
        "statement_json": _JSON_ENCODER.encode(stmt),
    }
