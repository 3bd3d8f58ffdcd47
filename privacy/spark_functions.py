"""The privacy functions on a Spark session: Spark's side of privacy/dbt_plugin.py.

The same names and the same Python code as on DuckDB (macros/privacy.sql calls them), so the
pseudonyms, surrogate keys and redacted texts are identical on both engines. The key is read in
the driver (privacy.keys.require_key) and lives only inside the object the UDF
calls (SparkPseudonym): Spark pickles that closure to its Python workers, never into SQL, a plan string or
a log line (the functions are registered by name; the SQL only says ``ti_pseudonym(x)``).

Workers import this package by its installed name (``training_impact.privacy``), so they must run
the driver's interpreter: ``PYSPARK_PYTHON`` is set to it before the session starts
(orchestration/spark_dbt.py). A module shipped by a bare name (``privacy.redaction``) fails there
with ModuleNotFoundError, which is what the first port attempt met (issue 18).
"""

from __future__ import annotations

import glob as globbing
from pathlib import Path
from typing import Any

from . import redaction
from .pseudonym import Pseudonymizer


class SparkPseudonym:
    """ti_pseudonym for Spark's workers: pickled as the key alone (hashlib's HMAC state does not pickle),
    the pseudonymiser rebuilt once per worker process."""

    def __init__(self, key: bytes):
        self._key = key
        self._pseudonymizer: Pseudonymizer | None = None

    def __getstate__(self) -> dict:
        return {"_key": self._key, "_pseudonymizer": None}

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None
        if self._pseudonymizer is None:
            self._pseudonymizer = Pseudonymizer(self._key)
        return self._pseudonymizer(str(value))


def _redact(text, names, national_ids):
    return redaction.redact(text, names or (), national_ids or ())


def register_spark_functions(spark: Any, key: bytes) -> None:
    """Register ti_pseudonym, ti_text_terms, ti_name_tokens, ti_id_key and ti_redact on `spark`,
    plus the two file helpers the bronze macros need where DuckDB has glob() and read_text()."""
    from pyspark.sql.types import ArrayType, StringType

    strings = ArrayType(StringType())
    # the object Spark pickles: the key travels inside it, to the workers only
    spark.udf.register("ti_pseudonym", SparkPseudonym(key), StringType())
    spark.udf.register("ti_text_terms", redaction.text_terms, strings)
    spark.udf.register("ti_name_tokens", redaction.name_tokens, strings)
    spark.udf.register("ti_id_key", redaction.id_key, StringType())
    spark.udf.register("ti_redact", _redact, StringType())
    # Driver-side helpers for dbt's run_query (the bronze files a source reads, the canonical schemas):
    # run on one row, in the driver's own folders, never over data.
    spark.udf.register("ti_glob", list_files, strings)
    spark.udf.register("ti_read_text", read_text, StringType())


def list_files(pattern: str | None) -> list[str]:
    """The files matching a glob pattern, sorted (DuckDB's glob() as a list)."""
    return sorted(globbing.glob(pattern)) if pattern else []


def read_text(path: str | None) -> str | None:
    """A text file's content (DuckDB's read_text())."""
    return Path(path).read_text(encoding="utf-8") if path else None
