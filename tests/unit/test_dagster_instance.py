"""The Dagster instance the CLI makes in a data root (training_impact.pipeline.DAGSTER_YAML), and the CLI's version."""

import dagster as dg

from training_impact.pipeline import prepare_dagster_home
from training_impact.settings import Paths


def test_the_instance_has_no_community_pop_up_no_telemetry_and_one_writer(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # restored after the test
    home = prepare_dagster_home(Paths(tmp_path))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_settings("nux") == {"enabled": False}  # no "Join the Dagster community" modal
        assert instance.get_settings("telemetry") == {"enabled": False}
        assert instance.get_settings("concurrency")["pools"]["default_limit"] == 1


def test_the_cli_says_its_version(capsys):
    import pytest

    from training_impact.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    import tomllib

    from repo_paths import REPO_ROOT

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert capsys.readouterr().out.strip() == f"training-impact {declared}"


def test_an_instance_made_before_the_nux_block_gets_it_and_a_deployments_own_file_is_left_alone(tmp_path,
                                                                                                monkeypatch):
    """A data root's dagster.yaml written by an earlier version (no `nux:`) showed the community pop-up on
    every page: preparing the home again appends the block; a dagster.yaml someone else wrote is not ours."""
    from training_impact.pipeline import DAGSTER_YAML

    home = tmp_path / "dagster_home"
    home.mkdir()
    earlier = DAGSTER_YAML.replace('nux:\n  enabled: false                  # no "Join the Dagster community" pop-up'
                                   ' over the UI\n', "")
    assert "nux" not in earlier
    (home / "dagster.yaml").write_text(earlier, encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare_dagster_home(Paths(tmp_path))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_settings("nux") == {"enabled": False} and not instance.nux_enabled
        assert instance.get_settings("concurrency")["pools"]["default_limit"] == 1
    prepare_dagster_home(Paths(tmp_path))  # once only
    assert (home / "dagster.yaml").read_text(encoding="utf-8").count("nux:") == 1

    theirs = "telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(theirs, encoding="utf-8")
    prepare_dagster_home(Paths(tmp_path))
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == theirs
