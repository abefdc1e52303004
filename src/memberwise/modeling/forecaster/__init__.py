"""Weekly sales forecast per audience: a tournament of the global GRU and statistical candidates.

Series are tidy frames (week, audience, revenue), weeks starting on Monday with no gaps. The GRU reads
the last `input_weeks` of every series (revenue divided by that window's mean, then log1p, so growing
and small audiences look alike) and a decoder GRU walks over the known future covariates (season,
promotion calendar, planned campaign intensity), emitting q10/q50/q90 for each future week directly:
no forecast is fed back in, so errors do not compound over a 52-week "rest of the year" horizon, and
the decoder can run any length up to `max_horizon_weeks` with the same weights. See docs/forecast.md.

The tournament (`TournamentForecaster`) backtests the GRU, seasonal naive, ETS, Theta, a calendar
regression and an ensemble on the same origins and keeps each series' best, with intervals from its
backtest errors. Modules: series (shapes), covariates, network (the GRU), rnn (fit/forecast), candidates
(statistical), backtest, conformal (intervals), selection (choice), tournament, figures, pyfunc (MLflow),
baselines. Everything is importable from here, the path registered models were pickled under.
"""

from memberwise.modeling.forecaster.backtest import (
    backtest,
    backtest_origins,
    mase_scale,
    score_backtest,
    smape,
)
from memberwise.modeling.forecaster.baselines import ets, seasonal_naive
from memberwise.modeling.forecaster.covariates import calendar_features
from memberwise.modeling.forecaster.network import QuantileGRU, pinball_loss
from memberwise.modeling.forecaster.pyfunc import ForecastPyfunc
from memberwise.modeling.forecaster.rnn import RNNForecaster
from memberwise.modeling.forecaster.series import QUANTILE_COLUMNS, QUANTILES, WEEK, Forecast, revenue_matrix
from memberwise.modeling.forecaster.tournament import CANDIDATES, TournamentForecaster

__all__ = [
    "CANDIDATES",
    "QUANTILES",
    "QUANTILE_COLUMNS",
    "WEEK",
    "Forecast",
    "ForecastPyfunc",
    "QuantileGRU",
    "RNNForecaster",
    "TournamentForecaster",
    "backtest",
    "backtest_origins",
    "calendar_features",
    "ets",
    "mase_scale",
    "pinball_loss",
    "revenue_matrix",
    "score_backtest",
    "seasonal_naive",
    "smape",
]
