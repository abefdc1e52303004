"""KPI gap: actuals to date + forecast for the rest of the period vs the target, and P(meet target).

Boundary weeks count by the share of their days inside the period. The projection uses the forecast
medians. P(meet) simulates each (week, audience) from a split normal through its q10/q50/q90, with
errors tied across weeks and audiences by one common factor (correlation `rho`): a global model's
errors move together (a level that is off stays off), so independent weeks would be far too
confident; rho = 1 gives "sum of quantiles". See docs/forecast.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import norm

Z90 = float(norm.ppf(0.9))


@dataclass(frozen=True)
class GapResult:
    """The KPI picture for one period; `gap` > 0 is revenue still missing at the median projection."""

    period_start: pd.Timestamp
    period_end: pd.Timestamp  # exclusive
    target: float
    actual_to_date: float
    forecast_rest: float
    forecast_rest_q10: float
    forecast_rest_q90: float
    projected_total: float
    achievement_rate: float
    gap: float
    p_meet_target: float
    per_audience: (
        pd.DataFrame
    )  # audience, actual_to_date, forecast_rest, forecast_rest_q10/q90, projected_total[, model]
    correlation: float = 0.7  # the error correlation P(meet) used
    weekly: pd.DataFrame | None = None  # the forecast weeks overlapping the period (week, audience, ...)

    def metrics(self) -> dict[str, float]:
        """Flat numbers with stable names (MLflow metrics, API answers)."""
        names = ("target", "actual_to_date", "forecast_rest", "forecast_rest_q10", "forecast_rest_q90",
                 "projected_total", "achievement_rate", "gap", "p_meet_target")  # fmt: skip
        return {name: float(getattr(self, name)) for name in names}

    def forecast_weeks(self) -> list[dict[str, object]]:
        """The weekly forecast behind `forecast_rest` as records (whole weeks, before the period share)."""
        if self.weekly is None:
            return []
        weeks = self.weekly.assign(week=pd.to_datetime(self.weekly["week"]).dt.strftime("%Y-%m-%d"))
        return weeks.to_dict(orient="records")


def in_period_share(weeks: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """The share of each week's 7 days (Monday start) that falls in [start, end)."""
    first = np.maximum(weeks.to_numpy(), start.to_datetime64())
    last = np.minimum((weeks + pd.Timedelta(days=7)).to_numpy(), end.to_datetime64())
    return np.clip((last - first) / np.timedelta64(7, "D"), 0.0, 1.0)


