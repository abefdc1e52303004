"""The memberwise HTTP service (BentoML 1.4 class API): scores, live scoring and audience selection.

API contract v1 (DESIGN.md): `POST /score`, `POST /score_features`, `POST /select`, `POST /persona`,
`POST /gap`, `POST /allocate`, each behind `Authorization: Bearer <MEMBERWISE_API_KEY>`; `/livez`,
`/readyz`, `/metrics`, `/docs` (the OpenAPI page, also at `/`) and `/docs.json` are open. `/readyz`
answers 503 until the champion model and the latest score snapshot are loaded (in a background thread,
so the probes answer meanwhile).

Start it with `bentoml serve memberwise.serving.service:Memberwise` from the repository root.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from starlette.responses import JSONResponse

from memberwise import tracking
from memberwise.errors import MemberwiseError
from memberwise.modeling.forecaster import RNNForecaster
from memberwise.modeling.personas import NO_PERSONA, PersonaModel
from memberwise.modeling.propensity import BGNBD_FEATURES, PropensityModel
from memberwise.pipelines.forecast import load_forecaster
from memberwise.pipelines.personas import load_personas
from memberwise.pipelines.planning import PLANNING_DIR, PlanningInputs, read_planning
from memberwise.serving.schemas import (
    AllocateRequest,
    AllocateResponse,
    AudienceGap,
    BindingConstraint,
    ErrorResponse,
    FeatureRecord,
    FeatureScoreResult,
    GapRequest,
    GapResponse,
    PersonaRequest,
    PersonaResponse,
    PersonaResult,
    PlanRow,
    ScoreFeaturesRequest,
    ScoreFeaturesResponse,
    ScoreRequest,
    ScoreResponse,
    ScoreResult,
    SelectedMember,
    SelectRequest,
    SelectResponse,
    feature_kind,
)
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS, SnapshotMeta, read_snapshot

log = logging.getLogger("memberwise.serving")

ALLOW_NO_AUTH_ENV = "MEMBERWISE_ALLOW_NO_AUTH"
# Columns `modeling.baselines.bgnbd_inputs` reads to build the BG/NBD features.
BGNBD_INPUT_COLUMNS = ("days_since_first_purchase", "days_since_last_purchase", "orders_total")
# Members whose missing reasons are computed in the background after start (~300 bytes each).
WARM_REASONS_LIMIT = 50_000  # background TreeSHAP; big models explain only a few hundred rows/s
# Snapshot columns that are outputs, not member features (lifecycle_stage is both).
_OUTPUT_COLUMNS = [c for c in SCORE_COLUMNS if c not in ("member_id", "lifecycle_stage")]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def no_auth_allowed() -> bool:
    """Whether the operator explicitly allowed running without an API key (local experiments only)."""
    return os.environ.get(ALLOW_NO_AUTH_ENV, "").strip().lower() in ("1", "true", "yes")


def require_api_key(settings: Settings) -> None:
    """Refuse to serve without an API key unless explicitly allowed (MEMBERWISE_ALLOW_NO_AUTH=true)."""
    if not settings.api_key and not no_auth_allowed():
        raise RuntimeError(
            "MEMBERWISE_API_KEY is not set: the service refuses to start without an API key "
            f"(set {ALLOW_NO_AUTH_ENV}=true to run without auth, for local experiments only)"
        )


def score_of(probability: np.ndarray) -> np.ndarray:
    """The 0-100 score of calibrated probabilities (same rounding as `PropensityModel.score`)."""
    return np.floor(100 * np.asarray(probability) + 0.5).astype(int)


def needed_columns(model: PropensityModel) -> list[str]:
    """The feature columns a record must carry for `model` (BG/NBD features are derived, not sent)."""
    names = [c for c in model.feature_names_ if not (model.use_bgnbd and c in BGNBD_FEATURES)]
    if model.use_bgnbd:
        names += [c for c in BGNBD_INPUT_COLUMNS if c not in names]
    return names


def _nullable(values: pd.Series) -> list[Any]:
    """Python values with pandas NA/NaN as None (for JSON)."""
    return values.astype(object).where(values.notna(), None).tolist()


def _isin(values: np.ndarray, wanted: list[str]) -> np.ndarray:
    """Membership by hashing (np.isin may sort, which fails on None mixed with text)."""
    return pd.Series(values, dtype=object).isin(wanted).to_numpy(dtype=bool)


def records_frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Feature records as a frame with the feature table's dtypes (so scores match the batch pipeline)."""
    data: dict[str, Any] = {}
    for column in columns:
        values = [r.get(column) for r in records]
        kind = feature_kind(column)
        if kind == "number":
            data[column] = np.array([np.nan if v is None else v for v in values], dtype="float64")
        elif kind == "flag":
            data[column] = pd.array(values, dtype="boolean")
        else:  # text, and dates (not model inputs) as ISO text
            data[column] = pd.array(values, dtype="string")
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def error_response(status: int, message: str, detail: list[dict[str, Any]] | None = None) -> JSONResponse:
    """A JSON error body `{"error": ..., "detail": [...]}` with the given status."""
    return JSONResponse(ErrorResponse(error=message, detail=detail or []).model_dump(), status_code=status)


