"""POST /audience against the batch answer: the same members for several rules on a generated brand.

Batch runs the compiled SQL on the warehouse (features at the release's as_of, model outputs joined
from the release); the service runs it on the release's snapshot. The release here ships
`category_purchases.parquet` as a publish step would (docs/audiences.md), so `bought` is answered too.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from memberwise import release
from memberwise.audience import AudienceSource, parse_rule, run
from memberwise.audience.warehouse import warehouse_source
from memberwise.cli import app
from memberwise.pipelines.prepare import prepare
from memberwise.release import PURCHASES_FILE
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse
from tests.serving.conftest import SCORE_AS_OF, Built, Served, assert_client_error

pytestmark = pytest.mark.slow

DOMAIN = {  # registered in Beijing, 3+ visits in 90 days, bought, no makeup in the last 7 days
    "all": [
        {"tag": "city", "eq": "Beijing"},
        {"tag": "interactions_90d", "gte": 3},
        {"tag": "has_purchased", "eq": True},
        {"not": {"bought": {"category": "makeup", "within_days": 7}}},
    ]
}
RULES = [
    DOMAIN,
    {"all": [{"tag": "score", "gte": 50}, {"tag": "lifecycle_stage", "in": ["silent", "sleeping"]}]},
    {"any": [{"tag": "persona_id", "eq": 0}, {"tag": "preferred_channel", "eq": "tmall"}]},
    {
        "all": [
            {"tag": "tier", "in": ["gold", "silver"]},
            {"not": {"tag": "promotion_sensitivity", "eq": "fanatic"}},
        ]
    },
    {"tag": "first_purchase_at", "between": ["2026-01-01", "2026-06-30"]},
    {"any": [{"bought": {"category": "skincare", "within_days": 30}}, {"tag": "selected", "eq": True}]},
]


@pytest.fixture(scope="module")
def batch(serving_home: Built) -> tuple[Warehouse, AudienceSource]:
    """The brand's warehouse as a batch source."""
    home = serving_home[0]
    current = release.require_current(Settings(home=home))
    wh = prepare(home / "brand", Settings(home=home, snapshot_date="2026-11-15")).duckdb("test")
    assert (current.path / PURCHASES_FILE).exists()  # publishing ships each member's purchases by category
    outputs = current.scores()[
        ["member_id", "score", "selected", "persona", "persona_id", "preferred_channel"]
    ]
    source = warehouse_source(wh, date.fromisoformat(SCORE_AS_OF), 90, outputs, "the brand")
    return wh, source


def _service(served: Served, rule: dict, offset: int = 0, limit: int = 100_000) -> dict:
    response = served.post("/audience", {"rule": rule, "offset": offset, "limit": limit})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("rule", RULES, ids=[f"rule{i}" for i in range(len(RULES))])
def test_service_and_batch_select_the_same_members(
    rule: dict, served: Served, batch: tuple[Warehouse, AudienceSource]
) -> None:
    body = _service(served, rule)
    expected = run(batch[1], parse_rule(rule), 0, 100_000)
    assert 0 < expected.count < len(served.snapshot), "a rule that selects nobody or everyone tests little"
    assert body["member_ids"] == expected.member_ids
    assert body["count"] == expected.count
    assert [(c["value"], c["members"]) for c in body["by_lifecycle_stage"]] == expected.by_lifecycle_stage
    assert [(c["value"], c["members"]) for c in body["by_persona"]] == expected.by_persona
    assert body["as_of"] == SCORE_AS_OF and body["model_versions"] == served.versions


def test_domain_example_matches_the_planted_data(
    served: Served, batch: tuple[Warehouse, AudienceSource]
) -> None:
    """Recomputed in pandas from the snapshot and the member-keyed orders, not from the rule's SQL."""
    snap = served.snapshot
    orders = batch[0].df(
        "SELECT mb.member_id, o.category, o.ordered_at FROM member_orders o "
        "JOIN members mb ON mb.member_key = o.member_key WHERE o.status = 'paid'"
    )
    days = (pd.Timestamp(SCORE_AS_OF) - orders["ordered_at"].dt.normalize()).dt.days
    recent_makeup = set(orders.loc[(orders["category"] == "makeup") & (days <= 7) & (days >= 1), "member_id"])
    keep = (snap["city"] == "Beijing") & (snap["interactions_90d"] >= 3) & snap["has_purchased"].astype(bool)
    expected = sorted(set(snap.loc[keep, "member_id"]) - recent_makeup)
    body = _service(served, DOMAIN)
    assert body["member_ids"] == expected
    assert recent_makeup & set(snap.loc[keep, "member_id"]), "the not-bought clause removes someone"


def test_pages_are_slices_of_the_sorted_ids(served: Served) -> None:
    rule = {"tag": "has_purchased", "eq": True}
    everyone = _service(served, rule)["member_ids"]
    page = _service(served, rule, offset=5, limit=7)
    assert page["member_ids"] == everyone[5:12] and page["count"] == len(everyone)
    assert _service(served, rule, offset=len(everyone), limit=10)["member_ids"] == []


def test_cli_writes_the_members_the_service_answers(
    served: Served, serving_home: Built, tmp_path: Path, batch: tuple
) -> None:
    home = serving_home[0]
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps(DOMAIN))
    for data in (["--data", str(home / "brand"), "--snapshot-date", "2026-11-15"], []):
        out = tmp_path / "members.parquet"
        result = CliRunner().invoke(
            app,
            ["audience", "--rule", str(rule), "--out", str(out), *data],
            env={"MEMBERWISE_HOME": str(home)},
        )
        assert result.exit_code == 0, result.output
        written = pd.read_parquet(out)
        assert list(written.columns) == ["member_id", "city", "interactions_90d", "has_purchased"]
        assert written["member_id"].tolist() == _service(served, DOMAIN)["member_ids"]
        assert f"{len(written):,} members match, as of {SCORE_AS_OF}" in result.output


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"rule": {"tag": "citty", "eq": "Beijing"}}, 422, "rule.tag: unknown tag 'citty'"),
        ({"rule": {"all": [{"tag": "orders_90d", "gte": "3"}]}}, 422, "rule.all[0].gte: tag 'orders_90d'"),
        ({"rule": {"tag": "city", "between": ["a", "b"]}}, 422, "tag 'city' is a text"),
        ({"rule": {"not": {"bought": {"within_days": -1}}}}, 422, "rule.not.bought.within_days"),
        ({"rule": 3}, 400, "rule"),
        ({"rule": {"tag": "city", "eq": "x"}, "limit": -1}, 400, "limit"),
        ({"rule": {"tag": "city", "eq": "x"}, "offset": "0"}, 400, "offset"),
        ({"rule": {"tag": "city", "eq": "x"}, "extra": 1}, 400, "extra"),
        ({}, 400, "rule"),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(served: Served, body: dict, status: int, named: str) -> None:
    response = served.post("/audience", body)
    assert response.status_code == status, response.text
    assert_client_error(response, named)


def test_needs_the_key_and_is_documented(served: Served) -> None:
    assert served.post("/audience", {"rule": {"tag": "city", "eq": "x"}}, key=None).status_code == 401
    assert requests.get(f"{served.url}/docs", timeout=10).status_code == 200
    paths = requests.get(f"{served.url}/docs.json", timeout=10).json()["paths"]
    assert "docs/audiences.md" in paths["/audience"]["post"]["description"]
