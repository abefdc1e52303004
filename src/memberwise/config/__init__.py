"""Typed experiment configs: one pydantic model per YAML, and where the YAML files are read from.

The models live in `models` (propensity, forecast, personas) and `budget`; `files` resolves and loads the
YAMLs (never from the working directory). Everything is importable from `memberwise.config`.
"""

from __future__ import annotations

from memberwise.config.budget import (
    BudgetConfig,
    BudgetOverrides,
    CapacityConfig,
    SpendLimitConfig,
    StrategyCatalog,
    StrategyOption,
)
from memberwise.config.files import (
    DEFAULTS_DIR,
    FILE_NAMES,
    RetrainConfig,
    config_files,
    load_budget_config,
    load_config,
    load_forecast_config,
    load_personas_config,
    load_propensity_config,
    load_retrain_config,
)
from memberwise.config.models import (
    CHINESE_NEW_YEAR_DATES,
    MID_AUTUMN_DATES,
    BacktestConfig,
    EventsConfig,
    ForecastConfig,
    ForecastGateConfig,
    GapConfig,
    GateConfig,
    OptunaConfig,
    PersonasConfig,
    PersonasGateConfig,
    PropensityConfig,
    RNNConfig,
    SearchSpaceConfig,
    SplitConfig,
    StrictModel,
    WindowsConfig,
)

__all__ = [
    "BacktestConfig",
    "BudgetConfig",
    "BudgetOverrides",
    "CHINESE_NEW_YEAR_DATES",
    "CapacityConfig",
    "DEFAULTS_DIR",
    "EventsConfig",
    "FILE_NAMES",
    "ForecastConfig",
    "ForecastGateConfig",
    "GapConfig",
    "GateConfig",
    "MID_AUTUMN_DATES",
    "OptunaConfig",
    "PersonasConfig",
    "PersonasGateConfig",
    "PropensityConfig",
    "RNNConfig",
    "RetrainConfig",
    "SearchSpaceConfig",
    "SpendLimitConfig",
    "SplitConfig",
    "WindowsConfig",
    "StrategyCatalog",
    "StrategyOption",
    "StrictModel",
    "config_files",
    "load_budget_config",
    "load_config",
    "load_forecast_config",
    "load_personas_config",
    "load_propensity_config",
    "load_retrain_config",
]
