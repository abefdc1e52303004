"""Budget allocation run: past campaign response -> cells -> LP plan -> members to contact, in MLflow.

Response comes from campaign_touches (treatment vs control) and the paid orders of the touched member
within the response window. The audience is the one the touch recorded (the audience at campaign time).
Tiers are propensity bands of the latest score snapshot; without a snapshot every audience is one tier.
See docs/budget.md.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memberwise import release
from memberwise.config import BudgetConfig, BudgetOverrides, load_budget_config
from memberwise.data.contract import AUDIENCES
from memberwise.errors import MemberwiseError
from memberwise.features import member_audiences
from memberwise.modeling.allocator import DIMENSIONS, Allocation, Constraints, Mode
from memberwise.modeling.allocator import allocate as solve
from memberwise.modeling.response import CELL, estimate_cells, estimate_tiers
from memberwise.pipelines.campaign_outcomes import response_frame
from memberwise.pipelines.prepare import default_cutoff
from memberwise.planning_inputs import constraints_for
from memberwise.settings import Settings
from memberwise.tracking import data_fingerprint, experiment_id, log_figure, log_frame, run_tags
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
SINGLE_TIER = "all"


@dataclass
class BudgetRun:
    """What `allocate` returns: the solved allocation and everything it was built from."""

    allocation: Allocation
    responses: pd.DataFrame  # per (audience, strategy, tier): raw and shrunk uplift with intervals
    cells: pd.DataFrame  # the LP's cells
    contacts: pd.DataFrame  # member_id per planned cell, each member at most fatigue_k times
    curve: pd.DataFrame  # expected revenue and the budget's shadow price at several budgets
    run_id: str
    tiers: int
    members: pd.DataFrame  # member_id, audience, score, tier: the table the member lists were picked from
    touches: pd.DataFrame  # the closed-window touches responses came from (a retrain's uplift reuses them)
    response_window_days: int  # the response window of those touches


def tier_count(frame: pd.DataFrame, cfg: BudgetConfig) -> int:
    """Bands per audience: deciles at most, fewer when control touches per audience and band would be thin."""
    controls = int((frame["group"] == "control").sum())
    return int(np.clip(controls // (len(AUDIENCES) * cfg.min_controls_per_tier), 1, cfg.max_tiers))


def score_tiers(scores: pd.DataFrame, bands: int) -> pd.Series:
    """Band of each member by score rank (T01 = top), indexed by member_id."""
    rank = scores["score"].rank(method="first", ascending=False, pct=True)
    band = np.ceil(rank.to_numpy() * bands).clip(1, bands).astype(int)
    names = np.array([f"T{b:02d}" for b in range(bands + 1)], dtype=object)  # one string per band, shared
    return pd.Series(names[band], index=scores["member_id"].to_numpy(), name="tier")


def strategy_grid(cfg: BudgetConfig) -> pd.DataFrame:
    """Every (audience, strategy) the catalog allows: each option must allow the audience."""
    catalog = cfg.catalog
    rows = []
    for audience, *options in itertools.product(AUDIENCES, *(getattr(catalog, d) for d in DIMENSIONS)):
        chosen = [getattr(catalog, d)[o] for d, o in zip(DIMENSIONS, options, strict=True)]
        if all(opt.audiences is None or audience in opt.audiences for opt in chosen):
            rows.append((audience, *options, sum(opt.cost for opt in chosen)))
    return pd.DataFrame(rows, columns=[*CELL, "cost_per_contact"])


def estimate_responses(frame: pd.DataFrame, grid: pd.DataFrame, tiers: list[str]) -> pd.DataFrame:
    """Shrunk uplift per (audience, strategy, tier); with one tier, the cell estimates themselves."""
    cells = estimate_cells(frame, grid)
    if tiers == [SINGLE_TIER]:
        return cells.assign(tier=SINGLE_TIER)
    wanted = cells.merge(pd.DataFrame({"tier": tiers}), how="cross")
    return estimate_tiers(frame.dropna(subset=["tier"]), wanted)


def build_cells(responses: pd.DataFrame, grid: pd.DataFrame, sizes: pd.DataFrame) -> pd.DataFrame:
    """LP cells: audience/tier sizes x allowed strategies, with cost and estimated response per contact."""
    cells = grid.merge(sizes, on="audience").merge(responses, on=[*CELL, "tier"], how="inner")
    return cells.assign(
        revenue_per_contact=cells["revenue_uplift"], conversion_per_contact=cells["converted_uplift"]
    )


def pick_members(plan: pd.DataFrame, members: pd.DataFrame, rank: str = "score") -> pd.DataFrame:
    """Members per planned cell: the group's top-ranked first, filling cells cyclically down the ranking.

    `rank` is the members' column to rank by: the propensity `score`, or a predicted `uplift`.

    Cells of a group are served best revenue per contact first; cell j takes the next floor(contacts)
    members after cell j-1's, wrapping round. As each cell has at most the group's size and the group at
    most k x size contacts, nobody gets a cell twice or more than k touches.
    """
    out = []
    for (audience, tier), cells in plan.groupby(["audience", "tier"], sort=False):
        pool = members[(members["audience"] == audience) & (members["tier"] == tier)]
        pool = pool.sort_values([rank, "member_id"], ascending=[False, True], ignore_index=True)
        offset = 0
        for cell in cells.sort_values("revenue_per_contact", ascending=False).itertuples(index=False):
            count = min(int(np.floor(cell.contacts + 1e-6)), len(pool))
            rows = (offset + np.arange(count)) % max(len(pool), 1)
            offset += count
            picked = pool.iloc[rows][["member_id", "score"]]
            out.append(picked.assign(**{c: getattr(cell, c) for c in ("audience", "tier", *DIMENSIONS)}))
    columns = ["member_id", "score", "audience", "tier", *DIMENSIONS]
    contacts = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)
    return contacts[columns]


def budget_curve(
    cells: pd.DataFrame, constraints: Constraints, budget: float, multiples: list[float]
) -> pd.DataFrame:
    """Expected revenue and the marginal value of a yuan when the budget is re-solved at several levels."""
    rows = []
    for m in multiples:
        result = solve(cells, replace(constraints, budget=budget * m))
        optimal = result.status == "optimal"
        rows.append(
            {
                "budget": budget * m,
                "status": result.status,
                "incremental_revenue": result.totals["incremental_revenue"] if optimal else np.nan,
                "spend": result.totals["spend"] if optimal else np.nan,
                "budget_shadow_price": result.shadow_prices.get("budget", np.nan) if optimal else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _member_table(
    wh: Warehouse, settings: Settings, as_of: date, bands: int, scores: pd.DataFrame | None
) -> tuple[pd.DataFrame, int]:
    """Current members with audience, score and tier; scores given, else the current release's if any."""
    audiences = member_audiences(wh, as_of, settings.new_window_days)
    audiences = audiences[audiences["audience"].isin(AUDIENCES)]
    if scores is None:
        current = release.current(settings)
        if current is None:
            log.info("no score snapshot: one tier per audience, members in id order")
            return audiences.assign(score=0.0, tier=SINGLE_TIER), 1
        scores = current.scores()
    scores = scores[["member_id", "score"]]
    tiers = score_tiers(scores, bands)
    members = audiences.merge(scores, on="member_id", how="inner")
    return members.assign(tier=members["member_id"].map(tiers)), bands


