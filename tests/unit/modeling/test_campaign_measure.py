"""Campaign measurement on planted per-touch frames: intervals that cover, flags, thin rule, ROI by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.campaign_measure import MIXED, measure_campaigns, report_columns
from memberwise.modeling.response import arm_differences

STRATEGY = {"delivery": "private_domain", "promotion": "none", "communication": "sms",
            "activity": "member_day"}  # fmt: skip


def touches(
    campaign: str,
    group: str,
    converted: list[float] | np.ndarray,
    revenue: list[float] | np.ndarray | None = None,
    **columns: object,
) -> pd.DataFrame:
    """Per-(campaign, member) rows as campaign_outcomes.touch_outcomes gives them."""
    converted = np.asarray(converted, dtype=float)
    n = len(converted)
    frame = pd.DataFrame(
        {
            "campaign_id": campaign,
            "member_id": [f"{campaign}-{group}-{i}" for i in range(n)],
            "audience": "returning_member",
            **STRATEGY,
            "group": group,
            "cost": 1.0 if group == "treatment" else 0.0,
            "touches": 1,
            "both_groups": False,
            "window_closed": True,
            "converted": converted,
            "orders": converted,
            "revenue": np.asarray(revenue, float) if revenue is not None else 100.0 * converted,
            "coupon_used": 0.0,
            "clicks": 0.0,
            "clicked": 0.0,
            "repeat_7d": np.where(converted > 0, 0.0, np.nan),
            "repeat_30d": np.where(converted > 0, 0.0, np.nan),
        }
    )
    return frame.assign(**columns)


def experiment(
    campaign: str, n_t: int, n_c: int, p_t: float, p_c: float, rng: np.random.Generator
) -> pd.DataFrame:
    """A randomised campaign: n_t treated converting with p_t, n_c controls with p_c."""
    return pd.concat(
        [
            touches(campaign, "treatment", rng.random(n_t) < p_t),
            touches(campaign, "control", rng.random(n_c) < p_c),
        ]
    )


def campaign_rows(report: pd.DataFrame) -> pd.DataFrame:
    return report[report["audience"] == "all"].set_index("campaign_id")


def test_intervals_cover_the_planted_uplift_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(3)
    frame = pd.concat([experiment(f"C{i:03d}", 400, 100, 0.13, 0.10, rng) for i in range(300)])
    rows = campaign_rows(measure_campaigns(frame))
    covered = (rows["uplift_low"] <= 0.03) & (rows["uplift_high"] >= 0.03)
    assert 0.91 <= covered.mean() <= 0.99  # a missing control variance would cover ~60%
    assert rows["conversion_treated"].mean() == pytest.approx(0.13, abs=0.005)
    assert rows["conversion_control"].mean() == pytest.approx(0.10, abs=0.005)
    assert rows["uplift"].mean() == pytest.approx(0.03, abs=0.005)
    # Revenue is 100 per order here, so revenue per contact is 100 x the order uplift.
    assert np.allclose(rows["incremental_revenue_per_contact"], 100 * rows["incremental_orders_per_contact"])


def test_uplift_is_the_allocators_arm_difference() -> None:
    frame = experiment("C1", 500, 200, 0.2, 0.1, np.random.default_rng(1))
    row = campaign_rows(measure_campaigns(frame)).loc["C1"]
    diff = arm_differences(frame, []).iloc[0]
    assert row["uplift"] == pytest.approx(diff["converted_uplift"])
    half = (row["uplift_high"] - row["uplift_low"]) / 2
    assert half == pytest.approx(1.959964 * np.sqrt(diff["converted_var"]))


def test_one_row_per_campaign_then_per_cell_with_mixed_strategy_labels() -> None:
    rng = np.random.default_rng(2)
    a = experiment("C1", 300, 100, 0.2, 0.1, rng)
    b = experiment("C1", 300, 100, 0.3, 0.1, rng).assign(audience="new_member", promotion="small_coupon")
    b["member_id"] = "b" + b["member_id"]
    report = measure_campaigns(pd.concat([a, b]))
    assert list(report.columns) == report_columns()
    assert list(report["audience"]) == ["all", "new_member", "returning_member"]
    top = report.iloc[0]
    assert top["promotion"] == MIXED and top["delivery"] == "private_domain"
    assert top["treated"] == 600 and top["control"] == 200
    assert report.iloc[1:]["treated"].sum() == 600
    assert report.loc[1, "uplift"] > report.loc[2, "uplift"]  # the planted 0.2 vs 0.1 points


def test_rates_roi_coupon_and_repeat_by_hand() -> None:
    treated = touches(
        "C1", "treatment", [1, 1, 0, 0], [100, 50, 0, 0], cost=2.0, clicked=[1.0, 0.0, 1.0, 0.0],
        coupon_used=[1.0, 0.0, 0.0, 0.0], repeat_7d=[1.0, np.nan, np.nan, np.nan],
        repeat_30d=[1.0, 0.0, np.nan, np.nan],
    )  # fmt: skip
    control = touches("C1", "control", [1, 0, 0, 0], [40, 0, 0, 0], repeat_30d=[1.0, np.nan, np.nan, np.nan])
    row = campaign_rows(measure_campaigns(pd.concat([treated, control]))).loc["C1"]
    assert row["uplift"] == pytest.approx(0.25)
    assert row["incremental_revenue_per_contact"] == pytest.approx(27.5)  # 37.5 - 10
    assert row["incremental_revenue"] == pytest.approx(110.0)
    assert row["cost"] == pytest.approx(8.0)
    assert row["incremental_roi"] == pytest.approx(110.0 / 8.0)
    assert row["click_rate_treated"] == pytest.approx(0.5) and row["click_rate_control"] == 0.0
    assert row["coupon_redemption"] == pytest.approx(0.5)
    assert row["repeat_7d_treated"] == 1.0  # the censored converter is left out
    assert row["repeat_30d_treated"] == pytest.approx(0.5) and row["repeat_30d_control"] == 1.0


def test_no_control_is_flagged_never_given_an_uplift() -> None:
    frame = touches("C9", "treatment", np.random.default_rng(4).random(500) < 0.2)
    row = campaign_rows(measure_campaigns(frame)).loc["C9"]
    assert row["no_control"] and row["thin"]
    assert row["control"] == 0 and row["treated"] == 500
    assert np.isnan(row["uplift"]) and np.isnan(row["uplift_low"]) and np.isnan(row["incremental_roi"])
    assert row["conversion_treated"] == pytest.approx(0.2, abs=0.05)


def test_members_in_both_groups_and_open_windows_are_left_out_and_counted() -> None:
    clean = experiment("C1", 400, 200, 0.2, 0.1, np.random.default_rng(5))
    # Conflicted members who all converted, and open-window ones who never did: either would move the
    # uplift if they were measured.
    both = touches("C1", "treatment", np.ones(30), both_groups=True)
    both["member_id"] = "x" + both["member_id"]
    both = pd.concat([both, both.assign(group="control")])
    still_open = touches("C1", "control", np.zeros(40), window_closed=False)
    still_open["member_id"] = "o" + still_open["member_id"]
    dirty = campaign_rows(measure_campaigns(pd.concat([clean, both, still_open]))).loc["C1"]
    expected = campaign_rows(measure_campaigns(clean)).loc["C1"]
    assert dirty["conflicted_members"] == 60 and dirty["open_window_members"] == 40
    assert expected["conflicted_members"] == 0
    assert dirty["uplift"] == pytest.approx(expected["uplift"])
    assert dirty["control"] == expected["control"] == 200


def test_thin_rule_arm_size_and_interval_width() -> None:
    rng = np.random.default_rng(6)
    frame = pd.concat(
        [
            experiment("small", 20, 20, 0.02, 0.01, rng),  # too few members
            experiment("wide", 300, 60, 0.5, 0.4, rng),  # enough members, interval +-13 points
            experiment("solid", 20_000, 20_000, 0.06, 0.05, rng),  # +-0.5 points
        ]
    )
    thin = campaign_rows(measure_campaigns(frame))["thin"]
    assert thin.to_dict() == {"small": True, "solid": False, "wide": True}


def test_every_row_without_an_uplift_says_why() -> None:
    rng = np.random.default_rng(5)
    one_control = pd.concat([touches("C1", "treatment", rng.random(40) < 0.2), touches("C1", "control", [1])])
    no_control = touches("C2", "treatment", rng.random(40) < 0.2)
    measured = experiment("C3", 300, 100, 0.2, 0.1, rng)
    report = campaign_rows(measure_campaigns(pd.concat([one_control, no_control, measured])))
    assert report.loc["C1", "unmeasured"] == "1 member(s) in the smaller arm: a difference needs 2 in each"
    assert report.loc["C2", "unmeasured"] == "no control group"
    assert report.loc["C3", "unmeasured"] == "" and np.isfinite(report.loc["C3", "uplift"])
    assert (report["uplift"].isna() == (report["unmeasured"] != "")).all()


def test_a_control_group_still_in_its_window_is_not_called_missing() -> None:
    """A 365-day window on the demo brand: 31 campaigns were reported 'without control' though all had one."""
    rng = np.random.default_rng(6)
    treated = touches("C1", "treatment", rng.random(40) < 0.2)
    waiting = touches("C1", "control", [0, 0, 1], window_closed=False)
    row = campaign_rows(measure_campaigns(pd.concat([treated, waiting]))).loc["C1"]
    assert not row["no_control"] and row["control"] == 0 and row["open_window_members"] == 3
    assert row["unmeasured"].startswith("every control member left out") and row["thin"]
    treated_waiting = treated.assign(window_closed=False)
    row = campaign_rows(measure_campaigns(pd.concat([treated_waiting, waiting]))).loc["C1"]
    assert row["unmeasured"].startswith("every member left out") and not row["no_control"]
