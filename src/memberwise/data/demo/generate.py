"""The demo brand end to end: people, chunks of accounts/orders/interactions/touches, truth, dirt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from memberwise.data.demo.campaigns import plan_campaigns
from memberwise.data.demo.chunk import generate_chunk
from memberwise.data.demo.config import DemoConfig
from memberwise.data.demo.dirty import add_dirty_rows
from memberwise.data.demo.loyalty import kpi_targets, loyalty_cards
from memberwise.data.demo.people import Season, sample_people
from memberwise.data.demo.truth import TRUTH_SCHEMAS, write_truth
from memberwise.data.demo.writer import TableWriter
from memberwise.progress import track


def generate(cfg: DemoConfig, out: Path, progress: bool = False) -> dict[str, object]:
    """Write the six contract tables to `out` and the planted truth to `out/truth`; return the manifest."""
    if cfg.dirty and cfg.file_format != "csv":
        raise ValueError("--dirty writes unparseable values, which only CSV can hold: use --format csv")
    out.mkdir(parents=True, exist_ok=True)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    params = cfg.params
    people = sample_people(cfg, rng)
    season = Season.build(cfg.start_ts, cfg.end_ts, params)
    campaigns = plan_campaigns(cfg, season, rng) if "campaign_touches" in params.tables else []
    hub_phones = np.char.mod("%016x", rng.integers(0, 2**62, max(2, cfg.members // 5000)))
    chunk_tables = ("accounts", "orders", "interactions", "campaign_touches")
    writers = {t: TableWriter(out, t, cfg.file_format) for t in chunk_tables if t in params.tables}
    account_person = TableWriter(truth_dir, "account_person", "parquet", TRUTH_SCHEMAS["account_person"])
    spend_last_year, spend_total = np.zeros(cfg.members), np.zeros(cfg.members)
    bought_before, bought_after = np.zeros(cfg.members, bool), np.zeros(cfg.members, bool)
    revenue_by_year: dict[int, float] = {}
    starts = range(0, cfg.members, cfg.chunk_people)
    for index, first in enumerate(track(starts, "generating people", progress)):
        rows = slice(first, min(first + cfg.chunk_people, cfg.members))
        chunk = generate_chunk(
            cfg, people.take(rows), first, season, campaigns, hub_phones, writers["orders"].rows,
            np.random.default_rng([cfg.seed, index]),
        )  # fmt: skip
        frames = {
            "accounts": chunk.accounts,
            "orders": chunk.orders,
            "interactions": chunk.interactions,
            "campaign_touches": chunk.touches,
        }
        for table, writer in writers.items():
            writer.write(frames[table])
        account_person.write(chunk.account_person)
        spend_last_year[rows], spend_total[rows] = chunk.spend_last_year, chunk.spend_total
        bought_before[rows], bought_after[rows] = chunk.bought_before, chunk.bought_after
        for year, revenue in chunk.revenue_by_year.items():
            revenue_by_year[year] = revenue_by_year.get(year, 0.0) + revenue
    account_person.close()
    for writer in writers.values():
        writer.close()
    small = {
        "loyalty": loyalty_cards(people, spend_last_year, spend_total, rng),
        "kpi_targets": kpi_targets(revenue_by_year, cfg.end),
    }
    for table, frame in small.items():
        if table not in params.tables:
            continue
        writer = TableWriter(out, table, cfg.file_format)
        writer.write(frame)
        writer.close()
        writers[table] = writer
    write_truth(cfg, truth_dir, people, season, hub_phones)
    manifest: dict[str, object] = {
        "config": cfg.__dict__,
        "rows": {t: w.rows for t, w in writers.items()},
        "snapshot_date": cfg.end,
        "profile": {"name": cfg.profile} | params.describe(),
        "repeat_rate": repeat_rate(cfg, bought_before, bought_after),
    }
    if cfg.dirty:
        manifest["dirty"] = add_dirty_rows(out, cfg, np.random.default_rng([cfg.seed, 999_999]))
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def repeat_rate(cfg: DemoConfig, bought_before: np.ndarray, bought_after: np.ndarray) -> dict[str, object]:
    """The planted statistic, measured on the generated orders (campaign orders included).

    The share of customers with a paid order before truth_as_of who buy (paid) again within the horizon.
    """
    customers = int(bought_before.sum())
    repeaters = int((bought_before & bought_after).sum())
    return {
        "as_of": cfg.truth_as_of,
        "horizon_days": cfg.truth_horizon_days,
        "customers": customers,
        "repeaters": repeaters,
        "rate": round(repeaters / customers, 4) if customers else None,
    }
