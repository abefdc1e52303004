"""The forecast tournament on real sales: UCI Online Retail (2010-12..2011-12, CC0).

Three audiences per week: new customers (first invoice within 90 days), returning customers, and guests
(no CustomerID, so new vs returning cannot be split). Cancellations and non-positive quantity/price are
dropped; the partial first and last weeks too. The first 12 full weeks are burn-in (customers from before
December 2010 look new) and are dropped, leaving ~40 weeks: less than two seasons, so the tournament's
short-history fallback applies: "snaive" is the naive-1 (last week) forecast, MASE is scaled by the
naive-1, ETS is damped Holt, Theta is not deseasonalised, and neither the GRU (8-week input, 4 weeks
ahead) nor the calendar regression may be chosen (their rows are shown for comparison). 5 origins, 4
weeks each. A check on real noise and level shifts, not on yearly seasonality (the demo zoo covers it).

    .venv/bin/python benchmarks/report_forecast_online_retail.py [--path ../shared/data/online_retail.parquet]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from memberwise.config import EventsConfig, RNNConfig
from memberwise.modeling.forecaster import TournamentForecaster

sys.path.insert(0, str(Path(__file__).parent))
from _forecast_report import print_tournament  # noqa: E402 - the benchmarks' shared printer

BURN_IN_WEEKS = 12
NEW_WINDOW_DAYS = 90
HORIZON, ORIGINS, STEP = 4, 5, 3
RNN = RNNConfig(
    input_weeks=8, max_horizon_weeks=HORIZON, validation_weeks=4, hidden=16, epochs=80, patience=15
)
# A UK gift retailer: no Chinese festivals; Black Friday and Christmas are its peaks.
EVENTS = EventsConfig(fixed={"black_friday": "11-25", "christmas": "12-25"}, dated={}, member_days=[1])


def weekly_audiences(path: Path) -> pd.DataFrame:
    """Weekly revenue per audience (week, audience, revenue), complete weeks only, burn-in dropped."""
    lines = pd.read_parquet(path)
    lines = lines[
        ~lines["InvoiceNo"].str.startswith("C") & (lines["Quantity"] > 0) & (lines["UnitPrice"] > 0)
    ]
    lines = lines.assign(
        revenue=lines["Quantity"] * lines["UnitPrice"], day=lines["InvoiceDate"].dt.normalize()
    )
    first = lines.groupby("CustomerID")["day"].transform("min")
    new = (lines["day"] - first).dt.days < NEW_WINDOW_DAYS
    audience = np.where(
        lines["CustomerID"].isna(), "guest", np.where(new, "new_customer", "returning_customer")
    )
    lines = lines.assign(
        audience=audience, week=lines["day"] - pd.to_timedelta(lines["day"].dt.day_of_week, "D")
    )
    weekly = lines.groupby(["week", "audience"], as_index=False)["revenue"].sum()
    weeks = sorted(weekly["week"].unique())[1:-1]  # the first and last weeks are partial
    return weekly[weekly["week"].isin(weeks[BURN_IN_WEEKS:])].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("../shared/data/online_retail.parquet"))
    args = parser.parse_args()
    history = weekly_audiences(args.path)
    weeks = pd.DatetimeIndex(sorted(history["week"].unique()))
    print(
        f"{len(weeks)} weeks ({weeks[0]:%Y-%m-%d}..{weeks[-1]:%Y-%m-%d}) after burn-in; revenue by audience:"
    )
    print(history.groupby("audience")["revenue"].sum().map("{:,.0f}".format).to_string(), "\n")

    started = time.perf_counter()
    model = TournamentForecaster(
        origins=ORIGINS, step_weeks=STEP, horizon_weeks=HORIZON, rnn=RNN.model_dump(), events=EVENTS
    ).fit(history)
    print(f"tournament fitted in {time.perf_counter() - started:.1f} s")
    print_tournament("Online Retail", model)


if __name__ == "__main__":
    main()