def allocate(
    wh: Warehouse,
    settings: Settings,
    budget: float | None,
    mode: Mode = "max-revenue",
    gap_target: float | None = None,
    overrides: dict[str, Any] | None = None,
    trigger: str = "manual",
    config: BudgetConfig | None = None,
    as_of: date | None = None,
    scores: pd.DataFrame | None = None,
) -> BudgetRun:
    """Estimate response, solve the plan, pick members and log one MLflow run in experiment "budget".

    `gap_target` (close-gap mode) is the incremental revenue to reach, e.g. the KPI gap from the gap run.
    `overrides` are what-if changes validated by `BudgetOverrides` (fatigue_k, min_roi, capacities,
    spend_limits). `config` defaults to experiments/strategies.yaml. `scores` (member_id, score) tier the
    members; by default the current release's.
    """
    if mode == "close-gap" and gap_target is None:
        raise MemberwiseError("close-gap mode needs the gap to close (gap_target)")
    if mode == "max-revenue" and budget is None:
        raise MemberwiseError("max-revenue mode needs a budget")
    cfg = config or load_budget_config(None)
    if overrides:
        cfg = BudgetOverrides.model_validate(overrides).apply(cfg)
    as_of = as_of or default_cutoff(wh, settings.snapshot_date)
    touches = response_frame(wh, cfg.response_window_days, as_of)
    if touches.empty or not (touches["group"] == "control").any():
        raise MemberwiseError("no campaign touches with a control group and a complete response window")
    members, bands = _member_table(wh, settings, as_of, tier_count(touches, cfg), scores)
    frame = touches.assign(
        tier=touches["member_id"].map(members.set_index("member_id")["tier"]) if bands > 1 else SINGLE_TIER
    )
    grid = strategy_grid(cfg)
    tiers = sorted(members["tier"].dropna().unique()) or [SINGLE_TIER]
    responses = estimate_responses(frame, grid, tiers)
    sizes = members.groupby(["audience", "tier"]).size().rename("size").reset_index()
    cells = build_cells(responses, grid, sizes)
    constraints = constraints_for(cfg, budget)
    result = solve(cells, constraints, mode, gap_target)
    contacts = pick_members(result.plan, members)
    # The marginal-value curve is drawn around the budget, or around the spend of a close-gap plan.
    reference = budget if budget is not None else result.totals["spend"]
    curve = budget_curve(cells, constraints, reference, cfg.budget_curve) if reference > 0 else _no_curve()
    run_id = log_budget_run(
        data_fingerprint(wh), settings, cfg, result, responses, curve, contacts, budget, gap_target,
        trigger, as_of, bands,
    )  # fmt: skip
    for message in result.messages:
        log.warning("budget: %s", message)
    return BudgetRun(
        result, responses, cells, contacts, curve, run_id, bands, members, touches, cfg.response_window_days
    )


