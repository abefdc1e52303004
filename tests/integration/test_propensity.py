"""The propensity spine on a seeded demo brand: quality vs the planted truth, gate, retrain, rollback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from memberwise import registry, release
from memberwise.config import (
    BacktestConfig,
    ForecastConfig,
    GateConfig,
    OptunaConfig,
    PropensityConfig,
    RetrainConfig,
    RNNConfig,
    WindowsConfig,
)
from memberwise.data.demo import DemoConfig, generate
from memberwise.errors import MemberwiseError
from memberwise.modeling.evaluation import expected_calibration_error
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.promote import judge, promote_propensity
from memberwise.pipelines.propensity import train_propensity
from memberwise.pipelines.propensity_windows import validation_window
from memberwise.pipelines.publish import publish_promotion
from memberwise.pipelines.retrain import exclusive_lock, retrain
from memberwise.registry import CHAMPION, aliases, configure, version_by_alias
from memberwise.settings import Settings
from tests.conftest import DEMO_SNAPSHOT_DAY, fresh_settings, with_empty_store

AS_OF = date(2026, 11, 16)
# One LightGBM thread (a busy 2-core CI machine), two older windows: the tournament at test size.
FAST = PropensityConfig(
    threads=1, windows=WindowsConfig(training=2), optuna=OptunaConfig(trials=4, timeout_seconds=120)
)
# The retrain test is about failure, idempotency and rollback, not forecast quality (test_forecast judges
# the default forecaster; the demo command runs it inside a retrain): a short one keeps two retrains quick.
QUICK_FORECAST = ForecastConfig(rnn=RNNConfig(epochs=8), backtest=BacktestConfig(origins=1))
FAST_RETRAIN = RetrainConfig(propensity=FAST, forecast=QUICK_FORECAST)


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("propensity-brand")
    generate(DemoConfig(members=16_000, seed=21), out)
    return out


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "home")


@pytest.fixture(scope="module")
def prepared(brand: Path, settings: Settings):  # noqa: ANN201
    return prepare(brand, settings)


@pytest.fixture(scope="module")
def trained(prepared, settings: Settings):  # noqa: ANN001, ANN201
    return train_propensity(prepared.warehouse, AS_OF, FAST, settings)


def _oracle(brand: Path, prepared, member_ids: pd.Series) -> np.ndarray:  # noqa: ANN001
    """The planted truth: each member's true probability of buying in the horizon (0 if unknown)."""
    truth = pd.read_parquet(brand / "truth" / "purchase_probability.parquet")
    owners = pd.read_parquet(brand / "truth" / "account_person.parquet")
    person = prepared.identity.member_map.merge(owners, on=["channel", "account_id"])
    person = person.groupby("member_id")["person_id"].first()
    p_buy = truth.set_index("person_id")["p_buy"]
    return member_ids.map(person).map(p_buy).fillna(0.0).to_numpy()


@pytest.mark.slow
def test_quality_against_planted_truth_and_baselines(trained, prepared, brand: Path) -> None:  # noqa: ANN001
    window = validation_window(prepared.warehouse, AS_OF, trained.window.spec, FAST.split)
    features, y = window.features, window.labels
    oracle_auc = roc_auc_score(y, _oracle(brand, prepared, features["member_id"]))
    metrics = trained.metrics
    assert metrics["val_auc"] >= oracle_auc - 0.03, (metrics["val_auc"], oracle_auc)
    assert metrics["val_ece"] <= 0.03 and metrics["val_ece_adaptive"] <= 0.03
    assert metrics["val_auc"] > metrics["baseline_rfm_auc"] + 0.02
    assert metrics["val_auc"] > metrics["baseline_bgnbd_auc"] + 0.02
    # Out of time: every training window's label period ends by the validation cutoff.
    *older, validation_cutoff = trained.window.cutoffs
    assert older and all((validation_cutoff - c).days >= FAST.horizon_days for c in older)
    # The served model on the holdout half, which it was never calibrated on: calibrated, ranking kept.
    holdout, y_holdout = window.take("holdout")
    p = trained.model.predict_proba(holdout)
    assert expected_calibration_error(y_holdout, p) <= 0.03
    assert (
        abs(roc_auc_score(y_holdout, p) - roc_auc_score(y_holdout, trained.model.predict_raw(holdout)))
        <= 0.002
    )


