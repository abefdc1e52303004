"""Config files resolve the same wherever a command runs: a given directory, else the packaged defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from memberwise.config import (
    DEFAULTS_DIR,
    FILE_NAMES,
    PropensityConfig,
    config_files,
    load_budget_config,
    load_propensity_config,
    load_retrain_config,
)
from memberwise.errors import MemberwiseError

REPO = Path(__file__).parents[2]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with its own experiments/ whose values differ from every default."""
    cwd = tmp_path / "cwd"
    (cwd / "experiments").mkdir(parents=True)
    (cwd / "experiments" / "propensity.yaml").write_text("horizon_days: 28\n")
    (cwd / "experiments" / "strategies.yaml").write_text("fatigue_k: 7\n")
    monkeypatch.chdir(cwd)
    return cwd


def test_packaged_defaults_are_complete_and_valid() -> None:
    files = config_files()
    assert set(files) == set(FILE_NAMES)
    assert all(path.parent == DEFAULTS_DIR and path.is_file() for path in files.values())
    assert load_propensity_config() == PropensityConfig()  # the YAML documents the built-in values
    assert load_budget_config().catalog.communication["sms"].capacity is not None


def test_the_working_directory_is_never_read(elsewhere: Path) -> None:
    cfg = load_retrain_config(None)
    assert cfg.propensity.horizon_days == 90 and cfg.budget.fatigue_k == 2
    assert all(str(elsewhere) not in path for path in cfg.sources.values())


def test_a_file_missing_from_the_config_dir_falls_back_to_the_packaged_default(
    elsewhere: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "configs"
    mine.mkdir()
    (mine / "personas.yaml").write_text("k_max: 5\n")
    cfg = load_retrain_config(mine)
    assert cfg.personas.k_max == 5
    assert cfg.budget == load_budget_config()  # not ./experiments/strategies.yaml (fatigue_k 7)
    assert cfg.propensity.horizon_days == 90  # not ./experiments/propensity.yaml (28)
    assert cfg.sources["personas"] == str(mine / "personas.yaml")
    assert cfg.sources["budget"] == str(DEFAULTS_DIR / "strategies.yaml")
    assert "config personas: " + str(mine / "personas.yaml") in cfg.describe_sources()
    assert cfg.source_tags()["config_file.personas"] == str(mine / "personas.yaml")


def test_same_sources_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "configs"
    mine.mkdir()
    (mine / "propensity.yaml").write_text("horizon_days: 60\n")
    seen = []
    for cwd in (tmp_path, mine, REPO):
        monkeypatch.chdir(cwd)
        cfg = load_retrain_config(mine)
        seen.append((cfg.sources, cfg.propensity.horizon_days))
    assert seen[0] == seen[1] == seen[2] and seen[0][1] == 60


def test_sources_are_not_part_of_the_config_hash() -> None:
    a = load_retrain_config(None)
    b = a.model_copy(update={"sources": {"propensity": "/elsewhere/propensity.yaml"}})
    assert a.model_dump_json() == b.model_dump_json()


def test_missing_directory_and_bad_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MemberwiseError, match="config directory not found"):
        load_retrain_config(tmp_path / "nope")
    (tmp_path / "propensity.yaml").write_text("horizon_days: -1\n")
    with pytest.raises(MemberwiseError, match="propensity.yaml: horizon_days"):
        load_retrain_config(tmp_path)


def test_the_repository_experiments_are_the_packaged_files() -> None:
    for name in FILE_NAMES.values():
        assert (REPO / "experiments" / name).resolve() == DEFAULTS_DIR / name
