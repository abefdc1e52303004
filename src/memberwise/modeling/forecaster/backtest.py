"""Rolling-origin backtest of any set of forecasters and its metrics (MASE, sMAPE, coverage)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.modeling.forecaster.series import QUANTILE_COLUMNS, Forecast, revenue_matrix


def backtest_origins(weeks: pd.DatetimeIndex, origins: int, step: int, horizon: int) -> list[pd.Timestamp]:
    """Forecast origins, oldest first: the last one leaves exactly `horizon` weeks of actuals after it."""
    last = len(weeks) - horizon
    picks = [last - i * step for i in range(origins) if last - i * step > 0]
    return [weeks[i] for i in sorted(picks)]


def backtest(
    history: pd.DataFrame, models: dict[str, Forecast], origins: list[pd.Timestamp], horizon: int
) -> pd.DataFrame:
    """Refit every model at every origin on the weeks before it; tidy forecasts joined to the actuals."""
    actual = history[["week", "audience", "revenue"]].rename(columns={"revenue": "actual"})
    actual = actual.assign(audience=actual["audience"].astype(str))
    frames = []
    for origin in origins:
        train = history[history["week"] < origin]
        for name, forecast in models.items():
            frame = forecast(train, horizon).assign(origin=origin, model=name)
            frames.append(frame.merge(actual, on=["week", "audience"], how="inner"))
    return pd.concat(frames, ignore_index=True)[
        ["origin", "model", "week", "audience", "actual", *QUANTILE_COLUMNS]
    ]


def mase_scale(values: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive (naive-1 when the series is shorter than two seasons)."""
    lag = season if len(values) >= 2 * season else 1
    return float(np.mean(np.abs(values[lag:] - values[:-lag])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); weeks where both are zero count as perfect."""
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        2 * np.abs(actual - forecast), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(100 * ratio.mean())


def score_backtest(forecasts: pd.DataFrame, history: pd.DataFrame, season: int = 52) -> pd.DataFrame:
    """MASE, sMAPE and 80% coverage per (model, audience), averaged over origins (tidy)."""
    wide = revenue_matrix(history)
    rows = []
    for (model, audience, origin), part in forecasts.groupby(["model", "audience", "origin"], observed=True):
        actual, median = part["actual"].to_numpy(), part["q50"].to_numpy()
        scale = mase_scale(wide.loc[wide.index < origin, audience].to_numpy(), season)
        rows.append(
            {
                "model": model,
                "audience": audience,
                "origin": origin,
                "mase": float(np.mean(np.abs(actual - median)) / scale) if scale > 0 else np.nan,
                "smape": smape(actual, median),
                "coverage80": float(((actual >= part["q10"]) & (actual <= part["q90"])).mean()),
            }
        )
    per_origin = pd.DataFrame(rows)
    return per_origin.groupby(["model", "audience"], as_index=False)[["mase", "smape", "coverage80"]].mean()
