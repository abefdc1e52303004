"""`memberwise forecast-series`: the forecast tournament for any weekly series a brand cares about.

Each series keeps its weekday: weeks are moved to their Monday for the calendar covariates and moved
back in the output. Missing weeks inside a series are interpolated (a gap is missing data, not a zero
week). Series that end on the same week run as one tournament (the GRU is global over them); each
series gets its own choice. One MLflow run (experiment of the forecast model, tag kind=series).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from memberwise.config import EventsConfig, ForecastConfig
from memberwise.data.series_file import SeriesFile
from memberwise.errors import DataFileError
from memberwise.modeling.forecaster import figures
from memberwise.modeling.forecaster.candidates import MIN_TRAIN_WEEKS
from memberwise.pipelines.forecast import tournament
from memberwise.settings import Settings
from memberwise.tracking import code_version, configure, experiment_id, log_figure, log_frame

log = logging.getLogger(__name__)
FIGURE_SERIES = 12  # series drawn per figure (a file may hold hundreds)


@dataclass
class SeriesForecast:
    """The outputs: forecast (series, week, model, q10, q50, q90), backtest table, skipped series."""

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    rejects: pd.DataFrame
    run_id: str


def read_events(path: Path, cfg: EventsConfig) -> EventsConfig:
    """An events file (columns `event`, `date`: one row per occurrence) as the promotion calendar."""
    try:
        frame = pd.read_csv(path, dtype=str) if path.suffix.lower() != ".parquet" else pd.read_parquet(path)
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        days = pd.to_datetime(frame["date"], errors="raise", format="mixed").dt.strftime("%Y-%m-%d")
    except (KeyError, ValueError, OSError) as err:
        raise DataFileError(f"{path}: an events file needs columns event, date (dates): {err}") from None
    dated = {str(name): sorted(group) for name, group in days.groupby(frame["event"].astype(str))}
    return cfg.model_copy(update={"fixed": {}, "dated": dated, "member_days": []})


def _on_mondays(rows: pd.DataFrame) -> pd.DataFrame:
    """Each series on a gap-free Monday index (gaps interpolated), with its weekday offset kept."""
    frames = []
    for name, part in rows.groupby("series"):
        shift = int(part["week"].dt.day_of_week.iloc[0])
        monday = part["week"] - pd.Timedelta(days=shift)
        values = pd.Series(part["value"].to_numpy(), index=monday)
        full = values.reindex(pd.date_range(monday.min(), monday.max(), freq="7D")).interpolate()
        frames.append(
            pd.DataFrame({"week": full.index, "audience": name, "revenue": full.values, "shift": shift})
        )
    return pd.concat(frames, ignore_index=True)


def run_tournaments(
    rows: pd.DataFrame, horizon: int, cfg: ForecastConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    """(forecast, backtest table, too-short series, per-group histories): one tournament per end week."""
    weekly = _on_mondays(rows)
    length = weekly.groupby("audience")["week"].transform("size")
    short = weekly[length <= MIN_TRAIN_WEEKS].groupby("audience").size()
    weekly = weekly[length > MIN_TRAIN_WEEKS]
    cfg = cfg.model_copy(
        update={
            "backtest": cfg.backtest.model_copy(update={"horizon_weeks": min(horizon, 104)}),
            "rnn": cfg.rnn.model_copy(update={"max_horizon_weeks": max(cfg.rnn.max_horizon_weeks, horizon)}),
        }
    )
    forecasts, tables, histories = [], [], []
    ends = weekly.groupby("audience")["week"].max()
    for _, names in ends.groupby(ends):
        history = weekly[weekly["audience"].isin(names.index)]
        model = tournament(cfg).fit(history[["week", "audience", "revenue"]])
        shift = history.groupby("audience")["shift"].first()
        ahead = model.predict(history, None, horizon)
        ahead["week"] = ahead["week"] + pd.to_timedelta(ahead["audience"].map(shift), unit="D")
        forecasts.append(ahead)
        tables.append(model.scores_)
        histories.append(history.assign(week=history["week"] + pd.to_timedelta(history["shift"], unit="D")))
    skipped = pd.DataFrame({"series": short.index, "weeks": short.values})
    if not forecasts:
        raise DataFileError(f"every series is too short to forecast (at most {MIN_TRAIN_WEEKS} weeks)")
    forecast = pd.concat(forecasts, ignore_index=True).rename(columns={"audience": "series"})
    table = pd.concat(tables, ignore_index=True).rename(columns={"audience": "series"})
    return (
        forecast.sort_values(["series", "week"], ignore_index=True)[
            ["series", "week", "model", "q10", "q50", "q90"]
        ],
        table[["series", "model", "mase", "smape", "coverage80", "chosen", "note"]],
        skipped,
        histories,
    )


def forecast_series(
    data: SeriesFile, source: Path, horizon: int, out: Path, cfg: ForecastConfig, settings: Settings
) -> SeriesForecast:
    """Run the tournaments, write DIR/forecast.csv, backtest.csv (and rejects.csv), log one MLflow run."""
    forecast, table, skipped, histories = run_tournaments(data.rows, horizon, cfg)
    too_short = [
        {"series": name, "reason": f"series too short to forecast ({weeks} weeks)"}
        for name, weeks in zip(skipped["series"], skipped["weeks"], strict=True)
    ]
    rejects = (
        pd.concat([data.rejects, pd.DataFrame(too_short)], ignore_index=True) if too_short else data.rejects
    )
    rejects = rejects.assign(line=rejects["line"].astype("Int64"))
    out.mkdir(parents=True, exist_ok=True)
    forecast.assign(week=forecast["week"].dt.strftime("%Y-%m-%d")).to_csv(out / "forecast.csv", index=False)
    table.to_csv(out / "backtest.csv", index=False)
    if len(rejects):
        rejects.to_csv(out / "rejects.csv", index=False)
    configure(settings)
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "forecast"),
        run_name=f"forecast-series {source.name}",
        nested=mlflow.active_run() is not None,
        tags={"kind": "series", "trigger": "manual", "code_version": code_version(), "source": str(source)},
    ) as run:
        mlflow.log_params({"source": str(source), "horizon": horizon, "series": table["series"].nunique()})
        mlflow.log_metrics(series_metrics(table, data.read, len(rejects)))
        log_frame(table, "tournament")
        log_frame(forecast, "forecast")
        if len(rejects):
            log_frame(rejects, "rejects")
        shown = list(dict.fromkeys(table["series"]))[:FIGURE_SERIES]
        scores = table[table["series"].isin(shown)].rename(columns={"series": "audience"})
        log_figure(figures.tournament_figure(scores), "tournament_mase")
        history = pd.concat(histories)
        ahead = forecast[forecast["series"].isin(shown)].rename(columns={"series": "audience"})
        log_figure(figures.forward_figure(history, ahead), "forward_forecast")
    return SeriesForecast(forecast, table, rejects, run.info.run_id)


def series_metrics(table: pd.DataFrame, read: int, rejected: int) -> dict[str, float]:
    """Mean MASE and coverage of the chosen models, seasonal naive's and ETS's; row counts."""
    metrics = {"rows_read": float(read), "rows_rejected": float(rejected)}
    chosen = table[table["chosen"]]
    metrics["mase_chosen_mean"] = float(chosen["mase"].mean())
    metrics["coverage80_chosen_mean"] = float(chosen["coverage80"].mean())
    for model in ("snaive", "ets"):
        part = table[table["model"] == model]
        if len(part):
            metrics[f"mase_{model}_mean"] = float(part["mase"].mean())
    return {k: v for k, v in metrics.items() if pd.notna(v)}
