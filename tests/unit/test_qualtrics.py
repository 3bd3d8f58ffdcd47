"""ingestion.qualtrics on the two public export fixtures and on small generated variants."""

from __future__ import annotations

import types

import pytest

from repo_paths import shared_fixtures_dir
from training_impact.ingestion.qualtrics import QualtricsHeader, is_partial, iter_records, read_header

SURVEYS = shared_fixtures_dir() / "surveys"
V3 = SURVEYS / "qualtrics_3header.csv"
LEGACY = SURVEYS / "qualtrics_legacy_2header.csv"


def _all(path, **kw) -> list[dict]:
    return [record for batch in iter_records(path, **kw) for record in batch]


def _data_columns(record: dict) -> list[str]:
    return [k for k in record if not k.startswith("_")]


def test_three_header_fixture():
    header = read_header(V3)
    assert isinstance(header, QualtricsHeader)
    assert (header.format, header.header_rows, header.encoding) == ("v3", 3, "utf-8")
    assert len(header.columns) == 20
    assert header.columns[:2] == ["StartDate", "EndDate"] and header.columns[-1] == "Q2 - Topics"
    assert header.question_texts["Q1"] == "This is a multiple choice question."
    assert header.question_texts["RecipientLastName"] == "Nachname des Empfängers"
    assert header.import_ids["ResponseId"] == "_recordId"
    assert header.import_ids["Q2"] == "QID2_TEXT"

    records = _all(V3)
    assert len(records) == 1 and len(_data_columns(records[0])) == 20
    (r,) = records
    assert r["ResponseId"] == "R_2YPOQ602ER1jkf1"
    assert r["Q2"] == "Hello World!"
    assert r["ExternalReference"] is None  # '' reads as None
    assert r["_source_row"] == 1
    assert not is_partial(r)


def test_legacy_two_header_fixture():
    header = read_header(LEGACY)
    assert (header.format, header.header_rows, header.encoding) == ("legacy", 2, "utf-8-sig")
    # Metadata named from row 2, questions keep their row-1 id; the trailing empty column is gone.
    assert header.columns == [
        "ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress",
        "Status", "StartDate", "EndDate", "Finished", "Q1", "Q2",
        "LocationLatitude", "LocationLongitude", "LocationAccuracy",
    ]
    assert header.question_texts["Q2"] == "This is a free text question."
    assert header.import_ids == {}

    records = _all(LEGACY)
    assert len(records) == 1 and len(_data_columns(records[0])) == 15
    (r,) = records
    assert r["ResponseID"] == "R_2YPOQ602ER1jkf1"  # the BOM is not part of the first name
    assert r["LocationAccuracy"] == "-1"
    assert "_row_error" not in r  # the trailing comma is expected, not an error
    assert r["_source_row"] == 1


V3_HEAD = (
    'StartDate,ResponseId,Finished,Progress,Q1\n'
    'Start Date,Response ID,Finished,Progress,How likely are you to recommend this program?\n'
    '"{""ImportId"":""startDate"",""timeZone"":""America/Denver""}","{""ImportId"":""_recordId""}",'
    '"{""ImportId"":""finished""}","{""ImportId"":""progress""}","{""ImportId"":""QID1""}"\n'
)


def test_streams_in_batches_with_continuous_ordinals(tmp_path):
    path = tmp_path / "survey.csv"
    rows = [f"2024-01-01 10:00:00,R_{i},1,100,{i % 11}\n" for i in range(25)]
    rows.insert(3, "\n")  # a blank line is not a record
    rows.insert(7, '2024-01-01 10:00:00,R_multi,1,100,"line one\nline two"\n')  # one record, two lines
    path.write_text(V3_HEAD + "".join(rows), encoding="utf-8")

    batches = iter_records(path, batch_size=10)
    assert isinstance(batches, types.GeneratorType)
    sizes = []
    records = []
    for batch in batches:
        sizes.append(len(batch))
        records.extend(batch)
    assert sizes == [10, 10, 6]
    assert [r["_source_row"] for r in records] == list(range(1, 27))
    assert records[6]["Q1"] == "line one\nline two"
    assert read_header(path).time_zones == {"StartDate": "America/Denver"}


def test_ragged_row_is_flagged_not_dropped(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text(V3_HEAD + "2024-01-01,R_1,1\n2024-01-01,R_2,1,100,9,surplus\n", encoding="utf-8")
    short, long_ = _all(path)
    assert short["Progress"] is None and short["_row_error"] == "expected 5 fields, found 3"
    assert long_["Q1"] == "9" and long_["_row_error"] == "expected 5 fields, found 6"


def test_utf16_tab_separated_export(tmp_path):
    path = tmp_path / "survey.tsv"
    head = "\n".join("\t".join(cells) for cells in (
        ["StartDate", "ResponseId", "Finished", "Progress", "Q1"],
        ["Start Date", "Response ID", "Finished", "Progress", "How likely are you to recommend this program?"],
        ['{"ImportId":"startDate"}', '{"ImportId":"_recordId"}', '{"ImportId":"finished"}',
         '{"ImportId":"progress"}', '{"ImportId":"QID1"}'],
    ))
    # Unquoted JSON cells: the csv module keeps the quotes inside an unquoted field.
    path.write_text(head + "\n2024-01-01\tR_1\t0\t40\t7\n", encoding="utf-16")
    header = read_header(path)
    assert (header.format, header.encoding, header.delimiter) == ("v3", "utf-16", "\t")
    (r,) = _all(path)
    assert (r["ResponseId"], r["Q1"]) == ("R_1", "7")
    assert is_partial(r)


def test_cp1252_legacy_export(tmp_path):
    path = tmp_path / "legacy.csv"
    text = "V1,V2,Q1,\nResponseID,Finished,Zufriedenheit mit dem Kurs (ä),\nR_1,0,5,\n"
    path.write_bytes(text.encode("cp1252"))
    header = read_header(path)
    assert (header.format, header.encoding, header.columns) == ("legacy", "cp1252", ["ResponseID", "Finished", "Q1"])
    assert header.question_texts["Q1"].endswith("(ä)")
    (r,) = _all(path)
    assert is_partial(r)


def test_unrecognised_layout_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("id,score\nx,1\ny,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unrecognised Qualtrics layout"):
        read_header(path)


@pytest.mark.parametrize(
    "record, partial",
    [
        ({"Finished": "1", "Progress": "100"}, False),
        ({"Finished": "True", "Progress": "100"}, False),
        ({"Finished": "0", "Progress": "100"}, True),
        ({"Finished": "False", "Progress": "100"}, True),
        ({"Finished": "false"}, True),
        ({"Finished": "1", "Progress": "99"}, True),
        ({"Finished": None, "Progress": "42"}, True),
        ({"Finished": False}, True),
        ({"Finished": "1"}, False),  # legacy: no Progress column
        ({}, False),
    ],
)
def test_is_partial(record, partial):
    assert is_partial(record) is partial
