"""Campaign commands: measure what past campaigns did against their control groups; learn uplift."""

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
    shown = campaigns[_SHOWN].head(20).round(4).assign(thin=campaigns["thin"].map({True: "yes", False: "no"}))
    show(shown.astype(object).where(shown.notna(), "-"), f"{len(campaigns)} campaign(s), first 20")
    why = campaigns.loc[campaigns["unmeasured"] != "", "unmeasured"].value_counts()
    if len(why):
        counts = "; ".join(f"{reason}: {count:,}" for reason, count in why.items())
        console.print(f"campaigns without an uplift ('unmeasured' column): {counts}")
    flagged = {
        "thin cells": int(report.table.loc[~is_campaign, "thin"].sum()),
        "campaigns without control": int(campaigns["no_control"].sum()),
        "members in both groups (left out)": int(campaigns["conflicted_members"].sum()),
        "members with an open window (left out)": int(campaigns["open_window_members"].sum()),
        "touches after the snapshot (rejected)": rejected,
    }
    console.print("; ".join(f"{name}: {count:,}" for name, count in flagged.items()))
    console.print(f"{report.path} written (MLflow run {report.run_id})")


@app.command("uplift")
def uplift(
    data: DataOption,
    window_days: Annotated[
        int, typer.Option(min=1, max=365, help="Response window after each touch, in days")
    ] = 14,
    as_of: OptionalAsOf = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Learn who responds to a contact from past campaigns, and judge it on the latest ones.

    An X-learner over LightGBM learns each member's uplift (treated minus control conversion) from the
    campaign history; the latest quarter of campaigns is held out. Prints the Qini coefficient and the
    incremental conversions in the top 20% for uplift, propensity and random targeting, and the verdict:
    whether /select and the allocator's member lists should rank by uplift (a retrain applies it).
    MLflow experiment memberwise-uplift. docs/uplift.md.
    """
    import pandas as pd

    from memberwise.pipelines.uplift import train_uplift

    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    run = train_uplift(prepared.duckdb("uplift"), settings, cutoff, window_days)
    verdict = run.verdict
    top = "incremental conversions, top 20%"
    figures = pd.DataFrame({"qini": verdict.qini, top: verdict.incremental_top})
    title = f"{verdict.holdout_touches:,} held-out touches (propensity: {verdict.propensity_source})"
    show(figures.rename_axis("ranking").reset_index().round(4), title)
    console.print(("uplift wins: " if verdict.uplift_wins else "propensity kept: ") + verdict.reason)
    console.print(f"MLflow run {run.run_id}")
