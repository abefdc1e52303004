"""Budget allocation on a seeded demo brand: response recovery vs the planted uplift, the logged run, members.

Error bounds: the demo brand (60k people, 240 campaigns) leaves a median of ~180 control touches per
observed cell, so one cell's raw uplift has a standard error about as large as the uplift itself (~0.03
orders per contact). Per-cell bounds would be noise; the tests bound what the estimator promises instead:
estimates that track the truth across cells (correlation), shrinkage that cuts the raw error, and a pooled
mean uplift within 3 standard errors of the planted one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memberwise.config import load_budget_config
from memberwise.data.demo import DemoConfig, generate, uplift_table
from memberwise.errors import MemberwiseError
from memberwise.modeling.response import CELL, estimate_cells
from memberwise.pipelines.budget import allocate, response_frame
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS
from memberwise.tracking import configure
from tests.conftest import fresh_settings

AS_OF = date(2026, 11, 16)
CATALOG = Path(__file__).parents[2] / "experiments" / "strategies.yaml"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "budget-home")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, settings: Settings):  # noqa: ANN201
    out = tmp_path_factory.mktemp("budget-brand")
    generate(DemoConfig(members=60_000, seed=21, campaigns=240), out)
    return prepare(out, settings)


@pytest.fixture(scope="module")
def scores(prepared) -> pd.DataFrame:  # noqa: ANN001
    """Seeded member scores, so tiers and member lists come from them, as in a retrain's planning step."""
    ids = prepared.warehouse.df("SELECT member_id FROM members ORDER BY member_id")["member_id"]
    scores = np.random.default_rng(0).integers(0, 101, len(ids))
    frame = pd.DataFrame(
        {
            "member_id": ids,
            "score": scores,
            "probability": scores / 100,
            "selected": scores > 60,
            "lifecycle_stage": "active",
            "preferred_channel": "app",
            "reasons": [[]] * len(ids),
            "model_version": "1",
        }
    )
    return frame.assign(**{c: None for c in SCORE_COLUMNS if c not in frame.columns})  # e.g. personas


@pytest.fixture(scope="module")
def recovered(prepared) -> pd.DataFrame:  # noqa: ANN001
    truth = uplift_table()
    estimates = estimate_cells(response_frame(prepared.warehouse, 14, AS_OF), truth[list(CELL)])
    return estimates.merge(truth, on=list(CELL))


def _mae(a: pd.Series, b: pd.Series) -> float:
    return float(np.mean(np.abs(a - b)))


def test_incremental_orders_recover_the_planted_uplift(recovered: pd.DataFrame) -> None:
    seen = recovered[recovered["source"] == "observed"]
    truth = seen["incremental_orders_per_contact"]
    assert len(seen) >= 150
    assert np.corrcoef(seen["orders_uplift"], truth)[0, 1] >= 0.65
    assert _mae(seen["orders_uplift"], truth) <= 0.7 * _mae(seen["orders_raw"], truth)
    assert _mae(seen["orders_uplift"], truth) <= 0.025
    weight = seen["n_t"] * seen["n_c"] / (seen["n_t"] + seen["n_c"])
    pooled = np.average(seen["orders_raw"], weights=weight)
    pooled_se = np.sqrt(np.sum(weight**2 * seen["orders_raw_se"] ** 2)) / weight.sum()
    assert abs(pooled - np.average(truth, weights=weight)) <= 3 * pooled_se


def test_incremental_revenue_and_unseen_cells(recovered: pd.DataFrame) -> None:
    seen = recovered[recovered["source"] == "observed"]
    truth = seen["incremental_revenue_per_contact"]
    assert np.corrcoef(seen["revenue_uplift"], truth)[0, 1] >= 0.3
    assert _mae(seen["revenue_uplift"], truth) <= 0.6 * _mae(seen["revenue_raw"], truth)
    unseen = recovered[recovered["source"] == "prior"]  # never tried: the additive prior alone
    assert np.corrcoef(unseen["orders_uplift"], unseen["incremental_orders_per_contact"])[0, 1] >= 0.6
    assert unseen["orders_se"].median() > seen["orders_se"].median()  # less known, wider


def test_allocate_logs_a_run_and_respects_fatigue(prepared, settings: Settings, scores) -> None:  # noqa: ANN001
    cfg = load_budget_config(CATALOG)
    run = allocate(prepared.warehouse, settings, 50_000, config=cfg, as_of=AS_OF, scores=scores)
    result = run.allocation
    assert result.status == "optimal" and run.tiers > 1
    assert result.totals["spend"] <= 50_000 * (1 + 1e-9)
    assert result.totals["incremental_revenue"] >= cfg.min_roi * result.totals["spend"]
    deep = result.plan.loc[result.plan["promotion"] == "deep_discount", "spend"].sum()
    assert deep <= 60_000 + 1e-6
    touches = run.contacts.groupby("member_id").size()
    assert touches.max() <= cfg.fatigue_k
    assert not run.contacts.duplicated(
        ["member_id", "delivery", "promotion", "communication", "activity"]
    ).any()
    planned = result.plan["contacts"].apply(np.floor).sum()
    assert len(run.contacts) == pytest.approx(planned, abs=len(result.plan))
    assert not (
        run.contacts["activity"].isin(["member_day", "points_redemption"])
        & run.contacts["audience"].isin(["new_customer", "returning_customer"])
    ).any()
    client = configure(settings)
    logged = client.get_run(run.run_id)
    assert {"expected_incremental_revenue", "roi", "spend", "budget_shadow_price"} <= set(logged.data.metrics)
    assert {"trigger", "code_version", "data_fingerprint", "as_of"} <= set(logged.data.tags)
    artifacts = {a.path for a in client.list_artifacts(run.run_id, "figures")}
    assert artifacts == {"figures/spend_by_audience_strategy.png", "figures/marginal_value_of_budget.png"}
    tables = {a.path for a in client.list_artifacts(run.run_id, "tables")}
    assert {"tables/responses.csv", "tables/plan.csv", "tables/shadow_prices.csv"} <= tables
    assert (run.curve["incremental_revenue"].diff().dropna() >= -1e-6).all()  # up to the LP's tolerance


def test_close_gap_and_overrides(prepared, settings: Settings) -> None:  # noqa: ANN001
    cfg = load_budget_config(CATALOG)
    run = allocate(
        prepared.warehouse,
        settings,
        10,
        mode="close-gap",
        gap_target=500_000,
        config=cfg,
        overrides={"fatigue_k": 1},
        as_of=AS_OF,
    )
    result = run.allocation
    assert result.status == "infeasible" and result.missing_budget is not None
    assert result.missing_budget == pytest.approx(result.totals["spend"] - 10)
    assert run.contacts.groupby("member_id").size().max() == 1
    with pytest.raises(MemberwiseError, match="capacities.app_push"):
        allocate(prepared.warehouse, settings, 1_000, config=cfg, overrides={"capacities": {"app_push": 5}})
