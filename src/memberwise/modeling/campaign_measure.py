"""Campaign measurement: treated vs control per campaign and per audience x strategy cell, 95% intervals.

Input: one row per (campaign, member) from `pipelines.campaign_outcomes.touch_outcomes`. The differences
and their variances are `modeling.response.arm_differences` (the budget allocator's own first step), so
the report and the allocator cannot disagree on what a campaign did. Pure: frames in, frames out.
docs/campaigns.md has the columns, formulas and flags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memberwise.modeling.response import CELL, MIN_PER_ARM, STRATEGY, arm_differences

Z95 = 1.959964  # the same 95% normal quantile as response.hillstrom_arms
ALL = "all"  # the audience of a campaign's own row
MIXED = "mixed"  # a campaign row's strategy column when its cells differ on it
MIN_ARM = 30  # thin: fewer members than this in either arm ...
MAX_HALF_WIDTH = 0.05  # ... or a conversion-uplift interval wider than +-5 points
# report column -> the outcome whose treatment-minus-control it is
ESTIMATES = {
    "uplift": "converted",
    "incremental_orders_per_contact": "orders",
    "incremental_revenue_per_contact": "revenue",
}
REPEATS = ("repeat_7d", "repeat_30d")


def measure_campaigns(
    touches: pd.DataFrame, min_arm: int = MIN_ARM, max_half_width: float = MAX_HALF_WIDTH
) -> pd.DataFrame:
    """One row per campaign (audience "all") then one per cell within it; see docs/campaigns.md.

    Members in both groups of a campaign and touches whose window is still open are left out of the
    measurement and counted (`conflicted_members`, `open_window_members`) on every row of the campaign.
    """
    measured = touches[touches["window_closed"] & ~touches["both_groups"]]
    left_out = touches.assign(open=~touches["window_closed"]).groupby("campaign_id")
    flags = pd.DataFrame(
        {
            "conflicted_members": left_out["both_groups"].sum().astype(int),
            "open_window_members": left_out["open"].sum().astype(int),
        }
    )
    campaigns = _campaign_labels(touches).join(_level(measured, []))  # every campaign, measured or not
    cells = _level(measured, CELL)
    rows = pd.concat([campaigns.reset_index(), cells.reset_index()], ignore_index=True)
    rows = rows.merge(flags.reset_index(), on="campaign_id").fillna({"treated": 0, "control": 0})
    rows = rows.fillna({"reach": 0, "cost": 0.0})
    touched = _arms_touched(touches, rows)
    rows["no_control"] = ~touched["control"]  # no control touch at all, measured or left out
    rows["unmeasured"] = unmeasured(rows, touched)
    half_width = (rows["uplift_high"] - rows["uplift_low"]) / 2
    rows["thin"] = (
        (rows[["treated", "control"]].min(axis=1) < min_arm)
        | rows["uplift"].isna()
        | (half_width > max_half_width)
    )
    for column in ("treated", "control", "reach"):
        rows[column] = rows[column].astype(int)
    order = {"campaign_id": rows["campaign_id"], "_cell": rows["audience"] != ALL}
    rows = rows.assign(**order).sort_values(["campaign_id", "_cell", *CELL], kind="stable")
    return rows.drop(columns="_cell")[report_columns()].reset_index(drop=True)


def report_columns() -> list[str]:
    """The report's columns, in order (the contract of campaign_report.csv)."""
    estimates = [f"{name}{s}" for name in ESTIMATES for s in ("", "_low", "_high")]
    repeats = [f"{r}_{arm}" for r in REPEATS for arm in ("treated", "control")]
    return [
        "campaign_id", *CELL, "treated", "control",
        "conversion_treated", "conversion_control", "uplift", "uplift_low", "uplift_high",
        "incremental_revenue_per_contact", "incremental_roi",
        *[e for e in estimates if e not in ("uplift", "uplift_low", "uplift_high",
                                            "incremental_revenue_per_contact")],
        "incremental_orders", "incremental_revenue", "reach", "cost",
        "click_rate_treated", "click_rate_control", "coupon_redemption", *repeats,
        "no_control", "thin", "conflicted_members", "open_window_members", "unmeasured",
    ]  # fmt: skip


