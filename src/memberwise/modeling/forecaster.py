"""Weekly sales forecast per audience: one global GRU with quantile outputs, two baselines, a backtest.

Series are tidy frames (week, audience, revenue), weeks starting on Monday with no gaps. The GRU reads
the last `input_weeks` of every series (revenue divided by that window's mean, then log1p, so growing
and small audiences look alike) and a decoder GRU walks over the known future covariates (season,
promotion calendar, planned campaign intensity), emitting q10/q50/q90 for each future week directly:
no forecast is fed back in, so errors do not compound over a 52-week "rest of the year" horizon, and
the decoder can run any length up to `max_horizon_weeks` with the same weights. See docs/forecast.md.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from mlflow.pyfunc import PythonModel
from torch import nn

from memberwise.config import EventsConfig, RNNConfig

QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_COLUMNS = ("q10", "q50", "q90")
WEEK = pd.Timedelta(days=7)
Forecast = Callable[[pd.DataFrame, int], pd.DataFrame]  # (history, horizon) -> next weeks' quantiles


# ---- series and covariates ----


def revenue_matrix(history: pd.DataFrame) -> pd.DataFrame:
    """Weeks x audiences revenue on a gap-free weekly index (missing weeks are zero sales)."""
    wide = history.pivot_table(
        index="week", columns="audience", values="revenue", aggfunc="sum", observed=True
    )
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="7D")
    wide = wide.reindex(weeks, fill_value=0.0).fillna(0.0)
    wide.columns = wide.columns.astype(str)
    return wide.rename_axis(index="week", columns="audience").astype("float64")


def _event_weeks(
    events: EventsConfig, first: pd.Timestamp, last: pd.Timestamp
) -> dict[str, pd.DatetimeIndex]:
    """The Monday of the week holding each occurrence of each event."""
    years = range(first.year - 1, last.year + 2)
    days = {name: [f"{y}-{md}" for y in years] for name, md in events.fixed.items()}
    days.update(events.dated)
    return {name: _monday(pd.DatetimeIndex(pd.to_datetime(d))) for name, d in days.items()}


def _monday(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return (days - pd.to_timedelta(days.day_of_week, unit="D")).normalize()


def calendar_features(
    weeks: pd.DatetimeIndex, events: EventsConfig, campaigns: pd.Series | None = None
) -> pd.DataFrame:
    """Covariates known for any week ahead: season (sin/cos), event weeks with leads/lags, member days.

    `campaigns` is planned campaign intensity per week (e.g. contacts / active members); absent weeks
    and an absent plan count as zero, so a model trained without plans forecasts "business as usual".
    """
    mid_week = weeks + pd.Timedelta(days=3)
    angle = 2 * np.pi * (mid_week.day_of_year.to_numpy() - 1) / 365.25
    columns: dict[str, np.ndarray] = {"season_sin": np.sin(angle), "season_cos": np.cos(angle)}
    for name, event_weeks in _event_weeks(events, weeks.min(), weeks.max()).items():
        for offset in range(-events.lead_weeks, events.lag_weeks + 1):
            columns[f"{name}_{offset:+d}"] = weeks.isin(event_weeks + offset * WEEK).astype(float)
    days_of_month = np.stack([(weeks + pd.Timedelta(days=d)).day.to_numpy() for d in range(7)], axis=1)
    columns["member_day"] = np.isin(days_of_month, events.member_days).any(axis=1).astype(float)
    plan = campaigns.reindex(weeks).fillna(0.0).to_numpy() if campaigns is not None else np.zeros(len(weeks))
    columns["campaign"] = plan.astype(float)
    return pd.DataFrame(columns, index=weeks)


# ---- the network ----


class QuantileGRU(nn.Module):
    """Encoder GRU over the past, decoder GRU over known future covariates, three ordered quantiles."""

    def __init__(self, n_series: int, n_covariates: int, hidden: int, embedding: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_series, embedding)
        self.encoder = nn.GRU(1 + n_covariates + embedding, hidden, batch_first=True)
        self.decoder = nn.GRU(n_covariates + embedding, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden + n_covariates + embedding, 3))

    def forward(
        self, past: torch.Tensor, past_cov: torch.Tensor, future_cov: torch.Tensor, series: torch.Tensor
    ) -> torch.Tensor:
        emb = self.embed(series)
        enc_in = torch.cat([past[..., None], past_cov, emb[:, None].expand(-1, past.shape[1], -1)], dim=-1)
        _, state = self.encoder(enc_in)
        dec_in = torch.cat([future_cov, emb[:, None].expand(-1, future_cov.shape[1], -1)], dim=-1)
        out, _ = self.decoder(dec_in, state)
        raw = self.head(torch.cat([out, dec_in], dim=-1))
        mid = raw[..., 1]
        low = mid - nn.functional.softplus(raw[..., 0])  # ordered by construction: no quantile crossing
        high = mid + nn.functional.softplus(raw[..., 2])
        return torch.stack([low, mid, high], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss over the unmasked target weeks; pred [..., 3], target/mask [...]."""
    q = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = target[..., None] - pred
    loss = torch.maximum(q * diff, (q - 1) * diff).sum(-1)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


