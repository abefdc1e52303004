"""Covariates known for any future week: season, the promotion calendar, member days, campaign plans."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.config import EventsConfig
from memberwise.modeling.forecaster.series import WEEK, monday


def _event_weeks(
    events: EventsConfig, first: pd.Timestamp, last: pd.Timestamp
) -> dict[str, pd.DatetimeIndex]:
    """The Monday of the week holding each occurrence of each event."""
    years = range(first.year - 1, last.year + 2)
    days = {name: [f"{y}-{md}" for y in years] for name, md in events.fixed.items()}
    days.update(events.dated)
    return {name: monday(pd.DatetimeIndex(pd.to_datetime(d))) for name, d in days.items()}


def calendar_features(
    weeks: pd.DatetimeIndex, events: EventsConfig, campaigns: pd.Series | None = None
) -> pd.DataFrame:
    """Covariates known for any week ahead: season (sin/cos), event weeks with leads/lags, member days.

    `campaigns` is planned campaign intensity per week (e.g. contacts / active members); absent weeks
    and an absent plan count as zero, so a model trained without plans forecasts "business as usual".
    """
    mid_week = weeks + pd.Timedelta(days=3)
    angle = 2 * np.pi * (mid_week.day_of_year.to_numpy() - 1) / 365.25
    columns: dict[str, np.ndarray] = {"season_sin": np.sin(angle), "season_cos": np.cos(angle)}
    for name, event_weeks in _event_weeks(events, weeks.min(), weeks.max()).items():
        for offset in range(-events.lead_weeks, events.lag_weeks + 1):
            columns[f"{name}_{offset:+d}"] = weeks.isin(event_weeks + offset * WEEK).astype(float)
    days_of_month = np.stack([(weeks + pd.Timedelta(days=d)).day.to_numpy() for d in range(7)], axis=1)
    columns["member_day"] = np.isin(days_of_month, events.member_days).any(axis=1).astype(float)
    plan = campaigns.reindex(weeks).fillna(0.0).to_numpy() if campaigns is not None else np.zeros(len(weeks))
    columns["campaign"] = plan.astype(float)
    return pd.DataFrame(columns, index=weeks)
