"""Repurchase propensity: LightGBM on member features (+ BG/NBD features), calibrated, scored 0-100.

A score means the same thing after every retrain because it is the calibrated probability x 100:
a member scored 70 buys again within the horizon about 70% of the time. Per-member reasons come from
LightGBM's exact TreeSHAP contributions (`pred_contrib`), turned into words a marketer reads; they are
computed only for the rows asked for (TreeSHAP is ~100x slower than prediction).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from memberwise.feature_spec import FeatureSpec
from memberwise.modeling.baselines import BGNBD, bgnbd_inputs
from memberwise.modeling.scores import score_from_probability

# Feature-table columns that are identifiers, timestamps or too fine-grained to learn from.
NOT_FEATURES = ("member_id", "as_of", "first_purchase_at", "birth_year", "province", "city")
BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_purchases")


class PropensityModel:
    """LightGBM classifier + probability calibrator (+ BG/NBD features), with marketer-facing reasons.

    `horizon_days` and `new_window_days` say which label and which `customer_type` rule the model was
    trained on; `feature_spec` hands them to whoever scores with it (they are not re-read from settings).
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        calibration: str = "isotonic",
        use_bgnbd: bool = True,
        horizon_days: int = 90,
        new_window_days: int = 90,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 50,
        seed: int = 0,
    ) -> None:
        self.params = params or {}
        self.calibration = calibration
        self.use_bgnbd = use_bgnbd
        self.horizon_days = horizon_days
        self.new_window_days = new_window_days
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed

    @property
    def feature_spec(self) -> FeatureSpec:
        """The label horizon and feature windows this model scores on."""
        # Versions pickled before the spec was recorded were all trained on 90-day 'new' windows.
        return FeatureSpec(self.horizon_days, getattr(self, "new_window_days", 90))

    # -- inputs -------------------------------------------------------------------------------------
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
                columns[name] = pd.to_numeric(frame[name].astype("Float64"), errors="coerce").astype(
                    "float64"
                )
        return pd.DataFrame(columns, index=frame.index)

    # -- fitting ------------------------------------------------------------------------------------
    def fit(
        self,
        features: pd.DataFrame,
        y: np.ndarray,
        cal_features: pd.DataFrame,
        y_cal: np.ndarray,
        callbacks: list[Callable[..., None]] | None = None,
    ) -> PropensityModel:
        """Fit LightGBM on (features, y), early-stopped (on AUC) and calibrated on the calibration members."""
        if self.use_bgnbd:
            inputs = bgnbd_inputs(features)
            self.bgnbd_ = BGNBD(penalizer=1e-3).fit(inputs["frequency"], inputs["recency"], inputs["T"])
        train = self.design_matrix(features)
        valid = self.design_matrix(cal_features)
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
            valid_sets=[lgb.Dataset(valid, label=np.asarray(y_cal, dtype=float))],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False), *(callbacks or [])],
        )
        raw = np.asarray(self.booster_.predict(valid, num_iteration=self.booster_.best_iteration))
        self.calibrator_ = _fit_calibrator(self.calibration, raw, np.asarray(y_cal, dtype=int))
        return self

    # -- predicting ---------------------------------------------------------------------------------
    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        """Uncalibrated LightGBM probabilities."""
        matrix = self.design_matrix(features)
        return np.asarray(self.booster_.predict(matrix, num_iteration=self.booster_.best_iteration))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of a paid order within the horizon."""
        return np.clip(self.calibrator_(self.predict_raw(features)), 0.0, 1.0)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """The 0-100 score of the calibrated probability (the one rule in `modeling.scores`)."""
        return score_from_probability(self.predict_proba(features))

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per-member log-odds contribution of every feature (TreeSHAP); the bias column is dropped."""
        matrix = self.design_matrix(features)
        values = np.asarray(
            self.booster_.predict(matrix, num_iteration=self.booster_.best_iteration, pred_contrib=True)
        )
        return pd.DataFrame(values[:, :-1], columns=self.feature_names_, index=features.index)

    def reasons(self, features: pd.DataFrame, k: int = 3) -> list[list[str]]:
        """The k features that raise each member's score most, in words (then those lowering it least)."""
        contrib = self.contributions(features)
        matrix = self.design_matrix(features)
        order = np.argsort(-contrib.to_numpy(), axis=1)[:, :k]
        out = []
        for row, picks in enumerate(order):
            words = []
            for col in picks:
                name = self.feature_names_[col]
                effect = "raises" if contrib.iat[row, col] >= 0 else "lowers"
                words.append(f"{describe(name, matrix.iat[row, col])} ({effect} the score)")
            out.append(words)
        return out

    def importance(self) -> pd.Series:
        """Total gain per feature, largest first."""
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_).sort_values(ascending=False)


