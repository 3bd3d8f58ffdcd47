"""A full disk (a real small tmpfs): a clear error, the serving set intact, success once space is freed."""

from __future__ import annotations

import re
import shutil

import pytest
from faults_support import (
    Run,
    Tmpfs,
    assert_loaded_exactly_once,
    assert_same_as_clean,
    copy_root,
    served_state,
)

pytestmark = pytest.mark.faults

# What a clear error says: a free-space check before writing, or the write that hit ENOSPC.
DISK_FULL = re.compile(r"no space left on (the )?device|not enough free disk space|enospc|disk is full", re.I)


def _du(root) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture
def tmpfs(tmp_path):
    mounts = []

    def make(name: str, megabytes: int) -> Tmpfs:
        mount = Tmpfs(tmp_path / name, megabytes)
        mounts.append(mount)
        if mount.skip_reason:
            pytest.skip(mount.skip_reason)
        return mount

    yield make
    for mount in mounts:
        mount.unmount()


@pytest.mark.parametrize("when", ["before", "during"])
def test_data_root_on_a_full_disk_fails_clearly_then_succeeds_once_space_is_freed(when, clean_run, tmpfs):
    """`before`: the device is full when the run starts (the free-space checks see it);
    `during`: TI_MIN_FREE_MB=0 and 3 MB free, so a write runs out of space mid-run."""
    size = _du(clean_run["root"])
    disk = tmpfs("disk", size // 2**20 + 160)
    root = copy_root(clean_run["root"], disk.where / "root")
    filler = disk.fill(leave_bytes=256 * 1024 if when == "before" else 3 * 2**20)

    full = Run(root, "full", env={"TI_MIN_FREE_MB": "0"} if when == "during" else None)
    code = full.finish()
    assert code is not None, f"the run on a full disk hung instead of failing:\n{full.tail()}"
    assert code != 0, "a run on a full disk reported success"
    said = DISK_FULL.search(full.text)
    assert said, f"the failure does not say the disk is full:\n{full.tail()}"
    line = next(line for line in full.text.splitlines() if DISK_FULL.search(line))
    assert str(disk.where) in line or str(root) in full.text, f"the error does not name a path: {line}"
    # BI still reads the last good set, whole.
    assert_same_as_clean(root, clean_run["state"])

    filler.unlink()
    again = Run(root, "freed")
    code = again.finish()
    assert code == 0, f"after freeing space the run failed ({code}):\n{again.tail()}"
    assert_same_as_clean(root, clean_run["state"])
    assert_loaded_exactly_once(root, clean_run["manifest"])


def test_serving_dir_on_a_full_disk_keeps_the_set_and_names_the_path(clean_run, tmpfs, tmp_path, monkeypatch):
    """TI_SERVING_DIR on its own small device; the same publish the Dagster asset calls.

    The error may come from a free-space check before the publish (DiskSpaceError) or from the
    write that hit ENOSPC (ServingDiskFull): either names the serving path and changes nothing.
    """
    from training_impact.publishing import publish_run
    from training_impact.publishing.serving import current_version
    from training_impact.settings import data_paths

    root = copy_root(clean_run["root"], tmp_path / "root")
    shutil.rmtree(root / "serving")
    disk = tmpfs("serving", 160)  # two serving sets (about 30 MB each with the serving views, D126) + TI_MIN_FREE_MB (64)
    serving = disk.where / "serving"
    monkeypatch.setenv("TI_SERVING_DIR", str(serving))
    monkeypatch.delenv("TI_POSTGRES_DSN", raising=False)
    paths = data_paths(root)
    publish_run(paths, "fault-a")
    (root / "serving").symlink_to(serving)  # so served_state reads it where BI would
    before = current_version(serving)
    filler = disk.fill(leave_bytes=64 * 1024)
    with pytest.raises(Exception) as caught:
        publish_run(paths, "fault-b")
    message = str(caught.value)
    assert DISK_FULL.search(message) and str(serving) in message, f"{type(caught.value)}: {message}"
    assert current_version(serving) == before
    assert served_state(root)["run_id"] == "fault-a"
    assert_same_as_clean(root, clean_run["state"])
    assert not list((serving / "versions").glob(".*")), "a half-built version was left behind"

    filler.unlink()
    report = publish_run(paths, "fault-c")
    assert current_version(serving) == report.version_dir
    assert served_state(root)["run_id"] == "fault-c"
    assert_same_as_clean(root, clean_run["state"])
