"""The tournament's candidate scorers: raw repurchase probability, per-feature log-odds, importance.

Every candidate answers the same questions, so the served model (`PropensityModel`) does not care which
one won: `predict_raw` (an uncalibrated probability), `contributions` (log-odds each feature adds or
removes relative to a typical member: TreeSHAP, linear terms or exact Shapley values), `importance`,
`feature_names_` (the feature-table columns it reads) and `use_bgnbd` (whether BG/NBD features are
derived from the record). Simplest first: BG/NBD's closed form, an RFM logistic model, LightGBM, a blend.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from math import factorial
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from memberwise.modeling.baselines import BGNBD, bgnbd_inputs

# Feature-table columns that are identifiers, timestamps or too fine-grained to learn from.
NOT_FEATURES = ("member_id", "as_of", "first_purchase_at", "birth_year", "province", "city")
BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_purchases")
BGNBD_COLUMNS = ("orders_total", "days_since_last_purchase", "days_since_first_purchase")
SIMPLICITY = ("bgnbd", "rfm_logistic", "lightgbm", "blend")  # ties go to the earlier one
NEVER_BOUGHT_DAYS = 3650.0  # recency given to members who never bought (RFM logistic)


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def fit_bgnbd(features: pd.DataFrame) -> BGNBD:
    """BG/NBD (weeks) fitted on the histories in a feature table (labels are not used)."""
    inputs = bgnbd_inputs(features)
    return BGNBD(penalizer=1e-3).fit(inputs["frequency"], inputs["recency"], inputs["T"])


class BGNBDScorer:
    """BG/NBD's own P(at least one purchase in the horizon) from frequency, recency and age."""

    name = "bgnbd"
    use_bgnbd = False
    feature_names_: ClassVar[list[str]] = list(BGNBD_COLUMNS)

    def __init__(self, horizon_days: int = 90, bgnbd: BGNBD | None = None) -> None:
        self.horizon_days = horizon_days
        self.bgnbd = bgnbd  # already fitted on the same rows (one fit shared by every user of BG/NBD)

    def fit(self, features: pd.DataFrame, y: np.ndarray | None = None) -> BGNBDScorer:
        """Fit the population parameters; the typical member (medians) is the reasons' reference."""
        self.bgnbd_ = self.bgnbd or fit_bgnbd(features)
        self.typical_ = features[list(BGNBD_COLUMNS)].astype("float64").median().fillna(0.0)
        return self

    def _p(self, frame: pd.DataFrame) -> np.ndarray:
        inputs = bgnbd_inputs(frame)
        return self.bgnbd_.p_any_purchase(
            self.horizon_days / 7, inputs["frequency"], inputs["recency"], inputs["T"]
        )

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        return np.clip(self._p(features), 1e-6, 1 - 1e-6)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Exact Shapley values of the three inputs (log-odds), against the typical member."""
        member = features[list(BGNBD_COLUMNS)].astype("float64").reset_index(drop=True)

        def value(subset: tuple[str, ...]) -> np.ndarray:
            values = {c: member[c] if c in subset else self.typical_[c] for c in BGNBD_COLUMNS}
            frame = pd.DataFrame(values, index=member.index)
            first = frame["days_since_first_purchase"]
            frame["days_since_last_purchase"] = np.minimum(frame["days_since_last_purchase"], first)
            return logit(self.predict_raw(frame))

        return pd.DataFrame(shapley(list(BGNBD_COLUMNS), value), index=features.index)

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        """The values its contributions are about (for the reasons' words)."""
        return features[self.feature_names_]

    def importance(self) -> pd.Series:
        return pd.Series(1.0, index=list(BGNBD_COLUMNS), name="weight")


def shapley(players: list[str], value: Callable[[tuple[str, ...]], np.ndarray]) -> dict[str, np.ndarray]:
    """Exact Shapley values of a few players (2^n evaluations of `value`)."""
    n = len(players)
    cache = {s: value(s) for k in range(n + 1) for s in combinations(players, k)}
    out = {}
    for player in players:
        others = [p for p in players if p != player]
        total = np.zeros_like(cache[()])
        for k in range(n):
            weight = factorial(k) * factorial(n - k - 1) / factorial(n)
            for subset in combinations(others, k):
                with_player = tuple(p for p in players if p in subset or p == player)
                total += weight * (cache[with_player] - cache[subset])
        out[player] = total
    return out


RFM_SOURCES = (
    "days_since_last_purchase",
    "days_since_first_purchase",
    "orders_total",
    "avg_order_value",
    *(f"orders_{w}d" for w in (30, 90, 180, 365)),
)


def rfm_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """Log-transformed recency, frequency, monetary value and windowed order counts (one column each)."""
    col = {c: pd.to_numeric(features[c], errors="coerce").astype("float64") for c in RFM_SOURCES}
    recency = col["days_since_last_purchase"].fillna(NEVER_BOUGHT_DAYS)
    return pd.DataFrame(
        {
            "days_since_last_purchase": np.log1p(recency),
            "never_bought": col["days_since_last_purchase"].isna().astype("float64"),
            "days_since_first_purchase": np.log1p(col["days_since_first_purchase"].fillna(0.0)),
            "orders_total": np.log1p(col["orders_total"].fillna(0.0)),
            "avg_order_value": np.log1p(col["avg_order_value"].fillna(0.0).clip(lower=0)),
            **{f"orders_{w}d": np.log1p(col[f"orders_{w}d"].fillna(0.0)) for w in (30, 90, 180, 365)},
        },
        index=features.index,
    )


class RFMLogistic:
    """L2-regularised logistic regression on log RFM features; C chosen on the early-stopping members."""

    name = "rfm_logistic"
    use_bgnbd = False
    feature_names_: ClassVar[list[str]] = list(RFM_SOURCES)
    GRID = (0.01, 0.1, 1.0)

    def fit(
        self, features: pd.DataFrame, y: np.ndarray, valid: pd.DataFrame, y_valid: np.ndarray
    ) -> RFMLogistic:
        x, x_valid = rfm_inputs(features), rfm_inputs(valid)
        self.scaler_ = StandardScaler().fit(x)
        z, z_valid = self.scaler_.transform(x), self.scaler_.transform(x_valid)
        fits = [LogisticRegression(C=c, max_iter=500).fit(z, y) for c in self.GRID]
        losses = [log_loss(y_valid, m.predict_proba(z_valid)[:, 1], labels=[0, 1]) for m in fits]
        self.model_ = fits[int(np.argmin(losses))]
        self.columns_ = list(x.columns)
        return self

    def _z(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.scaler_.transform(rfm_inputs(features)[self.columns_]))

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self._z(features))[:, 1])

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Coefficient x standardised input: log-odds against the average training member."""
        terms = pd.DataFrame(
            self._z(features) * self.model_.coef_[0], columns=self.columns_, index=features.index
        )
        terms["days_since_last_purchase"] += terms.pop("never_bought")
        return terms

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        return features[self.feature_names_]

    def importance(self) -> pd.Series:
        source = [c if c != "never_bought" else "days_since_last_purchase" for c in self.columns_]
        weights = pd.Series(np.abs(self.model_.coef_[0]), index=source).groupby(level=0).sum()
        return weights.rename("|coefficient|").sort_values(ascending=False)


class LightGBMScorer:
    """LightGBM on the whole feature table (+ BG/NBD P(alive) and expected purchases), early-stopped."""

    name = "lightgbm"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        use_bgnbd: bool = True,
        horizon_days: int = 90,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 50,
        seed: int = 0,
        bgnbd: BGNBD | None = None,
    ) -> None:
        self.params = params or {}
        self.use_bgnbd = use_bgnbd
        self.bgnbd = bgnbd  # already fitted on the training rows (Optuna trials share one fit)
        self.horizon_days = horizon_days
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed

    def _bgnbd_columns(self, features: pd.DataFrame) -> pd.DataFrame:
        inputs = bgnbd_inputs(features)
        args = (inputs["frequency"], inputs["recency"], inputs["T"])
        return pd.DataFrame(
            {
                "bgnbd_p_alive": self.bgnbd_.p_alive(*args),
                "bgnbd_expected_purchases": self.bgnbd_.expected_purchases(self.horizon_days / 7, *args),
            },
            index=features.index,
        )

    def design_matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        """Model inputs in training order: numeric features as float, text features as fixed categories."""
        frame = features.drop(columns=[c for c in NOT_FEATURES if c in features.columns])
        if self.use_bgnbd:
            frame = pd.concat([frame, self._bgnbd_columns(features)], axis=1)
        if not hasattr(self, "feature_names_"):
            self.categories_ = {
                c: sorted(frame[c].dropna().astype(str).unique())
                for c in frame.columns
                if not pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
            }
            self.feature_names_ = list(frame.columns)
        missing = [c for c in self.feature_names_ if c not in frame.columns]
        if missing:
            raise ValueError(f"feature records lack column(s): {', '.join(missing)}")
        frame = frame[self.feature_names_]
        columns = {}
        for name in self.feature_names_:
            if name in self.categories_:
                text = frame[name].astype("string").astype(object).where(frame[name].notna(), None)
                columns[name] = pd.Categorical(text, categories=self.categories_[name])
            else:
                numbers = pd.to_numeric(frame[name].astype("Float64"), errors="coerce")
                columns[name] = numbers.astype("float64")
        return pd.DataFrame(columns, index=frame.index)

    def fit(
        self,
        features: pd.DataFrame,
        y: np.ndarray,
        valid: pd.DataFrame,
        y_valid: np.ndarray,
        callbacks: list[Callable[..., None]] | None = None,
    ) -> LightGBMScorer:
        """Fit on (features, y), early-stopped on the AUC of the validation members."""
        if self.use_bgnbd:
            self.bgnbd_ = self.bgnbd or fit_bgnbd(features)
        train, held = self.design_matrix(features), self.design_matrix(valid)
        params = {
            "objective": "binary",
            "metric": "auc",
            "verbosity": -1,
            "seed": self.seed,
            "deterministic": True,
            "bagging_freq": 1,
            "num_threads": 2,
            **self.params,
        }
        self.booster_ = lgb.train(
            params,
            lgb.Dataset(train, label=np.asarray(y, dtype=float)),
            num_boost_round=self.max_rounds,
            valid_sets=[lgb.Dataset(held, label=np.asarray(y_valid, dtype=float))],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False), *(callbacks or [])],
        )
        return self

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        return self.design_matrix(features)

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        matrix = self.design_matrix(features)
        return np.asarray(self.booster_.predict(matrix, num_iteration=self.booster_.best_iteration))

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP log-odds per feature (`pred_contrib`); the bias column is dropped."""
        matrix = self.design_matrix(features)
        values = np.asarray(
            self.booster_.predict(matrix, num_iteration=self.booster_.best_iteration, pred_contrib=True)
        )
        return pd.DataFrame(values[:, :-1], columns=self.feature_names_, index=features.index)

    def importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)


