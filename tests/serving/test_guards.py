"""The service's guards in-process (no server): input ranges, API-key settings, log lines for 4xx,
bounded metric labels, the OpenAPI document and the pool a request runs on."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from bentoml.exceptions import BadInput, InternalServerError
from pydantic import BaseModel, ValidationError

from memberwise.catalogue import feature_kind
from memberwise.serving import metrics
from memberwise.serving.dispatch import BULK, Dispatcher
from memberwise.serving.middleware import ALLOW_NO_AUTH_ENV, ApiKeyError, api_key, require_api_key
from memberwise.serving.openapi import SCHEME, ApiDocs
from memberwise.serving.request_log import BENTOML_REQUEST_LOGGER, ClientErrorsAsWarnings
from memberwise.serving.schemas import (
    MAX_MAGNITUDE,
    AllocateRequest,
    FeatureRecord,
    GapRequest,
    ScoreFeaturesRequest,
    feature_bounds,
)
from memberwise.settings import Settings


# -- input ranges ---------------------------------------------------------------------------------------
def rejected_fields(record: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ScoreFeaturesRequest.model_validate({"members": [record]})
    return [str(e["loc"][-1]) for e in caught.value.errors()]


def test_huge_shares_that_overflowed_the_persona_transform_are_rejected_by_name() -> None:
    record = {"spend_share_app_365d": 1e308, "spend_share_pos_365d": 1e308}
    assert rejected_fields(record) == ["spend_share_app_365d", "spend_share_pos_365d"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spend_share_app_365d", 1.01),
        ("discount_rate_365d", -0.1),
        ("orders_365d", -1),
        ("days_since_last_purchase", -3),
        ("revenue_total", 2e12),
        ("r_score", 6),
        ("points_balance", -1e13),
        ("birth_year", 1e300),
    ],
)
def test_out_of_range_numbers_are_rejected_by_name(field: str, value: float) -> None:
    assert rejected_fields({field: value}) == [field]


def test_in_range_and_null_values_pass() -> None:
    record = {
        "spend_share_app_365d": 1.0,
        "orders_365d": 0,
        "r_score": 5,
        "points_balance": -20.0,
        "age": None,
    }
    ScoreFeaturesRequest.model_validate({"members": [record]})


def test_every_numeric_feature_rejects_1e308() -> None:
    numeric = [c for c in FeatureRecord.model_fields if feature_kind(c) == "number"]
    assert len(numeric) > 30
    for column in numeric:
        assert rejected_fields({column: 1e308}) == [column]
        low, high = feature_bounds(column)
        assert -MAX_MAGNITUDE <= low < high <= MAX_MAGNITUDE


# -- API key ---------------------------------------------------------------------------------------------
def test_blank_key_is_refused_even_when_no_auth_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_NO_AUTH_ENV, "true")
    with pytest.raises(ApiKeyError, match="blank"):
        require_api_key(Settings(api_key="  \t "))


def test_missing_key_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_NO_AUTH_ENV, raising=False)
    with pytest.raises(ApiKeyError, match="not set"):
        require_api_key(Settings(api_key=None))
    monkeypatch.setenv(ALLOW_NO_AUTH_ENV, "true")
    require_api_key(Settings(api_key=None))


def test_key_is_compared_without_surrounding_whitespace() -> None:
    settings = Settings(api_key=" secret\n")
    require_api_key(settings)
    assert api_key(settings) == "secret"


# -- one WARNING line per rejected request ----------------------------------------------------------------
def bentoml_record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException as raised:  # noqa: BLE001 - a record as BentoML's log_exception makes it
        info = (type(raised), raised, raised.__traceback__)
    return logging.LogRecord(
        BENTOML_REQUEST_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/score", "POST"), info
    )


def test_validation_errors_log_one_warning_line_naming_the_fields() -> None:
    try:
        ScoreFeaturesRequest.model_validate({"members": [{"spend_share_app_365d": 1e308, "orders_365d": -1}]})
    except ValidationError as exc:
        record = bentoml_record(exc)
    assert ClientErrorsAsWarnings().filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    line = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line
    assert line.startswith("WARNING rejected /score [POST]: 400 invalid request:")
    assert "members.0.spend_share_app_365d" in line and "members.0.orders_365d" in line


def test_bad_input_is_a_warning_and_server_errors_keep_their_traceback() -> None:
    record = bentoml_record(BadInput("body is not JSON"))
    ClientErrorsAsWarnings().filter(record)
    assert record.levelno == logging.WARNING and "400 body is not JSON" in record.getMessage()
    for exc in (InternalServerError("boom"), RuntimeError("boom")):
        record = bentoml_record(exc)
        assert ClientErrorsAsWarnings().filter(record)
        assert record.levelno == logging.ERROR and record.exc_info is not None


# -- bounded metric labels --------------------------------------------------------------------------------
@pytest.fixture()
def install(monkeypatch: pytest.MonkeyPatch):
    """`metrics.install`, undone after the test."""
    monkeypatch.setattr(
        metrics.instruments, "RunnerTrafficMetricsMiddleware", metrics.BoundedPathMetrics.__base__
    )
    monkeypatch.setattr(metrics._Labels, "routes", frozenset())
    monkeypatch.setattr(metrics._Labels, "prefixes", ())
    return metrics.install


def test_metric_labels_are_routes_prefixes_or_unknown(install) -> None:
    install({"/score", "/metrics"}, ("/static_content/",))
    assert metrics.instruments.RunnerTrafficMetricsMiddleware is metrics.BoundedPathMetrics
    labels = {
        metrics._Labels.of(p) for p in ["/score", "/metrics", "/static_content/a.js", "/static_content/b"]
    }
    assert labels == {"/score", "/metrics", "/static_content/*"}
    assert {metrics._Labels.of(f"/probe/{i}") for i in range(1000)} == {metrics.UNKNOWN_PATH}
    assert metrics._Labels.of("/score/") == metrics.UNKNOWN_PATH


def test_metrics_middleware_labels_unknown_paths_but_routes_the_real_path(install, monkeypatch) -> None:
    labels: list[str] = []
    routed: list[tuple[str, bytes]] = []

    async def app(scope, receive, send) -> None:
        routed.append((scope["path"], scope["raw_path"]))

    async def bentoml_metrics(self, scope, receive, send) -> None:  # records the label, then calls the app
        labels.append(scope["path"])
        await self.app(scope, receive, send)

    monkeypatch.setattr(metrics.BoundedPathMetrics.__base__, "__call__", bentoml_metrics)
    install({"/score"})
    middleware = metrics.BoundedPathMetrics(app)
    for path in ("/score", "/x/1"):
        asyncio.run(middleware({"type": "http", "path": path, "raw_path": path.encode()}, None, None))
    assert labels == ["/score", metrics.UNKNOWN_PATH]
    assert routed == [("/score", b"/score"), ("/x/1", b"/x/1")]


# -- the OpenAPI document ---------------------------------------------------------------------------------
def test_openapi_declares_bearer_auth_on_model_routes_only() -> None:
    spec = {
        "info": {"title": "Memberwise", "version": "None"},
        "components": {"schemas": {"A": {}}},
        "paths": {"/score": {"post": {"responses": {"200": {}}}}, "/livez": {"get": {"responses": {}}}},
    }
    doc = ApiDocs.of({"/score"}, "Member scores.").document(spec)
    assert doc["components"]["securitySchemes"][SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"][SCHEME]["description"],
    }
    assert doc["components"]["schemas"] == {"A": {}}
    assert doc["paths"]["/score"]["post"]["security"] == [{SCHEME: []}]
    assert "401" in doc["paths"]["/score"]["post"]["responses"]
    assert "security" not in doc["paths"]["/livez"]["get"]
    assert doc["info"]["title"] == "memberwise" and doc["info"]["version"] not in ("None", "")
    assert doc["info"]["description"] == "Member scores."


# -- which pool answers -----------------------------------------------------------------------------------
class Named(BaseModel):
    thread: str


def test_small_requests_run_on_the_interactive_pool_and_batches_on_the_bulk_pool() -> None:
    dispatcher = Dispatcher(small=20)

    def where() -> Named:
        return Named(thread=threading.current_thread().name)

    async def answers() -> list[bytes]:
        return [bytes((await dispatcher.run(size, where)).body) for size in (1, 20, 21, 1000, BULK)]

    try:
        bodies = asyncio.run(answers())
    finally:
        dispatcher.shutdown()
    pools = [Named.model_validate_json(b).thread.split("_")[0] for b in bodies]
    assert pools == ["memberwise-interactive"] * 2 + ["memberwise-bulk"] * 3


# -- planning inputs --------------------------------------------------------------------------------------
def test_tiny_or_huge_targets_and_budgets_are_rejected_by_name() -> None:
    for body, field in [
        ({"period": "2026", "target": 1e-300}, "target"),
        ({"period": "2026", "target": 1e13}, "target"),
    ]:
        with pytest.raises(ValidationError) as caught:
            GapRequest.model_validate(body)
        assert [e["loc"][-1] for e in caught.value.errors()] == [field]
    with pytest.raises(ValidationError):
        AllocateRequest.model_validate({"budget": 1e308})


def test_bad_overrides_answer_422_naming_the_override() -> None:
    from memberwise.config.budget import BudgetOverrides
    from memberwise.serving.service import _planning_answer

    response = _planning_answer(lambda: BudgetOverrides.model_validate({"fatigue_k": "abc"}))
    assert response.status_code == 422
    assert "overrides.fatigue_k" in json.loads(response.body)["error"]
