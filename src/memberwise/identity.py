"""Unified members ("OneID"): link channel accounts that share a strong identifier, transitively.

Accounts and identifiers form a bipartite graph; each connected component is one member. An
identifier shared by more accounts than `max_accounts_per_identifier` (a store's own phone typed at
the till, a test card) is a hub: it links nothing and is reported. Accounts seen only in orders,
interactions or touches (absent from `accounts`) become identifier-less guest accounts, so their
events are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    """The member map, the merged member profiles, and the hub identifiers left out of linking."""

    member_map: pd.DataFrame  # channel, account_id, member_id
    members: pd.DataFrame
    hubs: pd.DataFrame  # identifier_type, identifier, accounts


def _all_accounts(wh: Warehouse) -> pd.DataFrame:
    """Accounts plus guest accounts referenced by events but missing from `accounts`."""
    return wh.df(
        """
        WITH referenced AS (
            SELECT channel, account_id FROM orders
            UNION SELECT channel, account_id FROM interactions
            UNION SELECT channel, account_id FROM campaign_touches
        )
        SELECT channel, account_id, phone_hash, unionid, member_card FROM accounts
        UNION ALL
        SELECT r.channel, r.account_id, NULL, NULL, NULL
        FROM referenced r ANTI JOIN accounts a USING (channel, account_id)
        ORDER BY channel, account_id
        """
    )


def _identifier_edges(accounts: pd.DataFrame) -> pd.DataFrame:
    """One row per (account row number, identifier type, identifier value)."""
    parts = []
    for kind in STRONG_IDENTIFIERS:
        values = accounts[kind]
        present = values.notna().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "account": np.flatnonzero(present),
                    "identifier_type": kind,
                    "identifier": values[present].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def member_ids_for(keys: pd.Series) -> pd.Series:
    """Deterministic member id from a component's smallest `channel:account_id` key."""
    return keys.map(lambda key: "m_" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest())


def link_accounts(
    accounts: pd.DataFrame, max_accounts_per_identifier: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign a member id to every account; return (member_map, hubs)."""
    edges = _identifier_edges(accounts).drop_duplicates(["account", "identifier_type", "identifier"])
    sharing = edges.groupby(["identifier_type", "identifier"], sort=False)["account"].transform("size")
    hubs = (
        edges[sharing > max_accounts_per_identifier]
        .groupby(["identifier_type", "identifier"])
        .size()
        .rename("accounts")
        .reset_index()
        .sort_values("accounts", ascending=False, ignore_index=True)
    )
    edges = edges[sharing <= max_accounts_per_identifier]
    identifier_node = pd.MultiIndex.from_frame(edges[["identifier_type", "identifier"]]).factorize()[0]
    n_accounts = len(accounts)
    n_nodes = n_accounts + int(identifier_node.max(initial=-1)) + 1
    graph = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges["account"].to_numpy(), n_accounts + identifier_node)),
        shape=(n_nodes, n_nodes),
    )
    _, component = connected_components(graph, directed=False)
    account_key = accounts["channel"].astype(str) + ":" + accounts["account_id"].astype(str)
    component_of_account = pd.Series(component[:n_accounts])
    smallest_key = account_key.groupby(component_of_account.to_numpy()).transform("min")
    member_map = pd.DataFrame(
        {
            "channel": accounts["channel"].to_numpy(),
            "account_id": accounts["account_id"].to_numpy(),
            "member_id": member_ids_for(smallest_key).to_numpy(),
        }
    )
    return member_map, hubs


def merged_profiles(wh: Warehouse) -> pd.DataFrame:
    """One row per member: most recent non-null profile value, membership, first time seen.

    Needs `member_map` in the warehouse. "Most recent" orders accounts by `registered_at`
    (accounts without one count as oldest).
    """
    latest = ",\n".join(
        f"arg_max(a.{f}, coalesce(a.registered_at, TIMESTAMP '1900-01-01')) "
        f"FILTER (WHERE a.{f} IS NOT NULL) AS {f}"
        for f in PROFILE_FIELDS
    )
    return wh.df(
        f"""
        WITH acct AS (
            SELECT m.member_id, m.channel, a.* EXCLUDE (channel, account_id)
            FROM member_map m LEFT JOIN accounts a USING (channel, account_id)
        ),
        profile AS (
            SELECT member_id,
                   count(*) AS n_accounts,
                   min(registered_at) AS first_registered_at,
                   arg_min(channel, coalesce(registered_at, TIMESTAMP '2200-01-01')) AS registration_channel,
                   {latest}
            FROM acct a GROUP BY member_id
        ),
        cards AS (
            SELECT a.member_id, min(l.enrolled_at) AS enrolled_at,
                   arg_max(l.member_card, l.enrolled_at) AS member_card,
                   arg_max(l.tier, l.enrolled_at) AS tier,
                   arg_max(l.points_balance, l.enrolled_at) AS points_balance
            FROM acct a JOIN loyalty l ON a.member_card = l.member_card
            GROUP BY a.member_id
        ),
        first_event AS (
            SELECT m.member_id, min(e.at) AS first_event_at
            FROM (SELECT channel, account_id, ordered_at AS at FROM orders
                  UNION ALL SELECT channel, account_id, occurred_at FROM interactions) e
            JOIN member_map m USING (channel, account_id)
            GROUP BY m.member_id
        )
        SELECT p.member_id,
               c.enrolled_at IS NOT NULL AS is_member,
               least(p.first_registered_at, f.first_event_at) AS first_seen_at,
               p.registration_channel, p.n_accounts,
               {", ".join(f"p.{f}" for f in PROFILE_FIELDS)},
               c.member_card, c.enrolled_at, c.tier, c.points_balance
        FROM profile p
        LEFT JOIN cards c USING (member_id)
        LEFT JOIN first_event f USING (member_id)
        ORDER BY p.member_id
        """
    )


def unify(
    wh: Warehouse, max_accounts_per_identifier: int = DEFAULT_MAX_ACCOUNTS_PER_IDENTIFIER
) -> IdentityResult:
    """Link accounts into members and store `member_map` and `members` in the warehouse."""
    member_map, hubs = link_accounts(_all_accounts(wh), max_accounts_per_identifier)
    wh.put("member_map", member_map)
    members = merged_profiles(wh)
    wh.put("members", members)
    return IdentityResult(member_map, members, hubs)
