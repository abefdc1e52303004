"""The propensity tournament: fit every candidate on older windows, calibrate and judge them out of time.

Candidates train on the training windows (BG/NBD, RFM logistic, LightGBM), the blend stacks them on the
early-stopping members, each gets the calibration method chosen for it on the validation window's
calibration half, and all are measured on its holdout half. The champion is the lowest log loss among
candidates meeting the gate's rules (AUC and both ECEs); log losses within `tie_logloss` tie, then AUCs
within 0.002 tie, and ties go to the simpler candidate. Pure model code: no I/O, no MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from memberwise.feature_spec import FeatureSpec
from memberwise.modeling import evaluation
from memberwise.modeling.propensity import calibration
from memberwise.modeling.propensity.candidates import SIMPLICITY, BGNBDScorer, Blend, RFMLogistic
from memberwise.modeling.propensity.model import PropensityModel

AUC_TIE = 0.002


@dataclass
class Split:
    """The rows a tournament uses: training, early-stopping, calibration and holdout features/labels."""

    train: tuple[pd.DataFrame, np.ndarray]
    early_stop: tuple[pd.DataFrame, np.ndarray]
    calibration: tuple[pd.DataFrame, np.ndarray]
    holdout: tuple[pd.DataFrame, np.ndarray]


@dataclass
class Outcome:
    """Every candidate's served model and holdout figures, the champion and why it won."""

    models: dict[str, PropensityModel]
    holdout_probability: dict[str, np.ndarray]
    table: pd.DataFrame  # one row per candidate
    calibration_tables: dict[str, pd.DataFrame]
    champion: str
    why: str
    eligible: list[str] = field(default_factory=list)


def fit_scorers(split: Split, lightgbm: Any, names: tuple[str, ...], horizon_days: int) -> dict[str, Any]:
    """The fitted candidate scorers (`lightgbm` arrives fitted: it was tuned by the pipeline)."""
    train, y = split.train
    early, y_early = split.early_stop
    scorers: dict[str, Any] = {"bgnbd": BGNBDScorer(horizon_days).fit(train)}
    scorers["rfm_logistic"] = RFMLogistic().fit(train, y, early, y_early)
    scorers["lightgbm"] = lightgbm
    if "blend" in names:
        base = [scorers[n] for n in ("lightgbm", "rfm_logistic", "bgnbd")]
        scorers["blend"] = Blend(base).fit(early, y_early)
    return {name: scorers[name] for name in names}


def calibrate(
    scorers: dict[str, Any], split: Split, spec: FeatureSpec, method: str, max_ece: float, seed: int = 0
) -> tuple[dict[str, PropensityModel], dict[str, pd.DataFrame]]:
    """Each candidate with its calibrator (the `method`, or the one chosen for it when 'auto')."""
    cal, y_cal = split.calibration
    y_cal = np.asarray(y_cal, dtype=int)
    models, tables = {}, {}
    for name, scorer in scorers.items():
        raw = scorer.predict_raw(cal)
        if method == "auto":
            choice = calibration.choose(raw, y_cal, max_ece=max_ece, seed=seed)
            chosen, tables[name] = choice.method, choice.table
        else:
            chosen = method
        calibrator = calibration.Calibrator(chosen).fit(raw, y_cal)
        models[name] = PropensityModel.assemble(scorer, calibrator, float(y_cal.mean()), spec)
    return models, tables


def measure(name: str, model: PropensityModel, holdout: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """One candidate's row of the table: calibrated and raw AUC, both ECEs, Brier, log loss."""
    p = model.predict_proba(holdout)
    metrics = evaluation.classification_metrics(y, p, prefix="")
    return {
        "candidate": name,
        "calibration": model.calibrator_.method,
        "auc": metrics["auc"],
        "auc_raw": float(roc_auc_score(y, model.predict_raw(holdout))),
        "ece": metrics["ece"],
        "ece_adaptive": metrics["ece_adaptive"],
        "brier": metrics["brier"],
        "logloss": metrics["logloss"],
        "distinct_scores": int(len(np.unique(model.score(holdout)))),
    }


def pick(
    table: pd.DataFrame, min_auc: float, max_ece: float, tie_logloss: float
) -> tuple[str, str, list[str]]:
    """The champion, the reason in words, and which candidates met the rules."""
    ok = (table["auc"] >= min_auc) & (table["ece"] <= max_ece) & (table["ece_adaptive"] <= max_ece)
    eligible = table[ok]
    pool = eligible if not eligible.empty else table
    tied = pool[pool["logloss"] <= pool["logloss"].min() + tie_logloss]
    tied = tied[tied["auc"] >= tied["auc"].max() - AUC_TIE]
    ranked = tied.assign(order=tied["candidate"].map(SIMPLICITY.index)).sort_values("order")
    best = ranked.iloc[0]
    others = ", ".join(
        f"{r.candidate} {r.logloss:.4f}" for r in pool.itertuples() if r.candidate != best.candidate
    )
    why = (
        f"{best.candidate}: lowest log loss on the out-of-time window ({best.logloss:.4f}; "
        f"{others or 'alone'}), AUC {best.auc:.3f}, ECE {best.ece:.3f} (adaptive {best.ece_adaptive:.3f})"
    )
    if len(tied) > 1:
        why += (
            f"; tied with {', '.join(c for c in tied['candidate'] if c != best.candidate)}: the simpler wins"
        )
    if eligible.empty:
        why = f"no candidate meets the gate's rules (AUC >= {min_auc}, ECE <= {max_ece}); best was " + why
    return str(best.candidate), why, list(eligible["candidate"])


def run(
    split: Split,
    lightgbm: Any,
    spec: FeatureSpec,
    names: tuple[str, ...],
    calibration_method: str,
    min_auc: float,
    max_ece: float,
    tie_logloss: float = 0.001,
) -> Outcome:
    """Fit, calibrate and measure every candidate; pick the champion."""
    scorers = fit_scorers(split, lightgbm, names, spec.horizon_days)
    models, tables = calibrate(scorers, split, spec, calibration_method, max_ece)
    holdout, y = split.holdout
    table = pd.DataFrame([measure(name, model, holdout, y) for name, model in models.items()])
    champion, why, eligible = pick(table, min_auc, max_ece, tie_logloss)
    probabilities = {name: model.predict_proba(holdout) for name, model in models.items()}
    return Outcome(models, probabilities, table, tables, champion, why, eligible)