def unmeasured(rows: pd.DataFrame, touched: pd.DataFrame) -> pd.Series:
    """Why a row has no uplift, in words ("" when it has one): empty figures never go unexplained.

    `touched` says, per row, whether the campaign / cell touched anyone in each arm (`treated`,
    `control`), measured or left out.
    """
    left_out = "left out (in both groups, or response window still open)"
    reasons = np.select(
        [
            rows["uplift"].notna(),
            ~touched["control"],
            ~touched["treated"],
            (rows["control"] == 0) & (rows["treated"] == 0),
            rows["control"] == 0,
            rows["treated"] == 0,
        ],
        ["", "no control group", "no treated member", f"every member {left_out}",
         f"every control member {left_out}", f"every treated member {left_out}"],
        default="",
    )  # fmt: skip
    few = rows[["treated", "control"]].min(axis=1)
    thin = (reasons == "") & rows["uplift"].isna()
    reasons[thin] = [
        f"{n:.0f} member(s) in the smaller arm: a difference needs {MIN_PER_ARM} in each" for n in few[thin]
    ]
    return pd.Series(reasons, index=rows.index, dtype=object)


def _arms_touched(touches: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Per report row: whether its campaign (audience "all") or cell touched anyone in each arm."""
    arms = touches.assign(treated=touches["group"] == "treatment", control=touches["group"] != "treatment")
    by_campaign = arms.groupby("campaign_id")[["treated", "control"]].any()
    by_cell = arms.groupby(["campaign_id", *CELL])[["treated", "control"]].any()
    is_campaign = (rows["audience"] == ALL).to_numpy()[:, None]
    campaign = by_campaign.reindex(rows["campaign_id"]).to_numpy()
    cell = by_cell.reindex(pd.MultiIndex.from_frame(rows[["campaign_id", *CELL]])).to_numpy()
    both = np.where(is_campaign, campaign, cell)
    return pd.DataFrame(both.astype(bool), columns=["treated", "control"], index=rows.index)


def _level(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Counts, arm rates and treatment-minus-control estimates per campaign_id + `keys`."""
    by = ["campaign_id", *keys]
    treated = frame["group"] == "treatment"
    converters = frame["converted"] > 0
    arm = {"treated": frame[treated].groupby(by), "control": frame[~treated].groupby(by)}
    out = pd.DataFrame(
        {
            "treated": arm["treated"].size(),
            "control": arm["control"].size(),
            "reach": arm["treated"]["touches"].sum(),
            "cost": frame.groupby(by)["cost"].sum(),
            "coupon_redemption": frame[treated & converters].groupby(by)["coupon_used"].mean(),
        }
    )
    for name, group in arm.items():
        out[f"conversion_{name}"] = group["converted"].mean()
        out[f"click_rate_{name}"] = group["clicked"].mean()
    for name, mask in (("treated", treated), ("control", ~treated)):
        repeat = frame[mask & converters].groupby(by)[list(REPEATS)].mean()  # censored (null) rows skipped
        for r in REPEATS:
            out[f"{r}_{name}"] = repeat[r]
    diffs = arm_differences(frame, keys, tuple(ESTIMATES.values())).set_index(by)
    for name, y in ESTIMATES.items():
        se = np.sqrt(diffs[f"{y}_var"])
        out[name] = diffs[f"{y}_uplift"]
        out[f"{name}_low"] = diffs[f"{y}_uplift"] - Z95 * se
        out[f"{name}_high"] = diffs[f"{y}_uplift"] + Z95 * se
    out["incremental_orders"] = out["incremental_orders_per_contact"] * out["treated"]
    out["incremental_revenue"] = out["incremental_revenue_per_contact"] * out["treated"]
    out["incremental_roi"] = out["incremental_revenue"] / out["cost"].where(out["cost"] > 0)
    return out.fillna({"treated": 0, "control": 0})


def _campaign_labels(touches: pd.DataFrame) -> pd.DataFrame:
    """A campaign row's strategy: each dimension's value when the whole campaign shares it, else "mixed"."""
    grouped = touches.groupby("campaign_id")[list(STRATEGY)]
    labels = grouped.first().where(grouped.nunique() == 1, MIXED)
    return labels.assign(audience=ALL)
