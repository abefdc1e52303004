"""People, not accounts: latent persona, acquisition, lapse and purchase rate; weekly seasonality.

Purchases and engagement are Poisson processes over weeks, modulated by the season while a person is alive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from memberwise.data.contract import CHANNELS
from memberwise.data.demo.brand import (
    BUY_AT_ACQUISITION_P,
    CHANNEL_WEIGHT,
    CHINESE_NEW_YEAR,
    CITIES,
    ENROLL_P,
    EXTRA_ACCOUNT_P,
    LAPSE_PER_YEAR,
    MID_AUTUMN,
    PEAK_EFFECT,
    PERSONAS,
    RATE_MEAN,
)
from memberwise.data.demo.config import SECONDS_PER_DAY, DemoConfig
from memberwise.data.demo.profiles import Profile


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
    def build(cls, start: np.datetime64, end: np.datetime64, params: Profile) -> Season:
        first = start.astype("datetime64[D]")
        first -= (first.view("int64") - 4) % 7  # back to Monday (1970-01-05 was one)
        weeks = np.arange(first, end.astype("datetime64[D]") + 7, 7)
        day_of_year = (weeks - weeks.astype("datetime64[Y]")).astype(int)
        base = 1.0 + params.season_amplitude * np.sin(2 * np.pi * (day_of_year - 80) / 365.25)
        if params.promo_lift != 1.0:  # a programme runs until promo_stop_days before the end
            stop = end.astype("datetime64[D]") - params.promo_stop_days
            base = np.where(weeks + 7 <= stop, base * params.promo_lift, base)
        mult = np.repeat(base[:, None], len(PERSONAS), axis=1)
        promo = np.zeros(len(weeks), dtype=bool)
        for name, dates, before in _peak_dates(weeks):
            if name not in params.peaks:
                continue
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
    n, params = cfg.members, cfg.params
    persona = rng.choice(len(PERSONAS), size=n, p=np.array(params.share))
    acquire_from = cfg.start_ts - np.timedelta64(params.warm_start_days * SECONDS_PER_DAY, "s")
    span = (cfg.end_ts - acquire_from).astype("int64")
    if params.acquisition_days is not None:  # a single cohort, acquired at the start
        span = min(span, params.acquisition_days * SECONDS_PER_DAY)
    growth = params.growth  # acquisitions grow (the demo: ~35% a year), so sales grow too
    years = span / (365.25 * SECONDS_PER_DAY)
    u = rng.random(n)
    frac = np.log1p(u * np.expm1(growth * years)) / (growth * years)  # inverse CDF of an exponential ramp
    acquired = acquire_from + (frac * span).astype("int64").astype("timedelta64[s]")
    lapse = LAPSE_PER_YEAR * params.lapse_scale
    lifetime_years = rng.exponential(1.0, n) / (lapse[persona] * rng.gamma(4.0, 0.25, n))
    lapses = acquired + (np.minimum(lifetime_years, 50) * 365.25 * SECONDS_PER_DAY).astype("timedelta64[s]")
    rate = rng.gamma(2.5, (RATE_MEAN * params.rate_scale)[persona] / 2.5)
    enroll_delay = (rng.exponential(45.0, n) * SECONDS_PER_DAY).astype("timedelta64[s]")
    enrols = (rng.random(n) < ENROLL_P[persona]) & ("loyalty" in params.tables)
    enrolled = np.where(enrols, acquired + enroll_delay, np.datetime64("NaT"))
    enrolled = np.where(enrolled <= cfg.end_ts, enrolled, np.datetime64("NaT"))
    has_phone = rng.random(n) < 0.93
    offered = np.isin(np.array(CHANNELS), params.channels)  # channels the brand sells in
    weights = CHANNEL_WEIGHT[persona] * offered
    primary = weighted_choice(weights, rng)
    holds = (rng.random((n, len(CHANNELS))) < EXTRA_ACCOUNT_P[persona] * offered) & has_phone[:, None]
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


def weighted_choice(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of a non-negative weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1)


def alive_exposure(people: People, season: Season) -> np.ndarray:
    """Fraction of each week [n, weeks] during which each person is alive (acquired, not lapsed)."""
    week_s = season.week_start.astype("datetime64[s]").view("int64")
    start = people.acquired_at.view("int64")[:, None]
    stop = people.lapses_at.view("int64")[:, None]
    overlap = np.minimum(stop, week_s[None, :] + 7 * SECONDS_PER_DAY) - np.maximum(start, week_s[None, :])
    return np.clip(overlap / (7 * SECONDS_PER_DAY), 0.0, 1.0)


def events_from_rates(
    expected: np.ndarray, season: Season, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts per (person, week) -> (person row, timestamp) per event, inside each week."""
    counts = rng.poisson(expected)
    person, week = np.nonzero(counts)
    reps = counts[person, week]
    person, week = np.repeat(person, reps), np.repeat(week, reps)
    offset = rng.integers(8 * 3600, 7 * SECONDS_PER_DAY - 3600, len(person)).astype("timedelta64[s]")
    return person, season.week_start[week].astype("datetime64[s]") + offset


def seconds(values: np.ndarray) -> np.ndarray:
    """Datetimes as int64 seconds since the epoch."""
    return values.astype("datetime64[s]").view("int64")
