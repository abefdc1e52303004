"""MLflow packaging of the forecaster (a pyfunc, so any history length and horizon work)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel


class ForecastPyfunc(PythonModel):
    """MLflow packaging: history (week, audience, revenue) in, quantiles out; params start_week, horizon.

    `model` is a TournamentForecaster (each series' choice; a `model` column names it) or, in versions
    registered before the tournament, an RNNForecaster. A pyfunc keeps the GRU's plain state_dict, so any
    history length and horizon work (pt2 export would freeze the sequence lengths). Services reach the
    model itself with `unwrap_python_model().model`.
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        history = model_input.assign(week=pd.to_datetime(model_input["week"]))
        frame = self.model.predict(history, params.get("start_week") or None, int(params.get("horizon", 13)))
        return frame.assign(week=frame["week"].dt.strftime("%Y-%m-%d"))
