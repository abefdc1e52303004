"""What a propensity training run logs: every candidate side by side, the champion's evidence, baselines.

Metric names are stable so analysts can chart them across runs: `candidate_<name>_<metric>` for every
candidate (auc, auc_raw, ece, ece_adaptive, brier, logloss, distinct_scores), `val_*` for the champion,
`baseline_rfm_auc` (r+f+m score) and `baseline_bgnbd_auc` (BG/NBD's P(any purchase)), all on the whole
validation window (calibration cross-fitted between its halves: `modeling.propensity.tournament`).
Figures: ROC and calibration of all candidates, the champion's decile lift, score histogram and
importance. Tables: candidates, calibration methods, deciles, importance.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from memberwise.modeling import evaluation
from memberwise.modeling.baselines import rfm_score
from memberwise.modeling.propensity.candidates import BGNBDScorer
from memberwise.modeling.propensity.tournament import Outcome, Split
from memberwise.modeling.scores import score_from_probability
from memberwise.tracking import log_figure, log_frame

TABLE_METRICS = ("auc", "auc_raw", "ece", "ece_adaptive", "brier", "logloss", "distinct_scores")


def candidate_metrics(table: pd.DataFrame) -> dict[str, float]:
    """`candidate_<name>_<metric>` for every candidate and metric."""
    return {
        f"candidate_{row['candidate']}_{metric}": float(row[metric])
        for _, row in table.iterrows()
        for metric in TABLE_METRICS
    }


def baselines(split: Split, bgnbd: BGNBDScorer) -> dict[str, np.ndarray]:
    """The classic scores on the validation window: the RFM heuristic and BG/NBD (fitted on training rows)."""
    validation, _ = split.validation()
    return {"RFM score": rfm_score(validation).to_numpy(), "BG/NBD": bgnbd.predict_raw(validation)}


def log_tournament(outcome: Outcome, split: Split, threshold: float, bgnbd: BGNBDScorer) -> dict[str, float]:
    """Log the candidates and the champion's evidence; return the metrics (also logged)."""
    y = outcome.labels
    champion = outcome.models[outcome.champion]
    probability = outcome.probability[outcome.champion]
    metrics = evaluation.classification_metrics(y, probability, threshold=threshold)
    row = outcome.table.set_index("candidate").loc[outcome.champion]
    metrics["val_auc"] = float(row["auc"])  # the served ranking's AUC (cross-fitting two maps blurs it)
    classic = baselines(split, bgnbd)
    metrics["baseline_rfm_auc"] = float(roc_auc_score(y, classic["RFM score"]))
    metrics["baseline_bgnbd_auc"] = float(roc_auc_score(y, classic["BG/NBD"]))
    metrics["holdout_base_rate"] = float(np.mean(y))
    metrics.update(candidate_metrics(outcome.table))
    mlflow.log_metrics(metrics)
    mlflow.set_tags(
        {"champion_candidate": outcome.champion, "eligible": ",".join(outcome.eligible) or "none"}
    )
    mlflow.log_text(outcome.why, "champion_reason.txt")
    log_frame(outcome.table.assign(champion=outcome.table["candidate"] == outcome.champion), "candidates")
    if outcome.calibration_tables:
        methods = [t.assign(candidate=name) for name, t in outcome.calibration_tables.items()]
        log_frame(pd.concat(methods, ignore_index=True), "calibration_methods")
    # Baseline scores are not probabilities; their percentile ranks draw the same ROC curve.
    ranked = {name: pd.Series(score).rank(pct=True).to_numpy() for name, score in classic.items()}
    log_figure(evaluation.roc_figure(y, {**outcome.probability, **ranked}), "roc")
    log_figure(evaluation.calibration_figure(y, outcome.probability), "calibration")
    deciles = evaluation.decile_table(y, probability)
    log_frame(deciles, "decile_table")
    log_figure(evaluation.decile_lift_figure(deciles), "decile_lift")
    scores = score_from_probability(probability)
    log_figure(evaluation.score_histogram_figure(scores, threshold), "score_histogram")
    importance = champion.importance()
    log_figure(evaluation.importance_figure(importance), "feature_importance")
    log_frame(importance.rename("importance").rename_axis("feature").reset_index(), "feature_importance")
    return metrics
