"""BG/NBD: recovers the parameters it was simulated with, and its outputs behave."""

from __future__ import annotations

import numpy as np
import pytest

from memberwise.modeling.baselines import BGNBD, BGNBDParams, bgnbd_log_likelihood, simulate_bgnbd

TRUTH = BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # close to the CDNOW estimates of the paper


@pytest.fixture(scope="module")
def customers():
    ages = np.random.default_rng(1).uniform(30, 78, 8_000)  # weeks observed since first purchase
    return simulate_bgnbd(8_000, TRUTH, ages, seed=2)


def test_recovers_simulated_parameters(customers) -> None:
    model = BGNBD().fit(customers["frequency"], customers["recency"], customers["T"])
    assert model.converged_
    for name in ("r", "alpha", "a", "b"):
        got, want = getattr(model.params_, name), getattr(TRUTH, name)
        assert got == pytest.approx(want, rel=0.25), name
    at_truth = bgnbd_log_likelihood(
        TRUTH, customers["frequency"], customers["recency"], customers["T"]
    ).mean()
    assert model.mean_log_likelihood_ >= at_truth - 1e-9  # the optimum is at least as likely as the truth


def test_p_alive_and_expected_purchases_behave(customers) -> None:
    model = BGNBD().fit(customers["frequency"], customers["recency"], customers["T"])
    p_alive = model.p_alive(customers["frequency"], customers["recency"], customers["T"])
    assert np.all((p_alive > 0) & (p_alive <= 1))
    assert np.all(p_alive[customers["frequency"].to_numpy() == 0] == 1.0)
    # Same frequency and age: the customer who bought recently is more likely alive.
    recent, stale = model.p_alive([3, 3], [50, 5], [52, 52])
    assert recent > stale
    expected = model.expected_purchases(26, customers["frequency"], customers["recency"], customers["T"])
    assert np.all(expected >= 0)
    # Expected purchases rank customers by their true (simulated) rate among the still-alive.
    alive_truth = p_alive > 0.5
    corr = np.corrcoef(expected[alive_truth], customers["rate"].to_numpy()[alive_truth])[0, 1]
    assert corr > 0.5


def test_rejects_impossible_histories() -> None:
    with pytest.raises(ValueError, match="recency"):
        BGNBD().fit([1, 2], [10, 30], [20, 20])


def test_expected_purchases_matches_simulation_for_a_new_customer() -> None:
    model = BGNBD()
    model.params_ = TRUTH
    simulated = simulate_bgnbd(40_000, TRUTH, 52.0, seed=3)["frequency"].mean()
    predicted = model.expected_purchases(52.0, [0.0], [0.0], [0.0])[0]
    assert predicted == pytest.approx(simulated, rel=0.05)


def test_inputs_from_the_feature_table() -> None:
    import pandas as pd

    from memberwise.modeling.baselines import bgnbd_inputs, rfm_score

    features = pd.DataFrame(
        {
            "orders_total": [3, 1, 0],
            "days_since_first_purchase": [70.0, 14.0, None],
            "days_since_last_purchase": [7.0, 14.0, None],
            "r_score": [5, 2, None],
            "f_score": [4, 1, None],
            "m_score": [3, 1, None],
        }
    )
    inputs = bgnbd_inputs(features)
    assert inputs.to_dict("list") == {
        "frequency": [2.0, 0.0, 0.0],
        "recency": [9.0, 0.0, 0.0],
        "T": [10.0, 2.0, 0.0],
    }
    assert rfm_score(features).tolist() == [12.0, 4.0, 0.0]


def test_bgnbd_ranks_demo_members_by_repurchase(demo_brand) -> None:
    from sklearn.metrics import roc_auc_score

    from memberwise.features import build_features, repurchase_labels
    from memberwise.modeling.baselines import bgnbd_inputs
    from memberwise.pipelines.prepare import prepare
    from memberwise.settings import Settings

    wh = prepare(demo_brand, Settings(snapshot_date="2026-11-15")).warehouse
    features = build_features(wh, "2026-08-17")
    labels = repurchase_labels(wh, "2026-08-17", 90)
    inputs = bgnbd_inputs(features)
    model = BGNBD().fit(inputs["frequency"], inputs["recency"], inputs["T"])
    score = model.expected_purchases(90 / 7, inputs["frequency"], inputs["recency"], inputs["T"])
    assert roc_auc_score(labels["repurchased"].astype(bool), score) > 0.8


def test_p_any_purchase_matches_simulation() -> None:
    """The closed form's P(at least one purchase in 13 weeks) agrees with simulated futures, per group."""
    model = BGNBD()
    model.params_ = TRUTH
    ages = np.random.default_rng(4).uniform(20, 60, 60_000)
    sim = simulate_bgnbd(60_000, TRUTH, ages, seed=5, horizon=13.0)
    p = model.p_any_purchase(13.0, sim["frequency"], sim["recency"], sim["T"])
    assert np.all((p >= 0) & (p <= 1))
    bought = (sim["future"] > 0).to_numpy()
    assert p.mean() == pytest.approx(bought.mean(), abs=0.006)
    groups = np.digitize(p, np.quantile(p, [0.25, 0.5, 0.75]))
    for g in range(4):
        assert p[groups == g].mean() == pytest.approx(bought[groups == g].mean(), abs=0.015), g
    # Never more likely than one purchase being expected would allow, and 0 for a horizon of 0.
    expected = model.expected_purchases(13.0, sim["frequency"], sim["recency"], sim["T"])
    assert np.all(p <= expected + 1e-9)
    assert np.allclose(model.p_any_purchase(0.0, [2.0], [10.0], [30.0]), 0.0)
