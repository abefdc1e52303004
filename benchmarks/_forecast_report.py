"""What the forecast reports print: the per-series candidate table and the issue's targets, checked."""

from __future__ import annotations

import pandas as pd

from memberwise.modeling.forecaster import TournamentForecaster
from memberwise.modeling.forecaster.selection import summary


def print_tournament(name: str, model: TournamentForecaster) -> pd.DataFrame:
    """Candidates' MASE per series, the choice next to seasonal naive / ETS, the targets; the summary."""
    scores = model.scores_
    print(f"== {name}: origins {[f'{o:%Y-%m-%d}' for o in model.origins_]}, "
          f"{model.backtest_horizon_}-week horizon")  # fmt: skip
    print(scores.pivot_table(index="audience", columns="model", values="mase").round(3).to_string(), "\n")
    table = summary(scores)
    print(table.round(3).to_string())
    notes = {a: n for a, n in model.notes_.items() if n}
    for audience, note in notes.items():
        print(f"  {audience}: {note}")
    mean = table.loc["mean"]
    gain = 1 - mean["mase_chosen"] / mean["mase_snaive"]
    print(
        f"chosen vs seasonal naive: {gain:+.1%} (target >= +10%); vs best single candidate: "
        f"{mean['mase_chosen'] / mean['mase_best_single'] - 1:+.1%} (target <= +2%); coverage "
        f"{mean['coverage80_chosen']:.2f} (target [0.7, 0.9]); error correlation {model.correlation_}\n"
    )
    return table