class Blend:
    """A logistic stack of the other candidates' log-odds, fitted on members none of them trained on."""

    name = "blend"

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    @property
    def use_bgnbd(self) -> bool:
        return any(m.use_bgnbd for m in self.members)

    @property
    def feature_names_(self) -> list[str]:
        names: list[str] = []
        for member in self.members:
            names += [c for c in member.feature_names_ if c not in names]
        return names

    @staticmethod
    def _stack(member_raw: list[np.ndarray]) -> np.ndarray:
        return np.column_stack([logit(raw) for raw in member_raw])

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Blend:
        stacked = self._stack([m.predict_raw(features) for m in self.members])
        self.model_ = LogisticRegression(C=1.0).fit(stacked, y)
        return self

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        return self.combine([m.predict_raw(features) for m in self.members])

    def combine(self, member_raw: list[np.ndarray]) -> np.ndarray:
        """The blend's output from its members' outputs (in `members` order).

        For a caller already holding them: at a million rows, predicting the trees again costs more
        than the whole stack.
        """
        return np.asarray(self.model_.predict_proba(self._stack(member_raw))[:, 1])

    def inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        frames = [m.inputs(features) for m in self.members]
        merged = pd.concat(frames, axis=1)
        return merged.loc[:, ~merged.columns.duplicated()][self.feature_names_]

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Each member's contributions weighted by its stacking weight (the stack is linear in log-odds)."""
        total = pd.DataFrame(0.0, index=features.index, columns=self.feature_names_)
        for weight, member in zip(self.model_.coef_[0], self.members, strict=True):
            part = member.contributions(features)
            total[part.columns] += weight * part
        return total

    def importance(self) -> pd.Series:
        total = pd.Series(0.0, index=self.feature_names_)
        for weight, member in zip(self.model_.coef_[0], self.members, strict=True):
            share = member.importance()
            total[share.index] += abs(weight) * share / max(float(share.sum()), 1e-12)
        return total.rename("weighted share").sort_values(ascending=False)
