"""Budget allocation as a linear program over (audience, tier, strategy) cells, solved by HiGHS.

Variables are contacts per cell. Two modes: maximise expected incremental revenue within a budget, or
close a revenue gap at least cost. Every constraint is a named row, so the answer can say which rows bind,
what one more unit of each is worth (the LP duals), and, when no plan exists, which rows conflict
(an elastic LP that may violate rows at a cost). Pure: tables in, a result dataclass out. See docs/budget.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

DIMENSIONS = ("delivery", "promotion", "communication", "activity")
GROUP_KEYS = ("audience", "tier")
CELL_KEYS = (*GROUP_KEYS, *DIMENSIONS)
CELL_COLUMNS = (*CELL_KEYS, "size", "cost_per_contact", "revenue_per_contact", "conversion_per_contact")
Mode = Literal["max-revenue", "close-gap"]
_TOL = 1e-7


@dataclass(frozen=True)
class Capacity:
    """A channel limit: sum over cells with `dimension == value` of contacts x per_contact <= units."""

    dimension: str
    value: str
    units: float
    per_contact: float = 1.0
    unit: str = "contacts"


@dataclass(frozen=True)
class SpendLimit:
    """Minimum and/or maximum spend on the cells with `dimension == value` (dimension may be audience)."""

    dimension: str
    value: str
    min: float = 0.0
    max: float | None = None


@dataclass(frozen=True)
class Constraints:
    """Everything that limits a plan besides cell sizes. `min_roi` is incremental revenue per yuan spent."""

    budget: float | None = None
    fatigue_k: int = 2
    capacities: tuple[Capacity, ...] = ()
    spend_limits: tuple[SpendLimit, ...] = ()
    min_roi: float | None = None


@dataclass
class Allocation:
    """The plan and what explains it.

    `constraints` has one row per named LP row plus one `members:<audience>/<tier>` row per group:
    rhs, lhs (value at the plan), slack, binding, and shadow_price = change of the objective (revenue in
    max-revenue mode, cost in close-gap mode) per unit more of the right-hand side (per extra member for
    the members rows).
    """

    status: Literal["optimal", "infeasible", "unbounded", "error"]
    mode: Mode
    plan: pd.DataFrame
    totals: dict[str, float]
    constraints: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    missing_budget: float | None = None

    @property
    def binding(self) -> pd.DataFrame:
        return self.constraints[self.constraints["binding"]]

    @property
    def shadow_prices(self) -> dict[str, float]:
        return dict(zip(self.constraints["name"], self.constraints["shadow_price"], strict=True))


@dataclass
class _Rows:
    """LP rows in `A x <= b` form; `sense` remembers which were `>=` rows (stored negated)."""

    matrix: sparse.csr_matrix
    rhs: np.ndarray
    names: list[str]
    kinds: list[str]
    sense: np.ndarray  # +1 for <= rows, -1 for >= rows (stored negated)

    @property
    def original_rhs(self) -> np.ndarray:
        return self.rhs * self.sense


def _block(
    rows: sparse.spmatrix, rhs: Sequence[float | None], names: list[str], kind: str, ge: bool = False
) -> _Rows:
    sign = -1.0 if ge else 1.0
    return _Rows(
        sparse.csr_matrix(rows * sign),
        np.asarray(rhs, float) * sign,
        names,
        [kind] * len(names),
        np.full(len(names), sign),
    )


def _indicator(codes: np.ndarray, n_groups: int, values: np.ndarray) -> sparse.csr_matrix:
    """A (groups x cells) matrix with `values[i]` in row `codes[i]`; cells with code -1 are left out."""
    keep = codes >= 0
    cols = np.flatnonzero(keep)
    return sparse.csr_matrix((values[keep], (codes[keep], cols)), shape=(n_groups, len(codes)))


def _groups(cells: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    codes, uniques = pd.MultiIndex.from_frame(cells[list(GROUP_KEYS)].astype(str)).factorize()
    return codes, uniques.to_frame(index=False)


def _fatigue_rows(cells: pd.DataFrame, k: int) -> tuple[_Rows, np.ndarray, pd.DataFrame]:
    """Each member at most k touches: per group, total contacts <= k x members in the group."""
    codes, groups = _groups(cells)
    size = cells.groupby(codes)["size"].max().to_numpy()
    names = [f"fatigue:{a}/{t}" for a, t in groups.itertuples(index=False)]
    ones = np.ones(len(cells))
    return _block(_indicator(codes, len(groups), ones), k * size, names, "fatigue"), codes, groups


def _dimension_rows(
    cells: pd.DataFrame, items: list[tuple[str, str]], weights: np.ndarray
) -> sparse.csr_matrix:
    """One row per (dimension, value): `weights` on the cells with that value."""
    if not items:
        return sparse.csr_matrix((0, len(cells)))
    matrices = [
        sparse.csr_matrix(np.where(cells[dim].astype(str).to_numpy() == value, weights, 0.0))
        for dim, value in items
    ]
    return sparse.vstack(matrices, format="csr")


def _constraint_rows(cells: pd.DataFrame, c: Constraints, budget: bool) -> tuple[list[_Rows], np.ndarray]:
    """All named rows except the objective target; returns the row blocks and the group code per cell."""
    cost = cells["cost_per_contact"].to_numpy(float)
    revenue = cells["revenue_per_contact"].to_numpy(float)
    fatigue, codes, _ = _fatigue_rows(cells, c.fatigue_k)
    blocks = [fatigue]
    if budget and c.budget is not None:
        blocks.append(_block(sparse.csr_matrix(cost), [c.budget], ["budget"], "budget"))
    for cap in c.capacities:
        rows = _dimension_rows(cells, [(cap.dimension, cap.value)], np.full(len(cells), cap.per_contact))
        blocks.append(_block(rows, [cap.units], [f"capacity:{cap.dimension}={cap.value}"], "capacity"))
    mins = [s for s in c.spend_limits if s.min > 0]
    maxs = [s for s in c.spend_limits if s.max is not None]
    if mins:
        rows = _dimension_rows(cells, [(s.dimension, s.value) for s in mins], cost)
        names = [f"min_spend:{s.dimension}={s.value}" for s in mins]
        blocks.append(_block(rows, [s.min for s in mins], names, "min_spend", ge=True))
    if maxs:
        rows = _dimension_rows(cells, [(s.dimension, s.value) for s in maxs], cost)
        names = [f"max_spend:{s.dimension}={s.value}" for s in maxs]
        blocks.append(_block(rows, [s.max for s in maxs], names, "max_spend"))
    if c.min_roi is not None:
        rows = sparse.csr_matrix(revenue - c.min_roi * cost)
        blocks.append(_block(rows, [0.0], ["min_roi"], "min_roi", ge=True))
    return blocks, codes


def _stack(blocks: list[_Rows]) -> _Rows:
    return _Rows(
        sparse.vstack([b.matrix for b in blocks], format="csr"),
        np.concatenate([b.rhs for b in blocks]),
        [n for b in blocks for n in b.names],
        [k for b in blocks for k in b.kinds],
        np.concatenate([b.sense for b in blocks]),
    )


def _check_cells(cells: pd.DataFrame) -> None:
    missing = [c for c in CELL_COLUMNS if c not in cells.columns]
    if missing:
        raise ValueError(f"cells lack column(s): {', '.join(missing)}")
    if (cells["size"] < 0).any() or (cells["cost_per_contact"] < 0).any():
        raise ValueError("cell sizes and costs must be >= 0")


def allocate(
    cells: pd.DataFrame, constraints: Constraints, mode: Mode = "max-revenue", target: float | None = None
) -> Allocation:
    """Solve the plan; in close-gap mode `target` is the incremental revenue to reach at least cost.

    Close-gap is solved without the budget row, so a plan that needs more than the budget is still shown,
    with `missing_budget` = its cost minus the budget and status "infeasible".
    """
    _check_cells(cells)
    cells = cells.reset_index(drop=True)
    if mode == "close-gap":
        if target is None:
            raise ValueError("close-gap mode needs a target (the revenue gap to close)")
        return _close_gap(cells, constraints, target)
    blocks, codes = _constraint_rows(cells, constraints, budget=True)
    return _solve(cells, constraints, blocks, codes, -cells["revenue_per_contact"].to_numpy(float), mode)


def _close_gap(cells: pd.DataFrame, constraints: Constraints, target: float) -> Allocation:
    blocks, codes = _constraint_rows(cells, constraints, budget=False)
    revenue = cells["revenue_per_contact"].to_numpy(float)
    blocks.append(_block(sparse.csr_matrix(revenue), [target], ["target"], "target", ge=True))
    result = _solve(cells, constraints, blocks, codes, cells["cost_per_contact"].to_numpy(float), "close-gap")
    if result.status == "infeasible":
        best = allocate(cells, replace(constraints, budget=None))
        if best.status == "optimal":
            result.messages.append(
                f"the target {target:,.0f} is out of reach whatever the budget: at most "
                f"{best.totals['incremental_revenue']:,.0f} of incremental revenue is reachable "
                f"(for {best.totals['spend']:,.0f} of spend) within sizes, fatigue and capacities"
            )
        return result
    spend = result.totals["spend"]
    if constraints.budget is not None and spend > constraints.budget * (1 + 1e-9):
        result.status = "infeasible"
        result.missing_budget = spend - constraints.budget
        result.messages.append(
            f"closing the gap of {target:,.0f} costs at least {spend:,.0f}: the budget of "
            f"{constraints.budget:,.0f} is {result.missing_budget:,.0f} short"
        )
    return result


def _solve(
    cells: pd.DataFrame,
    constraints: Constraints,
    blocks: list[_Rows],
    codes: np.ndarray,
    objective: np.ndarray,
    mode: Mode,
) -> Allocation:
    rows = _stack(blocks)
    size = cells["size"].to_numpy(float)
    res = linprog(
        objective,
        A_ub=rows.matrix,
        b_ub=rows.rhs,
        bounds=np.column_stack([np.zeros_like(size), size]),
        method="highs",
    )
    if res.status == 2:
        return _infeasible(cells, rows, mode)
    if res.status == 3:
        return _failed(cells, mode, "unbounded", "the plan is unbounded: give a budget or finite cell sizes")
    if res.status != 0:
        return _failed(cells, mode, "error", f"the solver stopped: {res.message}")
    obj_sign = -1.0 if mode == "max-revenue" else 1.0
    table = _constraint_table(rows, res.x, obj_sign * res.ineqlin.marginals * rows.sense)
    members = _member_values(
        cells,
        codes,
        constraints.fatigue_k,
        obj_sign * res.upper.marginals,
        obj_sign * res.ineqlin.marginals[: codes.max() + 1],
    )
    plan = _plan(cells, res.x)
    return Allocation("optimal", mode, plan, _totals(plan), pd.concat([table, members], ignore_index=True))


def _constraint_table(rows: _Rows, x: np.ndarray, shadow: np.ndarray) -> pd.DataFrame:
    lhs = (rows.matrix @ x) * rows.sense
    rhs = rows.original_rhs
    slack = (rhs - lhs) * rows.sense
    scale = np.maximum(1.0, np.abs(rhs))
    return pd.DataFrame(
        {
            "name": rows.names,
            "kind": rows.kinds,
            "rhs": rhs,
            "lhs": lhs,
            "slack": slack,
            "binding": slack <= 1e-6 * scale,
            "shadow_price": shadow,
        }
    )


def _member_values(
    cells: pd.DataFrame, codes: np.ndarray, k: int, upper: np.ndarray, fatigue: np.ndarray
) -> pd.DataFrame:
    """Value of one more member in a group: it raises every cell's bound by 1 and the fatigue row by k."""
    _, groups = _groups(cells)
    value = np.bincount(codes, weights=upper, minlength=len(groups)) + k * fatigue
    size = cells.groupby(codes)["size"].max().to_numpy(float)
    return pd.DataFrame(
        {
            "name": [f"members:{a}/{t}" for a, t in groups.itertuples(index=False)],
            "kind": "members",
            "rhs": size,
            "lhs": np.nan,
            "slack": np.nan,
            "binding": np.abs(value) > _TOL,
            "shadow_price": value,
        }
    )


