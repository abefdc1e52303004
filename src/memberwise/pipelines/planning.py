"""The planning step of a retrain (KPI gap + default budget plan), and the CLI's answers from a release.

The service answers `/gap` and `/allocate` without a warehouse from the planning inputs a retrain puts in
its release (`memberwise.planning_inputs`). Planning runs after every model step, and a planning failure
is reported without failing the retrain (the models passed their gates).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from memberwise import registry, release
from memberwise.config import BudgetConfig, ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling.allocator import Allocation, Mode
from memberwise.modeling.gap import GapResult
from memberwise.pipelines.budget import BudgetRun, allocate, budget_curve, log_budget_run
from memberwise.pipelines.forecast import weekly_series
from memberwise.pipelines.gap import kpi_gap, kpi_targets, log_gap_run
from memberwise.planning_inputs import PlanningInputs, constraints_for, week_start
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)

SAVED = "saved-planning-inputs"  # the data fingerprint tag of runs answered from the saved inputs


def saved_inputs(settings: Settings) -> PlanningInputs:
    """The current release's planning inputs (a clear error before any retrain planned)."""
    inputs = release.require_current(settings).planning()
    if inputs is None:
        raise MemberwiseError(
            "the current release has no planning inputs: run `memberwise retrain` or pass --data"
        )
    return inputs


def serving_forecaster(settings: Settings) -> tuple[Any, str]:
    """The current release's forecaster (the registry's champion before any release) and its version."""
    client = registry.configure(settings)  # registry.load reads the store configured here
    current = release.current(settings)
    version = (current.manifest.models if current else {}).get("forecast") or registry.version_by_alias(
        client, "forecast", registry.CHAMPION
    )
    if version is None:
        raise MemberwiseError("no champion forecast model: train and promote one first")
    return registry.load("forecast", version), version


def saved_gap(settings: Settings, period: str, target: float | None, trigger: str = "manual") -> GapResult:
    """The KPI gap from the last retrain's actuals and the champion forecaster, logged as a run."""
    inputs = saved_inputs(settings)
    model, version = serving_forecaster(settings)
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

    inputs: PlanningInputs
    gap: GapResult | None = None
    budget: BudgetRun | None = None
    problems: list[str] = field(default_factory=list)


def plan(
    wh: Warehouse,
    cutoff: date,
    forecast_cfg: ForecastConfig,
    budget_cfg: BudgetConfig,
    settings: Settings,
    forecaster: tuple[Any, str] | None,
    scores: pd.DataFrame | None,
    trigger: str = "scheduled",
) -> PlanSummary:
    """The cutoff year's KPI gap and the default budget plan, each logged as a run, and the inputs to save.

    `forecaster` (model, version) and `scores` are what the release being built will serve.
    """
    monday = week_start(cutoff)
    period = str((monday - pd.Timedelta(days=1)).year)
    history = weekly_series(wh, monday, forecast_cfg, settings.new_window_days)
    problems: list[str] = []
    result: GapResult | None = None
    budget: BudgetRun | None = None
    try:
        if forecaster is None:
            raise MemberwiseError("no forecast model passed its gate")
        result = kpi_gap(
            wh, period, None, settings, forecaster, monday.date(), forecast_cfg, trigger, history
        )
    except Exception as err:  # noqa: BLE001 - reported, the models stay promoted
        problems.append(f"KPI gap {period}: {err}")
    try:
        budget = allocate(
            wh, settings, budget_cfg.default_budget, "max-revenue", None, None, trigger, budget_cfg, cutoff,
            scores,
        )  # fmt: skip
    except Exception as err:  # noqa: BLE001 - reported, the models stay promoted
        problems.append(f"budget plan: {err}")
    inputs = PlanningInputs(
        monday,
        history,
        kpi_targets(wh),
        budget.cells if budget else None,
        budget_cfg,
        forecast_cfg,
        budget.allocation.plan if budget else None,
        budget.contacts if budget else None,
    )
    for problem in problems:
        log.warning("planning: %s", problem)
    return PlanSummary(inputs, result, budget, problems)
