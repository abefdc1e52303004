"""The forecast tournament on a seeded demo brand: the GRU still wins there, registry + gate, KPI gap."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from memberwise import registry
from memberwise.config import ForecastConfig, ForecastGateConfig
from memberwise.errors import MemberwiseError
from memberwise.pipelines.forecast import judge_forecast, promote_forecast, train_forecast, weekly_series
from memberwise.pipelines.gap import kpi_gap, parse_period
from memberwise.pipelines.prepare import prepare
from memberwise.registry import CHALLENGER, CHAMPION, FORECAST_MODEL, configure, version_by_alias
from memberwise.settings import Settings
from tests.conftest import fresh_settings

AS_OF = date(2026, 11, 16)
CFG = ForecastConfig()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "home")


@pytest.fixture(scope="module")
def prepared(model_brand: Path, settings: Settings):  # noqa: ANN201
    return prepare(model_brand, settings)


@pytest.fixture(scope="module")
def trained(prepared, settings: Settings):  # noqa: ANN001, ANN201
    return train_forecast(prepared.warehouse, AS_OF, CFG, settings)


def test_the_gru_wins_the_demo_brand(trained) -> None:  # noqa: ANN001
    """The demo brand has rich history and planted promotion peaks: the GRU is chosen outright for the
    returning audiences and sits in the winning ensemble of the others (docs/forecast.md)."""
    m, model = trained.metrics, trained.model
    assert m["mase_rnn_mean"] <= 0.85 * m["mase_snaive_mean"], m
    assert m["mase_rnn_mean"] <= min(m["mase_ets_mean"], m["mase_theta_mean"]), m
    assert m["mase_chosen_mean"] <= 0.9 * m["mase_snaive_mean"], m
    assert 0.7 <= m["coverage80_chosen_mean"] <= 0.9, m
    outright = [a for a, choice in model.choice_.items() if choice == "rnn"]
    assert len(outright) >= 2, model.choice_
    assert all("rnn" in members for members in model.members_.values()), model.members_
    assert model.correlation_ is not None and 0 <= model.correlation_ <= 1


def test_run_logged_registered_and_gated(trained, prepared, settings: Settings) -> None:  # noqa: ANN001
    client = configure(settings)
    run = client.get_run(trained.run_id)
    for audience in ("new_customer", "returning_customer", "new_member", "returning_member"):
        for model in ("rnn", "snaive", "ets", "theta", "fourier_arima", "chosen"):
            assert f"mase_{model}_{audience}" in run.data.metrics
            assert f"coverage80_{model}_{audience}" in run.data.metrics
        assert run.data.tags[f"chosen.{audience}"] == trained.model.choice_[audience]
    assert {"trigger", "code_version", "data_fingerprint", "as_of"} <= set(run.data.tags)
    figures = {a.path for a in client.list_artifacts(trained.run_id, "figures")}
    assert {
        f"figures/{n}.png" for n in ("backtest_last_origin", "tournament_mase", "forward_forecast")
    } <= figures
    assert "tables/tournament.csv" in {a.path for a in client.list_artifacts(trained.run_id, "tables")}
    assert version_by_alias(client, "forecast", CHALLENGER) == trained.model_version

    first = promote_forecast(settings, CFG, AS_OF)
    assert first.approved and first.serving == trained.model_version
    publish(client, first)  # what a release switch does with an approved challenger
    strict = CFG.model_copy(update={"gate": ForecastGateConfig(coverage_band=(0.95, 1.0))})
    second = train_forecast(prepared.warehouse, AS_OF, strict, settings)
    rejected = promote_forecast(settings, strict, AS_OF)
    assert not rejected.approved and "coverage" in rejected.reasons[0]
    assert rejected.metrics["champion_mase_same_backtest"] == pytest.approx(
        second.metrics["mase_chosen_mean"]
    )  # the champion's choices scored in the challenger's backtest: same data, same choices
    assert client.get_model_version(FORECAST_MODEL, second.model_version).tags["gate"] == "rejected"
    third = train_forecast(prepared.warehouse, AS_OF, CFG, settings)
    third_decision = promote_forecast(settings, CFG, AS_OF)
    assert third_decision.approved and third_decision.champion == trained.model_version
    publish(client, third_decision)
    version = third_decision.serving
    model = registry.load("forecast", version)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{FORECAST_MODEL}@{CHAMPION}")
    history = pd.DataFrame({"week": ["2026-11-02", "2026-11-09"], "audience": "x", "revenue": 1.0})
    assert version == third.model_version and model.series_ == trained.model.series_
    with pytest.raises(ValueError, match="lacks audiences"):
        pyfunc.predict(history, params={"horizon": 4})
    saved = prepared.warehouse  # the pyfunc answers with the model chosen per audience
    weekly = weekly_series(saved, pd.Timestamp(AS_OF), CFG, settings.new_window_days)
    answer = pyfunc.predict(weekly.assign(week=weekly["week"].dt.strftime("%Y-%m-%d")), params={"horizon": 4})
    assert list(answer.columns) == ["week", "audience", "model", "q10", "q50", "q90"] and len(answer) == 16


def test_gate_rules_in_words() -> None:
    good = {"mase_chosen_mean": 0.7, "mase_snaive_mean": 1.3, "coverage80_chosen_mean": 0.8}
    assert judge_forecast(good, 0.72, CFG) == []
    assert judge_forecast({**good, "mase_chosen_mean": 1.3}, None, CFG) == []  # equal to naive is enough
    assert "seasonal naive" in judge_forecast({**good, "mase_chosen_mean": 1.31}, None, CFG)[0]
    assert "champion" in judge_forecast(good, 0.6, CFG)[0]
    assert "coverage" in judge_forecast({**good, "coverage80_chosen_mean": 0.95}, None, CFG)[0]


def test_kpi_gap_with_the_target_table(trained, prepared, settings: Settings) -> None:  # noqa: ANN001
    result = kpi_gap(
        prepared.warehouse, "2026", None, settings, forecaster=(trained.model, trained.model_version)
    )
    table = prepared.warehouse.df("SELECT target_revenue FROM kpi_targets WHERE year(period_start) = 2026")
    assert result.target == pytest.approx(float(table["target_revenue"].iloc[0]))
    paid = prepared.warehouse.scalar(
        "SELECT sum(amount) FROM orders WHERE status = 'paid' "
        "AND ordered_at >= '2026-01-01' AND ordered_at < '2026-11-16'"
    )
    assert result.actual_to_date == pytest.approx(
        float(paid), rel=0.02
    )  # members' orders only; weeks split by day
    assert result.projected_total == pytest.approx(result.actual_to_date + result.forecast_rest)
    assert result.forecast_rest_q10 < result.forecast_rest < result.forecast_rest_q90
    assert 0 <= result.p_meet_target <= 1 and len(result.per_audience) == 4
    assert result.correlation == pytest.approx(trained.model.correlation_)  # estimated, not the 0.7
    labels = dict(zip(result.per_audience["audience"], result.per_audience["model"], strict=True))
    assert all(label.split("(")[0] == trained.model.choice_[a] for a, label in labels.items()), labels
    assert parse_period("2026-Q4") == (pd.Timestamp("2026-10-01"), pd.Timestamp("2027-01-01"))
    with pytest.raises(MemberwiseError, match="no target for 2031"):
        kpi_gap(prepared.warehouse, "2031", None, settings, forecaster=(trained.model, trained.model_version))


def test_kpi_gap_with_a_given_target_for_a_quarter(trained, prepared, settings: Settings) -> None:  # noqa: ANN001
    result = kpi_gap(
        prepared.warehouse,
        "2026-Q4",
        2_000_000.0,
        settings,
        forecaster=(trained.model, trained.model_version),
    )
    assert result.target == 2_000_000.0 and result.period_end == pd.Timestamp("2027-01-01")


def publish(client, decision) -> None:  # noqa: ANN001
    """Move the champion alias as a release switch would (release switching is tested in test_release)."""
    client.set_registered_model_alias(FORECAST_MODEL, CHAMPION, decision.serving)