def _no_curve() -> pd.DataFrame:
    return pd.DataFrame(columns=["budget", "status", "incremental_revenue", "spend", "budget_shadow_price"])


def log_budget_run(
    fingerprint: str,
    settings: Settings,
    cfg: BudgetConfig,
    result: Allocation,
    responses: pd.DataFrame,
    curve: pd.DataFrame,
    contacts: pd.DataFrame | None,
    budget: float | None,
    gap_target: float | None,
    trigger: str,
    as_of: date,
    bands: int,
) -> str:
    """One run in experiment "budget": params, totals, responses, plan, duals, figures.

    `contacts` is None for a what-if re-solve on saved cells (member lists come from batch runs).
    """
    tags = run_tags(trigger, fingerprint, str(as_of), mode=result.mode, status=result.status)
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "budget"),
        run_name=f"budget {result.mode} " + ("unlimited" if budget is None else f"{budget:,.0f}"),
        nested=mlflow.active_run() is not None,
        tags={**tags, "kind": "allocate"},
    ) as run:
        mlflow.log_params(
            {
                "budget": budget,
                "mode": result.mode,
                "gap_target": gap_target,
                "fatigue_k": cfg.fatigue_k,
                "min_roi": cfg.min_roi,
                "response_window_days": cfg.response_window_days,
                "tiers": bands,
                "period_weeks": cfg.period_weeks,
            }
        )
        totals = result.totals
        mlflow.log_metrics(
            {
                "expected_incremental_revenue": totals["incremental_revenue"],
                "expected_incremental_conversions": totals["incremental_conversions"],
                "spend": totals["spend"],
                "roi": totals["roi"] if totals["spend"] > 0 else 0.0,
                "planned_cells": float(len(result.plan)),
                "contacts": float(len(contacts)) if contacts is not None else totals["contacts"],
                "budget_shadow_price": result.shadow_prices.get("budget", 0.0),
                "missing_budget": result.missing_budget or 0.0,
            }
        )
        log_frame(responses, "responses")
        log_frame(result.plan, "plan")
        log_frame(result.constraints, "shadow_prices")
        log_frame(curve, "budget_curve")
        if result.messages:
            mlflow.log_text("\n".join(result.messages), "messages.txt")
        if not result.plan.empty:
            log_figure(spend_heatmap(result.plan), "spend_by_audience_strategy")
        if not curve.empty:
            log_figure(curve_figure(curve), "marginal_value_of_budget")
    return run.info.run_id


def strategy_label(plan: pd.DataFrame) -> pd.Series:
    """A short readable strategy name: delivery/promotion/communication/activity."""
    return plan[list(DIMENSIONS)].astype(str).agg("/".join, axis=1)


def spend_heatmap(plan: pd.DataFrame) -> Figure:
    """Spend by audience (rows) x strategy (columns), planned strategies only."""
    table = plan.assign(strategy=strategy_label(plan)).pivot_table(
        index="audience", columns="strategy", values="spend", aggfunc="sum", fill_value=0.0
    )
    fig = Figure(figsize=(max(6, 0.45 * table.shape[1] + 3), 1.0 * table.shape[0] + 3))
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap="Blues")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=75, ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), table.index)
    ax.set_title("Planned spend by audience x strategy (yuan)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def curve_figure(curve: pd.DataFrame) -> Figure:
    """Expected incremental revenue and the marginal value of one more yuan, against the budget."""
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    left.plot(curve["budget"], curve["incremental_revenue"], marker="o")
    left.set(xlabel="budget (yuan)", ylabel="expected incremental revenue", title="Revenue vs budget")
    right.step(curve["budget"], curve["budget_shadow_price"], where="post", marker="o")
    right.set(xlabel="budget (yuan)", ylabel="revenue per extra yuan", title="Marginal value of budget")
    fig.tight_layout()
    return fig