def split_normal_draws(quantiles: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Map standard-normal draws z [sims, cells] through a split normal fitted to q10/q50/q90 [cells, 3]."""
    q10, q50, q90 = quantiles[:, 0], quantiles[:, 1], quantiles[:, 2]
    low, high = (q50 - q10) / Z90, (q90 - q50) / Z90
    return q50 + z * np.where(z < 0, low, high)


def p_meet(
    remaining: float, quantiles: np.ndarray, rho: float = 0.7, simulations: int = 20_000, seed: int = 0
) -> float:
    """P(sum of forecast cells >= remaining), cells' q10/q50/q90 [cells, 3] already weighted to the period."""
    if len(quantiles) == 0:
        return float(remaining <= 0)
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((simulations, 1))
    own = rng.standard_normal((simulations, len(quantiles)))
    z = np.sqrt(rho) * common + np.sqrt(1 - rho) * own
    totals = split_normal_draws(quantiles, z).sum(axis=1)
    return float(np.mean(totals >= remaining))


def kpi_gap(
    actuals: pd.DataFrame,
    forecast: pd.DataFrame,
    target: float,
    period_start: pd.Timestamp,
    period_end: pd.Timestamp,
    rho: float = 0.7,
    simulations: int = 20_000,
    seed: int = 0,
) -> GapResult:
    """Gap maths on tidy frames: actuals (week, audience, revenue), forecast (week, audience, q10/q50/q90).

    Both are weighted by each week's share of days inside [period_start, period_end); the caller keeps
    them disjoint (actual weeks before the cutoff, forecast weeks from it).
    """
    if target <= 0:
        raise ValueError(f"target must be positive, got {target}")
    done = actuals.assign(
        actual_to_date=actuals["revenue"] * in_period_share(actuals["week"], period_start, period_end)
    )
    share = in_period_share(forecast["week"], period_start, period_end)
    rest = forecast.assign(**{q: forecast[q] * share for q in ("q10", "q50", "q90")})
    rest = rest[share > 0]
    weekly = forecast[share > 0].reset_index(drop=True)
    per_audience = (
        done.groupby("audience", observed=True)["actual_to_date"].sum().to_frame()
        .join(rest.groupby("audience", observed=True)[["q50", "q10", "q90"]].sum(), how="outer")
        .fillna(0.0)
        .rename(columns={"q50": "forecast_rest", "q10": "forecast_rest_q10", "q90": "forecast_rest_q90"})
    )  # fmt: skip
    per_audience["projected_total"] = per_audience["actual_to_date"] + per_audience["forecast_rest"]
    if "model" in forecast:  # which model forecast each audience (a tournament's choice)
        models = forecast.groupby("audience", observed=True)["model"].first()
        per_audience["model"] = models.reindex(per_audience.index).fillna("none (no forecast weeks)")
    actual_total = float(per_audience["actual_to_date"].sum())
    forecast_total = float(per_audience["forecast_rest"].sum())
    projected = actual_total + forecast_total
    cells = rest[["q10", "q50", "q90"]].to_numpy()
    return GapResult(
        period_start=period_start,
        period_end=period_end,
        target=float(target),
        actual_to_date=actual_total,
        forecast_rest=forecast_total,
        forecast_rest_q10=float(per_audience["forecast_rest_q10"].sum()),
        forecast_rest_q90=float(per_audience["forecast_rest_q90"].sum()),
        projected_total=projected,
        achievement_rate=projected / target,
        gap=target - projected,
        p_meet_target=p_meet(target - actual_total, cells, rho, simulations, seed),
        per_audience=per_audience.rename_axis("audience").reset_index(),
        correlation=rho,
        weekly=weekly,
    )


def waterfall_figure(result: GapResult, unit: float = 1e6, unit_label: str = "M") -> Figure:
    """Target, then actual to date and each audience's forecast stacking up, then the gap to target."""
    labels, bottoms, heights, colours = ["target"], [0.0], [result.target], ["#4c72b0"]
    level = 0.0
    for label, value, colour in [("actual to date", result.actual_to_date, "#55a868")] + [
        (f"forecast\n{row.audience}", row.forecast_rest, "#8fbfe0")
        for row in result.per_audience.itertuples()
    ]:
        labels.append(label)
        bottoms.append(level)
        heights.append(value)
        colours.append(colour)
        level += value
    labels.append("gap" if result.gap > 0 else "surplus")
    bottoms.append(min(level, result.target))
    heights.append(abs(result.gap))
    colours.append("#c44e52" if result.gap > 0 else "#55a868")
    fig = Figure(figsize=(max(6.0, 1.1 * len(labels)), 4.5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(labels))
    ax.bar(x, np.array(heights) / unit, bottom=np.array(bottoms) / unit, color=colours)
    for i, (bottom, height) in enumerate(zip(bottoms, heights, strict=True)):
        ax.text(i, (bottom + height) / unit, f"{height / unit:,.2f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(result.target / unit, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(f"revenue ({unit_label})")
    ax.set_title(
        f"{result.period_start:%Y-%m-%d}..{result.period_end - pd.Timedelta(days=1):%Y-%m-%d}: "
        f"projected {result.achievement_rate:.1%} of target, P(meet) {result.p_meet_target:.0%}"
    )
    return fig
