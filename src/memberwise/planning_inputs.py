"""What `/gap` and `/allocate` answer from without a warehouse: saved planning inputs and the math on them.

A retrain saves, inside its release, the weekly audience sales up to the cutoff, the KPI targets, the
budget cells (sizes, costs, estimated responses) and the budget config. The batch pipelines and the
service project the gap and re-solve the plan with these same functions, so both give the same answer.
No pipeline, warehouse or feature SQL is imported here: the service uses this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from memberwise.config import BudgetConfig, BudgetOverrides, ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling import gap
from memberwise.modeling.allocator import DIMENSIONS, Allocation, Capacity, Constraints, Mode, SpendLimit
from memberwise.modeling.allocator import allocate as solve

PLANNING_DIR = "planning"
_FRAMES = ("history", "targets", "cells", "plan", "contacts")
_PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]))?$")


def week_start(day: date | pd.Timestamp) -> pd.Timestamp:
    """The Monday on or before a day: the forecast cutoff, so the last week of actuals is complete."""
    stamp = pd.Timestamp(day).normalize()
    return stamp - pd.Timedelta(days=stamp.weekday())


def parse_period(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """'2026', '2026-Q3' or '2026-H2' -> [start, end) days."""
    match = _PERIOD.match(period.strip().upper())
    if match is None:
        raise MemberwiseError(
            f"period {period!r}: expected a year (2026), quarter (2026-Q3) or half (2026-H2)"
        )
    year, part = int(match.group(1)), match.group(2)
    months = 12 if part is None else 3 if part[0] == "Q" else 6
    first_month = 1 if part is None else (int(part[1]) - 1) * months + 1
    start = pd.Timestamp(year=year, month=first_month, day=1)
    return start, start + pd.DateOffset(months=months)


def brand_target(targets: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> float | None:
    """The brand-wide kpi_targets row for exactly [start, end) (period_end is inclusive there), if any."""
    if targets is None or targets.empty:
        return None
    rows = targets[
        targets["audience"].isna()
        & (pd.to_datetime(targets["period_start"]).dt.normalize() == start)
        & (pd.to_datetime(targets["period_end"]).dt.normalize() == end - pd.Timedelta(days=1))
    ]
    return float(rows["target_revenue"].iloc[0]) if len(rows) else None


def project_gap(
    history: pd.DataFrame,
    targets: pd.DataFrame | None,
    forecast_model: Any,
    period: str,
    target: float | None,
    cutoff: pd.Timestamp,
    cfg: ForecastConfig,
) -> gap.GapResult:
    """Actual weeks of the period before the cutoff + the forecast for the rest, against the target.

    Shared by the batch run (history from the warehouse) and the service (history saved by retrain).
    `forecast_model` is anything with `predict(history, cutoff, horizon)` giving week/audience/q10/q50/q90
    (and `model`, naming each audience's forecaster). P(meet) uses the error correlation the model
    estimated from its backtest (`correlation_`), else the configured one.
    """
    start, end = parse_period(period)
    resolved = target if target is not None else brand_target(targets, start, end)
    if resolved is None:
        raise MemberwiseError(f"no target for {period}: pass one or add a kpi_targets row for that period")
    horizon = max(0, (week_start(end - pd.Timedelta(days=1)) - cutoff) // pd.Timedelta(weeks=1) + 1)
    forecast = forecast_model.predict(history, cutoff, horizon) if horizon else _no_forecast()
    actuals = history[history["week"] >= week_start(start)]
    estimated = getattr(forecast_model, "correlation_", None)
    rho = cfg.gap.correlation if estimated is None else float(estimated)
    return gap.kpi_gap(actuals, forecast, resolved, start, end, rho, cfg.gap.simulations, cfg.gap.seed)


def _no_forecast() -> pd.DataFrame:
    return pd.DataFrame({"week": pd.to_datetime([]), "audience": [], "q10": [], "q50": [], "q90": []})


def constraints_for(cfg: BudgetConfig, budget: float | None) -> Constraints:
    """LP constraints from the config: capacities over the planning period, spend limits, fatigue, ROI."""
    capacities = tuple(
        Capacity(
            dim, value, opt.capacity.units(cfg.period_weeks), opt.capacity.per_contact, opt.capacity.unit
        )
        for dim in DIMENSIONS
        for value, opt in getattr(cfg.catalog, dim).items()
        if opt.capacity is not None
    )
    limits = tuple(SpendLimit(s.dimension, s.value, s.min, s.max) for s in cfg.spend_limits)
    return Constraints(budget, cfg.fatigue_k, capacities, limits, cfg.min_roi)


@dataclass
class PlanningInputs:
    """Everything `/gap` and `/allocate` answer from (besides the champion forecast)."""

    cutoff: pd.Timestamp  # the Monday after the last complete week of actuals
    history: pd.DataFrame  # week, audience, revenue before the cutoff
    targets: pd.DataFrame | None
    cells: pd.DataFrame | None  # budget cells; None when campaign history could not be estimated
    budget: BudgetConfig
    forecast: ForecastConfig
    plan: pd.DataFrame | None = None  # the retrain's default plan and its member lists
    contacts: pd.DataFrame | None = None

    def gap(self, model: Any, period: str, target: float | None) -> gap.GapResult:
        """The KPI gap of `period` from the saved actuals and `model`'s forecast."""
        return project_gap(self.history, self.targets, model, period, target, self.cutoff, self.forecast)

    def allocation(
        self,
        budget: float | None,
        mode: Mode,
        gap_target: float | None = None,
        overrides: dict[str, object] | None = None,
    ) -> Allocation:
        """Re-solve the plan on the saved cells with what-if changes (validated like the batch run's)."""
        if self.cells is None:
            raise ValueError("no budget cells: the last retrain could not estimate campaign response")
        cfg = BudgetOverrides.model_validate(overrides).apply(self.budget) if overrides else self.budget
        return solve(self.cells, constraints_for(cfg, budget), mode, gap_target)


def write_planning(inputs: PlanningInputs, directory: Path) -> None:
    """Save the inputs into a release directory being built (the release is published atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in _FRAMES:
        frame = getattr(inputs, name)
        if frame is not None:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    meta = {
        "cutoff": str(inputs.cutoff.date()),
        "budget": inputs.budget.model_dump(mode="json"),
        "forecast": inputs.forecast.model_dump(mode="json"),
    }
    (directory / "planning.json").write_text(json.dumps(meta, indent=1))


def read_planning(directory: Path) -> PlanningInputs | None:
    """The saved inputs, or None when the release has none (planning never ran)."""
    meta_path = directory / "planning.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    paths = {name: directory / f"{name}.parquet" for name in _FRAMES}
    frames = {name: pd.read_parquet(path) if path.exists() else None for name, path in paths.items()}
    history = frames.pop("history")
    return PlanningInputs(
        pd.Timestamp(meta["cutoff"]),
        history if history is not None else pd.DataFrame(columns=["week", "audience", "revenue"]),
        budget=BudgetConfig.model_validate(meta["budget"]),
        forecast=ForecastConfig.model_validate(meta["forecast"]),
        **frames,
    )
