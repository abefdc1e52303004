"""Train the repurchase-propensity model: time split -> Optuna -> fit + calibrate -> evaluate -> register.

Time split: features at `as_of - horizon`, labels = a paid order in [as_of - horizon, as_of). Nothing
after `as_of - horizon` is a feature, so the model is evaluated exactly as it will be used. Members of
that window are split by a hash of their id into train / calibration / holdout: the calibration members
early-stop LightGBM, score the Optuna trials and fit the calibrator; the holdout members are only used
for the reported metrics and the baselines (documented in docs/propensity.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import optuna
import pandas as pd
import scipy
import sklearn
from mlflow.entities import RunStatus
from sklearn.metrics import roc_auc_score

from memberwise.config import PropensityConfig, SearchSpaceConfig, SplitConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.features import build_features, repurchase_labels
from memberwise.modeling import evaluation
from memberwise.modeling.baselines import BGNBD, bgnbd_inputs, rfm_score
from memberwise.modeling.propensity import PropensityModel, PropensityPyfunc, model_input
from memberwise.modeling.scores import score_from_probability
from memberwise.progress import bars_enabled
from memberwise.settings import Settings
from memberwise.tracking import (
    PROPENSITY_MODEL,
    child_run,
    configure,
    data_fingerprint,
    experiment_id,
    log_figure,
    log_frame,
    register_challenger,
    run_tags,
)
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
PARTS = ("train", "calibration", "holdout")


@dataclass
class LabelledWindow:
    """Features at the training cutoff, labels over the horizon after it, and each member's part."""

    features: pd.DataFrame
    labels: np.ndarray
    part: np.ndarray
    spec: FeatureSpec  # the horizon and windows the features and labels were built with

    def take(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        mask = self.part == part
        return self.features[mask].reset_index(drop=True), self.labels[mask]


@dataclass
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_version: str
    metrics: dict[str, float]
    model: PropensityModel
    window: LabelledWindow  # reused by the gate, so a retrain computes the window's features once


def member_parts(member_ids: pd.Series, split: SplitConfig) -> np.ndarray:
    """Deterministic train/calibration/holdout assignment from a hash of the member id."""
    unit = np.array([int(hashlib.md5(m.encode()).hexdigest()[:8], 16) / 2**32 for m in member_ids])
    return np.where(
        unit < split.holdout,
        "holdout",
        np.where(unit < split.holdout + split.calibration, "calibration", "train"),
    )


def window_cutoff(as_of: date, spec: FeatureSpec) -> date:
    """The feature cutoff of the window labelled up to as_of: one horizon earlier."""
    return as_of - timedelta(days=spec.horizon_days)


def labelled_window(wh: Warehouse, as_of: date, spec: FeatureSpec, split: SplitConfig) -> LabelledWindow:
    """Features at as_of - horizon and repurchase labels over [as_of - horizon, as_of), as `spec` defines."""
    cutoff = window_cutoff(as_of, spec)
    features = build_features(wh, cutoff, spec.new_window_days)
    labels = repurchase_labels(wh, cutoff, spec.horizon_days)
    if not features["member_id"].equals(labels["member_id"]):
        raise RuntimeError("features and labels are not aligned by member")
    parts = member_parts(features["member_id"], split)
    return LabelledWindow(features, labels["repurchased"].to_numpy(dtype=bool), parts, spec)


def feature_spec(cfg: PropensityConfig, settings: Settings) -> FeatureSpec:
    """The spec a new model is trained on: the config's horizon, the brand's 'new' window."""
    return FeatureSpec(horizon_days=cfg.horizon_days, new_window_days=settings.new_window_days)


def search_space(trial: optuna.Trial, space: SearchSpaceConfig) -> dict[str, Any]:
    """LightGBM hyper-parameters as a plain function of the trial."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", *space.num_leaves, log=True),
        "learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", *space.min_child_samples, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", *space.feature_fraction),
        "bagging_fraction": trial.suggest_float("bagging_fraction", *space.bagging_fraction),
        "lambda_l2": trial.suggest_float("lambda_l2", *space.lambda_l2, log=True),
    }


def _pruning_callback(trial: optuna.Trial, every: int = 10) -> Callable[[lgb.callback.CallbackEnv], None]:
    """Report the calibration AUC to Optuna every few rounds and stop hopeless trials early."""

    def callback(env: lgb.callback.CallbackEnv) -> None:
        if env.iteration % every or not env.evaluation_result_list:
            return
        auc = env.evaluation_result_list[0][2]
        trial.report(auc, env.iteration)
        if trial.should_prune():
            raise optuna.TrialPruned()

    return callback


def tune(window: LabelledWindow, cfg: PropensityConfig, progress: bool = False) -> dict[str, object]:
    """Optuna search (seeded TPE, median pruning); each trial is a nested MLflow run.

    Big brands tune on a seeded sample of `optuna.tune_rows` train (and calibration) members: the
    ranking of hyper-parameters settles long before a million rows, and the final fit uses everyone.
    """
    train, y_train = _sample(*window.take("train"), cfg.optuna.tune_rows, cfg.optuna.seed)
    cal, y_cal = _sample(*window.take("calibration"), cfg.optuna.tune_rows, cfg.optuna.seed)

    def objective(trial: optuna.Trial) -> float:
        params = search_space(trial, cfg.search_space)
        with child_run(f"trial-{trial.number:03d}", kind="optuna-trial"):
            mlflow.log_params(params)
            model = PropensityModel(
                params,
                calibration=cfg.calibration,
                use_bgnbd=cfg.use_bgnbd_features,
                horizon_days=cfg.horizon_days,
                max_rounds=cfg.search_space.max_rounds,
                early_stopping_rounds=cfg.optuna.early_stopping_rounds,
                seed=cfg.optuna.seed,
            )
            try:
                model.fit(train, y_train, cal, y_cal, callbacks=[_pruning_callback(trial)])
            except optuna.TrialPruned:
                # Stopped early on purpose, not an error: KILLED (the `with` leaves an ended run alone).
                mlflow.set_tag("state", "pruned")
                mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
                raise
            auc = float(roc_auc_score(y_cal, model.predict_raw(cal)))
            mlflow.log_metrics({"calibration_auc": auc, "best_iteration": model.booster_.best_iteration})
            mlflow.set_tag("state", "complete")
        return auc

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # before the study: no "A new study created" line
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=cfg.optuna.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    study.optimize(
        objective,
        n_trials=cfg.optuna.trials,
        timeout=cfg.optuna.timeout_seconds,
        show_progress_bar=bars_enabled(progress),
    )
    mlflow.log_metrics({"optuna_best_calibration_auc": study.best_value, "optuna_trials": len(study.trials)})
    return dict(study.best_params)


def _sample(features: pd.DataFrame, y: np.ndarray, rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    if len(features) <= rows:
        return features, y
    pick = np.sort(np.random.default_rng(seed).choice(len(features), size=rows, replace=False))
    return features.iloc[pick].reset_index(drop=True), y[pick]


def _final_model(
    params: dict[str, object], cfg: PropensityConfig, spec: FeatureSpec, use_bgnbd: bool
) -> PropensityModel:
    return PropensityModel(
        params,
        calibration=cfg.calibration,
        use_bgnbd=use_bgnbd,
        horizon_days=spec.horizon_days,
        new_window_days=spec.new_window_days,
        max_rounds=cfg.search_space.max_rounds,
        early_stopping_rounds=cfg.optuna.early_stopping_rounds,
        seed=cfg.optuna.seed,
    )


def evaluate(model: PropensityModel, window: LabelledWindow, cfg: PropensityConfig) -> dict[str, float]:
    """Holdout metrics of the model and of the two baselines, logged with their figures and tables."""
    train, _ = window.take("train")
    holdout, y = window.take("holdout")
    probability = model.predict_proba(holdout)
    metrics = evaluation.classification_metrics(y, probability, threshold=cfg.threshold)
    inputs = bgnbd_inputs(train)
    bgnbd = BGNBD(penalizer=1e-3).fit(inputs["frequency"], inputs["recency"], inputs["T"])
    held = bgnbd_inputs(holdout)
    bgnbd_score = bgnbd.expected_purchases(
        window.spec.horizon_days / 7, held["frequency"], held["recency"], held["T"]
    )
    baselines = {"RFM score": rfm_score(holdout).to_numpy(), "BG/NBD": bgnbd_score}
    metrics["baseline_rfm_auc"] = float(roc_auc_score(y, baselines["RFM score"]))
    metrics["baseline_bgnbd_auc"] = float(roc_auc_score(y, baselines["BG/NBD"]))
    metrics["holdout_base_rate"] = float(np.mean(y))
    scores = score_from_probability(probability)
    deciles = evaluation.decile_table(y, probability)
    log_frame(deciles, "decile_table")
    # Baseline scores are not probabilities; their percentile ranks draw the same ROC curve.
    ranked = {name: pd.Series(score).rank(pct=True).to_numpy() for name, score in baselines.items()}
    log_figure(evaluation.roc_figure(y, {"LightGBM (calibrated)": probability, **ranked}), "roc")
    log_figure(evaluation.calibration_figure(y, probability), "calibration")
    log_figure(evaluation.decile_lift_figure(deciles), "decile_lift")
    log_figure(evaluation.score_histogram_figure(scores, cfg.threshold), "score_histogram")
    log_figure(evaluation.importance_figure(model.importance()), "feature_importance")
    log_frame(model.importance().rename("gain").rename_axis("feature").reset_index(), "feature_importance")
    return metrics


PIP_REQUIREMENTS = [
    f"lightgbm=={lgb.__version__}",
    f"scikit-learn=={sklearn.__version__}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
    f"scipy=={scipy.__version__}",
    f"optuna=={optuna.__version__}",
    f"mlflow=={mlflow.__version__}",
]


def register(model: PropensityModel, example: pd.DataFrame, settings: Settings) -> str:
    """Log the model (signature, input example, explicit requirements), register it, alias it challenger.

    The version is tagged with the model's feature spec, so it can be read without loading the model.
    """
    client = configure(settings)
    version = register_challenger(
        PROPENSITY_MODEL, PropensityPyfunc(model), model_input(example), PIP_REQUIREMENTS
    )
    for key, value in model.feature_spec.tags().items():
        client.set_model_version_tag(PROPENSITY_MODEL, version, key, value)
    return version


def train_propensity(
    wh: Warehouse,
    as_of: date,
    cfg: PropensityConfig,
    settings: Settings,
    trigger: str = "manual",
    progress: bool = False,
) -> TrainResult:
    """One MLflow run: tune, fit, calibrate, evaluate against baselines, register as challenger."""
    configure(settings)
    spec = feature_spec(cfg, settings)
    window = labelled_window(wh, as_of, spec, cfg.split)
    counts = {f"rows_{part}": int((window.part == part).sum()) for part in PARTS}
    if min(counts.values()) < 50 or window.labels.all() or not window.labels.any():
        raise ValueError(
            f"too little data to train at {as_of}: {counts}, {int(window.labels.sum())} repurchases"
        )
    tags = run_tags(trigger, data_fingerprint(wh), str(as_of), horizon_days=str(cfg.horizon_days))
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "propensity"),
        run_name=f"propensity as of {as_of}",
        nested=mlflow.active_run() is not None,
        tags={**tags, "kind": "train"},
    ) as run:
        mlflow.log_params(_run_params(cfg, spec, as_of))
        mlflow.log_metrics({**counts, "positive_rate_train": float(window.take("train")[1].mean())})
        best = tune(window, cfg, progress)
        mlflow.log_params({f"best_{k}": v for k, v in best.items()})
        train, y_train = window.take("train")
        cal, y_cal = window.take("calibration")
        model = _final_model(best, cfg, spec, cfg.use_bgnbd_features).fit(train, y_train, cal, y_cal)
        metrics = evaluate(model, window, cfg)
        metrics.update(_bgnbd_feature_effect(best, cfg, window, metrics["val_auc"]))
        metrics["best_iteration"] = float(model.booster_.best_iteration)
        mlflow.log_metrics(metrics)
        version = register(model, window.take("holdout")[0].head(5), settings)
        mlflow.set_tag("model_version", version)
    log.info("propensity v%s: holdout AUC %.3f, ECE %.3f", version, metrics["val_auc"], metrics["val_ece"])
    return TrainResult(run.info.run_id, version, metrics, model, window)


def _run_params(cfg: PropensityConfig, spec: FeatureSpec, as_of: date) -> dict[str, object]:
    return {
        "horizon_days": spec.horizon_days,
        "new_window_days": spec.new_window_days,
        "threshold": cfg.threshold,
        "calibration": cfg.calibration,
        "use_bgnbd_features": cfg.use_bgnbd_features,
        "optuna_trials": cfg.optuna.trials,
        "training_cutoff": str(window_cutoff(as_of, spec)),
    }


def _bgnbd_feature_effect(
    params: dict[str, object], cfg: PropensityConfig, window: LabelledWindow, auc: float
) -> dict[str, float]:
    """Refit with the BG/NBD features toggled, to report whether they help (holdout AUC gain)."""
    train, y_train = window.take("train")
    cal, y_cal = window.take("calibration")
    holdout, y_holdout = window.take("holdout")
    other = _final_model(params, cfg, window.spec, not cfg.use_bgnbd_features).fit(train, y_train, cal, y_cal)
    other_auc = float(roc_auc_score(y_holdout, other.predict_proba(holdout)))
    with_bgnbd, without = (auc, other_auc) if cfg.use_bgnbd_features else (other_auc, auc)
    return {
        "val_auc_with_bgnbd": with_bgnbd,
        "val_auc_without_bgnbd": without,
        "bgnbd_feature_auc_gain": with_bgnbd - without,
    }
