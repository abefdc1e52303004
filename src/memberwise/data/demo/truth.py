"""The planted ground truth, written to <out>/truth/ and never into the contract tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from memberwise.data.demo.accounts import person_labels
from memberwise.data.demo.brand import PERSONAS, REFUND_P
from memberwise.data.demo.campaigns import RESPONSE_TYPES, RESPONSE_WEIGHT, response_type, uplift_table
from memberwise.data.demo.config import SECONDS_PER_DAY, DemoConfig
from memberwise.data.demo.people import People, Season, seconds
from memberwise.data.demo.writer import TableWriter

TRUTH_SCHEMAS = {  # the truth files written a chunk of people at a time
    "people": pa.schema(
        [
            ("person_id", pa.string()),
            ("persona", pa.string()),
            ("acquired_at", pa.timestamp("s")),
            ("lapses_at", pa.timestamp("s")),
            ("rate_per_year", pa.float64()),
            ("enrolled_at", pa.timestamp("s")),
            ("response_type", pa.string()),
            ("uplift_weight", pa.float64()),
        ]
    ),
    "purchase_probability": pa.schema(
        [
            ("person_id", pa.string()),
            ("as_of", pa.timestamp("s")),
            ("horizon_days", pa.int64()),
            ("p_buy", pa.float64()),
        ]
    ),
    "account_person": pa.schema(
        [("channel", pa.string()), ("account_id", pa.string()), ("person_id", pa.string())]
    ),
}


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
    t0 = seconds(np.array([start.to_datetime64()]))[0]
    week_start = seconds(weeks.index.to_numpy())
    in_horizon = (week_start + 7 * SECONDS_PER_DAY > t0) & (week_start < t0 + horizon_days * SECONDS_PER_DAY)
    weeks, week_start = weeks[in_horizon], week_start[in_horizon]  # other weeks overlap nothing
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
    """People, season, true purchase probabilities, true uplift and the hub phones, as Parquet.

    Each person's `response_type` and `uplift_weight` (a contact's effect relative to the cell's planted
    uplift; see `campaigns.response_type`) are the member-level uplift truth.

    People and their probabilities are written a chunk of people at a time (row groups), so a 10M-member
    brand never holds a [people, weeks] matrix or a whole people frame.
    """
    season_table = pd.DataFrame(
        {
            "week_start": np.repeat(season.week_start, len(PERSONAS)).astype("datetime64[s]"),
            "persona": np.tile(np.array(PERSONAS), len(season.week_start)),
            "multiplier": season.multiplier.ravel(),
        }
    )
    season_table.to_parquet(truth_dir / "season.parquet", index=False)
    sinks = {
        name: TableWriter(truth_dir, name, "parquet", TRUTH_SCHEMAS[name])
        for name in ("people", "purchase_probability")
    }
    for first in range(0, len(people), cfg.chunk_people):
        rows = slice(first, min(first + cfg.chunk_people, len(people)))
        chunk = people.take(rows)
        kind = response_type(chunk.persona, chunk.rate)
        person_table = pd.DataFrame(
            {
                "person_id": person_labels(np.arange(rows.start, rows.stop)),
                "persona": np.array(PERSONAS)[chunk.persona],
                "acquired_at": chunk.acquired_at,
                "lapses_at": np.minimum(chunk.lapses_at, np.datetime64("2200-01-01", "s")),
                "rate_per_year": chunk.rate,
                "enrolled_at": chunk.enrolled_at,
                "response_type": np.array(RESPONSE_TYPES)[kind],
                "uplift_weight": RESPONSE_WEIGHT[kind],
            }
        )
        sinks["people"].write(person_table)
        sinks["purchase_probability"].write(
            true_purchase_probability(person_table, season_table, cfg.truth_as_of, cfg.truth_horizon_days)
        )
    for sink in sinks.values():
        sink.close()
    uplift_table().to_parquet(truth_dir / "uplift.parquet", index=False)
    pd.DataFrame({"identifier_type": "phone_hash", "identifier": hub_phones}).to_parquet(
        truth_dir / "hubs.parquet", index=False
    )
