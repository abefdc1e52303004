"""The budget LP against brute-force vertex enumeration, finite differences and planted conflicts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.allocator import Capacity, Constraints, SpendLimit, allocate


def _cells(rng: np.random.Generator) -> pd.DataFrame:
    """Four cells: two audiences x two communications, one tier, random sizes, costs and responses."""
    rows = [
        (aud, "t1", "private_domain", "none", comm, "member_day")
        for aud in ("a1", "a2")
        for comm in ("sms", "wecom")
    ]
    cells = pd.DataFrame(
        rows, columns=["audience", "tier", "delivery", "promotion", "communication", "activity"]
    )
    cells["size"] = np.repeat(rng.integers(50, 200, 2), 2).astype(float)  # members per audience
    cells["cost_per_contact"] = rng.uniform(0.1, 2.0, 4)
    cells["revenue_per_contact"] = rng.uniform(0.0, 6.0, 4)
    cells["conversion_per_contact"] = cells["revenue_per_contact"] / 200
    return cells


def _constraints(cells: pd.DataFrame, rng: np.random.Generator) -> Constraints:
    return Constraints(
        budget=float(rng.uniform(50, 400)),
        fatigue_k=1,
        capacities=(Capacity("communication", "sms", float(rng.uniform(20, 150))),),
        spend_limits=(SpendLimit("audience", "a1", max=float(rng.uniform(20, 200))),),
        min_roi=1.5,
    )


def _rows_by_hand(cells: pd.DataFrame, c: Constraints) -> tuple[np.ndarray, np.ndarray]:
    """The same LP written out densely from its definition, all rows as A x <= b, bounds included."""
    cost, rev, size = (cells[k].to_numpy() for k in ("cost_per_contact", "revenue_per_contact", "size"))
    a1 = (cells["audience"] == "a1").to_numpy(float)
    sms = (cells["communication"] == "sms").to_numpy(float)
    rows = [cost, a1, 1 - a1, sms, cost * a1, -(rev - c.min_roi * cost)]
    rhs = [
        c.budget if c.budget is not None else 1e12,
        size[0],
        size[2],
        c.capacities[0].units,
        c.spend_limits[0].max,
        0.0,
    ]
    eye = np.eye(len(cells))
    return np.vstack([*rows, eye, -eye]), np.concatenate([rhs, size, np.zeros(len(cells))])


def _vertex_optimum(a: np.ndarray, b: np.ndarray, objective: np.ndarray) -> float:
    """Max of objective . x over the polytope by enumerating every vertex (intersection of n rows)."""
    n = a.shape[1]
    best = -np.inf
    for subset in itertools.combinations(range(len(a)), n):
        sub = a[list(subset)]
        if abs(np.linalg.det(sub)) < 1e-12:
            continue
        x = np.linalg.solve(sub, b[list(subset)])
        if np.all(a @ x <= b + 1e-7):
            best = max(best, float(objective @ x))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_max_revenue_equals_vertex_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cells = _cells(rng)
    c = _constraints(cells, rng)
    a, b = _rows_by_hand(cells, c)
    result = allocate(cells, c)
    assert result.status == "optimal"
    expected = _vertex_optimum(a, b, cells["revenue_per_contact"].to_numpy())
    assert result.totals["incremental_revenue"] == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_close_gap_equals_vertex_enumeration(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cells = _cells(rng)
    c = Constraints(**{**_constraints(cells, rng).__dict__, "budget": None, "min_roi": 0.0})
    reachable = allocate(cells, c).totals["incremental_revenue"]
    target = 0.6 * reachable
    a, b = _rows_by_hand(cells, c)
    a = np.vstack([a, -cells["revenue_per_contact"].to_numpy()])
    b = np.append(b, -target)
    result = allocate(cells, c, mode="close-gap", target=target)
    assert result.status == "optimal"
    min_cost = -_vertex_optimum(a, b, -cells["cost_per_contact"].to_numpy())
    assert result.totals["spend"] == pytest.approx(min_cost, rel=1e-6)
    assert result.totals["incremental_revenue"] == pytest.approx(target, rel=1e-6)


def test_budget_shadow_price_matches_finite_difference() -> None:
    rng = np.random.default_rng(3)
    cells = _cells(rng)
    c = Constraints(budget=60.0, fatigue_k=1)
    base = allocate(cells, c)
    assert "budget" in set(base.binding["name"])
    step = 1.0
    bumped = allocate(cells, Constraints(budget=60.0 + step, fatigue_k=1))
    slope = (bumped.totals["incremental_revenue"] - base.totals["incremental_revenue"]) / step
    assert base.shadow_prices["budget"] == pytest.approx(slope, rel=1e-6)
    assert base.shadow_prices["budget"] > 0


def test_member_value_matches_finite_difference() -> None:
    cells = _cells(np.random.default_rng(4))
    c = Constraints(budget=1e9, fatigue_k=1)
    base = allocate(cells, c)
    group = cells["audience"] == "a2"
    bigger = cells.assign(size=np.where(group, cells["size"] + 1, cells["size"]))
    slope = allocate(bigger, c).totals["incremental_revenue"] - base.totals["incremental_revenue"]
    assert base.shadow_prices["members:a2/t1"] == pytest.approx(slope, rel=1e-6)


def test_infeasible_names_the_conflicting_constraints() -> None:
    cells = _cells(np.random.default_rng(5))
    c = Constraints(budget=100.0, spend_limits=(SpendLimit("communication", "wecom", min=150.0),))
    result = allocate(cells, c)
    assert result.status == "infeasible"
    assert "budget" in result.messages[0] and "min_spend:communication=wecom" in result.messages[0]
    assert "by 50.00" in result.messages[0]  # the cheapest fix: relax one of them by the 50 yuan gap


def test_infeasible_capacity_against_min_spend() -> None:
    cells = _cells(np.random.default_rng(6))
    sms_cost = cells.loc[cells["communication"] == "sms", "cost_per_contact"].max()
    c = Constraints(
        capacities=(Capacity("communication", "sms", 10.0),),
        spend_limits=(SpendLimit("communication", "sms", min=20 * sms_cost),),
    )
    result = allocate(cells, c)
    assert result.status == "infeasible"
    assert "capacity:communication=sms" in result.messages[0]
    assert "min_spend:communication=sms" in result.messages[0]
    assert "budget" not in result.messages[0]


def test_close_gap_reports_missing_budget() -> None:
    cells = _cells(np.random.default_rng(7))
    unlimited = allocate(cells, Constraints(), mode="close-gap", target=100.0)
    needed = unlimited.totals["spend"]
    short = allocate(cells, Constraints(budget=needed - 25.0), mode="close-gap", target=100.0)
    assert short.status == "infeasible"
    assert short.missing_budget == pytest.approx(25.0, rel=1e-6)
    assert "25 short" in short.messages[0]
    enough = allocate(cells, Constraints(budget=needed + 1.0), mode="close-gap", target=100.0)
    assert enough.status == "optimal" and enough.missing_budget is None


def test_close_gap_out_of_reach_says_the_reachable_maximum() -> None:
    cells = _cells(np.random.default_rng(8))
    reachable = allocate(cells, Constraints()).totals["incremental_revenue"]
    result = allocate(cells, Constraints(), mode="close-gap", target=reachable * 1.5)
    assert result.status == "infeasible"
    assert "target" in result.messages[0]
    assert f"{reachable:,.0f}" in result.messages[1]


def test_plan_respects_fatigue_and_sizes() -> None:
    cells = _cells(np.random.default_rng(9))
    result = allocate(cells, Constraints(budget=1e9, fatigue_k=1))
    per_group = result.plan.groupby("audience")["contacts"].sum()
    sizes = cells.groupby("audience")["size"].max()
    assert (per_group <= sizes + 1e-6).all()
    assert (result.plan["contacts"] <= result.plan["size"] + 1e-6).all()
