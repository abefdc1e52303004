"""Evaluation of the repurchase-propensity classifier: ranking, calibration, targeting and drift.

The model's calibrated probability p becomes a marketer's score (modeling.scores), and members scoring above
a threshold (60 by default) are selected for a campaign. So besides AUC the model is judged on what the
campaign sees: calibration (ECE), lift by decile, precision and recall at the threshold, and the stability
of the score distribution over time (PSI). Pure functions, no I/O; figures are plain matplotlib Figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from memberwise.modeling.scores import score_from_probability

ArrayLike: TypeAlias = Sequence[float] | np.ndarray | pd.Series

PSI_SHARE_FLOOR = 1e-4  # stands in for an empty bin, so ln(a/e) stays finite


def _finite(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def _probabilities(y_prob: ArrayLike) -> np.ndarray:
    p = _finite(y_prob, "y_prob")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"y_prob must lie in [0, 1], got values in [{p.min():g}, {p.max():g}]")
    return p


def _labels_and_probabilities(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y_true), _probabilities(y_prob)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_prob differ in shape: {y.shape} vs {p.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must be boolean or 0/1")
    return y.astype("int64"), p


def _calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """Count, sum of outcomes and sum of probabilities per equal-width bin on [0, 1] (last bin closed)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    # Rounding first puts a probability on an edge (100 * 0.57 = 56.999...) in the bin it opens.
    bins = np.minimum(np.floor(np.round(p * n_bins, 9)).astype("int64"), n_bins - 1)
    return tuple(np.bincount(bins, weights=w, minlength=n_bins) for w in (None, y, p))


