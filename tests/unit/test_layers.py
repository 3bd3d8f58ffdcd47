"""One-way layers (issue 14): a module imports from its own layer or lower ones only.

The import graph is read from the source (every ``import`` and ``from ... import``, relative ones
resolved, at any depth: inside functions, ``if TYPE_CHECKING:`` and ``try:`` blocks too), so an
import hidden in a function to dodge a cycle counts like any other. Nothing is imported.
"""

from __future__ import annotations

import ast
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from repo_paths import REPO_ROOT

# The layer map, lowest first. "pkg.*" is the package and every module under it; a plain name is
# that module only and wins over a "pkg.*" of another layer (audit.cli, audit.reproduce). Every
# module is in the one installed namespace, training_impact.* (pyproject.toml, package-dir).
LAYERS: dict[int, tuple[str, tuple[str, ...]]] = {
    0: ("settings", (
        "training_impact",            # the package module itself (training_impact/__init__.py)
        "training_impact.settings",
        "training_impact.disk",
        "training_impact.run_lock",
        "training_impact.files",      # owner-only chmod (restrict) the settings apply; privacy.permissions re-exports it
        "training_impact.kpis",       # the KPI registry (config/kpis.yml): labels, units, marts of every KPI
    )),
    1: ("ingestion, privacy", ("training_impact.ingestion.*", "training_impact.privacy.*")),
    # synthetic exports vendor formats with ingestion's mappings (synthetic/vendors.py), so it sits above ingestion.
    2: ("expectations, synthetic", ("training_impact.expectations.*", "training_impact.synthetic.*")),
    3: ("publishing, reporting, audit", ("training_impact.publishing.*", "training_impact.reporting.*",
                                         "training_impact.audit.*")),
    4: ("orchestration", ("training_impact.orchestration.*",)),
    5: ("cli", (
        "training_impact.cli",
        "training_impact.pipeline",
        "training_impact.summary",
        "training_impact.mappings_cli",
        "training_impact.audit.cli",
        # reproduce re-runs the whole pipeline (training_impact.pipeline.run_pipeline): it is a command
        # (`training-impact reproduce`), so it sits with the CLI, not with the audit it reads.
        "training_impact.audit.reproduce",
        "training_impact.benchmarks.*",
    )),
}
# Not Python packages, so outside the check: dbt_project/ (its scripts/nps_fixture_unit_tests.py is a
# standalone build script that imports none of our packages) and tests/.


NAMESPACE = "training_impact"


