"""Unify + features on a 1M-member brand, against the floor of one DuckDB GROUP BY scan of orders.

Prints wall time, rows/s, peak RSS, and features time as a multiple of the floor measured in the
same run. Targets (issue 2): features <= 3x the floor; peak RSS <= 6 GiB.
Usage: python benchmarks/bench_unify_features.py [--members 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from memberwise.data.io import load
from memberwise.features import build_features, feature_sql
from memberwise.identity import unify
from memberwise.pipelines.prepare import snapshot_timestamp
from memberwise.warehouse import new_warehouse

FLOOR_SQL = "SELECT account_id, count(*), sum(amount), max(ordered_at) FROM orders GROUP BY account_id"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def timed(label: str, fn, repeat: int = 1):  # noqa: ANN001, ANN201
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    print(f"{label:<28} {best:8.2f} s")
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2026-08-17")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit")
    args = parser.parse_args()
    brand = Path(".memberwise/bench") / f"brand-{args.members}-{args.seed}"
    if not (brand / "truth" / "manifest.json").exists():
        # Generated in a child process so its memory does not count in this one's peak RSS.
        cmd = [sys.executable, "-m", "memberwise", "demo-data", "--out", str(brand)]
        subprocess.run([*cmd, "--members", str(args.members), "--seed", str(args.seed)], check=True)

    # A file-backed warehouse: the documented setting for big brands (MEMBERWISE_WAREHOUSE_PATH).
    warehouse = new_warehouse(brand.parent / "warehouse.duckdb", memory_limit=args.memory_limit)
    _, data = timed("read + validate + load", lambda: load(brand, snapshot_timestamp(None), warehouse))
    wh = data.warehouse
    orders = int(wh.scalar("SELECT count(*) FROM orders"))
    print(f"{'orders':<28} {orders:>11,}")
    # Both the floor and the features are fetched to the client through Arrow, as pipelines use them.
    floor, _ = timed("floor: GROUP BY account_id", lambda: wh.con.sql(FLOOR_SQL).to_arrow_table(), repeat=3)
    unify_s, identity = timed("unify", lambda: unify(wh))
    features_s, table = timed("features", lambda: build_features(wh, args.as_of), repeat=2)
    print(f"{'members':<28} {identity.count('members'):>11,}  (features rows: {len(table):,})")
    print(f"{'unify rows/s (accounts)':<28} {identity.count('member_map') / unify_s:>11,.0f}")
    print(f"{'features rows/s (orders)':<28} {orders / features_s:>11,.0f}")
    print(f"{'features / floor':<28} {features_s / floor:>11.2f} x   (target <= 3x)")
    in_db = "CREATE OR REPLACE TEMP TABLE _bench AS {}"
    floor_db, _ = timed("floor, kept in DuckDB", lambda: wh.con.execute(in_db.format(FLOOR_SQL)), repeat=3)
    sql = feature_sql(args.as_of, 90, has_loyalty=True, has_interactions=True)
    features_db, _ = timed("features, kept in DuckDB", lambda: wh.con.execute(in_db.format(sql)), repeat=2)
    print(f"{'in-DuckDB features / floor':<28} {features_db / floor_db:>11.2f} x")
    print(f"{'peak RSS':<28} {peak_rss_gib():>11.2f} GiB (target <= 6 GiB)")


if __name__ == "__main__":
    main()
