"""The X-learner recovers a planted effect that differs by member; the Qini curve on a hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.uplift import XLearner, incremental_at, qini_coefficient, qini_curve


def test_qini_curve_by_hand() -> None:
    """Rows in score order. At k=4: 1 treated conversion - 1 control conversion x 2 treated / 2 control."""
    treated = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    y = np.array([1, 0, 0, 1, 1, 0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    curve = qini_curve(y, treated, score)
    assert curve["incremental"].tolist() == pytest.approx([0, 1, 1, 1, 0, 0.5, 1])
    assert curve["share"].tolist() == pytest.approx([k / 6 for k in range(7)])
    # curve - chord = [0, 5/6, 4/6, 3/6, -4/6, -2/6, 0]; trapezoids sum to 1; scaled by 1/6 (y) and 1/6 (dx)
    assert qini_coefficient(curve) == pytest.approx(1 / 36)
    assert incremental_at(curve, 0.5) == pytest.approx(1.0)
    assert incremental_at(curve, 0.2) == pytest.approx(1.0)  # the first ceil(1.2) = 2 rows


def _experiment(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """85% treated. Frequent buyers convert anyway (no effect), coupon users gain 0.25, app users lose."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "frequency": rng.gamma(2.0, 2.0, n),
            "coupon_share": rng.uniform(0, 1, n),
            "channel": pd.Categorical(rng.choice(["app", "pos", "tmall"], n)),
        }
    )
    base = np.clip(0.05 + 0.06 * X["frequency"].to_numpy(), 0, 0.9)
    effect = np.where(X["coupon_share"] > 0.6, 0.25, 0.04) - np.where(X["channel"] == "app", 0.08, 0.0)
    effect = np.where(X["frequency"] > 8, 0.0, effect)
    treated = rng.random(n) < 0.85
    y = (rng.random(n) < np.clip(base + treated * effect, 0, 1)).astype(float)
    return X, treated, y, effect


def test_x_learner_recovers_the_planted_effects_and_beats_ranking_by_outcome() -> None:
    X, treated, y, _ = _experiment(30_000, seed=1)
    model = XLearner(seed=0).fit(X, treated, y)
    X_new, treated_new, y_new, effect = _experiment(20_000, seed=2)
    predicted = model.predict(X_new)
    assert np.corrcoef(predicted, effect)[0, 1] > 0.7
    by_uplift = qini_coefficient(qini_curve(y_new, treated_new, predicted))
    by_outcome = qini_coefficient(qini_curve(y_new, treated_new, model.predict_outcome(X_new)))
    assert by_uplift > max(by_outcome, 0.0) + 0.005
    assert qini_coefficient(qini_curve(y_new, treated_new, -effect)) < 0  # the worst first: below random
    top = np.argsort(-predicted)[: len(predicted) // 5]
    assert effect[top].mean() > 2 * effect.mean()  # planted truth, not just the noisy Qini


def test_unseen_category_and_column_order_are_handled() -> None:
    X, treated, y, _ = _experiment(3_000, seed=3)
    model = XLearner(params={"n_estimators": 20}).fit(X, treated, y)
    odd = X.iloc[:5][["channel", "coupon_share", "frequency"]].assign(channel=["jd", "app", "pos", "jd", "x"])
    assert np.isfinite(model.predict(odd)).all()


def test_needs_both_groups_and_a_binary_outcome() -> None:
    X, treated, y, _ = _experiment(500, seed=4)
    with pytest.raises(ValueError, match="both treated and control"):
        XLearner().fit(X, np.ones(len(X), dtype=bool), y)
    with pytest.raises(ValueError, match="0/1"):
        XLearner().fit(X, treated, y * 3)
