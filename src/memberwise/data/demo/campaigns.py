"""Campaigns: planned audience x strategy, treatment/control touches and the orders their uplift causes.

Uplift is planted per member, not only per cell: a member's response type follows from observable
behaviour (purchase rate, persona: coupon use, app buying). Sure things (frequent buyers) gain
nothing from a contact, persuadables (deal hunters) gain several times the cell's uplift, sleeping dogs
(app-first buyers) cancel organic orders in the response window when contacted, and the rest gain the
cell's uplift. Within each campaign the positive effects are rescaled so the cell's mean effect per treated
contact stays the planted `true_uplift` (the cell-level estimates and budget tests rely on it).
"""

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
    PERSONAS,
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

RESPONSE_TYPES = ("ordinary", "sure_thing", "persuadable", "sleeping_dog")
# Effect of a contact relative to the cell's planted uplift, before the per-campaign rescaling of the
# positive types (sleeping dogs lose about one cell uplift of organic orders per contact).
RESPONSE_WEIGHT = np.array([1.0, 0.0, 4.0, -1.0])
SURE_THING_RATE = 14.0  # orders per year from which a member buys anyway
SLEEPING_DOG_DROP = 3.5  # x cell uplift: the chance each organic order in the window is lost when treated


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


def response_type(persona: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Index into RESPONSE_TYPES per person, from the latent parameters the features reveal.

    Frequent buyers are sure things; otherwise deal hunters (coupon users) are persuadable and app-first
    buyers (who find contacts intrusive) are sleeping dogs; everyone else responds as the cell does.
    """
    kind = np.zeros(len(persona), dtype=np.int64)
    kind[persona == PERSONAS.index("deal_hunter")] = 2
    kind[persona == PERSONAS.index("self_app")] = 3
    kind[rate >= SURE_THING_RATE] = 1
    return kind


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
    """Touches for every campaign among the eligible people, and the extra orders the uplift causes.

    The organic orders that treatment costs sleeping dogs are marked refunded in `orders`, in place: the
    contact put the member off an order they would have kept (cancelled or returned).
    """
    n = len(people)
    kind = response_type(people.persona, people.rate)
    paid = orders[orders["status"] == "paid"]
    lost: list[np.ndarray] = []
    kept = paid[["_person", "ordered_at"]]  # paid organic orders no contact has cancelled yet
    # The main stream makes exactly the draws of the cell-level generator (which had no member-level
    # uplift), so existing brands keep their touches, groups and control outcomes; what member-level
    # uplift adds (cancellations, conversions the cell-level draws lacked) draws from a stream of its own.
    side = rng.spawn(2)[
        1
    ]  # any child stream is valid; why this one: docs/uplift.md, "The demo's planted truth"
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
        p_convert, dropped = treatment_effects(c, rows[treated], at[treated], kind, kept, side)
        lost.append(dropped)
        kept = kept.drop(index=dropped)  # an order cancelled once cannot be cancelled again
        effect = np.zeros(len(rows))
        effect[treated] = p_convert
        u = rng.random(len(rows))
        cell_level = treated & (u < c.uplift)  # who the cell-level generator converted, with its draws
        converts = u < effect
        extra = pd.concat(
            [
                _extra_orders(c, rows, at, np.flatnonzero(cell_level), people, account_of, cfg, rng),
                _extra_orders(
                    c, rows, at, np.flatnonzero(converts & ~cell_level), people, account_of, cfg, side
                ),
            ],
            ignore_index=True,
        )
        extras.append(extra[converts[extra["_at"].to_numpy()]].drop(columns="_at"))
    orders.loc[np.unique(np.concatenate(lost or [np.zeros(0, np.int64)])), "status"] = "refunded"
    touch_frame = (
        pd.concat(touches, ignore_index=True)
        if touches
        else pd.DataFrame(columns=arrow_schema("campaign_touches").names)
    )
    extra_frame = pd.concat(extras, ignore_index=True) if extras else pd.DataFrame(columns=["_person"])
    return touch_frame, extra_frame


def treatment_effects(
    c: Campaign,
    rows: np.ndarray,
    at: np.ndarray,
    kind: np.ndarray,
    paid: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Per treated row the chance of an extra order, and the index of the organic orders treatment loses.

    Sleeping dogs cancel each paid order in their response window with probability SLEEPING_DOG_DROP x the
    cell's uplift; the positive types' chances are scaled so the expected orders gained minus lost per
    treated contact equals the cell's uplift.
    """
    dog = kind[rows] == RESPONSE_TYPES.index("sleeping_dog")
    touched_at = np.full(len(kind), np.datetime64("NaT"), dtype="datetime64[s]")
    touched_at[rows[dog]] = at[dog]
    mine = paid[paid["_person"].isin(rows[dog])]
    start = touched_at[mine["_person"].to_numpy()]
    ordered = mine["ordered_at"].to_numpy().astype("datetime64[s]")
    window = (ordered > start) & (ordered <= start + np.timedelta64(RESPONSE_WINDOW_DAYS, "D"))
    drop_p = min(1.0, SLEEPING_DOG_DROP * c.uplift)
    candidates = mine.index.to_numpy()[window]
    dropped = candidates[rng.random(len(candidates)) < drop_p]
    weight = np.clip(RESPONSE_WEIGHT[kind[rows]], 0.0, None)
    wanted = c.uplift * len(rows) + drop_p * len(candidates)
    scale = wanted / (c.uplift * weight.sum()) if weight.sum() > 0 else 1.0
    return np.clip(c.uplift * weight * scale, 0.0, 1.0), dropped


def _extra_orders(
    c: Campaign,
    rows: np.ndarray,
    at: np.ndarray,
    picked: np.ndarray,
    people: People,
    account_of: np.ndarray,
    cfg: DemoConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The orders of the touches at positions `picked` who convert; `_at` is each order's touch position."""
    buy_at = at[picked] + rng.integers(3600, RESPONSE_WINDOW_DAYS * SECONDS_PER_DAY, len(picked)).astype(
        "timedelta64[s]"
    )
    inside = buy_at <= cfg.end_ts
    position = picked[inside]
    person, channel = rows[position], people.primary[rows[position]]
    value = rng.lognormal(np.log(EXTRA_ORDER_VALUE[c.promotion]) - 0.125, 0.5, len(position))
    depth = {"none": 0.0, "small_coupon": 0.1, "deep_discount": 0.3}[c.promotion]
    return pd.DataFrame(
        {
            "_person": person,
            "channel": np.array(CHANNELS)[channel],
            "account_id": account_of[person, channel],
            "ordered_at": buy_at[inside],
            "amount": np.round(value, 2),
            "discount": np.round(value * depth / (1 - depth), 2),
            "coupon_used": c.promotion != "none",
            "category": np.array(CATEGORIES)[weighted_choice(CATEGORY_WEIGHT[people.persona[person]], rng)],
            "store_id": None,
            "is_gift": False,
            "status": "paid",
            "_at": position,
        }
    )
