"""Campaign commands: measure what past campaigns did against their control groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memberwise.cli.app import app
from memberwise.cli.options import DataOption, OptionalAsOf, SnapshotOption, prepare_at
from memberwise.cli.render import console, show

_SHOWN = ["campaign_id", "treated", "control", "uplift", "uplift_low", "uplift_high",
          "incremental_roi", "thin"]  # fmt: skip


@app.command("campaign-report")
def campaign_report(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Directory for campaign_report.csv")],
    window_days: Annotated[
        int, typer.Option(min=1, max=365, help="Response window after each touch, in days")
    ] = 14,
    campaign: Annotated[str | None, typer.Option(help="Measure this campaign_id only")] = None,
    as_of: OptionalAsOf = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Measure every campaign against its control group: uplift with 95% intervals, revenue, ROI.

    One row per campaign (audience "all") and one per audience x strategy cell within it: treated and
    control counts, click and conversion rates, conversion uplift (a fraction: 0.05 = 5 points),
    incremental orders and revenue per contact, coupon redemption, 7/30-day repeat, cost and incremental
    ROI (incremental revenue per yuan). Flags: thin (too few members or too wide an interval to trust),
    no_control (no uplift reported), members found in both groups (left out, counted). docs/campaigns.md.
    """
    from memberwise.modeling.campaign_measure import ALL
    from memberwise.pipelines.campaign_report import campaign_report as run
    from memberwise.pipelines.campaign_report import late_touches

    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    rejected = late_touches(prepared.data.rejects)
    report = run(prepared.duckdb("campaign-report"), settings, out, cutoff, window_days, campaign, rejected)
    is_campaign = report.table["audience"] == ALL
    campaigns = report.table[is_campaign]
    show(campaigns[_SHOWN].head(20).round(4), f"{len(campaigns)} campaign(s), first 20")
    flagged = {
        "thin cells": int(report.table.loc[~is_campaign, "thin"].sum()),
        "campaigns without control": int(campaigns["no_control"].sum()),
        "members in both groups (left out)": int(campaigns["conflicted_members"].sum()),
        "members with an open window (left out)": int(campaigns["open_window_members"].sum()),
        "touches after the snapshot (rejected)": rejected,
    }
    console.print("; ".join(f"{name}: {count:,}" for name, count in flagged.items()))
    console.print(f"{report.path} written (MLflow run {report.run_id})")
