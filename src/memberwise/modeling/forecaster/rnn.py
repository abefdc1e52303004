"""RNNForecaster: fit the global quantile GRU on sliding windows of every audience, and forecast."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from memberwise.config import EventsConfig
from memberwise.modeling.forecaster.covariates import calendar_features
from memberwise.modeling.forecaster.network import QuantileGRU, pinball_loss, run_network, torch_determinism
from memberwise.modeling.forecaster.series import WEEK, monday, revenue_matrix, tidy
from memberwise.progress import track


def _windows(
    values: np.ndarray, origins: np.ndarray, input_weeks: int, horizon: int, target_end: int
) -> tuple[np.ndarray, ...]:
    """Scaled (past, future, mask, alive) per (series, origin), series-major rows; late targets masked.

    Scale = mean revenue of the input window, so each window is "relative to where the series is now".
    A window is alive when the series sold in at least half of its input weeks (not still starting up).
    """
    n_series = values.shape[1]
    padded = np.vstack([values, np.zeros((horizon, n_series))])
    past = np.stack([values[o - input_weeks : o] for o in origins], axis=0).transpose(2, 0, 1)
    future = np.stack([padded[o : o + horizon] for o in origins], axis=0).transpose(2, 0, 1)
    steps = origins[:, None] + np.arange(horizon)[None, :]
    mask = np.broadcast_to(steps < min(target_end, len(values)), future.shape).astype(np.float32)
    scale = np.maximum(past.mean(axis=-1, keepdims=True), 1e-9)
    alive = (past > 0).mean(axis=-1) >= 0.5
    rows = n_series * len(origins)
    return (
        np.log1p(past / scale).reshape(rows, input_weeks),
        np.log1p(future / scale).reshape(rows, horizon),
        mask.reshape(rows, horizon),
        alive.reshape(rows),
    )


class RNNForecaster:
    """A global quantile GRU over all audiences, with per-window scaling and known future covariates.

    Pickle-able: the weights live in `state_` (a plain state_dict), the network is rebuilt on demand.
    """

    def __init__(
        self,
        input_weeks: int = 26,
        max_horizon_weeks: int = 53,
        hidden: int = 32,
        embedding: int = 4,
        dropout: float = 0.1,
        epochs: int = 60,
        patience: int = 10,
        batch_size: int = 64,
        learning_rate: float = 0.005,
        validation_weeks: int = 13,
        seed: int = 42,
        threads: int = 1,
        events: EventsConfig | None = None,
    ) -> None:
        self.input_weeks = input_weeks
        self.max_horizon_weeks = max_horizon_weeks
        self.hidden = hidden
        self.embedding = embedding
        self.dropout = dropout
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_weeks = validation_weeks
        self.seed = seed
        self.threads = threads
        self.events = events or EventsConfig()  # the promotion calendar the covariates are built from

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Versions registered before the plain parameters kept them in an RNNConfig (`rnn`): unpack it."""
        rnn = state.pop("rnn", None)
        self.__dict__.update({**(rnn.model_dump() if rnn is not None else {}), **state})

    # -- fitting --

    def fit(
        self, history: pd.DataFrame, campaigns: pd.Series | None = None, progress: bool = False
    ) -> RNNForecaster:
        """Train on sliding windows; the last `validation_weeks` early-stop, the best epoch is kept."""
        wide = revenue_matrix(history)
        values = wide.to_numpy()
        n_weeks = len(wide)
        if n_weeks < self.input_weeks + self.validation_weeks + 8:
            raise ValueError(
                f"{n_weeks} weeks of history is too short: need at least "
                f"{self.input_weeks + self.validation_weeks + 8} (input + validation + 8 weeks)"
            )
        self.series_ = tuple(wide.columns)
        horizon = self.max_horizon_weeks
        cov = self._covariates(wide.index[0], n_weeks + horizon, campaigns)
        self.covariate_names_ = tuple(calendar_features(wide.index[:1], self.events).columns)
        split = n_weeks - self.validation_weeks
        train = self._tensors(values, cov, np.arange(self.input_weeks, split), horizon, split)
        valid = self._tensors(values, cov, np.array([split]), self.validation_weeks, n_weeks)
        with torch_determinism(self.seed, self.threads):
            net = self._network()
            self.epochs_, self.validation_loss_ = self._train(net, train, valid, progress)
            self.state_ = {k: v.detach().clone() for k, v in net.state_dict().items()}
        return self

    def _covariates(self, first: pd.Timestamp, weeks: int, campaigns: pd.Series | None) -> np.ndarray:
        index = pd.date_range(first, periods=weeks, freq="7D")
        return calendar_features(index, self.events, campaigns).to_numpy(dtype=np.float32)

    def _tensors(
        self, values: np.ndarray, cov: np.ndarray, origins: np.ndarray, horizon: int, target_end: int
    ) -> dict[str, torch.Tensor]:
        """Training tensors for every (series, origin) whose input window has sales in most weeks."""
        past, future, mask, keep = _windows(values, origins, self.input_weeks, horizon, target_end)
        n_series = values.shape[1]
        steps_past = origins[:, None] + np.arange(-self.input_weeks, 0)[None, :]
        steps_future = origins[:, None] + np.arange(horizon)[None, :]
        return {  # rows are series-major, like _windows: series * len(origins) + origin index
            "past": torch.tensor(past[keep], dtype=torch.float32),
            "future": torch.tensor(future[keep], dtype=torch.float32),
            "mask": torch.tensor(mask[keep]),
            "past_cov": torch.tensor(np.tile(cov[steps_past], (n_series, 1, 1))[keep]),
            "future_cov": torch.tensor(np.tile(cov[steps_future], (n_series, 1, 1))[keep]),
            "series": torch.tensor(np.repeat(np.arange(n_series), len(origins))[keep]),
        }

    def _network(self) -> QuantileGRU:
        return QuantileGRU(
            len(self.series_), len(self.covariate_names_), self.hidden, self.embedding, self.dropout
        )

    def _train(
        self, net: QuantileGRU, train: dict[str, torch.Tensor], valid: dict[str, torch.Tensor], progress: bool
    ) -> tuple[int, float]:
        optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        rng = np.random.default_rng(self.seed)
        best, best_epoch, best_state, stale = math.inf, 0, copy.deepcopy(net.state_dict()), 0
        for epoch in track(range(self.epochs), "training forecaster", progress):
            net.train()
            order = rng.permutation(len(train["past"]))
            for start in range(0, len(order), self.batch_size):
                batch = {k: v[order[start : start + self.batch_size]] for k, v in train.items()}
                optimizer.zero_grad()
                loss = pinball_loss(run_network(net, batch), batch["future"], batch["mask"])
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
            score = self._loss(net, valid)
            if score < best - 1e-5:
                best, best_epoch, best_state, stale = score, epoch + 1, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        net.load_state_dict(best_state)
        return best_epoch, best

    @staticmethod
    def _loss(net: QuantileGRU, data: dict[str, torch.Tensor]) -> float:
        net.eval()
        with torch.no_grad():
            return float(pinball_loss(run_network(net, data), data["future"], data["mask"]))

    # -- forecasting --

    def predict(
        self,
        history: pd.DataFrame,
        start_week: pd.Timestamp | str | None = None,
        horizon: int = 13,
        campaigns: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Quantiles (week, audience, q10, q50, q90) for `horizon` weeks from `start_week`.

        `start_week` defaults to the week after the history; a later start also forecasts the weeks in
        between (and drops them). Every trained audience must be in the history.
        """
        wide = revenue_matrix(history)
        missing = set(self.series_) - set(wide.columns)
        if missing:
            raise ValueError(f"history lacks audiences the model was trained on: {sorted(missing)}")
        wide = wide[list(self.series_)]
        first = wide.index[-1] + WEEK
        start = first if start_week is None else monday(pd.DatetimeIndex([pd.Timestamp(start_week)]))[0]
        if start < first:
            wide = wide[wide.index < start]
            first = start
        lead = (start - first) // WEEK
        steps = lead + horizon
        if len(wide) < self.input_weeks or steps > self.max_horizon_weeks:
            raise ValueError(
                f"need {self.input_weeks}+ weeks of history (got {len(wide)}) and at most "
                f"{self.max_horizon_weeks} weeks ahead (asked {steps})"
            )
        values = wide.to_numpy()[-self.input_weeks :]
        scale = np.maximum(values.mean(axis=0), 1e-9)
        cov = self._covariates(first - self.input_weeks * WEEK, self.input_weeks + steps, campaigns)
        data = {
            "past": torch.tensor(np.log1p(values / scale).T, dtype=torch.float32),
            "past_cov": torch.tensor(np.repeat(cov[None, : self.input_weeks], len(scale), axis=0)),
            "future_cov": torch.tensor(np.repeat(cov[None, self.input_weeks :], len(scale), axis=0)),
            "series": torch.arange(len(scale)),
        }
        with torch_determinism(self.seed, self.threads):
            net = self._network()
            net.load_state_dict(self.state_)
            net.eval()
            with torch.no_grad():
                z = run_network(net, data).numpy()  # [series, steps, 3]
        revenue = np.maximum(np.expm1(z), 0.0) * scale[:, None, None]
        weeks = pd.date_range(first, periods=steps, freq="7D")
        return tidy(weeks, self.series_, revenue)[lambda f: f["week"] >= start].reset_index(drop=True)
