"""KPI gap maths on hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.gap import in_period_share, kpi_gap, p_meet, waterfall_figure

START, END = pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01")


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    actuals = pd.DataFrame(
        {
            "week": pd.to_datetime(
                ["2025-12-29", "2026-01-05", "2026-01-05"]
            ),  # first week: 4 of 7 days in 2026
            "audience": ["a", "a", "b"],
            "revenue": [700.0, 100.0, 50.0],
        }
    )
    forecast = pd.DataFrame(
        {
            "week": pd.to_datetime(["2026-12-21", "2026-12-28", "2026-12-21"]),  # last week: 4 days in 2026
            "audience": ["a", "a", "b"],
            "q10": [80.0, 70.0, 20.0],
            "q50": [100.0, 70.0, 30.0],
            "q90": [130.0, 70.0, 45.0],
        }
    )
    return actuals, forecast


def test_gap_numbers_by_hand() -> None:
    actuals, forecast = frames()
    result = kpi_gap(actuals, forecast, target=1000.0, period_start=START, period_end=END)
    assert result.actual_to_date == pytest.approx(700 * 4 / 7 + 100 + 50)  # 550
    assert result.forecast_rest == pytest.approx(100 + 70 * 4 / 7 + 30)  # 170
    assert result.projected_total == pytest.approx(720)
    assert result.gap == pytest.approx(280) and result.achievement_rate == pytest.approx(0.72)
    per = result.per_audience.set_index("audience")
    assert per.loc["a", "projected_total"] == pytest.approx(500 + 140)
    assert per.loc["b", "forecast_rest_q90"] == pytest.approx(45)
    assert result.p_meet_target < 0.001  # 280 short with at most ~55 of upside
    assert waterfall_figure(result).axes


def test_p_meet_is_monotone_and_half_at_the_median() -> None:
    cells = np.array([[80.0, 100.0, 130.0], [10.0, 30.0, 45.0], [50.0, 60.0, 90.0]])
    median = cells[:, 1].sum()
    probabilities = [p_meet(t, cells, rho=0.7, seed=1) for t in np.linspace(median - 100, median + 100, 9)]
    assert all(a >= b for a, b in zip(probabilities, probabilities[1:], strict=False))
    assert probabilities[0] > 0.9 and probabilities[-1] < 0.1
    assert p_meet(median, cells, rho=1.0) == pytest.approx(0.5, abs=0.01)  # comonotone: median of sum
    assert p_meet(median, cells, rho=0.7) == pytest.approx(0.5, abs=0.05)


def test_share_of_days_in_period() -> None:
    weeks = pd.Series(pd.to_datetime(["2025-12-22", "2025-12-29", "2026-06-01", "2026-12-28"]))
    assert in_period_share(weeks, START, END).tolist() == pytest.approx([0, 4 / 7, 1, 4 / 7])


def test_target_must_be_positive() -> None:
    actuals, forecast = frames()
    with pytest.raises(ValueError, match="positive"):
        kpi_gap(actuals, forecast, 0.0, START, END)
