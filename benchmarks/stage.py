"""One benchmark stage in its own process (see benchmarks/run.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from training_impact.settings import DBT_PROJECT_DIR, data_paths, disable_telemetry


def main(stage: str, root: str, scale: str, years: str, seed: str) -> int:
    disable_telemetry()
    paths = data_paths(root)
    if stage == "generate":
        from training_impact import synthetic

        synthetic.generate(Path(root), employees=int(scale), years=int(years), seed=int(seed))
        return 0
    paths.ensure().export_env()
    if stage == "ingest":
        from training_impact.pipeline import run_pipeline

        outcome = run_pipeline(paths, groups=["bronze"])
        return 0 if outcome.success else 1
    from training_impact.orchestration.defs.dbt import dbt_vars

    # dbt_run: seeds (reference tables) and models; dbt_test: data and unit tests.
    commands = {"dbt_run": ["seed", "run"], "dbt_test": ["test"]}[stage]
    dbt = Path(sys.executable).with_name("dbt")
    for command in commands:
        code = subprocess.call([str(dbt), command, "--vars", dbt_vars(), "--project-dir", str(DBT_PROJECT_DIR),
                                "--profiles-dir", str(DBT_PROJECT_DIR)])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
