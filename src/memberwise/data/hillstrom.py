"""The Hillstrom e-mail experiment (MineThatData, 2008) as contract tables, to check measurement on real data.

64,000 customers were randomised into a men's e-mail, a women's e-mail and no e-mail, and followed for two
weeks. Here each e-mail arm is one campaign whose treatment group is the arm and whose control group is
every no-e-mail customer (so a no-e-mail customer is a control touch in both campaigns, as in
`modeling.response.hillstrom_arms`). A converter gets one paid order of their `spend` three days after
the touch; a visitor gets one `click` event (the e-mail's landing visit) a day after it. The audience is
`new_customer` for Hillstrom's newbies and `returning_customer` otherwise, so each campaign has two cells.
The contract has no e-mail channel: the strategy columns are placeholders (private_domain, none, sms,
new_product_trial) and the cost is 0 (unknown), so ROI stays empty.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from memberwise.modeling.response import HILLSTROM_CONTROL

TOUCHED_AT = pd.Timestamp("2008-03-03 10:00:00")
ORDER_DELAY = pd.Timedelta(days=3)
VISIT_DELAY = pd.Timedelta(days=1)
CHANNEL = "app"
STRATEGY = {
    "delivery": "private_domain",
    "promotion": "none",
    "communication": "sms",
    "activity": "new_product_trial",
}


def campaign_id(arm: str) -> str:
    """The campaign id of an e-mail arm: "Mens E-Mail" -> "mens_e-mail"."""
    return arm.lower().replace(" ", "_")


def hillstrom_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """accounts, orders, interactions and campaign_touches from the Hillstrom rows (one account each)."""
    people = frame.reset_index(drop=True).assign(
        channel=CHANNEL, account_id=[f"H{i:05d}" for i in range(len(frame))]
    )
    accounts = people[["channel", "account_id"]]
    buyers = people[people["conversion"] == 1]
    orders = buyers[["channel", "account_id"]].assign(
        order_id=[f"HO{i:05d}" for i in buyers.index],
        ordered_at=TOUCHED_AT + ORDER_DELAY,
        amount=buyers["spend"].round(2),
        discount=0.0,
        coupon_used=False,
        category="merchandise",
        status="paid",
    )
    visits = people.loc[people["visit"] == 1, ["channel", "account_id"]]
    interactions = visits.assign(occurred_at=TOUCHED_AT + VISIT_DELAY, event="click")
    control = people[people["segment"] == HILLSTROM_CONTROL].assign(group="control")
    touches = [
        pd.concat([people[people["segment"] == arm].assign(group="treatment"), control]).assign(
            campaign_id=campaign_id(arm)
        )
        for arm in sorted(set(people["segment"]) - {HILLSTROM_CONTROL})
    ]
    campaign_touches = pd.concat(touches, ignore_index=True).assign(
        touched_at=TOUCHED_AT,
        audience=lambda t: t["newbie"].map({1: "new_customer", 0: "returning_customer"}),
        cost=0.0,
        **STRATEGY,
    )
    columns = ["campaign_id", "channel", "account_id", "touched_at", "audience", *STRATEGY, "group", "cost"]
    return {
        "accounts": accounts,
        "orders": orders,
        "interactions": interactions,
        "campaign_touches": campaign_touches[columns],
    }


def write_hillstrom(csv: Path, out: Path) -> Path:
    """Write the contract tables of hillstrom.csv into `out` (CSV), ready for `--data out`."""
    out.mkdir(parents=True, exist_ok=True)
    for name, table in hillstrom_tables(pd.read_csv(csv)).items():
        table.to_csv(out / f"{name}.csv", index=False)
    return out