@contextmanager
def _torch_determinism(seed: int, threads: int) -> Iterator[None]:
    """Seeded, deterministic, few-threaded torch for one fit/predict; global settings restored after."""
    threads_before, deterministic_before = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
    )
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)


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

    def __init__(self, rnn: RNNConfig | None = None, events: EventsConfig | None = None) -> None:
        self.rnn = rnn or RNNConfig()
        self.events = events or EventsConfig()

    # -- fitting --

    def fit(
        self, history: pd.DataFrame, campaigns: pd.Series | None = None, progress: bool = False
    ) -> RNNForecaster:
        """Train on sliding windows; the last `validation_weeks` early-stop, the best epoch is kept."""
        cfg = self.rnn
        wide = revenue_matrix(history)
        values = wide.to_numpy()
        n_weeks = len(wide)
        if n_weeks < cfg.input_weeks + cfg.validation_weeks + 8:
            raise ValueError(
                f"{n_weeks} weeks of history is too short: need at least "
                f"{cfg.input_weeks + cfg.validation_weeks + 8} (input + validation + 8 weeks)"
            )
        self.series_ = tuple(wide.columns)
        horizon = cfg.max_horizon_weeks
        cov = self._covariates(wide.index[0], n_weeks + horizon, campaigns)
        self.covariate_names_ = tuple(calendar_features(wide.index[:1], self.events).columns)
        split = n_weeks - cfg.validation_weeks
        train = self._tensors(values, cov, np.arange(cfg.input_weeks, split), horizon, split)
        valid = self._tensors(values, cov, np.array([split]), cfg.validation_weeks, n_weeks)
        with _torch_determinism(cfg.seed, cfg.threads):
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
        past, future, mask, keep = _windows(values, origins, self.rnn.input_weeks, horizon, target_end)
        n_series = values.shape[1]
        steps_past = origins[:, None] + np.arange(-self.rnn.input_weeks, 0)[None, :]
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
        cfg = self.rnn
        return QuantileGRU(
            len(self.series_), len(self.covariate_names_), cfg.hidden, cfg.embedding, cfg.dropout
        )

    def _train(
        self, net: QuantileGRU, train: dict[str, torch.Tensor], valid: dict[str, torch.Tensor], progress: bool
    ) -> tuple[int, float]:
        cfg = self.rnn
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        rng = np.random.default_rng(cfg.seed)
        best, best_epoch, best_state, stale = math.inf, 0, copy.deepcopy(net.state_dict()), 0
        for epoch in _epochs(cfg.epochs, progress):
            net.train()
            order = rng.permutation(len(train["past"]))
            for start in range(0, len(order), cfg.batch_size):
                batch = {k: v[order[start : start + cfg.batch_size]] for k, v in train.items()}
                optimizer.zero_grad()
                loss = pinball_loss(_run(net, batch), batch["future"], batch["mask"])
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
            score = self._loss(net, valid)
            if score < best - 1e-5:
                best, best_epoch, best_state, stale = score, epoch + 1, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        net.load_state_dict(best_state)
        return best_epoch, best

    @staticmethod
    def _loss(net: QuantileGRU, data: dict[str, torch.Tensor]) -> float:
        net.eval()
        with torch.no_grad():
            return float(pinball_loss(_run(net, data), data["future"], data["mask"]))

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
        cfg = self.rnn
        wide = revenue_matrix(history)
        missing = set(self.series_) - set(wide.columns)
        if missing:
            raise ValueError(f"history lacks audiences the model was trained on: {sorted(missing)}")
        wide = wide[list(self.series_)]
        first = wide.index[-1] + WEEK
        start = first if start_week is None else _monday(pd.DatetimeIndex([pd.Timestamp(start_week)]))[0]
        if start < first:
            wide = wide[wide.index < start]
            first = start
        lead = (start - first) // WEEK
        steps = lead + horizon
        if len(wide) < cfg.input_weeks or steps > cfg.max_horizon_weeks:
            raise ValueError(
                f"need {cfg.input_weeks}+ weeks of history (got {len(wide)}) and at most "
                f"{cfg.max_horizon_weeks} weeks ahead (asked {steps})"
            )
        values = wide.to_numpy()[-cfg.input_weeks :]
        scale = np.maximum(values.mean(axis=0), 1e-9)
        cov = self._covariates(first - cfg.input_weeks * WEEK, cfg.input_weeks + steps, campaigns)
        data = {
            "past": torch.tensor(np.log1p(values / scale).T, dtype=torch.float32),
            "past_cov": torch.tensor(np.repeat(cov[None, : cfg.input_weeks], len(scale), axis=0)),
            "future_cov": torch.tensor(np.repeat(cov[None, cfg.input_weeks :], len(scale), axis=0)),
            "series": torch.arange(len(scale)),
        }
        with _torch_determinism(cfg.seed, cfg.threads):
            net = self._network()
            net.load_state_dict(self.state_)
            net.eval()
            with torch.no_grad():
                z = _run(net, data).numpy()  # [series, steps, 3]
        revenue = np.maximum(np.expm1(z), 0.0) * scale[:, None, None]
        weeks = pd.date_range(first, periods=steps, freq="7D")
        return _tidy(weeks, self.series_, revenue)[lambda f: f["week"] >= start].reset_index(drop=True)


