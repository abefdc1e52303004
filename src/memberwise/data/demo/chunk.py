"""Everything generated for one slice of people, so a million members fit in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memberwise.data.demo.accounts import make_accounts, person_labels
from memberwise.data.demo.activity import make_interactions, make_orders
from memberwise.data.demo.campaigns import Campaign, make_touches
from memberwise.data.demo.config import DemoConfig
from memberwise.data.demo.people import People, Season, alive_exposure


@dataclass
class Chunk:
    """Everything generated for one slice of people."""

    accounts: pd.DataFrame
    account_person: pd.DataFrame
    orders: pd.DataFrame
    interactions: pd.DataFrame
    touches: pd.DataFrame
    spend_last_year: np.ndarray
    spend_total: np.ndarray
    bought_before: np.ndarray  # a paid order before truth_as_of (a customer with a past order)
    bought_after: np.ndarray  # a paid order within the truth horizon after truth_as_of
    revenue_by_year: dict[int, float] = field(default_factory=dict)


def generate_chunk(
    cfg: DemoConfig,
    people: People,
    first_person: int,
    season: Season,
    campaigns: list[Campaign],
    hub_phones: np.ndarray,
    order_offset: int,
    rng: np.random.Generator,
) -> Chunk:
    """Accounts, orders, interactions and campaign touches of the people in one chunk."""
    person_ids = np.arange(first_person, first_person + len(people))
    accounts, account_of = make_accounts(cfg, people, person_ids, hub_phones, rng)
    exposure = alive_exposure(people, season)
    mult = season.multiplier[:, people.persona].T
    orders = make_orders(cfg, people, season, exposure, mult, account_of, rng)
    touches, extra = make_touches(people, campaigns, orders, account_of, cfg, rng)
    if not extra.empty:
        orders = pd.concat([orders, extra], ignore_index=True)
    orders = orders.sort_values("ordered_at", ignore_index=True)
    orders.insert(
        0, "order_id", np.char.add("O", np.char.mod("%010d", order_offset + np.arange(len(orders))))
    )
    interactions = (
        make_interactions(cfg, people, season, exposure, mult, account_of, rng)
        if "interactions" in cfg.params.tables
        else pd.DataFrame()
    )
    paid = orders["status"].eq("paid").to_numpy()
    row = orders["_person"].to_numpy()
    last_year = paid & (orders["ordered_at"].to_numpy() > cfg.end_ts - np.timedelta64(365, "D"))
    years = orders["ordered_at"].dt.year.to_numpy()
    as_of = np.datetime64(cfg.truth_as_of, "s")
    at = orders["ordered_at"].to_numpy().astype("datetime64[s]")
    after = paid & (at >= as_of) & (at < as_of + np.timedelta64(cfg.truth_horizon_days, "D"))
    return Chunk(
        accounts=accounts.drop(columns=["_person"]),
        account_person=pd.DataFrame(
            {
                "channel": accounts["channel"],
                "account_id": accounts["account_id"],
                "person_id": person_labels(accounts["_person"].to_numpy() + first_person),
            }
        ),
        orders=orders.drop(columns=["_person"]),
        interactions=interactions,
        touches=touches,
        spend_last_year=np.bincount(row[last_year], orders["amount"].to_numpy()[last_year], len(people)),
        spend_total=np.bincount(row[paid], orders["amount"].to_numpy()[paid], len(people)),
        bought_before=np.bincount(row[paid & (at < as_of)], minlength=len(people)) > 0,
        bought_after=np.bincount(row[after], minlength=len(people)) > 0,
        revenue_by_year={
            int(y): float(orders["amount"].to_numpy()[paid & (years == y)].sum()) for y in np.unique(years)
        },
    )
