"""Member features as of a cutoff date, repurchase labels and audiences, all computed in SQL.

Everything here is set-based SQL run by DuckDB (CTEs, CASE WHEN, window functions, `date_diff`) so a
later issue can run the same logic on Spark. Each source table is read in one pass of conditional
aggregation over the member-keyed events that `identity.unify` writes (`member_orders`,
`member_interactions`): every window is a CASE inside one GROUP BY on an integer member key.

The cutoff is `as_of` 00:00. Features and audiences read only rows strictly before it, so a feature
row computed today never changes when later data arrives. The columns, their types and meanings are
`memberwise.catalogue` (re-exported here as `FEATURE_COLUMNS`); `docs/features.md` carries the rules.

Modules: `members` (the feature table), `labels` (repurchase), `audiences` (audiences, weekly sales by
audience, preferred channels) and `sql` (the building blocks they share).
"""

from memberwise.catalogue import FEATURE_COLUMNS, WINDOWS
from memberwise.features.audiences import audience_sales, member_audiences, preferred_channels
from memberwise.features.labels import repurchase_labels
from memberwise.features.members import build_features, feature_sql, stored_base_features, write_features
from memberwise.features.sql import as_of_date

__all__ = [
    "FEATURE_COLUMNS",
    "WINDOWS",
    "as_of_date",
    "audience_sales",
    "build_features",
    "feature_sql",
    "member_audiences",
    "preferred_channels",
    "repurchase_labels",
    "stored_base_features",
    "write_features",
]
