"""The real command on bad input: exit 2 and one unwrapped line, never a traceback; row problems go on."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]
ORDERS_HEADER = "order_id,channel,account_id,ordered_at,amount,discount,coupon_used,category,status\n"


def run(
    *args: str | Path, home: Path, code: str = "", file_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `memberwise` with stderr piped and no COLUMNS, as cron would (rich then assumes 80 columns)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["MEMBERWISE_HOME"] = str(home)

    def limit_file_size() -> None:  # a write past `file_limit` bytes fails as on a full disk (EFBIG)
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    command = [sys.executable, "-c", f"{code}\nfrom memberwise.cli import main; main()"] if code else CLI
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True, text=True, env=env, timeout=600, preexec_fn=limit_file_size,
    )  # fmt: skip


def _brand(root: Path, ordered_at: str = "2026-01-02 10:00:00") -> Path:
    brand = root / "brand"
    brand.mkdir()
    (brand / "accounts.csv").write_text("channel,account_id\napp,a1\npos,a2\n")
    (brand / "orders.csv").write_text(
        ORDERS_HEADER
        + "o1,app,a1,2026-01-02 10:00:00,10,0,true,skincare,paid\n"
        + f"o2,pos,a2,{ordered_at},20,0,false,makeup,paid\n"
    )
    return brand


def _one_error_line(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    """The failure is exit 2 and one last stderr line (log lines before it are one line each too)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:], result.stderr
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    ("ordered_at", "reason"),
    [("2026-01-02T10:00:00Z", "timezone_offset"), ("2026-01-02 10:00+08:00", "timezone_offset"),
     ("9999-12-31", "out_of_range")],
)  # fmt: skip
def test_bad_timestamps_are_rejected_rows_and_validate_goes_on(
    tmp_path: Path, ordered_at: str, reason: str
) -> None:
    brand, out = _brand(tmp_path, ordered_at), tmp_path / "report"
    result = run("validate", "--data", brand, "--out", out, "--snapshot-date", "2026-11-15", home=tmp_path)
    assert result.returncode == 0, result.stderr
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects[["row_number", "key", "reasons"]].values.tolist() == [[3, "o2", f"ordered_at:{reason}"]]
    orders = {t["table"]: t for t in json.loads((out / "validation_report.json").read_text())["tables"]}
    assert (orders["orders"]["read"], orders["orders"]["accepted"], orders["orders"]["rejected"]) == (2, 1, 1)


def test_unify_goes_on_past_a_year_9999_row(tmp_path: Path) -> None:
    brand = _brand(tmp_path, "9999-12-31 23:59:59")
    args = ("unify", "--data", brand, "--out", tmp_path / "members", "--snapshot-date", "2026-11-15")
    result = run(*args, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_parquet(tmp_path / "members" / "member_map.parquet")) == 2


def _int_timestamps(brand: Path) -> None:
    orders = pd.read_csv(brand / "orders.csv")
    orders["ordered_at"] = 1_767_348_000  # epoch seconds, or milliseconds? The reader cannot tell
    orders.to_parquet(brand / "orders.parquet")
    (brand / "orders.csv").unlink()


def _corrupt_parquet(brand: Path) -> None:
    (brand / "orders.csv").unlink()
    n = 2000
    table = pa.table(
        {
            "order_id": [f"o{i}" for i in range(n)], "channel": ["app"] * n, "account_id": ["a1"] * n,
            "ordered_at": pa.array([datetime(2026, 1, 2)] * n, pa.timestamp("us")), "amount": [1.0] * n,
            "discount": [0.0] * n, "coupon_used": [True] * n, "category": ["x"] * n, "status": ["paid"] * n,
        }
    )  # fmt: skip
    path = brand / "orders.parquet"
    pq.write_table(table, path)
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = bytearray(path.read_bytes())
    data[chunk.data_page_offset : chunk.data_page_offset + chunk.total_compressed_size] = b"\xff" * (
        chunk.total_compressed_size
    )
    path.write_bytes(bytes(data))


def _directory(brand: Path) -> None:
    (brand / "orders.csv").unlink()
    (brand / "orders.csv").mkdir()


