"""What defines a model travels with its version: promote and score read it there, not from the config.

A 28-day model with a 30-day 'new' window, promoted by a command that has only the default config
(90-day horizon) and default settings (90-day window), is judged on 28-day labels and its own features.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from memberwise.config import GateConfig, OptunaConfig, PropensityConfig, SplitConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.features import build_features
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.promote import promote_propensity
from memberwise.pipelines.propensity import train_propensity
from memberwise.pipelines.propensity_windows import validation_window
from memberwise.pipelines.score import score_members
from memberwise.registry import configure
from memberwise.tracking import PROPENSITY_MODEL
from tests.conftest import fresh_settings

AS_OF = date(2026, 11, 16)
SPEC = FeatureSpec(horizon_days=28, new_window_days=30)
CFG = PropensityConfig(
    horizon_days=SPEC.horizon_days,
    optuna=OptunaConfig(trials=3, timeout_seconds=60),
    gate=GateConfig(min_auc=0.0, max_ece=1.0),
)


@pytest.fixture(scope="module")
def trained(demo_brand: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    settings = fresh_settings(tmp_path_factory, "spec-home").model_copy(
        update={"new_window_days": SPEC.new_window_days}
    )
    prepared = prepare(demo_brand, settings)
    return settings, prepared, train_propensity(prepared.warehouse, AS_OF, CFG, settings)


def test_the_version_records_the_spec_it_was_trained_on(trained) -> None:  # noqa: ANN001
    settings, _, result = trained
    assert result.model.feature_spec == SPEC
    version = configure(settings).get_model_version(PROPENSITY_MODEL, result.model_version)
    assert FeatureSpec.from_tags(version.tags) == SPEC


def test_promote_without_the_config_judges_on_the_versions_horizon(trained) -> None:  # noqa: ANN001
    settings, prepared, result = trained
    wh = prepared.warehouse
    defaults = settings.model_copy(update={"new_window_days": 90})
    decision = promote_propensity(wh, AS_OF, PropensityConfig(), defaults)
    holdout, y = validation_window(wh, AS_OF, SPEC, SplitConfig()).take("holdout")
    own_auc = roc_auc_score(y, result.model.predict_proba(holdout))
    assert decision.metrics["challenger_val_auc"] == pytest.approx(own_auc, abs=1e-12)
    # The bug this guards against: the same model judged on the config's 90-day labels scores differently.
    holdout, y = validation_window(wh, AS_OF, FeatureSpec(90, 90), SplitConfig()).take("holdout")
    wrong_auc = roc_auc_score(y, result.model.predict_proba(holdout))
    assert abs(wrong_auc - own_auc) > 1e-3


def test_scoring_builds_features_with_the_models_new_window(trained) -> None:  # noqa: ANN001
    _, prepared, result = trained
    wh = prepared.warehouse
    own, default = build_features(wh, AS_OF, SPEC.new_window_days), build_features(wh, AS_OF, 90)
    assert (own["customer_type"] != default["customer_type"]).any(), (
        "the test needs a member the windows split"
    )
    scores = score_members(wh, AS_OF, result.model, result.model_version, 60, "selected")
    assert scores["customer_type"].tolist() == own["customer_type"].tolist()
    # Features a caller built with the settings' window (a retrain after the setting changed) are rebuilt.
    given = score_members(wh, AS_OF, result.model, result.model_version, 60, "selected", features=default)
    assert given["customer_type"].tolist() == own["customer_type"].tolist()
