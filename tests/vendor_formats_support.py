"""Test support for the vendor formats: the two exports that between them use every vendor format,
used by tests/unit/test_vendor_formats.py and tests/integration/test_vendor_formats_run.py."""

# Every vendor format in two exports; each needs one pipeline run in the integration test.
VENDOR_SETS = {
    "set_a": "workday,docebo,xapi_json,qualtrics,generic_csv:performance,generic_parquet:finance",
    "set_b": "successfactors,cornerstone,xapi_ndjson,qualtrics_legacy,generic_xlsx:performance+finance",
}
