"""`ingest_file` / `ingest_family` with the real GX row rules, as the Dagster assets call them.

The ingestion is given its row rules (`row_rules=expectations.row_rules`); it never imports
expectations, a layer above it (tests/unit/test_layers.py). A test that needs a validator of its
own calls `ingestion.ingest_file` / `ingestion.ingest_family` with `row_validator=` directly.
"""

from __future__ import annotations

from functools import partial

from training_impact import ingestion
from training_impact.expectations import row_rules

ingest_file = partial(ingestion.ingest_file, row_rules=row_rules)
ingest_family = partial(ingestion.ingest_family, row_rules=row_rules)
