"""One score rule: halves round up, whichever path (model, pyfunc, snapshot, metrics) computes the score."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import memberwise
from memberwise.modeling.evaluation import threshold_metrics
from memberwise.modeling.propensity import PropensityModel, PropensityPyfunc
from memberwise.modeling.scores import score_from_probability
from memberwise.pipelines import score as score_pipeline

HALVES = np.array([0.285, 0.605, 0.005, 0.015, 0.575, 0.995, 0.145, 0.565])


def exact_score(p: float) -> int:
    """round(100 * p) half-up on the decimal the float prints as (the reading a person has of p)."""
    return int((Decimal(repr(float(p))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_hand_checked_values() -> None:
    scores = score_from_probability([0.605, 0.6049, 1.0, 0.0, 0.285, 0.004, 0.5, 0.295])
    assert scores.tolist() == [61, 60, 100, 0, 29, 0, 50, 30]
    assert scores.dtype == np.int64


def test_every_three_decimal_probability_rounds_half_up() -> None:
    # k/1000 for k = 0..1000: every printed half (x.5 after scaling) is in here, with its binary noise.
    p = np.arange(1001) / 1000
    assert score_from_probability(p).tolist() == [exact_score(v) for v in p]


def test_random_probabilities_match_exact_decimal_rounding() -> None:
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(0, 1, 20_000), np.round(rng.uniform(0, 1, 20_000), 4)])
    scores = score_from_probability(p)
    assert scores.tolist() == [exact_score(v) for v in p]
    assert np.all(np.abs(scores - 100 * p) <= 0.5 + 1e-9)
    order = np.argsort(p)
    assert np.all(np.diff(scores[order]) >= 0), "scores must not decrease as the probability grows"


@pytest.mark.parametrize("bad", [[np.nan], [np.inf], [-0.01], [1.01]])
def test_rejects_non_probabilities(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="probabilities"):
        score_from_probability(bad)


class FixedProbabilities(PropensityModel):
    """A PropensityModel whose calibrated probability is given, so every scoring path can be compared."""

    def __init__(self, probability: np.ndarray) -> None:
        super().__init__()
        self.probability = probability

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.probability[: len(features)]

    def reasons(self, features: pd.DataFrame, k: int = 3) -> list[list[str]]:
        return [[] for _ in range(len(features))]


def test_every_path_scores_a_half_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [exact_score(v) for v in HALVES]
    features = pd.DataFrame({"member_id": np.arange(len(HALVES)), "lifecycle_stage": "active"})
    features.attrs["new_window_days"] = 90  # as build_features records it
    model = FixedProbabilities(HALVES)

    assert model.score(features).tolist() == expected
    assert PropensityPyfunc(model).predict(None, features)["score"].tolist() == expected

    channels = pd.DataFrame({"preferred_channel": ["app"] * len(HALVES)})
    monkeypatch.setattr(score_pipeline, "preferred_channels", lambda wh, as_of: channels)
    snapshot = score_pipeline.score_members(None, date(2026, 1, 1), model, "1", 28, features=features)  # type: ignore[arg-type]
    assert snapshot["score"].tolist() == expected

    # p = 0.285 scores 29, so the threshold metrics select it at threshold 28 and not at 29.
    assert threshold_metrics([1], [0.285], threshold=28)["selected_share"] == 1.0
    assert threshold_metrics([1], [0.285], threshold=29)["selected_share"] == 0.0


def test_no_other_copy_of_the_rounding_rule() -> None:
    """Any module computing floor(100 * p + 0.5) itself would reintroduce a second rule."""
    copy = re.compile(r"floor\(\s*(np\.round\()?\s*100\s*\*")
    package = Path(memberwise.__file__).parent
    copies = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "scores.py" and copy.search(path.read_text(encoding="utf-8"))
    ]
    assert copies == []
