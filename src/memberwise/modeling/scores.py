"""The marketer's 0-100 score of a calibrated probability: the one rounding rule every path uses.

Rule: score = round(100 * p) with halves rounded up, where 100 * p is first rounded to 9 decimals. The
9-decimal step removes binary noise (100 * 0.285 = 28.499999999999996), so a probability written with a
half (0.285, 0.605) scores up (29, 61) whether it is served, logged in the threshold metrics, written to
the snapshot or compared at promotion. Probabilities closer than 1e-9 to a half are treated as the half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SCORE_DECIMALS = 9  # finer than any calibrated probability means, coarser than float64 noise at 100 * p


def score_from_probability(probability: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """0-100 integer scores (int64) of probabilities in [0, 1]; ValueError on NaN, inf or out of range."""
    p = np.asarray(probability, dtype="float64")
    if not np.isfinite(p).all():
        raise ValueError("probabilities must be finite (no NaN or inf)")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"probabilities must lie in [0, 1], got values in [{p.min():g}, {p.max():g}]")
    return np.floor(np.round(100 * p, SCORE_DECIMALS) + 0.5).astype("int64")
