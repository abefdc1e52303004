"""Seasonal naive and ETS with their own intervals (the tournament's candidates live in `candidates`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.modeling.forecaster.candidates import Settings, ets_fit, series_since_start
from memberwise.modeling.forecaster.series import QUANTILES, WEEK, revenue_matrix, tidy


def seasonal_naive(history: pd.DataFrame, horizon: int, season: int = 52) -> pd.DataFrame:
    """The value one season earlier; the interval adds the in-sample seasonal differences' q10/q90.

    With `season=1` this is the naive (last value) forecast, for series shorter than a year.
    """
    wide = revenue_matrix(history)
    if len(wide) < season + 1:
        raise ValueError(f"seasonal naive needs more than {season} weeks of history, got {len(wide)}")
    values = wide.to_numpy()
    steps = np.arange(horizon)
    back = len(values) + steps - season * (steps // season + 1)
    median = values[back].T  # [series, horizon]
    residual = values[season:] - values[:-season]
    low, high = np.quantile(residual, [QUANTILES[0], QUANTILES[2]], axis=0)
    quantiles = np.stack([median + low[:, None], median, median + high[:, None]], axis=-1)
    weeks = pd.date_range(wide.index[-1] + WEEK, periods=horizon, freq="7D")
    return tidy(weeks, tuple(wide.columns), np.maximum(quantiles, 0.0))


def ets(history: pd.DataFrame, horizon: int, season: int = 52, seed: int = 0) -> pd.DataFrame:
    """ETS per series (`candidates.ets_fit`) with intervals from 500 bootstrapped simulations.

    Weeks before a series' first sale are dropped; an audience without any sale forecasts zero.
    """
    wide = revenue_matrix(history)
    quantiles = []
    for name in wide.columns:
        series = wide[name].to_numpy()
        start = series_since_start(series)
        if start == len(series):  # an audience the brand does not have (e.g. no loyalty data)
            quantiles.append(np.zeros((horizon, len(QUANTILES))))
            continue
        fit, back = ets_fit(series[start:], Settings(season=season))
        paths = fit.simulate(
            horizon, repetitions=500, anchor="end", random_errors="bootstrap", rng=np.random.default_rng(seed)
        )
        draws = back(np.asarray(paths).reshape(horizon, -1))
        quantiles.append(np.quantile(draws, QUANTILES, axis=1).T)
    weeks = pd.date_range(wide.index[-1] + WEEK, periods=horizon, freq="7D")
    return tidy(weeks, tuple(wide.columns), np.maximum(np.stack(quantiles), 0.0))