def _plan(cells: pd.DataFrame, x: np.ndarray) -> pd.DataFrame:
    plan = cells[
        list(CELL_KEYS) + ["size", "cost_per_contact", "revenue_per_contact", "conversion_per_contact"]
    ]
    plan = plan.assign(contacts=np.where(x > _TOL, x, 0.0))
    plan = plan[plan["contacts"] > 0].copy()
    plan["spend"] = plan["contacts"] * plan["cost_per_contact"]
    plan["incremental_revenue"] = plan["contacts"] * plan["revenue_per_contact"]
    plan["incremental_conversions"] = plan["contacts"] * plan["conversion_per_contact"]
    plan["roi"] = plan["incremental_revenue"] / plan["spend"].where(plan["spend"] > 0)
    return plan.sort_values("incremental_revenue", ascending=False, ignore_index=True)


def _totals(plan: pd.DataFrame) -> dict[str, float]:
    spend = float(plan["spend"].sum())
    revenue = float(plan["incremental_revenue"].sum())
    return {
        "spend": spend,
        "incremental_revenue": revenue,
        "incremental_conversions": float(plan["incremental_conversions"].sum()),
        "contacts": float(plan["contacts"].sum()),
        "roi": revenue / spend if spend > 0 else float("nan"),
    }


def _empty(cells: pd.DataFrame) -> pd.DataFrame:
    return _plan(cells, np.zeros(len(cells)))


