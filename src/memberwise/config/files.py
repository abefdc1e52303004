"""Where configs are read from: a given file or config directory, else the YAMLs packaged with memberwise.

Never the working directory: `--config-dir DIR` reads each model's YAML from DIR, and a file missing
there falls back to the packaged default (`memberwise/config/defaults/`, which the repository's
`experiments/` links to). So a command reads the same configs wherever it runs, and `config_files`
(and `RetrainConfig.sources`) say which files those were.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from memberwise.config.budget import BudgetConfig
from memberwise.config.models import ForecastConfig, PersonasConfig, PropensityConfig, StrictModel
from memberwise.errors import MemberwiseError

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
FILE_NAMES = {
    "propensity": "propensity.yaml",
    "personas": "personas.yaml",
    "forecast": "forecast.yaml",
    "budget": "strategies.yaml",
}

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class RetrainConfig(StrictModel):
    """The configs of every model the scheduled retrain fits (one YAML each)."""

    propensity: PropensityConfig = PropensityConfig()
    personas: PersonasConfig = PersonasConfig()
    forecast: ForecastConfig = ForecastConfig()
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    # Where each config was read from: a record of the run, not part of the config (no dump, no hash).
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    def source_tags(self) -> dict[str, str]:
        """The sources as run tags (`config_file.propensity` = its path)."""
        return {f"config_file.{kind}": path for kind, path in self.sources.items()}

    def describe_sources(self) -> str:
        """Which YAML each model's config was read from, one line each (the CLI prints it)."""
        return "\n".join(f"config {kind}: {path}" for kind, path in self.sources.items())


def config_files(directory: Path | None = None) -> dict[str, Path]:
    """The absolute path each model's YAML is read from: `directory`'s file if present, else the default."""
    if directory is not None and not directory.is_dir():
        raise MemberwiseError(f"{directory}: config directory not found")

    def pick(name: str) -> Path:
        given = None if directory is None else directory / name
        return given.resolve() if given is not None and given.is_file() else DEFAULTS_DIR / name

    return {kind: pick(name) for kind, name in FILE_NAMES.items()}


def load_config(model: type[ConfigT], path: Path) -> ConfigT:
    """Read and validate one YAML; every problem is one MemberwiseError naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(raw)
    except (FileNotFoundError, IsADirectoryError):
        raise MemberwiseError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        raise MemberwiseError(f"{path}: not valid YAML: {err}") from None
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise MemberwiseError(f"{path}: {problems}") from None


def load_propensity_config(path: Path | None = None) -> PropensityConfig:
    """The propensity config from `path` (default: the packaged propensity.yaml)."""
    return load_config(PropensityConfig, path or DEFAULTS_DIR / FILE_NAMES["propensity"])


def load_forecast_config(path: Path | None = None) -> ForecastConfig:
    """The forecast config from `path` (default: the packaged forecast.yaml)."""
    return load_config(ForecastConfig, path or DEFAULTS_DIR / FILE_NAMES["forecast"])


def load_personas_config(path: Path | None = None) -> PersonasConfig:
    """The personas config from `path` (default: the packaged personas.yaml)."""
    return load_config(PersonasConfig, path or DEFAULTS_DIR / FILE_NAMES["personas"])


def load_budget_config(path: Path | None = None) -> BudgetConfig:
    """The budget config from `path` (default: the packaged strategies.yaml)."""
    return load_config(BudgetConfig, path or DEFAULTS_DIR / FILE_NAMES["budget"])


def load_retrain_config(directory: Path | None = None) -> RetrainConfig:
    """Every model's config from `directory` (a missing file: the packaged default), with its sources."""
    files = config_files(directory)
    return RetrainConfig(
        propensity=load_config(PropensityConfig, files["propensity"]),
        personas=load_config(PersonasConfig, files["personas"]),
        forecast=load_config(ForecastConfig, files["forecast"]),
        budget=load_config(BudgetConfig, files["budget"]),
        sources={kind: str(path) for kind, path in files.items()},
    )
