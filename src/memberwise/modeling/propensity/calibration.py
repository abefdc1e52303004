"""Probability calibration that keeps the ranking: Platt, beta, isotonic and interpolated isotonic.

A marketer reads a score of 70 as "70% buy again", so raw model outputs are mapped to probabilities on
members the model never saw. Plain isotonic regression on a few hundred members is a step function: it
collapses scores into ties and can change AUC. The method is therefore chosen per brand (`choose`) by
cross-fitting on the calibration members: the lowest log loss among methods that keep AUC within
`auc_tolerance` (either way), keep at least `min_spread` of the distinct raw values (no collapse into
ties) and have ECE (equal-width and equal-count bins) at most `max_ece`; ties go to the simpler method.
Every calibrator is a non-decreasing map, fitted once and applied to any raw output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from memberwise.modeling.evaluation import expected_calibration_error

METHODS = ("platt", "beta", "smooth_isotonic", "isotonic")  # simplest first
EPS = 1e-6


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)


def _logit(p: np.ndarray) -> np.ndarray:
    q = _clip(p)
    return np.log(q / (1 - q))


class Calibrator:
    """A fitted non-decreasing map from raw model output to probability (one of METHODS)."""

    def __init__(self, method: str = "platt") -> None:
        if method == "sigmoid":  # the config's older name for Platt scaling
            method = "platt"
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}: one of {', '.join(METHODS)}")
        self.method = method

    def _beta_inputs(self, raw: np.ndarray) -> np.ndarray:
        q = _clip(raw)
        columns = np.column_stack([np.log(q), -np.log(1 - q)])
        return columns[:, self.beta_columns_]

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on held-out members' raw outputs and outcomes."""
        raw, y = np.asarray(raw, dtype="float64"), np.asarray(y, dtype=int)
        if self.method == "platt":
            self.model_ = LogisticRegression(C=1e4).fit(_logit(raw).reshape(-1, 1), y)
        elif self.method == "beta":
            # Beta calibration (Kull et al. 2017): logistic on ln p and -ln(1-p) with both weights >= 0,
            # so the map never reverses the ranking; a negative weight drops its column (as betacal does).
            self.beta_columns_ = [0, 1]
            self.model_ = LogisticRegression(C=1e4).fit(self._beta_inputs(raw), y)
            if (self.model_.coef_ < 0).any():
                self.beta_columns_ = [int(np.argmax(self.model_.coef_[0]))]
                self.model_ = LogisticRegression(C=1e4).fit(self._beta_inputs(raw), y)
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            self.isotonic_ = iso
            if self.method == "smooth_isotonic":
                self.knots_ = _block_centres(raw, iso.predict(raw))
        return self

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in [0, 1]."""
        raw = np.asarray(raw, dtype="float64")
        if self.method == "platt":
            out = self.model_.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]
        elif self.method == "beta":
            out = self.model_.predict_proba(self._beta_inputs(raw))[:, 1]
        elif self.method == "smooth_isotonic":
            x, value = self.knots_
            out = np.interp(raw, x, value)
        else:
            out = self.isotonic_.predict(raw)
        return np.clip(out, 0.0, 1.0)


def _block_centres(raw: np.ndarray, fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the interpolated isotonic map: each constant block's mean raw output and its value.

    Interpolating linearly between block centres keeps isotonic's shape but is strictly increasing
    between the first and last centre, so members no longer tie in wide steps.
    """
    frame = pd.DataFrame({"raw": raw, "value": fitted}).groupby("value", sort=True)["raw"].mean()
    x, value = frame.to_numpy(), frame.index.to_numpy(dtype="float64")
    order = np.argsort(x, kind="stable")
    return x[order], value[order]


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen method and every method's cross-fitted figures (for the run's table)."""

    method: str
    table: pd.DataFrame


def cross_fitted(
    method: str, raw: np.ndarray, y: np.ndarray, folds: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Out-of-fold calibrated probabilities, the mean AUC change and the share of distinct values kept.

    Each fold is mapped by a fit on the others; AUC and spread are measured per fold, since pooling folds
    mapped differently would blur the ranking by itself.
    """
    out, losses, spread = np.empty(len(raw)), [], []
    for fold in np.unique(folds):
        held = folds == fold
        out[held] = Calibrator(method).fit(raw[~held], y[~held])(raw[held])
        spread.append(len(np.unique(out[held])) / len(np.unique(raw[held])))
        if 0 < y[held].sum() < held.sum():
            losses.append(roc_auc_score(y[held], raw[held]) - roc_auc_score(y[held], out[held]))
    return out, float(np.mean(losses)) if losses else 0.0, float(np.mean(spread))


def choose(
    raw: np.ndarray,
    y: np.ndarray,
    max_ece: float = 0.03,
    auc_tolerance: float = 0.002,
    min_spread: float = 0.5,
    logloss_tolerance: float = 1e-3,
    folds: int = 2,
    seed: int = 0,
) -> CalibrationChoice:
    """Pick the calibration method for a model by cross-fitting on its calibration members."""
    raw, y = np.asarray(raw, dtype="float64"), np.asarray(y, dtype=int)
    assignment = np.random.default_rng(seed).permutation(np.arange(len(raw)) % folds)
    rows = []
    for method in METHODS:
        p, auc_loss, spread = cross_fitted(method, raw, y, assignment)
        rows.append(
            {
                "method": method,
                "auc_loss": auc_loss,
                "spread": spread,
                "ece": expected_calibration_error(y, p),
                "ece_adaptive": expected_calibration_error(y, p, strategy="quantile"),
                "logloss": float(log_loss(y, _clip(p), labels=[0, 1])),
            }
        )
    table = pd.DataFrame(rows)
    keeps_rank = (table["auc_loss"].abs() <= auc_tolerance) & (table["spread"] >= min_spread)
    calibrated = (table["ece"] <= max_ece) & (table["ece_adaptive"] <= max_ece)
    pool = table[keeps_rank & calibrated]
    if pool.empty:
        pool = table[keeps_rank] if keeps_rank.any() else table
    best = pool["logloss"].min()
    method = str(pool.loc[pool["logloss"] <= best + logloss_tolerance, "method"].iloc[0])  # simplest first
    return CalibrationChoice(method, table.assign(chosen=table["method"] == method))