def _run(net: QuantileGRU, data: dict[str, torch.Tensor]) -> torch.Tensor:
    return net(data["past"], data["past_cov"], data["future_cov"], data["series"])


def _epochs(epochs: int, progress: bool) -> Iterator[int]:
    if not progress:
        yield from range(epochs)
        return
    from rich.progress import track

    yield from track(range(epochs), description="training forecaster")


def _tidy(weeks: pd.DatetimeIndex, series: tuple[str, ...], quantiles: np.ndarray) -> pd.DataFrame:
    """[series, weeks, 3] quantiles -> tidy (week, audience, q10, q50, q90), week-major."""
    frame = pd.DataFrame(
        {
            "week": np.tile(weeks.to_numpy(), len(series)),
            "audience": np.repeat(np.array(series, dtype=object), len(weeks)),
            **{c: quantiles[..., i].reshape(-1) for i, c in enumerate(QUANTILE_COLUMNS)},
        }
    )
    return frame.sort_values(["week", "audience"], kind="stable").reset_index(drop=True)


class ForecastPyfunc(PythonModel):
    """MLflow packaging: history (week, audience, revenue) in, quantiles out; params start_week, horizon.

    A pyfunc keeps the plain state_dict, so any history length and horizon work (pt2 export would
    freeze the sequence lengths). Services reach the model itself with `unwrap_python_model().model`.
    """

    def __init__(self, model: RNNForecaster) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        history = model_input.assign(week=pd.to_datetime(model_input["week"]))
        frame = self.model.predict(history, params.get("start_week") or None, int(params.get("horizon", 13)))
        return frame.assign(week=frame["week"].dt.strftime("%Y-%m-%d"))


# ---- baselines ----


