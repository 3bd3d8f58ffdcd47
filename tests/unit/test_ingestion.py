"""Ingestion engine: landing files -> bronze, quarantine, rejected, manifest.

Small hand-made landing files in tmp_path; the GX row rules are the real
suites (expectations.row_rules, passed in by tests/ingest_support.py), except
where a test needs a validator that fails on purpose.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from training_impact import ingestion
from ingest_support import ingest_family
from training_impact.ingestion import readers
from training_impact.ingestion.schemas import LINEAGE_COLUMNS, load_schemas
from training_impact.ingestion.store import MANIFEST_SCHEMA, QUARANTINE_SCHEMA


WORKERS_HEADER = "worker_id,first_name,last_name,email,hire_date,fte_pct,termination_category,rehire_flag"
WORKERS = [
    "W1,Ann,Lee,ann@example.org,2020-01-05,100,,false",
    "W2,Bob,Ng,bob@example.org,2021-02-01,80,,true",
    "W3,Cy,Oz,cy@example.org,2019-07-07,50,voluntary,no",
]
PROGRAMS = (
    "program_id,title,method,program_type,planned_hours\n"
    "P1,Data basics,online_self_paced,upskilling,12\n"
    "P2,Welding,bootcamp,reskilling,120\n"
)


def write(root: Path, rel: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    p = root / "landing" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode(encoding)
    p.write_bytes(content)
    return p


def workers_csv(rows: list[str] = WORKERS, header: str = WORKERS_HEADER, sep: str = ",", nl: str = "\n") -> str:
    lines = [header] + rows
    if sep != ",":
        lines = [line.replace(",", sep) for line in lines]
    return nl.join(lines) + nl


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


def only_file(report) -> ingestion.FileReport:
    assert len(report.files) == 1, [f.source_file for f in report.files]
    return report.files[0]


def bronze(root: Path, fr: ingestion.FileReport) -> pa.Table:
    return pq.read_table(root / fr.bronze_file)


def quarantine(root: Path, fr: ingestion.FileReport) -> pa.Table:
    return pq.read_table(root / fr.quarantine_file)


def assert_reconciled(root: Path) -> None:
    m = ingestion.read_manifest(root).to_pylist()
    for row in m:
        if row["status"] == "loaded":
            assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"], row


# ----------------------------------------------------------------------------- schema & mapping

def test_schemas_and_mapping_load():
    s = load_schemas()
    assert set(s.families) == {"hris", "performance", "lms", "finance", "surveys"}
    sch = ingestion.arrow_schema("cost_lines")
    assert sch.field("amount").type == pa.decimal128(18, 2)
    assert sch.field("posting_date").type == pa.date32()
    assert sch.names[-5:] == list(LINEAGE_COLUMNS)
    assert sch.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    m = ingestion.load_mapping("canonical")
    # every canonical entity has a landing pattern, and every mapping file parses
    assert set(m.entities) == set(s.entities)
    for name in ingestion.available_mappings():
        ingestion.load_mapping(name)
    assert m.identifier_columns("survey_responses") == [
        "recipient_first_name", "recipient_last_name", "recipient_email", "ip_address"]


def test_mapping_refuses_identifier_on_non_pii_column(tmp_path: Path):
    bad = tmp_path / "leaky.yml"
    bad.write_text("entities:\n  workers:\n    pattern: hris/w_*.csv\n    format: csv\n"
                   "    columns: {Email: location}\n    identifiers: [Email]\n")
    with pytest.raises(ingestion.MappingError, match="not flagged pii"):
        ingestion.load_mapping(bad)


# ----------------------------------------------------------------------------- typed bronze & lineage

def test_typed_bronze_with_lineage(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv(header=WORKERS_HEADER + ",shoe_size",
                                                           rows=[r + ",42" for r in WORKERS]))
    batch = ingestion.new_batch_id()
    fr = only_file(ingest_family("hris", root, batch))
    assert fr.status == "loaded" and fr.rows_loaded == 3 and fr.rows_quarantined == 0
    assert "ignored unmapped columns: shoe_size" in fr.reason
    t = bronze(root, fr)
    assert t.schema.equals(ingestion.arrow_schema("workers"), check_metadata=False)
    assert fr.bronze_file == f"bronze/workers/{batch}__workers_2025-01-31.parquet"
    assert t["hire_date"].to_pylist()[0].isoformat() == "2020-01-05"
    assert t["fte_pct"].to_pylist() == [100.0, 80.0, 50.0]
    assert t["rehire_flag"].to_pylist() == [False, True, False]
    assert t["national_id"].null_count == 3                       # optional column absent -> null
    assert set(t["_source_file"].to_pylist()) == {"hris/workers_2025-01-31.csv"}
    assert t["_source_row"].to_pylist() == [1, 2, 3]
    assert set(t["_batch_id"].to_pylist()) == {batch}
    assert set(t["_source_sha256"].to_pylist()) == {fr.sha256}
    m = ingestion.read_manifest(root)
    assert m.schema.equals(MANIFEST_SCHEMA)
    row = m.to_pylist()[0]
    assert row["status"] == "loaded" and row["bronze_file"] == fr.bronze_file
    assert row["started_at"] == t["_ingested_at"][0].as_py()
    assert (root / "bronze/_manifest" / f"{batch}__{fr.sha256[:16]}.parquet").exists()
    assert not list(root.rglob("*.tmp"))


def test_same_file_twice_loads_once(root: Path):
    content = workers_csv()
    write(root, "hris/workers_2025-01-31.csv", content)
    write(root, "hris/workers_2025-01-31_resent.csv", content)          # same bytes, other name
    r1 = ingest_family("hris", root, "b1")
    assert [f.status for f in r1.files] == ["loaded", "duplicate"]
    assert "byte-identical to hris/workers_2025-01-31.csv" in r1.files[1].reason
    r2 = ingest_family("hris", root, "b2")                     # delivered again next run
    assert {f.status for f in r2.files} == {"duplicate"}
    m = ingestion.read_manifest(root)
    assert pc.sum(pc.equal(m["status"], "loaded")).as_py() == 1
    assert len(list((root / "bronze/workers").glob("*.parquet"))) == 1
    # both rows of batch b1 share one manifest file (same sha): neither is lost
    assert pq.read_table(root / "bronze/_manifest" / f"b1__{r1.files[0].sha256[:16]}.parquet").num_rows == 2


# ----------------------------------------------------------------------------- file-level rejection

def test_missing_required_column_rejected_and_moved(root: Path):
    header = WORKERS_HEADER.replace("hire_date,", "")
    rows = [",".join(p for i, p in enumerate(r.split(",")) if i != 4) for r in WORKERS]
    src = write(root, "hris/workers_2025-02-28.csv", workers_csv(rows, header))
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "rejected"
    assert fr.reason.startswith("missing_required_column: hire_date")
    assert "hris/workers_2025-02-28.csv" in fr.reason
    assert not src.exists()
    moved = root / "rejected/b1/hris/workers_2025-02-28.csv"
    assert moved.exists() and fr.rejected_file == "rejected/b1/hris/workers_2025-02-28.csv"
    note = (root / "rejected/b1/hris/workers_2025-02-28.csv.reason.txt").read_text()
    assert "missing_required_column: hire_date" in note and fr.sha256 in note
    row = ingestion.read_manifest(root).to_pylist()[0]
    assert row["status"] == "rejected" and row["reason"] == fr.reason and row["bronze_file"] is None
    assert not (root / "bronze/workers").exists() or not list((root / "bronze/workers").glob("*"))


@pytest.mark.parametrize("name,content,rule", [
    ("empty", b"", "empty_file"),
    ("blank", b"\n \n", "empty_file"),
    ("header_only", (WORKERS_HEADER + "\n").encode(), "header_only"),
    ("unterminated_quote", (WORKERS_HEADER + "\n" + WORKERS[0] + "\n" + 'W2,"Bob,Ng,b@x,2021-02-01,80,,true\n').encode(),
     "truncated_file"),
    ("short_last_row", (WORKERS_HEADER + "\n" + WORKERS[0] + "\nW2,Bob,Ng,b@x").encode(), "truncated_file"),
    ("wrong_delimiter", workers_csv(sep=":").encode(), "no_expected_columns"),
    ("binary", b"PK\x03\x04\x00\x00garbage\x00", "undecodable"),
])
def test_unreadable_files_rejected(root: Path, name: str, content: bytes, rule: str):
    write(root, f"hris/workers_{name}.csv", content)
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "rejected", fr
    assert fr.reason.startswith(rule + ":"), fr.reason
    assert f"hris/workers_{name}.csv" in fr.reason
    assert (root / f"rejected/b1/hris/workers_{name}.csv").exists()
    assert not list((root / "bronze").rglob("*.tmp"))


# ----------------------------------------------------------------------------- encodings, delimiters, quoting

@pytest.mark.parametrize("variant", ["bom", "cp1252", "semicolon", "tab", "pipe", "crlf", "quoted_newline",
                                     "utf16_tab"])
def test_text_variants_load(root: Path, variant: str):
    rows = list(WORKERS)
    rows[0] = rows[0].replace("Ann", "Zoë")
    kwargs: dict = {}
    content: bytes
    if variant == "quoted_newline":
        rows[1] = rows[1].replace("Bob", '"Bob\nthe second, jr."')
        rows.append('W4,"Di ""Dee""",Pa,d@example.org,2022-02-02,75,,')
    if variant == "semicolon":
        kwargs["sep"] = ";"
    elif variant in ("tab", "utf16_tab"):
        kwargs["sep"] = "\t"
    elif variant == "pipe":
        kwargs["sep"] = "|"
    elif variant == "crlf":
        kwargs["nl"] = "\r\n"
    text = workers_csv(rows, **kwargs)
    if variant == "bom":
        content = b"\xef\xbb\xbf" + text.encode("utf-8")
    elif variant == "cp1252":
        content = text.replace("Cy", "Cy “Ça”").encode("cp1252")
    elif variant == "utf16_tab":
        content = text.encode("utf-16")          # Excel's "Unicode text": BOM + UTF-16LE, tabs
    else:
        content = text.encode("utf-8")
    write(root, f"hris/workers_{variant}.csv", content)
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "loaded", fr.reason
    assert fr.rows_quarantined == 0, quarantine(root, fr).to_pylist()
    t = bronze(root, fr)
    assert t["first_name"][0].as_py() == "Zoë"
    assert t["worker_id"].to_pylist()[:3] == ["W1", "W2", "W3"]
    if variant == "cp1252":
        assert "encoding=cp1252" in fr.reason
        assert t["first_name"][2].as_py() == "Cy “Ça”"
    if variant == "bom":
        assert "utf-8-sig" in fr.reason
    if variant in ("semicolon", "tab", "pipe", "utf16_tab"):
        assert "delimiter=" in fr.reason
    if variant == "quoted_newline":
        assert t["first_name"][1].as_py() == "Bob\nthe second, jr."
        assert t["first_name"][3].as_py() == 'Di "Dee"'
        assert t["_source_row"].to_pylist() == [1, 2, 3, 4]     # records, not lines


