"""A quiet console by default (issue 17): dbt's problems, not a line per model; no lineage tracebacks."""

from __future__ import annotations

import io
import logging

from training_impact.cli import _log_level, _settings, build_parser
from training_impact.orchestration.defs.dbt import LineageWarnings, ProblemLines


def test_dbt_lines_keep_problems_and_the_summary_only():
    out = io.StringIO()
    lines = ProblemLines(out)
    lines.write("1 of 267 START sql table model main_staging.stg_config__parameters .... [RUN]\n")
    lines.write("1 of 267 OK created sql table model main_staging.stg_config__parameters [OK in 0.19s]\n12 of 267 ")
    lines.write("FAIL 3 not_null_kpi_roi_roi ........ [FAIL 3 in 0.1s]\n")
    lines.write("Completed with 1 error, 0 partial successes, and 0 warnings:\nDone. PASS=266 WARN=0 ERROR=1\n")
    assert out.getvalue().splitlines() == [
        "12 of 267 FAIL 3 not_null_kpi_roi_roi ........ [FAIL 3 in 0.1s]",
        "Completed with 1 error, 0 partial successes, and 0 warnings:",
        "Done. PASS=266 WARN=0 ERROR=1",
    ]


def test_column_lineage_tracebacks_become_one_named_count():
    logger = logging.getLogger("test_console.lineage")
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler, quiet = Collect(), LineageWarnings(keep=False)
    logger.addHandler(handler)
    logger.addFilter(quiet)
    try:
        logger.warning(f"{LineageWarnings.PREFIX} `models/staging/lms/stg_lms__programs.sql`. Lineage metadata will "
                       "not be included in the event.", exc_info=ValueError("Cannot resolve '_source_file'"))
        logger.warning("the warehouse is held by another process; waiting")
    finally:
        logger.removeFilter(quiet)
        logger.removeHandler(handler)
    assert quiet.models == ["stg_lms__programs"]
    assert seen == ["the warehouse is held by another process; waiting"]  # other warnings still show


def test_verbose_brings_back_dagsters_debug_log_and_every_dbt_line():
    parser = build_parser()
    quiet, verbose = parser.parse_args(["run"]), parser.parse_args(["run", "--verbose"])
    assert (_log_level(quiet), _settings(quiet).dbt_console) == ("WARNING", "problems")
    assert (_log_level(verbose), _settings(verbose).dbt_console) == ("DEBUG", "all")
    assert _log_level(parser.parse_args(["demo", "--verbose"])) == "DEBUG"
