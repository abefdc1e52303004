"""Unified members ("OneID"): link channel accounts that share a strong identifier, transitively.

Accounts and identifiers form a bipartite graph; each connected component is one member. An
identifier shared by more accounts than `max_accounts_per_identifier` (a store's own phone typed at
the till, a test card) is a hub: it links nothing and is reported. Accounts seen only in orders,
interactions or touches (absent from `accounts`) become identifier-less guest accounts, so their
events are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from memberwise.warehouse import Warehouse

STRONG_IDENTIFIERS = ("phone_hash", "unionid", "member_card")
PROFILE_FIELDS = ("gender", "birth_year", "province", "city")
DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER = 20


@dataclass
class IdentityResult:
    """Handle on the unified members in the warehouse, and the hub identifiers left out of linking."""

    warehouse: Warehouse
    hubs: pd.DataFrame  # identifier_type, identifier, accounts

    @cached_property
    def member_map(self) -> pd.DataFrame:
        """channel, account_id -> member_id (fetched on first use: it has a row per account)."""
        return self.warehouse.df(
            "SELECT channel, account_id, member_id FROM member_map ORDER BY channel, account_id"
        )

    @cached_property
    def members(self) -> pd.DataFrame:
        """The merged member profiles, one row per member."""
        return self.warehouse.df("SELECT * EXCLUDE (member_key) FROM members ORDER BY member_id")

    def count(self, table: str) -> int:
        """Rows in `member_map` (accounts) or `members`, without fetching them."""
        return int(self.warehouse.scalar(f"SELECT count(*) FROM {table}"))  # type: ignore[call-overload]


def _number_accounts(wh: Warehouse) -> None:
    """Table `account_index`: every account, guests from events included, numbered in key order."""
    orphans = "\n            UNION\n            ".join(
        f"SELECT channel, account_id FROM {table} ANTI JOIN accounts USING (channel, account_id)"
        for table in ("orders", "interactions", "campaign_touches")
    )
    wh.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE account_index AS
        WITH everyone AS (
            SELECT channel, account_id, phone_hash, unionid, member_card FROM accounts
            UNION ALL
            SELECT channel, account_id, NULL, NULL, NULL FROM ({orphans})
        )
        SELECT CAST(row_number() OVER (ORDER BY channel, account_id) - 1 AS BIGINT) AS idx, *
        FROM everyone
        """
    )


def _identifier_edges(wh: Warehouse, max_accounts_per_identifier: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Links (account idx, identifier node) through identifiers on 2+ accounts, and the hubs left out."""
    edges = "\n        UNION ALL ".join(
        f"SELECT idx, '{kind}' AS identifier_type, {kind} AS identifier FROM account_index "
        f"WHERE {kind} IS NOT NULL"
        for kind in STRONG_IDENTIFIERS
    )
    wh.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE identifier_use AS
        WITH edges AS (SELECT DISTINCT * FROM ({edges}))
        SELECT *, count(*) OVER (PARTITION BY identifier_type, identifier) AS accounts FROM edges
        """
    )
    hubs = wh.df(
        """
        SELECT identifier_type, identifier, any_value(accounts) AS accounts
        FROM identifier_use WHERE accounts > ?
        GROUP BY identifier_type, identifier ORDER BY accounts DESC, identifier_type, identifier
        """,
        [max_accounts_per_identifier],
    )
    links = wh.df(
        """
        SELECT idx, dense_rank() OVER (ORDER BY identifier_type, identifier) - 1 AS node
        FROM identifier_use WHERE accounts BETWEEN 2 AND ?
        """,
        [max_accounts_per_identifier],
    )
    return links, hubs


