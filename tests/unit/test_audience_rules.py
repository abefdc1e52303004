"""Audience rules: parse and type errors, compiled SQL on the tiny brand of test_features (known truth).

Members at the cutoff 2026-03-01 (see tests/unit/test_features.py): A Shanghai, skincare 9 days ago,
makeup 45, 4 interactions in 90 days; B Beijing, one order 90 days ago; C no city, skincare 5 and 2
days ago, 3 visits; D Shenzhen, lost; E prospect; F makeup 212 days ago (sleeping); H never bought;
I guest, snacks 120 and 59 days ago, 3 clicks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from memberwise.audience import AudienceSource, RuleError, compile_rule, export, parse_rule, run
from memberwise.audience.query import unknown_categories
from memberwise.audience.snapshot import snapshot_source
from memberwise.audience.warehouse import purchases_sql, warehouse_source
from memberwise.features import build_features
from memberwise.warehouse import Warehouse
from tests.unit.test_features import AS_OF, base_tables, make_warehouse, member_ids

DOMAIN = {  # the domain notes' example, with skincare as "category X"
    "all": [
        {"tag": "interactions_90d", "gte": 3},
        {"tag": "has_purchased", "eq": True},
        {"not": {"bought": {"category": "skincare", "within_days": 7}}},
    ]
}
# rule -> the members (letters) it must select
TRUTH: list[tuple[dict, set[str]]] = [
    ({"tag": "city", "eq": "Beijing"}, {"B"}),
    (
        {"not": {"tag": "city", "eq": "Beijing"}},
        {"A", "C", "D", "E", "F", "H", "I"},
    ),  # null city: not Beijing
    ({"tag": "city", "in": ["Shanghai", "Shenzhen"]}, {"A", "D"}),
    (DOMAIN["all"][0], {"A", "C", "I"}),
    (DOMAIN, {"A", "I"}),
    ({"bought": {"category": "skincare", "within_days": 7}}, {"C"}),
    ({"bought": {"category": "skincare", "within_days": 9}}, {"A", "C"}),  # 9 days ago is inside 9 days
    ({"bought": {"within_days": 60}}, {"A", "C", "I"}),
    ({"any": [{"tag": "city", "eq": "Beijing"}, {"bought": {"category": "makeup"}}]}, {"A", "B", "F"}),
    ({"tag": "lifecycle_stage", "in": ["lost", "sleeping"]}, {"D", "F"}),
    ({"tag": "orders_total", "between": [2, 3]}, {"C", "I"}),
    ({"tag": "orders_total", "lte": 0}, {"E", "H"}),
    ({"tag": "first_purchase_at", "gte": "2025-11-01"}, {"B", "C", "I"}),
    ({"tag": "score", "gte": 60}, {"A"}),
    ({"all": [{"tag": "persona", "eq": "Gift buyers"}, {"tag": "preferred_channel", "eq": "app"}]}, {"A"}),
]


@pytest.fixture(scope="module")
def tiny() -> tuple[Warehouse, dict[str, str]]:
    wh = make_warehouse(base_tables())
    return wh, member_ids(wh)


def _outputs(ids: dict[str, str]) -> pd.DataFrame:
    """Planted model outputs: A scores 80 and is a gift buyer on app; everyone else scores 10."""
    rows = [
        (
            mid,
            80.0 if k == "A" else 10.0,
            k == "A",
            "Gift buyers" if k == "A" else None,
            0 if k == "A" else None,
        )
        for k, mid in ids.items()
    ]
    frame = pd.DataFrame(rows, columns=["member_id", "score", "selected", "persona", "persona_id"])
    return frame.assign(preferred_channel="app")


@pytest.fixture(scope="module")
def batch(tiny: tuple[Warehouse, dict[str, str]]) -> AudienceSource:
    wh, ids = tiny
    return warehouse_source(wh, AS_OF, 90, _outputs(ids), "tiny brand")


@pytest.fixture(scope="module")
def snapshot(tiny: tuple[Warehouse, dict[str, str]]) -> AudienceSource:
    """The same brand as the service sees it: a snapshot frame (outputs + features) and its purchases."""
    wh, ids = tiny
    frame = _outputs(ids).merge(build_features(wh, AS_OF), on="member_id")
    return snapshot_source(frame, wh.df(purchases_sql(AS_OF)), "tiny snapshot")


def _letters(answer_ids: list[str], ids: dict[str, str]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[m] for m in answer_ids}


@pytest.mark.parametrize(("rule", "expected"), TRUTH, ids=[json.dumps(r)[:50] for r, _ in TRUTH])
def test_rules_select_the_planted_members_in_batch_and_snapshot(
    rule: dict, expected: set[str], tiny: tuple, batch: AudienceSource, snapshot: AudienceSource
) -> None:
    _, ids = tiny
    for source in (batch, snapshot):
        found = run(source, parse_rule(rule), 0, 100)
        assert _letters(found.member_ids, ids) == expected, source.description
        assert found.count == len(expected)
        assert found.member_ids == sorted(found.member_ids)
        assert sum(n for _, n in found.by_lifecycle_stage) == found.count


def test_paging_breakdown_and_export(tiny: tuple, batch: AudienceSource, tmp_path: Path) -> None:
    _, ids = tiny
    rule = parse_rule({"not": {"tag": "city", "eq": "Beijing"}})
    everyone = run(batch, rule, 0, 100).member_ids
    assert run(batch, rule, 2, 3).member_ids == everyone[2:5]
    assert run(batch, rule, 0, 0).member_ids == [] and run(batch, rule, 0, 0).count == 7
    stages = dict(run(batch, rule, 0, 0).by_lifecycle_stage)
    assert stages == {"active": 3, "prospect": 2, "lost": 1, "sleeping": 1}  # A C I; E H; D; F
    assert dict(run(batch, rule, 0, 0).by_persona) == {None: 6, "Gift buyers": 1}
    export(batch, parse_rule(DOMAIN), tmp_path / "out.csv")
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns) == ["member_id", "interactions_90d", "has_purchased"]
    assert _letters(written["member_id"].tolist(), ids) == {"A", "I"}


def test_values_are_parameters_not_sql(batch: AudienceSource) -> None:
    compiled = compile_rule(parse_rule({"tag": "city", "eq": "Beijing' OR '1'='1"}))
    assert "Beijing" not in compiled.where and compiled.params == ("Beijing' OR '1'='1",)
    hostile = [
        {"tag": "city", "eq": "Beijing' OR '1'='1"},
        {"tag": "city", "in": ["x'); DROP TABLE audience_members; --"]},
        {"bought": {"category": "skincare' OR 1=1 --"}},
    ]
    for rule in hostile:
        assert run(batch, parse_rule(rule), 0, 10).count == 0
    assert run(batch, parse_rule({"tag": "has_purchased", "eq": True}), 0, 0).count == 6  # table intact
    with pytest.raises(RuleError, match="unknown tag"):
        parse_rule({"tag": 'city" = city OR 1=1 --', "eq": "x"})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"tag": "interactions_90d", "gte": "3"}, "rule.gte: tag 'interactions_90d' is a number"),
        ({"tag": "orders_total", "eq": True}, "rule.eq: tag 'orders_total' is a number"),
        ({"tag": "orders_total", "eq": float("nan")}, "finite number"),
        ({"tag": "city", "gte": "A"}, "rule.gte: tag 'city' is a text: use eq or in, not gte"),
        ({"tag": "has_purchased", "eq": 1}, "rule.eq: tag 'has_purchased' is a flag"),
        ({"tag": "first_purchase_at", "gte": "2025-13-01"}, "is a date: expected 'YYYY-MM-DD'"),
        ({"tag": "orders_total", "between": [5, 1]}, "rule.between: low 5.0 is above high 1.0"),
        ({"tag": "orders_total", "between": [1]}, "expected [low, high]"),
        ({"tag": "city", "in": []}, "rule.in: expected a list of 1 to"),
        ({"tag": "city", "eq": "x", "in": ["y"]}, "needs exactly one of"),
        ({"all": [{"tag": "city", "eq": "x"}, {"not": {"tag": "scroe", "eq": 1}}]}, "rule.all[1].not.tag"),
        ({"tag": "scroe", "eq": 1}, "unknown tag 'scroe' (did you mean score"),
        ({"tag": "as_of", "eq": "2026-03-01"}, "unknown tag 'as_of'"),
        ({"all": []}, "rule.all: expected a non-empty list"),
        ({"any": [{"tag": "city", "eq": "x"}, 3]}, "rule.any[1]: expected an object"),
        ({"bought": {"category": "x", "within_days": 0}}, "rule.bought.within_days"),
        ({"bought": {"brand": "x"}}, "rule.bought: expected"),
        ({"tag": "city", "eq": "x" * 201}, "at most 200 characters"),
        ({"sometimes": []}, "expected exactly one of"),
        ([{"tag": "city", "eq": "x"}], "rule: expected an object"),
    ],
)
def test_bad_rules_name_the_path_and_the_tag(rule: object, message: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rule(rule)
    assert message in str(err.value)


def test_rules_are_bounded() -> None:
    deep: dict = {"tag": "city", "eq": "x"}
    for _ in range(25):
        deep = {"not": deep}
    with pytest.raises(RuleError, match="levels deep"):
        parse_rule(deep)
    with pytest.raises(RuleError, match="more than 500 nodes"):
        parse_rule({"any": [{"tag": "city", "eq": str(i)} for i in range(600)]})


def test_sources_refuse_what_they_cannot_answer(tiny: tuple) -> None:
    wh, ids = tiny
    frame = _outputs(ids).merge(build_features(wh, AS_OF), on="member_id")
    without_purchases = snapshot_source(frame, None, "release r1")
    with pytest.raises(RuleError, match="'bought' needs .* release r1 does not carry"):
        run(without_purchases, parse_rule(DOMAIN), 0, 10)
    assert run(without_purchases, parse_rule(DOMAIN["all"][0]), 0, 10).count == 3
    no_release = warehouse_source(wh, AS_OF, 90, None, "tiny brand, no release")
    with pytest.raises(RuleError, match="score come from a release"):
        run(no_release, parse_rule({"tag": "score", "gte": 60}), 0, 10)
    channels = run(no_release, parse_rule({"tag": "preferred_channel", "eq": "pos"}), 0, 10)
    assert _letters(channels.member_ids, ids) == {"C"}  # computed from the orders without a release


def test_cli_bad_rule_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"all": [{"tag": "citty", "eq": "Beijing"}]}))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "memberwise",
            "audience",
            "--rule",
            str(rule),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        env={"MEMBERWISE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: rule.all[0].tag: unknown tag 'citty' (did you mean city?)"
    ]


def test_a_category_nobody_bought_is_named_not_silently_empty(
    batch: AudienceSource, snapshot: AudienceSource
) -> None:
    rule = parse_rule({"any": [{"bought": {"category": "skincare"}}, {"bought": {"category": "skincre"}}]})
    for source in (batch, snapshot):
        unknown, known = unknown_categories(source, rule)
        assert unknown == ["skincre"] and {"makeup", "skincare", "snacks"} <= set(known), source.description
    assert unknown_categories(batch, parse_rule({"bought": {"within_days": 7}})) == ([], [])
