"""The served propensity model: the tournament's winning candidate + its calibrator, scored 0-100.

A score means the same thing after every retrain because it is the calibrated probability x 100:
a member scored 70 buys again within the horizon about 70% of the time. Whichever candidate won (LightGBM,
BG/NBD, RFM logistic, a blend), the service, the snapshot and the MLflow pyfunc call the same methods:
`predict_proba`, `reasons`, `importance`, `feature_names_`, `use_bgnbd`, `feature_spec`. Reasons are
computed only for the rows asked for (TreeSHAP is ~100x slower than prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from memberwise.feature_spec import FeatureSpec
from memberwise.modeling.propensity.calibration import Calibrator
from memberwise.modeling.propensity.candidates import NOT_FEATURES, LightGBMScorer
from memberwise.modeling.propensity.reasons import explain
from memberwise.modeling.scores import score_from_probability

PREDICT_CHUNK_ROWS = 500_000


class PropensityModel:
    """A candidate scorer + probability calibrator, with marketer-facing reasons.

    Built by the tournament (`assemble`) or, as before, fitted directly as a LightGBM model (`fit`).
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

    @classmethod
    def assemble(
        cls, scorer: Any, calibrator: Calibrator, base_rate: float, spec: FeatureSpec
    ) -> PropensityModel:
        """The served model of a fitted candidate and the calibrator chosen for it."""
        model = cls(
            calibration=calibrator.method,
            use_bgnbd=scorer.use_bgnbd,
            horizon_days=spec.horizon_days,
            new_window_days=spec.new_window_days,
        )
        model.scorer_, model.calibrator_, model.base_rate_ = scorer, calibrator, base_rate
        return model

    @property
    def feature_spec(self) -> FeatureSpec:
        """The label horizon and feature windows this model scores on."""
        # Versions pickled before the spec was recorded were all trained on 90-day 'new' windows.
        return FeatureSpec(self.horizon_days, getattr(self, "new_window_days", 90))

    @property
    def candidate(self) -> str:
        """Which tournament candidate this is ('lightgbm', 'bgnbd', 'rfm_logistic', 'blend')."""
        return str(self.scorer_.name)

    @property
    def feature_names_(self) -> list[str]:
        """The feature-table columns (and derived BG/NBD features) the scorer reads."""
        return list(self.scorer_.feature_names_)

    def fit(
        self,
        features: pd.DataFrame,
        y: np.ndarray,
        cal_features: pd.DataFrame,
        y_cal: np.ndarray,
        callbacks: list[Callable[..., None]] | None = None,
    ) -> PropensityModel:
        """Fit LightGBM on (features, y), early-stopped (on AUC) and calibrated on the calibration members."""
        self.scorer_ = LightGBMScorer(
            self.params,
            self.use_bgnbd,
            self.horizon_days,
            self.max_rounds,
            self.early_stopping_rounds,
            self.seed,
        ).fit(features, y, cal_features, y_cal, callbacks)
        y_cal = np.asarray(y_cal, dtype=int)
        self.calibrator_ = Calibrator(self.calibration).fit(self.scorer_.predict_raw(cal_features), y_cal)
        self.base_rate_ = float(np.mean(y_cal))
        return self

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        """Uncalibrated candidate output, `PREDICT_CHUNK_ROWS` rows at a time.

        A scorer builds a float copy of the rows it scores (the design matrix): chunks keep that copy
        small when a 10M-member snapshot is scored.
        """
        chunks = range(0, len(features), PREDICT_CHUNK_ROWS)
        if len(chunks) <= 1:
            return np.asarray(self.scorer_.predict_raw(features))
        rows = PREDICT_CHUNK_ROWS
        return np.concatenate(
            [np.asarray(self.scorer_.predict_raw(features.iloc[i : i + rows])) for i in chunks]
        )

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of a paid order within the horizon."""
        return self.calibrated(self.predict_raw(features))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """The probability of `predict_raw`'s output (so a caller holding it never predicts twice)."""
        return np.clip(self.calibrator_(raw), 0.0, 1.0)

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """The 0-100 score of the calibrated probability (the one rule in `modeling.scores`)."""
        return score_from_probability(self.predict_proba(features))

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per-member log-odds each feature adds or removes, relative to a typical member."""
        return self.scorer_.contributions(features)

    def reasons(self, features: pd.DataFrame, k: int = 3) -> list[list[str]]:
        """What raises and what lowers each member's score, in words.

        Members scored below the brand's base rate hear first what lowers it.
        """
        contributions = self.contributions(features)
        values = self.scorer_.inputs(features)[list(contributions.columns)]
        below = self.predict_proba(features) < self.base_rate_
        return explain(contributions, values, below, k)

    def importance(self) -> pd.Series:
        """How much each feature matters to the scorer (gain, |coefficient| or weight), largest first."""
        return self.scorer_.importance()


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
