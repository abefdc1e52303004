"""UCI Online Retail (2010-12..2011-12, a UK online gift shop) as data-contract tables, for real-data reports.

One channel (`app`), account_id = CustomerID, one order per invoice (amount = sum of quantity x price).
Cancellations ("C" invoices) and lines with non-positive quantity or price are dropped; guest invoices
(no CustomerID) have no account and are left out. The shop records no coupons, discounts or gift flags,
so those columns are false/zero/null: only basket size and frequency carry behaviour here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEFAULT_PATH = Path("../shared/data/online_retail.parquet")
SNAPSHOT_DATE = "2011-12-09"


def clean_lines(raw: pd.DataFrame) -> pd.DataFrame:
    """Sales lines only: no cancellations, positive quantity and price, with the line's value."""
    lines = raw[~raw["InvoiceNo"].astype(str).str.startswith("C")]
    lines = lines[(lines["Quantity"] > 0) & (lines["UnitPrice"] > 0)]
    return lines.assign(value=lines["Quantity"] * lines["UnitPrice"])


def to_contract(path: Path, out: Path) -> Path:
    """Write accounts.parquet and orders.parquet for the identified customers into `out`."""
    lines = clean_lines(pd.read_parquet(path))
    known = lines[lines["CustomerID"].notna()]
    invoices = known.groupby("InvoiceNo").agg(
        account_id=("CustomerID", "first"), ordered_at=("InvoiceDate", "min"), amount=("value", "sum")
    )
    orders = pd.DataFrame(
        {
            "order_id": invoices.index.astype(str),
            "channel": "app",
            "account_id": invoices["account_id"].astype("int64").astype(str).to_numpy(),
            "ordered_at": invoices["ordered_at"].to_numpy(),
            "amount": invoices["amount"].round(2).to_numpy(),
            "discount": 0.0,
            "coupon_used": False,
            "category": "giftware",
            "store_id": None,
            "is_gift": None,
            "status": "paid",
        }
    )
    first = orders.groupby("account_id")["ordered_at"].min()
    accounts = pd.DataFrame({"channel": "app", "account_id": first.index, "registered_at": first.to_numpy()})
    for column in ("phone_hash", "unionid", "member_card", "gender", "birth_year", "province", "city"):
        accounts[column] = None
    out.mkdir(parents=True, exist_ok=True)
    accounts.to_parquet(out / "accounts.parquet", index=False)
    orders.to_parquet(out / "orders.parquet", index=False)
    return out
