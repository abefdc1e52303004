"""/persona, /gap and /allocate over real HTTP against `bentoml serve` (see conftest.py for the fixture)."""

from __future__ import annotations

import pytest

from tests.serving.conftest import Served, feature_records

pytestmark = pytest.mark.slow


# -- /persona -------------------------------------------------------------------------------------------
def test_persona_by_ids(served: Served) -> None:
    snap = served.snapshot
    buyer = snap[snap["persona"].notna()].iloc[0]
    lapsed = snap[snap["persona"].isna()].iloc[0]
    response = served.post("/persona", {"member_ids": [buyer["member_id"], "nobody", lapsed["member_id"]]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_versions"]["personas"] == served.versions["personas"]
    found, unknown, none = body["results"]
    table = served.personas.personas_.set_index("persona_id")
    assert found["found"] and found["persona_id"] == buyer["persona_id"]
    assert found["persona"] == buyer["persona"]
    assert found["description"] == table.at[int(buyer["persona_id"]), "description"]
    assert unknown == {"member_id": "nobody", "found": False, "persona_id": None, "persona": None,
                       "description": None}  # fmt: skip
    assert none["found"] and none["persona_id"] is None and "365 days" in none["description"]


def test_persona_by_feature_records(served: Served) -> None:
    features = served.features.head(40)
    response = served.post("/persona", {"members": feature_records(features)})
    assert response.status_code == 200, response.text
    expected = served.personas.assign(features)
    results = response.json()["results"]
    assert [r["persona"] for r in results] == expected["persona"].tolist()
    assert [r["description"] for r in results] == expected["description"].tolist()
    assert all("found" not in r or r["found"] is None for r in results)


def test_persona_needs_exactly_one_input(served: Served) -> None:
    for body in ({}, {"member_ids": ["a"], "members": [{}]}):
        response = served.post("/persona", body)
        assert response.status_code in (400, 422)
        assert "exactly one" in response.json()["error"]


# -- /gap and /allocate ---------------------------------------------------------------------------------
def test_gap_from_the_kpi_targets_and_with_a_given_target(served: Served) -> None:
    response = served.post("/gap", {"period": "2026"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["projected_total"] == pytest.approx(body["actual_to_date"] + body["forecast_rest"])
    assert body["gap"] == pytest.approx(body["target"] - body["projected_total"])
    assert body["achievement_rate"] == pytest.approx(body["projected_total"] / body["target"])
    assert {a["audience"] for a in body["per_audience"]} == {
        "new_customer", "returning_customer", "new_member", "returning_member"
    }  # fmt: skip
    assert sum(a["projected_total"] for a in body["per_audience"]) == pytest.approx(body["projected_total"])
    assert body["cutoff"] == "2026-11-16" and set(body["model_versions"]) == {"forecast"}
    easy = served.post("/gap", {"period": "2026", "target": body["projected_total"] * 0.5}).json()
    hard = served.post("/gap", {"period": "2026", "target": body["projected_total"] * 2}).json()
    assert easy["p_meet_target"] > 0.95 and hard["p_meet_target"] < 0.05
    quarter = served.post("/gap", {"period": "2026-Q4", "target": 1_000_000}).json()
    assert quarter["actual_to_date"] < body["actual_to_date"]


def test_gap_errors_name_the_problem(served: Served) -> None:
    no_target = served.post("/gap", {"period": "2031"})
    assert no_target.status_code == 422 and "no target for 2031" in no_target.json()["error"]
    bad = served.post("/gap", {"period": "next year"})
    assert bad.status_code == 400 and "period" in bad.json()["error"]


def test_allocate_within_a_budget(served: Served) -> None:
    response = served.post("/allocate", {"budget": 20_000})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "optimal" and body["mode"] == "max-revenue"
    spend = sum(row["spend"] for row in body["plan"])
    assert spend == pytest.approx(body["totals"]["spend"]) and spend <= 20_000 + 1e-6
    assert body["totals"]["incremental_revenue"] >= body["totals"]["spend"]  # min_roi 1 in strategies.yaml
    assert body["binding_constraints"] and all(
        c["name"] in body["shadow_prices"] for c in body["binding_constraints"]
    )
    tighter = served.post("/allocate", {"budget": 20_000, "overrides": {"fatigue_k": 1}}).json()
    assert tighter["totals"]["incremental_revenue"] <= body["totals"]["incremental_revenue"] + 1e-6


def test_allocate_close_gap_and_bad_overrides(served: Served) -> None:
    body = served.post("/allocate", {"mode": "close-gap", "gap_target": 1_000}).json()
    assert body["status"] == "optimal" and body["totals"]["incremental_revenue"] == pytest.approx(1_000)
    impossible = served.post("/allocate", {"mode": "close-gap", "gap_target": 1e12}).json()
    assert (
        impossible["status"] == "infeasible"
        and impossible["missing_budget"] is None
        or impossible["messages"]
    )
    bad = served.post("/allocate", {"budget": 1000, "overrides": {"capacities": {"carrier_pigeon": 5}}})
    assert bad.status_code == 422 and "carrier_pigeon" in bad.json()["error"]
    missing = served.post("/allocate", {"mode": "max-revenue"})
    assert missing.status_code == 400 and "budget" in missing.json()["error"]
