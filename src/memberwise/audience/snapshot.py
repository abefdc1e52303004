"""A release's snapshot as an audience source: the service's answer (and the CLI's without --data).

The snapshot frame (SCORE_COLUMNS + features) is copied once into an in-memory DuckDB database, where
the same compiled SQL as in batch runs. `bought` needs each member's purchases by category; a release
that ships `category_purchases.parquet` (member_id, category, last_paid_at; written from
`audience.warehouse.purchases_sql` at the release's as_of) answers it, others refuse it with a 4xx.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from memberwise.audience.compile import MEMBERS, PURCHASE_COLUMNS, purchases_table
from memberwise.audience.query import AudienceSource
from memberwise.audience.rules import TAGS
from memberwise.release import PURCHASES_FILE
from memberwise.warehouse import connect

_NO_PURCHASES = pd.DataFrame(
    {
        "member_id": pd.Series(dtype="string"),
        "category": pd.Series(dtype="string"),
        "last_paid_at": pd.Series(dtype="datetime64[ns]"),
    }
)
_SQL_TYPES = {"number": "DOUBLE", "text": "VARCHAR", "flag": "BOOLEAN", "date": "TIMESTAMP"}


def release_purchases(release_dir: Path) -> pd.DataFrame | None:
    """The per-category last purchases a release ships, or None when it ships none."""
    path = release_dir / PURCHASES_FILE
    return pd.read_parquet(path, columns=list(PURCHASE_COLUMNS)) if path.exists() else None


def snapshot_source(frame: pd.DataFrame, purchases: pd.DataFrame | None, description: str) -> AudienceSource:
    """An in-memory source over a snapshot frame (member_id, as_of and any tags it carries)."""
    con = connect()
    columns = [c for c in ("member_id", "as_of", *TAGS) if c in frame.columns]
    con.register("_snapshot", frame[columns])
    # Typed by the catalogue: an all-null column (persona before personas exist) is still text.
    select = ", ".join(
        f'CAST("{c}" AS {_SQL_TYPES[TAGS[c]]}) AS "{c}"' if c in TAGS else f'"{c}"' for c in columns
    )
    con.execute(f"CREATE TABLE {MEMBERS} AS SELECT {select} FROM _snapshot")
    con.unregister("_snapshot")
    as_of: date = con.execute(f"SELECT CAST(max(as_of) AS DATE) FROM {MEMBERS}").fetchall()[0][0]
    rows = _NO_PURCHASES if purchases is None else purchases[list(PURCHASE_COLUMNS)]
    con.register("_purchases", rows)
    con.execute(purchases_table("SELECT * FROM _purchases", as_of))
    con.unregister("_purchases")
    return AudienceSource(con, as_of.isoformat(), description, purchases=purchases is not None)