def _fit_calibrator(method: str, raw: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A monotone map from raw to calibrated probabilities, fitted on held-out members."""
    if method == "isotonic":
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return isotonic.predict
    logit = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / (1 - np.clip(raw, 1e-6, 1 - 1e-6)))
    platt = LogisticRegression().fit(logit.reshape(-1, 1), y)

    def sigmoid(p: np.ndarray) -> np.ndarray:
        z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
        return platt.predict_proba(z.reshape(-1, 1))[:, 1]

    return sigmoid


_PHRASES: dict[str, Callable[[Any], str]] = {
    "days_since_last_purchase": lambda v: f"last purchase {v:.0f} days ago",
    "days_since_first_purchase": lambda v: f"customer for {v:.0f} days",
    "days_since_last_interaction": lambda v: f"last engaged {v:.0f} days ago",
    "orders_total": lambda v: f"{v:.0f} orders in total",
    "avg_order_value": lambda v: f"average order {v:,.0f}",
    "tenure_days": lambda v: f"known for {v:.0f} days",
    "bgnbd_p_alive": lambda v: f"{v:.0%} likely still active",
    "bgnbd_expected_purchases": lambda v: f"{v:.1f} purchases expected in the horizon",
    "coupon_order_share_365d": lambda v: f"{v:.0%} of orders used a coupon",
}


_WINDOWED = re.compile(r"^(orders|revenue|interactions)_(\d+)d$")


def describe(feature: str, value: Any) -> str:
    """A short phrase for a feature value, e.g. 'last purchase 12 days ago'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {"days_since_last_interaction": "no engagement on record"}.get(
            feature, f"no {feature.replace('_', ' ')}"
        )
    phrase = _PHRASES.get(feature)
    if phrase is not None:
        return phrase(value)
    windowed = _WINDOWED.match(feature)
    if windowed:
        what, days = windowed.groups()
        amount = f"{float(value):,.0f}"
        return (
            f"spent {amount} in the last {days} days"
            if what == "revenue"
            else f"{amount} {what} in {days} days"
        )
    if feature == "revenue_total":
        return f"spent {float(value):,.0f} in total"
    if feature.startswith("spend_share_"):
        channel = feature.removeprefix("spend_share_").removesuffix("_365d")
        return f"{float(value):.0%} of spend in {channel}"
    if isinstance(value, float):
        return f"{feature.replace('_', ' ')} {value:,.2f}".rstrip("0").rstrip(".")
    return f"{feature.replace('_', ' ')}: {value}"


class PropensityPyfunc(PythonModel):
    """The MLflow packaging of a fitted PropensityModel: feature records in, probability and score out.

    Services unwrap it (`unwrap_python_model().model`) to reach reasons and importance.
    """

    def __init__(self, model: PropensityModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        probability = self.model.predict_proba(model_input)
        return pd.DataFrame({"probability": probability, "score": score_from_probability(probability)})


def model_input(features: pd.DataFrame) -> pd.DataFrame:
    """Feature records as the logged model's signature expects them: numbers as float, text as str."""
    columns = {}
    for name in features.columns:
        if name in NOT_FEATURES:
            continue
        column = features[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            columns[name] = pd.to_numeric(column.astype("Float64"), errors="coerce").astype("float64")
        else:
            columns[name] = column.astype(object).where(column.notna(), None)
    return pd.DataFrame(columns, index=features.index)