@dataclass
class Champion:
    """A registered propensity model version."""

    model: PropensityModel
    version: str


def load_champion(settings: Settings) -> Champion:
    """The model holding the champion alias (resolved once, so the version and weights agree)."""
    client = tracking.configure(settings)
    version = client.get_model_version_by_alias(tracking.PROPENSITY_MODEL, tracking.CHAMPION).version
    return Champion(tracking.load_version(str(version)), str(version))


@dataclass
class Planning:
    """What /gap and /allocate answer from: the champion forecast and the retrain's planning inputs."""

    forecaster: RNNForecaster
    forecast_version: str
    inputs: PlanningInputs


class PlanningUnavailable(Exception):
    """The planning endpoints cannot answer yet (no forecast champion or no planning inputs)."""


class ServingState:
    """Everything the endpoints answer from: champion, snapshot (indexed), threshold, personas model.

    The personas model is the one that labelled the snapshot (None before personas are promoted);
    planning is None until a retrain has promoted a forecast and saved its planning inputs.

    Plain Python (no BentoML), so it can be built and exercised in-process.
    """

    def __init__(
        self,
        champion: Champion,
        frame: pd.DataFrame,
        meta: SnapshotMeta,
        personas: PersonaModel | None = None,
        planning: Planning | None = None,
    ) -> None:
        self.champion = champion
        self.meta = meta
        self.personas = personas
        self.planning = planning
        self.threshold = float(meta.threshold)
        self.needed = needed_columns(champion.model)
        unknown = [c for c in self.needed if c not in FeatureRecord.model_fields]
        if unknown:
            log.warning("the champion needs column(s) FeatureRecord cannot carry: %s", ", ".join(unknown))
        self.snapshot_model = self._snapshot_model()

        frame = frame.drop_duplicates("member_id", keep="first").reset_index(drop=True)
        self.index = pd.Index(frame["member_id"].astype(str).to_numpy(dtype=object))
        self.member_ids = self.index.to_numpy()
        self.scores = frame["score"].to_numpy(dtype=int)
        self.selected = frame["selected"].to_numpy(dtype=bool)
        self.lifecycle = np.array(_nullable(frame["lifecycle_stage"]), dtype=object)
        self.channel = np.array(_nullable(frame["preferred_channel"]), dtype=object)
        self.persona = np.array(_nullable(frame["persona"]), dtype=object)
        self.persona_id = np.array(_nullable(frame["persona_id"]), dtype=object)
        self.reasons: list[list[str]] = [
            [] if r is None else [str(x) for x in r] for r in frame["reasons"].tolist()
        ]
        self.features = frame.drop(columns=[c for c in _OUTPUT_COLUMNS if c in frame.columns])
        # Highest score first, then member id: /select filters this order and cuts it.
        self.order = np.lexsort((self.member_ids.astype(str), -self.scores))

    def _snapshot_model(self) -> PropensityModel:
        """The model that scored the snapshot (for on-request reasons); the champion when they agree."""
        version = str(self.meta.model_version)
        if version == self.champion.version:
            return self.champion.model
        log.warning(
            "snapshot was scored by version %s but the champion is %s: reasons use version %s",
            version,
            self.champion.version,
            version,
        )
        try:
            return tracking.load_version(version)
        except Exception:  # noqa: BLE001 - fall back rather than refuse to serve
            log.exception("cannot load model version %s; reasons fall back to the champion", version)
            return self.champion.model

    @property
    def snapshot_versions(self) -> dict[str, str]:
        return {"propensity": str(self.meta.model_version), **self._personas_version}

    @property
    def live_versions(self) -> dict[str, str]:
        return {"propensity": self.champion.version, **self._personas_version}

    @property
    def _personas_version(self) -> dict[str, str]:
        return {"personas": str(self.meta.personas_version)} if self.personas is not None else {}

    # -- endpoints ----------------------------------------------------------------------------------
    def score_ids(self, member_ids: list[str]) -> ScoreResponse:
        positions = self.index.get_indexer(member_ids)
        missing_reasons = sorted({int(p) for p in positions if p >= 0 and not self.reasons[p]})
        computed: dict[int, list[str]] = {}
        if missing_reasons:
            rows = self.features.iloc[missing_reasons]
            computed = dict(zip(missing_reasons, self.snapshot_model.reasons(rows), strict=True))
            for p, words in computed.items():
                self.reasons[p] = words  # keep: a member asked for once is answered from memory next time
        results = []
        for member_id, p in zip(member_ids, positions, strict=True):
            if p < 0:
                results.append(ScoreResult(member_id=member_id, found=False))
                continue
            results.append(
                ScoreResult(
                    member_id=member_id,
                    found=True,
                    score=int(self.scores[p]),
                    selected=bool(self.selected[p]),
                    lifecycle_stage=self.lifecycle[p],
                    preferred_channel=self.channel[p],
                    persona=self.persona[p],
                    reasons=self.reasons[p] or computed[int(p)],
                )
            )
        return ScoreResponse(results=results, threshold=self.threshold, model_versions=self.snapshot_versions)

    def warm_reasons(self, limit: int = WARM_REASONS_LIMIT, chunk: int = 2_000) -> int:
        """Compute, in chunks, the reasons the snapshot lacks (at most `limit` members); return how many.

        Run in the background once the service is ready: TreeSHAP has a fixed cost of tens of ms per
        call, so single-member lookups should not pay it. Members beyond `limit` get theirs on request.
        """
        missing = [i for i, words in enumerate(self.reasons) if not words][:limit]
        for start in range(0, len(missing), chunk):
            rows = [i for i in missing[start : start + chunk] if not self.reasons[i]]
            if rows:
                words = self.snapshot_model.reasons(self.features.iloc[rows])
                for i, w in zip(rows, words, strict=True):
                    self.reasons[i] = w
        return len(missing)

    def missing_columns(self, provided: list[set[str]]) -> list[dict[str, Any]]:
        """Validation-style errors for records lacking a column the model needs (null is fine)."""
        errors = []
        for row, fields in enumerate(provided):
            for column in self.needed:
                if column not in fields:
                    errors.append(
                        {
                            "loc": ["members", row, column],
                            "msg": "Field required by the served model",
                            "type": "missing",
                        }
                    )
        return errors

    def score_records(self, records: list[dict[str, Any]]) -> ScoreFeaturesResponse:
        model = self.champion.model
        columns = [c for c in FeatureRecord.model_fields if c != "preferred_channel"]
        frame = records_frame(records, columns)
        probability = model.predict_proba(frame)
        scores = score_of(probability)
        reasons = model.reasons(frame)
        personas = self.personas.assign(frame)["persona"] if self.personas is not None else None
        results = [
            FeatureScoreResult(
                member_id=record.get("member_id"),
                score=int(score),
                selected=bool(score > self.threshold),
                lifecycle_stage=record.get("lifecycle_stage"),
                preferred_channel=record.get("preferred_channel"),
                persona=None if personas is None else personas.iloc[row],
                reasons=words,
            )
            for row, (record, score, words) in enumerate(zip(records, scores, reasons, strict=True))
        ]
        return ScoreFeaturesResponse(
            results=results, threshold=self.threshold, model_versions=self.live_versions
        )

    def select(self, request: SelectRequest) -> SelectResponse:
        threshold = self.threshold if request.threshold is None else float(request.threshold)
        order = self.order
        keep = self.scores[order] > threshold
        if request.lifecycle_stages:
            keep &= _isin(self.lifecycle[order], request.lifecycle_stages)
        if request.preferred_channels:
            keep &= _isin(self.channel[order], request.preferred_channels)
        if request.personas:
            persona, persona_id = self.persona[order], self.persona_id[order].astype(str)
            keep &= _isin(persona, request.personas) | _isin(persona_id, request.personas)
        chosen = order[keep]
        members = [
            SelectedMember(
                member_id=str(self.member_ids[p]),
                score=int(self.scores[p]),
                lifecycle_stage=self.lifecycle[p],
                preferred_channel=self.channel[p],
                persona=self.persona[p],
            )
            for p in chosen[: request.limit]
        ]
        return SelectResponse(count=int(len(chosen)), members=members, model_versions=self.snapshot_versions)

    def _describe(self, persona_id: Any) -> str:
        if persona_id is None or self.personas is None:
            return NO_PERSONA
        return str(self.personas.personas_.at[int(persona_id), "description"])

    def persona_ids(self, member_ids: list[str]) -> PersonaResponse:
        """Personas of members from the snapshot (the labels campaigns see in /score and /select)."""
        results = []
        for member_id, p in zip(member_ids, self.index.get_indexer(member_ids), strict=True):
            if p < 0:
                results.append(PersonaResult(member_id=member_id, found=False))
                continue
            persona_id = self.persona_id[p]
            results.append(
                PersonaResult(
                    member_id=member_id,
                    found=True,
                    persona_id=persona_id,
                    persona=self.persona[p],
                    description=self._describe(persona_id),
                )
            )
        return PersonaResponse(results=results, model_versions=self._personas_version)

    def _planning(self) -> Planning:
        if self.planning is None:
            raise PlanningUnavailable("no forecast champion or planning inputs yet: run `memberwise retrain`")
        return self.planning

    def kpi_gap(self, period: str, target: float | None) -> GapResponse:
        """The KPI gap of a period from the saved actuals and the champion forecast."""
        planning = self._planning()
        result = planning.inputs.gap(planning.forecaster, period, target)
        rows = result.per_audience.to_dict(orient="records")
        return GapResponse(
            period=period,
            cutoff=str(planning.inputs.cutoff.date()),
            **result.metrics(),
            per_audience=[AudienceGap.model_validate(row) for row in rows],
            model_versions={"forecast": planning.forecast_version},
        )

    def allocate(self, request: AllocateRequest) -> AllocateResponse:
        """Re-solve the budget plan on the saved cells; close-gap defaults to the current year's gap."""
        planning = self._planning()
        if planning.inputs.cells is None:
            raise PlanningUnavailable("no budget cells: the last retrain could not estimate responses")
        gap_target = request.gap_target
        if request.mode == "close-gap" and gap_target is None:
            year = str((planning.inputs.cutoff - pd.Timedelta(days=1)).year)
            gap_target = max(planning.inputs.gap(planning.forecaster, year, None).gap, 0.0)
        allocation = planning.inputs.allocation(request.budget, request.mode, gap_target, request.overrides)
        plan = allocation.plan.to_dict(orient="records")
        binding = allocation.binding[["name", "shadow_price"]].to_dict(orient="records")
        return AllocateResponse(
            status=allocation.status,
            mode=allocation.mode,
            plan=[PlanRow.model_validate(row) for row in plan],
            totals={k: float(v) if np.isfinite(v) else None for k, v in allocation.totals.items()},
            binding_constraints=[BindingConstraint.model_validate(row) for row in binding],
            shadow_prices={k: float(v) for k, v in allocation.shadow_prices.items() if np.isfinite(v)},
            missing_budget=allocation.missing_budget,
            messages=allocation.messages,
            gap_target=gap_target,
        )

    def persona_records(self, records: list[dict[str, Any]]) -> PersonaResponse:
        """Personas of feature records, assigned live by the snapshot's personas model."""
        assert self.personas is not None  # the endpoint answers 503 first
        columns = [c for c in FeatureRecord.model_fields if c != "preferred_channel"]
        assigned = self.personas.assign(records_frame(records, columns))
        results = [
            PersonaResult(
                member_id=record.get("member_id"),
                persona_id=None if pd.isna(row.persona_id) else int(row.persona_id),
                persona=row.persona,
                description=row.description,
            )
            for record, row in zip(records, assigned.itertuples(), strict=True)
        ]
        return PersonaResponse(results=results, model_versions=self._personas_version)


