"""Personas: KMeans clusters of recent buyers on how they buy, k chosen with evidence, named in words.

Pure model code (no I/O). Only members with a paid order in the 365 days before the cutoff get a
persona: a persona describes buying behaviour, and members without recent orders have none to describe
(their lifecycle stage already says "sleeping" or "lost").
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import RobustScaler

# How people buy, not how much or how recently (that is propensity and lifecycle): basket size, how
# often, deal and gift behaviour, and which kind of channel. Money and counts are log1p-transformed so a
# few big spenders do not define the clusters. Channels are grouped (own app/WeChat, stores,
# marketplaces) because most members hold one account per group; single-channel shares would split
# clusters by account rather than by behaviour.
LOG_FEATURES = ("avg_order_value", "orders_365d")
CHANNEL_GROUPS = {
    "own_channels": ("app", "wechat"),
    "stores": ("pos",),
    "marketplaces": ("tmall", "jd", "douyin"),
}
RATE_FEATURES = ("coupon_order_share_365d", "gift_order_share_365d")
BEHAVIOUR_FEATURES = (*LOG_FEATURES, *RATE_FEATURES, *(f"spend_share_{group}" for group in CHANNEL_GROUPS))
# Input columns a persona needs (for the service's feature records and the pyfunc signature).
INPUT_FEATURES = (
    *LOG_FEATURES,
    *RATE_FEATURES,
    *(f"spend_share_{c}_365d" for channels in CHANNEL_GROUPS.values() for c in channels),
)
# After scaling, channel shares count half: they are nearly 0/1, so at full weight the channel a member
# happened to register in would outvote how they actually buy.
FEATURE_WEIGHTS = {f"spend_share_{group}": 0.5 for group in CHANNEL_GROUPS}

# How a distinctive centroid reads: (feature, direction) -> a short label for names and descriptions.
LABELS = {
    ("gift_order_share_365d", 1): "Gift buyers",
    ("coupon_order_share_365d", 1): "Deal hunters",
    ("coupon_order_share_365d", -1): "Full-price buyers",
    ("spend_share_own_channels", 1): "App & WeChat regulars",
    ("spend_share_stores", 1): "Store shoppers",
    ("spend_share_marketplaces", 1): "Marketplace shoppers",
    ("orders_365d", 1): "Frequent buyers",
    ("orders_365d", -1): "Occasional buyers",
    ("avg_order_value", 1): "Premium baskets",
    ("avg_order_value", -1): "Small baskets",
}
NO_PERSONA = "No paid order in the last 365 days, so no buying behaviour to describe."


def _numbers(features: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(features[name].astype("Float64"), errors="coerce").fillna(0.0).astype("float64")


def is_recent_buyer(features: pd.DataFrame) -> pd.Series:
    """Members a persona describes: at least one paid order in the 365 days before the cutoff."""
    return _numbers(features, "orders_365d") > 0


def behaviour_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The clustering inputs in readable units: money and counts as-is, shares 0-1 (missing = 0)."""
    columns = {name: _numbers(features, name) for name in (*LOG_FEATURES, *RATE_FEATURES)}
    for group, channels in CHANNEL_GROUPS.items():
        columns[f"spend_share_{group}"] = sum(_numbers(features, f"spend_share_{c}_365d") for c in channels)
    return pd.DataFrame(columns, index=features.index)


def _transformed(raw: pd.DataFrame) -> pd.DataFrame:
    out = raw.copy()
    out[list(LOG_FEATURES)] = np.log1p(out[list(LOG_FEATURES)].clip(lower=0))
    return out


def choose_k(table: pd.DataFrame, min_stability: float, tolerance: float) -> int:
    """The most detailed stable k whose silhouette is within `tolerance` (relative) of the best stable one.

    Stable = mean adjusted Rand index between seeds >= min_stability; unstable k are chosen only when
    none is stable. Among near-equal separations, more personas give marketers more to act on.
    """
    stable = table[table["stability"] >= min_stability]
    pool = stable if not stable.empty else table
    near_best = pool[pool["silhouette"] >= (1 - tolerance) * pool["silhouette"].max()]
    return int(near_best["k"].max())


