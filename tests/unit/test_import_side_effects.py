"""Importing the Dagster definitions has no side effects (issue 14, DECISIONS D106).

A fresh interpreter imports ``orchestration.definitions`` under an audit hook: no environment
variable may change and no subprocess may start (dbt parse belongs to the build step,
orchestration/dbt_manifest.py, run by `make`, the CLI and the test session).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from repo_paths import REPO_ROOT

# Third-party packages are imported before the probe starts watching: Dagster's vendored croniter
# runs `file` (platform.architecture) when dagster itself is imported; that is not ours to change.
PROBE = r"""
import json, os, sys
import dagster, dagster_dbt, duckdb, great_expectations, pandas, pyarrow  # noqa: F401,E401
started = []
def hook(event, args):
    if event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork"):
        started.append(f"{event}: {args[0] if args else ''}")
sys.addaudithook(hook)
before = dict(os.environ)
import training_impact.orchestration.definitions  # noqa: F401
after = dict(os.environ)
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
print(json.dumps({"changed": changed, "started": [str(s) for s in started]}))
"""


def _import_in_a_fresh_interpreter(extra_env: dict[str, str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TI_", "DAGSTER_", "DBT_", "GX_"))}
    env.pop("DO_NOT_TRACK", None)
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_definitions_changes_no_environment_variable_and_starts_no_subprocess():
    seen = _import_in_a_fresh_interpreter()
    assert seen["changed"] == [], f"importing orchestration.definitions changed {seen['changed']}"
    assert seen["started"] == [], f"importing orchestration.definitions started {seen['started']}"


def test_the_probe_can_fail():
    """The same probe sees a planted side effect (an import that sets a variable and runs a process)."""
    planted = PROBE.replace("import training_impact.orchestration.definitions  # noqa: F401",
                            "import subprocess; os.environ['TI_PLANTED'] = '1'; subprocess.run(['true'])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TI_")}
    done = subprocess.run([sys.executable, "-c", planted], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["changed"] == ["TI_PLANTED"] and seen["started"], seen
