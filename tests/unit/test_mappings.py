"""Vendor mapping files, landing/mappings.yml, and `training-impact mappings check|suggest|docs`."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from training_impact import ingestion
from ingest_support import ingest_family
from training_impact.ingestion.mapping import (
    MappingError, available_mappings, combine_mappings, load_mapping, mapping_for_family, parse_mapping,
    read_landing_mappings, write_landing_mappings,
)
from training_impact.ingestion.schemas import load_schemas
from training_impact import mappings_cli
from training_impact.cli import main

VENDOR_MAPPINGS = ["workday", "successfactors", "docebo", "cornerstone", "xapi_lrs", "qualtrics",
                   "qualtrics_legacy", "generic"]
BOOL_TEXT = {"true", "false"}


def write(root: Path, rel: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    p = root / "landing" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return p


# --------------------------------------------------------------------------- the mapping files

def test_every_vendor_mapping_exists_and_loads():
    assert set(VENDOR_MAPPINGS) <= set(available_mappings())
    for name in available_mappings():
        m = load_mapping(name)
        assert m.description, f"{name}.yml has no description"
        assert m.entities


@pytest.mark.parametrize("name", VENDOR_MAPPINGS + ["canonical"])
def test_mapping_values_dates_and_identifiers_are_consistent(name):
    """Value maps land on accepted values, date formats round-trip, identifiers are pii or unloaded."""
    schemas = load_schemas()
    m = load_mapping(name)
    for entity, specs in m.entities.items():
        schema = schemas.entity(entity)
        for em in specs:
            for col, vm in em.value_maps.items():
                spec = schema.column(col)
                allowed = set(spec.accepted_values or ()) | (BOOL_TEXT if spec.type == "bool" else set())
                if allowed:
                    assert set(vm.values.values()) <= allowed, (name, entity, col)
            for col, fmt in em.date_formats.items():
                day = dt.datetime(2025, 11, 23)
                assert dt.datetime.strptime(day.strftime(fmt), fmt).date() == day.date(), (name, col, fmt)
            for ident in em.identifiers:
                canon = em.canonical_for(ident, schema)
                assert canon is None or schema.column(canon).pii, (name, ident)
            # every required column has a source (explicit rename or identity)
            if em.format not in ingestion.mapping.XAPI_FORMATS:
                fed = set(em.columns.values()) | {c for c in schema.column_names if c not in em.columns.values()
                                                  and em.canonical_for(c, schema) == c}
                assert set(schema.required_columns) <= fed, (name, entity)


def test_cornerstone_status_words_of_sources_md():
    vm = load_mapping("cornerstone").for_entity("enrollments")[0].value_maps["status"]
    lookup = vm.lookup_keys()
    for word, canon in {"Completed": "completed", "In Progress": "in_progress", "Not Started": "not_started",
                        "Withdrawn": "withdrawn", "Waived": "waived"}.items():
        assert lookup[word.lower()] == canon


@pytest.mark.parametrize("name", ["docebo", "cornerstone"])
def test_lms_status_maps_reach_every_canonical_status(name):
    """The synthetic export writes every status in the vendor's words: the map must be onto."""
    statuses = set(load_schemas().entity("enrollments").column("status").accepted_values)
    vm = load_mapping(name).for_entity("enrollments")[0].value_maps["status"]
    assert set(vm.values.values()) == statuses


def test_mapping_refuses_value_map_outside_entity(tmp_path):
    doc = yaml.safe_load("""
entities:
  enrollments:
    pattern: lms/x_*.csv
    format: csv
    value_maps: {state: {Done: completed}}
""")
    with pytest.raises(MappingError, match="value map for 'state'"):
        parse_mapping(doc, tmp_path / "x.yml")


# --------------------------------------------------------------------------- selection per data root

def test_landing_mappings_file_round_trip_and_combination(tmp_path):
    assert read_landing_mappings(tmp_path) == {}
    assert mapping_for_family(tmp_path, "lms").name == "canonical"
    write_landing_mappings(tmp_path, {"hris": ["workday"], "lms": ["docebo", "xapi_lrs", "canonical"]})
    assert read_landing_mappings(tmp_path) == {"hris": ["workday"], "lms": ["docebo", "xapi_lrs", "canonical"]}
    m = mapping_for_family(tmp_path, "lms")
    assert m.name == "docebo+xapi_lrs+canonical"
    # the first part wins where patterns overlap; each part's shapes are kept
    assert [s.format for s in m.for_entity("xapi_statements")] == ["json", "ndjson_xapi", "ndjson_xapi", "json"]
    assert m.source_for("enrollments", "lms/docebo/enrollments_2026-01-31.csv").patterns == \
        ("lms/docebo/enrollments_*.csv",)
    assert m.source_for("enrollments", "lms/enrollments_2026-01-31.csv").patterns == ("lms/enrollments_*.csv",)
    assert mapping_for_family(tmp_path, "finance").name == "canonical"
    assert combine_mappings(["workday"]).name == "workday"


