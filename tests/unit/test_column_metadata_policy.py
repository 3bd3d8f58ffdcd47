"""When the dbt step attaches column schema + lineage (DECISIONS D67)."""

from training_impact.orchestration.defs import dbt as dbt_defs


def test_column_lineage_only_when_the_dbt_code_changed(monkeypatch, tmp_path):
    monkeypatch.setenv("TI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(dbt_defs.COLUMN_METADATA_ENV, raising=False)
    wanted, code = dbt_defs._column_metadata_wanted()
    assert wanted and len(code) == 64                       # never attached on this data root
    marker = dbt_defs._column_metadata_marker()
    assert marker.parent == tmp_path.resolve() / "warehouse"
    marker.parent.mkdir(parents=True)
    marker.write_text(code, encoding="utf-8")
    assert dbt_defs._column_metadata_wanted() == (False, code)   # same code: skip
    marker.write_text("0" * 64, encoding="utf-8")
    assert dbt_defs._column_metadata_wanted() == (True, code)    # code changed: attach again
    marker.write_text(code, encoding="utf-8")
    monkeypatch.setenv(dbt_defs.COLUMN_METADATA_ENV, "1")
    assert dbt_defs._column_metadata_wanted() == (True, code)    # forced every run
    monkeypatch.setenv(dbt_defs.COLUMN_METADATA_ENV, "0")
    assert dbt_defs._column_metadata_wanted() == (False, None)   # never
