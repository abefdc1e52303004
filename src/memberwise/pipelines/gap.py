"""KPI gap for a period: actual weeks before the cutoff + the champion forecast for the rest vs the target.

The cutoff is the Monday after the last complete week of orders (or the Monday on/before `as_of`), so
actual weeks and forecast weeks never overlap. The target comes from the caller or the kpi_targets
table (the row for exactly this period with no audience). One MLflow run per call (experiment "gap").
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import mlflow
import pandas as pd

from memberwise.config import ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling import gap
from memberwise.modeling.gap import GapResult
from memberwise.pipelines.forecast import weekly_series
from memberwise.planning_inputs import parse_period, project_gap, week_start  # noqa: F401 - parse_period re-exported
from memberwise.settings import Settings
from memberwise.tracking import data_fingerprint, experiment_id, log_figure, log_frame, run_tags
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)


def kpi_targets(wh: Warehouse) -> pd.DataFrame | None:
    """The kpi_targets table, when the brand provided one."""
    return wh.df("SELECT * FROM kpi_targets") if "kpi_targets" in wh.present else None


def default_cutoff(wh: Warehouse) -> pd.Timestamp:
    """The Monday after the last complete week of paid orders (a week in progress is forecast instead)."""
    last = wh.scalar("SELECT max(ordered_at) FROM orders WHERE status = 'paid'")
    if last is None or pd.isna(last):
        raise MemberwiseError("no paid orders: nothing to measure against a target")
    return week_start(pd.Timestamp(last) + pd.Timedelta(days=1))


def kpi_gap(
    wh: Warehouse,
    period: str,
    target: float | None,
    settings: Settings,
    forecaster: tuple[Any, str],
    as_of: date | None = None,
    cfg: ForecastConfig | None = None,
    trigger: str = "manual",
    history: pd.DataFrame | None = None,
) -> GapResult:
    """Target vs actual to date + forecast rest, per audience, with P(meet target); logged as a run.

    `forecaster` is (model, version); `history` the weekly sales before the cutoff when already built.
    """
    cfg = cfg or ForecastConfig()
    forecast_model, version = forecaster
    cutoff = week_start(as_of) if as_of is not None else default_cutoff(wh)
    if history is None:
        history = weekly_series(wh, cutoff, cfg, settings.new_window_days)
    result = project_gap(history, kpi_targets(wh), forecast_model, period, target, cutoff, cfg)
    log_gap_run(result, period, cutoff, version, target is None, data_fingerprint(wh), settings, trigger)
    return result


def log_gap_run(
    result: GapResult,
    period: str,
    cutoff: pd.Timestamp,
    version: str,
    from_table: bool,
    fingerprint: str,
    settings: Settings,
    trigger: str,
) -> None:
    """One run in experiment "gap": the numbers as metrics, the per-audience table, the waterfall."""
    tags = run_tags(trigger, fingerprint, str(cutoff.date()), kind="gap", period=period)
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "gap"),
        run_name=f"gap {period} as of {cutoff.date()}",
        nested=mlflow.active_run() is not None,
        tags=tags,
    ):
        mlflow.log_params(
            {"period": period, "cutoff": str(cutoff.date()), "forecast_version": version,
             "target_source": "kpi_targets" if from_table else "given"}
        )  # fmt: skip
        metrics = {**result.metrics(), "error_correlation": result.correlation}
        for row in result.per_audience.itertuples():
            metrics[f"actual_to_date_{row.audience}"] = float(row.actual_to_date)
            metrics[f"forecast_rest_{row.audience}"] = float(row.forecast_rest)
        mlflow.log_metrics(metrics)
        log_frame(result.per_audience, "per_audience")
        if result.weekly is not None:  # the forward forecast, week by week
            log_frame(result.weekly, "forecast_weeks")
        log_figure(gap.waterfall_figure(result), "waterfall")
        if "model" in result.per_audience:  # which model forecast each audience
            mlflow.set_tags({f"model.{row.audience}": row.model for row in result.per_audience.itertuples()})
    log.info(
        "gap %s: projected %.0f of %.0f (%.1f%%), P(meet) %.2f",
        period, result.projected_total, result.target, 100 * result.achievement_rate, result.p_meet_target,
    )  # fmt: skip