def _setuptools(root: Path = REPO_ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def our_packages(root: Path = REPO_ROOT) -> list[str]:
    """The folders of the repository the distribution installs (pyproject.toml, package-dir), each
    as a package of the one namespace: ingestion/ is training_impact.ingestion."""
    return sorted(_setuptools(root)["package-dir"].values())


def package_of(folder: str) -> str:
    """The installed name of a top-level folder: training_impact itself, else training_impact.<folder>."""
    return NAMESPACE if folder == NAMESPACE else f"{NAMESPACE}.{folder}"


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def modules_under(root: Path, packages: list[str]) -> dict[str, Module]:
    """Every .py of the packages under ``root``, by dotted module name."""
    out = {}
    for folder in packages:
        for path in sorted((root / folder).rglob("*.py")):
            parts = [package_of(folder), *path.relative_to(root / folder).with_suffix("").parts]
            if "__pycache__" in parts:
                continue
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            out[name] = Module(name, path, is_package)
    return out


def layer_of(module: str) -> tuple[int | None, str]:
    """(layer, "") for a module the map places exactly once, else (None, why not)."""
    best: dict[tuple[int, int], set[int]] = {}   # (exact?, length of the matched prefix) -> layers
    for layer, (_, patterns) in LAYERS.items():
        for pattern in patterns:
            if pattern.endswith(".*"):
                prefix = pattern[:-2]
                if module == prefix or module.startswith(prefix + "."):
                    best.setdefault((0, len(prefix)), set()).add(layer)
            elif module == pattern:
                best.setdefault((1, len(pattern)), set()).add(layer)
    if not best:
        return None, f"{module} is in no layer (add it to LAYERS in tests/unit/test_layers.py)"
    layers = best[max(best)]
    if len(layers) > 1:
        return None, f"{module} is in layers {sorted(layers)} at once (LAYERS in tests/unit/test_layers.py)"
    return layers.pop(), ""


def imports_of(module: Module, known: set[str], packages: list[str]) -> list[tuple[str, int]]:
    """(imported module of ours, line) for every import statement anywhere in the module."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    found = []

    folders = set(packages) - {NAMESPACE}

    def ours(name: str) -> bool:
        # a folder's bare name (`import ingestion`) counts too: it imports only from a checkout's root
        return name.split(".")[0] == NAMESPACE or name.split(".")[0] in folders

    def deepest_known(name: str) -> str:
        # `from pkg import name`: the submodule pkg.name when there is one, else the package itself
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in known:
                return ".".join(parts[:end])
        return name

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(deepest_known(alias.name), node.lineno) for alias in node.names if ours(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not ours(source):
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else deepest_known(source)
                found.append((target, node.lineno))
    return found


def layer_violations(root: Path = REPO_ROOT, packages: list[str] | None = None) -> list[str]:
    """Every import of a higher layer, as "<importer> (layer X) imports <imported> (layer Y) at <file>:<line>";
    also a module of ours in no layer (or in two)."""
    packages = our_packages(root) if packages is None else packages
    modules = modules_under(root, packages)
    known = set(modules)
    problems = []
    for module in modules.values():
        importer_layer, why = layer_of(module.name)
        if importer_layer is None:
            problems.append(why)
            continue
        for target, line in imports_of(module, known, packages):
            target_layer, why = layer_of(target)
            where = f"{module.path.relative_to(root).as_posix()}:{line}"
            if target.split(".")[0] != NAMESPACE:
                problems.append(f"{module.name} imports {target} by its folder name (installed, only "
                                f"{NAMESPACE}.{target} exists) at {where}")
            elif target_layer is None:
                problems.append(f"{module.name} imports {target} at {where}, and {why}")
            elif target_layer > importer_layer:
                problems.append(f"{module.name} (layer {importer_layer}) imports {target} (layer {target_layer}) "
                                f"at {where}")
    return sorted(set(problems))


# ----------------------------------------------------------------------------- the tree

def test_no_module_imports_from_a_higher_layer():
    problems = layer_violations()
    assert problems == [], "imports against the layers (tests/unit/test_layers.py, LAYERS):\n  " + "\n  ".join(problems)


def test_every_module_of_ours_is_in_exactly_one_layer():
    packages = our_packages()
    on_disk = sorted(p.parent.name for p in REPO_ROOT.glob("*/__init__.py"))
    assert set(on_disk) <= set(packages), f"packages missing from pyproject.toml: {set(on_disk) - set(packages)}"
    modules = modules_under(REPO_ROOT, packages)
    assert "training_impact.settings" in modules and "training_impact.audit.reproduce" in modules  # the walk sees the tree
    # every package of the tree is in pyproject's list, under the one namespace
    listed = set(_setuptools()["packages"])
    assert {m.name for m in modules.values() if m.is_package} == listed
    assert {name.split(".")[0] for name in listed} == {NAMESPACE}
    unmapped = [why for name in sorted(modules) for layer, why in [layer_of(name)] if layer is None]
    assert unmapped == [], "\n".join(unmapped)
    # and the map names no module that is gone (a renamed module would otherwise fall to its package's layer)
    exact = [p for _, patterns in LAYERS.values() for p in patterns if not p.endswith(".*")]
    wild = [p[:-2] for _, patterns in LAYERS.values() for p in patterns if p.endswith(".*")]
    assert [p for p in exact if p not in modules] == []
    assert [p for p in wild if p not in modules] == []


# ----------------------------------------------------------------------------- the check can fail

PLANTS = {
    # an import hidden in a function, of a higher layer's package module
    "absolute": ("audit/ledger.py", "training_impact.audit.ledger",
                 "def _planted():\n    from training_impact.orchestration.definitions import defs\n\n    return defs\n",
                 "training_impact.audit.ledger (layer 3) imports training_impact.orchestration.definitions (layer 4)"),
    # a relative import within one package that still climbs a layer (audit.reproduce sits with the CLI)
    "relative": ("audit/ledger.py", "training_impact.audit.ledger",
                 "def _planted():\n    from .reproduce import reproduce\n\n    return reproduce\n",
                 "training_impact.audit.ledger (layer 3) imports training_impact.audit.reproduce (layer 5)"),
    # the settings, the lowest layer, reaching into privacy again
    "settings": ("training_impact/settings.py", "training_impact.settings",
                 "def _planted():\n    import training_impact.privacy.permissions\n\n    return None\n",
                 "training_impact.settings (layer 0) imports training_impact.privacy.permissions (layer 1)"),
    # a folder's bare name: works from a checkout's root, fails once installed
    "bare": ("reporting/build.py", "training_impact.reporting.build",
             "def _planted():\n    import ingestion.engine\n\n    return None\n",
             "training_impact.reporting.build imports ingestion.engine by its folder name (installed, only "
             "training_impact.ingestion.engine exists)"),
}


def _copy_of(tmp_path: Path, *packages: str) -> Path:
    root = tmp_path / "tree"
    for package in packages:
        shutil.copytree(REPO_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_a_planted_reverse_import_is_reported_with_file_and_line(tmp_path: Path, plant: str):
    rel, _, code, expected = PLANTS[plant]
    packages = our_packages()
    root = _copy_of(tmp_path, *packages)
    assert layer_violations(root, packages) == []      # the copy is clean: what follows is the plant's doing
    target = root / rel
    text = target.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n" + code
    target.write_text(text, encoding="utf-8")
    line = text.count("\n", 0, text.index(code)) + 2   # the import is the planted function's second line
    assert layer_violations(root, packages) == [f"{expected} at {rel}:{line}"]


def test_a_module_in_no_layer_is_named(tmp_path: Path):
    root = _copy_of(tmp_path, "training_impact")
    (root / "training_impact" / "newcomer.py").write_text("import os\n", encoding="utf-8")
    assert layer_violations(root, ["training_impact"]) == [
        "training_impact.newcomer is in no layer (add it to LAYERS in tests/unit/test_layers.py)"]


# ----------------------------------------------------------------------------- configuration enters at the edge

SETTINGS_LAYER = {"training_impact.settings"}  # the one module that reads the process environment (issue 14)
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_readers(root: Path = REPO_ROOT, packages: list[str] | None = None) -> list[str]:
    """Every use of the process environment outside the settings layer, as "<module> uses os.<name> at
    <file>:<line>": ``os.environ`` / ``os.getenv`` / ... and ``from os import environ``."""
    packages = our_packages(root) if packages is None else packages
    found = []
    for module in modules_under(root, packages).values():
        if module.name in SETTINGS_LAYER:
            continue
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        where = module.path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in _ENV_NAMES and isinstance(node.value, ast.Name)
                    and node.value.id == "os"):
                found.append(f"{module.name} uses os.{node.attr} at {where}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                found += [f"{module.name} uses os.{a.name} at {where}:{node.lineno}"
                          for a in node.names if a.name in _ENV_NAMES]
    return sorted(found)


def test_only_the_settings_layer_reads_the_environment():
    readers = environment_readers()
    assert readers == [], ("read the setting from training_impact.settings.Settings (or take it as an argument / a "
                           "Dagster resource, orchestration/resources.py):\n  " + "\n  ".join(readers))


@pytest.mark.parametrize("code, name", [("import os\n\nLIMIT = os.environ.get('TI_LIMIT')\n", "environ"),
                                        ("from os import getenv\n\nLIMIT = getenv('TI_LIMIT')\n", "getenv")])
def test_a_planted_environment_read_is_reported(tmp_path: Path, code: str, name: str):
    packages = our_packages()
    root = _copy_of(tmp_path, *packages)
    assert environment_readers(root, packages) == []
    target = root / "publishing" / "serving.py"
    text = target.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n" + code
    target.write_text(text, encoding="utf-8")
    line = text.count("\n", 0, text.index(code)) + (1 if name == "getenv" else 3)
    assert environment_readers(root, packages) == [
        f"training_impact.publishing.serving uses os.{name} at publishing/serving.py:{line}"]
