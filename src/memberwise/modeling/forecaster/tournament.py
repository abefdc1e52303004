"""TournamentForecaster: every candidate backtested on the same origins, the best one per series.

Candidates: the global GRU, seasonal naive, ETS, Theta, a calendar regression with AR(1) errors, and
an inverse-MASE-weighted ensemble of each series' best few. All are refitted at the same rolling
origins (one of them covering the last year's peak week); each series (audience) gets the eligible
candidate with the lowest backtest MASE. Its 80% interval comes from its own backtest errors
(`conformal`), and the correlation of errors across weeks and audiences is estimated for P(meet).
The statistical candidates refit on the history given to `predict` (seconds); the GRU is fitted once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from memberwise.config import EventsConfig
from memberwise.modeling.forecaster import conformal, selection
from memberwise.modeling.forecaster.backtest import backtest, backtest_origins, mase_scale
from memberwise.modeling.forecaster.candidates import (
    MIN_TRAIN_WEEKS,
    STATISTICAL,
    Settings,
    as_forecast,
    point_forecasts,
    series_since_start,
)
from memberwise.modeling.forecaster.rnn import RNNForecaster
from memberwise.modeling.forecaster.series import WEEK, monday, revenue_matrix, tidy

CANDIDATES = ("rnn", "snaive", "ets", "theta", "fourier_arima")
CACHED = 8  # forecasts kept per model: statistical candidates refit on each new history (seconds)


def long_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """A wide weeks x series matrix as tidy (week, audience, revenue), zeros included."""
    return wide.stack().rename("revenue").reset_index()[["week", "audience", "revenue"]]


class TournamentForecaster:
    """One forecaster per series, chosen by backtest MASE; predict gives week/audience/model/quantiles."""

    def __init__(
        self,
        season: int = 52,
        origins: int = 3,
        step_weeks: int = 13,
        horizon_weeks: int = 26,
        ensemble_size: int = 3,
        fourier_terms: int = 3,
        candidates: tuple[str, ...] = CANDIDATES,
        rnn: dict[str, Any] | None = None,
        events: EventsConfig | None = None,
    ) -> None:
        self.season = season
        self.origins = origins
        self.step_weeks = step_weeks
        self.horizon_weeks = horizon_weeks
        self.ensemble_size = ensemble_size
        self.fourier_terms = fourier_terms
        self.candidates = tuple(candidates)
        self.rnn = dict(rnn or {})  # RNNForecaster parameters
        self.events = events or EventsConfig()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the forecast cache (it is rebuilt on demand)."""
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    @property
    def settings(self) -> Settings:
        return Settings(self.season, self.events, self.fourier_terms)

    def _short(self) -> frozenset[str]:
        """The series with less than two seasons since their first sale (no candidate uses a season)."""
        return frozenset(s for s, is_short in self.short_.items() if is_short)

    # -- fitting --

    def fit(self, history: pd.DataFrame, progress: bool = False) -> TournamentForecaster:
        """Backtest every candidate, choose per series, calibrate intervals, fit the GRU if it is used."""
        wide = revenue_matrix(history)
        self.series_ = tuple(wide.columns)
        starts = {s: series_since_start(wide[s].to_numpy()) for s in self.series_}
        lengths = {s: len(wide) - start for s, start in starts.items()}
        short = {s: n < 2 * self.season for s, n in lengths.items()}  # two full seasons, or no season
        self.short_ = short
        self.backtest_horizon_ = max(1, min(self.horizon_weeks, len(wide) - MIN_TRAIN_WEEKS))
        self.origins_ = self._origins(wide)
        if not self.origins_:
            raise ValueError(f"{len(wide)} weeks of history is too short to backtest any forecaster")
        errors = self._backtest_errors(wide, starts, progress)
        scores = selection.score(errors, self.backtest_horizon_, short)
        ensemble, weights = selection.ensemble_rows(errors, scores, self.ensemble_size)
        if len(ensemble):
            errors = pd.concat([errors, ensemble], ignore_index=True)
            scores = pd.concat(
                [scores, selection.score(ensemble, self.backtest_horizon_, short)], ignore_index=True
            )
        self.choice_ = selection.choose(scores, self.series_)
        self.members_ = {
            s: weights[s] if model == selection.ENSEMBLE else {model: 1.0}
            for s, model in self.choice_.items()
        }
        backtested = set(errors["audience"])
        self.notes_ = {s: selection.note(lengths[s], self.season, s in backtested) for s in self.series_}
        chosen = errors.merge(pd.DataFrame(self.choice_.items(), columns=["audience", "model"]))
        self.bounds_ = self._bounds(chosen)
        self.correlation_ = conformal.error_correlation(chosen)
        self.scores_ = scores.assign(
            chosen=[self.choice_[a] == m for a, m in zip(scores["audience"], scores["model"], strict=True)],
            note=scores["audience"].map(self.notes_),
        ).sort_values(["audience", "mase"], ignore_index=True)
        self.backtest_ = errors.drop(columns=["scale"])
        self.rnn_ = None
        if any("rnn" in members for members in self.members_.values()):
            self.rnn_ = RNNForecaster(**self.rnn, events=self.events).fit(long_frame(wide), progress=progress)
        return self

    def _origins(self, wide: pd.DataFrame) -> list[pd.Timestamp]:
        """Rolling origins, plus one whose horizon holds the last year's peak week when none does."""
        weeks = pd.DatetimeIndex(wide.index)
        horizon = self.backtest_horizon_
        picks = backtest_origins(weeks, self.origins, self.step_weeks, horizon)
        origins = [o for o in picks if weeks.get_loc(o) >= MIN_TRAIN_WEEKS]
        total = wide.sum(axis=1).to_numpy()
        last_year = max(MIN_TRAIN_WEEKS, len(weeks) - self.season - horizon)
        if last_year < len(weeks) - horizon and origins:
            peak = last_year + int(np.argmax(total[last_year : len(weeks) - horizon + 1]))
            if not any(0 <= peak - weeks.get_loc(o) < horizon for o in origins):
                origins.append(weeks[max(MIN_TRAIN_WEEKS, peak - 2)])
        return sorted(set(origins))

    def _backtest_errors(self, wide: pd.DataFrame, starts: dict[str, int], progress: bool) -> pd.DataFrame:
        """Every candidate at every origin, scaled errors; a series' origins need MIN_TRAIN weeks of it."""
        names = dict.fromkeys((selection.FALLBACK, *self.candidates))  # the bar and the fallback always run
        short = self._short()
        models = {n: as_forecast(STATISTICAL[n], self.settings, short) for n in names if n in STATISTICAL}
        if "rnn" in self.candidates:
            models["rnn"] = lambda train, horizon: self._rnn_forecast(train, horizon, progress)
        full = long_frame(wide)
        forecasts = backtest(full, models, self.origins_, self.backtest_horizon_)
        scales = []
        for origin in self.origins_:
            at = wide.index.get_loc(origin)
            for s, start in starts.items():
                if at - start >= MIN_TRAIN_WEEKS:
                    scale = mase_scale(wide[s].to_numpy()[start:at], self.season)
                    scales.append({"audience": s, "origin": origin, "scale": scale})
        table = pd.DataFrame(scales, columns=["audience", "origin", "scale"])
        return conformal.scaled_errors(forecasts.drop(columns=["q10", "q90"]), table)

    def _rnn_forecast(self, train: pd.DataFrame, horizon: int, progress: bool) -> pd.DataFrame:
        """The GRU refitted on `train`; NaN when the history is too short for it."""
        try:
            return (
                RNNForecaster(**self.rnn, events=self.events)
                .fit(train, progress=progress)
                .predict(train, None, horizon)
            )
        except ValueError:
            series = tuple(sorted(train["audience"].astype(str).unique()))
            weeks = pd.date_range(train["week"].max() + WEEK, periods=horizon, freq="7D")
            return tidy(weeks, series, np.full((len(series), horizon, 3), np.nan))

    def _bounds(self, chosen: pd.DataFrame) -> dict[str, np.ndarray]:
        """Scaled-error q10/q90 per step for each series' choice (pooled over series when it has none)."""
        horizon = self.backtest_horizon_
        pooled = conformal.step_quantiles(chosen["step"].to_numpy(), chosen["error"].to_numpy(), horizon)
        bounds = {}
        for s in self.series_:
            own = chosen[chosen["audience"] == s]
            bounds[s] = (
                conformal.step_quantiles(own["step"].to_numpy(), own["error"].to_numpy(), horizon)
                if len(own)
                else pooled
            )
        return bounds

    # -- forecasting --

    def predict(
        self, history: pd.DataFrame, start_week: pd.Timestamp | str | None = None, horizon: int = 13
    ) -> pd.DataFrame:
        """(week, audience, model, q10, q50, q90) for `horizon` weeks from `start_week` (default: next).

        A later start forecasts the weeks in between and drops them; an earlier one cuts the history.
        """
        wide = revenue_matrix(history)
        missing = set(self.series_) - set(wide.columns)
        if missing:
            raise ValueError(f"history lacks audiences the model was trained on: {sorted(missing)}")
        wide = wide[list(self.series_)]
        first = wide.index[-1] + WEEK
        start = first if start_week is None else monday(pd.DatetimeIndex([pd.Timestamp(start_week)]))[0]
        if start < first:
            wide, first = wide[wide.index < start], start
        steps = (start - first) // WEEK + horizon
        key = (int(pd.util.hash_pandas_object(wide).sum()), tuple(wide.columns), wide.index[-1], steps)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:  # the service and the P(meet) curve ask the same history again and again
            if len(cache) >= CACHED:
                cache.clear()
            cache[key] = self._medians(wide, steps)
        medians, labels = cache[key]
        frames = []
        weeks = pd.date_range(first, periods=steps, freq="7D")
        for s in self.series_:
            values = wide[s].to_numpy()
            since = values[series_since_start(values) :]
            scale = mase_scale(since, self.season) if len(since) > 1 else abs(float(values[-1]))
            bounds = conformal.extend(self.bounds_[s], steps)
            q = np.stack(
                [medians[s] + scale * bounds[:, 0], medians[s], medians[s] + scale * bounds[:, 1]], -1
            )
            if (values >= 0).all():
                q = np.maximum(q, 0.0)
            frames.append(tidy(weeks, (s,), q[None]).assign(model=labels[s]))
        out = pd.concat(frames, ignore_index=True).sort_values(["week", "audience"], kind="stable")
        out = out[out["week"] >= start][["week", "audience", "model", "q10", "q50", "q90"]]
        return out.reset_index(drop=True)

    def _medians(self, wide: pd.DataFrame, steps: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Each series' point forecast (its choice's, or its ensemble's weighted mean) and model label.

        When a member cannot forecast this history (too short, or beyond the GRU's longest horizon) the
        series falls back to seasonal naive (naive-1 when short), or its last value, and says so.
        """
        needed = {m for members in self.members_.values() for m in members} | {selection.FALLBACK}
        frame = long_frame(wide)
        points: dict[str, dict[str, np.ndarray | None]] = {
            m: point_forecasts(STATISTICAL[m], frame, steps, self.settings, self._short())
            for m in needed
            if m in STATISTICAL
        }
        if "rnn" in needed:
            points["rnn"] = self._rnn_points(frame, steps)
        medians, labels = {}, {}
        for s, members in self.members_.items():
            parts = [points[m][s] for m in members]
            if all(p is not None for p in parts):
                medians[s] = sum(w * p for w, p in zip(members.values(), parts, strict=True))
                labels[s] = selection.label(self.choice_[s], members, self.short_[s])
                continue
            fallback = points[selection.FALLBACK][s]
            medians[s] = fallback if fallback is not None else np.full(steps, wide[s].to_numpy()[-1])
            labels[s] = (
                f"{selection.FALLBACK if fallback is not None else 'last value'} (fallback)"
                if wide[s].any()
                else "none (no sales yet)"
            )
        return medians, labels

    def _rnn_points(self, frame: pd.DataFrame, steps: int) -> dict[str, np.ndarray | None]:
        """The GRU's medians per series (None when it has none or the horizon is beyond its longest)."""
        if self.rnn_ is None:
            return dict.fromkeys(self.series_)
        try:
            rnn = self.rnn_.predict(frame, None, steps)
        except ValueError:
            return dict.fromkeys(self.series_)
        wide = rnn.pivot(index="week", columns="audience", values="q50")
        return {s: wide[s].to_numpy() for s in self.series_}
