"""The planted ground truth, written to <out>/truth/ and never into the contract tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from memberwise.data.demo.accounts import person_labels
from memberwise.data.demo.brand import PERSONAS, REFUND_P
from memberwise.data.demo.campaigns import uplift_table
from memberwise.data.demo.config import SECONDS_PER_DAY, DemoConfig
from memberwise.data.demo.people import People, Season, seconds


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
    week_start = seconds(weeks.index.to_numpy())
    t0 = seconds(np.array([start.to_datetime64()]))[0]
    t1 = np.minimum(t0 + horizon_days * SECONDS_PER_DAY, seconds(known["lapses_at"].to_numpy()))
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


def write_truth(
    cfg: DemoConfig, truth_dir: Path, people: People, season: Season, hub_phones: np.ndarray
) -> None:
    """People, season, true purchase probabilities, true uplift and the hub phones, as Parquet."""
    person_table = pd.DataFrame(
        {
            "person_id": person_labels(np.arange(len(people))),
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
