"""The KPI registry, config/kpis.yml: one declarative entry per published `kpi` (DECISIONS D114).

Read by the report (labels), the docs (`python -m training_impact.kpis` writes the catalogue
table of docs/kpis.md; `--check` fails when it differs) and the catalogue tests, which hold
every entry against a real pipeline run. Loading checks the entries, naming the KPI and field.
Each entry's `needs` say which sources the KPI cannot do without: `kpi_warnings` tells `mappings check`
and the run summary which KPIs the data leaves not measured, empty or degenerate (DECISIONS D137).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from training_impact.settings import REPO_ROOT

REGISTRY_FILE = REPO_ROOT / "config" / "kpis.yml"
DOC_FILE = REPO_ROOT / "docs" / "kpis.md"
DOC_BEGIN = "<!-- kpi registry: begin (generated from config/kpis.yml by `python -m training_impact.kpis`) -->"
DOC_END = "<!-- kpi registry: end -->"
UNITS = ("pct", "pp", "index_points", "points", "days", "months", "hours", "count", "currency", "ratio")
REQUIRED = ("measures", "mart", "level", "unit", "methods", "estimation", "period", "parameters", "label", "what")
OPTIONAL = ("column", "grains", "members", "in_summary", "higher_is_better", "needs")
# What a KPI needs from the sources (`needs:`), and what it becomes without it (D137):
#   not_measured  the mart publishes a "not measured" row with the reason (a company without the source)
#   empty         the mart has nothing to publish (no row, or only suppressed ones)
#   degenerate    published, but its slices collapse (every answer under program type 'unknown')
NEED_EFFECTS = ("not_measured", "empty", "degenerate")


class RegistryError(ValueError):
    """An entry of config/kpis.yml that cannot be used."""


@dataclass(frozen=True)
class Need:
    """A source the KPI needs: rows of `entity`, or values in its `column` (on at least `min_share` of
    its rows), else `effect` with `message` (said by `mappings check` and the run summary)."""
    entity: str
    column: str | None
    effect: str
    message: str
    min_share: float = 0.0

    @property
    def source(self) -> str:
        return f"{self.entity}.{self.column}" if self.column else self.entity


@dataclass(frozen=True)
class Kpi:
    name: str
    measures: str
    mart: str
    level: int
    unit: str
    methods: tuple[str, ...]
    estimation: str
    period: str
    parameters: tuple[str, ...]
    label: str
    what: str
    grains: tuple[str, ...]
    column: str | None = None  # carried as this column of its mart's rows of another kpi
    members: str | None = None
    in_summary: bool = True
    higher_is_better: bool = True
    needs: tuple[Need, ...] = ()


@dataclass(frozen=True)
class Registry:
    kpis: dict[str, Kpi]
    grains: tuple[str, ...]
    path: Path = field(default=REGISTRY_FILE, compare=False)

    def __getitem__(self, name: str) -> Kpi:
        return self.kpis[name]

    @cached_property
    def ranks(self) -> dict[str, tuple[int, int]]:
        """(evaluation level, position in the file) of every KPI: the report reads them in this order."""
        return {name: (kpi.level, position) for position, (name, kpi) in enumerate(self.kpis.items())}

    def by_measure(self) -> dict[str, set[str]]:
        """measurement.md KPI → the kpi names carrying it, in kpi_summary."""
        out: dict[str, set[str]] = {}
        for kpi in self.kpis.values():
            if kpi.in_summary:
                out.setdefault(kpi.measures, set()).add(kpi.name)
        return out


def _needs(where: str, raw) -> tuple[Need, ...]:
    out = []
    for item in raw or ():
        if not isinstance(item, dict) or not (set(item) >= {"source", "effect", "message"}) \
                or set(item) - {"source", "effect", "message", "min_share"}:
            raise RegistryError(f"{where}: a need is {{source: entity[.column], effect, message[, min_share]}}")
        if item["effect"] not in NEED_EFFECTS:
            raise RegistryError(f"{where}: need effect {item['effect']!r} is not one of {', '.join(NEED_EFFECTS)}")
        entity, _, column = str(item["source"]).partition(".")
        share = float(item.get("min_share", 0.0))
        if not 0.0 <= share <= 1.0:
            raise RegistryError(f"{where}: min_share {share} is not 0..1")
        out.append(Need(entity, column or None, item["effect"], str(item["message"]).strip(), share))
    return tuple(out)


def _parameter_exists(params: dict, dotted: str) -> bool:
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def parse(raw: dict, path: Path = REGISTRY_FILE, params: dict | None = None) -> Registry:
    """The registry from its YAML mapping; `params` (config/parameters.yml) checks the parameter names."""
    where = path.name
    grains = tuple(raw.get("grains") or ())
    if not grains:
        raise RegistryError(f"{where}: no `grains` list")
    kpis: dict[str, Kpi] = {}
    for name, entry in (raw.get("kpis") or {}).items():
        if not isinstance(entry, dict):
            raise RegistryError(f"{where}: {name}: an entry is a mapping of fields")
        missing = [f for f in REQUIRED if f not in entry]
        unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
        if missing or unknown:
            raise RegistryError(f"{where}: {name}: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
        if entry["unit"] not in UNITS:
            raise RegistryError(f"{where}: {name}: unit {entry['unit']!r} is not one of {', '.join(UNITS)}")
        if not isinstance(entry["level"], int) or not 0 <= entry["level"] <= 5:
            raise RegistryError(f"{where}: {name}: level {entry['level']!r} is not 0..5")
        own = tuple(entry.get("grains") or grains)
        if set(own) - set(grains):
            raise RegistryError(f"{where}: {name}: grains {sorted(set(own) - set(grains))} are not in `grains`")
        for dotted in entry["parameters"] or ():
            if params is not None and not _parameter_exists(params, dotted):
                raise RegistryError(f"{where}: {name}: parameter {dotted!r} is not in config/parameters.yml")
        kpis[name] = Kpi(
            name=name, measures=entry["measures"], mart=entry["mart"], level=entry["level"], unit=entry["unit"],
            methods=tuple(entry["methods"]), estimation=str(entry["estimation"]), period=str(entry["period"]),
            parameters=tuple(entry["parameters"] or ()), label=entry["label"], what=entry["what"], grains=own,
            column=entry.get("column"), members=entry.get("members"), in_summary=bool(entry.get("in_summary", True)),
            higher_is_better=bool(entry.get("higher_is_better", True)),
            needs=_needs(f"{where}: {name}", entry.get("needs")))
    if not kpis:
        raise RegistryError(f"{where}: no kpis")
    return Registry(kpis=kpis, grains=grains, path=path)


@lru_cache(maxsize=4)
def load_registry(path: Path = REGISTRY_FILE) -> Registry:
    from training_impact.settings import load_parameters

    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return parse(raw, path, params=load_parameters())


# ----------------------------------------------------------------------------- readiness (D137)

@dataclass(frozen=True)
class SourceStats:
    """What the sources hold for one entity, as the marts will read it: rows, and rows with a value per column."""
    rows: int
    non_null: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiWarning:
    kpis: tuple[str, ...]          # registry names, in registry order
    labels: tuple[str, ...]        # their report labels
    effect: str
    source: str                    # entity or entity.column
    message: str
    detail: str                    # what the data shows ("0 of 1,204 programs have a value")

    def __str__(self) -> str:
        what = {"not_measured": "not measured", "empty": "will be empty",
                "degenerate": "will be degenerate"}[self.effect]
        return f"{', '.join(self.labels)}: {what}: {self.message} ({self.detail})"

    def to_dict(self) -> dict:
        return {"kpis": list(self.kpis), "effect": self.effect, "source": self.source, "message": self.message,
                "detail": self.detail, "text": str(self)}


def kpi_warnings(stats: dict[str, SourceStats], registry: Registry | None = None,
                 entities: set[str] | None = None) -> list[KpiWarning]:
    """The KPIs that will be not measured, empty or degenerate given what the sources hold.

    `stats`: entity -> SourceStats of the rows the marts will read. A need on an entity missing from
    `stats` is judged only when `entities` (the entities judged whole, e.g. every entity of a data
    root) holds it: checking one file says nothing about the other sources.
    """
    registry = registry or load_registry()
    judged = set(stats) if entities is None else set(entities)
    found: dict[tuple, list[Kpi]] = {}
    details: dict[tuple, str] = {}
    for kpi in registry.kpis.values():
        for need in kpi.needs:
            if need.entity not in judged:
                continue
            st = stats.get(need.entity) or SourceStats(0)
            if need.column is None:
                if st.rows > 0:
                    continue
                detail = f"no {need.entity} rows"
            else:
                if st.rows == 0:
                    continue        # no rows at all: a need on the entity itself says so, not each column
                have = int(st.non_null.get(need.column, 0))
                share = have / st.rows
                if need.effect == "degenerate":
                    if share >= max(need.min_share, 1e-12):
                        continue
                elif have > 0 and share >= need.min_share:
                    continue
                detail = f"{have:,} of {st.rows:,} {need.entity} rows have {need.column}"
            key = (need.effect, need.source, need.message)
            found.setdefault(key, []).append(kpi)
            details[key] = detail
    windows = _windows()
    out = []
    for (effect, source, message), kpis in found.items():
        out.append(KpiWarning(tuple(k.name for k in kpis), tuple(_label(k, windows) for k in kpis), effect, source,
                              message, details[(effect, source, message)]))
    return out


def _windows() -> dict:
    from training_impact.settings import load_parameters

    try:
        return dict(load_parameters().get("windows") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def _label(kpi: Kpi, windows: dict) -> str:
    try:
        return kpi.label.format(**windows)
    except (KeyError, IndexError, ValueError):
        return kpi.label


# ----------------------------------------------------------------------------- docs/kpis.md

def _cell(kpi: Kpi) -> tuple:
    """What a catalogue row shows beside the names; consecutive KPIs showing the same share a row."""
    mart = f"{kpi.mart} (`{kpi.column}`)" if kpi.column else kpi.mart
    return (mart, kpi.level, kpi.unit, kpi.estimation, kpi.period, kpi.measures, kpi.in_summary)


def catalogue_markdown(registry: Registry | None = None) -> str:
    registry = registry or load_registry()
    lines = ["| `kpi` in kpi_summary | mart | level | unit | estimation_method | period = year of | measurement.md |",
             "|---|---|---|---|---|---|---|"]
    groups: list[tuple[tuple, list[str]]] = []
    for kpi in registry.kpis.values():
        if groups and groups[-1][0] == _cell(kpi):
            groups[-1][1].append(kpi.name)
        else:
            groups.append((_cell(kpi), [kpi.name]))
    for (mart, level, unit, estimation, period, measures, in_summary), names in groups:
        shown = ", ".join(f"`{n}`" for n in names) + ("" if in_summary else " (not in kpi_summary)")
        lines.append(f"| {shown} | {mart} | {level} | {unit} | {estimation} | {period} | {measures} |")
    return "\n".join(lines)


def document(text: str, registry: Registry | None = None) -> str:
    """docs/kpis.md with the table between the markers replaced by the registry's."""
    if DOC_BEGIN not in text or DOC_END not in text:
        raise RegistryError(f"{DOC_FILE.name}: the markers {DOC_BEGIN!r} … {DOC_END!r} are missing")
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    return f"{head}{DOC_BEGIN}\n{catalogue_markdown(registry)}\n{DOC_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the KPI catalogue table of docs/kpis.md.")
    parser.add_argument("--check", action="store_true", help="fail when docs/kpis.md differs from the registry")
    args = parser.parse_args(argv)
    text = DOC_FILE.read_text(encoding="utf-8")
    wanted = document(text)
    if args.check:
        if wanted != text:
            print(f"{DOC_FILE} differs from {REGISTRY_FILE}: run `python -m training_impact.kpis`", file=sys.stderr)
            return 1
        return 0
    DOC_FILE.write_text(wanted, encoding="utf-8")
    print(f"wrote the KPI catalogue of {DOC_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
