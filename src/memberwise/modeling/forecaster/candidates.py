"""The statistical candidates of the forecast tournament: point forecasts per series (statsmodels).

Each candidate takes one series' values (gap-free, weeks before its first sale dropped), the Monday of
each of its weeks, a horizon and the shared settings, and returns the point forecast of the next weeks
(or raises ValueError when it cannot fit). Non-negative series (revenue) are modelled on log1p, so
seasons and peaks are multiplicative and forecasts never go negative. With fewer than two full seasons
no candidate uses a season: seasonal naive becomes naive-1, ETS damped Holt, Theta is not deseasonalised,
and the calendar regression (which would copy last year's one-off peaks) does not run. Intervals come
from the backtest errors (`conformal`), not from the models.

Inside a backtest, an early origin of a long series may have less than two seasons of training data:
there a season is used from `season + season // 4` weeks on (ETS's initialisation needs two), so the
seasonal candidates are judged at every origin; a series that is short as a whole never uses one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from memberwise.config import EventsConfig
from memberwise.modeling.forecaster.covariates import calendar_features
from memberwise.modeling.forecaster.series import WEEK, revenue_matrix, tidy

MIN_TRAIN_WEEKS = 8  # below this a series is not forecast by a model (too few weeks to fit anything)


@dataclass(frozen=True)
class Settings:
    """What every candidate shares: the season length, the promotion calendar, Fourier terms."""

    season: int = 52
    events: EventsConfig = field(default_factory=EventsConfig)
    fourier_terms: int = 3
    no_season: bool = False  # a series short as a whole: no candidate uses a season

    def seasonal(self, weeks: int, needed: int = 0) -> bool:
        """Whether a fit on `weeks` weeks uses the season (`needed`: the model's own minimum)."""
        return not self.no_season and weeks >= max(self.season + self.season // 4, needed)


Point = Callable[[np.ndarray, pd.DatetimeIndex, int, Settings], np.ndarray]


def _log(y: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """log1p for non-negative series (multiplicative season, no negative forecast), identity otherwise."""
    if (y >= 0).all():
        return np.log1p(y), lambda z: np.maximum(np.expm1(z), 0.0)
    return y, lambda z: z


@contextmanager
def _quiet() -> Iterator[None]:
    """A candidate's convergence chatter is not the user's problem (a bad fit shows in its backtest)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, ValueWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (RuntimeWarning, ConvergenceWarning, ValueWarning, UserWarning))
        yield


def snaive(y: np.ndarray, weeks: pd.DatetimeIndex, horizon: int, s: Settings) -> np.ndarray:
    """The value one season earlier (naive-1, the last value, with fewer than two seasons)."""
    lag = s.season if s.seasonal(len(y)) else 1
    steps = np.arange(horizon)
    return y[len(y) + steps - lag * (steps // lag + 1)]


def ets_fit(y: np.ndarray, s: Settings) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """Holt-Winters on log1p: damped additive trend + additive season (damped Holt when short)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    z, back = _log(y)
    season = s.season
    has_season = s.seasonal(len(z), needed=2 * season)  # the heuristic start needs two seasons
    model = ExponentialSmoothing(
        z,
        trend="add",
        damped_trend=True,
        seasonal="add" if has_season else None,
        seasonal_periods=season if has_season else None,
        initialization_method="heuristic" if has_season else "estimated",
    )
    with _quiet():
        return model.fit(), back


def ets(y: np.ndarray, weeks: pd.DatetimeIndex, horizon: int, s: Settings) -> np.ndarray:
    """ETS (see `ets_fit`): the point forecast."""
    fit, back = ets_fit(y, s)
    return back(np.asarray(fit.forecast(horizon)))


def theta(y: np.ndarray, weeks: pd.DatetimeIndex, horizon: int, s: Settings) -> np.ndarray:
    """The Theta method (M3's winner): deseasonalised when two seasons exist and the season is real."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    z, back = _log(y)
    has_season = s.seasonal(len(z))
    model = ThetaModel(z, period=s.season if has_season else 1, deseasonalize=has_season, method="additive")
    with _quiet():
        return back(np.asarray(model.fit().forecast(horizon)))


def regressors(weeks: pd.DatetimeIndex, s: Settings) -> np.ndarray:
    """Trend, Fourier terms of the year and the events calendar (each event with its leads and lags)."""
    calendar = calendar_features(weeks, s.events).drop(columns=["season_sin", "season_cos", "campaign"])
    angle = 2 * np.pi * ((weeks + pd.Timedelta(days=3)).day_of_year.to_numpy() - 1) / 365.25
    fourier = [f(k * angle) for k in range(1, s.fourier_terms + 1) for f in (np.sin, np.cos)]
    trend = np.arange(len(weeks), dtype=float) / 52
    return np.column_stack([np.ones(len(weeks)), trend, *fourier, calendar.to_numpy()])


def fourier_arima(y: np.ndarray, weeks: pd.DatetimeIndex, horizon: int, s: Settings) -> np.ndarray:
    """Regression on trend + Fourier terms + event dummies with AR(1) errors (feasible GLS, GLSAR).

    Needs more than a season: on one year each event is seen once, and the regression would replay it.
    """
    from statsmodels.regression.linear_model import GLSAR

    if not s.seasonal(len(y)):
        raise ValueError(f"the calendar regression needs more than a season of weeks, got {len(y)}")
    z, back = _log(y)
    x = regressors(weeks.append(pd.date_range(weeks[-1] + WEEK, periods=horizon, freq="7D")), s)
    past, future = x[: len(z)], x[len(z) :]
    keep = np.r_[True, past[:, 1:].std(axis=0) > 0]  # events that never happened cannot be estimated
    with _quiet():
        fit = GLSAR(z, past[:, keep], rho=1).iterative_fit(maxiter=6)
    rho = float(np.clip(np.asarray(fit.model.rho).ravel()[0], -0.99, 0.99))
    last_error = z[-1] - past[-1, keep] @ fit.params
    return back(future[:, keep] @ fit.params + last_error * rho ** np.arange(1, horizon + 1))


STATISTICAL: dict[str, Point] = {
    "snaive": snaive,
    "ets": ets,
    "theta": theta,
    "fourier_arima": fourier_arima,
}


def series_since_start(values: np.ndarray) -> int:
    """Index of a series' first non-zero week (an audience that starts late: zeros before it)."""
    nonzero = np.flatnonzero(values != 0)
    return int(nonzero[0]) if len(nonzero) else len(values)


def point_forecasts(
    point: Point, history: pd.DataFrame, horizon: int, s: Settings, short: frozenset[str] = frozenset()
) -> dict[str, np.ndarray | None]:
    """One candidate on every series of a tidy history: forecast per series, None when it cannot fit.

    Series in `short` (short as a whole) are fitted without a season.
    """
    wide = revenue_matrix(history)
    plain = replace(s, no_season=True)
    out: dict[str, np.ndarray | None] = {}
    for name in wide.columns:
        values = wide[name].to_numpy()
        start = series_since_start(values)
        if len(values) - start < MIN_TRAIN_WEEKS:
            out[name] = None
            continue
        try:
            settings = plain if name in short else s
            forecast = point(values[start:], pd.DatetimeIndex(wide.index[start:]), horizon, settings)
        except (ValueError, np.linalg.LinAlgError):
            out[name] = None
            continue
        out[name] = forecast if np.isfinite(forecast).all() else None
    return out


def as_forecast(
    point: Point, s: Settings, short: frozenset[str] = frozenset()
) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    """A candidate as a backtest Forecast: tidy quantiles with q10 = q50 = q90 = the point (NaN if none)."""

    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        points = point_forecasts(point, history, horizon, s, short)
        names = tuple(points)
        values = np.stack([p if p is not None else np.full(horizon, np.nan) for p in points.values()])
        weeks = pd.date_range(pd.Timestamp(history["week"].max()) + WEEK, periods=horizon, freq="7D")
        return tidy(weeks, names, np.repeat(values[..., None], 3, axis=-1))

    return forecast
