"""Train the repurchase-propensity model: stacked windows -> Optuna -> tournament -> register the winner.

Out of time: candidates train on older labelled windows and are calibrated and judged on the most
recent complete one (features at `as_of - horizon`, labels over [as_of - horizon, as_of)), whose
members are split by hash into a calibration half and a holdout half (`propensity_windows`). The
tournament (`modeling.propensity.tournament`) fields BG/NBD, an RFM logistic model, the Optuna-tuned
LightGBM and a blend; whichever wins is registered (tagged `candidate=<name>`) and served through the
same `PropensityModel` interface (documented in docs/propensity.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
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

from memberwise.config import PropensityConfig, SearchSpaceConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.modeling.baselines import BGNBD
from memberwise.modeling.propensity import (
    BGNBDScorer,
    LightGBMScorer,
    PropensityModel,
    PropensityPyfunc,
    model_input,
    tournament,
)
from memberwise.modeling.propensity.candidates import fit_bgnbd
from memberwise.pipelines.propensity_report import log_tournament
from memberwise.pipelines.propensity_windows import (
    LabelledWindow,
    labelled_window,
    sample_rows,
    window_cutoff,
)
from memberwise.progress import bars_enabled
from memberwise.settings import Settings
from memberwise.tracking import (
    PROPENSITY_MODEL,
    child_run,
    configure,
    data_fingerprint,
    experiment_id,
    register_challenger,
    run_tags,
)
from memberwise.warehouse import Warehouse

__all__ = ["LabelledWindow", "TrainResult", "labelled_window", "train_propensity", "window_cutoff"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_version: str
    metrics: dict[str, float]
    model: PropensityModel
    window: LabelledWindow  # reused by the gate, so a retrain computes the window's features once
    outcome: tournament.Outcome
    holdout_p: np.ndarray  # the registered model on the window's holdout (the gate reuses them)


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
    """Optuna search (seeded TPE, median pruning) on the training windows; each trial is a nested run.

    Trials fit on the `train` rows and are scored (AUC) on the `early_stop` members of the same older
    windows: the validation window stays unseen. Big brands tune on a seeded sample of
    `optuna.tune_rows` rows: the ranking of hyper-parameters settles long before a million rows.
    """
    train, y_train = sample_rows(*window.take("train"), cfg.optuna.tune_rows, cfg.optuna.seed)
    early, y_early = sample_rows(*window.take("early_stop"), cfg.optuna.tune_rows, cfg.optuna.seed)
    shared = fit_bgnbd(train) if cfg.use_bgnbd_features else None  # one BG/NBD fit for every trial

    def objective(trial: optuna.Trial) -> float:
        params = search_space(trial, cfg.search_space)
        with child_run(f"trial-{trial.number:03d}", kind="optuna-trial"):
            mlflow.log_params(params)
            scorer = _lightgbm(params, cfg, window.spec, cfg.use_bgnbd_features, shared)
            try:
                scorer.fit(train, y_train, early, y_early, callbacks=[_pruning_callback(trial)])
            except optuna.TrialPruned:
                # Stopped early on purpose, not an error: KILLED (the `with` leaves an ended run alone).
                mlflow.set_tag("state", "pruned")
                mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
                raise
            auc = float(roc_auc_score(y_early, scorer.predict_raw(early)))
            mlflow.log_metrics({"early_stop_auc": auc, "best_iteration": scorer.booster_.best_iteration})
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
    mlflow.log_metrics({"optuna_best_early_stop_auc": study.best_value, "optuna_trials": len(study.trials)})
    return dict(study.best_params)


def _lightgbm(
    params: dict[str, Any],
    cfg: PropensityConfig,
    spec: FeatureSpec,
    use_bgnbd: bool,
    bgnbd: BGNBD | None = None,
) -> LightGBMScorer:
    return LightGBMScorer(
        {**params, "num_threads": cfg.threads},
        use_bgnbd=use_bgnbd,
        horizon_days=spec.horizon_days,
        max_rounds=cfg.search_space.max_rounds,
        early_stopping_rounds=cfg.optuna.early_stopping_rounds,
        seed=cfg.optuna.seed,
        bgnbd=bgnbd,
    )


def split_of(window: LabelledWindow) -> tournament.Split:
    """The tournament's rows: the training windows' two parts and the validation window's halves."""
    return tournament.Split(
        train=window.take("train"),
        early_stop=window.take("early_stop"),
        calibration=window.take("calibration"),
        holdout=window.take("holdout"),
    )


PIP_REQUIREMENTS = [
    f"lightgbm=={lgb.__version__}",
    f"scikit-learn=={sklearn.__version__}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
    f"scipy=={scipy.__version__}",
    f"optuna=={optuna.__version__}",
    f"mlflow=={mlflow.__version__}",
]


