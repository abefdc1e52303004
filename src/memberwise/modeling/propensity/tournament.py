"""The propensity tournament: fit every candidate on older windows, calibrate and judge them out of time.

Candidates train on the training windows (BG/NBD, RFM logistic, LightGBM), the blend stacks them on the
early-stopping members, and each gets the calibration method chosen for it on the validation window's
calibration half; the served model is calibrated on that half. Candidates are measured cross-fitted over
the whole validation window: the holdout half with the served calibrator, the calibration half with the
same method fitted on the holdout half. Twice the members halves the noise of ECE, which on a
3,000-customer brand is otherwise as large as the 0.03 it is held to.

The champion is the lowest log loss among candidates meeting the gate's rules (AUC and both ECEs) and,
if any does, the calibration target (ECE <= 0.03 in both binnings); log losses within `tie_logloss`
tie, then AUCs within 0.002 tie, and ties go to the simpler candidate.
Pure model code: no I/O, no MLflow.
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
from memberwise.modeling.scores import score_from_probability

AUC_TIE = 0.002


@dataclass
class Split:
    """The rows a tournament uses: training, early-stopping, calibration and holdout features/labels."""

    train: tuple[pd.DataFrame, np.ndarray]
    early_stop: tuple[pd.DataFrame, np.ndarray]
    calibration: tuple[pd.DataFrame, np.ndarray]
    holdout: tuple[pd.DataFrame, np.ndarray]

    def validation(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The whole validation window: calibration half, then holdout half."""
        (cal, y_cal), (hold, y_hold) = self.calibration, self.holdout
        return pd.concat([cal, hold], ignore_index=True), np.concatenate([y_cal, y_hold])


@dataclass
class Outcome:
    """Every candidate's served model and cross-fitted figures, the champion and why it won."""

    models: dict[str, PropensityModel]
    labels: np.ndarray  # the validation window's outcomes (calibration half, then holdout half)
    probability: dict[str, np.ndarray]  # cross-fitted calibrated probabilities, same order
    table: pd.DataFrame  # one row per candidate
    calibration_tables: dict[str, pd.DataFrame]
    champion: str
    why: str
    eligible: list[str] = field(default_factory=list)
    raw: dict[str, np.ndarray] = field(default_factory=dict)  # each candidate's raw output, same order


def fit_scorers(split: Split, lightgbm: Any, bgnbd: BGNBDScorer, names: tuple[str, ...]) -> dict[str, Any]:
    """The fitted candidate scorers (`lightgbm` and `bgnbd` arrive fitted on the training rows)."""
    train, y = split.train
    early, y_early = split.early_stop
    scorers: dict[str, Any] = {"bgnbd": bgnbd}
    scorers["rfm_logistic"] = RFMLogistic().fit(train, y, early, y_early)
    scorers["lightgbm"] = lightgbm
    if "blend" in names:
        base = [scorers[n] for n in ("lightgbm", "rfm_logistic", "bgnbd")]
        scorers["blend"] = Blend(base).fit(early, y_early)
    return {name: scorers[name] for name in names}


