"""Train the audience sales forecaster: weekly series -> backtest vs baselines -> final fit -> register.

The cutoff is snapped to a Monday so every week in the series is complete. The backtest refits the GRU,
the seasonal naive and ETS at several origins before the cutoff and scores each on the weeks after its
origin; the final model is then fitted on all weeks and registered as the challenger. The promotion gate
reads the challenger's and champion's backtest metrics from their runs (docs/forecast.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from functools import partial

import matplotlib
import mlflow
import numpy as np
import pandas as pd
import pydantic
import torch
import yaml
from mlflow.tracking import MlflowClient

from memberwise import registry
from memberwise.config import ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.features import audience_sales
from memberwise.modeling import forecaster
from memberwise.modeling.forecaster import ForecastPyfunc, RNNForecaster
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
MODELS = ("rnn", "snaive", "ets")
PIP_REQUIREMENTS = [
    f"torch=={torch.__version__.split('+')[0]}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
    f"matplotlib=={matplotlib.__version__}",
    f"pydantic=={pydantic.VERSION}",
    f"pyyaml=={yaml.__version__}",  # the pickled model holds pydantic configs from memberwise.config
    f"mlflow=={mlflow.__version__}",
]


@dataclass
class ForecastTrainResult:
    """What a forecast training run produced."""

    run_id: str
    model_version: str
    metrics: dict[str, float]
    scores: pd.DataFrame  # model, audience, mase, smape, coverage80
    model: RNNForecaster
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


def _rnn(cfg: ForecastConfig, progress: bool) -> forecaster.Forecast:
    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        return (
            RNNForecaster(**cfg.rnn.model_dump(), events=cfg.events)
            .fit(history, progress=progress)
            .predict(history, None, horizon)
        )

    return forecast


def backtest_models(cfg: ForecastConfig, progress: bool = False) -> dict[str, forecaster.Forecast]:
    """The three contenders, each as (history, horizon) -> quantile forecast."""
    season = cfg.ets_seasonal_periods
    return {
        "rnn": _rnn(cfg, progress),
        "snaive": partial(forecaster.seasonal_naive, season=season),
        "ets": partial(forecaster.ets, season=season, seed=cfg.rnn.seed),
    }


def run_backtest(
    history: pd.DataFrame, cfg: ForecastConfig, progress: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.Timestamp]]:
    """Rolling-origin backtest: (forecasts, scores per model x audience, origins)."""
    bt = cfg.backtest
    weeks = pd.DatetimeIndex(sorted(history["week"].unique()))
    origins = forecaster.backtest_origins(weeks, bt.origins, bt.step_weeks, bt.horizon_weeks)
    if not origins:
        raise MemberwiseError(
            f"too little history ({len(weeks)} weeks) for a {bt.horizon_weeks}-week backtest"
        )
    forecasts = forecaster.backtest(history, backtest_models(cfg, progress), origins, bt.horizon_weeks)
    return forecasts, forecaster.score_backtest(forecasts, history, cfg.ets_seasonal_periods), origins


def backtest_metrics(scores: pd.DataFrame) -> dict[str, float]:
    """Stable metric names: mase_rnn_<audience>, smape_ets_<audience>, coverage80_snaive_mean, ..."""
    metrics: dict[str, float] = {}
    for row in scores.itertuples():
        for metric in ("mase", "smape", "coverage80"):
            metrics[f"{metric}_{row.model}_{row.audience}"] = float(getattr(row, metric))
    for model, part in scores.groupby("model"):
        for metric in ("mase", "smape", "coverage80"):
            metrics[f"{metric}_{model}_mean"] = float(part[metric].mean())
    if {"mase_rnn_mean", "mase_snaive_mean"} <= metrics.keys():
        metrics["mase_rnn_vs_snaive"] = 1 - metrics["mase_rnn_mean"] / metrics["mase_snaive_mean"]
    return metrics


def register(model: RNNForecaster, history: pd.DataFrame, settings: Settings) -> str:
    """Log the pyfunc (signature with start_week/horizon params, explicit requirements), alias challenger."""
    configure(settings)
    example = history[history["week"] >= history["week"].max() - pd.Timedelta(weeks=model.input_weeks)]
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
    """One MLflow run: backtest GRU vs seasonal naive vs ETS, fit on all weeks, register as challenger."""
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
        forecasts, scores, origins = run_backtest(history, cfg, progress)
        backtest_seconds = time.perf_counter() - started
        metrics = backtest_metrics(scores)
        log_frame(scores, "backtest_scores")
        log_frame(forecasts, "backtest_forecasts")
        log_figure(forecaster.backtest_figure(history, forecasts, origins[-1]), "backtest_last_origin")
        started = time.perf_counter()
        model = RNNForecaster(**cfg.rnn.model_dump(), events=cfg.events).fit(history, progress=progress)
        train_seconds = time.perf_counter() - started
        metrics.update(
            final_epochs=float(model.epochs_),
            final_validation_loss=model.validation_loss_,
            train_seconds=train_seconds,
            backtest_seconds=backtest_seconds,
        )
        mlflow.log_metrics(metrics)
        version = register(model, history, settings)
        mlflow.set_tag("model_version", version)
    log.info(
        "forecast v%s: MASE rnn %.3f, snaive %.3f, ets %.3f; coverage %.2f",
        version, metrics["mase_rnn_mean"], metrics["mase_snaive_mean"], metrics["mase_ets_mean"],
        metrics["coverage80_rnn_mean"],
    )  # fmt: skip
    return ForecastTrainResult(run.info.run_id, version, metrics, scores, model, train_seconds)


def _run_params(cfg: ForecastConfig, history: pd.DataFrame, cutoff: pd.Timestamp) -> dict[str, object]:
    return {
        "cutoff": str(cutoff.date()),
        "first_week": str(history["week"].min().date()),
        "weeks": history["week"].nunique(),
        "audiences": ",".join(sorted(history["audience"].unique())),
        **{f"rnn_{k}": v for k, v in cfg.rnn.model_dump().items()},
        **{f"backtest_{k}": v for k, v in cfg.backtest.model_dump().items()},
        "event_lead_weeks": cfg.events.lead_weeks,
        "event_lag_weeks": cfg.events.lag_weeks,
        "events": ",".join([*cfg.events.fixed, *cfg.events.dated, "member_day"]),
    }


# ---- promotion gate ----


def judge_forecast(
    challenger: dict[str, float], champion: dict[str, float] | None, cfg: ForecastConfig
) -> list[str]:
    """The gate rules on backtest metrics: an empty list means approved; otherwise each failure in words."""
    gate, failures = cfg.gate, []
    mase, snaive = challenger["mase_rnn_mean"], challenger["mase_snaive_mean"]
    if mase > snaive * (1 - gate.min_improvement_vs_snaive):
        failures.append(
            f"MASE {mase:.3f} does not beat the seasonal naive's {snaive:.3f} by "
            f"{gate.min_improvement_vs_snaive:.0%}"
        )
    coverage, (low, high) = challenger["coverage80_rnn_mean"], gate.coverage_band
    if not low <= coverage <= high:
        failures.append(f"80% interval coverage {coverage:.2f} is outside [{low:.2f}, {high:.2f}]")
    if champion is not None and mase > champion["mase_rnn_mean"] + gate.mase_tolerance:
        failures.append(f"MASE {mase:.3f} is worse than the champion's {champion['mase_rnn_mean']:.3f}")
    return failures


def _version_metrics(client: MlflowClient, version: str) -> dict[str, float]:
    run_id = client.get_model_version(FORECAST_MODEL, version).run_id
    if not run_id:
        raise MemberwiseError(f"{FORECAST_MODEL} v{version} has no training run to read its backtest from")
    return client.get_run(run_id).data.metrics


def promote_forecast(
    settings: Settings, cfg: ForecastConfig, as_of: date, trigger: str = "manual"
) -> GateDecision:
    """Champion/challenger gate on the runs' backtests; tag the decision, move the aliases if approved."""
    client = configure(settings)
    challenger = registry.version_by_alias(client, "forecast", CHALLENGER)
    if challenger is None:
        raise MemberwiseError("no forecast challenger to promote: train one first")
    champion = registry.version_by_alias(client, "forecast", CHAMPION)
    if champion == challenger:
        return GateDecision(challenger, champion, True, ["already champion"])
    metrics = _version_metrics(client, challenger)
    champion_metrics = _version_metrics(client, champion) if champion else None
    keys = ("mase_rnn_mean", "mase_snaive_mean", "mase_ets_mean", "coverage80_rnn_mean")
    decision = decide(
        challenger,
        champion,
        judge_forecast(metrics, champion_metrics, cfg),
        {
            **{f"challenger_{k}": metrics[k] for k in keys if k in metrics},
            **{
                f"champion_{k}": champion_metrics[k]
                for k in keys
                if champion_metrics and k in champion_metrics
            },
        },
    )
    settle(client, FORECAST_MODEL, "forecast", decision, as_of, trigger, settings)
    verdict = "approved" if decision.approved else "rejected"
    log.info("forecast gate: v%s %s (%s)", decision.challenger, verdict, "; ".join(decision.reasons))
    return decision
