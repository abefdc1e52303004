"""The forecaster on synthetic series with known seasonality, event peaks and growth."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from memberwise.config import EventsConfig, RNNConfig
from memberwise.modeling import forecaster as fc

EVENTS = EventsConfig()
RNN = RNNConfig(epochs=40, patience=8)


def synthetic(weeks: int = 180, seed: int = 3) -> pd.DataFrame:
    """Three audiences: yearly season, Double 11 / 618 / CNY-lead peaks, 20%/year growth, 8% noise."""
    index = pd.date_range("2022-01-03", periods=weeks, freq="7D")
    cov = fc.calendar_features(index, EVENTS)
    rng = np.random.default_rng(seed)
    frames = []
    for i, (name, level) in enumerate({"a": 1000.0, "b": 400.0, "c": 150.0}.items()):
        season = 1 + 0.25 * cov["season_sin"] + 0.1 * i * cov["season_cos"]
        peaks = 1 + 2.0 * cov["double_11_+0"] + 1.0 * cov["618_+0"] + 0.8 * cov["chinese_new_year_-2"]
        growth = 1.2 ** (np.arange(weeks) / 52)
        noise = rng.lognormal(0, 0.08, weeks)
        frames.append(
            pd.DataFrame(
                {"week": index, "audience": name, "revenue": level * season * peaks * growth * noise}
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def backtested(series: pd.DataFrame) -> pd.DataFrame:
    weeks = pd.DatetimeIndex(sorted(series["week"].unique()))
    models = {
        "rnn": lambda h, n: fc.RNNForecaster(**RNN.model_dump(), events=EVENTS).fit(h).predict(h, None, n),
        "snaive": fc.seasonal_naive,
    }
    forecasts = fc.backtest(series, models, fc.backtest_origins(weeks, 2, 13, 26), 26)
    return fc.score_backtest(forecasts, series)


def test_calendar_marks_event_weeks_with_leads_and_lags() -> None:
    weeks = pd.date_range("2025-10-27", periods=4, freq="7D")  # 2025-11-11 is in the week of 11-10
    cov = fc.calendar_features(weeks, EVENTS)
    assert cov["double_11_+0"].tolist() == [0, 0, 1, 0]
    assert cov["double_11_-1"].tolist() == [0, 1, 0, 0]
    assert cov["double_11_+1"].tolist() == [0, 0, 0, 1]
    assert cov["member_day"].tolist() == [0, 1, 0, 0]  # 11-08 falls in the week of 11-03
    assert (cov["campaign"] == 0).all()


def test_rnn_beats_seasonal_naive_with_calibrated_intervals(backtested: pd.DataFrame) -> None:
    mean = backtested.groupby("model")[["mase", "coverage80"]].mean()
    assert mean.loc["rnn", "mase"] < 0.85 * mean.loc["snaive", "mase"], mean
    assert 0.6 <= mean.loc["rnn", "coverage80"] <= 0.97, mean


def test_same_seed_same_forecast_and_pickle_round_trip(series: pd.DataFrame) -> None:
    quick = RNN.model_copy(update={"epochs": 5})
    first = fc.RNNForecaster(**quick.model_dump(), events=EVENTS).fit(series).predict(series, None, 52)
    model = fc.RNNForecaster(**quick.model_dump(), events=EVENTS).fit(series)
    second = model.predict(series, None, 52)
    pd.testing.assert_frame_equal(first, second)
    again = pickle.loads(pickle.dumps(model)).predict(series, None, 52)
    pd.testing.assert_frame_equal(first, again)
    assert (
        len(first) == 52 * 3 and (first["q10"] <= first["q50"]).all() and (first["q50"] <= first["q90"]).all()
    )
    assert torch.are_deterministic_algorithms_enabled() is False  # global torch state restored


def test_predict_from_a_later_start_and_refuses_too_long(series: pd.DataFrame) -> None:
    model = fc.RNNForecaster(**{**RNN.model_dump(), "epochs": 2}, events=EVENTS).fit(series)
    last = series["week"].max()
    later = model.predict(series, last + pd.Timedelta(weeks=5), 10)
    assert later["week"].min() == last + pd.Timedelta(weeks=5) and later["week"].nunique() == 10
    with pytest.raises(ValueError, match="at most 53 weeks"):
        model.predict(series, last + pd.Timedelta(weeks=10), 52)


def test_pinball_loss_matches_hand_computation() -> None:
    pred = torch.tensor([[[1.0, 2.0, 3.0]]])
    target = torch.tensor([[2.5]])
    mask = torch.ones(1, 1)
    # q10: 0.1 * 1.5; q50: 0.5 * 0.5; q90: (0.9 - 1) * -0.5 = 0.05
    assert float(fc.pinball_loss(pred, target, mask)) == pytest.approx(0.15 + 0.25 + 0.05)
    assert float(fc.pinball_loss(pred, target, torch.zeros(1, 1))) == 0.0


def test_seasonal_naive_repeats_last_year_and_metrics() -> None:
    weeks = pd.date_range("2024-01-01", periods=60, freq="7D")
    history = pd.DataFrame({"week": weeks, "audience": "a", "revenue": np.arange(60, dtype=float)})
    out = fc.seasonal_naive(history, 3)
    assert out["q50"].tolist() == [8.0, 9.0, 10.0]  # weeks 60..62 repeat weeks 8..10
    assert fc.smape(np.array([100.0, 0.0]), np.array([50.0, 0.0])) == pytest.approx(100 * (2 * 50 / 150) / 2)
    assert fc.mase_scale(np.arange(60, dtype=float), 52) == pytest.approx(
        1.0
    )  # too short: naive-1 steps of 1


def test_ets_baseline_gives_ordered_quantiles(series: pd.DataFrame) -> None:
    out = fc.ets(series, 8)
    assert len(out) == 24 and (out["q10"] <= out["q50"]).all() and (out["q50"] <= out["q90"]).all()
