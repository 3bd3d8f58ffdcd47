"""Mapping transforms (ingestion/transforms.py, ingestion/derive.py; docs/mappings.md "Derived columns").

Fast tests: every transform on small arrays, the validation when a mapping loads (each error names the
mapping file and the column), lookups and the quarantine of an unresolved one, and a small company
exported in five vendor formats no shipped mapping reads (tests/transforms_support.py), ingested with
mapping YAML only: the bronze rows equal the canonical ones. tests/integration/test_transforms_run.py
runs the real pipeline on those formats and compares every KPI mart.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from training_impact import ingestion, synthetic
from training_impact.ingestion.derive import DeriveState, apply_simple, resolve_lookup, to_micros
from training_impact.ingestion.mapping import MappingError, load_mapping, parse_mapping, write_landing_mappings
from training_impact.ingestion.schemas import load_schemas
from training_impact.ingestion.transforms import (
    Convert, Key, Lookup, Nearest, Regex, Sequence, Split, parse_transform,
)
from transforms_support import DIFFERENT_BY_DESIGN, FORMATS, export_new_formats

COMPANY = {"employees": 600, "years": 2, "seed": 3}
FAMILIES = ["hris", "lms", "performance", "finance", "surveys"]


def _em(**kw):
    """An entity spec to apply transforms with (number format, null tokens)."""
    doc = {"entities": {"cost_lines": {"pattern": "x/*.csv", "format": "csv", **kw}}}
    return parse_mapping(doc, Path("t.yml")).for_entity("cost_lines")[0]


EM = _em()


# --------------------------------------------------------------------------- each transform

def test_constant_and_keys():
    got, fails = apply_simple(parse_transform("w", {"constant": "EUR"}), [], 3, EM)
    assert got.to_pylist() == ["EUR"] * 3 and not fails
    journal, line = pa.array(["JE-1", " JE-2 ", None]), pa.array(["1", "2", "3"])
    concat = Key(("Journal", "Line"), "concat", "-")
    assert apply_simple(concat, [journal, line], 3, EM)[0].to_pylist() == ["JE-1-1", "JE-2-2", None]
    hashed, _ = apply_simple(Key(("Journal", "Line"), "hash", length=32), [journal, line], 3, EM)
    expected = hashlib.sha256("JE-1\x1f1".encode()).hexdigest()[:32]
    assert hashed.to_pylist()[0] == expected and hashed.to_pylist()[2] is None
    # stable: the same parts give the same key whatever the row order; the parts are kept apart
    again, _ = apply_simple(Key(("Journal", "Line"), "hash"), [journal[::-1], line[::-1]], 3, EM)
    assert again.to_pylist()[::-1] == hashed.to_pylist()
    ab_c, _ = apply_simple(Key(("a", "b"), "hash"), [pa.array(["ab"]), pa.array(["c"])], 1, EM)
    a_bc, _ = apply_simple(Key(("a", "b"), "hash"), [pa.array(["a"]), pa.array(["bc"])], 1, EM)
    assert ab_c != a_bc


def test_sequence_counts_within_groups_across_batches():
    state = DeriveState()
    t = Sequence(("Employee", "Effective"))
    first, _ = apply_simple(t, [pa.array(["W1", "W1", "W2"]), pa.array(["d1", "d1", "d1"])], 3, EM, state, "seq")
    second, _ = apply_simple(t, [pa.array(["W1", "W2", "W1"]), pa.array(["d1", "d2", "d2"])], 3, EM, state, "seq")
    assert first.to_pylist() == [1, 2, 1] and second.to_pylist() == [3, 1, 1]
    fresh, _ = apply_simple(t, [pa.array(["W1"]), pa.array(["d1"])], 1, EM, DeriveState(), "seq")
    assert fresh.to_pylist() == [1]


def test_regex_groups_split_and_convert():
    memo = pa.array(["Tuition [PRG-013] cohort 2026-04", "no code", None, "two [PRG-001] [PRG-002]"])
    code = Regex("Description", r"\[(PRG-\d{3})\]", 1)
    assert apply_simple(code, [memo], 4, EM)[0].to_pylist() == ["PRG-013", None, None, "PRG-001"]
    whole = Regex("Description", r"PRG-\d{3}", 0)
    assert apply_simple(whole, [memo], 4, EM)[0].to_pylist()[0] == "PRG-013"
    named = parse_transform("w", {"regex": {"column": "D", "pattern": r"cohort (?P<m>\d{4}-\d{2})", "group": "m"}})
    assert apply_simple(named, [memo], 4, EM)[0].to_pylist()[0] == "2026-04"
    both = pa.array(["W1|PRG-1", "W2", " W3 | PRG-3 ", None])
    assert apply_simple(Split("X", "|", 0), [both], 4, EM)[0].to_pylist() == ["W1", "W2", "W3", None]
    assert apply_simple(Split("X", "|", 1), [both], 4, EM)[0].to_pylist() == ["PRG-1", None, "PRG-3", None]
    weeks = pa.array(["8.57", "52.14", "", "n/a"])
    days, fails = apply_simple(Convert("weeks", multiply=7, round=0), [weeks], 4, EM)
    assert days.to_pylist()[:3] == [60.0, 365.0, None]
    assert [f[0] for f in fails] == [3] and "n/a" in fails[0][2]
    de = _em(decimal_separator=",", thousands_separator=".")
    cents, _ = apply_simple(Convert("c", divide=100, round=2), [pa.array(["1.234,5"])], 1, de)
    assert cents.to_pylist() == [12.35]


def test_lookup_nearest_before_after_within_and_ambiguous():
    theirs = pa.table({"m0": ["W1", "W1", "W1", "W2"],
                       "at": to_micros(pa.array([dt.date(2025, 1, 1), dt.date(2025, 3, 1), dt.date(2025, 3, 5),
                                                 dt.date(2025, 1, 1)])),
                       "take": ["jan", "mar1", "mar5", "w2"]})
    ours = [pa.array(["W1", "W1", "W2", "W3", None])]
    when = to_micros(pa.array([dt.date(2025, 3, 4), dt.date(2025, 2, 1), dt.date(2025, 1, 1),
                               dt.date(2025, 1, 1), dt.date(2025, 1, 1)]))

    def take(**near):
        t = Lookup("x", (("worker_id", "w"),), "take", Nearest("d", "t", **near))
        return resolve_lookup(t, ours, when, theirs).values.to_pylist()

    assert take() == ["mar5", "mar1", "w2", None, None]
    assert take(direction="before") == ["mar1", "jan", "w2", None, None]
    assert take(direction="after") == ["mar5", "mar1", "w2", None, None]
    assert take(within_days=10) == ["mar5", None, "w2", None, None]
    # equally near: the earlier wins, whatever the order of the rows
    t = Lookup("x", (("worker_id", "w"),), "take", Nearest("d", "t"))
    for order in (1, -1):
        pair = pa.table({"m0": ["W1", "W1"], "at": to_micros(pa.array([dt.date(2025, 1, 1), dt.date(2025, 1, 3)])),
                         "take": ["first", "third"]})[::order]
        tie = resolve_lookup(t, [pa.array(["W1"])], to_micros(pa.array([dt.date(2025, 1, 2)])), pair)
        assert tie.values.to_pylist() == ["first"]
    # without nearest every candidate must agree
    plain = Lookup("x", (("worker_id", "w"),), "take")
    res = resolve_lookup(plain, [pa.array(["W1", "W2"])], None, theirs)
    assert res.values.to_pylist() == [None, "w2"] and res.ambiguous.tolist() == [True, False]


# --------------------------------------------------------------------------- validation when a mapping loads

BASE = {"pattern": "finance/x_*.csv", "format": "csv"}


def _load(derive: dict, entity: str = "cost_lines", **extra):
    doc = {"entities": {entity: {**BASE, **extra, "derive": derive}}}
    return parse_mapping(yaml.safe_load(yaml.safe_dump(doc)), Path("acme.yml"))


@pytest.mark.parametrize("derive,extra,message", [
    ({"line_id": {"hash": {}}}, {}, r"acme.yml:cost_lines.derive.line_id: unknown transform 'hash'"),
    ({"line_id": {"key": {"columns": ["A"], "method": "hash", "salt": "x"}}}, {},
     r"derive.line_id: unknown key parameters \['salt'\]"),
    ({"line_id": {"key": {"columns": ["A"], "method": "md5"}}}, {}, r"derive.line_id: key method must be one of"),
    ({"line_id": {"key": {"columns": [], "method": "concat"}}}, {}, r"'columns' must be a column name or a non-empty"),
    ({"program_id": {"regex": {"column": "Memo", "pattern": "PRG-("}}}, {},
     r"derive.program_id: invalid regular expression"),
    ({"program_id": {"regex": {"column": "Memo", "pattern": "(?<=x)PRG"}}}, {}, r"derive.program_id: .*RE2"),
    ({"program_id": {"regex": {"column": "Memo", "pattern": "PRG-(\\d+)", "group": 2}}}, {},
     r"has 1 capture group\(s\), not group 2"),
    ({"program_id": {"split": {"column": "X", "separator": "|", "index": "first"}}}, {},
     r"'index' must be an integer"),
    ({"amount": {"convert": {"column": "X"}}}, {}, r"convert needs at least one of multiply, divide, add"),
    ({"amount": {"convert": {"column": "X", "divide": 0}}}, {}, r"cannot divide by 0"),
    ({"memo": {"convert": {"column": "X", "multiply": 2}}}, {}, r"derive.memo: a unit conversion gives a number"),
    ({"amount": {"key": {"columns": ["A"], "method": "concat"}}}, {}, r"derive.amount: a key is text"),
    ({"memo": {"sequence": {"within": ["A"]}}}, {}, r"derive.memo: a sequence is an integer"),
    ({"amount": {"constant": "lots"}}, {}, r"derive.amount: constant cannot be read as decimal"),
    ({"cost_category": {"constant": "snacks"}}, {}, r"constant 'snacks' is not an accepted value of cost_category"),
    ({"cost_category": {"constant": ["grant"]}}, {}, r"constant must be a single value"),
    ({"budget": {"constant": 1}}, {}, r"derive.budget: 'budget' is not a column of cost_lines"),
    ({"memo": {"constant": "x"}}, {"columns": {"Text": "memo"}}, r"fed by both vendor column 'Text' and a transform"),
    ({"memo": {"split": {"column": "Mail", "separator": "@", "index": 1}}}, {"identifiers": ["Mail"]},
     r"reads direct identifier 'Mail' into memo"),
    ({"invoice_id": {"key": {"columns": ["Employee", "Date"], "method": "concat"}}},
     {"columns": {"Employee": "worker_id"}}, r"raw worker id of 'Employee' .* use method: hash"),
    ({"program_id": {"lookup": {"entity": "courses", "match": {"program_id": "X"}, "take": "program_id"}}}, {},
     r"lookup in unknown entity 'courses'"),
    ({"program_id": {"lookup": {"entity": "enrollments", "match": {"learner": "X"}, "take": "program_id"}}}, {},
     r"lookup match 'learner' is not a column of enrollments"),
    ({"program_id": {"lookup": {"entity": "enrollments", "match": {"worker_id": "worker_id"}, "take": "program_id",
                                "nearest": {"column": "status", "to": "posting_date"}}}}, {},
     r"nearest column 'status' is not a date/timestamp column of enrollments"),
    ({"memo": {"lookup": {"entity": "enrollments", "match": {"program_id": "program_id"}, "take": "worker_id"}}},
     {}, r"takes the raw worker id enrollments.worker_id into memo"),
    ({"program_id": {"lookup": {"entity": "enrollments", "match": {"worker_id": "W"}, "take": "program_id",
                                "nearest": {"column": "enrolled_at", "to": "posting_date", "direction": "closest"}}}},
     {}, r"nearest direction must be one of"),
])
def test_mapping_refuses_malformed_transforms(derive, extra, message):
    with pytest.raises(MappingError, match=message):
        _load(derive, **extra)


def test_derived_columns_load_and_take_precedence_over_same_named_headers():
    m = _load({"line_id": {"key": {"columns": ["Journal", "Line"], "method": "concat", "separator": "-"}},
               "currency": {"constant": "EUR"}})
    em = m.for_entity("cost_lines")[0]
    schema = load_schemas().entity("cost_lines")
    assert em.canonical_for("line_id", schema) is None          # the transform feeds it, not a same-named header
    assert em.transform_inputs(schema) == ["Journal", "Line"]
    assert isinstance(em.derive["line_id"], Key) and em.derive["currency"].value == "EUR"


# --------------------------------------------------------------------------- through ingestion

def _write(root: Path, rel: str, text: str) -> Path:
    p = root / "landing" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


class _NoRules:
    """Row-rule stub: these tests look at derived values and the transforms' own rules."""

    def __call__(self, entity, df):
        class R:
            failures = pd.DataFrame(columns=["row_index", "rule", "column", "value", "message"])
            result = {"success": True}
        return R()


