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


# ---- Sales forecast per audience (experiments/forecast.yaml) ----

CHINESE_NEW_YEAR_DATES = (
    "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29",
    "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03",
)  # fmt: skip
MID_AUTUMN_DATES = (
    "2020-10-01", "2021-09-21", "2022-09-10", "2023-09-29", "2024-09-17", "2025-10-06",
    "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12",
)  # fmt: skip


class EventsConfig(_Strict):
    """The promotion calendar the forecaster sees as covariates (known for every future week)."""

    fixed: dict[str, str] = Field(
        default_factory=lambda: {"618": "06-18", "double_11": "11-11", "double_12": "12-12"},
        description="Events on the same month-day every year (MM-DD)",
    )
    dated: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "chinese_new_year": list(CHINESE_NEW_YEAR_DATES),
            "mid_autumn": list(MID_AUTUMN_DATES),
        },
        description="Events that move (lunar festivals, brand launches): every date they fall on (ISO)",
    )
    member_days: list[int] = Field(default_factory=lambda: [8], description="Member day(s) of each month")
    lead_weeks: int = Field(2, ge=0, le=8, description="Indicator weeks before each event (people prepare)")
    lag_weeks: int = Field(1, ge=0, le=8, description="Indicator weeks after each event (the hangover)")

    @model_validator(mode="before")
    @classmethod
    def _yaml_dates(cls, raw: object) -> object:
        """YAML reads 2026-02-17 as a date: keep every date as its ISO string."""
        if isinstance(raw, dict) and isinstance(raw.get("dated"), dict):
            dated = {name: [str(d) for d in days] for name, days in raw["dated"].items()}
            return {**raw, "dated": dated}
        return raw

    @model_validator(mode="after")
    def _days(self) -> EventsConfig:
        from datetime import date

        days = [(f"fixed.{n}", f"2024-{d}") for n, d in self.fixed.items()]
        days += [(f"dated.{n}", d) for n, dates in self.dated.items() for d in dates]
        for where, day in days:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"events.{where}: {day!r} is not a date") from None
        if any(not 1 <= d <= 28 for d in self.member_days):
            raise ValueError("events.member_days: days of the month must be within 1..28")
        return self


class RNNConfig(_Strict):
    """The global GRU: window, size, training schedule; seeded so a run is repeatable on CPU."""

    input_weeks: int = Field(26, ge=4, le=156, description="Weeks of history the encoder reads")
    max_horizon_weeks: int = Field(53, ge=1, le=104, description="Longest forecast (a whole KPI year)")
    hidden: int = Field(32, ge=4, le=512)
    embedding: int = Field(4, ge=1, le=64, description="Audience embedding size")
    dropout: float = Field(0.1, ge=0, lt=1)
    epochs: int = Field(60, ge=1)
    patience: int = Field(10, ge=1, description="Early stopping: epochs without a better validation loss")
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(0.005, gt=0, le=1)
    validation_weeks: int = Field(13, ge=1, description="The last weeks of the training range, held out")
    seed: int = 42
    threads: int = Field(1, ge=1, description="torch CPU threads (a small model gains nothing from more)")


class BacktestConfig(_Strict):
    """Rolling-origin backtest: refit at each origin, forecast the next weeks, score against actuals."""

    origins: int = Field(3, ge=1, le=20)
    step_weeks: int = Field(13, ge=1, description="Weeks between origins")
    horizon_weeks: int = Field(26, ge=1, le=104, description="Weeks forecast from each origin")


class ForecastGateConfig(_Strict):
    """Promotion rules for a forecast challenger (all must hold)."""

    min_improvement_vs_snaive: float = Field(
        0.10, ge=0, lt=1, description="Mean MASE at least this share below the seasonal naive's"
    )
    coverage_band: tuple[float, float] = (0.7, 0.9)
    mase_tolerance: float = Field(0.05, ge=0, description="Mean MASE may exceed the champion's by this much")

    @model_validator(mode="after")
    def _band(self) -> ForecastGateConfig:
        low, high = self.coverage_band
        if not 0 <= low < high <= 1:
            raise ValueError(f"gate.coverage_band: need 0 <= low < high <= 1, got {self.coverage_band}")
        return self


class GapConfig(_Strict):
    """How P(meet target) is simulated from the weekly forecast quantiles (docs/forecast.md)."""

    correlation: float = Field(0.7, ge=0, le=1, description="Correlation of forecast errors across weeks")
    simulations: int = Field(20_000, ge=100)
    seed: int = 0


