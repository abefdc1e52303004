"""Channel accounts of each person, linked by phone hash, WeChat unionid and member card (with hubs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.data.contract import CHANNELS
from memberwise.data.demo.brand import CITIES, HUB_ACCOUNTS, HUB_ELIGIBLE_SHARE
from memberwise.data.demo.config import DemoConfig
from memberwise.data.demo.people import People


def _scramble(values: np.ndarray, multiplier: int, bits: int) -> np.ndarray:
    """A bijective integer scramble, so ids look random but never collide."""
    product = values.astype(np.uint64) * np.uint64(multiplier)  # wraps modulo 2**64
    return product if bits == 64 else product % np.uint64(2**bits)


CHANNEL_PREFIX = {"app": "U", "wechat": "wx_", "tmall": "tb_", "jd": "jd_", "douyin": "dy_", "pos": "P"}


def _account_ids(person_ids: np.ndarray, channel: np.ndarray) -> np.ndarray:
    key = _scramble(person_ids * len(CHANNELS) + channel, 2654435761, 32)
    prefix = np.array([CHANNEL_PREFIX[c] for c in CHANNELS])[channel]
    return np.char.add(prefix, np.char.mod("%08x", key))


def where_kept(kept: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values where kept, None (a null cell) elsewhere."""
    out = values.astype(object)
    out[~kept] = None
    return out


def person_labels(ids: np.ndarray) -> np.ndarray:
    """The truth's person ids (p0000042) of person row numbers."""
    return np.char.mod("p%07d", ids)


def make_accounts(
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
        return where_kept(rng.random(n) >= p_null, values)

    accounts = pd.DataFrame(
        {
            "_person": person,
            "channel": np.array(CHANNELS)[channel],
            "account_id": ids,
            "phone_hash": where_kept(phone_kept | hub, phone),
            "unionid": where_kept(union_kept, unionid),
            "member_card": where_kept(card_kept, card),
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
