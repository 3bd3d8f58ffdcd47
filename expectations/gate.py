"""Source-level gate: may a family's new files flow on to staging?

Row rules quarantine single rows; this gate judges whole files from the
ingestion manifest (one report per file) and decides whether the family's
downstream assets may run. Policy: ``policy.yml`` (``gate`` section) plus
``quality.max_quarantine_share`` from ``config/parameters.yml``.

Every message names the file and the rule, ``<source_file>: <rule>: <detail>``,
e.g. ``hris/workers_2026-10-31.csv: missing_required_column: hire_date``.

A file report is a dict with ``source_file, entity, status (loaded |
duplicate | rejected), reason, rows_read, rows_loaded, rows_quarantined,
quarantine_by_rule`` and, optionally, for the volume check,
``previous_loads`` (earlier loads of the same entity and cadence, newest first:
``[{"source_file", "rows_loaded"}]``) or just ``previous_rows_loaded``.

Volume: a file is compared with the median (low median) of the last
``volume_drop.baseline_files`` loads of its series, not only the one before it.
Monthly ratings peak in review months; a median of three months ignores one
peak, so the quiet month after a review is not a "drop", while a real fall in
a steady source (productivity, snapshots) still shows.

Freshness: ``freshness`` (from ``ingestion.landing_freshness``) says how old
the newest landing file of the entity is; older than ``freshness.max_age_days``
(per entity overrides in ``freshness.per_entity``) -> ``freshness.action``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from training_impact.expectations.policy import load_policy

ACTIONS = ("block", "warn", "ignore")
REQUIRED_KEYS = ("source_file", "entity", "status", "rows_read", "rows_loaded", "rows_quarantined")


@dataclass(frozen=True)
class GateOutcome:
    passed: bool          # nothing to report at all
    blocking: bool        # at least one blocking failure: downstream must not run
    failures: list[str]   # blocking failures first, then warnings
    metadata: dict[str, Any] = field(default_factory=dict)


def evaluate_gate(
    family: str,
    file_reports: list[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    entity: str | None = None,
    policy: Mapping[str, Any] | None = None,
    freshness: Mapping[str, Any] | None = None,
) -> GateOutcome:
    """Judge one family's (or, with ``entity``, one entity's) file reports of a run.

    ``freshness``: ``ingestion.landing_freshness(...)`` of the entity, when known.
    """
    gate = dict((policy or load_policy())["gate"])
    policy_version = (policy or load_policy()).get("version")
    try:
        max_q = float(params["quality"]["max_quarantine_share"])
    except (KeyError, TypeError) as exc:
        raise KeyError("params need quality.max_quarantine_share (config/parameters.yml)") from exc
    volume = dict(gate.get("volume_drop") or {})
    fresh_policy = dict(gate.get("freshness") or {})
    for name, action in [("row_failures", gate.get("row_failures", "warn")),
                         ("empty_file", gate.get("empty_file", "warn")),
                         ("no_files", gate.get("no_files", "warn")),
                         ("duplicate_file", gate.get("duplicate_file", "warn")),
                         ("not_a_regular_file", gate.get("not_a_regular_file", "warn")),
                         ("volume_drop.action", volume.get("action", "warn")),
                         ("freshness.action", fresh_policy.get("action", "warn"))]:
        if action not in ACTIONS:
            raise ValueError(f"policy gate.{name} must be one of {ACTIONS}, not {action!r}")
    ref_prefixes = tuple(gate.get("reference_rule_prefixes") or ())
    max_ref = float(gate.get("max_reference_failure_share", 0.0))
    min_share_rows = int(gate.get("min_rows_for_file_share", 0))
    min_failed = int(gate.get("min_failed_rows", 0))

    blocking: list[str] = []
    warnings: list[str] = []

    def report(action: str, message: str) -> str:
        if action == "block":
            blocking.append(message)
        elif action == "warn":
            warnings.append(message)
        return action

    statuses: Counter[str] = Counter()
    totals = Counter()
    by_rule: Counter[str] = Counter()
    per_file: list[dict[str, Any]] = []
    small_files_loaded = False

    for rep in file_reports:
        missing = [k for k in REQUIRED_KEYS if k not in rep]
        if missing:
            raise ValueError(f"file report {rep.get('source_file', '?')} lacks {missing}")
        src, status = str(rep["source_file"]), str(rep["status"])
        statuses[status] += 1
        n_before = len(blocking), len(warnings)
        read, loaded, quarantined = (int(rep[k] or 0) for k in ("rows_read", "rows_loaded", "rows_quarantined"))
        rules = {str(k): int(v) for k, v in (rep.get("quarantine_by_rule") or {}).items() if int(v) > 0}

        if status == "duplicate":
            # The same bytes were loaded before: nothing new to judge. Under another
            # name it is a redelivery, set aside: worth a word, not a block.
            if rep.get("rejected_file"):
                report(gate.get("duplicate_file", "warn"), f"{src}: {rep.get('reason') or 'duplicate'}")
        elif status == "rejected":
            # Schema errors (missing columns, unreadable file): nothing of the
            # file loaded, and the family's picture is incomplete.
            reasons = [r.strip() for r in str(rep.get("reason") or "rejected").split(";") if r.strip()]
            for reason in reasons:
                # A symlink, FIFO or device in landing/ is no delivery: set aside, nothing lost (D87).
                special = reason.startswith("not_a_regular_file:")
                report(gate.get("not_a_regular_file", "warn") if special else "block", f"{src}: {reason}")
        elif status == "loaded":
            totals.update(rows_read=read, rows_loaded=loaded, rows_quarantined=quarantined)
            by_rule.update(rules)
            if read != loaded + quarantined:
                # A row neither loaded nor quarantined was lost: the counts
                # behind every KPI would be wrong.
                report("block", f"{src}: reconciliation: rows_read {read} != rows_loaded {loaded}"
                                f" + rows_quarantined {quarantined}")
            if read == 0:
                report(gate.get("empty_file", "warn"), f"{src}: empty_file: no data rows")
            # Shares of tiny files swing on one row: judge them only in the run's total below.
            judge_file = read >= min_share_rows
            small_files_loaded |= not judge_file
            blocked_rules = _share_failures(report, src, read, quarantined, rules, ref_prefixes,
                                            max_ref, max_q, min_failed) if judge_file else set()
            for r, n in sorted(rules.items()):
                if r not in blocked_rules:
                    report(gate.get("row_failures", "warn"), f"{src}: {r}: {n} rows quarantined")
            prev, basis = _volume_baseline(rep, int(volume.get("baseline_files", 1)))
            if prev is not None and prev >= int(volume.get("min_previous_rows", 0)) and prev > 0:
                drop = 1 - loaded / prev
                if drop > float(volume.get("max_drop_share", 1.0)):
                    report(volume.get("action", "warn"),
                           f"{src}: volume_drop: {loaded} rows loaded vs {prev} {basis}"
                           f" ({drop:.0%} fewer)")
        else:
            raise ValueError(f"{src}: unknown status {status!r} (loaded | duplicate | rejected)")

        per_file.append({
            "source_file": src, "entity": rep["entity"], "status": status,
            "rows_read": read, "rows_loaded": loaded, "rows_quarantined": quarantined,
            "verdict": ("block" if len(blocking) > n_before[0]
                        else "warn" if len(warnings) > n_before[1] else "pass"),
        })

    if small_files_loaded and totals["rows_read"]:
        scope = f"{family}/{entity}" if entity else family
        _share_failures(report, f"{scope} (all files this run)", totals["rows_read"],
                        totals["rows_quarantined"], dict(by_rule), ref_prefixes, max_ref, max_q, min_failed)

    # An optional entity (canonical_schemas.yml) that was never delivered is not late or missing.
    never_delivered = (not file_reports and _optional_entity(entity)
                       and (freshness is None or freshness.get("newest_file") is None))
    if not file_reports and not never_delivered:
        scope = f"{family}/{entity}" if entity else family
        report(gate.get("no_files", "warn"), f"{scope}: no_files: no new files this run")

    fresh_meta = None
    if freshness is not None and not never_delivered:
        scope = f"{family}/{entity}" if entity else family
        fresh_meta = _check_freshness(report, scope, freshness, fresh_policy, entity)

    read_total = totals["rows_read"]
    metadata = {
        "family": family,
        "entity": entity,
        "policy_version": policy_version,
        "max_quarantine_share": max_q,
        "files": {s: statuses.get(s, 0) for s in ("loaded", "duplicate", "rejected")},
        "rows_read": read_total,
        "rows_loaded": totals["rows_loaded"],
        "rows_quarantined": totals["rows_quarantined"],
        "quarantine_share": round(totals["rows_quarantined"] / read_total, 6) if read_total else 0.0,
        "quarantine_by_rule": dict(sorted(by_rule.items())),
        "blocking_failures": blocking,
        "warnings": warnings,
        "per_file": per_file,
        "freshness": fresh_meta,
    }
    failures = blocking + warnings
    return GateOutcome(passed=not failures, blocking=bool(blocking), failures=failures, metadata=metadata)


def _optional_entity(entity: str | None) -> bool:
    if entity is None:
        return False
    from training_impact.ingestion.schemas import load_schemas

    try:
        return load_schemas().entity(entity).optional
    except KeyError:
        return False


def _share_failures(report, src: str, read: int, quarantined: int, rules: dict[str, int],
                    ref_prefixes: tuple[str, ...], max_ref: float, max_q: float, min_failed: int = 0) -> set[str]:
    """Block on too many unknown references or too many quarantined rows; return the rules blamed.

    Fewer than ``min_failed`` failing rows never block on a share: in a 130-row
    extract two rows are 1.5%, which says nothing about the source (they still
    warn, and they are quarantined either way).
    """
    blamed: set[str] = set()
    ref_rules = {r: n for r, n in rules.items() if ref_prefixes and r.startswith(ref_prefixes)}
    n_ref = sum(ref_rules.values())
    if read and n_ref >= min_failed and n_ref / read > max_ref:
        for r, n in sorted(ref_rules.items()):
            report("block", f"{src}: {r}: {n} of {read} rows ({n / read:.1%}) point at unknown ids;"
                            f" limit {max_ref:.1%} for reference rules")
        blamed |= set(ref_rules)
    share = quarantined / read if read else 0.0
    if share > max_q and quarantined >= min_failed:
        top = ", ".join(f"{r} ({n})" for r, n in sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
        report("block", f"{src}: quarantine_share: {quarantined} of {read} rows ({share:.1%})"
                        f" quarantined, limit {max_q:.1%}" + (f"; top rules: {top}" if top else ""))
        blamed |= set(rules)
    return blamed


def _volume_baseline(rep: Mapping[str, Any], baseline_files: int) -> tuple[int | None, str]:
    """(rows to compare with, how the text names it) from the file's series history."""
    loads = [int(p.get("rows_loaded") or 0) for p in (rep.get("previous_loads") or [])][:max(1, baseline_files)]
    if len(loads) > 1:
        return int(statistics.median_low(loads)), f"(median of the last {len(loads)} loads of this series)"
    if loads:
        return loads[0], "in the previous load"
    prev = rep.get("previous_rows_loaded")
    return (int(prev), "in the previous load") if prev is not None else (None, "")


def _check_freshness(report, scope: str, freshness: Mapping[str, Any], policy: Mapping[str, Any],
                     entity: str | None) -> dict[str, Any]:
    per_entity = dict(policy.get("per_entity") or {})
    limit = per_entity.get(entity or freshness.get("entity"), policy.get("max_age_days"))
    meta = {**dict(freshness), "max_age_days": limit}
    if limit is None:
        return meta
    action = policy.get("action", "warn")
    newest, age = freshness.get("newest_file"), freshness.get("age_days")
    if newest is None:
        report(action, f"{scope}: freshness: no landing file at all")
    elif float(age) > float(limit):
        report(action, f"{scope}: freshness: newest landing file {newest} is {float(age):.0f} days old"
                       f" (delivered {str(freshness.get('modified_at'))[:10]}), limit {limit} days")
    return meta
