"""Orders and interactions of a chunk of people, drawn from their rates, season and persona mixes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.data.contract import CHANNELS
from memberwise.data.demo.accounts import where_kept
from memberwise.data.demo.brand import (
    AOV,
    CATEGORIES,
    CATEGORY_WEIGHT,
    CHANNEL_WEIGHT,
    COUPON_P,
    ENGAGE_PER_WEEK,
    EVENT_WEIGHT,
    EVENTS,
    GIFT_P,
    REFUND_P,
)
from memberwise.data.demo.config import DemoConfig
from memberwise.data.demo.people import People, Season, events_from_rates, weighted_choice


def order_channels(people: People, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A channel per event: the persona's channel mix among the channels the person holds."""
    return weighted_choice(CHANNEL_WEIGHT[people.persona[rows]] * people.holds[rows], rng)


def make_orders(
    cfg: DemoConfig,
    people: People,
    season: Season,
    exposure: np.ndarray,
    mult: np.ndarray,
    account_of: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Orders while alive (plus one at acquisition for most): basket, coupon, gift and refund by persona."""
    expected = (people.rate[:, None] / 52.18) * exposure * mult
    rows, at = events_from_rates(expected, season, rng)
    keep = (at >= people.acquired_at[rows]) & (at < people.lapses_at[rows]) & (at <= cfg.end_ts)
    rows, at = rows[keep], at[keep]
    last = cfg.end_ts - np.timedelta64(3600, "s")
    recorded = (people.acquired_at >= cfg.start_ts) & (people.acquired_at <= last)  # within the data period
    first = np.flatnonzero(people.buys_at_acquisition & recorded)
    rows = np.concatenate([first, rows])
    at = np.concatenate(
        [people.acquired_at[first] + rng.integers(0, 3600, len(first)).astype("timedelta64[s]"), at]
    )
    n = len(rows)
    persona = people.persona[rows]
    week = np.clip(np.searchsorted(season.week_start.astype("datetime64[s]"), at, side="right") - 1, 0, None)
    promo = season.promo_week[week]
    channel = order_channels(people, rows, rng)
    gift = rng.random(n) < GIFT_P[persona]
    sigma = 0.45
    aov = AOV * cfg.params.aov_scale
    gross = rng.lognormal(np.log(aov[persona]) - sigma**2 / 2, sigma) * np.where(gift, 1.3, 1.0)
    coupon = rng.random(n) < np.clip(COUPON_P[persona] + 0.15 * promo, 0, 1)
    rate = np.where(
        coupon,
        rng.uniform(0.10, 0.30, n),
        np.where(promo & (rng.random(n) < 0.3), rng.uniform(0.05, 0.15, n), 0.0),
    )
    discount = np.round(gross * rate, 2)
    pos = channel == CHANNELS.index("pos")
    return pd.DataFrame(
        {
            "_person": rows,
            "channel": np.array(CHANNELS)[channel],
            "account_id": account_of[rows, channel],
            "ordered_at": at,
            "amount": np.round(gross - discount, 2),
            "discount": discount,
            "coupon_used": coupon,
            "category": np.array(CATEGORIES)[weighted_choice(CATEGORY_WEIGHT[persona], rng)],
            "store_id": where_kept(pos, np.char.mod("S%04d", people.store[rows])),
            "is_gift": gift,
            "status": np.where(rng.random(n) < REFUND_P, "refunded", "paid"),
        }
    )


def make_interactions(
    cfg: DemoConfig,
    people: People,
    season: Season,
    exposure: np.ndarray,
    mult: np.ndarray,
    account_of: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Engagement while alive (a trickle after lapsing), persona-specific event mix."""
    week_start = season.week_start.astype("datetime64[s]")
    acquired = (week_start[None, :] + np.timedelta64(7, "D")) > people.acquired_at[:, None]
    expected = (
        ENGAGE_PER_WEEK[people.persona][:, None]
        * (exposure + 0.03 * acquired * (1 - exposure))
        * np.sqrt(mult)
    )
    rows, at = events_from_rates(expected, season, rng)
    keep = (at >= people.acquired_at[rows]) & (at <= cfg.end_ts)
    rows, at = rows[keep], at[keep]
    event = weighted_choice(EVENT_WEIGHT[people.persona[rows]], rng)
    channel = order_channels(people, rows, rng)
    pos = CHANNELS.index("pos")
    checkin_at_store = (event == EVENTS.index("checkin")) & people.holds[rows, pos]
    channel = np.where(checkin_at_store, pos, channel)
    return pd.DataFrame(
        {
            "channel": np.array(CHANNELS)[channel],
            "account_id": account_of[rows, channel],
            "occurred_at": at,
            "event": np.array(EVENTS)[event],
        }
    )
