"""The propensity tournament across the demo zoo: on every brand profile the champion beats (or ties)
BG/NBD and the RFM models on the out-of-time window, calibrated (ECE <= 0.03 in both binnings), at the
profile's own horizon. Small brands (3,000 people), few Optuna trials, one LightGBM thread."""

from __future__ import annotations

from datetime import date

import pytest

from memberwise.config import OptunaConfig, PropensityConfig, SearchSpaceConfig, WindowsConfig
from memberwise.data.demo import PROFILES, DemoConfig
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.propensity import TrainResult, train_propensity
from memberwise.registry import configure
from memberwise.settings import Settings
from tests.conftest import BrandOf, fresh_settings

AS_OF = date(2026, 11, 16)
ZOO = ("one_channel", "one_cohort", "grocery", "short_history", "regime_change", "smooth_seasonal")
TIE = 0.005


def quick(horizon_days: int) -> PropensityConfig:
    return PropensityConfig(
        horizon_days=horizon_days,
        threads=1,
        optuna=OptunaConfig(trials=2, timeout_seconds=60),
        search_space=SearchSpaceConfig(max_rounds=300),
        windows=WindowsConfig(training=3),
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "zoo-home")  # one MLflow store for the whole zoo


def _train(profile: str, brand_of: BrandOf, settings: Settings) -> TrainResult:
    prepared = prepare(brand_of(DemoConfig(members=3_000, seed=11, profile=profile)), settings)
    return train_propensity(prepared.warehouse, AS_OF, quick(PROFILES[profile].horizon_days), settings)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ZOO)
def test_champion_beats_the_classics_on_every_brand(
    profile: str, brand_of: BrandOf, settings: Settings
) -> None:
    trained = _train(profile, brand_of, settings)
    assert trained.outcome is not None
    metrics, table = trained.metrics, trained.outcome.table.set_index("candidate")
    classics = [table.loc["bgnbd", "auc"], table.loc["rfm_logistic", "auc"]]
    classics += [metrics["baseline_rfm_auc"], metrics["baseline_bgnbd_auc"]]
    assert metrics["val_auc"] >= max(classics) - TIE, (trained.outcome.why, classics)
    assert metrics["val_ece"] <= 0.03 and metrics["val_ece_adaptive"] <= 0.03, trained.outcome.why
    assert table.loc[trained.outcome.champion, "distinct_scores"] >= 25  # no collapse into a few ties
    horizon = PROFILES[profile].horizon_days
    assert trained.model.feature_spec.horizon_days == horizon  # the horizon travels with the version
    tags = configure(settings).get_model_version("memberwise-propensity", trained.model_version).tags
    assert tags["feature_spec.horizon_days"] == str(horizon) and tags["candidate"] == trained.outcome.champion
