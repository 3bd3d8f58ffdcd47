"""Dagster definitions: ingestion → quality gate → dbt → KPI marts."""