def seasonal_naive(history: pd.DataFrame, horizon: int, season: int = 52) -> pd.DataFrame:
    """The value one season earlier; the interval adds the in-sample seasonal differences' q10/q90.

    With `season=1` this is the naive (last value) forecast, for series shorter than a year.
    """
    wide = revenue_matrix(history)
    if len(wide) < season + 1:
        raise ValueError(f"seasonal naive needs more than {season} weeks of history, got {len(wide)}")
    values = wide.to_numpy()
    steps = np.arange(horizon)
    back = len(values) + steps - season * (steps // season + 1)
    median = values[back].T  # [series, horizon]
    residual = values[season:] - values[:-season]
    low, high = np.quantile(residual, [QUANTILES[0], QUANTILES[2]], axis=0)
    quantiles = np.stack([median + low[:, None], median, median + high[:, None]], axis=-1)
    weeks = pd.date_range(wide.index[-1] + WEEK, periods=horizon, freq="7D")
    return _tidy(weeks, tuple(wide.columns), np.maximum(quantiles, 0.0))


def ets(history: pd.DataFrame, horizon: int, season: int = 52, seed: int = 0) -> pd.DataFrame:
    """Holt-Winters on log1p(revenue): damped additive trend + additive season (multiplicative in revenue).

    Weeks before a series' first sale are dropped. With fewer than two full seasons (the heuristic start
    needs them) it falls back to damped Holt without a season. Intervals: 500 bootstrapped simulations.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    wide = revenue_matrix(history)
    quantiles = []
    for name in wide.columns:
        series = wide[name].to_numpy()
        if not (series > 0).any():  # an audience the brand does not have (e.g. no loyalty data)
            quantiles.append(np.zeros((horizon, len(QUANTILES))))
            continue
        start = int(np.argmax(series > 0))
        y = np.log1p(series[start:])
        seasonal = len(y) >= 2 * season + 4
        model = ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=season if seasonal else None,
            initialization_method="heuristic" if seasonal else "estimated",
        )
        with warnings.catch_warnings():  # a baseline's convergence chatter is not the user's problem
            warnings.simplefilter("ignore", (RuntimeWarning, ConvergenceWarning))
            fit = model.fit()
        paths = fit.simulate(
            horizon, repetitions=500, anchor="end", random_errors="bootstrap", rng=np.random.default_rng(seed)
        )
        draws = np.expm1(np.asarray(paths).reshape(horizon, -1))
        quantiles.append(np.quantile(draws, QUANTILES, axis=1).T)
    weeks = pd.date_range(wide.index[-1] + WEEK, periods=horizon, freq="7D")
    return _tidy(weeks, tuple(wide.columns), np.maximum(np.stack(quantiles), 0.0))


# ---- backtest and metrics ----


def backtest_origins(weeks: pd.DatetimeIndex, origins: int, step: int, horizon: int) -> list[pd.Timestamp]:
    """Forecast origins, oldest first: the last one leaves exactly `horizon` weeks of actuals after it."""
    last = len(weeks) - horizon
    picks = [last - i * step for i in range(origins) if last - i * step > 0]
    return [weeks[i] for i in sorted(picks)]


def backtest(
    history: pd.DataFrame, models: dict[str, Forecast], origins: list[pd.Timestamp], horizon: int
) -> pd.DataFrame:
    """Refit every model at every origin on the weeks before it; tidy forecasts joined to the actuals."""
    actual = history[["week", "audience", "revenue"]].rename(columns={"revenue": "actual"})
    actual = actual.assign(audience=actual["audience"].astype(str))
    frames = []
    for origin in origins:
        train = history[history["week"] < origin]
        for name, forecast in models.items():
            frame = forecast(train, horizon).assign(origin=origin, model=name)
            frames.append(frame.merge(actual, on=["week", "audience"], how="inner"))
    return pd.concat(frames, ignore_index=True)[
        ["origin", "model", "week", "audience", "actual", *QUANTILE_COLUMNS]
    ]


def mase_scale(values: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive (naive-1 when the series is shorter than two seasons)."""
    lag = season if len(values) >= 2 * season else 1
    return float(np.mean(np.abs(values[lag:] - values[:-lag])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); weeks where both are zero count as perfect."""
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        2 * np.abs(actual - forecast), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(100 * ratio.mean())


def score_backtest(forecasts: pd.DataFrame, history: pd.DataFrame, season: int = 52) -> pd.DataFrame:
    """MASE, sMAPE and 80% coverage per (model, audience), averaged over origins (tidy)."""
    wide = revenue_matrix(history)
    rows = []
    for (model, audience, origin), part in forecasts.groupby(["model", "audience", "origin"], observed=True):
        actual, median = part["actual"].to_numpy(), part["q50"].to_numpy()
        scale = mase_scale(wide.loc[wide.index < origin, audience].to_numpy(), season)
        rows.append(
            {
                "model": model,
                "audience": audience,
                "origin": origin,
                "mase": float(np.mean(np.abs(actual - median)) / scale) if scale > 0 else np.nan,
                "smape": smape(actual, median),
                "coverage80": float(((actual >= part["q10"]) & (actual <= part["q90"])).mean()),
            }
        )
    per_origin = pd.DataFrame(rows)
    return per_origin.groupby(["model", "audience"], as_index=False)[["mase", "smape", "coverage80"]].mean()


def backtest_figure(history: pd.DataFrame, forecasts: pd.DataFrame, origin: pd.Timestamp) -> Figure:
    """Per audience: actuals, each model's median from one origin, and the GRU's 80% interval."""
    audiences = sorted(forecasts["audience"].unique())
    fig = Figure(figsize=(10, 2.6 * len(audiences)), layout="constrained")
    axes = fig.subplots(len(audiences), 1, sharex=True, squeeze=False)
    shown = forecasts[forecasts["origin"] == origin]
    since = origin - 78 * WEEK
    for ax, audience in zip(axes[:, 0], audiences, strict=True):
        past = history[(history["audience"] == audience) & (history["week"] >= since)]
        ax.plot(past["week"], past["revenue"], color="black", linewidth=1, label="actual")
        for model, part in shown[shown["audience"] == audience].groupby("model"):
            ax.plot(part["week"], part["q50"], linewidth=1.2, label=f"{model} median")
            if model == "rnn":
                ax.fill_between(part["week"], part["q10"], part["q90"], alpha=0.25, label="rnn 80% interval")
        ax.axvline(origin, color="grey", linestyle=":")
        ax.set_title(audience, fontsize=10)
        ax.set_ylabel("revenue")
    axes[0, 0].legend(fontsize=7, ncol=3)
    return fig