def test_latin1_fallback_when_cp1252_cannot_decode(root: Path):
    # 0x81 has no cp1252 character: only latin-1 reads this file
    write(root, "hris/workers_l1.csv", workers_csv().encode("latin-1").replace(b"Ann", b"An\x81n"))
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "loaded" and "encoding=latin-1" in fr.reason


# ----------------------------------------------------------------------------- row-level quarantine

def test_bad_values_quarantined_rest_loads(root: Path):
    rows = [
        "W1,Ann,Lee,a@x.org,2020-01-05,100,,false",
        "W2,Bob,Ng,b@x.org,2025-13-40,80,,true",              # impossible date
        "W3,Cy,Oz,c@x.org,2021-03-01,150,voluntary,",          # fte out of range
        "W4,Di,Pa,d@x.org,2019-07-07,abc,quit,maybe",          # not a number, not a bool (cast) ...
        "W5,Ed,Qu,e@x.org,2019-07-07,1e400,,",                 # numeric overflow
        "W6,Fa,Ru,f@x.org,2018-02-30,20,,",                     # 30 February
    ]
    write(root, "hris/workers_2025-03-31.csv", workers_csv(rows))
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "loaded"
    assert (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (6, 1, 5)
    assert fr.quarantine_by_rule == {
        "expect_column_values_to_be_between:fte_pct": 1,
        "invalid_type:fte_pct": 2,
        "invalid_type:hire_date": 2,
        "invalid_type:rehire_flag": 1,
    }
    q = quarantine(root, fr)
    assert q.schema.equals(QUARANTINE_SCHEMA)
    rows_q = q.to_pylist()
    by = {(r["_source_row"], r["rule"]): r for r in rows_q}
    bad_date = by[(2, "invalid_type:hire_date")]
    assert bad_date["value"] == "2025-13-40" and bad_date["column"] == "hire_date"
    assert "hris/workers_2025-03-31.csv record 2" in bad_date["message"]
    assert json.loads(bad_date["record_json"])["hire_date"] == "2025-13-40"
    assert bad_date["_source_file"] == "hris/workers_2025-03-31.csv" and bad_date["entity"] == "workers"
    assert by[(3, "expect_column_values_to_be_between:fte_pct")]["value"] == "150"
    assert "overflow" in by[(5, "invalid_type:fte_pct")]["message"]
    assert (4, "invalid_type:rehire_flag") in by                    # one quarantine row per failed rule
    assert bronze(root, fr)["_source_row"].to_pylist() == [1]
    assert_reconciled(root)


def test_malformed_record_mid_file_quarantined_with_exact_ordinals(root: Path):
    rows = [
        WORKERS[0],
        'W2,"Bob\nspans two lines",Ng,b@x.org,2021-02-01,80,,true',
        "W9,too,few,fields",                                      # short row, not at the end
        WORKERS[2],
    ]
    write(root, "hris/workers_shape.csv", workers_csv(rows))
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "loaded" and (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (4, 3, 1)
    assert "read record by record" in fr.reason
    q = quarantine(root, fr).to_pylist()
    assert [(r["_source_row"], r["rule"]) for r in q] == [(3, "malformed_record")]
    assert json.loads(q[0]["record_json"])["_raw_text"].startswith("W9,too,few,fields")
    assert bronze(root, fr)["_source_row"].to_pylist() == [1, 2, 4]


def test_fast_path_restart_keeps_ordinals(root: Path, monkeypatch):
    # Arrow meets the bad row only after earlier blocks became batches: the
    # file restarts record by record, and nothing is written twice.
    monkeypatch.setattr(readers, "ARROW_BLOCK_SIZE", 256)
    rows = [f"W{i},N{i},L{i},e{i}@x.org,2020-01-05,100,," for i in range(1, 60)]
    rows[50] = "W51,short"
    write(root, "hris/workers_big.csv", workers_csv(rows))
    fr = only_file(ingest_family("hris", root, "b1", batch_size=7))
    assert (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (59, 58, 1)
    t = bronze(root, fr)
    assert t["_source_row"].to_pylist() == [i for i in range(1, 60) if i != 51]
    assert quarantine(root, fr)["_source_row"].to_pylist() == [51]


def test_reference_failures_quarantined(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    write(root, "lms/programs_2025-01-31.csv", PROGRAMS)
    write(root, "lms/enrollments_2025-01-31.csv",
          "enrollment_id,worker_id,program_id,enrolled_at,status\n"
          "E1,W1,P1,2025-01-02,completed\n"
          "E2,W404,P1,2025-01-02,in_progress\n"
          "E3,W2,P999,2025-01-03,not_started\n"
          "E4,W404,P999,2025-01-03,not_started\n")
    b = ingestion.new_batch_id()
    assert only_file(ingest_family("hris", root, b)).status == "loaded"
    lms = ingest_family("lms", root, b)                    # programs load before enrollments
    fr = [f for f in lms.files if f.entity == "enrollments"][0]
    assert (fr.rows_loaded, fr.rows_quarantined) == (1, 3)
    assert fr.quarantine_by_rule == {"unknown_reference:program_id": 2, "unknown_reference:worker_id": 2}
    q = quarantine(root, fr).to_pylist()
    assert {(r["_source_row"], r["rule"], r["value"]) for r in q} == {
        (2, "unknown_reference:worker_id", "W404"), (3, "unknown_reference:program_id", "P999"),
        (4, "unknown_reference:worker_id", "W404"), (4, "unknown_reference:program_id", "P999")}
    assert "not in the latest loaded workers snapshot" in q[0]["message"]
    refs = ingestion.load_reference_ids(root)
    assert refs == {"worker_id": {"W1", "W2", "W3"}, "program_id": {"P1", "P2"}}
    assert_reconciled(root)


def test_reference_check_skipped_without_master(root: Path):
    write(root, "performance/ratings_2025-01.csv",
          "evaluation_id,worker_id,evaluation_date,evaluation_type,rating\nR1,W1,2025-01-10,manager_rating,4\n")
    fr = only_file(ingest_family("performance", root, "b1"))
    assert fr.status == "loaded" and fr.rows_loaded == 1
    assert "unknown_reference:worker_id skipped: no loaded workers" in fr.reason


# ----------------------------------------------------------------------------- atomicity

def test_crash_leaves_no_bronze_and_no_manifest(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    calls = []

    def exploding(entity, df):
        calls.append(len(df))
        if len(calls) == 2:
            raise OSError("disk full")
        import pandas as pd
        return type("V", (), {"failures": pd.DataFrame(columns=["row_index", "rule", "column", "value", "message"]),
                              "result": {"success": True}})()

    with pytest.raises(OSError, match="disk full"):
        ingestion.ingest_family("hris", root, "b1", row_validator=exploding, batch_size=2)
    assert not list((root / "bronze").rglob("*.parquet"))
    assert not list((root / "bronze").rglob("*.tmp"))
    assert ingestion.read_manifest(root).num_rows == 0
    # the landing file stays, so the next run loads it
    fr = only_file(ingest_family("hris", root, "b2"))
    assert fr.status == "loaded" and fr.rows_loaded == 3
    assert ingestion.find_orphans(root) == []
    # a bronze file whose manifest row never got written is reported
    stray = root / "bronze/workers/b0__workers_2025-01-31.parquet"
    stray.write_bytes((root / fr.bronze_file).read_bytes())
    assert ingestion.find_orphans(root) == [stray]


def test_without_row_rules_nothing_loads(root: Path):
    """The row rules are passed in (ingestion never imports expectations): none given is a TypeError, not a
    load without them."""
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    for call in (lambda: ingestion.ingest_family("hris", root, "b1"),
                 lambda: ingestion.ingest_file("hris/workers_2025-01-31.csv", root, "b1")):
        with pytest.raises(TypeError, match=r"row_rules=expectations\.row_rules .* or row_validator="):
            call()
    assert not (root / "bronze").exists() and not (root / "rejected").exists()
    assert ingestion.read_manifest(root).num_rows == 0


# ----------------------------------------------------------------------------- other formats

def xapi_statement(i: int, actor: str = "W1", **over) -> dict:
    s = {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": actor}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": "https://lms.example.org/course/P1/module/1"},
        "result": {"completion": True, "duration": "PT1H30M", "score": {"scaled": 0.8}},
        "context": {"contextActivities": {"parent": [{"id": "https://lms.example.org/course/P1"}]}},
        "timestamp": "2025-01-10T09:30:00+01:00",
        "version": "1.0.3",
    }
    s.update(over)
    return s


def test_xapi_ndjson(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    bad_verb = xapi_statement(3)
    bad_verb["verb"] = {"id": "not an iri"}
    lines = [json.dumps(xapi_statement(1)), "", json.dumps(xapi_statement(2, actor="W404")),
             json.dumps(bad_verb), "{not json", json.dumps(xapi_statement(5))]
    write(root, "lms/xapi/statements_2025-01.ndjson", "\n".join(lines) + "\n")
    ingest_family("hris", root, "b1")
    rep = ingest_family("lms", root, "b1")
    fr = only_file(rep)
    assert fr.entity == "xapi_statements" and fr.status == "loaded"
    assert (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (5, 2, 3)
    t = bronze(root, fr)
    assert t["_source_row"].to_pylist() == [1, 5]
    assert t["statement_timestamp"][0].as_py().isoformat() == "2025-01-10T08:30:00+00:00"
    assert t["duration_seconds"][0].as_py() == 5400.0
    assert t["course_activity_id"][0].as_py() == "https://lms.example.org/course/P1"
    q = quarantine(root, fr).to_pylist()
    rules = {r["_source_row"]: r["rule"] for r in q}
    assert rules[2] == "unknown_reference:actor_id"
    assert rules[4] == "xapi.json"
    assert rules[3].startswith("verb.")                       # the validator's rule name
    assert json.loads(q[0]["record_json"]) if q[0]["rule"] != "xapi.json" else True
    assert_reconciled(root)


def test_xapi_truncated_last_line_rejects_file(root: Path):
    text = json.dumps(xapi_statement(1)) + "\n" + json.dumps(xapi_statement(2))[:-20]
    write(root, "lms/xapi/statements_2025-02.ndjson", text)
    fr = only_file(ingest_family("lms", root, "b1", references={}))
    assert fr.status == "rejected" and fr.reason.startswith("truncated_file:")


def test_xapi_json_array(root: Path):
    stmts = [xapi_statement(i) for i in range(1, 4)]
    write(root, "lms/xapi/statements_2025-03.json", json.dumps(stmts, indent=2))
    fr = only_file(ingest_family("lms", root, "b1", references={}))
    assert fr.status == "loaded" and fr.rows_loaded == 3
    write(root, "lms/xapi/statements_2025-04.json", json.dumps([xapi_statement(9)])[:-30])
    fr = [f for f in ingest_family("lms", root, "b2", references={}).files
          if f.source_file.endswith("2025-04.json")][0]
    assert fr.status == "rejected" and fr.reason.startswith("truncated_file:")


def test_spec_example_statement_loads(root: Path, shared_fixtures: Path):
    example = shared_fixtures / "xapi/spec_examples/09_appA_simple_statement.json"
    stmt = json.loads(example.read_text())
    write(root, "lms/xapi/statements_2025-05.ndjson", json.dumps(stmt) + "\n")
    fr = only_file(ingest_family("lms", root, "b1", references={}))
    assert fr.status == "loaded" and fr.rows_loaded == 1, fr


SURVEY_IDS = ("StartDate,EndDate,Status,IPAddress,Progress,Duration (in seconds),Finished,ResponseId,"
              "RecipientLastName,RecipientFirstName,RecipientEmail,ExternalReference,DistributionChannel,"
              "Q1,Q2,Q3_1,Q3_2,Q4,program_id,enrollment_id")


def survey_file(rows: list[str]) -> str:
    n = len(SURVEY_IDS.split(","))
    texts = ",".join(f"text {i}" for i in range(n))
    # StartDate/EndDate declare their zone in the ImportId JSON, as Qualtrics v3 exports do
    imports = ",".join('"{""ImportId"":""x%d""%s}"' % (i, ',""timeZone"":""Europe/Berlin""' if i < 2 else "")
                       for i in range(n))
    return "\n".join([SURVEY_IDS, texts, imports] + rows) + "\n"


def test_qualtrics_survey(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    rows = [
        "2025-02-01 10:00:00,2025-02-01 10:05:00,0,10.0.0.1,100,300,True,R_1,Lee,Ann,a@x.org,W1,email,9,4,2,4,Great,P1,E1",
        "2025-02-01 11:00:00,2025-02-01 11:01:00,0,10.0.0.2,40,60,False,R_2,Ng,Bob,b@x.org,W2,email,11,,,,,P1,E2",
        '2025-02-02 09:00:00,2025-02-02 09:09:00,0,10.0.0.3,100,540,1,R_3,Oz,Cy,c@x.org,W3,anonymous,7,5,3,5,"multi\nline, text",P2,E3',
    ]
    write(root, "surveys/post_training_survey_2025-02.csv", survey_file(rows))
    ingest_family("hris", root, "b1")
    fr = only_file(ingest_family("surveys", root, "b1"))
    assert fr.status == "loaded", fr.reason
    assert (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (3, 2, 1)
    assert fr.quarantine_by_rule == {"expect_column_values_to_be_between:nps": 1}
    t = bronze(root, fr)
    assert t["response_id"].to_pylist() == ["R_1", "R_3"]
    assert t["finished"].to_pylist() == [True, True]
    assert t["worker_id"].to_pylist() == ["W1", "W3"]
    assert t["feedback_text"][1].as_py() == "multi\nline, text"
    # the export's declared zone (Berlin, UTC+1 in February) wins over the mapping's UTC
    assert t["started_at"][0].as_py().isoformat() == "2025-02-01T09:00:00+00:00"
    assert t["ended_at"][0].as_py().isoformat() == "2025-02-01T09:05:00+00:00"
    assert t["_source_row"].to_pylist() == [1, 3]
    assert "ignored unmapped columns: Status" in fr.reason


def test_qualtrics_not_an_export_rejected(root: Path):
    write(root, "surveys/post_training_survey_2025-03.csv", "ResponseId,Q1\nR_1,9\n")
    fr = only_file(ingest_family("surveys", root, "b1", references={}))
    assert fr.status == "rejected" and fr.reason.startswith("unrecognised_layout:"), fr.reason


def test_qualtrics_legacy_fixture(root: Path, shared_fixtures: Path):
    fixture = shared_fixtures / "surveys/qualtrics_legacy_2header.csv"
    write(root, "surveys/post_training_survey_legacy.csv", fixture.read_bytes())
    fr = only_file(ingest_family("surveys", root, "b1", references={}))
    # the legacy export names the id column ResponseID; Q2 is free text, not a 1-5 relevance
    assert fr.status == "loaded" and fr.rows_read == 1
    assert fr.rows_quarantined == 1 and "invalid_type:relevance" in fr.quarantine_by_rule


def test_vendor_mapping_xlsx_and_parquet(root: Path, tmp_path: Path):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    mapping = tmp_path / "acme_lms.yml"
    mapping.write_text("""
entities:
  enrollments:
    pattern: lms/acme/transcript_*.xlsx
    format: xlsx
    sheet: Transcript
    columns: {Registration Number: enrollment_id, User ID: worker_id, Object ID: program_id,
              Registered: enrolled_at, Status: status, Completed On: completion_date, Score: score}
    value_maps:
      status: {case_insensitive: true, values: {Completed: completed, In Progress: in_progress,
               Not Started: not_started, Withdrawn: withdrawn, Waived: waived}}
    date_formats: {completion_date: "%m/%d/%Y"}
  credentials:
    pattern: lms/acme/badges_*.parquet
    format: parquet
    columns: {badge_id: credential_id, holder: worker_id, badge: credential_name, issued: issued_on}
""")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Notes"
    ws.append(["exported by ACME"])
    ws = wb.create_sheet("Transcript")
    ws.append(["Registration Number", "User ID", "Object ID", "Registered", "Status", "Completed On", "Score",
               "Training Type"])
    ws.append(["R1", "W1", "P1", dt.datetime(2025, 1, 2), "Completed", "01/20/2025", 88.0, "Online Class"])
    ws.append(["R2", "W2", "P1", dt.datetime(2025, 1, 3), "in progress", None, None, "Session"])
    ws.append(["R3", "W3", "P2", dt.datetime(2025, 1, 4), "Lost", "13/45/2025", None, "Video"])
    (root / "landing/lms/acme").mkdir(parents=True)
    wb.save(root / "landing/lms/acme/transcript_2025-01.xlsx")
    pq.write_table(pa.table({"badge_id": ["C1", "C2"], "holder": ["W1", "W2"], "badge": ["SQL", "Weld"],
                             "issued": pa.array([dt.date(2025, 1, 21), dt.date(2025, 2, 1)], pa.date32()),
                             "issuer": ["Credly", "Credly"]}),
                   root / "landing/lms/acme/badges_2025-01.parquet")
    rep = ingest_family("lms", root, "b1", mapping=str(mapping), references={})
    by = {f.entity: f for f in rep.files}
    enr = by["enrollments"]
    assert enr.status == "loaded" and (enr.rows_loaded, enr.rows_quarantined) == (2, 1), enr
    assert "ignored sheets: Notes" in enr.reason
    t = bronze(root, enr)
    assert t["status"].to_pylist() == ["completed", "in_progress"]
    assert t["completion_date"][0].as_py() == dt.date(2025, 1, 20)
    assert t["enrolled_at"][0].as_py() == dt.date(2025, 1, 2)
    q = quarantine(root, enr).to_pylist()
    assert {r["rule"] for r in q} == {"invalid_type:completion_date"}   # cast first; GX skips the record
    cred = by["credentials"]
    assert cred.status == "loaded" and cred.rows_loaded == 2
    assert bronze(root, cred)["issued_on"].type == pa.date32()


def test_progress_and_metadata(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    write(root, "hris/notes.txt", "not data")
    events = []
    rep = ingest_family("hris", root, "b1", progress=events.append)
    assert [e.stage for e in events] == ["start", "batch", "done"] and events[-1].status == "loaded"
    md = rep.to_metadata()
    json.dumps(md)                                   # plain JSON for Dagster metadata
    assert md["files_loaded"] == 1 and md["rows_loaded"] == 3 and md["unmatched_files"] == ["hris/notes.txt"]


def test_previous_rows_loaded_for_volume_gate(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    write(root, "hris/workers_2025-02-28.csv", workers_csv(WORKERS[:1]))
    first, second = ingest_family("hris", root, "b1").files
    assert first.previous_rows_loaded is None and second.previous_rows_loaded == 3
    assert second.as_dict()["previous_rows_loaded"] == 3


def test_empty_month_of_append_entity_loads_zero_rows(root: Path):
    # a month without ratings or statements is a delivery, not an error;
    # an empty workers snapshot is (test_unreadable_files_rejected)
    write(root, "performance/ratings_2025-01.csv",
          "evaluation_id,worker_id,evaluation_date,evaluation_type,rating\n")
    write(root, "lms/xapi/statements_2025-01.ndjson", b"")
    fr = only_file(ingest_family("performance", root, "b1", references={}))
    assert fr.status == "loaded" and (fr.rows_read, fr.rows_loaded) == (0, 0)
    assert "header_only" in fr.reason and bronze(root, fr).num_rows == 0
    fr = only_file(ingest_family("lms", root, "b1", references={}))
    assert fr.status == "loaded" and fr.rows_read == 0 and "no_records" in fr.reason
    # the next quiet month has the same bytes: another month, not a redelivery
    write(root, "performance/ratings_2025-02.csv",
          "evaluation_id,worker_id,evaluation_date,evaluation_type,rating\n")
    rep = ingest_family("performance", root, "b2", references={})
    assert {f.source_file: f.status for f in rep.files} == {
        "performance/ratings_2025-01.csv": "duplicate", "performance/ratings_2025-02.csv": "loaded"}
    assert_reconciled(root)


def test_enrollment_score_checked_against_program_scale(root: Path):
    write(root, "hris/workers_2025-01-31.csv", workers_csv())
    write(root, "lms/programs_2025-01-31.csv",
          "program_id,title,method,score_min,score_max\nP1,Forklift,bootcamp,0,1000\nP2,Excel,hybrid,0,100\n")
    write(root, "lms/enrollments_2025-01-31.csv",
          "enrollment_id,worker_id,program_id,enrolled_at,status,score\n"
          "E1,W1,P1,2025-01-02,passed,850\n"            # fine on P1's 0-1000 scale
          "E2,W2,P2,2025-01-02,passed,850\n"            # above P2's maximum
          "E3,W3,P404,2025-01-02,passed,50\n")          # unknown program: one row, not two
    ingest_family("hris", root, "b1")
    enr = [f for f in ingest_family("lms", root, "b1").files if f.entity == "enrollments"][0]
    assert (enr.rows_loaded, enr.rows_quarantined) == (1, 2), quarantine(root, enr).to_pylist()
    q = quarantine(root, enr).to_pylist()
    assert sorted((r["_source_row"], r["rule"]) for r in q) == [
        (2, "score_range:score"), (3, "unknown_reference:program_id")]


def test_sloppy_quoting_read_like_spreadsheets_do(root: Path):
    # '"Bob"by' breaks RFC 4180; Arrow and the csv module's lenient mode both
    # read 'Bobby'. The short row sends the file down the record-by-record path.
    rows = [WORKERS[0], 'W2,"Bob"by,Ng,b@x.org,2021-02-01,80,,true', "W9,short", WORKERS[2]]
    write(root, "hris/workers_quotes.csv", workers_csv(rows))
    fr = only_file(ingest_family("hris", root, "b1"))
    assert fr.status == "loaded" and (fr.rows_read, fr.rows_loaded, fr.rows_quarantined) == (4, 3, 1)
    t = bronze(root, fr)
    assert t["first_name"].to_pylist() == ["Ann", "Bobby", "Cy"] and t["_source_row"].to_pylist() == [1, 2, 4]
