"""Evaluation metrics on hand-computed cases, and figures that render headless."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from memberwise.modeling.evaluation import (
    calibration_figure,
    classification_metrics,
    decile_lift_figure,
    decile_table,
    expected_calibration_error,
    importance_figure,
    lift_top_decile,
    population_stability_index,
    roc_figure,
    score_histogram_figure,
    threshold_metrics,
)
from memberwise.modeling.scores import score_from_probability


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 1, 200_000)
    return (rng.uniform(0, 1, p.size) < p).astype(int), p


def test_ece_hand_example() -> None:
    # Two bins: [0.1, 0.2, 0.3] has 1 positive vs 0.6 expected, [0.7, 0.9, 1.0] 2 vs 2.6: (0.4 + 0.6) / 6.
    y = [0, 0, 1, 1, 1, 0]
    p = [0.1, 0.2, 0.3, 0.7, 0.9, 1.0]
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(1 / 6)
    # One member per bin: gaps 0.1, 0.7, 0.2, 0.9.
    assert expected_calibration_error([0, 1, 1, 0], [0.1, 0.3, 0.8, 0.9]) == pytest.approx(1.9 / 4)


def test_ece_separates_calibrated_from_miscalibrated(synthetic) -> None:
    y, p = synthetic
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, p**2) > 0.15  # E|p - p^2| = 1/6
    assert expected_calibration_error(y, p, strategy="quantile") < 0.02
    assert expected_calibration_error(y, p**2, strategy="quantile") > 0.15


def test_adaptive_ece_hand_example_and_crowded_scores() -> None:
    # Two equal-count bins: [0.1, 0.2, 0.3] 1 positive vs 0.6 expected, [0.7, 0.9, 1.0] 2 vs 2.6.
    y = [0, 0, 1, 1, 1, 0]
    p = [0.1, 0.2, 0.3, 0.7, 0.9, 1.0]
    assert expected_calibration_error(y, p, n_bins=2, strategy="quantile") == pytest.approx(1 / 6)
    # Scores crowded in [0.40, 0.50): one equal-width bin hides a miscalibration that equal-count bins see
    # (members at 0.40 never buy, members at 0.49 always do; each bin's average is right by itself).
    crowded = np.r_[np.full(500, 0.40), np.full(500, 0.49)]
    outcome = np.r_[np.zeros(500), np.ones(500)]
    assert expected_calibration_error(outcome, crowded) == pytest.approx(0.055)
    assert expected_calibration_error(outcome, crowded, strategy="quantile") == pytest.approx(0.455)


def test_decile_table_hand_checked() -> None:
    # Rank r (0 = highest) has probability (19 - r) / 20; positives at ranks 0, 1, 2, 5, 19: base rate 0.25.
    ranks = np.random.default_rng(3).permutation(20)
    y = np.isin(ranks, [0, 1, 2, 5, 19])
    table = decile_table(pd.Series(y), (19 - ranks) / 20)
    assert list(table.columns) == [
        "decile",
        "members",
        "positives",
        "response_rate",
        "mean_probability",
        "lift",
        "cumulative_response_rate",
        "cumulative_lift",
        "cumulative_capture",
    ]
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["members"].tolist() == [2] * 10
    assert table["positives"].tolist() == [2, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert table["lift"].tolist() == pytest.approx([4, 2, 2, 0, 0, 0, 0, 0, 0, 2])
    assert table["mean_probability"].iloc[0] == pytest.approx(0.925)
    assert table["cumulative_lift"].iloc[1] == pytest.approx(3.0)  # 3 of 4 members vs 0.25
    assert table["cumulative_capture"].tolist() == pytest.approx([0.4, 0.6, 0.8] + [0.8] * 6 + [1.0])


def test_decile_table_breaks_ties_by_position_and_splits_unevenly() -> None:
    y = [1, 1] + [0] * 18
    assert decile_table(y, [0.5] * 20)["positives"].tolist() == [2] + [0] * 9
    sizes = decile_table([0, 1] * 12 + [1], np.linspace(0, 1, 25))["members"]
    assert sizes.sum() == 25 and set(sizes) == {2, 3}


def test_lift_top_decile_of_perfect_ranking() -> None:
    y = np.r_[np.ones(100), np.zeros(900)]
    assert lift_top_decile(y, np.where(y == 1, 0.9, 0.1)) == pytest.approx(10.0)


def test_threshold_metrics_hand_checked() -> None:
    # Scores 60, 61, 70, 90, 20, 30: the 60 is not selected, the 61 is.
    y = [1, 1, 0, 1, 1, 0]
    p = [0.60, 0.605, 0.70, 0.90, 0.20, 0.30]
    assert threshold_metrics(y, p) == pytest.approx(
        {"precision_at_threshold": 2 / 3, "recall_at_threshold": 0.5, "selected_share": 0.5}
    )
    assert threshold_metrics(y, p, threshold=59.5)["selected_share"] == pytest.approx(4 / 6)
    nobody = threshold_metrics(y, p, threshold=100)
    assert nobody == {"precision_at_threshold": 0.0, "recall_at_threshold": 0.0, "selected_share": 0.0}


def test_classification_metrics_names_and_auc(synthetic) -> None:
    y, p = synthetic
    metrics = classification_metrics(y, p)
    assert set(metrics) == {
        "val_auc",
        "val_pr_auc",
        "val_logloss",
        "val_brier",
        "val_ece",
        "val_ece_adaptive",
        "lift_top_decile",
        "precision_at_threshold",
        "recall_at_threshold",
        "selected_share",
    }
    assert metrics["val_auc"] == pytest.approx(roc_auc_score(y, p))
    assert all(isinstance(value, float) for value in metrics.values())
    assert "test_auc" in classification_metrics(y[:1000], p[:1000], prefix="test_")


@pytest.mark.parametrize(
    ("y_true", "y_prob", "message"),
    [
        ([0, 1, 1], [0.2, 0.8], "differ in shape"),
        ([0, 1], [0.2, 1.2], r"\[0, 1\]"),
        ([0, 1], [0.2, np.nan], "finite"),
        ([0, 2], [0.2, 0.8], "0/1"),
        ([], [], "non-empty"),
    ],
)
def test_invalid_inputs_are_rejected(y_true, y_prob, message) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_prob)


def test_psi() -> None:
    rng = np.random.default_rng(5)
    before = np.clip(rng.normal(40, 12, 5_000).round(), 0, 100)
    after = np.clip(rng.normal(60, 12, 5_000).round(), 0, 100)
    assert population_stability_index(before, before) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(before, after) > 0.25
    # Two bins split at 4.5: expected shares (0.5, 0.5), actual (0.75, 0.25) -> 0.25 ln 1.5 + 0.25 ln 2.
    assert population_stability_index(np.arange(10), [0, 0, 0, 9], bins=2) == pytest.approx(0.25 * np.log(3))


def _check_figure(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    assert fig.axes
    assert any(ax.get_title() for ax in fig.axes)
    fig.savefig(io.BytesIO(), format="png")  # renders without a display


def test_figures_render(synthetic) -> None:
    y, p = synthetic[0][:2_000], synthetic[1][:2_000]
    importance = pd.Series({"recency": 3.0, "frequency": 5.0, "monetary": 1.0}, name="gain")
    figures = [
        roc_figure(y, {"lightgbm": p, "random": np.full(p.size, 0.5)}),
        calibration_figure(y, p),
        decile_lift_figure(decile_table(y, p)),
        score_histogram_figure(score_from_probability(p)),
        importance_figure(importance, top=2),
    ]
    for fig in figures:
        _check_figure(fig)
    bars = figures[-1].axes[0].patches
    assert [bar.get_width() for bar in bars] == [3.0, 5.0]  # drawn bottom-up: largest at the top