def test_required_lookup_unresolved_is_quarantined_with_a_named_rule(tmp_path):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings/acme.yml").write_text(yaml.safe_dump({"entities": {
        "enrollments": {"pattern": "lms/acme/transcript_*.csv", "format": "csv",
                        "columns": {"Learner": "worker_id", "Course": "program_id"}},
        "credentials": {"pattern": "lms/acme/badges_*.csv", "format": "csv",
                        "columns": {"Badge": "credential_id", "Learner": "worker_id", "Course": "program_id"},
                        "derive": {"credential_name": {"lookup": {
                            "entity": "programs", "match": {"program_id": "program_id"}, "take": "credential_offered"}},
                            "issued_on": {"lookup": {
                                "entity": "enrollments", "match": {"worker_id": "worker_id", "program_id": "Course"},
                                "take": "completion_date"}}}}}}, sort_keys=False), encoding="utf-8")
    (tmp_path / "mappings/cat.yml").write_text(yaml.safe_dump({"entities": {
        "programs": {"pattern": "lms/acme/catalogue_*.csv", "format": "csv"}}}), encoding="utf-8")
    _write(tmp_path, "lms/acme/catalogue_2025-01-31.csv",
           "program_id,title,method,credential_offered\nP1,One,bootcamp,Cert One\nP2,Two,bootcamp,\n")
    _write(tmp_path, "lms/acme/transcript_2025-01-31.csv",
           "enrollment_id,Learner,Course,enrolled_at,status,completion_date\n"
           "E1,W1,P1,2025-01-01,completed,2025-01-20\nE2,W2,P2,2025-01-01,completed,2025-01-21\n")
    _write(tmp_path, "lms/acme/badges_2025-01-31.csv",
           "Badge,Learner,Course\nB1,W1,P1\nB2,W2,P2\nB3,W3,P1\n")
    write_landing_mappings(tmp_path, {"lms": ["../mappings/cat.yml", "../mappings/acme.yml"]})
    rep = ingestion.ingest_family("lms", tmp_path, "b1", row_validator=_NoRules(), references={})
    creds = next(f for f in rep.files if f.entity == "credentials")
    assert creds.status == "loaded" and creds.rows_read == 3 and creds.rows_loaded == 1, creds.reason
    assert creds.quarantine_by_rule == {"lookup_unresolved:credential_name": 1, "lookup_unresolved:issued_on": 1}
    loaded = pq.read_table(tmp_path / creds.bronze_file).to_pylist()
    assert loaded[0]["credential_name"] == "Cert One" and loaded[0]["issued_on"] == dt.date(2025, 1, 20)
    q = pq.read_table(tmp_path / creds.quarantine_file).to_pylist()
    messages = {r["_source_row"]: r["message"] for r in q if r["rule"] == "lookup_unresolved:issued_on"}
    assert "no row matches worker_id='W3', program_id='P1' in enrollments of lms/acme/transcript_2025-01-31.csv" \
        in messages[3]