def link_accounts(wh: Warehouse, max_accounts_per_identifier: int) -> pd.DataFrame:
    """Create `member_map` (channel, account_id, member_id, member_key); return the hub identifiers.

    `member_key` is a dense integer per member for fast joins inside the warehouse; `member_id` is the
    public id: `m_` + a hash of the member's smallest `channel:account_id`, deterministic and stable.
    """
    _number_accounts(wh)
    links, hubs = _identifier_edges(wh, max_accounts_per_identifier)
    n_accounts = int(wh.scalar("SELECT count(*) FROM account_index"))  # type: ignore[call-overload]
    n_nodes = n_accounts + int(links["node"].max() if len(links) else -1) + 1
    graph = coo_matrix(
        (
            np.ones(len(links), dtype=np.int8),
            (links["idx"].to_numpy(), n_accounts + links["node"].to_numpy()),
        ),
        shape=(n_nodes, n_nodes),
    )
    _, component = connected_components(graph, directed=False)
    wh.put("_component", pd.DataFrame({"idx": np.arange(n_accounts), "component": component[:n_accounts]}))
    wh.con.execute(
        """
        CREATE OR REPLACE TABLE member_map AS
        WITH keyed AS (
            SELECT a.channel, a.account_id, c.component,
                   min(a.channel || ':' || a.account_id) OVER (PARTITION BY c.component) AS smallest_key
            FROM account_index a JOIN _component c USING (idx)
        )
        SELECT channel, account_id, 'm_' || substr(md5(smallest_key), 1, 16) AS member_id,
               CAST(dense_rank() OVER (ORDER BY smallest_key) AS INTEGER) AS member_key
        FROM keyed ORDER BY channel, account_id
        """
    )
    wh.con.execute("DROP TABLE _component")
    return hubs


def _rekey_events(wh: Warehouse) -> None:
    """Re-key orders and interactions to members once, so later stages never join on account ids."""
    wh.con.execute(
        """
        CREATE OR REPLACE TABLE member_orders AS
        SELECT m.member_key, o.channel, o.ordered_at, o.amount, o.discount, o.coupon_used, o.category,
               o.is_gift, o.status
        FROM orders o JOIN member_map m USING (channel, account_id)
        """
    )
    wh.con.execute(
        """
        CREATE OR REPLACE TABLE member_interactions AS
        SELECT m.member_key, i.occurred_at, i.event, i.channel
        FROM interactions i JOIN member_map m USING (channel, account_id)
        """
    )


def _build_members(wh: Warehouse) -> None:
    """Table `members`: one row per member, most recent non-null profile values, membership, first seen.

    "Most recent" orders accounts by `registered_at` (accounts without one count as oldest).
    """
    latest = ",\n".join(
        f"arg_max(a.{f}, coalesce(a.registered_at, TIMESTAMP '1900-01-01')) "
        f"FILTER (WHERE a.{f} IS NOT NULL) AS {f}"
        for f in PROFILE_FIELDS
    )
    wh.con.execute(
        f"""
        CREATE OR REPLACE TABLE members AS
        WITH acct AS (
            SELECT m.member_key, m.member_id, m.channel, a.* EXCLUDE (channel, account_id)
            FROM member_map m LEFT JOIN accounts a USING (channel, account_id)
        ),
        profile AS (
            SELECT member_key, any_value(member_id) AS member_id,
                   count(*) AS n_accounts,
                   min(registered_at) AS first_registered_at,
                   arg_min(channel, coalesce(registered_at, TIMESTAMP '2200-01-01')) AS registration_channel,
                   {latest}
            FROM acct a GROUP BY member_key
        ),
        cards AS (
            SELECT a.member_key, min(l.enrolled_at) AS enrolled_at,
                   arg_max(l.member_card, l.enrolled_at) AS member_card,
                   arg_max(l.tier, l.enrolled_at) AS tier,
                   arg_max(l.points_balance, l.enrolled_at) AS points_balance
            FROM acct a JOIN loyalty l ON a.member_card = l.member_card
            GROUP BY a.member_key
        ),
        first_event AS (
            SELECT member_key, min(event_at) AS first_event_at FROM (
                SELECT member_key, min(ordered_at) AS event_at FROM member_orders GROUP BY member_key
                UNION ALL
                SELECT member_key, min(occurred_at) FROM member_interactions GROUP BY member_key
            ) GROUP BY member_key
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
        ORDER BY p.member_key
        """
    )


def unify(
    wh: Warehouse, max_accounts_per_identifier: int = DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER
) -> IdentityResult:
    """Link accounts into members: `member_map`, `members` and member-keyed events in the warehouse."""
    hubs = link_accounts(wh, max_accounts_per_identifier)
    _rekey_events(wh)
    _build_members(wh)
    return IdentityResult(wh, hubs)
