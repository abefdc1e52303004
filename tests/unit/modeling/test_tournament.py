"""The forecast tournament on generated series with known truth: choice, fallback, intervals, correlation."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from memberwise.config import ForecastConfig
from memberwise.modeling.forecaster import TournamentForecaster, conformal
from memberwise.modeling.gap import in_period_share
from memberwise.planning_inputs import project_gap
from memberwise.serving.schemas import WeekForecast

STATISTICAL = ("snaive", "ets", "theta", "fourier_arima")
QUICK_RNN = {"epochs": 6, "patience": 3, "hidden": 8, "validation_weeks": 8}


def smooth_seasonal(start: str, end: str, seed: int = 1, late: dict[str, str] | None = None) -> pd.DataFrame:
    """Two audiences: a smooth yearly season (x1.6 peak to trough), 10%/year growth, 4% noise.

    `late` starts an audience at a later week (zero sales before it)."""
    weeks = pd.date_range(start, end, freq="7D")
    angle = 2 * np.pi * (weeks.day_of_year.to_numpy() - 1) / 365.25
    rng = np.random.default_rng(seed)
    frames = []
    for name, level in {"big": 10_000.0, "small": 2_500.0}.items():
        truth = level * (1 + 0.25 * np.sin(angle - 1.0)) * 1.1 ** (np.arange(len(weeks)) / 52)
        revenue = truth * rng.lognormal(0, 0.04, len(weeks))
        if late and name in late:
            revenue[weeks < pd.Timestamp(late[name])] = 0.0
        frames.append(pd.DataFrame({"week": weeks, "audience": name, "revenue": revenue}))
    return pd.concat(frames, ignore_index=True)


def fitted(history: pd.DataFrame, candidates: tuple[str, ...] = STATISTICAL) -> TournamentForecaster:
    return TournamentForecaster(candidates=candidates, rnn=QUICK_RNN, origins=3, horizon_weeks=26).fit(
        history
    )


@pytest.fixture(scope="module")
def smooth() -> pd.DataFrame:
    return smooth_seasonal("2023-01-02", "2026-12-28")


def test_a_smooth_season_is_won_by_a_statistical_candidate(smooth: pd.DataFrame) -> None:
    history = smooth[smooth["week"] < "2026-09-07"]
    model = fitted(history, ("rnn", *STATISTICAL))
    assert set(model.choice_.values()) <= {*STATISTICAL, "ensemble"} - {"snaive"}, model.choice_
    for members in model.members_.values():
        assert "rnn" not in members or len(members) > 1  # the quick GRU never wins alone
    scores = model.scores_.set_index(["audience", "model"])["mase"]
    for audience, choice in model.choice_.items():
        assert scores[(audience, choice)] <= 0.9 * scores[(audience, "snaive")]
        assert scores[(audience, choice)] == scores.loc[audience].min()  # the best backtest MASE


def test_gap_projection_from_september_is_within_3_percent(smooth: pd.DataFrame) -> None:
    """Cut at the start of September; the year's projected total vs the realised one."""
    cutoff = pd.Timestamp("2026-08-31")
    history = smooth[smooth["week"] < cutoff]
    model = fitted(history)
    year = smooth.assign(
        share=in_period_share(smooth["week"], pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01"))
    )
    realised = float((year["revenue"] * year["share"]).sum())
    result = project_gap(history, None, model, "2026", realised, cutoff, ForecastConfig())
    assert result.projected_total == pytest.approx(realised, rel=0.03)
    assert result.forecast_rest_q10 < result.forecast_rest < result.forecast_rest_q90
    assert [label.split("(")[0] for label in result.per_audience["model"]] == [
        model.choice_[a] for a in result.per_audience["audience"]
    ]
    assert result.correlation == pytest.approx(model.correlation_ if model.correlation_ is not None else 0.7)
    weeks = [WeekForecast.model_validate(row) for row in result.forecast_weeks()]  # what /gap answers
    assert len(weeks) == 2 * 18 and weeks[0].week == "2026-08-31" and weeks[0].model


def test_one_year_of_history_answers_with_the_fallback_and_says_so() -> None:
    history = smooth_seasonal("2025-09-01", "2026-08-24")  # 52 weeks
    model = fitted(history, ("rnn", *STATISTICAL))
    assert set(model.choice_.values()) <= {"snaive", "ets", "theta", "ensemble"}
    assert all("short history" in note for note in model.notes_.values())
    ensemble_members = {m for members in model.members_.values() for m in members}
    assert not ensemble_members & {"rnn", "fourier_arima"}
    result = project_gap(history, None, model, "2026", 1e6, pd.Timestamp("2026-08-31"), ForecastConfig())
    assert result.per_audience["model"].str.contains("no season").all(), result.per_audience
    assert result.forecast_rest_q10 <= result.forecast_rest < result.forecast_rest_q90
    forecast = model.predict(history, None, 40)
    width = (forecast["q90"] - forecast["q10"]).to_numpy().reshape(40, 2)
    assert (np.diff(width, axis=0) >= -1e-9).all()  # intervals never narrow further ahead


def test_an_audience_that_starts_late_gets_a_forecast_and_a_note() -> None:
    history = smooth_seasonal("2023-01-02", "2026-08-24", late={"small": "2026-01-05"})
    model = fitted(history)
    assert "short history" in model.notes_["small"] and model.notes_["big"] == ""
    forecast = model.predict(history, None, 8)
    small = forecast[forecast["audience"] == "small"]
    assert small["model"].str.contains("no season").all() and (small["q50"] > 0).all()
    again = pickle.loads(pickle.dumps(model)).predict(history, None, 8)
    pd.testing.assert_frame_equal(forecast, again)


def test_interval_coverage_is_honest_on_noise_of_known_spread() -> None:
    """A flat level with iid noise: the 80% interval should hold about 80% of held-out weeks."""
    weeks = pd.date_range("2022-01-03", periods=200, freq="7D")
    rng = np.random.default_rng(7)
    noise = 1000 + 100 * rng.standard_normal((3, 200))
    frames = [pd.DataFrame({"week": weeks, "audience": f"s{i}", "revenue": noise[i]}) for i in range(3)]
    model = TournamentForecaster(candidates=("snaive", "ets", "theta"), origins=4).fit(pd.concat(frames))
    chosen = model.scores_[model.scores_["chosen"]]
    assert 0.7 <= chosen["coverage80"].mean() <= 0.9, chosen
    assert model.correlation_ is not None and model.correlation_ < 0.25  # independent noise


def test_error_correlation_recovers_a_planted_common_factor() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for origin in range(40):
        common = rng.standard_normal()
        for audience in ("a", "b"):
            for step in range(10):
                error = np.sqrt(0.6) * common + np.sqrt(0.4) * rng.standard_normal()
                rows.append({"origin": origin, "audience": audience, "step": step, "error": error})
    assert conformal.error_correlation(pd.DataFrame(rows)) == pytest.approx(0.6, abs=0.1)
    assert conformal.error_correlation(pd.DataFrame(rows[:20])) is None  # one origin: cannot say


def test_step_quantiles_widen_and_extend() -> None:
    steps = np.repeat(np.arange(10), 20)
    errors = np.random.default_rng(0).standard_normal(200) * (1 + steps / 5)
    bounds = conformal.step_quantiles(steps, errors, 10)
    assert (np.diff(bounds[:, 1]) >= 0).all() and (np.diff(bounds[:, 0]) <= 0).all()
    longer = conformal.extend(bounds, 40)
    assert longer[-1, 1] == pytest.approx(bounds[-1, 1] * 2)  # sqrt(40 / 10)


def test_an_audience_without_sales_forecasts_zero_and_says_so() -> None:
    history = smooth_seasonal("2024-01-01", "2026-08-24", late={"small": "2030-01-07"})  # never sells
    model = fitted(history, ("snaive", "ets"))
    forecast = model.predict(history, None, 6)
    small = forecast[forecast["audience"] == "small"]
    assert (small[["q10", "q50", "q90"]] == 0).all().all() and (small["model"] == "none (no sales yet)").all()
    assert "too short to backtest" in model.notes_["small"] and set(model.scores_["audience"]) == {"big"}
