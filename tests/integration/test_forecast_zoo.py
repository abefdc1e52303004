"""The forecast tournament on zoo brands (docs/demo-zoo.md): whatever the brand, the KPI gap answers.

smooth_seasonal: a smooth annual season dominates, no promotion peaks; generated to the end of 2026 and
cut on 31 August, so the year's projected total can be checked against the realised one.
short_history: one year of sales; the gap must answer with the short-history fallback and say so.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from memberwise import registry
from memberwise.config import ForecastConfig
from memberwise.data.demo import DemoConfig
from memberwise.modeling.gap import in_period_share
from memberwise.pipelines.forecast import promote_forecast, tournament, train_forecast, weekly_series
from memberwise.pipelines.gap import kpi_gap
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from tests.conftest import BrandOf, with_empty_store

CFG = ForecastConfig()
CUT = pd.Timestamp("2026-08-31")  # a Monday: actuals before it, the rest of 2026 forecast


def zoo_brand(
    brand_of: BrandOf, tmp_path_factory: pytest.TempPathFactory, profile: str, end: str
) -> tuple[Settings, object]:
    out = brand_of(DemoConfig(members=3_000, seed=11, profile=profile, end=end))  # the zoo tests' brand
    home = with_empty_store(tmp_path_factory, tmp_path_factory.mktemp(f"home-{profile}"))
    settings = Settings(home=home, snapshot_date=date.fromisoformat(end))
    return settings, prepare(out, settings).warehouse


def test_smooth_season_statistical_choice_and_gap_within_3_percent(
    brand_of: BrandOf, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings, wh = zoo_brand(brand_of, tmp_path_factory, "smooth_seasonal", "2026-12-31")
    history = weekly_series(wh, CUT, CFG, settings.new_window_days)
    model = tournament(CFG).fit(history)
    without_gru = [a for a, members in model.members_.items() if "rnn" not in members]
    assert len(without_gru) >= 2, model.members_  # statistical candidates win most audiences here
    scores = model.scores_.set_index(["audience", "model"])["mase"]
    assert all(scores[(a, m)] <= scores[(a, "snaive")] for a, m in model.choice_.items())
    year = weekly_series(wh, pd.Timestamp("2027-01-04"), CFG, settings.new_window_days)
    share = in_period_share(year["week"], pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01"))
    realised = float((year["revenue"] * share).sum())
    result = kpi_gap(wh, "2026", realised, settings, (model, "test"), CUT.date(), CFG)
    assert result.projected_total == pytest.approx(realised, rel=0.03)
    assert 0.2 < result.p_meet_target < 0.8  # the realised total sits inside the forecast's spread
    assert result.per_audience["model"].notna().all()


def test_one_year_brand_gets_a_champion_and_a_gap_with_the_fallback(
    brand_of: BrandOf, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings, wh = zoo_brand(brand_of, tmp_path_factory, "short_history", "2026-11-15")
    trained = train_forecast(wh, date(2026, 11, 16), CFG, settings)
    assert all("short history" in note for note in trained.model.notes_.values())
    decision = promote_forecast(settings, CFG, date(2026, 11, 16))
    assert decision.approved and decision.serving == trained.model_version  # never left without one
    model = registry.load("forecast", decision.serving)
    result = kpi_gap(wh, "2026-Q4", 1_000_000.0, settings, (model, decision.serving))
    assert result.per_audience["model"].str.contains("no season").all(), result.per_audience
    assert not result.per_audience["model"].str.contains("rnn|fourier_arima").any()
    assert result.forecast_rest_q10 <= result.forecast_rest < result.forecast_rest_q90