@pytest.mark.slow
def test_run_is_logged_with_stable_names_and_registered(trained, settings: Settings) -> None:  # noqa: ANN001
    import mlflow

    client = configure(settings)
    run = client.get_run(trained.run_id)
    for name in ("val_auc", "val_pr_auc", "val_logloss", "val_brier", "val_ece", "val_ece_adaptive",
                 "lift_top_decile", "precision_at_threshold", "recall_at_threshold", "selected_share",
                 "baseline_rfm_auc", "baseline_bgnbd_auc", "bgnbd_feature_auc_gain"):  # fmt: skip
        assert name in run.data.metrics, name
    for candidate in ("bgnbd", "rfm_logistic", "lightgbm", "blend"):
        for metric in ("auc", "ece", "ece_adaptive", "brier", "logloss", "distinct_scores"):
            assert f"candidate_{candidate}_{metric}" in run.data.metrics, (candidate, metric)
    winner = run.data.tags["champion_candidate"]
    assert run.data.metrics["val_auc"] == pytest.approx(run.data.metrics[f"candidate_{winner}_auc"])
    assert {"trigger", "code_version", "data_fingerprint", "as_of"} <= set(run.data.tags)
    artifacts = {a.path for a in client.list_artifacts(trained.run_id, "figures")}
    assert {f"figures/{n}.png" for n in ("roc", "calibration", "decile_lift", "score_histogram",
                                          "feature_importance")} <= artifacts  # fmt: skip
    tables = {a.path for a in client.list_artifacts(trained.run_id, "tables")}
    assert {"tables/candidates.csv", "tables/calibration_methods.csv"} <= tables
    assert "champion_reason.txt" in {a.path for a in client.list_artifacts(trained.run_id)}
    trials = mlflow.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{trained.run_id}'"
    )
    assert len(trials) >= 1 and (trials["tags.kind"] == "optuna-trial").all()
    version = client.get_model_version_by_alias("memberwise-propensity", "challenger")
    assert str(version.version) == trained.model_version
    assert version.tags["candidate"] == winner == trained.model.candidate
    assert version.tags["windows.validation_cutoff"] == str(trained.window.validation_cutoff)
    # What the gate reuses instead of predicting again is what the registered model predicts.
    holdout = trained.window.take("holdout")[0]
    served = registry.load("propensity", trained.model_version).predict_proba(holdout)
    np.testing.assert_allclose(trained.holdout_p, served, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_gate_promotes_first_model_then_rejects_a_worse_rule_set(trained, prepared, settings) -> None:  # noqa: ANN001
    decision = promote_propensity(prepared.warehouse, AS_OF, FAST, settings)
    client = configure(settings)
    assert decision.approved and version_by_alias(client, "propensity", CHAMPION) is None  # not yet published
    published = publish_promotion(settings, "propensity", decision, "manual", prepared.warehouse, AS_OF)
    assert published is not None and published.manifest.models == {"propensity": trained.model_version}
    assert version_by_alias(client, "propensity", CHAMPION) == trained.model_version
    strict = FAST.model_copy(update={"gate": GateConfig(min_auc=0.999)})
    second = train_propensity(prepared.warehouse, AS_OF, strict, settings)
    rejected = promote_propensity(prepared.warehouse, AS_OF, strict, settings)
    assert not rejected.approved and "below the minimum" in rejected.reasons[0]
    assert publish_promotion(settings, "propensity", rejected, "manual", prepared.warehouse, AS_OF) is None
    assert version_by_alias(client, "propensity", CHAMPION) == trained.model_version  # unchanged
    assert client.get_model_version("memberwise-propensity", second.model_version).tags["gate"] == "rejected"


def test_gate_rules_in_words() -> None:
    good = {"val_auc": 0.9, "val_ece": 0.01}
    assert judge(good, {"val_auc": 0.88}, 0.05, FAST) == []
    assert judge(good, {"val_auc": 0.95}, 0.05, FAST) == ["AUC 0.900 is below the champion's 0.950"]
    assert "calibration error" in judge({"val_auc": 0.9, "val_ece": 0.2}, None, None, FAST)[0]
    assert "PSI" in judge(good, {"val_auc": 0.9}, 0.6, FAST)[0]


@pytest.mark.slow
def test_retrain_failure_keeps_champion_and_snapshot(
    brand: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = Settings(home=with_empty_store(tmp_path_factory, tmp_path), snapshot_date=DEMO_SNAPSHOT_DAY)
    summary = retrain(brand, settings, FAST_RETRAIN, trigger="manual")
    assert summary.gate.approved and summary.snapshot.members > 14_000
    first = release.require_current(settings)
    snapshot, meta = first.scores(), first.manifest.snapshot_meta
    assert summary.release == first.id and first.manifest.run_id == summary.run_id
    assert (snapshot["score"] > meta.threshold).sum() == meta.selected
    assert summary.personas_gate.approved and meta.personas_version == summary.personas_version
    assert snapshot["score"].nunique() >= 80  # no collapse into a few tied scores (isotonic gave 61)
    recent = snapshot["orders_365d"].fillna(0) > 0
    assert snapshot.loc[recent, "persona"].notna().all() and snapshot.loc[~recent, "persona"].isna().all()
    assert summary.forecast_gate is not None and summary.plan is not None and not summary.plan.problems
    assert summary.plan.gap.target > 0 and summary.plan.budget.allocation.status == "optimal"
    assert (first.path / "planning" / "cells.parquet").exists()
    assert retrain(brand, settings, FAST_RETRAIN).skipped  # idempotent: same data, cutoff, config, code
    too_early = date(2023, 2, 1)  # before the brand had members
    with pytest.raises(MemberwiseError, match="retrain failed at step 'train propensity'.*too little data"):
        retrain(brand, settings, FAST_RETRAIN, as_of=too_early, force=True)
    client = configure(settings)
    assert version_by_alias(client, "propensity", CHAMPION) == summary.model_version
    assert release.current_id(settings) == first.id
    pd.testing.assert_frame_equal(release.require_current(settings).scores(), snapshot)
    with pytest.raises(MemberwiseError, match="nothing to roll back to"):
        release.rollback(settings)
    second = retrain(brand, settings, FAST_RETRAIN, force=True)
    old, new = release.rollback(settings)
    assert (old.id, new.id) == (second.release, first.id)
    assert aliases(client) == first.manifest.models  # every champion moved back with the release


def test_second_retrain_refuses_while_one_runs(tmp_path: Path, demo_brand: Path) -> None:
    env = {**os.environ, "MEMBERWISE_HOME": str(tmp_path)}
    with exclusive_lock(tmp_path / "retrain.lock"):
        result = subprocess.run(
            [sys.executable, "-m", "memberwise", "retrain", "--data", str(demo_brand)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert result.returncode == 2
    assert "another retrain is running" in result.stderr and "Traceback" not in result.stderr
