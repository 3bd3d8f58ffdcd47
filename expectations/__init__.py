"""Data-quality rules for training-impact: GX suites per canonical entity,
row validation for the ingestion, the source-level gate and export hygiene.

Import the submodules directly (``expectations.validate``, ``expectations.gate``,
``expectations.results``, ``expectations.export``); this package module stays
free of the slow Great Expectations import so ``gate`` and ``export`` load fast.
"""