class ForecastConfig(_Strict):
    """Everything that defines a forecast training run and the KPI gap maths."""

    history_weeks: int | None = Field(None, ge=30, description="Train on at most this many recent weeks")
    ets_seasonal_periods: int = Field(52, ge=2, description="ETS baseline season (weeks)")
    events: EventsConfig = EventsConfig()
    rnn: RNNConfig = RNNConfig()
    backtest: BacktestConfig = BacktestConfig()
    gate: ForecastGateConfig = ForecastGateConfig()
    gap: GapConfig = GapConfig()


def load_forecast_config(path: Path | None) -> ForecastConfig:
    """The forecast config (experiments/forecast.yaml by default)."""
    return load_config(ForecastConfig, path, "forecast.yaml")


class PersonasGateConfig(_Strict):
    """Promotion rules for personas: stable clusters, none too small to plan a campaign for."""

    min_stability: float = Field(0.8, ge=0, le=1, description="Mean ARI between seeds at the chosen k")
    min_cluster_share: float = Field(0.03, ge=0, lt=1, description="Smallest persona's share of buyers")


class PersonasConfig(_Strict):
    """Everything that defines a personas training run."""

    k_min: int = Field(3, ge=2)
    k_max: int = Field(8, ge=2, le=20)
    stability_seeds: int = Field(4, ge=2, description="KMeans reruns per k to measure stability")
    min_stability: float = Field(0.8, ge=0, le=1, description="k below this mean ARI are not chosen")
    silhouette_tolerance: float = Field(0.02, ge=0, lt=1, description="Relative slack from the best")
    sample: int = Field(5_000, ge=100, description="Buyers sampled to compare k (silhouette is quadratic)")
    seed: int = 0
    gate: PersonasGateConfig = PersonasGateConfig()

    @model_validator(mode="after")
    def _ordered(self) -> PersonasConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min {self.k_min} is above k_max {self.k_max}")
        return self

    def k_range(self) -> range:
        """The k values compared."""
        return range(self.k_min, self.k_max + 1)


def load_personas_config(path: Path | None) -> PersonasConfig:
    """The personas config (experiments/personas.yaml by default)."""
    return load_config(PersonasConfig, path, "personas.yaml")


class CapacityConfig(_Strict):
    """A channel's weekly limit, e.g. SMS sent, AI-call minutes, WeCom chats per advisor x advisors."""

    per_week: float = Field(gt=0, description="Units per week (per advisor when `advisors` is set)")
    advisors: int | None = Field(None, ge=1, description="Multiplies per_week (WeCom 1:1: chats per advisor)")
    unit: str = "contacts"
    per_contact: float = Field(1.0, gt=0, description="Units one contact uses (e.g. 2 AI-call minutes)")

    def units(self, weeks: int) -> float:
        """Units available in a planning period of `weeks`."""
        return self.per_week * (self.advisors or 1) * weeks


class StrategyOption(_Strict):
    """One value of a strategy dimension: what a contact costs, its capacity, whom it may target."""

    cost_per_contact: float = Field(0.0, ge=0)
    face_value: float = Field(0.0, ge=0, description="Coupon face value (promotions)")
    redemption_rate: float = Field(0.0, ge=0, le=1, description="Expected share of coupons redeemed")
    capacity: CapacityConfig | None = None
    audiences: list[str] | None = Field(None, description="Audiences it may target (default: all)")

    @property
    def cost(self) -> float:
        """Cost per contact including the expected promotion cost (face value x redemption)."""
        return self.cost_per_contact + self.face_value * self.redemption_rate


class StrategyCatalog(_Strict):
    """Strategies are delivery x promotion x communication x activity; each option priced per contact."""

    delivery: dict[str, StrategyOption]
    promotion: dict[str, StrategyOption]
    communication: dict[str, StrategyOption]
    activity: dict[str, StrategyOption]

    @model_validator(mode="after")
    def _known_values(self) -> StrategyCatalog:
        from memberwise.data.contract import ACTIVITIES, AUDIENCES, COMMUNICATIONS, DELIVERIES, PROMOTIONS

        allowed = {"delivery": DELIVERIES, "promotion": PROMOTIONS, "communication": COMMUNICATIONS,
                   "activity": ACTIVITIES}  # fmt: skip
        for dim, known in allowed.items():
            for value, option in getattr(self, dim).items():
                if value not in known:
                    raise ValueError(f"{dim}.{value}: unknown (one of {', '.join(known)})")
                bad = set(option.audiences or []) - set(AUDIENCES)
                if bad:
                    raise ValueError(f"{dim}.{value}.audiences: unknown {', '.join(sorted(bad))}")
        return self


