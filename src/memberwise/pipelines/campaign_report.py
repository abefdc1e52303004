"""Campaign report run: per-touch outcomes -> measurement per campaign and cell -> CSV and an MLflow run.

The run goes to the budget experiment (kind "campaign-report"): the allocator's response estimates come
from the same outcomes and the same treatment-minus-control step, so the two sit side by side.
See docs/campaigns.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memberwise.errors import MemberwiseError
from memberwise.modeling.campaign_measure import ALL, measure_campaigns
from memberwise.modeling.response import CELL
from memberwise.pipelines.campaign_outcomes import touch_outcomes
from memberwise.settings import Settings
from memberwise.tracking import data_fingerprint, experiment_id, log_figure, log_frame, run_tags
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
REPORT_FILE = "campaign_report.csv"
FIGURE_ROWS = 40  # rows per figure panel: the largest by treated count, so the figure stays readable


@dataclass
class CampaignReport:
    """What `campaign_report` returns: the table written, where, and the MLflow run."""

    table: pd.DataFrame
    path: Path
    run_id: str


def late_touches(rejects: pd.DataFrame) -> int:
    """Touches validation rejected for being after the snapshot (they never reach the measurement)."""
    if rejects.empty:
        return 0
    late = (rejects["table"] == "campaign_touches") & rejects["reasons"].str.contains(
        "touched_at:after_snapshot", regex=False
    )
    return int(late.sum())


def campaign_report(
    wh: Warehouse,
    settings: Settings,
    out: Path,
    as_of: date,
    window_days: int = 14,
    campaign: str | None = None,
    rejected_late: int = 0,
    trigger: str = "manual",
) -> CampaignReport:
    """Measure every campaign (or one) whose touches are in `wh`; write OUT/campaign_report.csv; log a run.

    `as_of` is the cutoff: touches whose response window runs past it are left out and counted.
    `rejected_late` is the number of touches validation rejected as after the snapshot (reported only).
    """
    if "campaign_touches" not in wh.present:
        raise MemberwiseError("the data has no campaign_touches table: there are no campaigns to measure")
    touches = touch_outcomes(wh, window_days, as_of)
    if touches.empty:
        raise MemberwiseError("campaign_touches has no valid touches: nothing to measure")
    if campaign is not None:
        if campaign not in set(touches["campaign_id"]):
            raise MemberwiseError(f"--campaign {campaign}: no touches of that campaign in campaign_touches")
        touches = touches[touches["campaign_id"] == campaign]
    table = measure_campaigns(touches)
    path = out / REPORT_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    except OSError as err:
        raise MemberwiseError(f"{out}: cannot write {REPORT_FILE}: {err.strerror or err}") from err
    run_id = log_report_run(table, data_fingerprint(wh), settings, as_of, window_days, rejected_late, trigger)
    return CampaignReport(table, path, run_id)


def key_figures(table: pd.DataFrame, rejected_late: int) -> dict[str, float]:
    """The run's metrics: what was measured, what was flagged, and the campaigns' totals."""
    campaigns = table[table["audience"] == ALL]
    cells = table[table["audience"] != ALL]
    measured = campaigns[campaigns["uplift"].notna()]
    cost = float(measured["cost"].sum())
    revenue = float(measured["incremental_revenue"].sum())
    return {
        "campaigns": float(len(campaigns)),
        "measured_campaigns": float(len(measured)),
        "no_control_campaigns": float(campaigns["no_control"].sum()),
        "cells": float(len(cells)),
        "thin_cells": float(cells["thin"].sum()),
        "conflicted_members": float(campaigns["conflicted_members"].sum()),
        "open_window_members": float(campaigns["open_window_members"].sum()),
        "rejected_late_touches": float(rejected_late),
        "incremental_orders": float(measured["incremental_orders"].sum()),
        "incremental_revenue": revenue,
        "cost": cost,
        "incremental_roi": revenue / cost if cost > 0 else float("nan"),
        "mean_uplift": float(measured["uplift"].mean()) if len(measured) else float("nan"),
    }


def log_report_run(
    table: pd.DataFrame,
    fingerprint: str,
    settings: Settings,
    as_of: date,
    window_days: int,
    rejected_late: int,
    trigger: str,
) -> str:
    """One run in the budget experiment: the table, key figures, the uplift figure."""
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "campaigns"),
        run_name=f"campaign report {as_of}",
        nested=mlflow.active_run() is not None,
        tags={**run_tags(trigger, fingerprint, str(as_of)), "kind": "campaign-report"},
    ) as run:
        mlflow.log_params({"window_days": window_days, "as_of": str(as_of)})
        figures = key_figures(table, rejected_late)
        mlflow.log_metrics({k: v for k, v in figures.items() if np.isfinite(v)})
        log_frame(table, "campaign_report")
        log_figure(uplift_figure(table), "uplift_by_campaign_and_cell")
    return run.info.run_id


def uplift_figure(table: pd.DataFrame) -> Figure:
    """Conversion uplift (points) with 95% intervals: campaigns left, audience x strategy cells right."""
    panels = {
        "campaign": table[table["audience"] == ALL],
        "cell": table[table["audience"] != ALL],
    }
    tallest = max(min(len(p), FIGURE_ROWS) for p in panels.values())
    fig = Figure(figsize=(16, 0.22 * tallest + 2.5))
    for ax, (kind, rows) in zip(fig.subplots(1, 2), panels.items(), strict=True):
        rows = rows[rows["uplift"].notna()].nlargest(FIGURE_ROWS, "treated").iloc[::-1]
        labels = rows["campaign_id"] + (
            "" if kind == "campaign" else " " + rows[list(CELL)].astype(str).agg("/".join, axis=1)
        )
        y = np.arange(len(rows))
        error = 100 * np.vstack([rows["uplift"] - rows["uplift_low"], rows["uplift_high"] - rows["uplift"]])
        colors = np.where(rows["thin"], "0.6", "C0")
        for i in range(len(rows)):
            ax.errorbar(100 * rows["uplift"].iloc[i], y[i], xerr=error[:, i : i + 1], fmt="o",
                        color=colors[i], markersize=3, capsize=2)  # fmt: skip
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, labels, fontsize=6)
        ax.set(xlabel="conversion uplift (points), 95% interval; grey = thin",
               title=f"per {kind} (largest {len(rows)} by treated)")  # fmt: skip
    fig.tight_layout()
    return fig