def _repeated_column(brand: Path) -> None:
    text = (brand / "orders.csv").read_text().splitlines()
    (brand / "orders.csv").write_text(
        "\n".join([text[0] + ",status", *(t + ",paid" for t in text[1:])]) + "\n"
    )


def _latin1(brand: Path) -> None:
    path = brand / "orders.csv"
    data = path.read_bytes().replace(b"makeup", "maquillage \xe9".encode("latin-1"))
    assert data.index(b"\xe9") == 189 and data[:189].count(b"\n") == 2  # byte 189, on line 3
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("spoil", "parts"),
    [
        (_int_timestamps, ("orders.parquet: column 'ordered_at' is int64, not a timestamp",)),
        (_corrupt_parquet, ("orders.parquet: not a readable Parquet file",)),
        (_directory, ("orders.csv: is a directory, not a CSV file",)),
        (_repeated_column, ("orders.csv: column 'status' appears more than once in the header",)),
        (_latin1, ("orders.csv: not valid UTF-8 text (byte 189, line 3)",)),
    ],
)
def test_whole_file_problems_are_one_line(
    tmp_path: Path, spoil: Callable[[Path], None], parts: tuple[str, ...]
) -> None:
    brand = _brand(tmp_path)
    spoil(brand)
    result = run("validate", "--data", brand, "--out", tmp_path / "report", home=tmp_path)
    _one_error_line(result, *parts)


def test_a_sqlite_file_is_refused_without_fetching_an_extension(tmp_path: Path) -> None:
    path = tmp_path / "brand.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (order_id TEXT)")
    result = run("validate", "--data", path, "--out", tmp_path / "report", home=tmp_path)
    _one_error_line(result, f"{path} is not a DuckDB database (it is SQLite)")
    assert "extension" not in result.stderr.lower()


def test_a_long_message_is_not_wrapped_when_stderr_is_piped(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-for-a-brand-export" * 2) / "brand"
    deep.parent.mkdir()
    line = _one_error_line(run("validate", "--data", deep, "--out", tmp_path / "r", home=tmp_path))
    assert len(line) > 120 and f"{deep}: no such data directory" in line


def test_retrain_names_file_and_column(tmp_path: Path) -> None:
    brand = _brand(tmp_path)
    _int_timestamps(brand)
    result = run("retrain", "--data", brand, "--snapshot-date", "2026-11-15", home=tmp_path / "home")
    _one_error_line(result, "validate + unify", "orders.parquet: column 'ordered_at' is int64")
    assert "OutOfBoundsDatetime" not in result.stderr


def test_validate_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    brand = _brand(tmp_path, "not a date")
    result = run("validate", "--data", brand, "--out", tmp_path / "r", home=tmp_path, file_limit=10)
    _one_error_line(result, "cannot write", "File too large; free some disk space")


def test_retrain_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    brand = _brand(tmp_path)
    home = tmp_path / "home"
    result = run("retrain", "--data", brand, "--snapshot-date", "2026-11-15", home=home, file_limit=4096)
    _one_error_line(result, "cannot write: disk I/O error; free some disk space")


def test_an_unexpected_error_is_one_line_with_its_traceback_saved(tmp_path: Path) -> None:
    bug = "import memberwise.data.io as io; io.reason_counts = lambda rejects: 1 / 0"
    brand = _brand(tmp_path)
    result = run("validate", "--data", brand, "--out", tmp_path / "r", home=tmp_path, code=bug)
    line = _one_error_line(result, "unexpected ZeroDivisionError: division by zero", str(tmp_path / "logs"))
    saved = Path(line.rsplit("traceback: ", 1)[1].rstrip(")"))
    assert "Traceback" in saved.read_text() and "reason_counts" in saved.read_text()


def test_an_out_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "report").write_text("")
    result = run("validate", "--data", _brand(tmp_path), "--out", tmp_path / "report" / "x", home=tmp_path)
    line = _one_error_line(result, "report/x: cannot write the report: Not a directory")
    assert "details" not in line  # the OSError says it all: no traceback file for a user's mistake
