"""The warehouse becomes file-backed by itself for a big source, with a memory limit from the machine."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from memberwise.pipelines import prepare
from memberwise.pipelines.prepare import loaded_size, sized_warehouse
from memberwise.settings import Settings
from memberwise.warehouse import MIN_CACHE, Warehouse, memory_setting, new_warehouse


def _where(wh: Warehouse) -> tuple[str | None, str]:
    """(database file or None when in memory, memory limit) of a warehouse."""
    path = wh.scalar("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    return (str(path) if path else None), str(wh.scalar("SELECT current_setting('memory_limit')"))


def _brand(tmp_path: Path, parquet_bytes: int = 1000, csv_bytes: int = 1000) -> Path:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "orders.parquet").write_bytes(b"x" * parquet_bytes)
    (brand / "accounts.csv").write_bytes(b"x" * csv_bytes)
    (brand / "notes.txt").write_bytes(b"x" * 10**6)  # not a table: not counted
    return brand


def test_loaded_size_weighs_compressed_parquet_more_than_csv(tmp_path: Path) -> None:
    brand = _brand(tmp_path, parquet_bytes=1000, csv_bytes=1000)
    assert loaded_size(brand) == 1000 * 6.0 + 1000 * 1.5
    assert loaded_size(tmp_path / "nothing") == 0


def test_a_small_source_stays_in_memory(tmp_path: Path) -> None:
    wh = sized_warehouse(_brand(tmp_path), Settings(home=tmp_path / "home"))
    assert _where(wh)[0] is None
    assert not (tmp_path / "home" / "work").exists()


def test_a_big_source_gets_a_work_file_and_a_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "FILE_SHARE", 1e-9)  # any source is big
    monkeypatch.setattr(prepare.atexit, "register", lambda *args: None)
    wh = sized_warehouse(_brand(tmp_path), Settings(home=tmp_path / "home"))
    path, limit = _where(wh)
    assert path == str(tmp_path / "home" / "work" / f"warehouse-{os.getpid()}.duckdb")
    expected_gib = prepare.CACHE_SHARE * psutil.virtual_memory().total / 2**30
    assert float(limit.split()[0]) == pytest.approx(expected_gib, rel=0.02)
    wh.con.close()


def test_settings_override_the_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "IN_MEMORY_SHARE", 1e-9)
    settings = Settings(home=tmp_path, warehouse_path=tmp_path / "mine.duckdb", duckdb_memory_limit="1GB")
    path, limit = _where(sized_warehouse(_brand(tmp_path), settings))
    assert (path, limit) == (str(tmp_path / "mine.duckdb"), "953.6 MiB")


def test_work_files_of_dead_processes_are_cleared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not psutil.pid_exists(pid))
    stale, live = work / f"warehouse-{dead}.duckdb", work / f"warehouse-{os.getppid()}.duckdb"
    work.mkdir()
    for path in (stale, live, stale.with_name(stale.name + ".wal")):
        path.write_text("")
    (work / f"warehouse-{dead}.duckdb.tmp").mkdir()
    exits: list[Path] = []
    monkeypatch.setattr(prepare.atexit, "register", lambda _remove, path: exits.append(path))
    mine = prepare._work_file(work)
    assert sorted(p.name for p in work.iterdir()) == [live.name]  # the stale file, log and spill dir went
    assert exits == [mine]
    mine.write_text("")
    prepare._remove(mine)
    assert not mine.exists()


def test_a_sizeable_source_stays_in_memory_with_a_limit_and_a_spill_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "IN_MEMORY_SHARE", 1e-9)  # any source is sizeable, none is big
    monkeypatch.setattr(prepare.atexit, "register", lambda *args: None)
    wh = sized_warehouse(_brand(tmp_path), Settings(home=tmp_path / "home"))
    path, limit = _where(wh)
    assert path is None
    expected_gib = prepare.SPILL_LIMIT_SHARE * psutil.virtual_memory().total / 2**30
    assert float(limit.split()[0]) == pytest.approx(expected_gib, rel=0.02)
    spill = wh.scalar("SELECT current_setting('temp_directory')")
    assert spill == str(tmp_path / "home" / "work" / f"warehouse-{os.getpid()}.duckdb.tmp")
    wh.execute("SET memory_limit = '40MiB'")  # past the limit, tables spill there instead of failing
    wh.execute("CREATE TABLE big AS SELECT range AS i, range::VARCHAR AS s FROM range(3000000)")
    wh.execute("CREATE TABLE sorted AS SELECT * FROM big ORDER BY s")
    assert wh.scalar("SELECT count(*) FROM sorted") == 3_000_000
    wh.con.close()


def test_a_dead_process_spill_dir_alone_is_cleared(tmp_path: Path) -> None:
    work = tmp_path / "work"
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not psutil.pid_exists(pid))
    (work / f"warehouse-{dead}.duckdb.tmp").mkdir(parents=True)
    prepare._work_file(work)
    assert list(work.iterdir()) == []


def test_leave_room_lowers_the_limit_by_what_python_holds_never_below_the_floor() -> None:
    wh = new_warehouse(memory_limit="6GiB")
    wh.leave_room(1 << 30)
    assert memory_setting(_where(wh)[1]) == pytest.approx(5 << 30, rel=0.01)
    wh.leave_room(100 << 30)
    assert memory_setting(_where(wh)[1]) == pytest.approx(MIN_CACHE, rel=0.01)
    assert wh.scalar("SELECT count(*) FROM orders") == 0  # still answers


def test_memory_settings_read_as_duckdb_prints_them() -> None:
    assert memory_setting("9.3 GiB") == int(9.3 * 2**30)
    assert memory_setting("512.0 MiB") == 512 << 20
    assert memory_setting("4GB") == 4 * 10**9
    with pytest.raises(ValueError, match="not a DuckDB memory setting"):
        memory_setting("lots")
