"""Read a file of weekly series (`week`, `series`, `value`) for `memberwise forecast-series`.

The contract treatment of the brand tables, for one small file: a whole-file problem (unreadable, no
rows, a required column missing) is one DataFileError line; a bad row (a week that is not a date, an
empty series name, a value that is not a finite number, the same week twice in a series, a week off
the series' weekday) is rejected with its reason and its line in the file, and the rest goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from memberwise.errors import DataFileError, first_line

REQUIRED = ("week", "series", "value")


@dataclass
class SeriesFile:
    """The accepted rows (series, week, value) and the rejects (line, series, week, value, reason)."""

    rows: pd.DataFrame
    rejects: pd.DataFrame
    read: int


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except Exception as err:  # noqa: BLE001 - any reader failure is one line about the file
        raise DataFileError(
            f"{path}: cannot be read as {path.suffix.lstrip('.') or 'CSV'}: {first_line(err)}"
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{path}: missing column(s) {', '.join(missing)} (need week, series, value; got "
            f"{', '.join(map(str, frame.columns)) or 'none'})"
        )
    if frame.empty:
        raise DataFileError(f"{path}: no rows")
    return frame


def read_series(path: Path) -> SeriesFile:
    """Accepted rows and rejects with reasons; every row is accounted for (read = accepted + rejected)."""
    frame = _read(path)
    line = np.arange(len(frame)) + (2 if path.suffix.lower() != ".parquet" else 1)  # CSV: after the header
    text = frame[list(REQUIRED)].astype(str).apply(lambda c: c.str.strip())
    week = pd.to_datetime(text["week"], errors="coerce", format="mixed").dt.normalize()
    value = pd.to_numeric(text["value"].str.replace(",", "", regex=False), errors="coerce")
    candidates = pd.DataFrame({"line": line, "series": text["series"], "week": week, "value": value})
    reasons = pd.Series("", index=frame.index)
    reasons[week.isna()] = "week is not a date"
    reasons[(reasons == "") & (text["series"].isin(["", "nan", "None"]))] = "series name is empty"
    reasons[(reasons == "") & ~np.isfinite(value.fillna(np.inf))] = "value is not a finite number"
    ok = reasons == ""
    duplicated = ok & candidates[ok].duplicated(["series", "week"], keep=False).reindex(
        frame.index, fill_value=False
    )
    reasons[duplicated] = "the same week twice in this series (which value is right is unknown)"
    ok = reasons == ""
    weekday = candidates[ok].groupby("series")["week"].transform(lambda w: w.dt.day_of_week.mode().iloc[0])
    off = ok & (candidates["week"].dt.day_of_week != weekday.reindex(frame.index)).where(ok, False)
    reasons[off] = "not on the series' weekday (weeks must be 7 days apart)"
    ok = reasons == ""
    rejects = candidates[~ok].assign(week=text["week"][~ok], value=text["value"][~ok], reason=reasons[~ok])
    rows = candidates[ok].drop(columns="line").sort_values(["series", "week"], ignore_index=True)
    if rows.empty:
        first = rejects["reason"].value_counts().index[0]
        raise DataFileError(f"{path}: no usable rows ({len(rejects)} rejected, e.g. {first})")
    return SeriesFile(rows, rejects.reset_index(drop=True), len(frame))
