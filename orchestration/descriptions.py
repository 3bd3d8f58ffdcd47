"""What the Dagster UI says about an asset or a check: sentences, never SQL (issue 17).

- dbt models: the YAML ``description`` (dagster-dbt's default appends the raw SQL, 4,391 characters
  for kpi_summary); a model without one gets a short sentence naming its SQL file.
- dbt tests: the test's YAML ``description`` (or ``meta.description``), else a sentence made from the
  test's name, column and arguments; a singular test: the comment its SQL file opens with.
- the quality gate of a bronze entity: the entity's GX row rules, from the rule catalogue
  (``expectations.suites.expectations_for``: canonical schema + expectations/rules.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any


def _code(value: Any) -> str:
    return f"`{value}`"


def _listed(values, most: int | None = None) -> str:
    """`a`, `b`, `c`; past `most` values, the first ones and how many more."""
    values = list(values)
    most = len(values) if most is None else most
    shown = ", ".join(_code(v) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def model_description(props: Mapping[str, Any]) -> str:
    """The model's YAML description, else one sentence naming its layer and SQL file."""
    own = (props.get("description") or "").strip()
    if own:
        return own
    materialized = (props.get("config") or {}).get("materialized") or "model"
    path = props.get("original_file_path") or f"{props['name']}.sql"
    kind = props.get("resource_type", "model")
    return f"dbt {kind} `{props['name']}` (materialized as {materialized}), built from dbt_project/{path}."


def _ref_name(text: str) -> str:
    found = re.search(r"""ref\(\s*['"]([^'"]+)['"]""", str(text or ""))
    return found.group(1) if found else str(text)


def _range(column, args) -> str:
    low, high = args.get("min_value"), args.get("max_value")
    strict = args.get("inclusive") is False
    if low is not None and high is not None:
        return f"{_code(column)} lies {'strictly ' if strict else ''}between {low} and {high} (nulls pass)."
    if low is not None:
        return f"{_code(column)} is {'above' if strict else 'at least'} {low} (nulls pass)."
    return f"{_code(column)} is {'below' if strict else 'at most'} {high} (nulls pass)."


# One sentence per generic test: what holds when it passes. (column, the test's other arguments).
GENERIC: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "not_null": lambda column, args: f"{_code(column)} is never null.",
    "unique": lambda column, args: f"{_code(column)} is unique: no two rows share a value.",
    "accepted_values": lambda column, args: f"{_code(column)} is one of {_listed(args.get('values') or [])}.",
    "relationships": lambda column, args: (
        f"Every {_code(column)} is found in {_code(args.get('field'))} of {_code(_ref_name(args.get('to')))}."),
    "unique_combination": lambda column, args: (
        f"One row per {_listed(args.get('combination_of_columns') or [])}: no two rows share them."),
    "accepted_range": _range,
    "expression_is_true": lambda column, args: f"{_code(args.get('expression'))} holds on every row.",
    "kpi_rows_well_formed": lambda column, args: (
        "Every KPI row is well formed: keys and flags not null, a known slice grain"
        + (f" ({_listed(args['grains'])})" if args.get("grains") else "")
        + ", each dimension 'all' exactly when the grain does not slice by it, evaluation level 0-5,"
          " and the confidence interval around the estimate."),
    "small_cells_publish_no_rate": lambda column, args: (
        "Small cells publish no figure: a row fills "
        + _listed(args.get("figure_columns") or ["numerator", "denominator", "n", "estimate", "ci_low", "ci_high"], 8)
        + " only when its slice has at least reporting.min_cell_size people (docs/measurement.md)."),
}


def _leading_comment(sql: str) -> str:
    """The `--` comment lines a singular test's SQL opens with, as one paragraph."""
    lines = []
    for line in (sql or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            lines.append(stripped.lstrip("-").strip())
        elif stripped or lines:
            break
    return " ".join(line for line in lines if line)


def dbt_test_description(props: Mapping[str, Any]) -> str:
    """What a dbt test checks, in one or two sentences, and what its failure does."""
    own = ((props.get("description") or "").strip()
           or str((props.get("meta") or {}).get("description") or "").strip()
           or str(((props.get("config") or {}).get("meta") or {}).get("description") or "").strip())
    severity = str((props.get("config") or {}).get("severity") or "error").lower()
    consequence = (" A failure stops the models downstream (severity error)." if severity == "error"
                   else " A failure is reported and blocks nothing (severity warn).")
    if own:
        return own + consequence
    metadata = props.get("test_metadata") or {}
    name = metadata.get("name")
    if not name:  # a singular test: the SQL file under dbt_project/tests/
        said = _leading_comment(props.get("raw_code") or props.get("raw_sql") or "")
        where = props.get("original_file_path") or props["name"]
        sentence = said or f"Singular test dbt_project/{where}: fails when its query returns rows."
        return sentence + consequence
    args = {k: v for k, v in (metadata.get("kwargs") or {}).items() if k not in ("model", "column_name")}
    column = (metadata.get("kwargs") or {}).get("column_name") or props.get("column_name")
    if name in GENERIC:
        sentence = GENERIC[name](column, args)
    else:
        on = f" on {_code(column)}" if column else ""
        given = ", ".join(f"{k}={v}" for k, v in args.items())
        sentence = f"dbt test `{name}`{on}{f' ({given})' if given else ''}: fails when it finds rows."
    return sentence + consequence


def gate_description(entity: str, family: str) -> str:
    """The quality gate of a bronze entity: how it judges, and the entity's row rules from the catalogue."""
    from training_impact.expectations import suites

    rules: dict[str, list[str]] = {}
    columns: dict[str, str] = {}
    for expectation in suites.expectations_for(entity):
        meta = expectation.meta
        rules.setdefault(meta["rule"], [])
        if meta["message"] not in rules[meta["rule"]]:
            rules[meta["rule"]].append(meta["message"])
        columns[meta["rule"]] = meta["column"]
    version, _, _ = suites.suite_version(entity)
    lines = [
        f"Blocking quality gate of the {family} landing files of `{entity}` (expectations/policy.yml, and"
        " quality.max_quarantine_share in config/parameters.yml): rows failing a rule below are quarantined with"
        " the rule's name; a file with too many of them, a rejected file, a volume drop or stale files fail the"
        " gate (block or warn, as the policy says), and at ERROR the marts keep their last good state.",
        "",
        f"Row rules (GX suite `{entity}` v{version}, expectations/rules.py): column, why a row fails, rule name.",
    ]
    lines += [f"- `{columns[rule]}`: {' / '.join(messages)} (`{rule}`)" for rule, messages in rules.items()]
    lines.append("- any column: the value does not parse as the column's type (`invalid_type:<column>`)")
    return "\n".join(lines)
