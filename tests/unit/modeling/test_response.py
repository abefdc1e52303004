"""Response estimation on synthetic touches with a known additive uplift: shrinkage, intervals, Hillstrom."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.response import CELL, arm_differences, estimate_cells, estimate_tiers, hillstrom_arms

AUDIENCE_EFFECT = {"a1": 0.02, "a2": 0.06}
COMM_EFFECT = {"sms": 0.0, "wecom": 0.04, "app_push": 0.01}


def _truth(audience: str, communication: str) -> float:
    return AUDIENCE_EFFECT[audience] + COMM_EFFECT[communication]


def _touches(sizes: dict[tuple[str, str], int], seed: int = 0, base: float = 0.1) -> pd.DataFrame:
    """Two campaigns per cell, 80% treated; conversion = base (+ the cell's uplift when treated)."""
    rng = np.random.default_rng(seed)
    parts = []
    for (audience, comm), n in sizes.items():
        for campaign in range(2):
            treated = rng.random(n) < 0.8
            p = base + treated * _truth(audience, comm)
            converted = (rng.random(n) < p).astype(float)
            parts.append(
                pd.DataFrame(
                    {
                        "campaign_id": f"{audience}-{comm}-{campaign}",
                        "audience": audience,
                        "delivery": "private_domain",
                        "promotion": "none",
                        "communication": comm,
                        "activity": "member_day",
                        "group": np.where(treated, "treatment", "control"),
                        "converted": converted,
                        "orders": converted,
                        "revenue": converted * 100.0,
                        "tier": rng.choice(["T01", "T02"], n),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


SIZES = {
    ("a1", "sms"): 40_000,
    ("a1", "wecom"): 40_000,
    ("a2", "sms"): 40_000,
    ("a2", "app_push"): 40_000,
    ("a1", "app_push"): 300,
}
GRID = pd.DataFrame(
    [(a, "private_domain", "none", c, "member_day") for a in AUDIENCE_EFFECT for c in COMM_EFFECT],
    columns=list(CELL),
)


@pytest.fixture(scope="module")
def estimates() -> pd.DataFrame:
    return estimate_cells(_touches(SIZES, seed=2), GRID).set_index(["audience", "communication"])


def test_big_cells_keep_their_own_estimate(estimates: pd.DataFrame) -> None:
    big = estimates.loc[("a1", "wecom")]
    assert big["converted_weight"] > 0.5 or abs(big["converted_uplift"] - big["converted_raw"]) < 0.005
    assert big["converted_uplift"] == pytest.approx(_truth("a1", "wecom"), abs=0.01)


def test_sparse_cell_is_pulled_toward_audience_and_strategy_means(estimates: pd.DataFrame) -> None:
    small, big = estimates.loc[("a1", "app_push")], estimates.loc[("a2", "app_push")]
    assert small["converted_weight"] < big["converted_weight"]
    truth = _truth("a1", "app_push")
    assert abs(small["converted_uplift"] - truth) < abs(small["converted_raw"] - truth) + 1e-9
    assert small["converted_uplift"] == pytest.approx(truth, abs=0.015)


def test_unseen_cell_gets_the_additive_prior_with_a_wider_interval(estimates: pd.DataFrame) -> None:
    unseen = estimates.loc[("a2", "wecom")]  # never tried: a2's and wecom's effects are known elsewhere
    assert unseen["source"] == "prior" and np.isnan(unseen["converted_raw"])
    assert unseen["converted_uplift"] == pytest.approx(_truth("a2", "wecom"), abs=0.015)
    assert unseen["converted_lo"] <= _truth("a2", "wecom") <= unseen["converted_hi"]
    assert unseen["converted_se"] > estimates.loc[("a1", "wecom"), "converted_se"]


def test_intervals_cover_the_truth_over_seeds() -> None:
    hits = []
    for seed in range(20):
        est = estimate_cells(_touches({("a1", "sms"): 3000, ("a1", "wecom"): 3000}, seed), GRID.head(2))
        for row in est.itertuples():
            truth = _truth(row.audience, row.communication)
            hits.append(row.converted_lo <= truth <= row.converted_hi)
    assert np.mean(hits) >= 0.8  # nominal 90%


def test_tiers_without_a_tier_effect_shrink_to_the_cell() -> None:
    frame = _touches({("a1", "sms"): 4000, ("a1", "wecom"): 4000, ("a2", "sms"): 4000}, seed=3)
    cells = estimate_cells(frame, GRID)
    wanted = cells.merge(pd.DataFrame({"tier": ["T01", "T02"]}), how="cross")
    tiers = estimate_tiers(frame, wanted)
    seen = tiers[tiers["source"] == "observed"]
    cell = seen["converted_cell_uplift"]
    assert np.abs(seen["converted_uplift"] - cell).max() <= np.abs(seen["converted_raw"] - cell).max() + 1e-12
    unseen = tiers[tiers["source"] == "cell"]
    assert np.allclose(unseen["converted_uplift"], unseen["converted_cell_uplift"])


def test_arm_differences_stratify_by_campaign() -> None:
    """Two campaigns with different treatment shares and baselines: pooling arms naively would be biased."""
    rows = []
    for campaign, share, base in (("c1", 0.9, 0.5), ("c2", 0.1, 0.0)):
        n = 10_000
        treated = np.arange(n) < share * n
        rows.append(
            pd.DataFrame(
                {
                    "campaign_id": campaign,
                    "k": "x",
                    "group": np.where(treated, "treatment", "control"),
                    "y": base + 0.1 * treated,
                }
            )
        )
    diffs = arm_differences(pd.concat(rows), ["k"], ["y"])
    assert np.allclose(diffs["y_uplift"], 0.1)


def test_hillstrom_arms_on_a_tiny_frame() -> None:
    frame = pd.DataFrame(
        {
            "segment": ["Mens E-Mail"] * 4 + ["Womens E-Mail"] * 4 + ["No E-Mail"] * 4,
            "visit": [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
            "conversion": [1, 0, 0, 0] * 3,
            "spend": [10.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    )
    arms = hillstrom_arms(frame).set_index("arm")
    assert arms.loc["Mens E-Mail", "visit"] == pytest.approx(0.5 - 0.25)
    assert arms.loc["Womens E-Mail", "spend"] == pytest.approx(0.0)
    assert arms.loc["Mens E-Mail", "spend"] == pytest.approx(2.5)
