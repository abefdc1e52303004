"""Unified members ("OneID"): link channel accounts that share a strong identifier, transitively.

Accounts and identifiers form a bipartite graph; each connected component is one member. An
identifier shared by more accounts than `max_accounts_per_identifier` (a store's own phone typed at
the till, a test card) is a hub: it links nothing and is reported. Accounts seen only in orders,
interactions or touches (absent from `accounts`) become identifier-less guest accounts, so their
events are kept.

Everything is SQL through the warehouse API, so it runs unchanged on DuckDB and Spark; only the
component labelling is the engine's own (scipy in process, large-star/small-star on Spark).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from memberwise.warehouse import SqlWarehouse, typed_frame

STRONG_IDENTIFIERS = ("phone_hash", "unionid", "member_card")
PROFILE_FIELDS = ("gender", "birth_year", "province", "city")
DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER = 20
MEMBER_COLUMNS = (
    "member_id", "is_member", "first_seen_at", "registration_channel", "n_accounts", *PROFILE_FIELDS,
    "member_card", "enrolled_at", "tier", "points_balance",
)  # fmt: skip
MEMBER_MAP_SQL = "SELECT channel, account_id, member_id FROM member_map ORDER BY channel, account_id"
MEMBERS_SQL = f"SELECT {', '.join(MEMBER_COLUMNS)} FROM members ORDER BY member_id"

# Account orders, numbered once in `member_map` so that "most recent" and "first registered" are integer
# arg_max/arg_min keys (a row key costs several times more): `recency_rank` counts accounts without
# registered_at as oldest, `registration_rank` as latest; channel and account id break ties, so results
# never depend on row order or engine.
ACCOUNT_RANKS = {
    "recency_rank": "coalesce(registered_at, TIMESTAMP '1900-01-01'), channel, account_id",
    "registration_rank": "coalesce(registered_at, TIMESTAMP '2200-01-01'), channel, account_id",
}
LATEST_CARD = "(l.enrolled_at, l.member_card)"


def profile_aggregates() -> str:
    """Per member over its `member_map` rows: first registration channel, latest non-null profile values.

    FILTER, because Spark's max_by keeps NULL values where DuckDB's arg_max skips them.
    """
    latest = ",\n".join(
        f"arg_max({f}, recency_rank) FILTER (WHERE {f} IS NOT NULL) AS {f}" for f in PROFILE_FIELDS
    )
    return f"arg_min(channel, registration_rank) AS registration_channel,\n{latest}"


@dataclass
class IdentityResult:
    """Handle on the unified members in the warehouse, and the hub identifiers left out of linking."""

    warehouse: SqlWarehouse
    hubs: pd.DataFrame  # identifier_type, identifier, accounts

    @cached_property
    def member_map(self) -> pd.DataFrame:
        """channel, account_id -> member_id (fetched on first use: it has a row per account)."""
        return typed_frame(self.warehouse.arrow(MEMBER_MAP_SQL))

    @cached_property
    def members(self) -> pd.DataFrame:
        """The merged member profiles, one row per member."""
        return typed_frame(self.warehouse.arrow(MEMBERS_SQL))

    def count(self, table: str) -> int:
        """Rows in `member_map` (accounts) or `members`, without fetching them."""
        return int(self.warehouse.scalar(f"SELECT count(*) FROM {table}"))  # type: ignore[call-overload]


def _number_accounts(wh: SqlWarehouse) -> None:
    """Table `account_index`: every account, guests from events included, numbered in key order."""
    orphans = "\n            UNION\n            ".join(
        f"SELECT channel, account_id FROM {table} ANTI JOIN accounts USING (channel, account_id)"
        for table in ("orders", "interactions", "campaign_touches")
    )
    none = ", ".join(f"CAST(NULL AS VARCHAR) AS {kind}" for kind in STRONG_IDENTIFIERS)
    columns = f"channel, account_id, {', '.join(STRONG_IDENTIFIERS)}, registered_at"
    wh.execute(
        f"""
        CREATE OR REPLACE TABLE account_index AS
        WITH everyone AS (
            SELECT {columns} FROM accounts
            UNION ALL
            SELECT channel, account_id, {none}, CAST(NULL AS TIMESTAMP) FROM ({orphans}) AS guests
        )
        SELECT CAST(row_number() OVER (ORDER BY channel, account_id) - 1 AS BIGINT) AS idx, {columns}
        FROM everyone
        """
    )


def _identifier_use(wh: SqlWarehouse, max_accounts_per_identifier: int) -> pd.DataFrame:
    """Table `identifier_use`: each account's identifiers, how many accounts share each, the first.

    Returns the hubs, which link nothing.
    """
    uses = "\n            UNION ALL ".join(
        f"SELECT idx, '{kind}' AS identifier_type, {kind} AS identifier FROM account_index "
        f"WHERE {kind} IS NOT NULL"
        for kind in STRONG_IDENTIFIERS
    )
    wh.execute(
        f"""
        CREATE OR REPLACE TABLE identifier_use AS
        SELECT idx, identifier_type, identifier,
               count(*) OVER (PARTITION BY identifier_type, identifier) AS accounts,
               min(idx) OVER (PARTITION BY identifier_type, identifier) AS first_idx
        FROM ({uses}) AS uses
        """
    )
    hubs = f"""
        SELECT identifier_type, identifier, min(accounts) AS accounts
        FROM identifier_use WHERE accounts > {int(max_accounts_per_identifier)}
        GROUP BY identifier_type, identifier ORDER BY accounts DESC, identifier_type, identifier
        """
    return typed_frame(wh.arrow(hubs))


def link_accounts(wh: SqlWarehouse, max_accounts_per_identifier: int) -> pd.DataFrame:
    """Create `member_map` (channel, account_id, member_id, member_key); return the hub identifiers.

    Each account sharing a (non-hub) identifier is linked to the identifier's first account, so the
    graph has accounts only; its components are labelled by their smallest account index.
    `member_id` is the public id: `m_` + a hash of the member's smallest `channel:account_id`,
    deterministic and stable; `member_key` numbers members densely in `member_id` order, so joins and
    sorts inside the warehouse are on integers. `ACCOUNT_RANKS` number the accounts for the profile.
    """
    _number_accounts(wh)
    hubs = _identifier_use(wh, max_accounts_per_identifier)
    wh.components(
        f"""SELECT idx AS src, first_idx AS dst FROM identifier_use
        WHERE accounts BETWEEN 2 AND {int(max_accounts_per_identifier)} AND idx <> first_idx""",
        "account_component",
    )
    ranks = ",\n".join(
        f"CAST(row_number() OVER (ORDER BY {order}) AS BIGINT) AS {name}"
        for name, order in ACCOUNT_RANKS.items()
    )
    wh.execute(
        f"""
        CREATE OR REPLACE TABLE member_map AS
        WITH keyed AS (
            SELECT a.channel, a.account_id, a.registered_at,
                   min(a.channel || ':' || a.account_id)
                       OVER (PARTITION BY coalesce(c.component, a.idx)) AS smallest_key
            FROM account_index a LEFT JOIN account_component c ON c.node = a.idx
        ),
        named AS (SELECT *, 'm_' || substr(md5(smallest_key), 1, 16) AS member_id FROM keyed)
        SELECT channel, account_id, member_id,
               CAST(dense_rank() OVER (ORDER BY member_id) AS INTEGER) AS member_key,
               {ranks}
        FROM named
        """
    )
    for scratch in ("account_component", "identifier_use", "account_index"):
        wh.execute(f"DROP TABLE IF EXISTS {scratch}")
    return hubs


def _rekey_events(wh: SqlWarehouse) -> None:
    """Re-key orders and interactions to members once, so later stages never join on account ids."""
    wh.execute(
        """
        CREATE OR REPLACE TABLE member_orders AS
        SELECT m.member_key, o.channel, o.ordered_at, o.amount, o.discount, o.coupon_used, o.category,
               o.is_gift, o.status
        FROM orders o JOIN member_map m USING (channel, account_id)
        """
    )
    wh.execute(
        """
        CREATE OR REPLACE TABLE member_interactions AS
        SELECT m.member_key, i.occurred_at, i.event, i.channel
        FROM interactions i JOIN member_map m USING (channel, account_id)
        """
    )


def _build_members(wh: SqlWarehouse) -> None:
    """Table `members`: one row per member, most recent non-null profile values, membership, first seen.

    "Most recent" orders accounts by `registered_at` (accounts without one count as oldest).
    """
    wh.execute(
        f"""
        CREATE OR REPLACE TABLE members AS
        WITH acct AS (
            SELECT m.member_key, m.member_id, m.channel, {", ".join(f"m.{r}" for r in ACCOUNT_RANKS)},
                   a.registered_at, a.member_card, {", ".join(f"a.{f}" for f in PROFILE_FIELDS)}
            FROM member_map m
            LEFT JOIN accounts a ON a.channel = m.channel AND a.account_id = m.account_id
        ),
        profile AS (
            SELECT member_key, min(member_id) AS member_id,
                   count(*) AS n_accounts,
                   min(registered_at) AS first_registered_at,
                   {profile_aggregates()}
            FROM acct GROUP BY member_key
        ),
        cards AS (
            SELECT a.member_key, min(l.enrolled_at) AS enrolled_at,
                   arg_max(l.member_card, {LATEST_CARD}) AS member_card,
                   arg_max(l.tier, {LATEST_CARD}) AS tier,
                   arg_max(l.points_balance, {LATEST_CARD}) AS points_balance
            FROM acct a JOIN loyalty l ON a.member_card = l.member_card
            GROUP BY a.member_key
        ),
        first_event AS (
            SELECT member_key, min(event_at) AS first_event_at FROM (
                SELECT member_key, min(ordered_at) AS event_at FROM member_orders GROUP BY member_key
                UNION ALL
                SELECT member_key, min(occurred_at) FROM member_interactions GROUP BY member_key
            ) AS firsts GROUP BY member_key
        )
        SELECT p.member_key, p.member_id,
               c.enrolled_at IS NOT NULL AS is_member,
               least(p.first_registered_at, f.first_event_at) AS first_seen_at,
               p.registration_channel, p.n_accounts,
               {", ".join(f"p.{f}" for f in PROFILE_FIELDS)},
               c.member_card, c.enrolled_at, c.tier, c.points_balance
        FROM profile p
        LEFT JOIN cards c USING (member_key)
        LEFT JOIN first_event f USING (member_key)
        """
    )


def unify(
    wh: SqlWarehouse, max_accounts_per_identifier: int = DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER
) -> IdentityResult:
    """Link accounts into members: `member_map`, `members` and member-keyed events in the warehouse."""
    hubs = link_accounts(wh, max_accounts_per_identifier)
    _rekey_events(wh)
    _build_members(wh)
    return IdentityResult(wh, hubs)
