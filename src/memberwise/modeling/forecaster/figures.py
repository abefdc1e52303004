"""Figures of a forecast tournament: MASE per series and candidate, the chosen backtest, the forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memberwise.modeling.forecaster.series import WEEK

SHOWN_WEEKS = 78  # history drawn before an origin or a forecast


def tournament_figure(scores: pd.DataFrame) -> Figure:
    """Backtest MASE of every candidate per series; the chosen one dark, seasonal naive's as a line."""
    series = list(dict.fromkeys(scores["audience"]))
    fig = Figure(figsize=(10, 2.4 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, squeeze=False)
    for ax, name in zip(axes[:, 0], series, strict=True):
        part = scores[scores["audience"] == name].sort_values("mase")
        colours = ["#2a5d8f" if chosen else "#a9c4de" for chosen in part["chosen"]]
        ax.barh(part["model"], part["mase"], color=colours)
        snaive = part.loc[part["model"] == "snaive", "mase"]
        if len(snaive):
            ax.axvline(float(snaive.iloc[0]), color="grey", linestyle=":", linewidth=1)
        ax.invert_yaxis()
        note = part["note"].iloc[0] if "note" in part and part["note"].iloc[0] else ""
        ax.set_title(f"{name}: backtest MASE (dark = chosen){'; ' + note if note else ''}", fontsize=9)
    return fig


def chosen_backtest_figure(history: pd.DataFrame, backtest: pd.DataFrame, choice: dict[str, str]) -> Figure:
    """Per series, the latest origin: actuals, the chosen model's median, seasonal naive's and ETS's."""
    origin = backtest["origin"].max()
    shown = backtest[backtest["origin"] == origin]
    fig = Figure(figsize=(10, 2.6 * len(choice)), layout="constrained")
    axes = fig.subplots(len(choice), 1, sharex=True, squeeze=False)
    for ax, (name, model) in zip(axes[:, 0], choice.items(), strict=True):
        past = history[(history["audience"] == name) & (history["week"] >= origin - SHOWN_WEEKS * WEEK)]
        ax.plot(past["week"], past["revenue"], color="black", linewidth=1, label="actual")
        for candidate in dict.fromkeys([model, "snaive", "ets"]):
            part = shown[(shown["audience"] == name) & (shown["model"] == candidate)]
            width = 2.0 if candidate == model else 1.0
            ax.plot(
                part["week"],
                part["q50"],
                linewidth=width,
                label=f"{candidate}" + " (chosen)" * (candidate == model),
            )
        ax.axvline(origin, color="grey", linestyle=":")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7, ncol=4)
    return fig


def forward_figure(history: pd.DataFrame, forecast: pd.DataFrame) -> Figure:
    """Per series: recent actuals, then the forecast median and 80% interval, titled with the model."""
    series = list(dict.fromkeys(forecast["audience"]))
    fig = Figure(figsize=(10, 2.6 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)
    start = pd.Timestamp(forecast["week"].min())
    for ax, name in zip(axes[:, 0], series, strict=True):
        past = history[(history["audience"] == name) & (history["week"] >= start - SHOWN_WEEKS * WEEK)]
        ahead = forecast[forecast["audience"] == name]
        weeks = pd.to_datetime(ahead["week"]).to_numpy()
        ax.plot(
            pd.to_datetime(past["week"]).to_numpy(), past["revenue"].to_numpy(), color="black", linewidth=1
        )
        ax.plot(weeks, ahead["q50"].to_numpy(), color="#2a5d8f", linewidth=1.5)
        ax.fill_between(weeks, ahead["q10"].to_numpy(), ahead["q90"].to_numpy(), alpha=0.25, color="#2a5d8f")
        ax.axvline(np.datetime64(start), color="grey", linestyle=":")
        ax.set_title(f"{name}: {ahead['model'].iloc[0]} (80% interval)", fontsize=10)
    return fig
