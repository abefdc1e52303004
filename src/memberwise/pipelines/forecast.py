"""Train the audience sales forecaster: weekly series -> tournament -> register -> gate.

The cutoff is snapped to a Monday so every week in the series is complete. The tournament refits every
candidate (GRU, seasonal naive, ETS, Theta, calendar regression, ensemble) at the same origins before
the cutoff and keeps each audience's best; the whole choice is one registered pyfunc (the challenger).
The gate compares the challenger with seasonal naive and with the champion's choices, all scored in the
challenger's backtest: the same data and origins (docs/forecast.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import matplotlib
import mlflow
import numpy as np
import pandas as pd
import pydantic
import scipy
import statsmodels
import torch
import yaml

from memberwise import registry
from memberwise.config import ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.features import audience_sales
from memberwise.modeling.forecaster import ForecastPyfunc, TournamentForecaster, figures
from memberwise.pipelines.gate import GateDecision, decide, settle
from memberwise.planning_inputs import week_start
from memberwise.settings import Settings
from memberwise.tracking import (
    CHALLENGER,
    CHAMPION,
    FORECAST_MODEL,
    configure,
    data_fingerprint,
    experiment_id,
    log_figure,
    log_frame,
    register_challenger,
    run_tags,
)
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
PIP_REQUIREMENTS = [
    f"torch=={torch.__version__.split('+')[0]}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
    f"matplotlib=={matplotlib.__version__}",
    f"pydantic=={pydantic.VERSION}",
    f"pyyaml=={yaml.__version__}",  # the pickled model holds pydantic configs from memberwise.config
    f"mlflow=={mlflow.__version__}",
    f"statsmodels=={statsmodels.__version__}",  # the statistical candidates refit at predict time
    f"scipy=={scipy.__version__}",
]


@dataclass
class ForecastTrainResult:
    """What a forecast training run produced."""

    run_id: str
    model_version: str
    metrics: dict[str, float]
    scores: pd.DataFrame  # audience, model, mase, smape, coverage80, eligible, chosen, note
    model: TournamentForecaster
    train_seconds: float


def weekly_series(
    wh: Warehouse, cutoff: pd.Timestamp, cfg: ForecastConfig, new_window_days: int
) -> pd.DataFrame:
    """Weekly revenue per audience before the cutoff (the last `history_weeks` if set)."""
    sales = audience_sales(wh, end=cutoff.date(), new_window_days=new_window_days)
    history = sales[["week", "audience", "revenue"]].assign(audience=sales["audience"].astype(str))
    if cfg.history_weeks is not None:
        history = history[history["week"] >= cutoff - pd.Timedelta(weeks=cfg.history_weeks)]
    return history.reset_index(drop=True)


def tournament(cfg: ForecastConfig) -> TournamentForecaster:
    """The tournament a config defines (plain parameters)."""
    bt = cfg.backtest
    return TournamentForecaster(
        season=cfg.ets_seasonal_periods,
        origins=bt.origins,
        step_weeks=bt.step_weeks,
        horizon_weeks=bt.horizon_weeks,
        ensemble_size=cfg.ensemble_size,
        fourier_terms=cfg.fourier_terms,
        candidates=cfg.candidates,
        rnn=cfg.rnn.model_dump(),
        events=cfg.events,
    )


def tournament_metrics(scores: pd.DataFrame) -> dict[str, float]:
    """Stable metric names: mase_<model>_<audience>, ..._mean, the chosen model's as mase_chosen_...

    A mean over audiences is logged for a model only when it ran on every audience.
    """
    metrics: dict[str, float] = {}
    names = ("mase", "smape", "coverage80")
    chosen = scores[scores["chosen"]].assign(model="chosen")
    audiences = scores["audience"].nunique()
    for model, part in pd.concat([scores, chosen]).groupby("model"):
        for row in part.itertuples():
            metrics.update({f"{m}_{model}_{row.audience}": float(getattr(row, m)) for m in names})
        if part["audience"].nunique() == audiences:
            metrics.update({f"{m}_{model}_mean": float(part[m].mean()) for m in names})
    if {"mase_chosen_mean", "mase_snaive_mean"} <= metrics.keys():
        metrics["mase_chosen_vs_snaive"] = 1 - metrics["mase_chosen_mean"] / metrics["mase_snaive_mean"]
    if {"mase_rnn_mean", "mase_snaive_mean"} <= metrics.keys():
        metrics["mase_rnn_vs_snaive"] = 1 - metrics["mase_rnn_mean"] / metrics["mase_snaive_mean"]
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def register(model: TournamentForecaster, history: pd.DataFrame, settings: Settings) -> str:
    """Log the pyfunc (signature with start_week/horizon params, explicit requirements), alias challenger."""
    configure(settings)
    example = history[history["week"] >= history["week"].max() - pd.Timedelta(weeks=model.season * 2 + 4)]
    example = example.assign(week=example["week"].dt.strftime("%Y-%m-%d")).reset_index(drop=True)
    params = {"start_week": "", "horizon": 13}
    return register_challenger(FORECAST_MODEL, ForecastPyfunc(model), example, PIP_REQUIREMENTS, params)


def train_forecast(
    wh: Warehouse,
    as_of: date,
    cfg: ForecastConfig,
    settings: Settings,
    trigger: str = "manual",
    progress: bool = False,
) -> ForecastTrainResult:
    """One MLflow run: the tournament (every candidate backtested, one choice per audience), registered."""
    configure(settings)
    cutoff = week_start(as_of)
    history = weekly_series(wh, cutoff, cfg, settings.new_window_days)
    tags = run_tags(trigger, data_fingerprint(wh), str(cutoff.date()), kind="train")
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "forecast"),
        run_name=f"forecast as of {cutoff.date()}",
        nested=mlflow.active_run() is not None,
        tags=tags,
    ) as run:
        mlflow.log_params(_run_params(cfg, history, cutoff))
        started = time.perf_counter()
        model = tournament(cfg).fit(history, progress=progress)
        train_seconds = time.perf_counter() - started
        metrics = tournament_metrics(model.scores_)
        metrics["train_seconds"] = train_seconds
        if model.correlation_ is not None:
            metrics["error_correlation"] = model.correlation_
        mlflow.log_metrics(metrics)
        mlflow.set_tags({f"chosen.{s}": model.choice_[s] for s in model.series_})
        log_tournament(model, history)
        version = register(model, history, settings)
        mlflow.set_tag("model_version", version)
    shown = {
        k: metrics.get(k, float("nan"))
        for k in ("mase_chosen_mean", "mase_snaive_mean", "coverage80_chosen_mean")
    }
    log.info(
        "forecast v%s: chosen %s; MASE chosen %.3f vs snaive %.3f; coverage %.2f",
        version, ", ".join(f"{s}={m}" for s, m in model.choice_.items()), *shown.values(),
    )  # fmt: skip
    return ForecastTrainResult(run.info.run_id, version, metrics, model.scores_, model, train_seconds)


def log_tournament(model: TournamentForecaster, history: pd.DataFrame) -> None:
    """The per-series, per-candidate table, the backtest forecasts and the three figures."""
    log_frame(model.scores_, "tournament")
    log_frame(model.backtest_, "backtest_forecasts")
    log_figure(figures.tournament_figure(model.scores_), "tournament_mase")
    log_figure(
        figures.chosen_backtest_figure(history, model.backtest_, model.choice_), "backtest_last_origin"
    )
    forward = model.predict(history, None, model.backtest_horizon_)
    log_frame(forward, "forward_forecast")
    log_figure(figures.forward_figure(history, forward), "forward_forecast")


def _run_params(cfg: ForecastConfig, history: pd.DataFrame, cutoff: pd.Timestamp) -> dict[str, object]:
    return {
        "cutoff": str(cutoff.date()),
        "first_week": str(history["week"].min().date()),
        "weeks": history["week"].nunique(),
        "audiences": ",".join(sorted(history["audience"].unique())),
        "candidates": ",".join(cfg.candidates),
        "ensemble_size": cfg.ensemble_size,
        "fourier_terms": cfg.fourier_terms,
        **{f"rnn_{k}": v for k, v in cfg.rnn.model_dump().items()},
        **{f"backtest_{k}": v for k, v in cfg.backtest.model_dump().items()},
        "event_lead_weeks": cfg.events.lead_weeks,
        "event_lag_weeks": cfg.events.lag_weeks,
        "events": ",".join([*cfg.events.fixed, *cfg.events.dated, "member_day"]),
    }


# ---- promotion gate ----


def judge_forecast(
    challenger: dict[str, float], champion_mase: float | None, cfg: ForecastConfig
) -> list[str]:
    """The gate rules on backtest metrics: an empty list means approved; otherwise each failure in words."""
    gate, failures = cfg.gate, []
    if "mase_chosen_mean" not in challenger:  # no audience could be backtested: naive forecasts only
        return [] if champion_mase is None else ["no backtest: every audience is too short (naive forecasts)"]
    mase, snaive = challenger["mase_chosen_mean"], challenger["mase_snaive_mean"]
    if mase > snaive * (1 - gate.min_improvement_vs_snaive) + 1e-12:
        failures.append(
            f"MASE {mase:.3f} does not beat the seasonal naive's {snaive:.3f}"
            + (f" by {gate.min_improvement_vs_snaive:.0%}" if gate.min_improvement_vs_snaive else "")
        )
    coverage, (low, high) = challenger["coverage80_chosen_mean"], gate.coverage_band
    if not low <= coverage <= high:
        failures.append(f"80% interval coverage {coverage:.2f} is outside [{low:.2f}, {high:.2f}]")
    if champion_mase is not None and mase > champion_mase + gate.mase_tolerance:
        failures.append(
            f"MASE {mase:.3f} is worse than the champion's {champion_mase:.3f} on the same backtest"
        )
    return failures


def champion_on_same_backtest(challenger: TournamentForecaster, champion: Any) -> float | None:
    """The champion's choices scored in the challenger's backtest (same data, same origins).

    Every candidate kind was refitted there, so each audience's champion choice has a score; a version
    from before the tournament (a bare GRU) chose the GRU everywhere. None when a choice did not run.
    """
    choice = getattr(champion, "choice_", None) or dict.fromkeys(champion.series_, "rnn")
    scores = challenger.scores_.set_index(["audience", "model"])["mase"]
    picked = [scores.get((audience, model)) for audience, model in choice.items()]
    if not picked or any(value is None or not np.isfinite(value) for value in picked):
        return None
    return float(np.mean(picked))


def promote_forecast(
    settings: Settings, cfg: ForecastConfig, as_of: date, trigger: str = "manual"
) -> GateDecision:
    """Champion/challenger gate on the challenger's tournament; records the verdict (a run, version tags).

    A brand always has a forecast: the first challenger is approved even with coverage outside the band
    (the reason says so), since the tournament can always at least equal seasonal naive.
    """
    client = configure(settings)
    challenger = registry.version_by_alias(client, "forecast", CHALLENGER)
    if challenger is None:
        raise MemberwiseError("no forecast challenger to promote: train one first")
    champion = registry.version_by_alias(client, "forecast", CHAMPION)
    if champion == challenger:
        return GateDecision(challenger, champion, True, ["already champion"])
    model = registry.load("forecast", challenger)
    metrics = tournament_metrics(model.scores_)
    champion_mase = (
        champion_on_same_backtest(model, registry.load("forecast", champion)) if champion else None
    )
    failures = judge_forecast(metrics, champion_mase, cfg)
    if champion is None and all("coverage" in failure for failure in failures) and failures:
        failures, warning = (
            [],
            failures[0] + " (approved: the first champion, a brand is never left without one)",
        )
    else:
        warning = None
    keys = (
        "mase_chosen_mean",
        "mase_snaive_mean",
        "mase_ets_mean",
        "mase_rnn_mean",
        "coverage80_chosen_mean",
    )
    gate_metrics = {f"challenger_{k}": metrics[k] for k in keys if k in metrics}
    if champion_mase is not None:
        gate_metrics["champion_mase_same_backtest"] = champion_mase
    decision = decide(challenger, champion, failures, gate_metrics)
    if warning:
        decision.reasons.append(warning)
    settle(client, FORECAST_MODEL, "forecast", decision, as_of, trigger, settings)
    verdict = "approved" if decision.approved else "rejected"
    log.info("forecast gate: v%s %s (%s)", decision.challenger, verdict, "; ".join(decision.reasons))
    return decision
