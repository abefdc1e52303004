"""The service under hostile requests, over real HTTP (issue 10, section 4): overflowing numbers, made-up
paths that used to become Prometheus labels, one log line per rejected request, documented bearer auth."""

from __future__ import annotations

import pytest
import requests

from tests.serving.conftest import Served, log_tail

pytestmark = pytest.mark.slow

UNKNOWN_PATHS = 2_000
# /metrics growth allowed for 2,000 made-up paths: a few label sets for `/unknown`, not one per path
# (BentoML's labels by raw path made it ~4 KB per path: 10,000 paths, 39.6 MB).
METRICS_GROWTH_BOUND = 40_000


def test_overflowing_shares_answer_4xx_naming_the_fields(served: Served) -> None:
    record = {"spend_share_app_365d": 1e308, "spend_share_pos_365d": 1e308}
    for path in ("/score_features", "/persona"):
        response = served.post(path, {"members": [record]})
        assert response.status_code == 400, (path, response.text)
        error = response.json()["error"]
        assert "members.0.spend_share_app_365d" in error and "members.0.spend_share_pos_365d" in error


def test_negative_counts_answer_4xx_naming_the_field(served: Served) -> None:
    response = served.post("/score_features", {"members": [{"orders_365d": -2}]})
    assert response.status_code == 400
    assert "members.0.orders_365d" in response.json()["error"]


def metrics_text(served: Served) -> str:
    response = requests.get(f"{served.url}/metrics", timeout=30)
    assert response.status_code == 200
    return response.text


def test_unknown_paths_do_not_grow_the_metrics(served: Served) -> None:
    before = len(metrics_text(served).encode())
    with requests.Session() as keyed, requests.Session() as anonymous:
        keyed.headers["Authorization"] = f"Bearer {served.key}"
        for i in range(UNKNOWN_PATHS):
            session = keyed if i % 2 else anonymous
            status = session.get(f"{served.url}/probe-{i}/x", timeout=30).status_code
            assert status == (404 if i % 2 else 401)
    text = metrics_text(served)
    assert "probe-" not in text
    assert 'endpoint="/unknown"' in text
    assert len(text.encode()) - before < METRICS_GROWTH_BOUND, (before, len(text.encode()))


def test_a_rejected_request_logs_one_warning_line_without_traceback(served: Served) -> None:
    response = served.post("/score_features", {"members": [{"spend_share_jd_365d": 7.0}]})
    assert response.status_code == 400
    log = served.log.read_text(errors="replace")
    lines = [line for line in log.splitlines() if "rejected /score_features" in line]
    assert any("WARNING" in line and "members.0.spend_share_jd_365d" in line for line in lines), log_tail(
        served.log
    )
    assert "Traceback" not in log, log_tail(served.log, 80)


def test_openapi_declares_bearer_auth_and_the_project(served: Served) -> None:
    spec = requests.get(f"{served.url}/docs.json", timeout=30).json()
    assert spec["info"]["title"] == "memberwise" and spec["info"]["version"] not in ("", "None")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/score", "/score_features", "/select", "/persona", "/gap", "/allocate"):
        assert spec["paths"][path]["post"]["security"] == [{"bearerAuth": []}], path
    assert "security" not in spec["paths"]["/readyz"]["get"]
    # What the page's "Try it out" sends once the key is entered under "Authorize":
    response = served.post("/score", {"member_ids": ["nobody"]})
    assert response.status_code == 200


def test_planning_inputs_that_overflowed_answer_4xx(served: Served) -> None:
    tiny = served.post("/gap", {"period": "2026", "target": 1e-300})
    assert tiny.status_code == 400 and "target" in tiny.json()["error"]
    bad = served.post("/allocate", {"budget": 1000, "overrides": {"fatigue_k": "abc"}})
    assert bad.status_code == 422 and "overrides.fatigue_k" in bad.json()["error"]
