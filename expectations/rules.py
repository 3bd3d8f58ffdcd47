"""Row rules: the vocabulary of checks and the hand-written rules per entity.

Every check is a GX expectation whose ``meta`` carries its stable rule name
(``meta["rule"]``), the canonical column it reports against, the kind of check
and a short message. Those names go into the quarantine table and the run
summary, so renaming one is a breaking change: bump the suite version.

Naming:
- rules derived from ``ingestion/canonical_schemas.yml`` use the GX expectation
  name: ``expect_column_values_to_not_be_null:<col>``,
  ``expect_column_values_to_be_between:<col>``,
  ``expect_column_values_to_be_in_set:<col>``;
- the key check is ``duplicate_key`` (whatever the key columns);
- hand-written rules say what they check: ``date_order:<a>>=<b>``,
  ``future_date:<col>``, ``implausible_date:<col>``, ``score_range:<col>``, ``score_order:<a>>=<b>``,
  ``offset_sign:amount``, ``amount_range:amount``,
  ``accepted_currency:currency``, ``unknown_reference:<col>``;
- ``invalid_type:<col>`` is raised before GX runs, for values that do not
  parse as the canonical type (see ``validate.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from training_impact.expectations._gx import gxe
from great_expectations.expectations.row_conditions import Column

# Suite parameters filled at validation time, so the versioned suite does not
# change with the run date or with the reference data.
FUTURE_LIMIT_PARAM = "future_limit"


def plausible_min_param(column: str) -> str:
    return f"plausible_min_{column}"


def plausible_max_param(column: str) -> str:
    return f"plausible_max_{column}"


def reference_param(ref_entity: str, ref_column: str) -> str:
    return f"ref_{ref_entity}_{ref_column}"


# The organisation's currency (config/parameters.yml organisation.currency), filled at validation time:
# the one place a company sets it, and the suite (and its lock) stay the same whatever it is (D136).
CURRENCY_PARAM = "organisation_currency"


# --------------------------------------------------------------------------
# Rule constructors


def _meta(rule: str, column: str, kind: str, message: str, **extra: Any) -> dict:
    return {"rule": rule, "column": column, "kind": kind, "message": message, **extra}


def not_null(column: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(
        column=column,
        meta=_meta(
            f"expect_column_values_to_not_be_null:{column}",
            column,
            "not_null",
            "required value is missing",
        ),
    )


def between(column: str, min_value: float | None, max_value: float | None) -> gxe.Expectation:
    if min_value is not None and max_value is not None:
        bounds = f"must be between {_num(min_value)} and {_num(max_value)}"
    elif min_value is not None:
        bounds = f"must be >= {_num(min_value)}"
    else:
        bounds = f"must be <= {_num(max_value)}"
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=min_value,
        max_value=max_value,
        meta=_meta(
            f"expect_column_values_to_be_between:{column}",
            column,
            "between",
            bounds,
        ),
    )


def in_set(column: str, values: list[str]) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set=list(values),
        meta=_meta(
            f"expect_column_values_to_be_in_set:{column}",
            column,
            "in_set",
            # Strict on case: vendor values are mapped to canonical ones before
            # validation, so "Completed" here means a missing value map.
            "not an accepted value (" + ", ".join(values) + ")",
        ),
    )


# The landing file of each row, when several files are validated in one call (validate.validate_rows(parts=)):
# a key need only be unique within its file, as when each file was validated alone (DECISIONS D119).
FILE_PART = "_file_part"


def unique_key(key: list[str], within: str | None = None) -> gxe.Expectation:
    """`within`: a column the uniqueness is scoped to (FILE_PART); the rule and its meta stay the same."""
    meta = _meta("duplicate_key", "+".join(key), "unique", "duplicate key", key=list(key))
    if len(key) == 1 and within is None:
        return gxe.ExpectColumnValuesToBeUnique(column=key[0], meta=meta)
    # Rows with a null key part already fail not_null; ignoring them here keeps
    # one failure per cause.
    return gxe.ExpectCompoundColumnsToBeUnique(
        column_list=list(key) + ([within] if within else []), ignore_row_if="any_value_is_missing", meta=meta
    )


def date_order(later: str, earlier: str) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        meta=_meta(
            f"date_order:{later}>={earlier}",
            later,
            "order",
            f"is before {earlier}",
            other=earlier,
        ),
    )


def future_date(column: str, tolerance_days: int) -> gxe.Expectation:
    # The limit is the first instant after as_of + tolerance (strict max), so a
    # timestamp late on the last tolerated day still passes.
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        max_value={"$PARAMETER": FUTURE_LIMIT_PARAM},
        strict_max=True,
        meta=_meta(
            f"future_date:{column}",
            column,
            "future",
            f"is later than the as-of date + {tolerance_days} days",
        ),
    )


def implausible_date(column: str, min_date: str, max_days_ahead: int | None) -> gxe.Expectation:
    """A date before ``min_date`` or after the as-of date + ``max_days_ahead`` (config/parameters.yml
    ``plausible_dates``). The bounds arrive as suite parameters (the max moves with the run date);
    the configured values are in ``meta``, so changing one changes the suite fingerprint."""
    if max_days_ahead is None:
        message = f"is before {min_date}, earlier than any plausible value"
    else:
        message = f"is outside the plausible range {min_date} .. as-of date + {max_days_ahead} days"
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value={"$PARAMETER": plausible_min_param(column)},
        max_value=None if max_days_ahead is None else {"$PARAMETER": plausible_max_param(column)},
        strict_max=max_days_ahead is not None,
        meta=_meta(
            f"implausible_date:{column}",
            column,
            "plausible",
            message,
            min_date=str(min_date),
            max_days_ahead=max_days_ahead,
        ),
    )


def plausible_dates(entity: str, parameters: Mapping[str, Any] | None = None) -> dict[str, tuple[str, int | None]]:
    """{column: (min date ISO, max days after the as-of date or None)} of config/parameters.yml
    ``plausible_dates.<entity>`` (DECISIONS D88)."""
    if parameters is None:
        from training_impact.settings import load_parameters

        parameters = load_parameters()
    cfg = ((parameters or {}).get("plausible_dates") or {}).get(entity) or {}
    out: dict[str, tuple[str, int | None]] = {}
    for column, spec in cfg.items():
        spec = spec if isinstance(spec, Mapping) else {"min": spec}
        minimum = spec.get("min")
        if minimum is None:
            raise ValueError(f"plausible_dates.{entity}.{column} needs a min date (config/parameters.yml)")
        ahead = spec.get("max_days_ahead")
        out[str(column)] = (str(minimum), None if ahead is None else int(ahead))
    return out


def score_range(column: str, min_column: str, max_column: str, label: str) -> list[gxe.Expectation]:
    """Score between two per-row bounds (two pair checks, one rule name)."""
    rule = f"score_range:{column}"
    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=column,
            column_B=min_column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta(rule, column, "order", f"is below {label} minimum", other=min_column),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=max_column,
            column_B=column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta(rule, column, "order_reversed", f"is above {label} maximum", other=max_column),
        ),
    ]


def score_order(max_column: str, min_column: str) -> gxe.Expectation:
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=max_column,
        column_B=min_column,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        meta=_meta(
            f"score_order:{max_column}>={min_column}",
            max_column,
            "order",
            f"is below {min_column}",
            other=min_column,
        ),
    )


def offset_sign(categories: list[str]) -> gxe.Expectation:
    # Grants and tax credits reduce cost; a positive line means the sign was
    # not flipped by the vendor mapping and would be counted as spend.
    return gxe.ExpectColumnValuesToBeBetween(
        column="amount",
        max_value=0,
        row_condition=Column("cost_category").is_in(list(categories)),
        meta=_meta(
            "offset_sign:amount",
            "amount",
            "between",
            "must be <= 0 for " + "/".join(categories) + " lines (offsets)",
        ),
    )


def amount_range(max_abs: float) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column="amount",
        min_value=-max_abs,
        max_value=max_abs,
        meta=_meta("amount_range:amount", "amount", "between", f"|amount| must not exceed {_num(max_abs)}"),
    )


def accepted_currency() -> gxe.Expectation:
    """Money in another currency than the organisation's: the warehouse has no exchange rates. The
    accepted value arrives as a suite parameter from config/parameters.yml organisation.currency."""
    return gxe.ExpectColumnValuesToBeInSet(
        column="currency",
        value_set={"$PARAMETER": CURRENCY_PARAM},
        meta=_meta(
            "accepted_currency:currency",
            "currency",
            "currency",
            "is not the organisation's currency",
            setting="organisation.currency",
        ),
    )


def unknown_reference(column: str, ref_entity: str, ref_column: str) -> gxe.Expectation:
    # The value set arrives as a suite parameter: the suite stays versioned,
    # the reference data changes every run.
    return gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set={"$PARAMETER": reference_param(ref_entity, ref_column)},
        meta=_meta(
            f"unknown_reference:{column}",
            column,
            "reference",
            f"not found in {ref_entity}.{ref_column}",
            reference=f"{ref_entity}.{ref_column}",
        ),
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------
# Hand-written rules per entity

# Dates that cannot lie in the future. Left out on purpose: hire_date (pre-hires),
# termination_date (notice periods), job_history.effective_date (HRIS records
# arrive future-dated), expires_on.
FUTURE_DATE_COLUMNS: dict[str, list[str]] = {
    "productivity": ["period"],
    "ratings": ["evaluation_date"],
    "enrollments": ["enrolled_at", "started_at", "completion_date"],
    "xapi_statements": ["statement_timestamp", "stored"],
    "credentials": ["issued_on"],
    "cost_lines": ["posting_date"],
    "survey_responses": ["started_at", "ended_at"],
}

# (column, reference entity, reference column): checked only when the caller
# passes that reference entity to validate_rows.
REFERENCES: dict[str, list[tuple[str, str, str]]] = {
    "job_history": [("worker_id", "workers", "worker_id")],
    "productivity": [("worker_id", "workers", "worker_id")],
    "worker_attributes": [("worker_id", "workers", "worker_id")],
    "ratings": [("worker_id", "workers", "worker_id")],
    "enrollments": [("worker_id", "workers", "worker_id"), ("program_id", "programs", "program_id")],
    "credentials": [("worker_id", "workers", "worker_id"), ("program_id", "programs", "program_id")],
    "cost_lines": [("worker_id", "workers", "worker_id"), ("program_id", "programs", "program_id")],
    "survey_responses": [
        ("worker_id", "workers", "worker_id"),
        ("program_id", "programs", "program_id"),
        ("enrollment_id", "enrollments", "enrollment_id"),
    ],
}

# Helper columns added by `prepare` (never part of the canonical data).
SCORE_MIN_COL = "_score_min"
SCORE_MAX_COL = "_score_max"


def extra_rules(entity: str, row_rules: Mapping[str, Any]) -> list[gxe.Expectation]:
    """Hand-written rules for one entity, beyond what the canonical schema says."""
    tolerance = int(row_rules["future_tolerance_days"])
    rules: list[gxe.Expectation] = []
    currency_checked = entity in (row_rules.get("organisation_currency") or ())

    if entity == "workers":
        rules += [date_order("termination_date", "hire_date"),
                  date_order("hire_date", "original_hire_date")]
    elif entity == "job_history":
        rules += [accepted_currency()] if currency_checked else []
    elif entity == "programs":
        rules += [score_order("score_max", "score_min"),
                  *score_range("mastery_score", "score_min", "score_max", "the program's")]
    elif entity == "enrollments":
        rules += [date_order("completion_date", "enrolled_at"),
                  *score_range("score", SCORE_MIN_COL, SCORE_MAX_COL, "the program's")]
    elif entity == "xapi_statements":
        rules += [score_order("score_max", "score_min"),
                  *score_range("score_raw", "score_min", "score_max", "the statement's")]
    elif entity == "credentials":
        rules += [date_order("expires_on", "issued_on")]
    elif entity == "cost_lines":
        rules += [offset_sign(["grant", "tax_credit"]),
                  amount_range(float(row_rules["max_abs_amount"]))]
        rules += [accepted_currency()] if currency_checked else []
    elif entity == "survey_responses":
        rules += [date_order("ended_at", "started_at")]

    rules += [future_date(c, tolerance) for c in FUTURE_DATE_COLUMNS.get(entity, [])]
    rules += [implausible_date(c, lo, ahead) for c, (lo, ahead) in plausible_dates(entity).items()]
    rules += [unknown_reference(c, e, rc) for c, e, rc in REFERENCES.get(entity, [])]
    return rules


def _prepare_enrollments(
    frame: pd.DataFrame, references: Mapping[str, pd.DataFrame], row_rules: Mapping[str, Any]
) -> pd.DataFrame:
    """Per-row score bounds: the program's score_min/score_max where the catalogue
    gives both, else the default range (0-100 unless the policy says otherwise)."""
    lo, hi = (float(v) for v in row_rules["default_score_range"])
    score_min = pd.Series(lo, index=frame.index, dtype="float64")
    score_max = pd.Series(hi, index=frame.index, dtype="float64")
    programs = references.get("programs")
    if programs is not None and {"program_id", "score_min", "score_max"} <= set(programs.columns):
        bounds = programs[["program_id", "score_min", "score_max"]].copy()
        bounds["score_min"] = pd.to_numeric(bounds["score_min"].astype(object), errors="coerce")
        bounds["score_max"] = pd.to_numeric(bounds["score_max"].astype(object), errors="coerce")
        bounds = bounds.dropna().drop_duplicates("program_id", keep="last").set_index("program_id")
        ids = frame["program_id"].astype(object)
        known_min = ids.map(bounds["score_min"]).astype("float64")
        known_max = ids.map(bounds["score_max"]).astype("float64")
        score_min = known_min.fillna(score_min)
        score_max = known_max.fillna(score_max)
    frame[SCORE_MIN_COL] = score_min
    frame[SCORE_MAX_COL] = score_max
    return frame


PREPARE: dict[str, Callable[[pd.DataFrame, Mapping[str, pd.DataFrame], Mapping[str, Any]], pd.DataFrame]] = {
    "enrollments": _prepare_enrollments,
}

__all__ = [
    "CURRENCY_PARAM",
    "FUTURE_DATE_COLUMNS",
    "FUTURE_LIMIT_PARAM",
    "PREPARE",
    "REFERENCES",
    "extra_rules",
    "implausible_date",
    "plausible_dates",
    "plausible_max_param",
    "plausible_min_param",
    "reference_param",
]
