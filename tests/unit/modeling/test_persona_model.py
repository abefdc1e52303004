"""Persona model pieces with hand-made inputs: choosing k, naming, config validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import adjusted_rand_score

from memberwise.config import PersonasConfig
from memberwise.modeling.personas import INPUT_FEATURES, PersonaModel, _distinct_name, choose_k


def test_choose_k_prefers_the_largest_stable_k_near_the_best_silhouette() -> None:
    table = pd.DataFrame(
        {"k": [3, 4, 5, 6], "silhouette": [0.40, 0.45, 0.447, 0.50], "stability": [0.99, 0.95, 0.9, 0.5]}
    )
    assert choose_k(table, min_stability=0.8, tolerance=0.02) == 5  # 6 is unstable; 5 is within 2% of 4
    assert choose_k(table, min_stability=0.8, tolerance=0.0) == 4
    assert choose_k(table, min_stability=0.999, tolerance=0.0) == 6  # none stable: best silhouette


def test_names_stay_distinct_when_labels_collide() -> None:
    taken = ["Gift buyers · Premium baskets"]
    assert _distinct_name(["Gift buyers", "Premium baskets", "Store shoppers"], taken, 1) == (
        "Gift buyers · Premium baskets · Store shoppers"
    )
    assert _distinct_name(["Gift buyers", "Premium baskets"], taken, 1) == "Gift buyers · Premium baskets (2)"
    assert _distinct_name([], [], 0) == "Typical buyers"
    # The same labels in another order are the same persona to a reader.
    assert _distinct_name(["Premium baskets", "Gift buyers"], taken, 1) == "Premium baskets · Gift buyers (2)"


def _planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Three planted behaviours: app regulars, store gift buyers, marketplace deal hunters."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    frame = pd.DataFrame(0.0, index=range(n), columns=list(INPUT_FEATURES))
    frame["avg_order_value"] = rng.lognormal(np.log(np.array([250, 650, 120]))[truth], 0.3)
    frame["orders_365d"] = rng.poisson(np.array([8, 4, 6])[truth]) + 1
    frame["coupon_order_share_365d"] = np.clip(rng.normal(np.array([0.1, 0.05, 0.9])[truth], 0.1), 0, 1)
    frame["gift_order_share_365d"] = np.clip(rng.normal(np.array([0.05, 0.7, 0.05])[truth], 0.1), 0, 1)
    frame.loc[truth == 0, "spend_share_app_365d"] = 1.0
    frame.loc[truth == 1, "spend_share_pos_365d"] = 1.0
    frame.loc[truth == 2, "spend_share_tmall_365d"] = 1.0
    frame["revenue_365d"] = frame["avg_order_value"] * frame["orders_365d"]
    return frame, truth


def test_recovers_planted_clusters_and_names_them() -> None:
    frame, truth = _planted(3_000, seed=1)
    model = PersonaModel(k_min=2, k_max=6).fit(frame)
    assert model.k_ == 3
    assert adjusted_rand_score(truth, model.predict(frame).to_numpy(dtype=int)) > 0.95
    names = " / ".join(model.personas_["name"])
    assert "Gift buyers" in names and "Deal hunters" in names and "App & WeChat" in names


def test_too_few_buyers_is_a_clear_error() -> None:
    frame, _ = _planted(30, seed=2)
    with pytest.raises(ValueError, match="too few recent buyers"):
        PersonaModel().fit(frame)


def test_config_and_model_reject_an_empty_k_range() -> None:
    with pytest.raises(ValidationError, match="k_min"):
        PersonasConfig(k_min=6, k_max=4)
    with pytest.raises(ValueError, match="k_min"):
        PersonaModel(k_min=6, k_max=4)


def test_the_pipeline_passes_every_config_field_as_a_plain_parameter() -> None:
    cfg = PersonasConfig(k_min=2, k_max=5, seed=7, sample=300)
    model = PersonaModel(**cfg.model_dump(exclude={"gate"}))
    assert (model.k_min, model.k_max, model.seed, model.sample) == (2, 5, 7, 300)


def test_descriptions_skip_behaviours_that_never_vary() -> None:
    frame, _ = _planted(3_000, seed=3)
    frame["gift_order_share_365d"] = 0.0  # a shop that records no gifts
    model = PersonaModel(k_min=2, k_max=6).fit(frame)
    assert not any("gift" in d.lower() for d in model.personas_["description"])
    assert all("orders a year" in d or "order a year" in d for d in model.personas_["description"])
