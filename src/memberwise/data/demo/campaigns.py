"""Campaigns: planned audience x strategy, treatment/control touches and the orders their uplift causes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memberwise.data.contract import ACTIVITIES, AUDIENCES, CHANNELS, COMMUNICATIONS, DELIVERIES, PROMOTIONS
from memberwise.data.demo.brand import (
    CATEGORIES,
    CATEGORY_WEIGHT,
    COST_COMMUNICATION,
    COST_DELIVERY,
    COST_PROMOTION,
    EXTRA_ORDER_VALUE,
    NEW_WINDOW_DAYS,
    RESPONSE_WINDOW_DAYS,
    TREATMENT_SHARE,
    UPLIFT_AUDIENCE,
    UPLIFT_COMMUNICATION,
    UPLIFT_DELIVERY,
    UPLIFT_FIT,
    UPLIFT_PROMOTION,
)
from memberwise.data.demo.config import SECONDS_PER_DAY, DemoConfig
from memberwise.data.demo.people import People, Season, weighted_choice
from memberwise.data.demo.writer import arrow_schema


@dataclass
class Campaign:
    """One planned campaign: when, whom, which strategy, how many of the eligible it reaches."""

    campaign_id: str
    at: np.datetime64
    audience: str
    delivery: str
    promotion: str
    communication: str
    activity: str
    reach: float

    @property
    def uplift(self) -> float:
        return true_uplift(self.audience, self.delivery, self.promotion, self.communication, self.activity)

    @property
    def cost_per_contact(self) -> float:
        return (
            COST_COMMUNICATION[self.communication]
            + COST_DELIVERY[self.delivery]
            + COST_PROMOTION[self.promotion]
        )


def true_uplift(audience: str, delivery: str, promotion: str, communication: str, activity: str) -> float:
    """Incremental orders per treated contact within the response window (the planted truth)."""
    return (
        UPLIFT_COMMUNICATION[communication]
        * UPLIFT_PROMOTION[promotion]
        * UPLIFT_DELIVERY[delivery]
        * UPLIFT_AUDIENCE[audience]
        * UPLIFT_FIT[audience][activity]
    )


def uplift_table() -> pd.DataFrame:
    """True uplift for every audience x strategy cell."""
    cells = pd.MultiIndex.from_product(
        [AUDIENCES, DELIVERIES, PROMOTIONS, COMMUNICATIONS, ACTIVITIES],
        names=["audience", "delivery", "promotion", "communication", "activity"],
    ).to_frame(index=False)
    cells["incremental_orders_per_contact"] = [true_uplift(*row) for row in cells.itertuples(index=False)]
    cells["incremental_revenue_per_contact"] = cells["incremental_orders_per_contact"] * cells[
        "promotion"
    ].map(EXTRA_ORDER_VALUE)
    return cells


def plan_campaigns(cfg: DemoConfig, season: Season, rng: np.random.Generator) -> list[Campaign]:
    """Campaigns spread over the period (after a warm-up), each a random audience and strategy."""
    weeks = season.week_start[26:-3]
    dates = np.sort(rng.choice(weeks, size=cfg.campaigns)).astype("datetime64[s]")
    return [
        Campaign(
            campaign_id=f"CMP{i:04d}",
            at=date + np.timedelta64(int(rng.integers(0, 5)) * SECONDS_PER_DAY + 10 * 3600, "s"),
            audience=str(rng.choice(AUDIENCES)),
            delivery=str(rng.choice(DELIVERIES)),
            promotion=str(rng.choice(PROMOTIONS)),
            communication=str(rng.choice(COMMUNICATIONS)),
            activity=str(rng.choice(ACTIVITIES)),
            reach=float(rng.uniform(0.15, 0.4)),
        )
        for i, date in enumerate(dates)
    ]


def make_touches(
    people: People,
    campaigns: list[Campaign],
    orders: pd.DataFrame,
    account_of: np.ndarray,
    cfg: DemoConfig,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Touches for every campaign among the eligible people, and the extra orders the uplift causes."""
    n = len(people)
    paid = orders[orders["status"] == "paid"]
    first_buy = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    by_person = paid.groupby("_person")["ordered_at"].min()
    first_buy[by_person.index.to_numpy()] = by_person.to_numpy().astype("datetime64[s]")
    touches, extras = [], []
    new = np.timedelta64(NEW_WINDOW_DAYS, "D")
    for c in campaigns:
        member = people.enrolled_at <= c.at
        customer = ~member & (first_buy <= c.at)
        eligible = {
            "new_member": member & (people.enrolled_at > c.at - new),
            "returning_member": member & (people.enrolled_at <= c.at - new),
            "new_customer": customer & (first_buy > c.at - new),
            "returning_customer": customer & (first_buy <= c.at - new),
        }[c.audience]
        rows = np.flatnonzero(eligible & (rng.random(n) < c.reach))
        if len(rows) == 0:
            continue
        treated = rng.random(len(rows)) < TREATMENT_SHARE
        at = c.at + rng.integers(0, 2 * SECONDS_PER_DAY, len(rows)).astype("timedelta64[s]")
        channel = people.primary[rows]
        touches.append(
            pd.DataFrame(
                {
                    "campaign_id": c.campaign_id,
                    "channel": np.array(CHANNELS)[channel],
                    "account_id": account_of[rows, channel],
                    "touched_at": at,
                    "audience": c.audience,
                    "delivery": c.delivery,
                    "promotion": c.promotion,
                    "communication": c.communication,
                    "activity": c.activity,
                    "group": np.where(treated, "treatment", "control"),
                    "cost": np.where(treated, c.cost_per_contact, 0.0),
                }
            )
        )
        converts = treated & (rng.random(len(rows)) < c.uplift)
        buy_at = at[converts] + rng.integers(
            3600, RESPONSE_WINDOW_DAYS * SECONDS_PER_DAY, converts.sum()
        ).astype("timedelta64[s]")
        inside = buy_at <= cfg.end_ts
        conv_rows = rows[converts][inside]
        k = len(conv_rows)
        value = rng.lognormal(np.log(EXTRA_ORDER_VALUE[c.promotion]) - 0.125, 0.5, k)
        depth = {"none": 0.0, "small_coupon": 0.1, "deep_discount": 0.3}[c.promotion]
        extras.append(
            pd.DataFrame(
                {
                    "_person": conv_rows,
                    "channel": np.array(CHANNELS)[channel[converts][inside]],
                    "account_id": account_of[conv_rows, channel[converts][inside]],
                    "ordered_at": buy_at[inside],
                    "amount": np.round(value, 2),
                    "discount": np.round(value * depth / (1 - depth), 2),
                    "coupon_used": c.promotion != "none",
                    "category": np.array(CATEGORIES)[
                        weighted_choice(CATEGORY_WEIGHT[people.persona[conv_rows]], rng)
                    ],
                    "store_id": None,
                    "is_gift": False,
                    "status": "paid",
                }
            )
        )
    touch_frame = (
        pd.concat(touches, ignore_index=True)
        if touches
        else pd.DataFrame(columns=arrow_schema("campaign_touches").names)
    )
    extra_frame = pd.concat(extras, ignore_index=True) if extras else pd.DataFrame(columns=["_person"])
    return touch_frame, extra_frame
