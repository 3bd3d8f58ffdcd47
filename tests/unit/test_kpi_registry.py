"""The KPI registry, config/kpis.yml (issue 14): checked when it loads, and it drives the docs and the report."""

from __future__ import annotations

import copy

import pytest
import yaml

from training_impact import kpis
from training_impact.reporting.build import kpi_info, kpi_label, kpi_order
from training_impact.settings import load_parameters


def _raw() -> dict:
    with open(kpis.REGISTRY_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_docs_kpis_md_is_the_registrys_table():
    assert kpis.main(["--check"]) == 0, "docs/kpis.md differs from config/kpis.yml: run python -m training_impact.kpis"
    text = kpis.DOC_FILE.read_text(encoding="utf-8")
    raw = _raw()
    raw["kpis"]["retention"]["unit"] = "pct"  # a registry edit the doc has not seen
    changed = kpis.document(text, kpis.parse(raw))
    assert changed != text and "| `retention` | kpi_retention | 4 | pct |" in changed


def test_every_kpi_has_its_fields_and_real_parameters():
    registry = kpis.load_registry()
    assert len(registry.kpis) >= 35 and registry.grains[0] == "overall"
    assert {k.unit for k in registry.kpis.values()} <= set(kpis.UNITS)
    params = load_parameters()
    for kpi in registry.kpis.values():
        for dotted in kpi.parameters:
            node = params
            for part in dotted.split("."):
                node = node[part]  # KeyError: the registry names a parameter that does not exist


@pytest.mark.parametrize("field, value, message", [
    ("unit", "percent", "retention: unit 'percent' is not one of"),
    ("level", 7, "retention: level 7 is not 0..5"),
    ("colour", "red", "retention: unknown colour"),
    ("parameters", ["windows.retention_years"], "retention: parameter 'windows.retention_years' is not in"),
    ("grains", ["overall", "team"], "retention: grains ['team'] are not in `grains`"),
])
def test_a_bad_entry_is_named_with_its_field(field, value, message):
    raw = copy.deepcopy(_raw())
    raw["kpis"]["retention"][field] = value
    with pytest.raises(kpis.RegistryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        kpis.parse(raw, params=load_parameters())
    del raw["kpis"]["retention"]["label"]
    with pytest.raises(kpis.RegistryError, match="retention: missing label"):
        kpis.parse(raw)


def test_the_report_labels_come_from_the_registry_with_the_built_windows(monkeypatch):
    assert kpi_label("retention", "did_matched", {"retention_months": 18}).startswith("Still employed after 18 months")
    assert kpi_info("voluntary_separation", {"retention_months": 24}).higher_is_better is False
    raw = _raw()
    raw["kpis"]["retention"]["label"] = "Stayed {retention_months} months or more"
    monkeypatch.setattr("training_impact.reporting.build.load_registry", lambda: kpis.parse(raw))
    assert kpi_label("retention", "did_matched", {"retention_months": 18}).startswith("Stayed 18 months or more")


def test_the_report_reads_the_kpis_level_by_level():
    registry = kpis.load_registry()
    levels = [registry[name].level for name in kpi_order()]
    assert levels == sorted(levels)
    assert kpi_order().index("completion_rate") < kpi_order().index("learning_nps") < kpi_order().index("roi")


# ---------------------------------------------------------------- needs: KPIs the sources leave empty (D137)

def test_needs_name_real_sources():
    from training_impact.ingestion.schemas import load_schemas

    schemas = load_schemas()
    registry = kpis.load_registry()
    needs = [(kpi.name, need) for kpi in registry.kpis.values() for need in kpi.needs]
    assert {"completion_rate", "certification_attainment", "learning_nps"} <= {name for name, _ in needs}
    for name, need in needs:
        assert need.entity in schemas.entities, (name, need)
        assert need.column is None or need.column in schemas.entity(need.entity).column_names, (name, need)
    raw = _raw()
    raw["kpis"]["roi"]["needs"] = [{"source": "cost_lines", "effect": "vanished", "message": "x"}]
    with pytest.raises(kpis.RegistryError, match="roi: need effect 'vanished'"):
        kpis.parse(raw)


def test_kpi_warnings_say_which_kpis_and_why():
    S = kpis.SourceStats
    stats = {"enrollments": S(40), "programs": S(3, {"window_days": 0}), "credentials": S(0),
             "survey_responses": S(50, {"enrollment_id": 10, "feedback_text": 20})}
    warnings = {w.source: w for w in kpis.kpi_warnings(stats)}
    assert set(warnings) == {"programs.window_days", "credentials", "survey_responses.enrollment_id"}
    assert str(warnings["programs.window_days"]).startswith(
        "Completion rate: not measured: completion rate needs window_days or a catalogue duration")
    assert warnings["credentials"].kpis == ("certification_attainment", "active_certification_rate")
    assert warnings["survey_responses.enrollment_id"].effect == "degenerate"
    assert "10 of 50 survey_responses rows have enrollment_id" in str(warnings["survey_responses.enrollment_id"])
    # enough enrollment ids (min_share 0.9), windows present: nothing to say
    stats.update(programs=S(3, {"window_days": 2}), credentials=S(5),
                 survey_responses=S(50, {"enrollment_id": 48, "feedback_text": 20}))
    assert kpis.kpi_warnings(stats) == []
    # checking one file judges only its entity
    assert kpis.kpi_warnings({"programs": S(3, {"window_days": 0})}, entities={"programs"})[0].kpis == \
        ("completion_rate",)
