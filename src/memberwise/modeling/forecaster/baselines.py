"""The classical contenders the GRU must beat: seasonal naive and Holt-Winters (ETS)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

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
    """Holt-Winters on log1p(revenue): damped additive trend + additive season (multiplicative in revenue).

    Weeks before a series' first sale are dropped. With fewer than two full seasons (the heuristic start
    needs them) it falls back to damped Holt without a season. Intervals: 500 bootstrapped simulations.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    wide = revenue_matrix(history)
    quantiles = []
    for name in wide.columns:
        series = wide[name].to_numpy()
        if not (series > 0).any():  # an audience the brand does not have (e.g. no loyalty data)
            quantiles.append(np.zeros((horizon, len(QUANTILES))))
            continue
        start = int(np.argmax(series > 0))
        y = np.log1p(series[start:])
        seasonal = len(y) >= 2 * season + 4
        model = ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=season if seasonal else None,
            initialization_method="heuristic" if seasonal else "estimated",
        )
        with warnings.catch_warnings():  # a baseline's convergence chatter is not the user's problem
            warnings.simplefilter("ignore", (RuntimeWarning, ConvergenceWarning))
            fit = model.fit()
        paths = fit.simulate(
            horizon, repetitions=500, anchor="end", random_errors="bootstrap", rng=np.random.default_rng(seed)
        )
        draws = np.expm1(np.asarray(paths).reshape(horizon, -1))
        quantiles.append(np.quantile(draws, QUANTILES, axis=1).T)
    weeks = pd.date_range(wide.index[-1] + WEEK, periods=horizon, freq="7D")
    return tidy(weeks, tuple(wide.columns), np.maximum(np.stack(quantiles), 0.0))
