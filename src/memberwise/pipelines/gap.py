"""KPI gap for a period: actual weeks before the cutoff + the champion forecast for the rest vs the target.

The cutoff is the Monday after the last complete week of orders (or the Monday on/before `as_of`), so
actual weeks and forecast weeks never overlap. The target comes from the caller or the kpi_targets
table (the row for exactly this period with no audience). One MLflow run per call (experiment "gap").
"""

from __future__ import annotations

import logging
import re
from datetime import date

import mlflow
import pandas as pd

from memberwise.config import ForecastConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling import gap
from memberwise.modeling.forecaster import RNNForecaster
from memberwise.modeling.gap import GapResult
from memberwise.pipelines.forecast import load_forecaster, week_start, weekly_series
from memberwise.settings import Settings
from memberwise.tracking import data_fingerprint, experiment_id, log_figure, log_frame, run_tags
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
_PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]))?$")


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


def kpi_targets(wh: Warehouse) -> pd.DataFrame | None:
    """The kpi_targets table, when the brand provided one."""
    return wh.df("SELECT * FROM kpi_targets") if "kpi_targets" in wh.present else None


def default_cutoff(wh: Warehouse) -> pd.Timestamp:
    """The Monday after the last complete week of paid orders (a week in progress is forecast instead)."""
    last = wh.scalar("SELECT max(ordered_at) FROM orders WHERE status = 'paid'")
    if last is None or pd.isna(last):
        raise MemberwiseError("no paid orders: nothing to measure against a target")
    return week_start(pd.Timestamp(last) + pd.Timedelta(days=1))


def project_gap(
    history: pd.DataFrame,
    targets: pd.DataFrame | None,
    forecast_model: RNNForecaster,
    period: str,
    target: float | None,
    cutoff: pd.Timestamp,
    cfg: ForecastConfig,
) -> GapResult:
    """Actual weeks of the period before the cutoff + the forecast for the rest, against the target.

    Shared by the batch run (history from the warehouse) and the service (history saved by retrain).
    """
    start, end = parse_period(period)
    resolved = target if target is not None else brand_target(targets, start, end)
    if resolved is None:
        raise MemberwiseError(f"no target for {period}: pass one or add a kpi_targets row for that period")
    horizon = max(0, (week_start(end - pd.Timedelta(days=1)) - cutoff) // pd.Timedelta(weeks=1) + 1)
    forecast = forecast_model.predict(history, cutoff, horizon) if horizon else _no_forecast()
    actuals = history[history["week"] >= week_start(start)]
    return gap.kpi_gap(
        actuals, forecast, resolved, start, end, cfg.gap.correlation, cfg.gap.simulations, cfg.gap.seed
    )


def kpi_gap(
    wh: Warehouse,
    period: str,
    target: float | None,
    settings: Settings,
    forecast_model: RNNForecaster | None = None,
    as_of: date | None = None,
    cfg: ForecastConfig | None = None,
    trigger: str = "manual",
) -> GapResult:
    """Target vs actual to date + forecast rest, per audience, with P(meet target); logged as a run."""
    cfg = cfg or ForecastConfig()
    version = "given"
    if forecast_model is None:
        forecast_model, version = load_forecaster(settings)
    cutoff = week_start(as_of) if as_of is not None else default_cutoff(wh)
    history = weekly_series(wh, cutoff, cfg, settings.new_window_days)
    result = project_gap(history, kpi_targets(wh), forecast_model, period, target, cutoff, cfg)
    log_gap_run(result, period, cutoff, version, target is None, data_fingerprint(wh), settings, trigger)
    return result


def _no_forecast() -> pd.DataFrame:
    return pd.DataFrame({"week": pd.to_datetime([]), "audience": [], "q10": [], "q50": [], "q90": []})


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
        metrics = result.metrics()
        for row in result.per_audience.itertuples():
            metrics[f"actual_to_date_{row.audience}"] = float(row.actual_to_date)
            metrics[f"forecast_rest_{row.audience}"] = float(row.forecast_rest)
        mlflow.log_metrics(metrics)
        log_frame(result.per_audience, "per_audience")
        log_figure(gap.waterfall_figure(result), "waterfall")
    log.info(
        "gap %s: projected %.0f of %.0f (%.1f%%), P(meet) %.2f",
        period, result.projected_total, result.target, 100 * result.achievement_rate, result.p_meet_target,
    )  # fmt: skip
