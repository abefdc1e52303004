"""Typed experiment configs: the YAML files in experiments/ validated by pydantic, with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memberwise.errors import MemberwiseError

EXPERIMENTS_DIR = Path("experiments")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """Shares of members held out for calibration and for the final evaluation."""

    calibration: float = Field(0.2, gt=0, lt=0.5)
    holdout: float = Field(0.2, gt=0, lt=0.5)


class OptunaConfig(_Strict):
    """How long the hyper-parameter search runs."""

    trials: int = Field(20, ge=1)
    timeout_seconds: int = Field(600, ge=1)
    seed: int = 42
    early_stopping_rounds: int = Field(50, ge=1)
    tune_rows: int = Field(200_000, ge=1_000, description="Members per trial (a seeded sample beyond this)")


class SearchSpaceConfig(_Strict):
    """Bounds of the LightGBM search space."""

    num_leaves: tuple[int, int] = (15, 127)
    learning_rate: tuple[float, float] = (0.02, 0.2)
    min_child_samples: tuple[int, int] = (10, 200)
    feature_fraction: tuple[float, float] = (0.5, 1.0)
    bagging_fraction: tuple[float, float] = (0.5, 1.0)
    lambda_l2: tuple[float, float] = (1e-3, 10.0)
    max_rounds: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _ordered(self) -> SearchSpaceConfig:
        for name in (
            "num_leaves",
            "learning_rate",
            "min_child_samples",
            "feature_fraction",
            "bagging_fraction",
        ):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"search_space.{name}: lower bound {low} is above upper bound {high}")
        return self


class GateConfig(_Strict):
    """Promotion rules: a challenger must pass all of them to become champion."""

    min_auc: float = Field(0.7, ge=0, le=1)
    max_ece: float = Field(0.05, ge=0, le=1)
    max_psi: float = Field(0.25, ge=0)
    auc_tolerance: float = Field(0.0, ge=0, le=1)


class PropensityConfig(_Strict):
    """Everything that defines a propensity training run."""

    horizon_days: int = Field(90, ge=1, le=730)
    threshold: float = Field(60, ge=0, le=100)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    use_bgnbd_features: bool = True
    split: SplitConfig = SplitConfig()
    optuna: OptunaConfig = OptunaConfig()
    search_space: SearchSpaceConfig = SearchSpaceConfig()
    gate: GateConfig = GateConfig()


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def load_config(model: type[ConfigT], path: Path | None, default_name: str) -> ConfigT:
    """Read and validate an experiment YAML; defaults if no path is given and experiments/<name> is absent."""
    if path is None:
        path = EXPERIMENTS_DIR / default_name
        if not path.exists():
            return model()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return model.model_validate(raw)
    except FileNotFoundError:
        raise MemberwiseError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        raise MemberwiseError(f"{path}: not valid YAML: {err}") from None
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise MemberwiseError(f"{path}: {problems}") from None


def load_propensity_config(path: Path | None) -> PropensityConfig:
    """The propensity config (experiments/propensity.yaml by default)."""
    return load_config(PropensityConfig, path, "propensity.yaml")
