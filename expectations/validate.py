"""Row validation: which rows of a batch break which rule.

The ingestion calls ``validate_rows`` on each typed file (pandas DataFrame),
quarantines the rows listed in ``RowValidation.failures`` and loads the rest.
It does not import this module: its callers pass ``expectations.row_rules`` in
(``ingest_family(..., row_rules=row_rules)``), which builds the validator of one file.
GX runs the entity's suite on an in-memory copy of the batch (the SQL
datasource does not work on DuckDB, so we never validate in the warehouse).

Failures hold one row per (row, rule, column): a row can break several rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training_impact.ingestion.schemas import EntitySchema
from training_impact.expectations import contexts, rules, suites
from training_impact.expectations.policy import load_policy

FAILURE_COLUMNS = ["row_index", "rule", "column", "value", "message"]
COMPLETE = {"result_format": "COMPLETE"}
# What a stored result keeps of the offending values (Data Docs show these).
PARTIAL_KEEP = 20


class SchemaError(ValueError):
    """The batch lacks required canonical columns: reject the file, not rows."""

    def __init__(self, entity: str, errors: list[str]):
        self.entity = entity
        self.errors = errors
        super().__init__(f"{entity}: " + "; ".join(errors))


@dataclass
class RowValidation:
    entity: str
    source_file: str | None
    as_of: dt.date
    rows: int
    failures: pd.DataFrame
    result: dict[str, Any]
    # The GX result with the per-row lists trimmed; results.record_run stores it.
    gx_result: Any = field(repr=False, default=None)

    @property
    def success(self) -> bool:
        return bool(self.result["success"])

    @property
    def failed_rows(self) -> np.ndarray:
        """Sorted positions of the rows to quarantine."""
        return np.unique(self.failures["row_index"].to_numpy(dtype="int64"))

    def rows_by_rule(self) -> dict[str, int]:
        """Failing rows per rule (a manifest's quarantine_by_rule)."""
        if self.failures.empty:
            return {}
        counts = self.failures.drop_duplicates(["row_index", "rule"])["rule"].value_counts()
        return {str(k): int(v) for k, v in counts.sort_index().items()}


def missing_required_columns(entity: str, columns) -> list[str]:
    """Schema errors as the gate reports them: ``missing_required_column: <col>``."""
    spec = suites.load_schemas()[entity]
    present = set(columns)
    return [f"missing_required_column: {c}" for c in spec.required_columns if c not in present]


def validate_rows(
    entity: str,
    df: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    source_file: str | None = None,
    references: Mapping[str, pd.DataFrame] | None = None,
    parts: np.ndarray | None = None,
) -> RowValidation:
    """Validate every row of ``df`` against the ``entity`` suite.

    ``as_of``: the ingestion date; dates after as_of + tolerance fail
    ``future_date:<col>`` (default: today, UTC).
    ``references``: optional canonical frames by entity name (``workers``,
    ``programs``, ``enrollments``); when given, ids must exist there
    (``unknown_reference:<col>``) and enrollment scores are checked against the
    program's score_min/score_max instead of the default range.
    ``parts``: the landing file of each row (0, 1, ...) when ``df`` holds several files validated in
    one GX call (D119); a key then needs to be unique within its file only.
    """
    specs = suites.load_schemas()
    if entity not in specs:
        raise KeyError(f"unknown entity {entity!r}; known: {', '.join(specs)}")
    spec = specs[entity]
    missing = missing_required_columns(entity, df.columns)
    if missing:
        raise SchemaError(entity, missing)
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    references = dict(references or {})
    policy = load_policy()

    frame, type_failures = _prepare_frame(spec, df)
    if parts is not None:
        frame[rules.FILE_PART] = np.asarray(parts, dtype="int64")
    if entity in rules.PREPARE:
        frame = rules.PREPARE[entity](frame, references, policy["row_rules"])

    ref_rules = rules.REFERENCES.get(entity, [])
    skipped = tuple(sorted({f"unknown_reference:{c}" for c, e, _ in ref_rules if e not in references}))
    params: dict[str, Any] = {
        rules.FUTURE_LIMIT_PARAM: pd.Timestamp(
            as_of + dt.timedelta(days=int(policy["row_rules"]["future_tolerance_days"]) + 1)
        )
    }
    for column, (lo, ahead) in rules.plausible_dates(entity).items():
        params[rules.plausible_min_param(column)] = pd.Timestamp(lo)
        if ahead is not None:
            # strict max: a timestamp late on the last plausible day still passes
            params[rules.plausible_max_param(column)] = pd.Timestamp(as_of + dt.timedelta(days=ahead + 1))
    if entity in (policy["row_rules"].get("organisation_currency") or ()):
        from training_impact.settings import organisation

        params[rules.CURRENCY_PARAM] = [organisation().currency]
    for _, ref_entity, ref_col in ref_rules:
        if ref_entity in references:
            values = references[ref_entity][ref_col].dropna().astype(str).unique().tolist()
            params[rules.reference_param(ref_entity, ref_col)] = values

    suite = _suite(entity, skipped, per_file=parts is not None)
    with contexts.LOCK:
        batch = contexts.batch_definition(entity).get_batch(batch_parameters={"dataframe": frame})
        gx_result = batch.validate(suite, result_format=COMPLETE, expectation_parameters=params)

    failures, per_rule = _collect_failures(gx_result, df, frame, type_failures, params)
    _trim(gx_result)
    gx_result.meta.update({
        "entity": entity,
        "suite_version": suite.meta["suite_version"],
        "suite_fingerprint": suite.meta["fingerprint"],
        "source_file": source_file,
        "files": int(len(np.unique(parts))) if parts is not None else 1,
        "as_of": as_of.isoformat(),
        "rows": int(len(df)),
        "failed_rows": int(failures["row_index"].nunique()),
        "skipped_rules": list(skipped),
    })
    result = {
        "success": failures.empty,
        "gx_success": bool(gx_result.success),
        "suite": entity,
        "suite_version": suite.meta["suite_version"],
        "suite_fingerprint": suite.meta["fingerprint"],
        "statistics": _plain_statistics(gx_result.statistics),
        "rows": int(len(df)),
        "failed_rows": int(failures["row_index"].nunique()),
        "rules": per_rule,
        "skipped_rules": list(skipped),
    }
    return RowValidation(entity, source_file, as_of, int(len(df)), failures, result, gx_result)


def _plain_statistics(stats) -> dict[str, Any]:
    # JSON-ready for Dagster metadata (GX may hand back numpy numbers).
    return {k: (None if v is None else float(v) if k == "success_percent" else int(v))
            for k, v in dict(stats).items()}


_suite_cache: dict[tuple[str, tuple[str, ...], bool], Any] = {}


def _suite(entity: str, skipped: tuple[str, ...], per_file: bool = False):
    key = (entity, skipped, per_file)
    with contexts.LOCK:
        if key not in _suite_cache:
            _suite_cache[key] = suites.build_suite(entity, skip_rules=skipped, per_file=per_file)
        return _suite_cache[key]


# --------------------------------------------------------------------------
# Preparing the validation frame


def _prepare_frame(spec: EntitySchema, df: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Copy of the columns the rules read, positionally indexed (GX reports
    index labels, so labels must equal row positions), with canonical types.
    Values present but unparseable become null and an ``invalid_type`` failure."""
    used = set(suites.columns_used(spec.name))
    frame = pd.DataFrame(index=pd.RangeIndex(len(df)))
    type_failures: list[pd.DataFrame] = []
    for col in spec.columns:
        if col.name not in used and (col.pii or col.type in ("string", "bool")):
            continue
        if col.name not in df.columns:
            # Optional column absent from this vendor's extract: every rule on
            # it skips nulls, so an all-null column is the honest stand-in.
            frame[col.name] = pd.Series(pd.NA if col.type == "string" else np.nan,
                                        index=frame.index, dtype=_null_dtype(col.type))
            continue
        raw = df[col.name].reset_index(drop=True)
        raw = _blank_to_null(raw)
        typed = _coerce(raw, col.type)
        bad = raw.notna().to_numpy() & typed.isna().to_numpy()
        if col.type == "int":
            frac = typed.notna() & ((typed % 1) != 0)
            bad |= frac.to_numpy()
            typed = typed.where(~frac)
        if bad.any():
            idx = np.flatnonzero(bad)
            type_failures.append(pd.DataFrame({
                "row_index": idx,
                "rule": f"invalid_type:{col.name}",
                "column": col.name,
                "value": _as_text(raw.iloc[idx]),
                "message": f"not a valid {col.type}",
            }))
        if col.name in used:
            frame[col.name] = typed
    return frame, type_failures


def _null_dtype(kind: str):
    return {"string": object, "date": "datetime64[ns]", "timestamp": "datetime64[ns]"}.get(kind, "float64")


def _blank_to_null(s: pd.Series) -> pd.Series:
    # An empty or blank string is a missing value to every rule (a CSV cell
    # with spaces must not pass a not-null check).
    if s.dtype != object and pd.api.types.is_string_dtype(s.dtype):
        blank = s.str.strip().eq("").fillna(False).astype(bool)
    elif s.dtype == object:
        blank = s.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    else:
        return s
    return s.astype(object).where(~blank, None) if blank.any() else s


_NS_MIN, _NS_MAX = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _coerce(s: pd.Series, kind: str) -> pd.Series:
    if kind in ("date", "timestamp"):
        if pd.api.types.is_datetime64_any_dtype(s.dtype) and not isinstance(s.dtype, pd.ArrowDtype):
            out = s
        else:
            # Strings must be ISO 8601: the vendor mapping converts its date
            # formats first, so anything else here is an unparsed value.
            out = pd.to_datetime(s.astype(object), errors="coerce", utc=True, format="ISO8601")
        if getattr(out.dt, "tz", None) is not None:
            # Compare instants in UTC; the as-of limit is a naive UTC timestamp.
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        # Nanosecond resolution: GX's between check is vectorised only for
        # datetime64[ns] and falls back to a per-row Python loop otherwise.
        # Open-ended HR dates (9999-12-31) do not fit in ns: clip them to the
        # ns range, which keeps every order and future-date comparison intact.
        out = out.clip(lower=_NS_MIN, upper=_NS_MAX).astype("datetime64[ns]")
        if kind == "date":
            out = out.dt.normalize()
        return out
    if kind in ("int", "float", "decimal"):
        if isinstance(s.dtype, pd.ArrowDtype):
            try:
                return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
            except (TypeError, ValueError):
                s = s.astype(object)
        if pd.api.types.is_bool_dtype(s.dtype):
            return pd.Series(np.nan, index=s.index)  # a flag is not a number
        if pd.api.types.is_numeric_dtype(s.dtype):
            return s.astype("float64")
        return pd.to_numeric(s.astype(object), errors="coerce").astype("float64")
    if kind == "string":
        # Ids compare as text: a worker_id read as 123 must match "123" in a reference.
        if s.dtype != object and pd.api.types.is_string_dtype(s.dtype):
            return s.astype(object).where(s.notna(), None)
        return s.map(lambda v: v if v is None or isinstance(v, str) else (None if pd.isna(v) else str(v)))
    return s


def _as_text(values: pd.Series) -> list[str | None]:
    """Values as the quarantine shows them: dates as ISO, integral floats as ints."""
    out: list[str | None] = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT or v is pd.NA:
            out.append(None)
        elif isinstance(v, pd.Timestamp):
            out.append(v.date().isoformat() if v == v.normalize() else v.isoformat())
        elif isinstance(v, (dt.datetime, dt.date)):
            out.append(v.isoformat())
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


# --------------------------------------------------------------------------
# From GX results to failure rows


def _collect_failures(gx_result, df, frame, type_failures, params):
    parts: list[pd.DataFrame] = list(type_failures)
    per_rule: dict[str, dict[str, Any]] = {}
    duplicate_results = []
    for r in gx_result.results:
        meta = r.expectation_config.meta or {}
        rule = meta["rule"]
        entry = per_rule.setdefault(rule, {
            "expectation_type": r.expectation_config.type,
            "column": meta["column"],
            "success": True,
            "unexpected_count": 0,
        })
        if r.exception_info and r.exception_info.get("raised_exception"):
            # A rule that cannot be evaluated is a bug in the rule or the
            # typing, not bad data: stop rather than load unchecked rows.
            raise RuntimeError(f"rule {rule} failed to run: {r.exception_info.get('exception_message')}")
        entry["success"] = entry["success"] and bool(r.success)
        if r.success:
            continue
        idx = np.asarray(r.result.get("unexpected_index_list") or [], dtype="int64")
        if meta["kind"] == "unique":
            duplicate_results.append((meta, idx))
            continue
        parts.append(_failure_rows(meta, idx, df, frame, params))

    if duplicate_results:
        failing_other = set(pd.concat(parts)["row_index"].tolist()) if parts else set()
        for meta, idx in duplicate_results:
            parts.append(_duplicate_rows(meta, idx, frame, failing_other))

    failures = (pd.concat(parts, ignore_index=True) if parts
                else pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_index" else object)
                                   for c in FAILURE_COLUMNS}))
    # Two checks can share a rule name (score below min / above max): one line per cause.
    failures = (failures.drop_duplicates(["row_index", "rule", "column"])
                .sort_values(["row_index", "rule"], kind="stable")
                .reset_index(drop=True)[FAILURE_COLUMNS])
    failures["row_index"] = failures["row_index"].astype("int64")
    counts = failures.drop_duplicates(["row_index", "rule"])["rule"].value_counts()
    for rule, n in counts.items():
        per_rule.setdefault(rule, {"expectation_type": None, "column": rule.split(":", 1)[-1],
                                   "success": False, "unexpected_count": 0})
        per_rule[rule]["unexpected_count"] = int(n)
        per_rule[rule]["success"] = False
    return failures, per_rule


def _failure_rows(meta, idx, df, frame, params) -> pd.DataFrame:
    column = meta["column"]
    source = df[column].reset_index(drop=True) if column in df.columns else frame[column]
    values = _as_text(source.iloc[idx])
    message: Any = meta["message"]
    if meta["kind"] in ("order", "order_reversed"):
        other = _as_text(frame[meta["other"]].iloc[idx])
        message = [f"{meta['message']} ({o})" for o in other]
    elif meta["kind"] == "future":
        limit = params[rules.FUTURE_LIMIT_PARAM] - pd.Timedelta(days=1)
        message = f"{meta['message']} ({limit.date().isoformat()})"
    elif meta["kind"] == "currency":
        accepted = ", ".join(params.get(rules.CURRENCY_PARAM) or [])
        message = [f"{v} {meta['message']}, {accepted} ({meta['setting']} in config/parameters.yml)" for v in values]
    elif meta["kind"] == "plausible":
        top = params.get(rules.plausible_max_param(column))
        bounds = f"{meta['min_date']} .. " + ((top - pd.Timedelta(days=1)).date().isoformat() if top is not None
                                              else "open")
        message = f"{meta['message']} (plausible {bounds}, config/parameters.yml plausible_dates)"
    return pd.DataFrame({"row_index": idx, "rule": meta["rule"], "column": column,
                         "value": values, "message": message})


def _duplicate_rows(meta, idx, frame, failing_other: set[int]) -> pd.DataFrame:
    """GX flags every row of a duplicated key. Keep one per key and report the
    rest as ``duplicate_key``: the kept row is the first that breaks no other
    rule (so the load keeps a good row when one exists), else the first."""
    key = meta["key"]
    within = [rules.FILE_PART] if rules.FILE_PART in frame.columns else []  # several files: a key per file
    rows = frame.loc[idx, key + within].copy()
    rows["_pos"] = idx
    rows["_bad"] = rows["_pos"].isin(failing_other)
    rows = rows.sort_values(["_bad", "_pos"], kind="stable")
    key_text = pd.Series(["|".join(t) for t in zip(*(_as_text(rows[k]) for k in key))],
                         index=rows.index, dtype=object)
    rows["_key"] = key_text
    keeper = rows.groupby(["_key", *within], sort=False)["_pos"].transform("first")
    dup = rows[rows["_pos"] != keeper]
    return pd.DataFrame({
        "row_index": dup["_pos"].to_numpy(dtype="int64"),
        "rule": "duplicate_key",
        "column": meta["column"],
        "value": dup["_key"].tolist(),
        # No position in the message: the caller may validate a filtered or
        # batched slice, so "row 3" here would not be row 3 of the file.
        "message": "duplicate key: another row with this key is kept",
    })


def _trim(gx_result) -> None:
    """Drop the per-row lists from the GX result: they can hold 100k entries
    and the failures table already has them; the stored result and Data Docs
    keep GX's partial lists (first 20), except for rules over a worker id or a
    direct identifier, whose offending values stay in the raw zone (SECURITY.md)."""
    from training_impact.privacy import IDENTIFIER_COLUMNS

    for r in gx_result.results:
        res = r.result or {}
        for k in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
            res.pop(k, None)
        kwargs = r.expectation_config.kwargs
        columns = {kwargs.get(k) for k in ("column", "column_A", "column_B")} | set(kwargs.get("column_list") or [])
        if columns & IDENTIFIER_COLUMNS:
            for k in [k for k in res if k.startswith("partial_unexpected")]:
                res[k] = []
        for k in ("partial_unexpected_list", "partial_unexpected_index_list"):
            if isinstance(res.get(k), list):
                res[k] = res[k][:PARTIAL_KEEP]
        if r.expectation_config.meta.get("kind") == "reference":
            # The resolved value set is the whole reference id list.
            r.expectation_config.kwargs["value_set"] = {
                "$PARAMETER": rules.reference_param(*r.expectation_config.meta["reference"].split("."))
            }