def _quantile_bins(y: np.ndarray, p: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """The same sums over equal-count bins of the sorted probabilities (ties kept together)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1))[1:-1])
    bins = np.searchsorted(edges, p, side="right")
    return tuple(np.bincount(bins, weights=w, minlength=len(edges) + 1) for w in (None, y, p))


def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """Count-weighted mean gap |observed rate - mean probability| over probability bins.

    Marketers read a score of 70 as "70% will buy again"; ECE says how far off that reading is on average.
    `uniform` bins are equal-width on [0, 1]; `quantile` (adaptive) bins hold equal counts of members, so
    a model whose scores crowd into a few bins is still judged where its members are.
    """
    y, p = _labels_and_probabilities(y_true, y_prob)
    bins = _quantile_bins if strategy == "quantile" else _calibration_bins
    _, positives, probability_mass = bins(y, p, n_bins)
    # (count / n) * |mean(y) - mean(p)| per bin is |sum(y) - sum(p)| / n.
    return float(np.abs(positives - probability_mass).sum() / len(y))


def decile_table(y_true: ArrayLike, y_prob: ArrayLike) -> pd.DataFrame:
    """Response, lift and capture by equal-count decile of predicted probability (decile 1 = highest).

    Ties keep their original order, so the table is reproducible; when n is not a multiple of 10, decile
    sizes differ by at most one.
    """
    y, p = _labels_and_probabilities(y_true, y_prob)
    if len(y) < 10:
        raise ValueError(f"a decile table needs at least 10 members, got {len(y)}")
    order = np.argsort(-p, kind="stable")
    ranked = pd.DataFrame({"decile": np.arange(len(y)) * 10 // len(y) + 1, "y": y[order], "p": p[order]})
    table = ranked.groupby("decile").agg(
        members=("y", "size"), positives=("y", "sum"), mean_probability=("p", "mean")
    )
    overall_rate = y.mean()
    cumulative_positives = table["positives"].cumsum()
    table["response_rate"] = table["positives"] / table["members"]
    table["lift"] = table["response_rate"] / overall_rate
    table["cumulative_response_rate"] = cumulative_positives / table["members"].cumsum()
    table["cumulative_lift"] = table["cumulative_response_rate"] / overall_rate
    table["cumulative_capture"] = cumulative_positives / y.sum()
    columns = ["members", "positives", "response_rate", "mean_probability", "lift"]
    columns += ["cumulative_response_rate", "cumulative_lift", "cumulative_capture"]
    return table[columns].reset_index()


def lift_top_decile(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """How many times the base rate the top-scored tenth of members responds."""
    return float(decile_table(y_true, y_prob)["lift"].iloc[0])


def threshold_metrics(y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 60) -> dict[str, float]:
    """Precision, recall and share selected when members scoring strictly above `threshold` are targeted.

    Precision is 0.0 when nobody is selected, recall 0.0 when there are no positives.
    """
    y, p = _labels_and_probabilities(y_true, y_prob)
    selected = score_from_probability(p) > threshold
    hits = int((y[selected] == 1).sum())
    return {
        "precision_at_threshold": float(hits / selected.sum()) if selected.any() else 0.0,
        "recall_at_threshold": float(hits / y.sum()) if y.any() else 0.0,
        "selected_share": float(selected.mean()),
    }


def classification_metrics(
    y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 60, prefix: str = "val_"
) -> dict[str, float]:
    """Ranking, probability-quality and targeting metrics under the names logged to MLflow.

    The five generic metrics carry `prefix` (one per split); lift and threshold metrics do not.
    """
    y, p = _labels_and_probabilities(y_true, y_prob)
    metrics = {
        f"{prefix}auc": float(roc_auc_score(y, p)),
        f"{prefix}pr_auc": float(average_precision_score(y, p)),
        f"{prefix}logloss": float(log_loss(y, p, labels=[0, 1])),
        f"{prefix}brier": float(brier_score_loss(y, p)),
        f"{prefix}ece": expected_calibration_error(y, p),
        f"{prefix}ece_adaptive": expected_calibration_error(y, p, strategy="quantile"),
        "lift_top_decile": lift_top_decile(y, p),
    }
    return metrics | threshold_metrics(y, p, threshold)


def population_stability_index(expected_scores: ArrayLike, actual_scores: ArrayLike, bins: int = 10) -> float:
    """PSI = sum((a - e) * ln(a / e)) over bins cut at the quantiles of `expected_scores`.

    Conventional reading: < 0.1 stable, 0.1-0.25 worth a look, > 0.25 the population has shifted. Repeated
    quantiles (common with integer scores) are merged and the outer bins are open, so every score counts.
    """
    expected = _finite(expected_scores, "expected_scores")
    actual = _finite(actual_scores, "actual_scores")
    inner_edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))[1:-1]

    def shares(values: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(inner_edges, values), minlength=len(inner_edges) + 1)
        return np.maximum(counts / len(values), PSI_SHARE_FLOOR)

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


# Figures are built on matplotlib.figure.Figure rather than pyplot: no backend or global figure registry is
# involved, so they render headless (CI, servers, MLflow's log_figure) and are freed when dropped.


def roc_figure(y_true: ArrayLike, probabilities: dict[str, ArrayLike]) -> Figure:
    """ROC curve of each named model against the chance diagonal, AUC in the legend."""
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    for name, y_prob in probabilities.items():
        y, p = _labels_and_probabilities(y_true, y_prob)
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC = {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(
    y_true: ArrayLike, y_prob: ArrayLike | dict[str, ArrayLike], n_bins: int = 10
) -> Figure:
    """Reliability diagram of each named model above a histogram of the first one's predictions.

    Observed rate vs mean probability per equal-count bin, so crowded scores are drawn where members are.
    """
    models = y_prob if isinstance(y_prob, dict) else {"model": y_prob}
    fig = Figure(figsize=(6, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, values in models.items():
        y, p = _labels_and_probabilities(y_true, values)
        counts, positives, probability_mass = _quantile_bins(y, p, n_bins)
        filled = counts > 0
        top.plot(
            probability_mass[filled] / counts[filled],
            positives[filled] / counts[filled],
            marker="o",
            label=f"{name} (ECE = {expected_calibration_error(y, p, n_bins):.3f})",
        )
    top.set(ylabel="Observed repurchase rate", ylim=(0, 1), title="Calibration (equal-count bins)")
    top.legend(loc="upper left", fontsize="small")
    p = _probabilities(next(iter(models.values())))
    bottom.hist(p, bins=n_bins, range=(0, 1), color="grey")
    bottom.set(xlabel="Predicted probability", ylabel="Members", xlim=(0, 1))
    return fig


def decile_lift_figure(table: pd.DataFrame) -> Figure:
    """Lift per decile as bars, cumulative share of positives captured as a line (right axis)."""
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    ax.bar(table["decile"], table["lift"], label="lift")
    ax.axhline(1.0, linestyle="--", color="grey", label="no model")
    ax.set(
        xlabel="Decile (1 = highest scores)", ylabel="Lift", title="Lift by decile", xticks=table["decile"]
    )
    capture = ax.twinx()
    capture.plot(
        table["decile"], table["cumulative_capture"], marker="o", color="C1", label="cumulative capture"
    )
    capture.set(ylabel="Share of repurchasers captured", ylim=(0, 1.05))
    capture.yaxis.set_major_formatter(PercentFormatter(1.0))
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = capture.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, loc="center right")
    return fig


def score_histogram_figure(scores: ArrayLike, threshold: float = 60) -> Figure:
    """Histogram of 0-100 scores, one bar per score, with the selection threshold and share selected."""
    values = _finite(scores, "scores")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.hist(values, bins=101, range=(-0.5, 100.5), color="grey")
    ax.axvline(
        threshold,
        color="C3",
        linestyle="--",
        label=f"threshold {threshold:g}: {(values > threshold).mean():.1%} selected",
    )
    ax.set(xlabel="Score (0-100)", ylabel="Members", title="Score distribution", xlim=(-0.5, 100.5))
    ax.legend(loc="upper right")
    return fig


def importance_figure(importance: pd.Series, top: int = 20) -> Figure:
    """Horizontal bars of the `top` most important features, largest at the top."""
    shown = importance.sort_values(ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(7, 0.3 * len(shown) + 1.5), layout="constrained")
    ax = fig.subplots()
    ax.barh(shown.index.astype(str), shown.to_numpy())
    ax.set(xlabel=str(importance.name or "importance"), ylabel="Feature", title=f"Top {len(shown)} features")
    return fig