class PersonaModel:
    """Log + robust scaling + KMeans; k chosen by silhouette and stability; personas named in words.

    Persona ids are ordered by size (0 = the largest), so the same data gives the same ids and names.
    """

    def __init__(
        self,
        k_min: int = 3,
        k_max: int = 8,
        stability_seeds: int = 4,
        min_stability: float = 0.8,
        silhouette_tolerance: float = 0.02,
        sample: int = 5_000,
        seed: int = 0,
    ) -> None:
        if not 2 <= k_min <= k_max:
            raise ValueError(f"need 2 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
        self.k_min = k_min
        self.k_max = k_max
        self.stability_seeds = stability_seeds
        self.min_stability = min_stability
        self.silhouette_tolerance = silhouette_tolerance
        self.sample = sample
        self.seed = seed

    def fit(self, features: pd.DataFrame) -> PersonaModel:
        """Compare k on a sample, fit the chosen k on every recent buyer, and describe each persona."""
        buyers = features[is_recent_buyer(features)]
        if len(buyers) < 10 * self.k_max:
            raise ValueError(f"too few recent buyers to find personas: {len(buyers)}")
        raw = behaviour_matrix(buyers)
        # 5-95% range: shares are mostly 0 or 1, so the usual IQR is often zero.
        self.scaler_ = RobustScaler(quantile_range=(5.0, 95.0)).fit(_transformed(raw))
        scaled = self.transform(raw)
        rng = np.random.default_rng(self.seed)
        sample = scaled[rng.choice(len(scaled), size=min(self.sample, len(scaled)), replace=False)]
        self.k_table_ = pd.DataFrame([self._evidence(sample, k) for k in range(self.k_min, self.k_max + 1)])
        self.k_ = choose_k(self.k_table_, self.min_stability, self.silhouette_tolerance)
        kmeans = self._kmeans(self.k_, self.seed).fit(scaled)
        order = np.argsort(-np.bincount(kmeans.labels_, minlength=self.k_), kind="stable")
        self.centers_ = kmeans.cluster_centers_[order]
        labels = self._nearest(scaled)
        self.personas_ = self._describe(raw, scaled, labels, _numbers(buyers, "revenue_365d"))
        return self

    def _kmeans(self, k: int, seed: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=4, random_state=seed)

    def _evidence(self, sample: np.ndarray, k: int) -> dict[str, float]:
        """Silhouette (separation) and mean pairwise ARI across seeds (stability) for one k."""
        fits = [self._kmeans(k, self.seed + s).fit(sample) for s in range(self.stability_seeds)]
        stability = np.mean([adjusted_rand_score(a.labels_, b.labels_) for a, b in combinations(fits, 2)])
        return {
            "k": k,
            "silhouette": float(silhouette_score(sample, fits[0].labels_)),
            "stability": float(stability),
            "inertia": float(fits[0].inertia_),
        }

    def transform(self, raw: pd.DataFrame) -> np.ndarray:
        """Behaviour matrix -> the weighted, scaled space KMeans works in."""
        weights = np.array([FEATURE_WEIGHTS.get(c, 1.0) for c in raw.columns])
        return np.asarray(self.scaler_.transform(_transformed(raw))) * weights

    def _nearest(self, scaled: np.ndarray) -> np.ndarray:
        distances = ((scaled[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2)
        return distances.argmin(axis=1)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Persona id per member (nullable; null for members without a paid order in 365 days)."""
        out = pd.Series(pd.NA, index=features.index, dtype="Int64")
        buyers = is_recent_buyer(features)
        if buyers.any():
            out[buyers] = self._nearest(self.transform(behaviour_matrix(features[buyers])))
        return out

    def assign(self, features: pd.DataFrame) -> pd.DataFrame:
        """Persona id, name and description per member (member_id kept when present)."""
        ids = self.predict(features)
        names = self.personas_.set_index("persona_id")
        out = pd.DataFrame({"persona_id": ids}, index=features.index)
        out["persona"] = ids.map(names["name"]).astype(object).where(ids.notna(), None)
        out["description"] = ids.map(names["description"]).astype(object).where(ids.notna(), NO_PERSONA)
        if "member_id" in features.columns:
            out.insert(0, "member_id", features["member_id"])
        return out

    def _describe(
        self, raw: pd.DataFrame, scaled: np.ndarray, labels: np.ndarray, revenue: pd.Series
    ) -> pd.DataFrame:
        """One row per persona: size, revenue share, median profile in original units, name, sentence."""
        profile = raw.assign(persona_id=labels).groupby("persona_id").median()
        sizes = np.bincount(labels, minlength=self.k_)
        revenue_by = revenue.groupby(labels).sum().reindex(range(self.k_), fill_value=0.0)
        spread = scaled.std(axis=0).clip(min=1e-9)
        distinct = pd.DataFrame((self.centers_ - scaled.mean(axis=0)) / spread, columns=raw.columns)
        varies = {c for c in raw.columns if raw[c].nunique() > 1}
        names: list[str] = []
        descriptions = []
        for persona in range(self.k_):
            words = _words(distinct.loc[persona])
            names.append(_distinct_name(words, names, persona))
            descriptions.append(_sentence(words, profile.loc[persona], varies))
        table = pd.DataFrame(
            {
                "persona_id": range(self.k_),
                "name": names,
                "description": descriptions,
                "members": sizes,
                "member_share": sizes / sizes.sum(),
                "revenue_share": revenue_by.to_numpy() / max(revenue_by.sum(), 1e-9),
            }
        )
        return table.join(profile.reset_index(drop=True))

    def distinctiveness(self) -> pd.DataFrame:
        """Centroids in standard deviations from the buyers' mean (for the profile heatmap)."""
        return pd.DataFrame(self.centers_, columns=list(BEHAVIOUR_FEATURES)).set_axis(
            self.personas_["name"], axis=0
        )


def _words(distinct: pd.Series) -> list[str]:
    """Labels for the features, most distinctive first (|z| > 0.25 only, so a label means something).

    Basket size and frequency far from the typical buyer (|z| >= 1.5) read "Very ...", so personas that
    differ only in degree (common when few behaviours vary) still get different names.
    """
    words = []
    for feature in distinct.abs().sort_values(ascending=False).index:
        z = float(distinct[feature])
        label = LABELS.get((feature, int(np.sign(z))))
        if abs(z) > 0.25 and label is not None:
            very = abs(z) >= 1.5 and feature in LOG_FEATURES
            words.append(f"Very {label[0].lower()}{label[1:]}" if very else label)
    return words


def _distinct_name(words: list[str], taken: list[str], persona: int) -> str:
    """The two most distinctive labels; more (then the number) only when another persona has those labels.

    Names are compared as sets of labels: "A · B" and "B · A" would read as the same persona.
    """
    seen = [frozenset(name.split(" · ")) for name in taken]
    for count in range(2, len(words) + 1):
        if frozenset(words[:count]) not in seen:
            return " · ".join(words[:count])
    fallback = " · ".join(words[:2]) or "Typical buyers"
    return fallback if frozenset(fallback.split(" · ")) not in seen else f"{fallback} ({persona + 1})"


def _sentence(words: list[str], row: pd.Series, varies: set[str]) -> str:
    """A marketer's one-liner from the median member; behaviours that never vary are not mentioned."""
    lead = ", ".join([words[0], *(w[0].lower() + w[1:] for w in words[1:3])]) if words else "Typical buyers"
    orders = row["orders_365d"]
    parts = [
        f"typical order {row['avg_order_value']:,.0f}",
        f"{orders:.0f} order{'' if orders == 1 else 's'} a year",
    ]
    channels = [group for group in CHANNEL_GROUPS if f"spend_share_{group}" in varies]
    if channels:
        channel = max(channels, key=lambda group: row[f"spend_share_{group}"])
        parts.append(f"{row[f'spend_share_{channel}']:.0%} of spend in {channel.replace('_', ' ')}")
    if "coupon_order_share_365d" in varies:
        parts.append(f"{row['coupon_order_share_365d']:.0%} of orders with a coupon")
    if "gift_order_share_365d" in varies:
        parts.append(f"{row['gift_order_share_365d']:.0%} as gifts")
    return f"{lead}: {', '.join(parts)}."


class PersonasPyfunc(PythonModel):
    """The MLflow packaging of a fitted PersonaModel: feature records in, persona id, name, description out.

    Services unwrap it (`unwrap_python_model().model`) to reach the persona table.
    """

    def __init__(self, model: PersonaModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        assigned = self.model.assign(model_input)
        return assigned.assign(persona_id=assigned["persona_id"].astype("float64"))[
            ["persona_id", "persona", "description"]
        ]