def register(
    model: PropensityModel, example: pd.DataFrame, settings: Settings, tags: dict[str, str] | None = None
) -> str:
    """Log the model (signature, input example, explicit requirements), register it, alias it challenger.

    The version is tagged with the model's feature spec, its candidate and calibration (and any `tags`),
    so it can be read without loading the model.
    """
    client = configure(settings)
    version = register_challenger(
        PROPENSITY_MODEL, PropensityPyfunc(model), model_input(example), PIP_REQUIREMENTS
    )
    described = {"candidate": model.candidate, "calibration": model.calibrator_.method}
    for key, value in {**model.feature_spec.tags(), **described, **(tags or {})}.items():
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
    """One MLflow run: stack windows, tune LightGBM, run the tournament, register the champion candidate."""
    configure(settings)
    spec = feature_spec(cfg, settings)
    window = labelled_window(wh, as_of, spec, cfg.split, cfg.windows)
    counts = window.counts()
    labels = window.labels
    if min(counts.values()) < 50 or labels.all() or not labels.any() or len(window.cutoffs) < 2:
        raise ValueError(
            f"too little data to train at {as_of}: {counts} over {len(window.cutoffs)} window(s), "
            f"{int(labels.sum())} repurchases"
        )
    tags = run_tags(trigger, data_fingerprint(wh), str(as_of), horizon_days=str(cfg.horizon_days))
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "propensity"),
        run_name=f"propensity as of {as_of}",
        nested=mlflow.active_run() is not None,
        tags={**tags, "kind": "train"},
    ) as run:
        mlflow.log_params(_run_params(cfg, window))
        mlflow.log_metrics({**counts, "positive_rate_train": float(window.take("train")[1].mean())})
        best = tune(window, cfg, progress)
        mlflow.log_params({f"best_{k}": v for k, v in best.items()})
        split = split_of(window)
        bgnbd = BGNBDScorer(spec.horizon_days).fit(split.train[0])  # the candidate, baseline and feature
        lightgbm = _lightgbm(best, cfg, spec, cfg.use_bgnbd_features, bgnbd.bgnbd_)
        lightgbm.fit(*split.train, *split.early_stop)
        outcome = tournament.run(
            split,
            lightgbm,
            bgnbd,
            spec,
            cfg.candidates,
            cfg.calibration,
            cfg.gate.min_auc,
            cfg.gate.max_ece,
            cfg.tie_logloss,
            cfg.calibration_max_ece,
        )
        metrics = log_tournament(outcome, split, cfg.threshold, bgnbd)
        effect = _bgnbd_feature_effect(best, cfg, split, spec, lightgbm)
        effect["best_iteration"] = float(lightgbm.booster_.best_iteration)
        mlflow.log_metrics(effect)
        metrics.update(effect)
        model = outcome.models[outcome.champion]
        version = register(model, split.holdout[0].head(5), settings, _window_tags(window))
        mlflow.set_tags({"model_version": version, "candidate": outcome.champion})
    log.info(
        "propensity v%s: %s wins (holdout AUC %.3f, ECE %.3f): %s",
        version,
        outcome.champion,
        metrics["val_auc"],
        metrics["val_ece"],
        outcome.why,
    )
    holdout_p = model.calibrated(outcome.raw[outcome.champion][len(split.calibration[1]) :])
    return TrainResult(run.info.run_id, version, metrics, model, window, outcome, holdout_p)


def _window_tags(window: LabelledWindow) -> dict[str, str]:
    """The windows a version was trained and validated on (they travel with the version)."""
    return {
        "windows.training_cutoffs": ",".join(str(c) for c in window.cutoffs[:-1]),
        "windows.validation_cutoff": str(window.validation_cutoff),
    }


def _run_params(cfg: PropensityConfig, window: LabelledWindow) -> dict[str, object]:
    return {
        "horizon_days": window.spec.horizon_days,
        "new_window_days": window.spec.new_window_days,
        "threshold": cfg.threshold,
        "calibration": cfg.calibration,
        "use_bgnbd_features": cfg.use_bgnbd_features,
        "candidates": ",".join(cfg.candidates),
        "optuna_trials": cfg.optuna.trials,
        "training_cutoff": str(window.validation_cutoff),
        "training_windows": ",".join(str(c) for c in window.cutoffs[:-1]),
    }


def _bgnbd_feature_effect(
    params: dict[str, Any],
    cfg: PropensityConfig,
    split: tournament.Split,
    spec: FeatureSpec,
    fitted: LightGBMScorer,
) -> dict[str, float]:
    """LightGBM with and without the BG/NBD features, compared on the holdout half (raw AUC).

    A big brand refits both on the tuning sample (`optuna.tune_rows`) rather than everyone, and compares
    them on the same sample of at most 4x as many holdout members: it is a diagnostic, not the served
    model. A small brand reuses the fitted model for its own variant.
    """
    holdout, y = sample_rows(*split.holdout, 4 * cfg.optuna.tune_rows, cfg.optuna.seed)
    train = sample_rows(*split.train, cfg.optuna.tune_rows, cfg.optuna.seed)
    early = sample_rows(*split.early_stop, cfg.optuna.tune_rows, cfg.optuna.seed)
    sampled = len(train[1]) < len(split.train[1])
    auc = {}
    for use in (True, False):
        reuse = use == fitted.use_bgnbd and not sampled
        model = fitted if reuse else _lightgbm(params, cfg, spec, use).fit(*train, *early)
        auc[use] = float(roc_auc_score(y, model.predict_raw(holdout)))
    return {
        "val_auc_with_bgnbd": auc[True],
        "val_auc_without_bgnbd": auc[False],
        "bgnbd_feature_auc_gain": auc[True] - auc[False],
    }