WORKDAY_WORKERS = (
    "Employee_ID,Legal_Name_First_Name,Legal_Name_Last_Name,Hire_Date,Rehire,Primary_Termination_Category,"
    "Termination_Date,FTE_Percent,Worker_Status\n"
    "W1,Ann,Lee,01/05/2020,No,,,100,Active\n"
    "W2,Bob,Ng,02/01/2021,Yes,Terminate Employee > Voluntary,03/31/2024,80,Terminated\n"
)


def test_ingest_family_reads_landing_mappings_by_default(tmp_path):
    write(tmp_path, "hris/workday/Worker_Data_2024-04-30.csv", WORKDAY_WORKERS)
    write_landing_mappings(tmp_path, {"hris": ["workday"]})
    rep = ingest_family("hris", tmp_path, "b1")
    assert rep.mapping == "workday"
    (fr,) = rep.files
    assert fr.status == "loaded" and fr.rows_loaded == 2, fr.reason
    assert "ignored unmapped columns: Worker_Status" in fr.reason
    t = pq.read_table(tmp_path / fr.bronze_file).to_pylist()
    assert t[1]["hire_date"] == dt.date(2021, 2, 1) and t[1]["termination_date"] == dt.date(2024, 3, 31)
    assert t[1]["termination_category"] == "voluntary" and t[1]["rehire_flag"] is True
    assert t[0]["rehire_flag"] is False and t[0]["fte_pct"] == 100.0
    manifest = ingestion.read_manifest(tmp_path).to_pylist()
    assert {r["mapping"] for r in manifest} == {"workday"}
    # an explicit mapping argument still wins over the file
    write(tmp_path, "hris/workers_2024-05-31.csv", "worker_id,hire_date\nW9,2020-01-01\n")
    rep = ingest_family("hris", tmp_path, "b2", mapping="canonical")
    assert [f.source_file for f in rep.files] == ["hris/workers_2024-05-31.csv"]


# --------------------------------------------------------------------------- Qualtrics, mapping-driven

def _v3(rows: list[str], extra_cols: str = ",EmployeeID") -> str:
    ids = ("StartDate,EndDate,Progress,Duration (in seconds),Finished,ResponseId,ExternalReference,"
           "DistributionChannel,Q1,Q2,Q3_1,Q3_2,Q4,program_id,enrollment_id" + extra_cols)
    n = ids.count(",") + 1
    texts = ",".join(f"text {i}" for i in range(n))
    imports = ",".join('"{""ImportId"":""x%d""}"' % i for i in range(n))
    return "\n".join([ids, texts, imports, *rows]) + "\n"


def test_qualtrics_employee_id_from_the_field_the_mapping_names(tmp_path):
    rows = ["2025-02-01 10:00:00,2025-02-01 10:05:00,100,300,True,R_1,EXT-1,email,9,4,2,4,ok,P1,E1,W1",
            "2025-02-01 11:00:00,2025-02-01 11:01:00,40,60,False,R_2,EXT-2,email,7,,,,,P1,E2,W2"]
    content = _v3(rows)
    a, b = tmp_path / "a", tmp_path / "b"          # two data roots: the same bytes load once per root
    write(a, "surveys/qualtrics/post_training_survey_2025-02.csv", content)
    write(b, "surveys/post_training_survey_2025-02.csv", content)
    embedded = ingest_family("surveys", a, "b1", mapping="qualtrics", references={})
    external = ingest_family("surveys", b, "b1", mapping="canonical", references={})
    (fe,), (fx,) = embedded.files, external.files
    assert fe.status == fx.status == "loaded", (fe.reason, fx.reason)
    te = pq.read_table(a / fe.bronze_file)
    tx = pq.read_table(b / fx.bronze_file)
    assert te["worker_id"].to_pylist() == ["W1", "W2"]            # embedded data "EmployeeID"
    assert tx["worker_id"].to_pylist() == ["EXT-1", "EXT-2"]      # ExternalReference
    # the partial response is kept and flagged
    assert te["finished"].to_pylist() == [True, False] and te["progress"].to_pylist() == [100, 40]


