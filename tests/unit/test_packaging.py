"""`pip install .` puts one package into site-packages: training_impact (issue 14).

The data-flow folders stay at the top of the repository and install as subpackages of the
one namespace (pyproject.toml, package-dir; DECISIONS D110). The wheel is what `pip install .`
unpacks into site-packages, so its top-level names are what an installation adds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from repo_paths import REPO_ROOT


def test_the_wheel_installs_only_the_training_impact_namespace(tmp_path: Path):
    # built from a copy: setuptools writes build/ beside the sources
    source = tmp_path / "src"
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for folder in sorted(set(config["tool"]["setuptools"]["package-dir"].values())):
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "work"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next(tmp_path.glob("training_impact-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"training_impact", wheel.name.split("-py")[0] + ".dist-info"}, sorted(top_level)
    # the folders arrive as subpackages, with the files the code reads beside them
    for expected in ("training_impact/ingestion/engine.py", "training_impact/orchestration/definitions.py",
                     "training_impact/orchestration/defs/dbt.py", "training_impact/privacy/dbt_plugin.py",
                     "training_impact/ingestion/mappings/canonical.yml", "training_impact/expectations/policy.yml"):
        assert expected in names, expected