def _failed(
    cells: pd.DataFrame, mode: Mode, status: Literal["unbounded", "error"], message: str
) -> Allocation:
    plan = _empty(cells)
    return Allocation(status, mode, plan, _totals(plan), _constraint_table_empty(), [message])


def _constraint_table_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["name", "kind", "rhs", "lhs", "slack", "binding", "shadow_price"]).astype(
        {"binding": bool, "shadow_price": float}
    )


def _infeasible(cells: pd.DataFrame, rows: _Rows, mode: Mode) -> Allocation:
    """Name the conflicting rows with an elastic LP: each row may be violated by s_j at cost s_j / scale_j.

    Rows with a non-zero dual in the elastic optimum are the ones in conflict; rows with positive s_j are
    the cheapest fix (how much to relax them).
    """
    n, m = rows.matrix.shape[1], rows.matrix.shape[0]
    scale = np.maximum(1.0, np.abs(rows.rhs))
    matrix = sparse.hstack([rows.matrix, -sparse.identity(m, format="csr")], format="csr")
    objective = np.concatenate([np.zeros(n), 1.0 / scale])
    size = cells["size"].to_numpy(float)
    bounds = np.column_stack([np.zeros(n + m), np.concatenate([size, np.full(m, np.inf)])])
    res = linprog(objective, A_ub=matrix, b_ub=rows.rhs, bounds=bounds, method="highs")
    plan = _empty(cells)
    if res.status != 0:
        return Allocation(
            "infeasible",
            mode,
            plan,
            _totals(plan),
            _constraint_table_empty(),
            ["no plan satisfies the constraints (the diagnosis failed too)"],
        )
    violation = res.x[n:]
    in_conflict = (np.abs(res.ineqlin.marginals) > _TOL) | (violation > 1e-6 * scale)
    names = [name for name, hit in zip(rows.names, in_conflict, strict=True) if hit]
    fixes = [f"{rows.names[j]} by {violation[j]:,.2f}" for j in np.flatnonzero(violation > 1e-6 * scale)]
    table = _constraint_table(rows, res.x[:n], np.zeros(m))
    table["binding"] = in_conflict
    message = f"no plan satisfies all constraints; these conflict: {', '.join(names)}"
    if fixes:
        message += f". The smallest fix relaxes {'; '.join(fixes)}"
    return Allocation("infeasible", mode, plan, _totals(plan), table, [message])