def test_three_header_fixture_through_a_vendor_mapping(tmp_path, shared_fixtures):
    src = shared_fixtures / "surveys/qualtrics_3header.csv"
    p = write(tmp_path, "surveys/qualtrics/fixture.csv", src.read_bytes())
    r = mappings_cli.check_file(p, "survey_responses", "qualtrics")
    assert r.records_sampled == 1 and len(r.mapped) + len(r.unknown) == 20
    by = {c.canonical: c for c in r.mapped}
    assert by["response_id"].samples == ["R_2YPOQ602ER1jkf1"]
    assert by["finished"].canonical_samples == ["True"]
    assert by["started_at"].canonical_samples == ["2017-07-18T08:28:09+00:00"]
    # the fixture's Q2 is free text: this survey's Q2 is a 1-5 relevance, so it would be quarantined
    assert by["relevance"].cast_failures == 1
    assert "worker_id" in r.missing_optional       # this survey passed no EmployeeID field


def test_legacy_fixture_through_the_legacy_mapping(tmp_path, shared_fixtures):
    src = shared_fixtures / "surveys/qualtrics_legacy_2header.csv"
    p = write(tmp_path, "surveys/qualtrics_legacy/fixture.csv", src.read_bytes())
    r = mappings_cli.check_file(p, "survey_responses")
    assert r.mapping == "qualtrics_legacy" and r.pattern_matches
    assert r.records_sampled == 1 and len(r.mapped) + len(r.unknown) == 15
    by = {c.canonical: c for c in r.mapped}
    assert by["response_id"].vendor == "ResponseID" and by["finished"].canonical_samples == ["True"]
    # dates are local to the account zone the mapping declares (Asia/Singapore, UTC+8)
    assert by["started_at"].canonical_samples == ["2017-07-18T00:28:09+00:00"]
    assert "Name" in {u for u, _ in r.unknown}     # a direct identifier that is never loaded
    rep = ingest_family("surveys", tmp_path, "b1", mapping="qualtrics_legacy", references={})
    (fr,) = rep.files
    assert fr.status == "loaded" and fr.rows_read == 1


# --------------------------------------------------------------------------- check / suggest / docs

def test_check_cli_reports_mapped_missing_unknown(tmp_path, capsys):
    p = write(tmp_path, "hris/workday/Worker_Data_2024-04-30.csv", WORKDAY_WORKERS)
    assert main(["mappings", "check", str(p), "--source", "workers"]) == 0
    out = capsys.readouterr().out
    assert "mapping:  workday" in out
    assert "hire_date" in out and "01/05/2020 -> 2020-01-05" in out
    assert "Terminate Employee > Voluntary -> voluntary" in out
    assert "Worker_Status" in out and "Active, Terminated" in out
    assert "MISSING required: none" in out
    # the wrong mapping: the required columns are missing, exit code 1
    assert main(["mappings", "check", str(p), "--source", "workers", "--mapping", "successfactors"]) == 1
    out = capsys.readouterr().out
    assert "MISSING required: worker_id, hire_date" in out and "NOT LOADABLE" in out


def test_check_flags_values_that_would_be_quarantined(tmp_path):
    p = write(tmp_path, "lms/cornerstone/Transcript_2025-01-31.txt",
              "Registration Number\tUser ID\tLO ID\tRegistration Date\tStatus\tDue Date\n"
              "R1\tW1\tP1\t01/02/2025\tCompleted\t\n"
              "R2\tW2\tP1\t13/45/2025\tLost\t\n", encoding="utf-16")
    r = mappings_cli.check_file(p, "enrollments", sample=10)
    assert r.mapping == "cornerstone" and r.ok
    assert "encoding=utf-16 (BOM)" in r.notes and "delimiter=tab" in r.notes
    by = {c.canonical: c for c in r.mapped}
    assert by["enrolled_at"].cast_failures == 1 and by["status"].unaccepted == ["Lost"]
    assert [u for u, _ in r.unknown] == ["Due Date"]
    d = r.to_dict()
    assert d["ok"] and d["mapping"] == "cornerstone"


