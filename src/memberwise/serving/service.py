"""The memberwise HTTP service (BentoML 1.4 class API): scores, live scoring and audience selection.

API contract v1 (DESIGN.md): `POST /score`, `POST /score_features`, `POST /select`, `POST /persona`,
`POST /gap`, `POST /allocate`, `POST /audience`, each behind `Authorization: Bearer <MEMBERWISE_API_KEY>`;
`/livez`, `/readyz`, `/metrics`, `/docs` (the OpenAPI page, also at `/`) and `/docs.json` are open.
`/readyz` answers 503 until the champion model and the latest score snapshot are loaded (in a background
thread, so the probes answer meanwhile).

Start it with `bentoml serve memberwise.serving.service:Memberwise` from the repository root.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import bentoml
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response

from memberwise import release
from memberwise.errors import MemberwiseError
from memberwise.serving import drain, metrics, request_log
from memberwise.serving.audience_schemas import AudienceRequest, AudienceResponse
from memberwise.serving.dispatch import BULK, Dispatcher
from memberwise.serving.loading import load_state, newer_release, state_of
from memberwise.serving.middleware import (
    ALLOW_NO_AUTH_ENV,
    ApiKeyError,
    ApiKeyMiddleware,
    api_key,
    error_response,
    require_api_key,
)
from memberwise.serving.openapi import ApiDocs
from memberwise.serving.schemas import (
    AllocateRequest,
    AllocateResponse,
    GapRequest,
    GapResponse,
    PersonaRequest,
    PersonaResponse,
    ScoreFeaturesRequest,
    ScoreFeaturesResponse,
    ScoreRequest,
    ScoreResponse,
    SelectRequest,
    SelectResponse,
)
from memberwise.serving.state import PlanningUnavailable, ServingState
from memberwise.settings import Settings

log = logging.getLogger("memberwise.serving")
RELEASE_POLL_SECONDS = 5.0  # how soon a running service moves to a newly published release


@bentoml.service(workers=1, traffic={"timeout": 60})
class Memberwise:
    """Member-marketing scores: look up, score live, select audiences. Send `Authorization: Bearer <key>`."""

    @bentoml.on_deployment
    def _refuse_without_key() -> None:
        # Runs once in the `bentoml serve` process, before any worker: the server exits with one line
        # (exit 2) instead of a traceback, or of listening with workers that cannot start.
        try:
            require_api_key(Settings())
        except ApiKeyError as err:
            print(f"memberwise: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    def __init__(self) -> None:
        self.settings = Settings()
        require_api_key(self.settings)
        if not api_key(self.settings):
            log.warning("running WITHOUT authentication (%s=true)", ALLOW_NO_AUTH_ENV)
        request_log.install()
        if log.getEffectiveLevel() > logging.INFO:  # BentoML's log config shows only its own INFO lines
            logging.getLogger("memberwise").setLevel(logging.INFO)
        self.dispatch = Dispatcher()
        drain.refuse_on_sigterm()
        self.state: ServingState | None = None
        self.load_error: str | None = None
        self._loader = threading.Thread(target=self._load, name="memberwise-load", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        """Load the current release, warm its reasons, then follow new releases until the process ends."""
        serving: str | None = None
        while True:
            try:
                latest = load_state(self.settings) if serving is None else self._newer(serving)
            except Exception as exc:  # noqa: BLE001 - reported through /livez, /readyz and the log
                log.error("memberwise service cannot load the current release: %s", exc)
                self.load_error = str(exc)
                latest = None
            if latest is not None:
                serving, state = latest
                self.state, self.load_error = state, None  # one assignment: requests see old or new
                log.info(
                    "serving release %s: propensity v%s, snapshot as of %s (%d members)",
                    serving,
                    state.champion.version,
                    state.meta.as_of,
                    len(state.index),
                )
                self._warm(state)
            time.sleep(RELEASE_POLL_SECONDS)

    def _newer(self, serving: str) -> tuple[str, ServingState] | None:
        release_id = newer_release(self.settings, serving)
        return None if release_id is None else (release_id, state_of(release.read(self.settings, release_id)))

    @staticmethod
    def _warm(state: ServingState) -> None:
        try:
            started = time.perf_counter()
            warmed = state.warm_reasons()
            log.info(
                "reasons precomputed for %d more members in %.1f s", warmed, time.perf_counter() - started
            )
        except Exception:  # noqa: BLE001 - lookups still compute reasons on request
            log.exception("precomputing reasons failed; they are computed on request")

    def __is_ready__(self) -> bool:
        return self.state is not None

    def __is_alive__(self) -> bool:
        # A failed load never recovers by waiting: let the orchestrator restart the service.
        return self.load_error is None

    def _unavailable(self) -> JSONResponse | None:
        """The 503 to answer while there is no state, else None."""
        if self.state is not None:
            return None
        if self.load_error is not None:
            return error_response(503, "the service failed to load its model or snapshot; see the server log")
        return error_response(503, "the service is still loading; retry when /readyz answers 200")

    async def _answer(self, size: int, work: Callable[[ServingState], BaseModel | Response]) -> Response:
        """`work` on the current state, on the pool for its size (see `dispatch`), or a 503."""
        state = self.state
        if state is None:
            return self._unavailable() or error_response(503, "the service is still loading")
        return await self.dispatch.run(size, lambda: work(state))

    @bentoml.on_shutdown
    def _drain(self) -> None:
        self.dispatch.shutdown()

    @bentoml.api(input_spec=ScoreRequest, output_spec=ScoreResponse)
    async def score(self, member_ids: list[str]) -> Response:
        """Scores of members from the latest snapshot: score 0-100, selected, stage, channel, reasons.

        An unknown id answers `found: false` with nulls. Requires `Authorization: Bearer <key>`.
        """
        return await self._answer(len(member_ids), lambda state: state.score_ids(member_ids))

    @bentoml.api(input_spec=ScoreFeaturesRequest, output_spec=ScoreFeaturesResponse)
    async def score_features(self, members: list[Any]) -> Response:
        """Score feature records live with the champion model (same answer shape as /score, no `found`).

        Every column the model uses must be present (null allowed), else 422 naming the columns.
        Requires `Authorization: Bearer <key>`.
        """
        return await self._answer(len(members), lambda state: _score_features(state, members))

    @bentoml.api(input_spec=SelectRequest, output_spec=SelectResponse)
    async def select(
        self,
        threshold: float | None,
        lifecycle_stages: list[str],
        preferred_channels: list[str],
        personas: list[str],
        limit: int,
        rank_by: str = "propensity",
    ) -> Response:
        """Members scoring above the threshold (default: the snapshot's), highest first, with filters.

        `count` is the number matching before `limit`. `personas` matches persona names or ids (as
        text); before personas are promoted no member has one, so a personas filter selects nobody.
        `rank_by="uplift"` orders by predicted uplift when the release's uplift model won on held-out
        campaigns (else propensity, and `ranking_reason` says why). Requires `Authorization: Bearer <key>`.
        """
        request = SelectRequest(
            threshold=threshold,
            lifecycle_stages=lifecycle_stages,
            preferred_channels=preferred_channels,
            personas=personas,
            limit=limit,
            rank_by=rank_by,
        )
        return await self._answer(BULK, lambda state: state.select(request))

    @bentoml.api(input_spec=GapRequest, output_spec=GapResponse)
    async def gap(self, period: str, target: float | None) -> Response:
        """KPI gap of a period: actual to date + champion forecast for the rest = projected, vs the target.

        Also per audience, and the probability of meeting the target from the forecast quantiles.
        Without `target`, the brand's kpi_targets row for the period is used (422 when there is none).
        Requires `Authorization: Bearer <key>`.
        """
        return await self._answer(BULK, lambda state: _planning_answer(lambda: state.kpi_gap(period, target)))

    @bentoml.api(input_spec=AllocateRequest, output_spec=AllocateResponse)
    async def allocate(
        self, budget: float | None, mode: str, gap_target: float | None, overrides: dict[str, Any]
    ) -> Response:
        """What-if budget plan: contacts per audience x propensity tier x strategy, by linear program.

        `max-revenue` maximises expected incremental revenue within `budget`; `close-gap` finds the
        cheapest plan adding `gap_target` (default: this year's KPI gap), and says how much budget is
        missing when it cannot. Answers the plan, totals, binding constraints and shadow prices.
        Requires `Authorization: Bearer <key>`.
        """
        request = AllocateRequest(budget=budget, mode=mode, gap_target=gap_target, overrides=overrides)
        return await self._answer(BULK, lambda state: _planning_answer(lambda: state.allocate(request)))

    @bentoml.api(input_spec=PersonaRequest, output_spec=PersonaResponse)
    async def persona(self, member_ids: list[str] | None, members: list[Any] | None) -> Response:
        """Persona id, name and one-sentence description per member.

        Send `member_ids` (looked up in the latest snapshot; unknown ids answer `found: false`) or
        `members` (feature records, assigned live). Members without a paid order in 365 days have no
        persona (null id and name). 503 before personas are promoted. Requires `Authorization: Bearer <key>`.
        """
        size = len(member_ids if member_ids is not None else members or [])
        return await self._answer(size, lambda state: _persona(state, member_ids, members))

    @bentoml.api(input_spec=AudienceRequest, output_spec=AudienceResponse)
    async def audience(self, rule: dict[str, Any], offset: int, limit: int) -> Response:
        """Members matching a tag rule (docs/audiences.md), answered from the release's snapshot.

        Answers the count, the breakdown by lifecycle stage and by persona, and ids `offset`..`offset +
        limit` sorted by member_id. An unknown tag, a value of the wrong type or a malformed rule answers
        422 naming its path (e.g. `rule.all[1].gte`). Requires `Authorization: Bearer <key>`.
        """
        from memberwise.audience import served as audience_served  # DuckDB loads on the first rule

        settings = self.settings
        return await self._answer(
            BULK, lambda state: audience_served.answer(state, settings, rule, offset, limit)
        )


def _score_features(state: ServingState, members: list[Any]) -> BaseModel | Response:
    """Live scores, or 422 naming the columns the served model needs that the records lack."""
    missing = state.missing_columns([m.model_fields_set for m in members])
    if missing:
        columns = sorted({e["loc"][2] for e in missing})
        shown = ", ".join(columns[:20])
        if len(columns) > 20:
            shown += f" (and {len(columns) - 20} more)"
        message = f"feature records lack column(s) the model needs: {shown}"
        return error_response(422, message, missing[:100])
    return state.score_records([m.model_dump() for m in members])


def _persona(
    state: ServingState, member_ids: list[str] | None, members: list[Any] | None
) -> BaseModel | Response:
    if state.personas is None:
        return error_response(503, "no personas model behind the snapshot yet: run `memberwise retrain`")
    if member_ids is not None:
        return state.persona_ids(member_ids)
    return state.persona_records([m.model_dump() for m in members or []])


def _planning_answer(answer: Callable[[], BaseModel]) -> BaseModel | Response:
    """Planning answers with their expected failures as clear 4xx/503 messages."""
    try:
        return answer()
    except PlanningUnavailable as err:
        return error_response(503, str(err))
    except ValidationError as err:  # overrides that do not fit the budget constraints
        detail = err.errors(include_context=False, include_input=False, include_url=False)
        fields = ", ".join("overrides." + ".".join(str(x) for x in e["loc"]) for e in detail[:5])
        return error_response(422, f"invalid overrides: {fields}", [dict(e) for e in detail])
    except (MemberwiseError, ValueError) as err:  # no target, infeasible inputs
        return error_response(422, str(err).splitlines()[0])


_service: Any = Memberwise  # a bentoml Service (mypy sees the decorated class)
_ROUTES = {api.route for api in _service.apis.values()}
_service.add_asgi_middleware(ApiKeyMiddleware, docs=ApiDocs.of(_ROUTES, inspect.cleandoc(__doc__ or "")))
metrics.install(_ROUTES | ApiKeyMiddleware.PUBLIC, ApiKeyMiddleware.PUBLIC_PREFIXES)
for _api in _service.apis.values():  # the OpenAPI page renders docstrings as Markdown: dedent them
    _api.doc = inspect.cleandoc(_api.doc or "")