def calibrate(
    scorers: dict[str, Any], split: Split, spec: FeatureSpec, method: str, max_ece: float, seed: int = 0
) -> tuple[dict[str, PropensityModel], dict[str, np.ndarray], dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """Each candidate's served model, cross-fitted probabilities, calibration comparison and raw output.

    The method is `method`, or the one chosen for each candidate on the calibration half when 'auto'.
    The raw output covers the validation window (calibration half, then holdout half): each candidate
    predicts it once, and a blend combines its members' (at a million members, predicting is most of
    a tournament's time).
    """
    (cal, y_cal), (hold, y_hold) = split.calibration, split.holdout
    y_cal, y_hold = np.asarray(y_cal, dtype=int), np.asarray(y_hold, dtype=int)
    models, probability, tables = {}, {}, {}
    raw: dict[str, np.ndarray] = {}
    for name, scorer in scorers.items():
        raw[name] = _validation_raw(scorer, cal, hold, scorers, raw)
        raw_cal, raw_hold = raw[name][: len(cal)], raw[name][len(cal) :]
        chosen = method
        if method == "auto":
            choice = calibration.choose(raw_cal, y_cal, max_ece=max_ece, seed=seed)
            chosen, tables[name] = choice.method, choice.table
        served = calibration.Calibrator(chosen).fit(raw_cal, y_cal)
        mirror = calibration.Calibrator(chosen).fit(raw_hold, y_hold)
        probability[name] = np.concatenate([mirror(raw_cal), served(raw_hold)])
        models[name] = PropensityModel.assemble(scorer, served, float(y_cal.mean()), spec)
    return models, probability, tables, raw


def _validation_raw(
    scorer: Any, cal: pd.DataFrame, hold: pd.DataFrame, scorers: dict[str, Any], known: dict[str, np.ndarray]
) -> np.ndarray:
    """A scorer's raw output on the validation window (calibration half, then holdout half).

    A blend whose members already predicted it (they come first in `scorers`) combines their outputs.
    """
    if isinstance(scorer, Blend) and all(
        m.name in known and scorers.get(m.name) is m for m in scorer.members
    ):
        return scorer.combine([known[m.name] for m in scorer.members])
    return np.concatenate([scorer.predict_raw(cal), scorer.predict_raw(hold)])


def measure(
    name: str, model: PropensityModel, p: np.ndarray, raw: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """One candidate's row of the table, from its raw output `raw` on the validation window.

    The served model's AUC (its ranking was fitted on older windows; the calibrator only relabels it) and
    raw AUC; cross-fitted ECEs, Brier and log loss; how many distinct 0-100 scores the served model gives.
    """
    metrics = evaluation.classification_metrics(y, p, prefix="")
    served = model.calibrated(raw)
    return {
        "candidate": name,
        "calibration": model.calibrator_.method,
        "auc": float(roc_auc_score(y, served)),
        "auc_raw": float(roc_auc_score(y, raw)),
        "ece": metrics["ece"],
        "ece_adaptive": metrics["ece_adaptive"],
        "brier": metrics["brier"],
        "logloss": metrics["logloss"],
        "distinct_scores": int(len(np.unique(score_from_probability(served)))),
    }


def _calibrated(table: pd.DataFrame, max_ece: float) -> pd.Series:
    return (table["ece"] <= max_ece) & (table["ece_adaptive"] <= max_ece)


def pick(
    table: pd.DataFrame, min_auc: float, max_ece: float, tie_logloss: float, target_ece: float | None = None
) -> tuple[str, str, list[str]]:
    """The champion, the reason in words, and which candidates met the gate's rules.

    Among those, candidates also reaching `target_ece` (the calibration target) come first.
    """
    eligible = table[(table["auc"] >= min_auc) & _calibrated(table, max_ece)]
    pool = eligible if not eligible.empty else table
    scope = "on the out-of-time window"
    if target_ece is not None and _calibrated(pool, target_ece).any():
        scope = (
            f"among candidates with ECE <= {target_ece:g} " + scope
            if not _calibrated(pool, target_ece).all()
            else scope
        )
        pool = pool[_calibrated(pool, target_ece)]
    tied = pool[pool["logloss"] <= pool["logloss"].min() + tie_logloss]
    tied = tied[tied["auc"] >= tied["auc"].max() - AUC_TIE]
    ranked = tied.assign(order=tied["candidate"].map(SIMPLICITY.index)).sort_values("order")
    best = ranked.iloc[0]
    others = ", ".join(
        f"{r.candidate} {r.logloss:.4f}" for r in pool.itertuples() if r.candidate != best.candidate
    )
    why = (
        f"{best.candidate}: lowest log loss {scope} ({best.logloss:.4f}; "
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
    bgnbd: BGNBDScorer,
    spec: FeatureSpec,
    names: tuple[str, ...],
    calibration_method: str,
    min_auc: float,
    max_ece: float,
    tie_logloss: float = 0.001,
    calibration_max_ece: float = 0.03,
) -> Outcome:
    """Fit, calibrate and measure every candidate; pick the champion (`max_ece`: the gate's rule)."""
    scorers = fit_scorers(split, lightgbm, bgnbd, names)
    calibrated = calibrate(scorers, split, spec, calibration_method, calibration_max_ece)
    models, probability, tables, raw = calibrated
    _, y = split.validation()
    rows = [measure(name, model, probability[name], raw[name], y) for name, model in models.items()]
    table = pd.DataFrame(rows)
    champion, why, eligible = pick(table, min_auc, max_ece, tie_logloss, calibration_max_ece)
    return Outcome(models, y, probability, table, tables, champion, why, eligible, raw)
