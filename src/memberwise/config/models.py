"""The pydantic models of the propensity, forecast and personas YAMLs: fields, defaults, validation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo in a YAML never passes silently); values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(StrictModel):
    """Member splits (by a hash of member_id) of the training windows and of the validation window."""

    calibration: float = Field(
        0.2,
        gt=0,
        lt=0.5,
        description="Training-window members for early stopping, Optuna, the blend",
    )
    holdout: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Validation-window members for evaluation and the gate",
    )


class WindowsConfig(StrictModel):
    """The older labelled windows the propensity model trains on (the newest complete one validates)."""

    training: int = Field(3, ge=1, le=24, description="How many older windows to stack")
    step_days: int | None = Field(None, ge=7, description="Days between cutoffs (default max(28, horizon/2))")
    min_history_days: int = Field(90, ge=0, description="Data a window's cutoff needs before it")
    max_train_rows: int = Field(1_000_000, ge=1_000, description="Member-windows fitted on (a seeded sample)")


class OptunaConfig(StrictModel):
    """How long the hyper-parameter search runs."""

    trials: int = Field(20, ge=1)
    timeout_seconds: int = Field(600, ge=1)
    seed: int = 42
    early_stopping_rounds: int = Field(50, ge=1)
    tune_rows: int = Field(50_000, ge=1_000, description="Members per trial (a seeded sample beyond this)")


class SearchSpaceConfig(StrictModel):
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


class GateConfig(StrictModel):
    """Promotion rules: a challenger must pass all of them to become champion."""

    min_auc: float = Field(0.7, ge=0, le=1)
    max_ece: float = Field(0.05, ge=0, le=1)
    max_psi: float = Field(0.25, ge=0)
    auc_tolerance: float = Field(0.0, ge=0, le=1)


class PropensityConfig(StrictModel):
    """Everything that defines a propensity training run."""

    horizon_days: int = Field(90, ge=1, le=730)
    threshold: float = Field(60, ge=0, le=100)
    calibration: Literal["auto", "platt", "beta", "smooth_isotonic", "isotonic", "sigmoid"] = "auto"
    use_bgnbd_features: bool = True
    candidates: tuple[Literal["bgnbd", "rfm_logistic", "lightgbm", "blend"], ...] = Field(
        ("bgnbd", "rfm_logistic", "lightgbm", "blend"), min_length=1, description="The tournament"
    )
    tie_logloss: float = Field(0.001, ge=0, description="Log losses this close tie (the simpler one wins)")
    calibration_max_ece: float = Field(
        0.03, gt=0, le=1, description="A calibration method must reach this ECE (both binnings) to be chosen"
    )
    windows: WindowsConfig = WindowsConfig()
    threads: int = Field(2, ge=1, le=64, description="LightGBM threads (1 on a busy shared machine)")
    split: SplitConfig = SplitConfig()
    optuna: OptunaConfig = OptunaConfig()
    search_space: SearchSpaceConfig = SearchSpaceConfig()
    gate: GateConfig = GateConfig()


# ---- Sales forecast per audience (forecast.yaml) ----

CHINESE_NEW_YEAR_DATES = (
    "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29",
    "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03",
)  # fmt: skip
MID_AUTUMN_DATES = (
    "2020-10-01", "2021-09-21", "2022-09-10", "2023-09-29", "2024-09-17", "2025-10-06",
    "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12",
)  # fmt: skip


class EventsConfig(StrictModel):
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


class RNNConfig(StrictModel):
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


class BacktestConfig(StrictModel):
    """Rolling-origin backtest: refit at each origin, forecast the next weeks, score against actuals."""

    origins: int = Field(3, ge=1, le=20)
    step_weeks: int = Field(13, ge=1, description="Weeks between origins")
    horizon_weeks: int = Field(26, ge=1, le=104, description="Weeks forecast from each origin")


class ForecastGateConfig(StrictModel):
    """Promotion rules for a forecast challenger (all must hold)."""

    min_improvement_vs_snaive: float = Field(
        0.0, ge=0, lt=1, description="Mean MASE at least this share below the seasonal naive's (0: equal)"
    )
    coverage_band: tuple[float, float] = (0.7, 0.9)
    mase_tolerance: float = Field(0.05, ge=0, description="Mean MASE may exceed the champion's by this much")

    @model_validator(mode="after")
    def _band(self) -> ForecastGateConfig:
        low, high = self.coverage_band
        if not 0 <= low < high <= 1:
            raise ValueError(f"gate.coverage_band: need 0 <= low < high <= 1, got {self.coverage_band}")
        return self


class GapConfig(StrictModel):
    """How P(meet target) is simulated from the weekly forecast quantiles (docs/forecast.md)."""

    correlation: float = Field(0.7, ge=0, le=1, description="Correlation of forecast errors across weeks")
    simulations: int = Field(20_000, ge=100)
    seed: int = 0


class ForecastConfig(StrictModel):
    """Everything that defines a forecast training run and the KPI gap maths."""

    history_weeks: int | None = Field(None, ge=30, description="Train on at most this many recent weeks")
    ets_seasonal_periods: int = Field(52, ge=2, description="The season (weeks) of every seasonal candidate")
    candidates: tuple[Literal["rnn", "snaive", "ets", "theta", "fourier_arima"], ...] = Field(
        ("rnn", "snaive", "ets", "theta", "fourier_arima"),
        description="The tournament (seasonal naive always runs: it is the fallback and the bar)",
    )
    ensemble_size: int = Field(3, ge=2, le=5, description="An ensemble of each series' best this many")
    fourier_terms: int = Field(3, ge=1, le=10, description="Yearly Fourier pairs of the calendar regression")
    events: EventsConfig = EventsConfig()
    rnn: RNNConfig = RNNConfig()
    backtest: BacktestConfig = BacktestConfig()
    gate: ForecastGateConfig = ForecastGateConfig()
    gap: GapConfig = GapConfig()


class PersonasGateConfig(StrictModel):
    """Promotion rules for personas: stable clusters, none too small to plan a campaign for."""

    min_stability: float = Field(0.8, ge=0, le=1, description="Mean ARI between seeds at the chosen k")
    min_cluster_share: float = Field(0.03, ge=0, lt=1, description="Smallest persona's share of buyers")


class PersonasConfig(StrictModel):
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
