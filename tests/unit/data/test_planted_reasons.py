"""Set-based validation, differential: every reason planted on known rows of messy generated data is
found on exactly those rows, from CSV, Parquet and in-memory sources alike."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from memberwise.data.contract import TABLES
from memberwise.data.io import load, validate
from memberwise.data.readers import RawTable
from memberwise.data.validation_sql import checked_sql
from memberwise.warehouse import new_warehouse
from tests.conftest import DEMO_SNAPSHOT

ACCOUNTS = "channel,account_id\napp,a1\n"
# Spellings the contract accepts, with the value each must parse to.
GOOD_TIMES = {
    "2026-01-02 10:00:00": "2026-01-02 10:00:00",
    "2026-01-02T10:00:00": "2026-01-02 10:00:00",
    "2026-01-02": "2026-01-02",
    "2026-01-02 10:00": "2026-01-02 10:00",
    "2026/1/2 9:5:7": "2026-01-02 09:05:07",
    "2026-01-02 10:00:00.25": "2026-01-02 10:00:00.25",
    "2026-01-02T10:00:00.123456789": "2026-01-02 10:00:00.123456",
    " 2026-11-15 23:59:59 ": "2026-11-15 23:59:59",
}
GOOD_BOOLS = {"true": True, "TRUE": True, "1": True, "t": True, "Yes": True, "y": True,
              "false": False, "0": False, "F": False, "no": False, "N": False}  # fmt: skip
GOOD_NUMBERS = {"10": 10.0, "+2.5": 2.5, ".5": 0.5, "1e3": 1000.0, " 7 ": 7.0, "0": 0.0, "3.": 3.0}
# (column, bad value, reason); "<dup>" repeats an earlier clean row's order_id.
DEFECTS = [
    ("order_id", "", "order_id:missing_key"),
    ("order_id", "  ", "order_id:missing_key"),
    ("order_id", "<dup>", "order_id:duplicate_key"),
    ("channel", "ebay", "channel:unknown_value"),
    ("channel", "", "channel:missing_value"),
    ("account_id", "", "account_id:missing_value"),
    ("amount", "-1", "amount:negative_value"),
    ("amount", "12,50", "amount:unparseable"),
    ("amount", "nan", "amount:unparseable"),
    ("amount", "inf", "amount:unparseable"),
    ("amount", "1e999", "amount:unparseable"),
    ("amount", "1_000", "amount:unparseable"),
    ("discount", "-0.5", "discount:negative_value"),
    ("ordered_at", "2026-02-30", "ordered_at:unparseable"),
    ("ordered_at", "2026-01-02 24:00:00", "ordered_at:unparseable"),
    ("ordered_at", "yesterday", "ordered_at:unparseable"),
    ("ordered_at", "2026-01-02T10:00:00Z", "ordered_at:timezone_offset"),
    ("ordered_at", "2026-01-02 10:00+08:00", "ordered_at:timezone_offset"),
    ("ordered_at", "2026-01-02 10:00:00 +0800", "ordered_at:timezone_offset"),
    ("ordered_at", "2026-01-02 10:00 UTC", "ordered_at:timezone_offset"),
    ("ordered_at", "9999-12-31", "ordered_at:out_of_range"),
    ("ordered_at", "1600-01-01 00:00:00", "ordered_at:out_of_range"),
    ("ordered_at", "2026-11-16 00:00:00", "ordered_at:after_snapshot"),
    ("ordered_at", "", "ordered_at:missing_value"),
    ("coupon_used", "maybe", "coupon_used:unparseable"),
    ("coupon_used", "", "coupon_used:missing_value"),
    ("is_gift", "2", "is_gift:unparseable"),
    ("category", " ", "category:missing_value"),
    ("status", "lost", "status:unknown_value"),
]


def _messy_orders(seed: int, n: int = 300) -> tuple[pd.DataFrame, dict[int, str], pd.DataFrame]:
    """(text table, planted reasons by 0-based row, expected typed values of the clean rows)."""
    rng = np.random.default_rng(seed)

    def pick(values: dict) -> tuple[list, list]:
        keys = list(values)
        chosen = [keys[i] for i in rng.integers(0, len(keys), n)]
        return chosen, [values[k] for k in chosen]

    times, want_times = pick(GOOD_TIMES)
    amounts, want_amounts = pick(GOOD_NUMBERS)
    coupons, want_coupons = pick(GOOD_BOOLS)
    gifts, want_gifts = pick({**GOOD_BOOLS, "": None})
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "channel": rng.choice(["app", "pos", " tmall "], n),
            "account_id": ["a1"] * n,
            "ordered_at": times,
            "amount": amounts,
            "discount": ["0"] * n,
            "coupon_used": coupons,
            "category": ["skincare"] * n,
            "is_gift": gifts,
            "status": rng.choice(["paid", "refunded"], n),
        }
    )
    expected = pd.DataFrame(
        {
            "ordered_at": pd.to_datetime(want_times, format="ISO8601"),
            "amount": want_amounts,
            "coupon_used": want_coupons,
            "is_gift": pd.array(want_gifts, dtype="boolean"),
        }
    )
    planted: dict[int, list[str]] = {}
    rows = rng.permutation(np.arange(1, n))  # row 0 stays clean: the original of a duplicate
    defects = [*DEFECTS, *DEFECTS]  # each twice
    for row, (column, bad, reason) in zip(rows, defects, strict=False):
        frame.loc[row, column] = frame.loc[0, "order_id"] if bad == "<dup>" else bad
        planted[int(row)] = [reason]
    for row, (column, bad, reason) in zip(rows[: len(DEFECTS)], reversed(DEFECTS), strict=False):
        if bad != "<dup>" and column not in {r.split(":")[0] for r in planted[int(row)]} | {"order_id"}:
            frame.loc[row, column] = bad  # a second defect on another column of the same row
            planted[int(row)].append(reason)
    return frame, {r: "; ".join(sorted(v)) for r, v in planted.items()}, expected


def _write(frame: pd.DataFrame, how: str, tmp_path: Path) -> dict[str, RawTable] | Path:
    if how == "memory":
        return {"orders": RawTable.of(frame, "orders.csv", 2), "accounts": RawTable.of(pd.DataFrame(
            {"channel": ["app"], "account_id": ["a1"]}), "accounts.csv", 2)}  # fmt: skip
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "accounts.csv").write_text(ACCOUNTS)
    if how == "csv":
        frame.to_csv(brand / "orders.csv", index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), brand / "orders.parquet")
    return brand


@pytest.mark.parametrize("how", ["csv", "parquet", "memory"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_planted_reason_is_found_on_exactly_its_rows(tmp_path: Path, seed: int, how: str) -> None:
    frame, planted, expected = _messy_orders(seed)
    source = _write(frame, how, tmp_path)
    data = load(source, DEMO_SNAPSHOT) if isinstance(source, Path) else validate(source, DEMO_SNAPSHOT)
    rejects = data.rejects[data.rejects["table"] == "orders"]
    first = 1 if how == "parquet" else 2
    found = dict(zip(rejects["row_number"] - first, rejects["reasons"], strict=True))
    assert found == planted
    assert rejects["key"].tolist() == frame.loc[sorted(planted), "order_id"].tolist()
    counts = data.counts.set_index("table").loc["orders"]
    assert (counts["read"], counts["rejected"]) == (len(frame), len(planted))
    assert counts["accepted"] == len(frame) - len(planted)
    kept = data.warehouse.df("SELECT * FROM orders ORDER BY CAST(substr(order_id, 2) AS INT)")
    clean = sorted(set(range(len(frame))) - set(planted))
    want = expected.loc[clean].reset_index(drop=True)
    assert kept["order_id"].tolist() == [f"o{i}" for i in clean]
    assert kept["channel"].tolist() == frame.loc[clean, "channel"].str.strip().tolist()
    assert (kept["ordered_at"] == want["ordered_at"]).all()
    assert kept["amount"].tolist() == want["amount"].tolist()
    assert kept["coupon_used"].tolist() == want["coupon_used"].tolist()
    assert kept["is_gift"].isna().tolist() == want["is_gift"].isna().tolist()
    assert kept["is_gift"].dropna().tolist() == want["is_gift"].dropna().tolist()


@pytest.mark.parametrize("name", list(TABLES))
@pytest.mark.parametrize("typed", [False, True])
def test_checked_sql_transpiles_to_spark(name: str, typed: bool) -> None:
    """The one SQL source runs on Spark too: sqlglot translates every table's query without loss."""
    table = TABLES[name]
    kinds = {
        "str": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "float": "DOUBLE",
        "int": "BIGINT",
        "bool": "BOOLEAN",
    }
    types = {c.name: kinds[c.kind] if typed else "VARCHAR" for c in table.columns}
    sql = checked_sql(table, DEMO_SNAPSHOT, types)
    spark = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)[0]
    assert "REGEXP_MATCHES" not in spark.upper() and "\\" not in spark


