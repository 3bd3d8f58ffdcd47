"""Dagster definitions: ingestion → quality gate → dbt → KPI marts."""


def asset_graph():
    """The asset graph of the definitions (``defs.resolve_asset_graph()``).

    Handed to ``audit.record`` (as ``asset_graph=``), which sits below the orchestration and may not
    import its definitions (tests/unit/test_layers.py). The definitions are imported here, on the first
    call, not at import: modules that ``orchestration.definitions`` itself imports use this too.
    """
    from training_impact.orchestration.definitions import defs

    return defs.resolve_asset_graph()
