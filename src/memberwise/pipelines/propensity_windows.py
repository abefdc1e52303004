"""Stacked labelled windows for out-of-time validation of the propensity model.

The most recent complete window (features at `as_of - horizon`, label over the horizon after it) is
the validation window: its members are split by a hash of their id into a calibration half and a
holdout half, on which every candidate is calibrated and judged and the gate decides. Older windows
(cutoffs spaced `step` days back while enough history precedes them) are the training data; each
one's label period ends at or before the validation cutoff, so no label the model learns from overlaps
the period it is judged on. A member's hash also puts all of their training rows on one side of the
early-stopping split, so early stopping and Optuna never score a member the model trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from memberwise.config import SplitConfig, WindowsConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.features import stored_base_features
from memberwise.features.sql import fetch
from memberwise.warehouse import Warehouse, connect

TRAIN_PARTS = ("train", "early_stop")  # older windows
VALIDATION_PARTS = ("calibration", "holdout")  # the most recent complete window
# Members of the validation window a big brand keeps (a stable hashed share): calibration, the holdout's
# AUC/ECE and the gate's PSI settle long before a million members, and every candidate scores them all.
MAX_VALIDATION_MEMBERS = 1_000_000


@dataclass
class LabelledWindow:
    """Stacked rows (member x cutoff): features, labels, each row's part and cutoff."""

    features: pd.DataFrame
    labels: np.ndarray
    part: np.ndarray
    spec: FeatureSpec  # the horizon and windows the features and labels were built with
    cutoffs: tuple[date, ...] = ()  # oldest first; the last is the validation cutoff

    def take(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of one part ('train', 'early_stop', 'calibration' or 'holdout') and their labels."""
        mask = self.part == part
        return self.features[mask].reset_index(drop=True), self.labels[mask]

    @property
    def validation_cutoff(self) -> date:
        return self.cutoffs[-1]

    def counts(self) -> dict[str, int]:
        """Rows per part (logged as rows_<part>)."""
        return {f"rows_{part}": int((self.part == part).sum()) for part in TRAIN_PARTS + VALIDATION_PARTS}


def unit_sql(column: str, salt: str = "") -> str:
    """SQL of `member_unit` over a text column (with a salt: another, independent draw per salt)."""
    text = f"CAST({column} AS VARCHAR)" + (f" || '{salt}'" if salt else "")
    return f"('0x' || left(md5({text}), 8))::UBIGINT::DOUBLE / 4294967296"


def member_unit(member_ids: pd.Series | Sequence[object]) -> np.ndarray:
    """A deterministic number in [0, 1) per member id (stable across runs and windows).

    The first 32 bits of the MD5 of the id's text, over 2**32; hashed in DuckDB (10M ids in seconds).
    """
    text = pd.Series(member_ids, dtype=object).astype(str).to_numpy(dtype=object)
    ids = pa.table({"m": pa.array(text, pa.string())})
    with connect() as con:
        con.register("ids", ids)
        return np.asarray(con.execute(f"SELECT {unit_sql('m')} AS u FROM ids").fetchnumpy()["u"], dtype=float)


def window_cutoff(as_of: date, spec: FeatureSpec) -> date:
    """The feature cutoff of the window labelled up to as_of: one horizon earlier."""
    return as_of - timedelta(days=spec.horizon_days)


def training_cutoffs(
    validation_cutoff: date, spec: FeatureSpec, windows: WindowsConfig, data_start: date | None
) -> list[date]:
    """Cutoffs of the training windows, newest first: labels end by the validation cutoff."""
    step = windows.step_days or max(28, spec.horizon_days // 2)
    first = validation_cutoff - timedelta(days=spec.horizon_days)
    cutoffs = [first - timedelta(days=step * k) for k in range(windows.training)]
    if data_start is None:
        return []
    return [c for c in cutoffs if (c - data_start).days >= windows.min_history_days]


def _one_window(
    wh: Warehouse, cutoff: date, spec: FeatureSpec, keep: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and labels at a cutoff in one statement; `keep` (SQL over member_id) samples in the engine.

    A big brand's sample is drawn before any row reaches pandas: a 10M-member window is never a frame.
    """
    with stored_base_features(wh, cutoff, spec.new_window_days, spec.horizon_days) as sql:
        if keep is not None:
            sql = f"SELECT * FROM ({sql}) WHERE {keep} ORDER BY member_id"
        features = fetch(wh, sql)
    labels = features.pop("repurchased").to_numpy(dtype=bool)
    features.attrs["new_window_days"] = int(spec.new_window_days)
    return features, labels


def _member_share(wh: Warehouse, rows: int) -> float:
    """The share of the brand's members that leaves about `rows` of them (1.0: keep everyone)."""
    members = int(str(wh.scalar("SELECT count(*) FROM members") or 0))
    return min(1.0, rows / max(members, 1))


def validation_window(
    wh: Warehouse,
    as_of: date,
    spec: FeatureSpec,
    split: SplitConfig,
    max_members: int = MAX_VALIDATION_MEMBERS,
) -> LabelledWindow:
    """Only the most recent complete window (what the gate needs to judge a model).

    A brand with more than `max_members` members keeps those whose hash falls below the share that
    leaves `max_members`: the same members in every run, so the gate compares like with like.
    """
    cutoff = window_cutoff(as_of, spec)
    share = _member_share(wh, max_members)
    keep = f"{unit_sql('member_id')} < {share!r}" if share < 1.0 else None
    features, labels = _one_window(wh, cutoff, spec, keep)
    unit = member_unit(features["member_id"]) / share  # uniform on [0, 1) among the kept
    part = np.where(unit < split.holdout, "holdout", "calibration")
    return LabelledWindow(features, labels, part, spec, (cutoff,))


def labelled_window(
    wh: Warehouse,
    as_of: date,
    spec: FeatureSpec,
    split: SplitConfig,
    windows: WindowsConfig | None = None,
) -> LabelledWindow:
    """The validation window at as_of - horizon stacked under the older training windows."""
    windows = windows or WindowsConfig()
    latest = validation_window(wh, as_of, spec, split)
    start = wh.scalar("SELECT min(ordered_at) FROM orders")
    data_start = pd.Timestamp(start).date() if start is not None else None
    frames, labels, parts, cutoffs = [], [], [], []
    older = training_cutoffs(latest.validation_cutoff, spec, windows, data_start)
    # A big brand keeps a hashed share of each older window (salted by its cutoff, so each window draws
    # other members), so the stack stays within max_train_rows.
    share = _member_share(wh, windows.max_train_rows // max(len(older), 1))
    for cutoff in reversed(older):
        keep = f"{unit_sql('member_id', str(cutoff))} < {share!r}" if share < 1.0 else None
        features, y = _one_window(wh, cutoff, spec, keep)
        unit = member_unit(features["member_id"])
        frames.append(features)
        labels.append(y)
        parts.append(np.where(unit >= 1 - split.calibration, "early_stop", "train"))
        cutoffs.append(cutoff)
    stacked = pd.concat([*frames, latest.features], ignore_index=True)
    stacked.attrs = dict(latest.features.attrs)
    return LabelledWindow(
        stacked,
        np.concatenate([*labels, latest.labels]),
        np.concatenate([*parts, latest.part]),
        spec,
        (*cutoffs, latest.validation_cutoff),
    )


def sample_rows(
    features: pd.DataFrame, y: np.ndarray, rows: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """At most `rows` rows, a seeded sample (big brands tune and train on a sample of member-windows)."""
    if len(features) <= rows:
        return features, y
    pick = np.sort(np.random.default_rng(seed).choice(len(features), size=rows, replace=False))
    return features.iloc[pick].reset_index(drop=True), y[pick]
