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