def load_state(settings: Settings) -> ServingState:
    """Load the champion and the latest snapshot (clear errors when either is missing)."""
    try:
        champion = load_champion(settings)
    except Exception as exc:
        raise RuntimeError(
            f"cannot load the champion of '{tracking.PROPENSITY_MODEL}' from {settings.tracking_uri}: {exc} "
            "(train and promote a model first: `memberwise retrain`)"
        ) from exc
    try:
        frame, meta = read_snapshot(settings.snapshot_dir)
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"no score snapshot in {settings.snapshot_dir} (`memberwise retrain` writes one)"
        ) from exc
    personas = load_personas(meta.personas_version) if meta.personas_version else None
    return ServingState(champion, frame, meta, personas, load_planning(settings))


def load_planning(settings: Settings) -> Planning | None:
    """The champion forecast and the saved planning inputs, or None (logged) when either is missing."""
    inputs = read_planning(settings.snapshot_dir / PLANNING_DIR)
    try:
        forecaster, version = load_forecaster(settings)
    except MemberwiseError as err:
        log.warning("/gap and /allocate unavailable: %s", err)
        return None
    if inputs is None:
        log.warning("/gap and /allocate unavailable: no planning inputs (`memberwise retrain` saves them)")
        return None
    return Planning(forecaster, version, inputs)


