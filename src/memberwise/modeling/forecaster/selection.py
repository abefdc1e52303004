"""Judge the tournament: score every candidate per series, add the ensemble, choose, note the fallbacks.

Works on the backtest frame (origin, model, week, audience, actual, q50, + scaled `error` and `step`
from `conformal.scaled_errors`). MASE per origin is the mean absolute scaled error, averaged over
origins; coverage80 is the conformal interval's, each origin held out in turn. A candidate is eligible
for a series only when it forecast every scored origin of it; on a series shorter than two seasons
only the candidates without a season are (no seasonal model trusted blindly).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberwise.modeling.forecaster.backtest import smape
from memberwise.modeling.forecaster.conformal import cross_coverage

ENSEMBLE = "ensemble"
SEASONAL_ONLY = ("rnn", "fourier_arima")  # no seasonless variant: not eligible on short series
FALLBACK = "snaive"  # forecasts anything with a week of history (naive-1 when short)


def ensemble_rows(errors: pd.DataFrame, scores: pd.DataFrame, size: int) -> tuple[pd.DataFrame, dict]:
    """Inverse-MASE-weighted mean of each series' best `size` eligible candidates, as backtest rows.

    Returns the rows and {audience: {member: weight}} (series with fewer than two members get none).
    """
    frames, weights = [], {}
    for audience, part in scores[scores["eligible"]].groupby("audience"):
        best = part.nsmallest(size, "mase")
        if len(best) < 2 or not (best["mase"] > 0).all():
            continue
        w = (1 / best["mase"]) / (1 / best["mase"]).sum()
        weights[audience] = dict(zip(best["model"], w.round(6), strict=True))
        rows = errors[(errors["audience"] == audience) & errors["model"].isin(best["model"])]
        rows = rows.assign(weight=rows["model"].map(weights[audience]))
        rows = rows.assign(q50=rows["q50"] * rows["weight"], error=rows["error"] * rows["weight"])
        keys = ["origin", "week", "audience", "step"]
        combined = rows.groupby(keys, as_index=False).agg(
            actual=("actual", "first"), q50=("q50", "sum"), error=("error", "sum"), scale=("scale", "first")
        )
        frames.append(combined.assign(model=ENSEMBLE))
    return (pd.concat(frames, ignore_index=True) if frames else errors.iloc[:0]), weights


def score(errors: pd.DataFrame, horizon: int, short: dict[str, bool]) -> pd.DataFrame:
    """MASE, sMAPE, coverage80 and eligibility per (audience, model)."""
    origins = errors.groupby("audience")["origin"].nunique()
    rows = []
    for (audience, model), part in errors.groupby(["audience", "model"]):
        per_origin = part.groupby("origin")["error"].apply(lambda e: float(np.mean(np.abs(e))))
        complete = part["q50"].notna().all() and part["origin"].nunique() == origins[audience]
        rows.append(
            {
                "audience": audience,
                "model": model,
                "mase": float(per_origin.mean()),
                "smape": smape(part["actual"].to_numpy(), part["q50"].to_numpy()),
                "coverage80": cross_coverage(part, horizon),
                "eligible": bool(complete and not (short[audience] and model in SEASONAL_ONLY)),
            }
        )
    return pd.DataFrame(rows, columns=["audience", "model", "mase", "smape", "coverage80", "eligible"])


def choose(scores: pd.DataFrame, series: tuple[str, ...]) -> dict[str, str]:
    """Each series' eligible candidate with the lowest backtest MASE (the fallback when none is)."""
    eligible = scores[scores["eligible"] & scores["mase"].notna()]
    best = eligible.sort_values(["mase", "model"]).groupby("audience")["model"].first()
    return {s: str(best.get(s, FALLBACK)) for s in series}


def note(weeks: int, season: int, backtested: bool) -> str:
    """Why a series' choice is restricted, in words ('' when nothing is)."""
    if not backtested:
        return f"too short to backtest ({weeks} weeks): naive forecast, interval from the other series"
    if weeks < 2 * season:
        return f"short history ({weeks} weeks < {2 * season}): seasonal models not trusted"
    return ""


def label(model: str, members: dict[str, float], short: bool) -> str:
    """The model name shown with each forecast row: 'ets', 'ensemble(rnn+ets+theta)', '... no season'."""
    name = f"{ENSEMBLE}({'+'.join(members)})" if model == ENSEMBLE else model
    return f"{name}, no season (short history)" if short else name


def summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per series: the chosen model's MASE next to seasonal naive's, ETS's and the best single model's.

    With the chosen model's coverage, and a mean row (the issue's targets are on the means).
    """
    table = scores.pivot_table(index="audience", columns="model", values="mase")
    chosen = scores[scores["chosen"]].set_index("audience")
    singles = table.drop(columns=[ENSEMBLE], errors="ignore")
    out = pd.DataFrame(
        {
            "chosen": chosen["model"],
            "mase_chosen": chosen["mase"],
            "mase_snaive": table.get("snaive"),
            "mase_ets": table.get("ets"),
            "mase_best_single": singles.min(axis=1),
            "coverage80_chosen": chosen["coverage80"],
        }
    )
    out.loc["mean"] = out.drop(columns="chosen").mean()
    out.loc["mean", "chosen"] = ""
    return out
