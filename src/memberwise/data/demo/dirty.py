"""Known invalid rows (one defect each) appended to a CSV brand, counted by their expected reject reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from memberwise.data.demo.config import DemoConfig

# Invalid rows added by --dirty: table -> list of (expected reject reason, column to spoil, bad value).
# A reason of None means the row is valid but references an account missing from `accounts`.
DIRTY_KINDS: dict[str, list[tuple[str | None, str, str]]] = {
    "accounts": [
        ("account_id:missing_key", "account_id", ""),
        ("channel,account_id:duplicate_key", "<duplicate>", ""),
        ("channel:unknown_value", "channel", "weibo"),
        ("registered_at:unparseable", "registered_at", "not-a-date"),
        ("birth_year:unparseable", "birth_year", "19x0"),
    ],
    "orders": [
        ("order_id:missing_key", "order_id", ""),
        ("order_id:duplicate_key", "<duplicate>", ""),
        ("amount:negative_value", "amount", "-12.5"),
        ("discount:negative_value", "discount", "-3"),
        ("channel:unknown_value", "channel", "ebay"),
        ("status:unknown_value", "status", "lost"),
        ("ordered_at:unparseable", "ordered_at", "2025-13-45 10:00:00"),
        ("amount:unparseable", "amount", "12,50"),
        ("ordered_at:after_snapshot", "ordered_at", "<future>"),
        ("coupon_used:unparseable", "coupon_used", "maybe"),
        (None, "account_id", "<ghost>"),
    ],
    "interactions": [
        ("event:unknown_value", "event", "dance"),
        ("account_id:missing_value", "account_id", ""),
        ("occurred_at:unparseable", "occurred_at", "yesterday"),
        (None, "account_id", "<ghost>"),
    ],
    "campaign_touches": [
        ("group:unknown_value", "group", "both"),
        ("cost:negative_value", "cost", "-1"),
        ("campaign_id,channel,account_id:duplicate_key", "<duplicate>", ""),
    ],
    "loyalty": [
        ("tier:unknown_value", "tier", "platinum"),
        ("points_balance:negative_value", "points_balance", "-5"),
        ("member_card:duplicate_key", "<duplicate>", ""),
    ],
    "kpi_targets": [("target_revenue:unparseable", "target_revenue", "lots")],
}


DIRTY_ROWS_PER_KIND = 3


def add_dirty_rows(out: Path, cfg: DemoConfig, rng: np.random.Generator) -> dict[str, dict[str, int]]:
    """Append known invalid rows (each with exactly one defect) to the CSV tables; return counts by reason."""
    from memberwise.data.contract import TABLES

    future = str(pd.Timestamp(cfg.end) + pd.Timedelta(days=400))
    counts: dict[str, dict[str, int]] = {}
    for table, kinds in DIRTY_KINDS.items():
        path = out / f"{table}.csv"
        if not path.exists():  # a profile without this table
            continue
        original = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=2000)
        key = list(TABLES[table].key)
        rows: list[pd.Series] = []
        for reason, column, bad in kinds:
            for i in range(DIRTY_ROWS_PER_KIND):
                template = original.iloc[int(rng.integers(0, len(original)))].copy()
                if column != "<duplicate>":
                    template = _fresh_key(template, table, key, f"dirty{len(rows)}")
                    template[column] = {"<future>": future, "<ghost>": f"ghost{i}"}.get(bad, bad)
                rows.append(template)
                label = reason or "orphan_account"
                counts.setdefault(table, {})[label] = counts.get(table, {}).get(label, 0) + 1
        pd.DataFrame(rows)[original.columns].to_csv(path, mode="a", header=False, index=False)
    return counts


def _fresh_key(row: pd.Series, table: str, key: list[str], suffix: str) -> pd.Series:
    """Make the row's key unique, so it fails only for the defect planted in it."""
    fresh = {
        "accounts": "account_id",
        "orders": "order_id",
        "campaign_touches": "campaign_id",
        "loyalty": "member_card",
        "kpi_targets": "period_start",
    }.get(table)
    if fresh == "period_start":
        row[fresh] = f"{2000 + int(suffix.removeprefix('dirty'))}-01-01"
    elif fresh is not None:
        row[fresh] = f"{row[fresh]}-{suffix}"
    return row
