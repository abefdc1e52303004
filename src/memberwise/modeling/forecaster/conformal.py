"""Honest intervals and error correlation from backtest errors (split conformal by horizon step).

An error is (actual - median) / scale, the scale being the series' MASE denominator at the origin, so
errors of a small and a large series, or of a young and a grown brand, can be pooled. The 80% interval
at step h is the median plus the scale times the empirical q10/q90 of the errors at steps h-w..h+w
(all origins), widths never shrinking with the step: a short history has larger errors, so wider
intervals. Beyond the backtested horizon the last width grows with
sqrt(step / horizon). Coverage is measured leaving each origin out (calibrated on the others).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.modeling.forecaster.series import WEEK

LOW, HIGH = 0.1, 0.9
WINDOW = 4  # steps pooled on each side of a step (3 origins x 9 steps = 27 errors per step)
MIN_CORRELATION_ERRORS = 30


def scaled_errors(forecasts: pd.DataFrame, scales: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows (origin, model, week, audience, actual, q50) -> + step and scaled error."""
    frame = forecasts.merge(scales, on=["audience", "origin"], how="inner")
    frame = frame[(frame["scale"] > 0) & frame["q50"].notna()]
    return frame.assign(
        step=((frame["week"] - frame["origin"]) // WEEK).astype(int),
        error=(frame["actual"] - frame["q50"]) / frame["scale"],
    )


def step_quantiles(steps: np.ndarray, errors: np.ndarray, horizon: int) -> np.ndarray:
    """[horizon, 2] scaled-error q10/q90 per step from (step, error) pairs; widths never shrink."""
    bounds = np.zeros((horizon, 2))
    if len(errors) == 0:
        return bounds
    for h in range(horizon):
        near = errors[np.abs(steps - h) <= WINDOW]
        pool = near if len(near) else errors
        low, high = np.quantile(pool, [LOW, HIGH])
        bounds[h] = (min(low, 0.0), max(high, 0.0))
    bounds[:, 0] = np.minimum.accumulate(bounds[:, 0])
    bounds[:, 1] = np.maximum.accumulate(bounds[:, 1])
    return bounds


def extend(bounds: np.ndarray, steps: int) -> np.ndarray:
    """Bounds for `steps` steps: past the backtested horizon the last ones grow with sqrt(step/horizon)."""
    horizon = len(bounds)
    if steps <= horizon:
        return bounds[:steps]
    growth = np.sqrt(np.arange(horizon + 1, steps + 1) / horizon)[:, None]
    return np.vstack([bounds, bounds[-1] * growth])


def cross_coverage(errors: pd.DataFrame, horizon: int) -> float:
    """Share of backtest weeks inside the interval calibrated on the other origins (in-sample if one)."""
    origins = errors["origin"].unique()
    inside = []
    for origin in origins:
        held = errors["origin"] == origin
        calibration = errors[~held] if len(origins) > 1 else errors
        bounds = step_quantiles(calibration["step"].to_numpy(), calibration["error"].to_numpy(), horizon)
        test = errors[held]
        low, high = bounds[test["step"].to_numpy(), 0], bounds[test["step"].to_numpy(), 1]
        inside.append((test["error"] >= low) & (test["error"] <= high))
    return float(pd.concat(inside).mean()) if inside else float("nan")


def error_correlation(errors: pd.DataFrame) -> float | None:
    """The common correlation of scaled errors between any two (week, audience) cells of one origin.

    Moment estimator of an equicorrelated model: the mean product of distinct cells' errors over their
    mean square, errors first divided by each audience's RMS. A shared bias counts as correlation (a
    level that is off stays off). None with fewer than two origins or too few errors to say.
    """
    if errors["origin"].nunique() < 2 or len(errors) < MIN_CORRELATION_ERRORS:
        return None
    rms = errors.groupby("audience")["error"].transform(lambda e: np.sqrt(np.mean(e**2)))
    unit = (errors["error"] / rms.where(rms > 0)).fillna(0.0)
    pairs = products = 0.0
    for _, part in unit.groupby(errors["origin"]):
        values = part.to_numpy()
        products += values.sum() ** 2 - (values**2).sum()
        pairs += len(values) * (len(values) - 1)
    if pairs == 0:
        return None
    return float(np.clip(products / pairs / np.mean(unit**2), 0.0, 1.0))
