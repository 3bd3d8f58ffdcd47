"""The synthetic company in vendor formats (synthetic/vendors.py) reads back identically.

Fast tests: the export's pieces, and a round trip through ingestion (bronze,
row rules stubbed) for every vendor format. tests/integration/test_vendor_formats_run.py
runs the real pipeline on the shared small company exported twice (its canonical run is
the session's `pipeline_run`) and compares every KPI mart.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from training_impact import ingestion
from training_impact import synthetic
from training_impact.ingestion.mapping import MappingError, read_landing_mappings
from training_impact.ingestion.schemas import load_schemas
from training_impact.synthetic import vendors
from training_impact.synthetic.vendors import PROFILES, export_vendor_format, parse_formats
from vendor_formats_support import VENDOR_SETS
from ingest_support import ingest_family

COMPANY = {"employees": 600, "years": 2, "seed": 3}
FAMILIES = ["hris", "lms", "performance", "finance", "surveys"]
# What the legacy Qualtrics layout cannot carry (docs/mappings.md).
LEGACY_SURVEY_GAPS = {"progress", "duration_seconds", "distribution_channel", "recipient_first_name",
                      "recipient_last_name"}


def test_every_profile_is_in_a_vendor_set_and_its_mapping_exists():
    named = {c.profile.name for s in VENDOR_SETS.values() for c in parse_formats(s)}
    assert named == set(PROFILES)
    for p in PROFILES.values():
        ingestion.load_mapping(p.mapping)


def test_parse_formats_scopes_and_errors():
    chosen = parse_formats("workday, generic_xlsx:finance+ratings,canonical")
    assert [c.profile.name for c in chosen] == ["workday", "generic_xlsx"]
    assert chosen[1].scope == {"finance", "ratings"}
    with pytest.raises(ValueError, match="unknown vendor format 'peoplesoft'"):
        parse_formats("peoplesoft")


@pytest.mark.parametrize("source,src_pats,dst_pats,expected", [
    ("hris/workers_2026-10-31.csv", ("hris/workers_*.csv",), ("hris/workday/Worker_Data_*.csv",),
     "hris/workday/Worker_Data_2026-10-31.csv"),
    ("lms/xapi/statements_2025-06.ndjson", ("lms/xapi/statements_*.ndjson",),
     ("lms/lrs/statements_*.json", "lms/lrs/*.json"), "lms/lrs/statements_2025-06.json"),
    ("surveys/post_training_survey_2025-06.csv", ("surveys/post_training_survey_*.csv",),
     ("surveys/qualtrics/*.csv",), "surveys/qualtrics/post_training_survey_2025-06.csv"),
])
def test_target_file_names(source, src_pats, dst_pats, expected):
    assert vendors._target_rel(source, src_pats, dst_pats) == expected


@pytest.mark.parametrize("value,dec,thou,expected", [
    ("36350.00", ",", ".", "36.350,00"), ("-1234567.5", ",", ".", "-1.234.567,5"), ("60", ",", ".", "60"),
    ("36350.00", ".", ",", "36,350.00"), ("999.99", ".", ",", "999.99"), ("n/a", ",", ".", "n/a"),
    ("12.5", ".", None, "12.5"),
])
def test_vendor_number_format(value, dec, thou, expected):
    assert vendors._vendor_number(value, dec, thou) == expected


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("canonical")
    synthetic.generate(root, **COMPANY)
    return root


def _copy(company: Path, target: Path) -> Path:
    shutil.copytree(company, target, ignore=shutil.ignore_patterns("bronze", "rejected", "warehouse", "gx",
                                                                     "dagster_home"))
    return target


class _NoRules:
    """Row-rule stub: the round trip compares typed values, not the GX suites (the integration test runs them)."""

    def __call__(self, entity, df):
        class R:
            failures = pd.DataFrame(columns=["row_index", "rule", "column", "value", "message"])
            result = {"success": True}
        return R()


def _ingest_all(root: Path) -> dict[str, dict]:
    out = {}
    for family in FAMILIES:
        rep = ingestion.ingest_family(family, root, "b1", row_validator=_NoRules())
        out[family] = rep.to_metadata()
    return out


def _bronze(root: Path, entity: str, columns: list[str]) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"select {', '.join(columns)} from read_parquet(?, union_by_name=true) order by all",
                           [str(root / "bronze" / entity / "*.parquet")]).fetchall()


@pytest.fixture(scope="module")
def exports(company, tmp_path_factory) -> dict[str, Path]:
    roots = {"canonical": _copy(company, tmp_path_factory.mktemp("rt") / "canonical")}
    for name, formats in VENDOR_SETS.items():
        roots[name] = _copy(company, tmp_path_factory.mktemp("rt") / name)
        export_vendor_format(roots[name], formats)
    return roots


def test_export_replaces_canonical_files_and_writes_mappings_yml(exports):
    a = exports["set_a"]
    assert read_landing_mappings(a) == {
        "hris": ["workday"], "performance": ["generic"], "lms": ["docebo", "xapi_lrs"],
        "finance": ["generic"], "surveys": ["qualtrics"]}
    landing = a / "landing"
    assert not list(landing.glob("hris/*.csv")) and not list(landing.glob("lms/xapi/*"))
    assert list(landing.glob("hris/workday/Worker_Data_*.csv"))
    assert list(landing.glob("finance/cost_lines_*.parquet")) and not list(landing.glob("finance/*.csv"))
    # the LRS case is one JSON array per file
    first = sorted(landing.glob("lms/lrs/statements_*.json"))[0]
    assert isinstance(json.loads(first.read_text(encoding="utf-8")), list)
    b = exports["set_b"] / "landing"
    xlsx = sorted(b.glob("performance/productivity_*.xlsx"))
    assert xlsx and not list(b.glob("performance/*.csv"))
    assert (b / "lms/cornerstone").is_dir() and next(b.glob("lms/cornerstone/Transcript_*.txt")).read_bytes()[:2] \
        == b"\xff\xfe"
    legacy = next(b.glob("surveys/qualtrics_legacy/*.csv")).read_bytes()
    assert legacy.startswith(b"\xef\xbb\xbfV1,V2,") and legacy.splitlines()[2].endswith(b",")


def test_vendor_words_and_formats_in_the_exports(exports):
    a, b = exports["set_a"] / "landing", exports["set_b"] / "landing"
    with open(next(b.glob("lms/cornerstone/Transcript_*.txt")), encoding="utf-16", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["Status"] for r in rows} <= {"Completed", "In Progress", "Not Started", "Withdrawn", "Waived",
                                            "Passed", "Failed"}
    assert rows[0]["Registration Date"][2] == "/"                                  # MM/DD/YYYY
    with open(next(a.glob("hris/workday/Job_History_*.csv")), encoding="utf-8", newline="") as fh:
        jh = list(csv.DictReader(fh))
    assert {r["Business_Process"] for r in jh} >= {"Hire Employee", "Change Job > Promotion"}
    assert any("," in r["Annual_Base_Pay"] for r in jh)                           # "36,350.00"
    sf = next(b.glob("hris/successfactors/EC_Job_Information_*.csv")).read_bytes()
    assert sf.startswith(b"\xef\xbb\xbfPerson ID External;") and b"\r\n" in sf


def test_export_refuses_a_second_export_of_a_family(exports, tmp_path):
    root = _copy(exports["set_a"], tmp_path / "again")
    with pytest.raises(ValueError, match="already exported"):
        export_vendor_format(root, "successfactors")


def test_round_trip_gives_identical_bronze(exports):
    """Every vendor format ingests (through landing/mappings.yml) to the canonical bronze rows."""
    reports = {name: _ingest_all(root) for name, root in exports.items()}
    for name, rep in reports.items():
        for family, md in rep.items():
            assert md["files_rejected"] == 0, (name, family, md["rejected"])
            assert not md["unmatched_files"], (name, family, md["unmatched_files"])
    assert reports["set_b"]["lms"]["mapping"] == "cornerstone+xapi_lrs"
    schemas = load_schemas()
    for entity, spec in schemas.entities.items():
        if spec.optional and not any(any((root / "bronze" / entity).glob("*.parquet")) for root in exports.values()):
            continue  # an optional entity (worker_attributes) the default company does not deliver
        base = None
        for name, root in exports.items():
            cols = spec.column_names
            if name == "set_b" and entity == "survey_responses":
                cols = [c for c in cols if c not in LEGACY_SURVEY_GAPS]
            rows = _bronze(root, entity, cols)
            expected = _bronze(exports["canonical"], entity, cols)
            assert rows == expected, f"{name}: {entity} differs from the canonical export"
            base = base or rows
        assert base, f"the small company has no {entity} rows"
    # the same records were read, loaded and quarantined per family
    for family in FAMILIES:
        counts = {n: (r[family]["rows_read"], r[family]["rows_loaded"], r[family]["quarantine_by_rule"])
                  for n, r in reports.items()}
        assert len({json.dumps(v, sort_keys=True) for v in counts.values()}) == 1, (family, counts)


def test_partial_survey_responses_kept_and_flagged(exports):
    for name in ("set_a", "set_b"):
        rows = _bronze(exports[name], "survey_responses", ["response_id", "worker_id", "finished"])
        # the employee id comes from the field the mapping names (EmployeeID / ExternalDataReference);
        # anonymous responses have none in the canonical export either
        assert sum(1 for r in rows if r[1]) > len(rows) * 0.8
        assert {r[2] for r in rows} == {True, False}, "partial responses (Finished = False) reach bronze"


def test_malformed_landing_mappings_file_fails_loudly(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing/mappings.yml").write_text("families:\n  hr: workday\n", encoding="utf-8")
    with pytest.raises(MappingError, match="unknown family 'hr'"):
        ingest_family("hris", tmp_path, "b1")
    (tmp_path / "landing/mappings.yml").write_text("families:\n  hris: peoplesoft\n", encoding="utf-8")
    with pytest.raises(MappingError, match="mapping 'peoplesoft' not found"):
        ingest_family("hris", tmp_path, "b1")