class ApiKeyMiddleware:
    """Bearer-key check on every path except the probes, metrics and the OpenAPI page.

    Also serves the OpenAPI page at `/docs` (BentoML serves it at `/`) and turns BentoML's input
    validation errors (400) into a message that names the offending fields.
    """

    PUBLIC = frozenset(
        {"/", "/docs", "/docs.json", "/schema.json", "/livez", "/healthz", "/readyz", "/metrics"}
    )
    PUBLIC_PREFIXES = ("/static_content/", "/assets/")
    NOT_JSON = frozenset(
        {b"multipart/form-data", b"application/x-www-form-urlencoded", b"application/vnd.bentoml+pickle"}
    )

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        key = Settings().api_key or ""
        self.key = key.encode()
        self.open = not key and no_auth_allowed()

    def _authorized(self, scope: Scope) -> bool:
        if self.open:
            return True
        if not self.key:
            return False
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/docs":
            scope = {**scope, "path": "/", "raw_path": b"/"}
        if path in self.PUBLIC or path.startswith(self.PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        if not self._authorized(scope):
            response = error_response(
                401, "missing or wrong API key: send the header 'Authorization: Bearer <MEMBERWISE_API_KEY>'"
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip()
        if content_type.lower() in self.NOT_JSON:
            # BentoML would parse these as forms or pickles (and answer 500 to a malformed one).
            response = error_response(415, "the body must be JSON: send 'Content-Type: application/json'")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, _explaining_bad_input(send))


def _explaining_bad_input(send: Send) -> Send:
    """Wrap `send` so a 400 validation body says which fields are wrong in its `error` message."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start" and message.get("status") == 400:
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _explain(b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _explain(body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or not isinstance(data.get("detail"), list) or not data["detail"]:
        return body
    parts = []
    for item in data["detail"][:5]:
        loc = ".".join(str(x) for x in item.get("loc", ())) or "body"
        parts.append(f"{loc}: {item.get('msg', 'invalid')}")
    more = len(data["detail"]) - len(parts)
    data["error"] = "invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return json.dumps(data).encode()


@bentoml.service(workers=1, traffic={"timeout": 60})
class Memberwise:
    """Member-marketing scores: look up, score live, select audiences. Send `Authorization: Bearer <key>`."""

    @bentoml.on_deployment
    def _refuse_without_key() -> None:
        # Runs once in the `bentoml serve` process, before any worker: the server exits instead of
        # listening with workers that cannot start.
        require_api_key(Settings())

    def __init__(self) -> None:
        self.settings = Settings()
        require_api_key(self.settings)
        if not self.settings.api_key:
            log.warning("running WITHOUT authentication (%s=true)", ALLOW_NO_AUTH_ENV)
        self.state: ServingState | None = None
        self.load_error: str | None = None
        self._loader = threading.Thread(target=self._load, name="memberwise-load", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        try:
            state = load_state(self.settings)
        except Exception as exc:  # noqa: BLE001 - reported through /livez, /readyz and the log
            log.exception("memberwise service failed to load")
            self.load_error = str(exc)
            return
        self.state = state
        log.info(
            "ready: propensity champion v%s, snapshot as of %s (%d members, model v%s)",
            state.champion.version,
            state.meta.as_of,
            len(state.index),
            state.meta.model_version,
        )
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

    def _unavailable(self) -> JSONResponse:
        if self.load_error is not None:
            return error_response(503, "the service failed to load its model or snapshot; see the server log")
        return error_response(503, "the service is still loading; retry when /readyz answers 200")

    @bentoml.api(input_spec=ScoreRequest)
    def score(self, member_ids: list[str]) -> ScoreResponse:
        """Scores of members from the latest snapshot: score 0-100, selected, stage, channel, reasons.

        An unknown id answers `found: false` with nulls. Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        return self.state.score_ids(member_ids)

    @bentoml.api(input_spec=ScoreFeaturesRequest)
    def score_features(self, members: list[Any]) -> ScoreFeaturesResponse:
        """Score feature records live with the champion model (same answer shape as /score, no `found`).

        Every column the model uses must be present (null allowed), else 422 naming the columns.
        Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        provided = [m.model_fields_set for m in members]
        missing = self.state.missing_columns(provided)
        if missing:
            columns = sorted({e["loc"][2] for e in missing})
            shown = ", ".join(columns[:20])
            if len(columns) > 20:
                shown += f" (and {len(columns) - 20} more)"
            message = f"feature records lack column(s) the model needs: {shown}"
            return error_response(422, message, missing[:100])  # type: ignore[return-value]
        records = [m.model_dump() for m in members]
        return self.state.score_records(records)

    @bentoml.api(input_spec=SelectRequest)
    def select(
        self,
        threshold: float | None,
        lifecycle_stages: list[str],
        preferred_channels: list[str],
        personas: list[str],
        limit: int,
    ) -> SelectResponse:
        """Members scoring above the threshold (default: the snapshot's), highest first, with filters.

        `count` is the number matching before `limit`. `personas` matches persona names or ids (as
        text); before personas are promoted no member has one, so a personas filter selects nobody.
        Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        request = SelectRequest(
            threshold=threshold,
            lifecycle_stages=lifecycle_stages,
            preferred_channels=preferred_channels,
            personas=personas,
            limit=limit,
        )
        return self.state.select(request)

    @bentoml.api(input_spec=GapRequest)
    def gap(self, period: str, target: float | None) -> GapResponse:
        """KPI gap of a period: actual to date + champion forecast for the rest = projected, vs the target.

        Also per audience, and the probability of meeting the target from the forecast quantiles.
        Without `target`, the brand's kpi_targets row for the period is used (422 when there is none).
        Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        return self._planning_answer(lambda state: state.kpi_gap(period, target))

    @bentoml.api(input_spec=AllocateRequest)
    def allocate(
        self, budget: float | None, mode: str, gap_target: float | None, overrides: dict[str, Any]
    ) -> AllocateResponse:
        """What-if budget plan: contacts per audience x propensity tier x strategy, by linear program.

        `max-revenue` maximises expected incremental revenue within `budget`; `close-gap` finds the
        cheapest plan adding `gap_target` (default: this year's KPI gap), and says how much budget is
        missing when it cannot. Answers the plan, totals, binding constraints and shadow prices.
        Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        request = AllocateRequest(budget=budget, mode=mode, gap_target=gap_target, overrides=overrides)
        return self._planning_answer(lambda state: state.allocate(request))

    def _planning_answer(self, answer: Callable[[ServingState], Any]) -> Any:
        """Planning answers with their expected failures as clear 4xx/503 messages."""
        assert self.state is not None
        try:
            return answer(self.state)
        except PlanningUnavailable as err:
            return error_response(503, str(err))
        except (MemberwiseError, ValueError) as err:  # no target, bad overrides
            return error_response(422, str(err).splitlines()[0])

    @bentoml.api(input_spec=PersonaRequest)
    def persona(self, member_ids: list[str] | None, members: list[Any] | None) -> PersonaResponse:
        """Persona id, name and one-sentence description per member.

        Send `member_ids` (looked up in the latest snapshot; unknown ids answer `found: false`) or
        `members` (feature records, assigned live). Members without a paid order in 365 days have no
        persona (null id and name). 503 before personas are promoted. Requires `Authorization: Bearer <key>`.
        """
        if self.state is None:
            return self._unavailable()  # type: ignore[return-value]
        if self.state.personas is None:
            message = "no personas model behind the snapshot yet: run `memberwise retrain`"
            return error_response(503, message)  # type: ignore[return-value]
        if member_ids is not None:
            return self.state.persona_ids(member_ids)
        return self.state.persona_records([m.model_dump() for m in members or []])


_service: Any = Memberwise  # a bentoml Service (mypy sees the decorated class)
_service.add_asgi_middleware(ApiKeyMiddleware)
for _api in _service.apis.values():  # the OpenAPI page renders docstrings as Markdown: dedent them
    _api.doc = inspect.cleandoc(_api.doc or "")
