"""A seeded, realistic demo brand with planted ground truth, written in the data contract.

People (not accounts) are simulated: each has a latent persona, an acquisition date, a lapse date
and a purchase rate. Purchases follow a Poisson process modulated by weekly seasonality and
promotion peaks (618, Double 11, Double 12, Chinese New Year, Mid-Autumn) while the person is alive.
Each person holds accounts in one or more of six channels, linked by phone hash, WeChat unionid
and member card (some have none; a few store phones are "hubs" typed for many customers).
Campaigns touch treatment/control groups with uplift depending on audience and strategy.

The ground truth goes to `<out>/truth/`, never into the contract tables: the person behind each
account, personas, true purchase probabilities, the true uplift per audience x strategy.
Generation is chunked over people so 1M members / 10M+ orders fit in memory and run in minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from memberwise.data.contract import ACTIVITIES, AUDIENCES, CHANNELS, COMMUNICATIONS, DELIVERIES, PROMOTIONS

PERSONAS = ("self_app", "gift_store", "deal_hunter", "lapsing_low")
CATEGORIES = ("skincare", "makeup", "fragrance", "body_care", "hair_care", "gift_sets", "men", "accessories")
CITIES = (
    ("Shanghai", "Shanghai"), ("Beijing", "Beijing"), ("Guangzhou", "Guangdong"), ("Shenzhen", "Guangdong"),
    ("Hangzhou", "Zhejiang"), ("Chengdu", "Sichuan"), ("Wuhan", "Hubei"), ("Nanjing", "Jiangsu"),
    ("Xi'an", "Shaanxi"), ("Chongqing", "Chongqing"),
)  # fmt: skip
EVENTS = ("visit", "click", "checkin", "share", "live_view", "add_to_cart", "favorite", "coupon_claim")

# Per persona, in PERSONAS order. Rates are orders per year while alive; lapse is per year.
SHARE = np.array([0.30, 0.25, 0.25, 0.20])
RATE_MEAN = np.array([11.0, 6.0, 10.0, 3.0])
LAPSE_PER_YEAR = np.array([0.35, 0.30, 0.55, 2.0])
AOV = np.array([260.0, 620.0, 140.0, 50.0])
COUPON_P = np.array([0.15, 0.08, 0.85, 0.05])  # lapsing-low buyers ignore coupons
GIFT_P = np.array([0.05, 0.70, 0.08, 0.05])
ENROLL_P = np.array([0.80, 0.60, 0.35, 0.20])
ENGAGE_PER_WEEK = np.array([0.45, 0.25, 0.35, 0.12])
BUY_AT_ACQUISITION_P = np.array([0.85, 0.80, 0.85, 0.70])
#                              app  wechat tmall  jd  douyin pos
CHANNEL_WEIGHT = np.array([[6.0, 2.0, 1.5, 0.5, 0.3, 0.3],
                           [0.5, 1.5, 0.6, 0.2, 0.1, 6.0],
                           [0.5, 0.3, 3.0, 3.0, 3.0, 0.2],
                           [0.3, 0.8, 2.0, 1.0, 3.0, 0.2]])  # fmt: skip
EXTRA_ACCOUNT_P = np.array([[0.0, 0.45, 0.30, 0.10, 0.05, 0.10],
                            [0.15, 0.40, 0.15, 0.05, 0.02, 0.0],
                            [0.10, 0.10, 0.40, 0.40, 0.40, 0.05],
                            [0.05, 0.15, 0.20, 0.10, 0.20, 0.02]])  # fmt: skip
CATEGORY_WEIGHT = np.array([[4, 3, 1, 2, 2, 0.3, 0.5, 1],
                            [1, 1, 4, 1, 0.5, 5, 1, 2],
                            [3, 3, 0.5, 2, 2, 0.5, 0.5, 0.5],
                            [3, 1, 0.2, 2, 2, 0.1, 0.5, 0.3]])  # fmt: skip
EVENT_WEIGHT = np.array([[4, 3, 0.2, 0.5, 1, 1, 0.5, 0.3],
                         [2.5, 1.5, 4.5, 0.3, 0.2, 0.3, 1, 0.5],
                         [2, 3, 0.2, 0.5, 1.5, 0.5, 0.5, 3],
                         [5, 3, 0.2, 0.2, 2, 0.3, 0.2, 0.5]])  # fmt: skip
REFUND_P = 0.03
HUB_ACCOUNTS = 80
HUB_ELIGIBLE_SHARE = 0.15  # roughly the share of people holding a pos account and a card
NEW_WINDOW_DAYS = 90
RESPONSE_WINDOW_DAYS = 14

# Promotion peaks: (name, month, day) for fixed-date festivals, plus Chinese New Year and Mid-Autumn.
CHINESE_NEW_YEAR = ("2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06")
MID_AUTUMN = ("2023-09-29", "2024-09-17", "2025-10-06", "2026-09-25")
# Weekly multiplier per persona in the peak week (and the week before for the festivals people prepare for).
PEAK_EFFECT = {
    "618": np.array([1.4, 1.2, 3.0, 1.5]),
    "double_11": np.array([1.7, 1.3, 3.5, 1.8]),
    "double_12": np.array([1.2, 1.2, 2.0, 1.3]),
    "pre_cny": np.array([1.3, 3.0, 1.2, 1.1]),
    "cny": np.array([0.6, 0.6, 0.6, 0.6]),
    "pre_mid_autumn": np.array([1.1, 2.2, 1.0, 1.0]),
    "member_day": np.array([1.25, 1.1, 1.05, 1.0]),
}

# Campaign uplift: incremental orders per contact = base(communication) x promotion x delivery x
# audience x fit(audience, activity). Incremental revenue per contact = that x mean extra order value.
UPLIFT_COMMUNICATION = {"sms": 0.012, "wecom": 0.035, "app_push": 0.008, "ai_call": 0.022}
UPLIFT_PROMOTION = {"none": 1.0, "small_coupon": 1.7, "deep_discount": 2.6}
UPLIFT_DELIVERY = {"paid_media": 1.25, "private_domain": 1.0}
UPLIFT_AUDIENCE = {"new_customer": 0.8, "returning_customer": 0.9, "new_member": 1.1, "returning_member": 1.3}
# Fit of an activity to an audience, activities in ACTIVITIES order:
# repurchase_coupon, new_product_trial, member_day, points_redemption.
UPLIFT_FIT = {
    audience: dict(zip(ACTIVITIES, fit, strict=True))
    for audience, fit in {
        "new_customer": (1.2, 1.4, 0.6, 0.3),
        "returning_customer": (1.5, 1.0, 0.6, 0.3),
        "new_member": (1.1, 1.3, 1.4, 0.8),
        "returning_member": (1.3, 0.9, 1.5, 1.4),
    }.items()
}
EXTRA_ORDER_VALUE = {"none": 220.0, "small_coupon": 200.0, "deep_discount": 160.0}  # mean paid amount
COST_COMMUNICATION = {"sms": 0.05, "wecom": 0.40, "app_push": 0.01, "ai_call": 0.90}
COST_DELIVERY = {"paid_media": 1.50, "private_domain": 0.0}
COST_PROMOTION = {"none": 0.0, "small_coupon": 2.0, "deep_discount": 8.0}
TREATMENT_SHARE = 0.85

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DemoConfig:
    """What to generate: size, seed, period, format, and whether to add invalid rows."""

    members: int = 20_000
    seed: int = 7
    start: str = "2023-01-02"
    end: str = "2026-11-15"  # the data snapshot: nothing is generated after it
    truth_as_of: str = "2026-08-17"
    truth_horizon_days: int = 90
    file_format: Literal["parquet", "csv"] = "parquet"
    dirty: bool = False
    chunk_people: int = 50_000
    campaigns: int = 120

    @property
    def start_ts(self) -> np.datetime64:
        return np.datetime64(self.start, "s")

    @property
    def end_ts(self) -> np.datetime64:
        return np.datetime64(self.end, "s") + np.timedelta64(SECONDS_PER_DAY - 1, "s")


@dataclass
class People:
    """Latent, person-level parameters (the truth behind every account)."""

    persona: np.ndarray
    acquired_at: np.ndarray  # datetime64[s]
    lapses_at: np.ndarray  # datetime64[s]; may lie after the snapshot
    rate: np.ndarray  # orders per year while alive
    buys_at_acquisition: np.ndarray
    enrolled_at: np.ndarray  # NaT when never enrolled
    has_phone: np.ndarray
    holds: np.ndarray  # [n, channels] bool
    primary: np.ndarray  # channel index
    gender: np.ndarray
    birth_year: np.ndarray
    city: np.ndarray
    store: np.ndarray

    def __len__(self) -> int:
        return len(self.persona)

    def take(self, rows: slice) -> People:
        """The people in a chunk."""
        return People(**{k: v[rows] for k, v in self.__dict__.items()})


@dataclass
class Season:
    """Weekly purchase multipliers per persona, and which promotion peaks fall in which week."""

    week_start: np.ndarray  # datetime64[D], Mondays
    multiplier: np.ndarray  # [weeks, personas]
    promo_week: np.ndarray  # bool [weeks]: a marketplace promotion peak

    @classmethod
    def build(cls, start: np.datetime64, end: np.datetime64) -> Season:
        first = start.astype("datetime64[D]")
        first -= (first.view("int64") - 4) % 7  # back to Monday (1970-01-05 was one)
        weeks = np.arange(first, end.astype("datetime64[D]") + 7, 7)
        day_of_year = (weeks - weeks.astype("datetime64[Y]")).astype(int)
        base = 1.0 + 0.12 * np.sin(2 * np.pi * (day_of_year - 80) / 365.25)
        mult = np.repeat(base[:, None], len(PERSONAS), axis=1)
        promo = np.zeros(len(weeks), dtype=bool)
        for name, dates, before in _peak_dates(weeks):
            for date in dates:
                hit = _week_index(weeks, date)
                targets = [hit - 1, hit] if before else [hit]
                for w in targets:
                    if 0 <= w < len(weeks):
                        mult[w] *= PEAK_EFFECT[name]
                        promo[w] |= name in ("618", "double_11", "double_12")
        return cls(weeks, mult, promo)


def _week_index(weeks: np.ndarray, date: np.datetime64) -> int:
    return int(np.searchsorted(weeks, date.astype("datetime64[D]"), side="right")) - 1


def _peak_dates(weeks: np.ndarray) -> Iterator[tuple[str, list[np.datetime64], bool]]:
    years = range(int(str(weeks[0])[:4]), int(str(weeks[-1])[:4]) + 1)
    fixed = {"618": (6, 18), "double_11": (11, 11), "double_12": (12, 12)}
    for name, (month, day) in fixed.items():
        yield name, [np.datetime64(f"{y}-{month:02d}-{day:02d}") for y in years], name != "double_12"
    yield "cny", [np.datetime64(d) for d in CHINESE_NEW_YEAR], False
    yield "pre_cny", [np.datetime64(d) - 10 for d in CHINESE_NEW_YEAR], True
    yield "pre_mid_autumn", [np.datetime64(d) - 7 for d in MID_AUTUMN], True
    yield "member_day", [np.datetime64(f"{y}-{m:02d}-08") for y in years for m in range(1, 13)], False


def sample_people(cfg: DemoConfig, rng: np.random.Generator) -> People:
    """Draw every person's latent parameters (vectorised; cheap even for millions)."""
    n = cfg.members
    persona = rng.choice(len(PERSONAS), size=n, p=SHARE)
    span = (cfg.end_ts - cfg.start_ts).astype("int64")
    growth = 0.35  # acquisitions grow ~35% a year, so sales grow too
    years = span / (365.25 * SECONDS_PER_DAY)
    u = rng.random(n)
    frac = np.log1p(u * np.expm1(growth * years)) / (growth * years)  # inverse CDF of an exponential ramp
    acquired = cfg.start_ts + (frac * span).astype("int64").astype("timedelta64[s]")
    lifetime_years = rng.exponential(1.0, n) / (LAPSE_PER_YEAR[persona] * rng.gamma(4.0, 0.25, n))
    lapses = acquired + (np.minimum(lifetime_years, 50) * 365.25 * SECONDS_PER_DAY).astype("timedelta64[s]")
    rate = rng.gamma(2.5, RATE_MEAN[persona] / 2.5)
    enroll_delay = (rng.exponential(45.0, n) * SECONDS_PER_DAY).astype("timedelta64[s]")
    enrolled = np.where(rng.random(n) < ENROLL_P[persona], acquired + enroll_delay, np.datetime64("NaT"))
    enrolled = np.where(enrolled <= cfg.end_ts, enrolled, np.datetime64("NaT"))
    has_phone = rng.random(n) < 0.93
    weights = CHANNEL_WEIGHT[persona]
    primary = _weighted_choice(weights, rng)
    holds = (rng.random((n, len(CHANNELS))) < EXTRA_ACCOUNT_P[persona]) & has_phone[:, None]
    holds[np.arange(n), primary] = True
    return People(
        persona=persona,
        acquired_at=acquired,
        lapses_at=lapses,
        rate=rate,
        buys_at_acquisition=rng.random(n) < BUY_AT_ACQUISITION_P[persona],
        enrolled_at=enrolled.astype("datetime64[s]"),
        has_phone=has_phone,
        holds=holds,
        primary=primary,
        gender=np.where(rng.random(n) < 0.72, "F", "M"),
        birth_year=rng.integers(1965, 2006, n),
        city=rng.choice(
            len(CITIES), size=n, p=np.linspace(2, 0.5, len(CITIES)) / np.linspace(2, 0.5, len(CITIES)).sum()
        ),
        store=rng.integers(0, max(20, n // 500), n),
    )


def _weighted_choice(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of a non-negative weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1)


def _exposure(people: People, season: Season) -> np.ndarray:
    """Fraction of each week [n, weeks] during which each person is alive (acquired, not lapsed)."""
    week_s = season.week_start.astype("datetime64[s]").view("int64")
    start = people.acquired_at.view("int64")[:, None]
    stop = people.lapses_at.view("int64")[:, None]
    overlap = np.minimum(stop, week_s[None, :] + 7 * SECONDS_PER_DAY) - np.maximum(start, week_s[None, :])
    return np.clip(overlap / (7 * SECONDS_PER_DAY), 0.0, 1.0)


def _events_from_rates(
    expected: np.ndarray, season: Season, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per (person, week) -> (person row, timestamp) per event, inside each week."""
    counts = rng.poisson(expected)
    person, week = np.nonzero(counts)
    reps = counts[person, week]
    person, week = np.repeat(person, reps), np.repeat(week, reps)
    offset = rng.integers(8 * 3600, 7 * SECONDS_PER_DAY - 3600, len(person)).astype("timedelta64[s]")
    return person, season.week_start[week].astype("datetime64[s]") + offset


def true_purchase_probability(
    people: pd.DataFrame, season: pd.DataFrame, as_of: str, horizon_days: int
) -> pd.DataFrame:
    """P(at least one paid order in [as_of, as_of + horizon)) per person alive and acquired before as_of.

    Uses the latent parameters from `truth/people.parquet` and `truth/season.parquet`; campaign
    uplift is left out (it is small and unknown ahead of time).
    """
    start = pd.Timestamp(as_of)
    known = people[people["acquired_at"] < start]
    weeks = season.pivot(index="week_start", columns="persona", values="multiplier")[list(PERSONAS)]
    week_start = _seconds(weeks.index.to_numpy())
    t0 = _seconds(np.array([start.to_datetime64()]))[0]
    t1 = np.minimum(t0 + horizon_days * SECONDS_PER_DAY, _seconds(known["lapses_at"].to_numpy()))
    overlap = np.clip(
        np.minimum(t1[:, None], week_start[None, :] + 7 * SECONDS_PER_DAY)
        - np.maximum(t0, week_start[None, :]),
        0,
        None,
    )
    persona = known["persona"].map({p: i for i, p in enumerate(PERSONAS)}).to_numpy()
    mult = weeks.to_numpy()[:, persona].T  # [people, weeks]
    expected = (known["rate_per_year"].to_numpy()[:, None] / 365.25) * (overlap / SECONDS_PER_DAY) * mult
    p_buy = 1.0 - np.exp(-expected.sum(axis=1) * (1 - REFUND_P))
    return pd.DataFrame(
        {
            "person_id": known["person_id"].to_numpy(),
            "as_of": start,
            "horizon_days": horizon_days,
            "p_buy": p_buy,
        }
    )


def _seconds(values: np.ndarray) -> np.ndarray:
    """Datetimes as int64 seconds since the epoch."""
    return values.astype("datetime64[s]").view("int64")


ARROW_TYPES = {
    "str": pa.string(),
    "timestamp": pa.timestamp("s"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a contract table, so every chunk is written with identical types."""
    from memberwise.data.contract import TABLES

    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


class TableWriter:
    """Appends chunks of one table to `<out>/<table>.<fmt>` without holding the table in memory."""

    def __init__(self, out: Path, table: str, file_format: str) -> None:
        self.path = out / f"{table}.{file_format}"
        self.schema = arrow_schema(table)
        self.file_format = file_format
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        batch = pa.Table.from_pandas(frame[self.schema.names], schema=self.schema, preserve_index=False)
        if self._writer is None:
            self._writer = (
                pq.ParquetWriter(self.path, self.schema)
                if self.file_format == "parquet"
                else pacsv.CSVWriter(
                    self.path, self.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                )
            )
        self._writer.write_table(batch)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is None:
            self.write(pd.DataFrame({n: pd.Series(dtype=object) for n in self.schema.names}))
        assert self._writer is not None
        self._writer.close()


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


def _scramble(values: np.ndarray, multiplier: int, bits: int) -> np.ndarray:
    """A bijective integer scramble, so ids look random but never collide."""
    product = values.astype(np.uint64) * np.uint64(multiplier)  # wraps modulo 2**64
    return product if bits == 64 else product % np.uint64(2**bits)


CHANNEL_PREFIX = {"app": "U", "wechat": "wx_", "tmall": "tb_", "jd": "jd_", "douyin": "dy_", "pos": "P"}


def _account_ids(person_ids: np.ndarray, channel: np.ndarray) -> np.ndarray:
    key = _scramble(person_ids * len(CHANNELS) + channel, 2654435761, 32)
    prefix = np.array([CHANNEL_PREFIX[c] for c in CHANNELS])[channel]
    return np.char.add(prefix, np.char.mod("%08x", key))


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
    accounts, account_of = _make_accounts(cfg, people, person_ids, hub_phones, rng)
    exposure = _exposure(people, season)
    mult = season.multiplier[:, people.persona].T
    orders = _make_orders(cfg, people, season, exposure, mult, account_of, rng)
    touches, extra = _make_touches(people, campaigns, orders, account_of, cfg, rng)
    orders = pd.concat([orders, extra], ignore_index=True).sort_values("ordered_at", ignore_index=True)
    orders.insert(
        0, "order_id", np.char.add("O", np.char.mod("%010d", order_offset + np.arange(len(orders))))
    )
    interactions = _make_interactions(cfg, people, season, exposure, mult, account_of, rng)
    paid = orders["status"].eq("paid").to_numpy()
    row = orders["_person"].to_numpy()
    last_year = paid & (orders["ordered_at"].to_numpy() > cfg.end_ts - np.timedelta64(365, "D"))
    years = orders["ordered_at"].dt.year.to_numpy()
    return Chunk(
        accounts=accounts.drop(columns=["_person"]),
        account_person=pd.DataFrame(
            {
                "channel": accounts["channel"],
                "account_id": accounts["account_id"],
                "person_id": _person_labels(accounts["_person"].to_numpy() + first_person),
            }
        ),
        orders=orders.drop(columns=["_person"]),
        interactions=interactions,
        touches=touches,
        spend_last_year=np.bincount(row[last_year], orders["amount"].to_numpy()[last_year], len(people)),
        spend_total=np.bincount(row[paid], orders["amount"].to_numpy()[paid], len(people)),
        revenue_by_year={
            int(y): float(orders["amount"].to_numpy()[paid & (years == y)].sum()) for y in np.unique(years)
        },
    )


def _where_kept(kept: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values where kept, None (a null cell) elsewhere."""
    out = values.astype(object)
    out[~kept] = None
    return out


def _person_labels(ids: np.ndarray) -> np.ndarray:
    return np.char.mod("p%07d", ids)


def _make_accounts(
    cfg: DemoConfig, people: People, person_ids: np.ndarray, hub_phones: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """One account per (person, channel held); returns the accounts and a [n, channel] account-id matrix."""
    person, channel = np.nonzero(people.holds)
    n = len(person)
    ids = _account_ids(person_ids[person], channel)
    account_of = np.full(people.holds.shape, "", dtype=ids.dtype)
    account_of[person, channel] = ids
    is_primary = channel == people.primary[person]
    marketplace = np.isin(channel, [CHANNELS.index(c) for c in ("tmall", "jd", "douyin")])
    wechat_app = np.isin(channel, [CHANNELS.index(c) for c in ("app", "wechat")])
    has_phone = people.has_phone[person]
    phone = np.char.mod("%016x", _scramble(person_ids[person] + 1, 0x9E3779B97F4A7C15, 64))
    phone_kept = has_phone & (rng.random(n) < np.where(marketplace, 0.995, 0.998))
    is_pos = channel == CHANNELS.index("pos")
    enrolled = ~np.isnat(people.enrolled_at[person])
    # Each hub (the store's own phone typed at the till) replaces the phone on ~HUB_ACCOUNTS pos
    # accounts of card holders: their scanned card still links them, the phone must not.
    hub_share = min(0.5, len(hub_phones) * HUB_ACCOUNTS / (HUB_ELIGIBLE_SHARE * cfg.members))
    hub = is_pos & has_phone & enrolled & (rng.random(n) < hub_share)
    phone = np.where(hub, hub_phones[rng.integers(0, max(len(hub_phones), 1), n)], phone)
    unionid = np.char.add(
        "oU", np.char.mod("%012x", _scramble(person_ids[person] + 7, 0xBF58476D1CE4E5B9, 48))
    )
    union_kept = has_phone & wechat_app & (rng.random(n) < 0.9)
    card = np.char.mod("C%09d", 100_000_000 + person_ids[person])
    # Brand apps and POS always bind the card; marketplaces only when the member linked it there.
    card_kept = enrolled & (is_primary | is_pos | wechat_app | (rng.random(n) < 0.5))
    acquired = people.acquired_at[person]
    alive_until = np.minimum(people.lapses_at[person], cfg.end_ts)
    later = acquired + ((alive_until - acquired).astype("int64") * rng.random(n) * 0.6).astype(
        "timedelta64[s]"
    )
    registered = np.where(is_primary, acquired, np.maximum(later, acquired)).astype("datetime64[s]")
    registered = np.where(marketplace & (rng.random(n) < 0.3), np.datetime64("NaT"), registered)
    city = people.city[person]
    moved = ~is_primary & (rng.random(n) < 0.04)
    city = np.where(moved, rng.integers(0, len(CITIES), n), city)
    city_names = np.array([c for c, _ in CITIES])
    provinces = np.array([p for _, p in CITIES])

    def maybe(values: np.ndarray, p_null: float) -> np.ndarray:
        return _where_kept(rng.random(n) >= p_null, values)

    accounts = pd.DataFrame(
        {
            "_person": person,
            "channel": np.array(CHANNELS)[channel],
            "account_id": ids,
            "phone_hash": _where_kept(phone_kept | hub, phone),
            "unionid": _where_kept(union_kept, unionid),
            "member_card": _where_kept(card_kept, card),
            "registered_at": registered,
            "gender": maybe(people.gender[person], 0.25),
            "birth_year": pd.array(
                np.where(rng.random(n) < 0.35, np.nan, people.birth_year[person]), dtype="Int64"
            ),
            "province": maybe(provinces[city], 0.2),
            "city": maybe(city_names[city], 0.2),
        }
    )
    return accounts, account_of


def _order_channels(people: People, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _weighted_choice(CHANNEL_WEIGHT[people.persona[rows]] * people.holds[rows], rng)


def _make_orders(
    cfg: DemoConfig,
    people: People,
    season: Season,
    exposure: np.ndarray,
    mult: np.ndarray,
    account_of: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    expected = (people.rate[:, None] / 52.18) * exposure * mult
    rows, at = _events_from_rates(expected, season, rng)
    keep = (at >= people.acquired_at[rows]) & (at < people.lapses_at[rows]) & (at <= cfg.end_ts)
    rows, at = rows[keep], at[keep]
    first = np.flatnonzero(
        people.buys_at_acquisition & (people.acquired_at <= cfg.end_ts - np.timedelta64(3600, "s"))
    )
    rows = np.concatenate([first, rows])
    at = np.concatenate(
        [people.acquired_at[first] + rng.integers(0, 3600, len(first)).astype("timedelta64[s]"), at]
    )
    n = len(rows)
    persona = people.persona[rows]
    week = np.clip(np.searchsorted(season.week_start.astype("datetime64[s]"), at, side="right") - 1, 0, None)
    promo = season.promo_week[week]
    channel = _order_channels(people, rows, rng)
    gift = rng.random(n) < GIFT_P[persona]
    sigma = 0.45
    gross = rng.lognormal(np.log(AOV[persona]) - sigma**2 / 2, sigma) * np.where(gift, 1.3, 1.0)
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
            "category": np.array(CATEGORIES)[_weighted_choice(CATEGORY_WEIGHT[persona], rng)],
            "store_id": _where_kept(pos, np.char.mod("S%04d", people.store[rows])),
            "is_gift": gift,
            "status": np.where(rng.random(n) < REFUND_P, "refunded", "paid"),
        }
    )


def _make_touches(
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
                        _weighted_choice(CATEGORY_WEIGHT[people.persona[conv_rows]], rng)
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


def _make_interactions(
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
    rows, at = _events_from_rates(expected, season, rng)
    keep = (at >= people.acquired_at[rows]) & (at <= cfg.end_ts)
    rows, at = rows[keep], at[keep]
    event = _weighted_choice(EVENT_WEIGHT[people.persona[rows]], rng)
    channel = _order_channels(people, rows, rng)
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


def _loyalty(
    people: People, spend_last_year: np.ndarray, spend_total: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Cards of enrolled people; tiers from last year's spend by the 80/20 rule.

    Gold is the top 5% of members by spend, silver the next 15%, the rest normal.
    """
    rows = np.flatnonzero(~np.isnat(people.enrolled_at))
    spend = spend_last_year[rows]
    rank = pd.Series(spend).rank(pct=True, method="first").to_numpy()
    tier = np.where(
        spend <= 0, "normal", np.where(rank > 0.95, "gold", np.where(rank > 0.80, "silver", "normal"))
    )
    return pd.DataFrame(
        {
            "member_card": np.char.mod("C%09d", 100_000_000 + rows),
            "enrolled_at": people.enrolled_at[rows],
            "tier": tier,
            "points_balance": np.round(spend_total[rows] * rng.uniform(0.1, 0.6, len(rows))),
        }
    )


KPI_STRETCH = 1.12  # targets ask ~12% more than the brand turns out to sell: the current year shows a gap


def _kpi_targets(revenue_by_year: dict[int, float], end: str) -> pd.DataFrame:
    """Yearly revenue targets: each year's (annualised) actual x KPI_STRETCH, so targets are missed by ~11%.

    The last year is partial (it ends at `end`), so its actual is scaled up by the share of days elapsed.
    """
    last = pd.Timestamp(end)
    years = sorted(y for y in revenue_by_year if y <= last.year)
    elapsed = {y: 1.0 for y in years} | {last.year: last.dayofyear / (366 if last.is_leap_year else 365)}
    targets = [revenue_by_year[y] / elapsed[y] * KPI_STRETCH for y in years]
    return pd.DataFrame(
        {
            "period_start": pd.to_datetime([f"{y}-01-01" for y in years]),
            "period_end": pd.to_datetime([f"{y}-12-31" for y in years]),
            "target_revenue": np.round(targets, -3),
            "audience": None,
        }
    )


def generate(cfg: DemoConfig, out: Path, progress: bool = False) -> dict[str, object]:
    """Write the six contract tables to `out` and the planted truth to `out/truth`; return the manifest."""
    if cfg.dirty and cfg.file_format != "csv":
        raise ValueError("--dirty writes unparseable values, which only CSV can hold: use --format csv")
    out.mkdir(parents=True, exist_ok=True)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    people = sample_people(cfg, rng)
    season = Season.build(cfg.start_ts, cfg.end_ts)
    campaigns = plan_campaigns(cfg, season, rng)
    hub_phones = np.char.mod("%016x", rng.integers(0, 2**62, max(2, cfg.members // 5000)))
    writers = {
        t: TableWriter(out, t, cfg.file_format)
        for t in ("accounts", "orders", "interactions", "campaign_touches")
    }
    person_schema = pa.schema(
        [("channel", pa.string()), ("account_id", pa.string()), ("person_id", pa.string())]
    )
    account_person = pq.ParquetWriter(truth_dir / "account_person.parquet", person_schema)
    spend_last_year, spend_total = np.zeros(cfg.members), np.zeros(cfg.members)
    revenue_by_year: dict[int, float] = {}
    starts = range(0, cfg.members, cfg.chunk_people)
    for index, first in enumerate(_progress(starts, progress, "generating people")):
        rows = slice(first, min(first + cfg.chunk_people, cfg.members))
        chunk = generate_chunk(
            cfg, people.take(rows), first, season, campaigns, hub_phones, writers["orders"].rows,
            np.random.default_rng([cfg.seed, index]),
        )  # fmt: skip
        writers["accounts"].write(chunk.accounts)
        writers["orders"].write(chunk.orders)
        writers["interactions"].write(chunk.interactions)
        writers["campaign_touches"].write(chunk.touches)
        account_person.write_table(
            pa.Table.from_pandas(chunk.account_person, schema=person_schema, preserve_index=False)
        )
        spend_last_year[rows], spend_total[rows] = chunk.spend_last_year, chunk.spend_total
        for year, revenue in chunk.revenue_by_year.items():
            revenue_by_year[year] = revenue_by_year.get(year, 0.0) + revenue
    account_person.close()
    for writer in writers.values():
        writer.close()
    small = {
        "loyalty": _loyalty(people, spend_last_year, spend_total, rng),
        "kpi_targets": _kpi_targets(revenue_by_year, cfg.end),
    }
    for table, frame in small.items():
        writer = TableWriter(out, table, cfg.file_format)
        writer.write(frame)
        writer.close()
        writers[table] = writer
    _write_truth(cfg, truth_dir, people, season, hub_phones)
    manifest: dict[str, object] = {
        "config": cfg.__dict__,
        "rows": {t: w.rows for t, w in writers.items()},
        "snapshot_date": cfg.end,
    }
    if cfg.dirty:
        manifest["dirty"] = add_dirty_rows(out, cfg, np.random.default_rng([cfg.seed, 999_999]))
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def _progress(items: range, enabled: bool, label: str) -> Iterator[int]:
    if not enabled:
        yield from items
        return
    from rich.progress import track

    yield from track(items, description=label)


def _write_truth(
    cfg: DemoConfig, truth_dir: Path, people: People, season: Season, hub_phones: np.ndarray
) -> None:
    person_table = pd.DataFrame(
        {
            "person_id": _person_labels(np.arange(len(people))),
            "persona": np.array(PERSONAS)[people.persona],
            "acquired_at": people.acquired_at,
            "lapses_at": np.minimum(people.lapses_at, np.datetime64("2200-01-01", "s")),
            "rate_per_year": people.rate,
            "enrolled_at": people.enrolled_at,
        }
    )
    season_table = pd.DataFrame(
        {
            "week_start": np.repeat(season.week_start, len(PERSONAS)).astype("datetime64[s]"),
            "persona": np.tile(np.array(PERSONAS), len(season.week_start)),
            "multiplier": season.multiplier.ravel(),
        }
    )
    person_table.to_parquet(truth_dir / "people.parquet", index=False)
    season_table.to_parquet(truth_dir / "season.parquet", index=False)
    true_purchase_probability(person_table, season_table, cfg.truth_as_of, cfg.truth_horizon_days).to_parquet(
        truth_dir / "purchase_probability.parquet", index=False
    )
    uplift_table().to_parquet(truth_dir / "uplift.parquet", index=False)
    pd.DataFrame({"identifier_type": "phone_hash", "identifier": hub_phones}).to_parquet(
        truth_dir / "hubs.parquet", index=False
    )


# Invalid rows added by --dirty: table -> list of (expected reject reason, column to spoil, bad value).
# A reason of None means the row is valid but references an account missing from `accounts`.
DIRTY_KINDS: dict[str, list[tuple[str | None, str, str]]] = {
    "accounts": [
        ("account_id:missing_key", "account_id", ""),
        ("channel,account_id:duplicate_key", "<duplicate>", ""),
        ("channel:unknown_value", "channel", "weibo"),
        ("registered_at:unparseable", "registered_at", "not-a-date"),
        ("birth_year:unparseable", "birth_year", "19x0"),
    ],
    "orders": [
        ("order_id:missing_key", "order_id", ""),
        ("order_id:duplicate_key", "<duplicate>", ""),
        ("amount:negative_value", "amount", "-12.5"),
        ("discount:negative_value", "discount", "-3"),
        ("channel:unknown_value", "channel", "ebay"),
        ("status:unknown_value", "status", "lost"),
        ("ordered_at:unparseable", "ordered_at", "2025-13-45 10:00:00"),
        ("amount:unparseable", "amount", "12,50"),
        ("ordered_at:after_snapshot", "ordered_at", "<future>"),
        ("coupon_used:unparseable", "coupon_used", "maybe"),
        (None, "account_id", "<ghost>"),
    ],
    "interactions": [
        ("event:unknown_value", "event", "dance"),
        ("account_id:missing_value", "account_id", ""),
        ("occurred_at:unparseable", "occurred_at", "yesterday"),
        (None, "account_id", "<ghost>"),
    ],
    "campaign_touches": [
        ("group:unknown_value", "group", "both"),
        ("cost:negative_value", "cost", "-1"),
        ("campaign_id,channel,account_id:duplicate_key", "<duplicate>", ""),
    ],
    "loyalty": [
        ("tier:unknown_value", "tier", "platinum"),
        ("points_balance:negative_value", "points_balance", "-5"),
        ("member_card:duplicate_key", "<duplicate>", ""),
    ],
    "kpi_targets": [("target_revenue:unparseable", "target_revenue", "lots")],
}
DIRTY_ROWS_PER_KIND = 3


def add_dirty_rows(out: Path, cfg: DemoConfig, rng: np.random.Generator) -> dict[str, dict[str, int]]:
    """Append known invalid rows (each with exactly one defect) to the CSV tables; return counts by reason."""
    from memberwise.data.contract import TABLES

    future = str(pd.Timestamp(cfg.end) + pd.Timedelta(days=400))
    counts: dict[str, dict[str, int]] = {}
    for table, kinds in DIRTY_KINDS.items():
        path = out / f"{table}.csv"
        original = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=2000)
        key = list(TABLES[table].key)
        rows: list[pd.Series] = []
        for reason, column, bad in kinds:
            for i in range(DIRTY_ROWS_PER_KIND):
                template = original.iloc[int(rng.integers(0, len(original)))].copy()
                if column != "<duplicate>":
                    template = _fresh_key(template, table, key, f"dirty{len(rows)}")
                    template[column] = {"<future>": future, "<ghost>": f"ghost{i}"}.get(bad, bad)
                rows.append(template)
                label = reason or "orphan_account"
                counts.setdefault(table, {})[label] = counts.get(table, {}).get(label, 0) + 1
        pd.DataFrame(rows)[original.columns].to_csv(path, mode="a", header=False, index=False)
    return counts


def _fresh_key(row: pd.Series, table: str, key: list[str], suffix: str) -> pd.Series:
    """Make the row's key unique, so it fails only for the defect planted in it."""
    fresh = {
        "accounts": "account_id",
        "orders": "order_id",
        "campaign_touches": "campaign_id",
        "loyalty": "member_card",
        "kpi_targets": "period_start",
    }.get(table)
    if fresh == "period_start":
        row[fresh] = f"{2000 + int(suffix.removeprefix('dirty'))}-01-01"
    elif fresh is not None:
        row[fresh] = f"{row[fresh]}-{suffix}"
    return row
