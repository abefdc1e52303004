"""Reasons in a marketer's words: what pulls a member's score up and what pulls it down.

Contributions are log-odds relative to a typical member of the brand (TreeSHAP, linear terms or Shapley
values, whichever the winning candidate gives). A member scored below the brand's base rate is told first
what lowers the score ("no purchase in 400 days (lowers the score)"), one above it first what raises it.
An absence ("no purchase in the last 365 days") is never offered as raising a score: to a marketer that
reads as nonsense, whatever a tree's interaction terms say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

LAPSED_DAYS = 180  # a last purchase longer ago than this is said as "no purchase in N days"

_PHRASES: dict[str, Callable[[Any], str]] = {
    "days_since_last_purchase": lambda v: (
        f"no purchase in {v:.0f} days" if v > LAPSED_DAYS else f"last purchase {v:.0f} days ago"
    ),
    "days_since_first_purchase": lambda v: f"customer for {v:.0f} days",
    "days_since_last_interaction": lambda v: f"last engaged {v:.0f} days ago",
    "orders_total": lambda v: "never bought" if v == 0 else f"{v:.0f} order{'' if v == 1 else 's'} in total",
    "avg_order_value": lambda v: f"average order {v:,.0f}",
    "tenure_days": lambda v: f"known for {v:.0f} days",
    "bgnbd_p_alive": lambda v: f"{v:.0%} likely still active",
    "bgnbd_expected_purchases": lambda v: f"{v:.1f} purchases expected in the horizon",
    "coupon_order_share_365d": lambda v: f"{v:.0%} of orders used a coupon",
}
_MISSING = {
    "days_since_last_interaction": "no engagement on record",
    "days_since_last_purchase": "never bought",
    "days_since_first_purchase": "never bought",
    "avg_order_value": "never bought",
}
_WINDOWED = re.compile(r"^(orders|revenue|interactions)_(\d+)d$")


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def describe(feature: str, value: Any) -> str:
    """A short phrase for a feature value, e.g. 'last purchase 12 days ago'."""
    if _absent(value):
        return _MISSING.get(feature, f"no {feature.replace('_', ' ')}")
    phrase = _PHRASES.get(feature)
    if phrase is not None:
        return phrase(value)
    windowed = _WINDOWED.match(feature)
    if windowed:
        what, days = windowed.groups()
        if float(value) == 0:
            return (
                f"no engagement in the last {days} days"
                if what == "interactions"
                else (f"no purchase in the last {days} days")
            )
        amount = f"{float(value):,.0f}"
        if what == "revenue":
            return f"spent {amount} in the last {days} days"
        return f"{amount} {what} in {days} days"
    if feature == "revenue_total":
        return f"spent {float(value):,.0f} in total"
    if feature.startswith("spend_share_"):
        channel = feature.removeprefix("spend_share_").removesuffix("_365d")
        return f"{float(value):.0%} of spend in {channel}"
    if isinstance(value, float):
        return f"{feature.replace('_', ' ')} {value:,.2f}".rstrip("0").rstrip(".")
    return f"{feature.replace('_', ' ')}: {value}"


def says_absence(phrase: str) -> bool:
    """Whether a phrase describes something missing (never offered as raising a score)."""
    return phrase.startswith(("no ", "never "))


def explain(
    contributions: pd.DataFrame, values: pd.DataFrame, below_base: np.ndarray, k: int = 3
) -> list[list[str]]:
    """The k strongest reasons per member, lowering ones first for members below the base rate."""
    out = []
    names = list(contributions.columns)
    matrix = contributions.to_numpy()
    for row in range(len(matrix)):
        effects = matrix[row]
        strongest = np.argsort(-np.abs(effects), kind="stable")
        direction = -1.0 if below_base[row] else 1.0
        order = sorted(strongest, key=lambda col: effects[col] * direction < 0)  # stable: leading side first
        words: list[str] = []
        for col in order:
            if len(words) == k or effects[col] == 0:
                break
            phrase = describe(names[col], values.iat[row, col])
            raises = effects[col] > 0
            if (raises and says_absence(phrase)) or any(w.startswith(phrase + " (") for w in words):
                continue
            words.append(f"{phrase} ({'raises' if raises else 'lowers'} the score)")
        out.append(words)
    return out
