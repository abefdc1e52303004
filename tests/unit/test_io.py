"""The data contract: every reject reason, counts that add up, whole-file errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.contract import TABLES
from memberwise.data.io import RawTable, load, read_source, reason_counts, validate_table
from memberwise.errors import DataFileError
from tests.conftest import DEMO_SNAPSHOT


def _orders(**overrides: list[str]) -> RawTable:
    base = {
        "order_id": ["o1", "o2"],
        "channel": ["app", "pos"],
        "account_id": ["a1", "a2"],
        "ordered_at": ["2026-01-02 10:00:00", "2026-01-03T11:00:00"],
        "amount": ["100.5", "20"],
        "discount": ["0", "5"],
        "coupon_used": ["TRUE", "0"],
        "category": ["skincare", "makeup"],
        "status": ["paid", "refunded"],
    }
    base.update(overrides)
    return RawTable.of(pd.DataFrame(base), "orders.csv", first_row_number=2)


def _reasons(raw: RawTable) -> list[str]:
    _, rejects = validate_table(raw, TABLES["orders"], DEMO_SNAPSHOT)
    return rejects["reasons"].tolist()


def test_valid_rows_are_parsed_to_contract_types() -> None:
    valid, rejects = validate_table(_orders(), TABLES["orders"], DEMO_SNAPSHOT)
    assert rejects.empty
    assert valid["ordered_at"].tolist() == [
        pd.Timestamp("2026-01-02 10:00"),
        pd.Timestamp("2026-01-03 11:00"),
    ]
    assert valid["amount"].tolist() == [100.5, 20.0]
    assert valid["coupon_used"].tolist() == [True, False]
    assert valid["store_id"].isna().all()  # optional column absent from the file: null


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"order_id": ["o1", ""]}, "order_id:missing_key"),
        ({"order_id": ["o1", "o1"]}, "order_id:duplicate_key"),
        ({"amount": ["100", "-1"]}, "amount:negative_value"),
        ({"discount": ["0", "-0.5"]}, "discount:negative_value"),
        ({"channel": ["app", "ebay"]}, "channel:unknown_value"),
        ({"status": ["paid", "lost"]}, "status:unknown_value"),
        ({"ordered_at": ["2026-01-02", "2026-02-30"]}, "ordered_at:unparseable"),
        ({"amount": ["1", "12,50"]}, "amount:unparseable"),
        ({"coupon_used": ["true", "maybe"]}, "coupon_used:unparseable"),
        ({"ordered_at": ["2026-01-02", "2026-11-16 00:00:01"]}, "ordered_at:after_snapshot"),
        ({"category": ["x", ""]}, "category:missing_value"),
    ],
)
def test_each_reject_reason(overrides: dict[str, list[str]], reason: str) -> None:
    raw = _orders(**overrides)
    valid, rejects = validate_table(raw, TABLES["orders"], DEMO_SNAPSHOT)
    assert rejects["reasons"].tolist() == [reason]
    assert rejects["row_number"].tolist() == [3]  # CSV line of the second data row
    assert len(valid) == 1


def test_a_row_with_two_problems_lists_both_and_is_counted_once() -> None:
    reasons = _reasons(_orders(amount=["1", "-1"], channel=["app", "ebay"]))
    assert reasons == ["amount:negative_value; channel:unknown_value"]


def test_dirty_demo_rejects_exactly_the_planted_rows(dirty_brand: Path) -> None:
    data = load(dirty_brand, DEMO_SNAPSHOT)
    planted = json.loads((dirty_brand / "truth" / "manifest.json").read_text())["dirty"]
    found = reason_counts(data.rejects)
    for table, reasons in planted.items():
        for reason, count in reasons.items():
            if reason == "orphan_account":
                assert data.counts.set_index("table").loc[table, "orphan_accounts"] == count
            else:
                got = found[(found["table"] == table) & (found["reason"] == reason)]["rows"]
                assert got.tolist() == [count], (table, reason)
    planted_rows = sum(c for r in planted.values() for k, c in r.items() if k != "orphan_account")
    assert len(data.rejects) == planted_rows


def test_counts_add_up(dirty_brand: Path) -> None:
    data = load(dirty_brand, DEMO_SNAPSHOT)
    counts = data.counts.set_index("table")
    assert (counts["read"] == counts["accepted"] + counts["rejected"]).all()
    for table in counts.index:
        assert counts.loc[table, "accepted"] == data.warehouse.scalar(f"SELECT count(*) FROM {table}")
        assert counts.loc[table, "rejected"] == (data.rejects["table"] == table).sum()
        source = pd.read_csv(dirty_brand / f"{table}.csv", dtype=str)
        assert counts.loc[table, "read"] == len(source)


def test_orphan_orders_are_kept(dirty_brand: Path) -> None:
    data = load(dirty_brand, DEMO_SNAPSHOT)
    assert data.warehouse.scalar("SELECT count(*) FROM orders WHERE account_id LIKE 'ghost%'") == 3


def _copy(brand: Path, tmp_path: Path) -> Path:
    target = tmp_path / "brand"
    shutil.copytree(brand, target, ignore=shutil.ignore_patterns("truth"))
    return target


def test_missing_required_file(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    (brand / "orders.csv").unlink()
    with pytest.raises(DataFileError, match="required table 'orders' is missing"):
        read_source(brand)


def test_optional_tables_may_be_absent(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    for name in ("loyalty", "interactions", "campaign_touches", "kpi_targets"):
        (brand / f"{name}.csv").unlink()
    assert set(read_source(brand)) == {"accounts", "orders"}


def test_missing_required_column_names_file_and_column(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    orders = pd.read_csv(brand / "orders.csv", dtype=str).drop(columns=["amount"])
    orders.to_csv(brand / "orders.csv", index=False)
    with pytest.raises(DataFileError, match=r"orders\.csv: required column\(s\) missing: amount"):
        read_source(brand)


def test_empty_file(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    (brand / "accounts.csv").write_text("")
    with pytest.raises(DataFileError, match=r"accounts\.csv: file is empty"):
        read_source(brand)


def test_header_only_required_file(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    header = (brand / "orders.csv").read_text().splitlines()[0]
    (brand / "orders.csv").write_text(header + "\n")
    with pytest.raises(DataFileError, match=r"orders\.csv: file has no data rows"):
        read_source(brand)


def test_undecodable_encoding(dirty_brand: Path, tmp_path: Path) -> None:
    brand = _copy(dirty_brand, tmp_path)
    text = (brand / "accounts.csv").read_text()
    (brand / "accounts.csv").write_bytes(text.replace("Shanghai", "上海").encode("gb18030"))
    with pytest.raises(DataFileError, match=r"accounts\.csv: not valid UTF-8"):
        load(brand, DEMO_SNAPSHOT)


def test_duckdb_source(demo_brand: Path, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "brand.duckdb"
    with duckdb.connect(str(path)) as con:
        for name in TABLES:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{demo_brand / name}.parquet')")
    from_db = load(path, DEMO_SNAPSHOT)
    from_files = load(demo_brand, DEMO_SNAPSHOT)
    pd.testing.assert_frame_equal(from_db.counts, from_files.counts)
    assert from_db.rejects.empty
