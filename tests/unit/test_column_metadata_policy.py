"""When the dbt step attaches column schema + lineage (DECISIONS D67)."""

from training_impact.orchestration.defs import dbt as dbt_defs
from training_impact.settings import Paths


def test_column_lineage_only_when_the_dbt_code_changed(tmp_path):
    paths = Paths(tmp_path.resolve())
    wanted, code = dbt_defs._column_metadata_wanted(paths)
    assert wanted and len(code) == 64                       # never attached on this data root
    marker = dbt_defs._column_metadata_marker(paths)
    assert marker.parent == tmp_path.resolve() / "warehouse"
    marker.parent.mkdir(parents=True)
    marker.write_text(code, encoding="utf-8")
    assert dbt_defs._column_metadata_wanted(paths) == (False, code)        # same code: skip
    marker.write_text("0" * 64, encoding="utf-8")
    assert dbt_defs._column_metadata_wanted(paths) == (True, code)         # code changed: attach again
    marker.write_text(code, encoding="utf-8")
    assert dbt_defs._column_metadata_wanted(paths, "1") == (True, code)    # forced every run
    assert dbt_defs._column_metadata_wanted(paths, "0") == (False, None)   # never
