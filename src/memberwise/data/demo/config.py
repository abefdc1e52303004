"""What to generate: the size, seed, period and format of a demo brand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

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