def _default_catalog() -> StrategyCatalog:
    """The demo brand's prices (data/demo.py COST_*), no capacities: used when no YAML is present."""
    from memberwise.data.demo import COST_COMMUNICATION, COST_DELIVERY, COST_PROMOTION

    from_costs = lambda costs: {k: StrategyOption(cost_per_contact=v) for k, v in costs.items()}  # noqa: E731
    return StrategyCatalog(
        delivery=from_costs(COST_DELIVERY), promotion=from_costs(COST_PROMOTION),
        communication=from_costs(COST_COMMUNICATION),
        activity={a: StrategyOption() for a in ("repurchase_coupon", "new_product_trial", "member_day",
                                                "points_redemption")},
    )  # fmt: skip


class SpendLimitConfig(_Strict):
    """Minimum and/or maximum spend on one value of a dimension (audience or a strategy dimension)."""

    dimension: Literal["audience", "delivery", "promotion", "communication", "activity"]
    value: str
    min: float = Field(0.0, ge=0)
    max: float | None = Field(None, ge=0)


class BudgetConfig(_Strict):
    """Everything that defines a budget run: catalog, response estimation, tiers and LP constraints."""

    catalog: StrategyCatalog = Field(default_factory=_default_catalog)
    period_weeks: int = Field(4, ge=1, le=52, description="Planning period; capacities are per week")
    response_window_days: int = Field(14, ge=1, le=90)
    max_tiers: int = Field(10, ge=1, le=20, description="Propensity bands per audience at most (deciles)")
    min_controls_per_tier: int = Field(
        200, ge=10, description="Fewer bands when the control touches per audience and band would drop below"
    )
    default_budget: float = Field(200_000, gt=0, description="Budget of the plan each retrain produces")
    fatigue_k: int = Field(2, ge=1, description="Touches per member in the period at most")
    min_roi: float | None = Field(None, ge=0, description="Incremental revenue per yuan spent, at least")
    spend_limits: list[SpendLimitConfig] = []
    budget_curve: list[float] = Field(
        [0.25, 0.5, 0.75, 1.0, 1.5, 2.0], description="Budget multiples re-solved for the marginal-value plot"
    )


class BudgetOverrides(_Strict):
    """What-if changes to a budget run (the service's `overrides`): only these fields may change."""

    fatigue_k: int | None = Field(None, ge=1)
    min_roi: float | None = Field(None, ge=0)
    capacities: dict[str, float] = Field({}, description="communication value -> units per week")
    spend_limits: list[SpendLimitConfig] | None = None

    def apply(self, config: BudgetConfig) -> BudgetConfig:
        """The config with these overrides; an unknown or capacity-less channel is an error."""
        catalog = config.catalog
        channels = dict(catalog.communication)
        for name, per_week in self.capacities.items():
            option = channels.get(name)
            if option is None or option.capacity is None:
                raise MemberwiseError(f"overrides.capacities.{name}: no capacity defined for this channel")
            capacity = option.capacity.model_copy(update={"per_week": per_week, "advisors": None})
            channels[name] = option.model_copy(update={"capacity": capacity})
        update: dict[str, object] = {"catalog": catalog.model_copy(update={"communication": channels})}
        changed = ("fatigue_k", "min_roi", "spend_limits")
        update |= {k: v for k in changed if (v := getattr(self, k)) is not None}
        return config.model_copy(update=update)


def load_budget_config(path: Path | None) -> BudgetConfig:
    """The budget config (experiments/strategies.yaml by default)."""
    return load_config(BudgetConfig, path, "strategies.yaml")


class RetrainConfig(_Strict):
    """The configs of every model the scheduled retrain fits (one YAML each in experiments/)."""

    propensity: PropensityConfig = PropensityConfig()
    personas: PersonasConfig = PersonasConfig()
    forecast: ForecastConfig = ForecastConfig()
    budget: BudgetConfig = Field(default_factory=BudgetConfig)


def load_retrain_config(directory: Path | None) -> RetrainConfig:
    """Each model's YAML from `directory` (default experiments/); a missing file means its defaults."""
    folder = directory or EXPERIMENTS_DIR
    if directory is not None and not directory.is_dir():
        raise MemberwiseError(f"{directory}: config directory not found")
    return RetrainConfig(
        propensity=load_config(PropensityConfig, _existing(folder / "propensity.yaml"), "propensity.yaml"),
        personas=load_config(PersonasConfig, _existing(folder / "personas.yaml"), "personas.yaml"),
        forecast=load_config(ForecastConfig, _existing(folder / "forecast.yaml"), "forecast.yaml"),
        budget=load_config(BudgetConfig, _existing(folder / "strategies.yaml"), "strategies.yaml"),
    )


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None
