"""Bad input as a fault campaign found it: row problems are rejects, file problems one DataFileError."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from memberwise.data import io
from memberwise.data.contract import TABLES
from memberwise.data.io import RawTable, load, read_source, validate_table
from memberwise.errors import DataFileError
from memberwise.warehouse import connect
from tests.conftest import DEMO_SNAPSHOT

ACCOUNTS = "channel,account_id,registered_at\napp,a1,2026-01-01\npos,a2,2026-01-02\n"
ORDERS_HEADER = "order_id,channel,account_id,ordered_at,amount,discount,coupon_used,category,status\n"


def _order(order_id: str, ordered_at: str = "2026-01-02 10:00:00", amount: str = "10") -> str:
    return f"{order_id},app,a1,{ordered_at},{amount},0,true,skincare,paid\n"


def _brand(tmp_path: Path, orders: str) -> Path:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "accounts.csv").write_text(ACCOUNTS)
    (brand / "orders.csv").write_text(orders)
    return brand


def _parquet_orders(tmp_path: Path, ordered_at: pa.Array) -> Path:
    """A brand whose orders.parquet has three rows and the given `ordered_at` column."""
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "accounts.csv").write_text(ACCOUNTS)
    n = len(ordered_at)
    columns = {
        "order_id": [f"o{i}" for i in range(n)],
        "channel": ["app"] * n,
        "account_id": ["a1"] * n,
        "ordered_at": ordered_at,
        "amount": [10.0] * n,
        "discount": [0.0] * n,
        "coupon_used": [True] * n,
        "category": ["skincare"] * n,
        "status": ["paid"] * n,
    }
    pq.write_table(pa.table(columns), brand / "orders.parquet")
    return brand


@pytest.mark.parametrize(
    ("ordered_at", "reason"),
    [
        ("2026-01-02T10:00:00Z", "ordered_at:timezone_offset"),
        ("2026-01-02T10:00:00+08:00", "ordered_at:timezone_offset"),
        ("2026-01-02 10:00:00 +0800", "ordered_at:timezone_offset"),
        ("2026-01-02 10:00 UTC", "ordered_at:timezone_offset"),
        ("9999-12-31", "ordered_at:out_of_range"),
        ("1600-01-01 00:00:00", "ordered_at:out_of_range"),
    ],
)
def test_zoned_and_out_of_range_timestamps_are_rejected_rows(
    tmp_path: Path, ordered_at: str, reason: str
) -> None:
    brand = _brand(tmp_path, ORDERS_HEADER + _order("o1") + _order("o2", ordered_at) + _order("o3"))
    data = load(brand, DEMO_SNAPSHOT)
    assert data.rejects[["row_number", "key", "reasons"]].values.tolist() == [[3, "o2", reason]]
    counts = data.counts.set_index("table").loc["orders"]
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (3, 2, 1)
    kept = data.warehouse.df("SELECT order_id, ordered_at FROM orders ORDER BY order_id")
    assert kept["order_id"].tolist() == ["o1", "o3"]
    assert kept["ordered_at"].tolist() == [pd.Timestamp("2026-01-02 10:00")] * 2


def test_typed_out_of_range_timestamps_are_rejected_rows(tmp_path: Path) -> None:
    stamps = [datetime(2026, 1, 2), datetime(9999, 12, 31), datetime(1066, 10, 14)]
    brand = _parquet_orders(tmp_path, pa.array(stamps, pa.timestamp("us")))
    data = load(brand, DEMO_SNAPSHOT)
    assert data.rejects["reasons"].tolist() == ["ordered_at:out_of_range"] * 2
    assert data.rejects["row_number"].tolist() == [2, 3]  # Parquet: 1-based rows
    assert data.warehouse.scalar("SELECT count(*) FROM orders") == 1


def test_a_date_typed_timestamp_column_is_read(tmp_path: Path) -> None:
    brand = _parquet_orders(tmp_path, pa.array([datetime(2026, 1, 2).date()] * 3, pa.date32()))
    data = load(brand, DEMO_SNAPSHOT)
    assert data.rejects.empty
    assert data.warehouse.scalar("SELECT min(ordered_at) FROM orders") == datetime(2026, 1, 2)


def test_a_zoned_parquet_timestamp_is_wall_clock_time_in_its_zone(tmp_path: Path) -> None:
    wall = ["2026-01-02 10:00", "2026-01-02 23:30", "2026-01-03 00:30"]  # 23:30 Shanghai is 15:30 UTC
    naive = pa.array(pd.to_datetime(wall).to_pydatetime(), pa.timestamp("us"))
    brand = _parquet_orders(tmp_path, pc.assume_timezone(naive, "Asia/Shanghai"))
    data = load(brand, DEMO_SNAPSHOT)
    assert data.rejects.empty
    kept = data.warehouse.df("SELECT ordered_at FROM orders ORDER BY order_id")["ordered_at"]
    assert kept.tolist() == [pd.Timestamp(w) for w in wall]


def test_integer_timestamps_reject_the_file_naming_the_column(tmp_path: Path) -> None:
    brand = _parquet_orders(tmp_path, pa.array([1_767_348_000] * 3, pa.int64()))
    message = r"orders\.parquet: column 'ordered_at' is int64, not a timestamp"
    with pytest.raises(DataFileError, match=message):
        read_source(brand)


def test_integer_timestamps_in_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "brand.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE accounts (channel VARCHAR, account_id VARCHAR)")
        con.execute("INSERT INTO accounts VALUES ('app', 'a1')")
        con.execute(
            "CREATE TABLE orders AS SELECT 'o1' order_id, 'app' channel, 'a1' account_id, "
            "1767348000::BIGINT ordered_at, 1.0 amount, 0.0 discount, true coupon_used, "
            "'x' category, 'paid' status"
        )
    with pytest.raises(DataFileError, match=r"brand\.duckdb:orders: column 'ordered_at' is BIGINT"):
        read_source(path)


def test_corrupt_parquet_pages_are_one_file_error(tmp_path: Path) -> None:
    brand = _parquet_orders(tmp_path, pa.array([datetime(2026, 1, 2)] * 3, pa.timestamp("us")))
    path = brand / "orders.parquet"
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = bytearray(path.read_bytes())
    start = chunk.data_page_offset
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    raw = read_source(brand)  # the footer is intact: the damage shows when the pages are read
    with pytest.raises(DataFileError, match=r"orders\.parquet: not a readable Parquet file: ") as caught:
        io.validate(raw, DEMO_SNAPSHOT)
    assert "\n" not in str(caught.value)


def test_a_directory_named_like_a_table(tmp_path: Path) -> None:
    brand = _brand(tmp_path, ORDERS_HEADER + _order("o1"))
    (brand / "orders.csv").unlink()
    (brand / "orders.csv").mkdir()
    with pytest.raises(DataFileError, match=r"orders\.csv: is a directory, not a CSV file"):
        read_source(brand)


def test_a_sqlite_file_is_not_a_duckdb_database(tmp_path: Path) -> None:
    path = tmp_path / "brand.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (order_id TEXT)")
    with pytest.raises(DataFileError, match=r"brand\.db is not a DuckDB database \(it is SQLite\)"):
        read_source(path)


def test_a_file_that_is_no_database_at_all(tmp_path: Path) -> None:
    path = tmp_path / "brand.duckdb"
    path.write_bytes(b"not a database, just some bytes" * 10)
    with pytest.raises(DataFileError, match=r"brand\.duckdb is not a DuckDB database") as caught:
        read_source(path)
    assert "\n" not in str(caught.value)


def test_duckdb_connections_never_fetch_extensions() -> None:
    with connect() as con:
        settings = con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
    assert settings == [(False, False)]


def test_every_duckdb_connection_goes_through_warehouse_connect() -> None:
    src = Path(__file__).parents[3] / "src" / "memberwise"
    callers = [p for p in src.rglob("*.py") if "duckdb.connect(" in p.read_text()]
    assert callers == [src / "warehouse.py"]


def test_reject_rows_and_lines_after_fields_spanning_lines(tmp_path: Path) -> None:
    orders = (
        ORDERS_HEADER
        + 'o1,app,a1,2026-01-02,10,0,true,"two\nline category",paid\n'  # lines 2-3
        + _order("o2", amount="-1")  # line 4
        + "\n"  # line 5: blank, skipped
        + _order("o3", ordered_at="someday")  # line 6
    )
    data = load(_brand(tmp_path, orders), DEMO_SNAPSHOT)
    rejects = data.rejects
    assert rejects["key"].tolist() == ["o2", "o3"]
    assert rejects["row_number"].tolist() == [3, 4]  # data records, the header counting as 1
    assert rejects["line"].tolist() == [4, 6]  # where each record starts in the file
    assert data.warehouse.scalar("SELECT category FROM orders") == "two\nline category"


def test_reject_lines_equal_row_numbers_in_a_plain_csv(tmp_path: Path) -> None:
    data = load(_brand(tmp_path, ORDERS_HEADER + _order("o1") + _order("o2", amount="x")), DEMO_SNAPSHOT)
    assert data.rejects[["row_number", "line"]].values.tolist() == [[3, 3]]


@pytest.mark.parametrize("header", ["amount", " amount"])
def test_a_repeated_header_column_rejects_the_file(tmp_path: Path, header: str) -> None:
    orders = ORDERS_HEADER.strip() + f",{header}\n" + _order("o1").strip() + ",99\n"
    with pytest.raises(DataFileError, match=r"orders\.csv: column 'amount' appears more than once"):
        read_source(_brand(tmp_path, orders))


def test_a_repeated_extra_column_is_ignored_like_any_extra(tmp_path: Path) -> None:
    orders = ORDERS_HEADER.strip() + ",note,note\n" + _order("o1").strip() + ",a,b\n"
    assert load(_brand(tmp_path, orders), DEMO_SNAPSHOT).rejects.empty


def test_non_utf8_message_names_the_first_bad_byte(tmp_path: Path) -> None:
    good = ORDERS_HEADER + "".join(_order(f"o{i}") for i in range(20_000))  # over 1 MB: past any buffer
    bad = _order("o-bad").replace("skincare", "护肤").encode("gb18030")
    brand = _brand(tmp_path, "")
    (brand / "orders.csv").write_bytes(good.encode() + bad)
    offset = len(good.encode()) + bad.index("护肤".encode("gb18030"))
    line = good.count("\n") + 1
    message = rf"orders\.csv: not valid UTF-8 text \(byte {offset}, line {line}\)"
    with pytest.raises(DataFileError, match=message):
        load(brand, DEMO_SNAPSHOT)


def test_a_character_split_across_read_chunks_is_valid(tmp_path: Path) -> None:
    from memberwise.data.csv_source import _CHUNK, _first_invalid_utf8

    path = tmp_path / "text.csv"
    prefix = b"a" * (_CHUNK - 1)
    path.write_bytes(prefix + "上".encode() + b"\xff")  # the 3-byte character straddles the chunk boundary
    assert _first_invalid_utf8(path) == (_CHUNK + 2, 1)


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    brand = _brand(tmp_path, ORDERS_HEADER + _order("o1"))
    (brand / "accounts.csv").write_bytes(b"\xef\xbb\xbf" + ACCOUNTS.encode())
    assert load(brand, DEMO_SNAPSHOT).counts.set_index("table").loc["accounts", "accepted"] == 2


def test_an_unforeseen_failure_while_checking_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io, "checked_sql", lambda *args: "SELECT error('no rule foresaw this')")
    raw = RawTable.of(pd.DataFrame({"order_id": ["o1"], "ordered_at": ["2026-01-02"]}), "orders.csv", 2)
    with pytest.raises(DataFileError, match=r"^orders\.csv: cannot be read: .*no rule foresaw this"):
        validate_table(raw, TABLES["orders"], DEMO_SNAPSHOT)


def test_integers_too_large_for_int64_are_unparseable() -> None:
    accounts = {"channel": ["app", "app"], "account_id": ["a1", "a2"], "birth_year": ["1990", "9" * 20]}
    raw = RawTable.of(pd.DataFrame(accounts), "accounts.csv", 2)
    valid, rejects = validate_table(raw, TABLES["accounts"], DEMO_SNAPSHOT)
    assert rejects["reasons"].tolist() == ["birth_year:unparseable"]
    assert valid["birth_year"].tolist() == [1990]
