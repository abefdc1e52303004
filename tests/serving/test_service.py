"""The HTTP service over real HTTP against `bentoml serve` (see conftest.py for the fixture)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from memberwise import release
from memberwise.serving.loading import Champion
from memberwise.serving.schemas import FeatureRecord
from memberwise.serving.state import ServingState, needed_columns
from memberwise.settings import Settings
from tests.serving.conftest import THRESHOLD, Served, assert_client_error, feature_records, log_tail

pytestmark = pytest.mark.slow


# -- probes, auth, docs ---------------------------------------------------------------------------
def test_readyz_was_not_ready_before_loading(served: Served) -> None:
    assert served.statuses_before_ready, "the first /readyz poll already answered 200"
    assert set(served.statuses_before_ready) <= {"503", "unreachable"}


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics"])
def test_probes_need_no_key(served: Served, path: str) -> None:
    assert requests.get(f"{served.url}{path}", timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/score", "/score_features", "/select"])
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_model_endpoints_need_the_key(served: Served, path: str, key: str | None) -> None:
    response = served.post(path, {"member_ids": ["x"]}, key=key)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]


def test_other_auth_schemes_are_refused(served: Served) -> None:
    response = requests.post(
        f"{served.url}/score", json={"member_ids": ["x"]}, headers={"Authorization": served.key}, timeout=10
    )
    assert response.status_code == 401


def test_docs_page_and_openapi(served: Served) -> None:
    assert requests.get(f"{served.url}/docs", timeout=10).status_code == 200
    spec = requests.get(f"{served.url}/docs.json", timeout=10)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/score", "/score_features", "/select", "/persona"):
        assert path in paths
        assert paths[path]["post"]["description"].strip()
    assert "personas" in paths["/select"]["post"]["description"]
    assert "description" in paths["/persona"]["post"]["description"]


# -- /score -------------------------------------------------------------------------------------------
def test_score_by_ids(served: Served) -> None:
    snap = served.snapshot
    selected = snap[snap["selected"]].iloc[0]
    other = snap[~snap["selected"]].iloc[0]
    ids = [selected["member_id"], "no-such-member", other["member_id"]]
    response = served.post("/score", {"member_ids": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["threshold"] == THRESHOLD
    assert body["model_versions"] == served.versions
    first, unknown, last = body["results"]
    assert [r["member_id"] for r in body["results"]] == ids

    assert unknown == {
        "member_id": "no-such-member", "found": False, "score": None, "selected": None,
        "lifecycle_stage": None, "preferred_channel": None, "persona": None, "reasons": None,
    }  # fmt: skip
    for result, row in ((first, selected), (last, other)):
        assert result["found"] is True
        assert result["score"] == row["score"]
        assert result["selected"] == bool(row["selected"])
        assert result["lifecycle_stage"] == row["lifecycle_stage"]
        assert result["preferred_channel"] == row["preferred_channel"]
        assert result["persona"] == row["persona"]
        assert result["reasons"] and all(isinstance(r, str) and r for r in result["reasons"])
    assert first["reasons"] == list(selected["reasons"])  # precomputed in the snapshot
    # computed on request, from the member's snapshot features
    features = served.features[served.features["member_id"] == other["member_id"]]
    assert last["reasons"] == served.model.reasons(features)[0]


def test_reasons_on_request_and_warm_up_in_process(serving_home) -> None:
    home, model, version, _, features, *_ = serving_home
    current = release.require_current(Settings(home=home))
    frame, meta = current.scores(), current.manifest.snapshot_meta
    state = ServingState(Champion(model, version), frame, meta)
    other = frame.loc[~frame["selected"], "member_id"].iloc[:3].tolist()
    results = state.score_ids(other).results
    expected = model.reasons(features.set_index("member_id").loc[other].reset_index())
    assert [r.reasons for r in results] == expected
    assert state.warm_reasons() == int((~frame["selected"]).sum()) - 3
    assert all(state.reasons)


def test_score_matches_snapshot_for_many(served: Served) -> None:
    sample = served.snapshot.sample(300, random_state=1)
    response = served.post("/score", {"member_ids": sample["member_id"].tolist()})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["score"] for r in results] == sample["score"].tolist()
    assert [r["selected"] for r in results] == sample["selected"].tolist()
    assert all(r["reasons"] for r in results)


# -- /score_features ----------------------------------------------------------------------------------
def test_score_features_matches_the_model(served: Served) -> None:
    features = served.features.sample(200, random_state=2).reset_index(drop=True)
    records = feature_records(features)
    records[0]["preferred_channel"] = "app"
    response = served.post("/score_features", {"members": records})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_versions"] == served.versions
    assert body["threshold"] == THRESHOLD
    expected = np.floor(100 * served.model.predict_proba(features) + 0.5).astype(int)
    results = body["results"]
    assert [r["score"] for r in results] == expected.tolist()
    assert [r["selected"] for r in results] == (expected > THRESHOLD).tolist()
    assert [r["member_id"] for r in results] == features["member_id"].tolist()
    assert [r["lifecycle_stage"] for r in results] == features["lifecycle_stage"].tolist()
    assert results[0]["preferred_channel"] == "app" and results[1]["preferred_channel"] is None
    assert all("found" not in r for r in results)
    assert [r["persona"] for r in results] == served.personas.assign(features)["persona"].tolist()
    assert [r["reasons"] for r in results[:5]] == served.model.reasons(features.head(5))


def test_score_features_needs_only_model_columns(served: Served) -> None:
    record = feature_records(served.features.head(1))[0]
    needed = needed_columns(served.model)
    slim = {k: v for k, v in record.items() if k in needed}
    response = served.post("/score_features", {"members": [slim]})
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["member_id"] is None
    assert result["score"] == int(
        np.floor(100 * served.model.predict_proba(served.features.head(1))[0] + 0.5)
    )


def test_feature_record_schema_covers_the_feature_table(served: Served) -> None:
    assert set(served.features.columns) <= set(FeatureRecord.model_fields)
    assert set(needed_columns(served.model)) <= set(FeatureRecord.model_fields)


# -- /select --------------------------------------------------------------------------------------------
def test_select_sorted_above_threshold(served: Served) -> None:
    response = served.post("/select", {"threshold": 60, "limit": 25})
    assert response.status_code == 200, response.text
    body = response.json()
    snap = served.snapshot
    expected = snap[snap["score"] > 60].sort_values(["score", "member_id"], ascending=[False, True])
    assert body["count"] == len(expected) > 25
    assert len(body["members"]) == 25
    assert [m["member_id"] for m in body["members"]] == expected["member_id"].head(25).tolist()
    scores = [m["score"] for m in body["members"]]
    assert scores == sorted(scores, reverse=True) and min(scores) > 60
    assert body["model_versions"] == served.versions
    assert set(body["members"][0]) == {
        "member_id",
        "score",
        "lifecycle_stage",
        "preferred_channel",
        "persona",
    }


def test_select_defaults_and_filters(served: Served) -> None:
    snap = served.snapshot
    body = served.post("/select", {}).json()
    assert body["count"] == int((snap["score"] > THRESHOLD).sum())
    stages = ["active", "silent"]
    body = served.post("/select", {"threshold": 10, "lifecycle_stages": stages, "limit": 100000}).json()
    expected = snap[(snap["score"] > 10) & snap["lifecycle_stage"].isin(stages)]
    assert body["count"] == len(expected) == len(body["members"]) > 0
    assert {m["lifecycle_stage"] for m in body["members"]} <= set(stages)
    gift = served.personas.personas_.set_index("name")["persona_id"]
    name = next(n for n in gift.index if "Gift" in n)
    for wanted in (name, str(gift[name])):  # by name or by id
        body = served.post("/select", {"threshold": 0, "personas": [wanted], "limit": 100000}).json()
        assert body["count"] == int(((snap["score"] > 0) & (snap["persona"] == name)).sum()) > 0
        assert {m["persona"] for m in body["members"]} == {name}
    channel = snap["preferred_channel"].iloc[0]
    body = served.post("/select", {"threshold": 0, "preferred_channels": [channel]}).json()
    assert body["count"] == int(((snap["score"] > 0) & (snap["preferred_channel"] == channel)).sum())
    assert {m["preferred_channel"] for m in body["members"]} == {channel}


# -- bad input: always 4xx naming the field, never 500 -------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/score", {}, "member_ids"),
        ("/score", {"member_ids": []}, "member_ids"),
        ("/score", {"member_ids": [f"m{i}" for i in range(10_001)]}, "member_ids"),
        ("/score", {"member_ids": [1, 2]}, "member_ids.0"),
        ("/score", {"member_ids": "m1"}, "member_ids"),
        ("/score", {"member_ids": ["m1"], "extra": 1}, "extra"),
        ("/score_features", {"members": []}, "members"),
        ("/score_features", {}, "members"),
        ("/score_features", {"members": [{"orders_total": "many"}]}, "members.0.orders_total"),
        ("/score_features", {"members": [{"not_a_feature": 1}]}, "members.0.not_a_feature"),
        ("/select", {"threshold": "high"}, "threshold"),
        ("/select", {"threshold": 101}, "threshold"),
        ("/select", {"limit": 0}, "limit"),
        ("/select", {"limit": 100_001}, "limit"),
        ("/select", {"lifecycle_stages": "active"}, "lifecycle_stages"),
    ],
)
def test_bad_input_is_a_client_error(served: Served, path: str, body: dict, field: str) -> None:
    assert_client_error(served.post(path, body), field)


def test_nan_and_inf_in_a_feature_record(served: Served) -> None:
    record = feature_records(served.features.head(1))[0]
    for token in ("NaN", "Infinity", "-Infinity"):
        text = _replace_value(json.dumps({"members": [record]}), "revenue_30d", token)
        response = requests.post(
            f"{served.url}/score_features",
            data=text,
            headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert_client_error(response, "members.0.revenue_30d")


def _replace_value(text: str, key: str, token: str) -> str:
    data = json.loads(text)
    data["members"][0][key] = "__TOKEN__"
    return json.dumps(data).replace('"__TOKEN__"', token)


def test_nan_threshold(served: Served) -> None:
    response = requests.post(
        f"{served.url}/select",
        data='{"threshold": NaN}',
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert_client_error(response, "threshold")


@pytest.mark.parametrize("text", ['{"member_ids": ["a",', "not json", "[1, 2]", '"member_ids"'])
def test_malformed_json(served: Served, text: str) -> None:
    response = requests.post(
        f"{served.url}/score",
        data=text,
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert_client_error(response)


def test_feature_record_missing_needed_columns(served: Served) -> None:
    records = feature_records(served.features.head(2))
    del records[1]["days_since_last_purchase"], records[1]["gender"]
    response = served.post("/score_features", {"members": records})
    assert response.status_code == 422, response.text
    body = response.json()
    assert "days_since_last_purchase" in body["error"] and "gender" in body["error"]
    assert ["members", 1, "gender"] in [d["loc"] for d in body["detail"]]


def test_explicit_nulls_are_accepted(served: Served) -> None:
    record = {c: None for c in needed_columns(served.model)}
    response = served.post("/score_features", {"members": [record]})
    assert response.status_code == 200, response.text
    assert 0 <= response.json()["results"][0]["score"] <= 100


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
     "application/vnd.bentoml+pickle"],
)  # fmt: skip
def test_non_json_bodies_are_refused(served: Served, content_type: str) -> None:
    response = requests.post(
        f"{served.url}/score",
        data="member_ids=a",
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["error"]


def test_json_body_with_another_content_type_is_read_as_json(served: Served) -> None:
    member_id = served.snapshot["member_id"].iloc[0]
    response = requests.post(
        f"{served.url}/score",
        data=json.dumps({"member_ids": [member_id]}),
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["found"] is True


# -- last ----------------------------------------------------------------------------------------------
def test_server_never_answered_500(served: Served) -> None:
    # Runs after the other modules (file order): no request, good or bad, got a server error.
    assert "status=500" not in served.log.read_text(), log_tail(served.log)
