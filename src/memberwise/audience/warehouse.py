"""The warehouse as an audience source (batch): features at the cutoff, the release's model outputs.

The member table is the feature statement of `memberwise.features` at the cutoff, left-joined to the
release's score, persona and preferred channel by member_id (without a release the preferred channel
is computed and score/persona are refused). `bought` reads `purchases_sql`, the last paid order per
member and category before the cutoff, from the member-keyed orders `identity.unify` writes.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from memberwise.audience.compile import MEMBERS, purchases_table
from memberwise.audience.query import AudienceSource
from memberwise.audience.rules import MODEL_TAGS
from memberwise.features import preferred_channels, stored_base_features
from memberwise.features.sql import as_of_date, sql_timestamp
from memberwise.warehouse import Warehouse

_FEATURES, _OUTPUTS = "audience_features", "audience_outputs"


def purchases_sql(as_of: date | str) -> str:
    """Each member's last paid order per category before the cutoff (what `bought` reads)."""
    cutoff = sql_timestamp(as_of_date(as_of))
    return f"""SELECT mb.member_id, o.category, max(o.ordered_at) AS last_paid_at
        FROM member_orders o JOIN members mb ON mb.member_key = o.member_key
        WHERE o.status = 'paid' AND o.ordered_at < {cutoff}
        GROUP BY mb.member_id, o.category"""


def warehouse_source(
    wh: Warehouse,
    as_of: date,
    new_window_days: int,
    outputs: pd.DataFrame | None,
    description: str,
) -> AudienceSource:
    """Build `audience_members` and `audience_purchases` in the warehouse at `as_of`.

    `outputs`: member_id and the model outputs (MODEL_TAGS) of the current release, or None.
    """
    with stored_base_features(wh, as_of, new_window_days) as sql:
        wh.execute(f"CREATE OR REPLACE TABLE {_FEATURES} AS {sql}")
    from_release = outputs is not None
    if outputs is None:
        outputs = preferred_channels(wh, as_of).assign(
            score=pd.NA, selected=pd.NA, persona=pd.NA, persona_id=pd.NA
        )
    wh.put(_OUTPUTS, outputs[["member_id", *MODEL_TAGS]])
    casts = {"score": "DOUBLE", "selected": "BOOLEAN", "persona": "VARCHAR", "persona_id": "DOUBLE"}
    joined = ", ".join(f'CAST(o."{t}" AS {casts.get(t, "VARCHAR")}) AS "{t}"' for t in MODEL_TAGS)
    wh.execute(
        f"""CREATE OR REPLACE TABLE {MEMBERS} AS
        SELECT f.*, {joined} FROM {_FEATURES} f LEFT JOIN {_OUTPUTS} o ON o.member_id = f.member_id"""
    )
    wh.execute(purchases_table(purchases_sql(as_of), as_of))
    for name in (_FEATURES, _OUTPUTS):
        wh.execute(f"DROP TABLE IF EXISTS {name}")
    return AudienceSource(wh.con, as_of.isoformat(), description, purchases=True, model_outputs=from_release)
