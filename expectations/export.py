"""Formula-injection hygiene for anything opened in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage
return, which some spreadsheets strip before parsing) is run as a formula by
Excel, LibreOffice and Google Sheets. Free text from surveys, memos or vendor
files reaches our CSV/XLSX exports, so such values get a leading ``'``.
Numbers are left alone: a numeric column's -12.5 is data, and a text cell that
is exactly a plain number ("-12.5") is read as a number, not a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_formula(value: Any) -> Any:
    """``'``-prefix a string a spreadsheet would run as a formula; anything else
    (numbers, None, plain numeric text, ordinary text) comes back unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Copy of ``df`` with the text columns neutralised (all text columns by
    default). Numeric, boolean and date columns are never touched."""
    out = df.copy()
    targets = list(columns) if columns is not None else list(df.columns)
    for col in targets:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype) \
                or pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise_formula, na_action="ignore")
    return out