def test_check_reads_xlsx_and_parquet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import pyarrow as pa

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["line_id", "posting_date", "cost_category", "amount", "currency", "Approver"])
    ws.append(["L1", dt.date(2025, 1, 31), "tuition", 1200.5, "EUR", "J. Doe"])
    p = tmp_path / "landing/finance/cost_lines_2025-01.xlsx"
    p.parent.mkdir(parents=True)
    wb.save(p)
    r = mappings_cli.check_file(p, "cost_lines")
    assert r.mapping == "generic" and r.format == "xlsx" and r.ok
    by = {c.canonical: c for c in r.mapped}
    assert by["posting_date"].canonical_samples == ["2025-01-31"] and by["amount"].canonical_samples == ["1200.50"]
    pq.write_table(pa.table({"line_id": ["L1"], "posting_date": pa.array([dt.date(2025, 1, 31)]),
                             "cost_category": ["tuition"], "amount": pa.array([1200.5]), "currency": ["EUR"]}),
                   tmp_path / "landing/finance/cost_lines_2025-02.parquet")
    r = mappings_cli.check_file(tmp_path / "landing/finance/cost_lines_2025-02.parquet", "finance")
    assert r.format == "parquet" and r.ok and not r.unknown


@pytest.fixture(scope="module")
def vendor_exports(tmp_path_factory):
    """A small company, exported once in each HR and LMS vendor format."""
    from training_impact import synthetic
    from training_impact.synthetic.vendors import export_vendor_format

    base = tmp_path_factory.mktemp("sg") / "a"
    synthetic.generate(base, employees=150, years=2, seed=7)
    other = base.parent / "b"
    shutil.copytree(base, other)
    export_vendor_format(base, "workday,docebo")
    export_vendor_format(other, "successfactors,cornerstone")
    return base / "landing", other / "landing"


@pytest.mark.parametrize("mapping,glob,entity", [
    ("workday", "hris/workday/Worker_Data_*.csv", "workers"),
    ("workday", "hris/workday/Job_History_*.csv", "job_history"),
    ("successfactors", "hris/successfactors/EC_Employees_*.csv", "workers"),
    ("successfactors", "hris/successfactors/EC_Job_Information_*.csv", "job_history"),
    ("docebo", "lms/docebo/enrollments_*.csv", "enrollments"),
    ("docebo", "lms/docebo/courses_*.csv", "programs"),
    ("cornerstone", "lms/cornerstone/Transcript_*.txt", "enrollments"),
    ("cornerstone", "lms/cornerstone/Learning_Objects_*.csv", "programs"),
])
def test_suggest_recovers_the_real_mapping(vendor_exports, mapping, glob, entity, tmp_path):
    landing = next(l for l in vendor_exports if list(l.glob(glob)))
    path = next(landing.glob(glob))
    s = mappings_cli.suggest_mapping(path, entity)
    text = s.to_yaml()
    proposed = parse_mapping(yaml.safe_load(text), tmp_path / "proposed.yml")  # valid mapping YAML
    em = proposed.for_entity(entity)[0]
    assert em.matches(path.relative_to(landing).as_posix())
    truth = load_mapping(mapping).for_entity(entity)[0]
    schema = load_schemas().entity(entity)
    agree = sum(1 for v, c in truth.columns.items() if em.canonical_for(v, schema) == c)
    assert agree >= 0.8 * len(truth.columns), text
    for c in schema.required_columns:          # a required column is right, or left as a TODO, never wrong
        vendor = next(v for v, cc in truth.columns.items() if cc == c)
        got = em.canonical_for(vendor, schema)
        assert got == c or (got is None and f"required column {c}" in text), (c, text)
    for col, fmt in truth.date_formats.items():
        if em.date_formats.get(col):
            assert em.date_formats[col] == fmt
    if em.decimal_separator != ".":            # only proposed when the sample shows decimals
        assert em.decimal_separator == truth.decimal_separator


def test_suggest_cli_writes_yaml(vendor_exports, tmp_path, capsys):
    path = next(vendor_exports[1].glob("lms/cornerstone/Transcript_*.txt"))
    out = tmp_path / "acme.yml"
    assert main(["mappings", "suggest", str(path), "--source", "enrollments", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert '"Not Started": not_started' in text and "%m/%d/%Y" in text
    assert main(["mappings", "check", str(path), "--source", "enrollments", "--mapping", str(out)]) == 0
    assert "MISSING required: none" in capsys.readouterr().out


def test_docs_mappings_md_is_current():
    text = mappings_cli.DOCS_PATH.read_text(encoding="utf-8")
    generated = mappings_cli.render_docs()
    schemas_part = generated[generated.index("## Canonical schemas"):]
    assert schemas_part in text, "run `training-impact mappings docs --write`"
    for name in available_mappings():
        assert f"| `{name}` |" in text, f"{name} missing from docs/mappings.md: run `training-impact mappings docs --write`"
