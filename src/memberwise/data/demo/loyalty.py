"""Tables derived from the simulated spend: loyalty cards with tiers, and yearly KPI targets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.data.demo.brand import KPI_STRETCH
from memberwise.data.demo.people import People


def loyalty_cards(
    people: People, spend_last_year: np.ndarray, spend_total: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Cards of enrolled people; tiers from last year's spend by the 80/20 rule.

    Gold is the top 5% of members by spend, silver the next 15%, the rest normal.
    """
    rows = np.flatnonzero(~np.isnat(people.enrolled_at))
    spend = spend_last_year[rows]
    rank = pd.Series(spend).rank(pct=True, method="first").to_numpy()
    tier = np.where(
        spend <= 0, "normal", np.where(rank > 0.95, "gold", np.where(rank > 0.80, "silver", "normal"))
    )
    return pd.DataFrame(
        {
            "member_card": np.char.mod("C%09d", 100_000_000 + rows),
            "enrolled_at": people.enrolled_at[rows],
            "tier": tier,
            "points_balance": np.round(spend_total[rows] * rng.uniform(0.1, 0.6, len(rows))),
        }
    )


def kpi_targets(revenue_by_year: dict[int, float], end: str) -> pd.DataFrame:
    """Yearly revenue targets: each year's (annualised) actual x KPI_STRETCH, so targets are missed by ~11%.

    The last year is partial (it ends at `end`), so its actual is scaled up by the share of days elapsed.
    """
    last = pd.Timestamp(end)
    years = sorted(y for y in revenue_by_year if y <= last.year)
    elapsed = {y: 1.0 for y in years} | {last.year: last.day_of_year / (366 if last.is_leap_year else 365)}
    targets = [revenue_by_year[y] / elapsed[y] * KPI_STRETCH for y in years]
    return pd.DataFrame(
        {
            "period_start": pd.to_datetime([f"{y}-01-01" for y in years]),
            "period_end": pd.to_datetime([f"{y}-12-31" for y in years]),
            "target_revenue": np.round(targets, -3),
            "audience": None,
        }
    )
