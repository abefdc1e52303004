"""`memberwise forecast-series` as a user runs it: good files, gaps and weekdays, and bad files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]
QUICK = "candidates: [snaive, ets, theta, fourier_arima]\nbacktest: {origins: 2}\n"


def run(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "MEMBERWISE_HOME": str(tmp_path / "home")}
    config = tmp_path / "forecast.yaml"
    config.write_text(QUICK)
    command = [*CLI, "forecast-series", *map(str, args), "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def weekly(name: str, start: str, weeks: int, seed: int) -> pd.DataFrame:
    days = pd.date_range(start, periods=weeks, freq="7D")
    angle = 2 * np.pi * days.day_of_year.to_numpy() / 365.25
    value = 500 * (1 + 0.3 * np.sin(angle)) * np.random.default_rng(seed).lognormal(0, 0.05, weeks)
    return pd.DataFrame({"week": days.strftime("%Y-%m-%d"), "series": name, "value": value.round(2)})


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("series")
    frame = pd.concat(
        [
            weekly("north", "2023-01-04", 150, 1).drop(index=[40, 41, 90]),  # Wednesdays, three gaps
            weekly("south", "2024-06-03", 60, 2),  # Mondays, ends earlier, short
        ]
    )
    frame.to_csv(tmp / "series.csv", index=False)
    return tmp, run(tmp, "--series", tmp / "series.csv", "--horizon", "6", "--out", tmp / "out")


def test_forecast_and_backtest_files(good: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    tmp, result = good
    assert result.returncode == 0, result.stderr
    forecast = pd.read_csv(tmp / "out" / "forecast.csv", parse_dates=["week"])
    backtest = pd.read_csv(tmp / "out" / "backtest.csv")
    assert list(forecast.columns) == ["series", "week", "model", "q10", "q50", "q90"]
    assert list(backtest.columns)[:6] == ["series", "model", "mase", "smape", "coverage80", "chosen"]
    north, south = forecast[forecast["series"] == "north"], forecast[forecast["series"] == "south"]
    assert len(north) == len(south) == 6
    assert (north["week"].dt.day_of_week == 2).all()  # weekdays kept as given
    assert (south["week"].dt.day_of_week == 0).all()
    assert north["week"].min() == pd.Timestamp("2023-01-04") + pd.Timedelta(weeks=150)
    assert south["week"].min() == pd.Timestamp("2024-06-03") + pd.Timedelta(weeks=60)
    assert (forecast["q10"] <= forecast["q50"]).all() and (forecast["q50"] <= forecast["q90"]).all()
    assert backtest.groupby("series")["chosen"].sum().eq(1).all()
    assert south["model"].str.contains("no season").all()  # 60 weeks: no seasonal model trusted
    chosen = backtest[backtest["chosen"]].set_index("series")
    assert chosen.loc["south", "note"].startswith("short history")


def test_bad_rows_are_rejected_with_reasons(tmp_path: Path) -> None:
    frame = weekly("east", "2023-01-02", 80, 3)
    bad = pd.DataFrame(
        {
            "week": ["2023-01-02", "not a date", "2024-05-06", "2024-05-08"],
            "series": ["east", "east", "", "east"],
            "value": ["12", "3", "4", "abc"],
        }
    )
    pd.concat([frame, bad]).to_csv(tmp_path / "series.csv", index=False)
    result = run(tmp_path, "--series", tmp_path / "series.csv", "--horizon", "4", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    reasons = set(rejects["reason"])
    assert any("same week twice" in r for r in reasons)  # both copies of 2023-01-02
    assert {"week is not a date", "series name is empty", "value is not a finite number"} <= reasons
    assert len(rejects) == 5 and rejects["line"].min() == 2  # line numbers in the file


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("week,value\n2024-01-01,3\n", "missing column(s) series"),
        ("week,series,value\n", "no rows"),
        ("week,series,value\nx,a,1\ny,a,2\n", "no usable rows"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "series.csv").write_text(content)
    result = run(tmp_path, "--series", tmp_path / "series.csv", "--horizon", "4", "--out", tmp_path / "out")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_events_file_becomes_the_calendar(tmp_path: Path) -> None:
    from memberwise.config import EventsConfig
    from memberwise.errors import DataFileError
    from memberwise.pipelines.series_forecast import read_events

    path = tmp_path / "events.csv"
    path.write_text("event,date\nblack_friday,2024-11-29\nblack_friday,2025-11-28\neaster,2025-04-20\n")
    events = read_events(path, EventsConfig())
    assert events.dated == {"black_friday": ["2024-11-29", "2025-11-28"], "easter": ["2025-04-20"]}
    assert events.fixed == {} and events.member_days == []
    path.write_text("name,day\nx,2024-01-01\n")
    with pytest.raises(DataFileError, match="needs columns event, date"):
        read_events(path, EventsConfig())
