"""Weekly series shapes shared by every forecaster: the wide revenue matrix and tidy quantile frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_COLUMNS = ("q10", "q50", "q90")
WEEK = pd.Timedelta(days=7)
Forecast = Callable[[pd.DataFrame, int], pd.DataFrame]  # (history, horizon) -> next weeks' quantiles


def revenue_matrix(history: pd.DataFrame) -> pd.DataFrame:
    """Weeks x audiences revenue on a gap-free weekly index (missing weeks are zero sales)."""
    wide = history.pivot_table(
        index="week", columns="audience", values="revenue", aggfunc="sum", observed=True
    )
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="7D")
    wide = wide.reindex(weeks, fill_value=0.0).fillna(0.0)
    wide.columns = wide.columns.astype(str)
    return wide.rename_axis(index="week", columns="audience").astype("float64")


def monday(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The Monday starting each day's week (the series' week key)."""
    return (days - pd.to_timedelta(days.day_of_week, unit="D")).normalize()


def tidy(weeks: pd.DatetimeIndex, series: tuple[str, ...], quantiles: np.ndarray) -> pd.DataFrame:
    """[series, weeks, 3] quantiles -> tidy (week, audience, q10, q50, q90), week-major."""
    frame = pd.DataFrame(
        {
            "week": np.tile(weeks.to_numpy(), len(series)),
            "audience": np.repeat(np.array(series, dtype=object), len(weeks)),
            **{c: quantiles[..., i].reshape(-1) for i, c in enumerate(QUANTILE_COLUMNS)},
        }
    )
    return frame.sort_values(["week", "audience"], kind="stable").reset_index(drop=True)
