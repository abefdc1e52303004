"""The planning step of a retrain (KPI gap + default budget plan) and what it saves for the service.

The service answers `/gap` and `/allocate` without a warehouse: each retrain saves the weekly audience
sales up to the cutoff, the KPI targets, the budget cells (sizes, costs, estimated responses) and the
budget config next to the score snapshot, each file replaced atomically. Planning runs after every
model step, and a planning failure is reported without undoing the models (they passed their gates).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from memberwise.config import BudgetConfig, BudgetOverrides, ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling.allocator import Allocation, Mode
from memberwise.modeling.allocator import allocate as solve
from memberwise.modeling.forecaster import RNNForecaster
from memberwise.modeling.gap import GapResult
from memberwise.pipelines.budget import BudgetRun, allocate, budget_curve, constraints_for, log_budget_run
from memberwise.pipelines.forecast import load_forecaster, week_start, weekly_series
from memberwise.pipelines.gap import kpi_gap, kpi_targets, log_gap_run, project_gap
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)

PLANNING_DIR = "planning"
_FRAMES = ("history", "targets", "cells", "plan", "contacts")


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

    def gap(self, model: RNNForecaster, period: str, target: float | None) -> GapResult:
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


SAVED = "saved-planning-inputs"  # the data fingerprint tag of runs answered from the saved inputs


def saved_inputs(settings: Settings) -> PlanningInputs:
    """The last retrain's planning inputs (a clear error before any retrain planned)."""
    inputs = read_planning(settings.snapshot_dir / PLANNING_DIR)
    if inputs is None:
        where = settings.snapshot_dir / PLANNING_DIR
        raise MemberwiseError(f"no planning inputs in {where}: run `memberwise retrain` or pass --data")
    return inputs


def saved_gap(settings: Settings, period: str, target: float | None, trigger: str = "manual") -> GapResult:
    """The KPI gap from the last retrain's actuals and the champion forecaster, logged as a run."""
    inputs = saved_inputs(settings)
    model, version = load_forecaster(settings)
    result = inputs.gap(model, period, target)
    log_gap_run(result, period, inputs.cutoff, version, target is None, SAVED, settings, trigger)
    return result


def saved_allocation(
    settings: Settings,
    budget: float | None,
    mode: Mode,
    gap_target: float | None,
    trigger: str = "manual",
) -> Allocation:
    """Re-solve the plan on the last retrain's cells, logged as a run (no member lists: see `allocate`)."""
    inputs = saved_inputs(settings)
    if inputs.cells is None:
        raise MemberwiseError("no budget cells: the last retrain could not estimate campaign response")
    result = inputs.allocation(budget, mode, gap_target)
    reference = budget if budget is not None else result.totals["spend"]
    constraints = constraints_for(inputs.budget, reference)
    curve = budget_curve(inputs.cells, constraints, reference, inputs.budget.budget_curve)
    log_budget_run(
        SAVED, settings, inputs.budget, result, inputs.cells, curve, None, budget, gap_target, trigger,
        inputs.cutoff.date(), int(inputs.cells["tier"].nunique()),
    )  # fmt: skip
    return result


@dataclass
class PlanSummary:
    """What the planning step did; `problems` lists what it could not do, in words."""

    gap: GapResult | None = None
    budget: BudgetRun | None = None
    problems: list[str] = field(default_factory=list)


def plan(
    wh: Warehouse,
    cutoff: date,
    forecast_cfg: ForecastConfig,
    budget_cfg: BudgetConfig,
    settings: Settings,
    trigger: str = "scheduled",
) -> PlanSummary:
    """The cutoff year's KPI gap and the default budget plan, each logged as a run; save planning inputs."""
    summary = PlanSummary()
    monday = week_start(cutoff)
    period = str((monday - pd.Timedelta(days=1)).year)
    try:
        model, _ = load_forecaster(settings)
        summary.gap = kpi_gap(wh, period, None, settings, model, monday.date(), forecast_cfg, trigger)
    except Exception as err:  # noqa: BLE001 - reported, the models stay promoted
        summary.problems.append(f"KPI gap {period}: {err}")
    try:
        summary.budget = allocate(
            wh, settings, budget_cfg.default_budget, "max-revenue", None, None, trigger, budget_cfg, cutoff
        )
    except Exception as err:  # noqa: BLE001 - reported, the models stay promoted
        summary.problems.append(f"budget plan: {err}")
    inputs = PlanningInputs(
        monday,
        weekly_series(wh, monday, forecast_cfg, settings.new_window_days),
        kpi_targets(wh),
        summary.budget.cells if summary.budget else None,
        budget_cfg,
        forecast_cfg,
        summary.budget.allocation.plan if summary.budget else None,
        summary.budget.contacts if summary.budget else None,
    )
    write_planning(inputs, settings.snapshot_dir / PLANNING_DIR)
    for problem in summary.problems:
        log.warning("planning: %s", problem)
    return summary


def _replace(path: Path, write: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)  # type: ignore[operator]
    os.replace(tmp, path)


def write_planning(inputs: PlanningInputs, directory: Path) -> None:
    """Save the inputs, one atomic file each (absent frames remove their stale file)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in _FRAMES:
        frame, path = getattr(inputs, name), directory / f"{name}.parquet"
        if frame is None:
            path.unlink(missing_ok=True)
        else:
            _replace(path, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    meta = {
        "cutoff": str(inputs.cutoff.date()),
        "budget": inputs.budget.model_dump(mode="json"),
        "forecast": inputs.forecast.model_dump(mode="json"),
    }
    _replace(directory / "planning.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=1)))


def read_planning(directory: Path) -> PlanningInputs | None:
    """The saved inputs, or None before any retrain has planned."""
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
