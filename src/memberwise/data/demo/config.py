"""What to generate: the size, seed, period, profile and format of a demo brand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from memberwise.data.demo.profiles import Profile, profile_named

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DemoConfig:
    """What to generate: size, seed, period, profile, format, and whether to add invalid rows.

    `start`, `truth_as_of` and `truth_horizon_days` left empty follow the profile: start is the profile's
    history before `end`, the truth horizon is the profile's, and truth_as_of is `end` minus that horizon.
    """

    members: int = 20_000
    seed: int = 7
    profile: str = "demo"  # a name in profiles.PROFILES
    start: str = ""  # default: end - the profile's history_days
    end: str = "2026-11-15"  # the data snapshot: nothing is generated after it
    truth_as_of: str = ""  # default: end - truth_horizon_days
    truth_horizon_days: int = 0  # default: the profile's horizon_days
    file_format: Literal["parquet", "csv"] = "parquet"
    dirty: bool = False
    chunk_people: int = 50_000
    campaigns: int = 120

    def __post_init__(self) -> None:
        params = profile_named(self.profile)
        end = np.datetime64(self.end, "D")
        horizon = self.truth_horizon_days or params.horizon_days
        defaults = {
            "start": self.start or str(end - params.history_days),
            "truth_horizon_days": horizon,
            "truth_as_of": self.truth_as_of or str(end - horizon),
        }
        for name, value in defaults.items():
            object.__setattr__(self, name, value)

    @property
    def params(self) -> Profile:
        """The profile's generator parameters."""
        return profile_named(self.profile)

    @property
    def start_ts(self) -> np.datetime64:
        return np.datetime64(self.start, "s")

    @property
    def end_ts(self) -> np.datetime64:
        return np.datetime64(self.end, "s") + np.timedelta64(SECONDS_PER_DAY - 1, "s")