def test_inline_repeated_keys_give_the_same_verdicts() -> None:
    """The one-statement form other engines run (repeats found inline) agrees with DuckDB's two steps."""
    frame, planted, _ = _messy_orders(seed=4)
    raw, table = RawTable.of(frame, "orders.csv", 2), TABLES["orders"]
    con = new_warehouse().con
    raw.stage(con, table)
    types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE raw_orders").fetchall()}
    sql = checked_sql(table, DEMO_SNAPSHOT, types)
    found = con.execute(
        f"SELECT _row, reasons FROM ({sql}) WHERE reasons IS NOT NULL ORDER BY _row"
    ).fetchall()
    assert dict(found) == planted


@pytest.mark.parametrize("name", list(TABLES))
def test_without_repeats_the_plan_streams_in_source_order(name: str) -> None:
    """No join in the plan (DuckDB turns long IN lists into joins, which reorder rows at scale)."""
    table = TABLES[name]
    con = new_warehouse().con
    RawTable.of(pd.DataFrame({c: ["x"] for c in table.column_names}), f"{name}.csv").stage(con, table)
    types = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE raw_{name}").fetchall()}
    plan = con.execute(f"EXPLAIN {checked_sql(table, DEMO_SNAPSHOT, types, '')}").fetchall()[0][1]
    operators = re.findall(r"─ ([A-Za-z_ ]+) ─", plan)
    assert operators and not [o for o in operators if "join" in o.lower() or "order" in o.lower()]
