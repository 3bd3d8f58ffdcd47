"""Auditable lineage: run ledger, published KPI history, trace, OpenLineage, reproduction (docs/audit.md)."""