def test_derived_column_without_its_vendor_column(tmp_path):
    """A required derived column whose vendor column is absent rejects the file and says which column."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings/gl.yml").write_text(yaml.safe_dump({"entities": {"cost_lines": {
        "pattern": "finance/gl_*.csv", "format": "csv", "columns": {"Journal": "invoice_id"},
        "derive": {"line_id": {"key": {"columns": ["Journal", "Line"], "method": "concat", "separator": "-"}},
                   "currency": {"constant": "EUR"}, "cost_category": {"constant": "tuition"},
                   "program_id": {"regex": {"column": "Memo", "pattern": "PRG-\\d+"}}}}}}), encoding="utf-8")
    write_landing_mappings(tmp_path, {"finance": ["../mappings/gl.yml"]})
    _write(tmp_path, "finance/gl_2025-01.csv", "Journal,posting_date,amount\nJ1,2025-01-02,10.00\n")
    rep = ingestion.ingest_family("finance", tmp_path, "b1", row_validator=_NoRules(), references={})
    (fr,) = rep.files
    assert fr.status == "rejected" and "missing_required_column: line_id (derived from 'Line'" in fr.reason
    _write(tmp_path, "finance/gl_2025-02.csv", "Journal,Line,posting_date,amount\nJ1,1,2025-02-02,10.00\n")
    rep = ingestion.ingest_family("finance", tmp_path, "b2", row_validator=_NoRules(), references={})
    (fr,) = [f for f in rep.files if f.source_file.endswith("2025-02.csv")]
    assert fr.status == "loaded", fr.reason
    assert "optional columns absent (loaded as null)" in fr.reason and "program_id" in fr.reason
    (row,) = pq.read_table(tmp_path / fr.bronze_file).to_pylist()
    assert (row["line_id"], row["currency"], row["cost_category"], row["program_id"]) == ("J1-1", "EUR", "tuition",
                                                                                          None)


# --------------------------------------------------------------------------- five new vendor formats

@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("canonical")
    synthetic.generate(root, **COMPANY)
    return root


@pytest.fixture(scope="module")
def ingested(company, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    out = {}
    for name in ("canonical", "new"):
        root = tmp_path_factory.mktemp(name) / "root"
        shutil.copytree(company / "landing", root / "landing")
        if name == "new":
            export_new_formats(root)
        reports = {f: ingestion.ingest_family(f, root, "b1", row_validator=_NoRules()).to_metadata()
                   for f in FAMILIES}
        out[name] = (root, reports)
    return out


def _bronze(root: Path, entity: str, columns: list[str]) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"select {', '.join(columns)} from read_parquet(?, union_by_name=true) order by all",
                           [str(root / "bronze" / entity / "*.parquet")]).fetchall()


def test_new_formats_are_not_shipped_and_load_through_mapping_yaml_in_the_data_root(ingested):
    root, reports = ingested["new"]
    shipped = {p.stem for p in (Path(ingestion.__file__).parent / "mappings").glob("*.yml")}
    assert not set(FORMATS) & shipped
    assert {f: reports[f]["mapping"] for f in FAMILIES} == {
        "hris": "peoplehub", "lms": "learnpath+canonical", "performance": "opsboard+canonical",
        "finance": "ledger", "surveys": "pulse"}
    for family, md in reports.items():
        assert md["files_rejected"] == 0 and not md["unmatched_files"], (family, md["rejected"])
    # every transform kind is used by the five mappings
    kinds = set()
    for name in FORMATS:
        for specs in load_mapping(root / "mappings" / f"{name}.yml").entities.values():
            for em in specs:
                for t in em.derive.values():
                    kinds.add(type(t).__name__)
                    if isinstance(t, Lookup) and not isinstance(t.take, str):
                        kinds.add(type(t.take).__name__)
    assert kinds == {"Constant", "Key", "Sequence", "Regex", "Split", "Convert", "Lookup"}


def test_new_formats_give_the_canonical_bronze_rows(ingested):
    (can, can_reports), (new, new_reports) = ingested["canonical"], ingested["new"]
    for family in FAMILIES:
        a, b = can_reports[family], new_reports[family]
        assert (a["rows_read"], a["rows_loaded"], a["quarantine_by_rule"]) == \
            (b["rows_read"], b["rows_loaded"], b["quarantine_by_rule"]), family
    for entity, spec in load_schemas().entities.items():
        if spec.optional and not any((can / "bronze" / entity).glob("*.parquet")):
            continue
        cols = [c for c in spec.column_names if c not in DIFFERENT_BY_DESIGN.get(entity, set())]
        rows = _bronze(new, entity, cols)
        assert rows == _bronze(can, entity, cols), f"{entity} differs from the canonical files"
        assert rows, entity


def test_generated_keys_keep_the_canonical_relations(ingested):
    (can, _), (new, _) = ingested["canonical"], ingested["new"]
    with duckdb.connect() as con:
        def read(root: Path, entity: str) -> str:
            return f"read_parquet('{root}/bronze/{entity}/*.parquet', union_by_name=true)"

        # enrollment ids: one hashed id per canonical id, and the surveys point at the same enrollments
        pairs = con.execute(f"""
            select c.enrollment_id, n.enrollment_id from {read(can, 'enrollments')} c
            join {read(new, 'enrollments')} n using (worker_id, program_id, attempt)""").fetchall()
        assert len(pairs) == len({c for c, _ in pairs}) == len({n for _, n in pairs}) > 0
        to_new = dict(pairs)
        surveys = con.execute(f"""
            select c.enrollment_id, n.enrollment_id from {read(can, 'survey_responses')} c
            join {read(new, 'survey_responses')} n using (response_id)""").fetchall()
        assert surveys and all(to_new.get(c) == n for c, n in surveys), "a survey linked to another enrollment"
        assert sum(1 for c, _ in surveys if c) > 0.9 * len(surveys)
        # job events: the same order within a worker's day
        for root in (can, new):
            con.execute(f"create or replace table jh_{root.parent.name} as select worker_id, effective_date, "
                        f"event_reason, job_profile, row_number() over (partition by worker_id, effective_date "
                        f"order by event_sequence) as k from {read(root, 'job_history')}")
        assert con.execute(f"select * from jh_{can.parent.name} except select * from jh_{new.parent.name}"
                           ).fetchall() == []
        # cost lines: GL line ids as before (journal + line), stipends hashed one to one; memos keep their text
        lines = "select line_id, invoice_id, posting_date, amount from {} where cost_category <> 'stipend'"
        a, b = lines.format(read(can, "cost_lines")), lines.format(read(new, "cost_lines"))
        assert con.execute(f"({a} except all {b}) union all ({b} except all {a})").fetchall() == []
        memos = con.execute(f"""
            select count(*), count(*) filter (where starts_with(n.memo, c.memo))
            from (select distinct line_id, memo from {read(can, 'cost_lines')} where cost_category <> 'stipend') c
            join (select distinct line_id, memo from {read(new, 'cost_lines')}) n using (line_id)""").fetchone()
        assert memos[0] > 0 and memos[0] == memos[1]
        stipends = "select count(distinct line_id), count(*) from {} where cost_category = 'stipend'"
        assert con.execute(stipends.format(read(can, "cost_lines"))).fetchone() == \
            con.execute(stipends.format(read(new, "cost_lines"))).fetchone()


def test_lookup_notes_count_only_rows_with_something_to_look_up(ingested):
    root, reports = ingested["new"]
    employees = next(f for f in reports["hris"]["files"] if "Employees_" in f["source_file"])
    assert "derived columns: fte_pct, termination_category, termination_reason" in employees["reason"]
    # every terminated worker found its termination in the job actions: no lookup note
    assert "lookup termination_category" not in employees["reason"], employees["reason"]
