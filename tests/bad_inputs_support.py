"""Test support for the catalogue of bad inputs (tests/fixtures/bad_inputs/index.yml): the cases,
and landing a case's file in a data root (a committed file, a shared fixture or a generated one).

Used by tests/unit/test_bad_inputs.py and tests/integration/test_bad_inputs_run.py.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import yaml
from repo_paths import REPO_ROOT, shared_fixtures_dir

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "bad_inputs"
INDEX = yaml.safe_load((FIXTURES / "index.yml").read_text(encoding="utf-8"))
CASES = INDEX["cases"]

# xAPI conformance cases whose null the fixture extraction lost (docs/xapi_conformance_exceptions.md):
# the stored statements are valid, so they are not "invalid statements" any more.
NULL_LOST_CASES = {"v1_0_3-0411", "v1_0_3-0412", "v1_0_3-0413", "v1_0_3-0414"}


# ----------------------------------------------------------------------------- generated inputs

def _xapi_conformance_invalid(dest: Path) -> None:
    """The [400] statements of the ADL conformance fixture, read as it is, one a line."""
    source = shared_fixtures_dir() / "xapi" / "adl_conformance_v1_0_3.jsonl"
    with open(source, encoding="utf-8") as fh, open(dest, "w", encoding="utf-8") as out:
        for line in fh:
            if not line.strip():
                continue
            case = json.loads(line)
            if case["expect_status"] == [400] and case["case_id"] not in NULL_LOST_CASES:
                out.write(json.dumps(case["statement"]) + "\n")


def _survey_10mb_field(dest: Path) -> None:
    """Two survey responses, the second with a 10 MB free-text answer (too big to commit)."""
    text = (FIXTURES / "surveys" / "nps_11.csv").read_text(encoding="utf-8").splitlines()
    header, first = text[:3], text[3]
    big = ("The trainer was great. " * (10 * 2**20 // 23 + 1))[: 10 * 2**20]
    fields = next(csv.reader([first]))
    fields[7], fields[-3] = "R_0010", big            # ResponseId, Q4
    with open(dest, "w", encoding="utf-8", newline="") as out:
        out.write("\n".join(header) + "\n" + first + "\n")
        csv.writer(out, lineterminator="\n").writerow(fields)


GENERATORS = {"xapi_conformance_invalid": _xapi_conformance_invalid, "survey_10mb_field": _survey_10mb_field}


def land(root: Path, entry: dict, landing: str) -> Path:
    dest = root / "landing" / landing
    dest.parent.mkdir(parents=True, exist_ok=True)
    if "file" in entry:
        shutil.copyfile(FIXTURES / entry["file"], dest)
    elif "shared" in entry:
        shutil.copyfile(shared_fixtures_dir() / entry["shared"], dest)
    else:
        GENERATORS[entry["generate"]](dest)
    return dest

