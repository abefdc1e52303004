"""ASGI middleware in front of the BentoML app: bearer-key auth, JSON-only bodies, readable 400s."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

from memberwise.serving.openapi import ApiDocs
from memberwise.serving.schemas import ErrorResponse
from memberwise.settings import Settings

ALLOW_NO_AUTH_ENV = "MEMBERWISE_ALLOW_NO_AUTH"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def no_auth_allowed() -> bool:
    """Whether the operator explicitly allowed running without an API key (local experiments only)."""
    return os.environ.get(ALLOW_NO_AUTH_ENV, "").strip().lower() in ("1", "true", "yes")


class ApiKeyError(RuntimeError):
    """The service must not start with this API key setting."""


def api_key(settings: Settings) -> str:
    """The bearer key clients must send, without surrounding whitespace ("" when none is set)."""
    return (settings.api_key or "").strip()


def require_api_key(settings: Settings) -> None:
    """Refuse to serve without an API key unless explicitly allowed (MEMBERWISE_ALLOW_NO_AUTH=true).

    A key of only whitespace is refused too (even when no-auth is allowed): it would start, then
    refuse every request, since a header token is compared without surrounding whitespace.
    """
    if settings.api_key and not api_key(settings):
        raise ApiKeyError("MEMBERWISE_API_KEY is blank (only whitespace): set a real key")
    if not api_key(settings) and not no_auth_allowed():
        raise ApiKeyError(
            "MEMBERWISE_API_KEY is not set: the service refuses to start without an API key "
            f"(set {ALLOW_NO_AUTH_ENV}=true to run without auth, for local experiments only)"
        )


def error_response(status: int, message: str, detail: list[dict[str, Any]] | None = None) -> JSONResponse:
    """A JSON error body `{"error": ..., "detail": [...]}` with the given status."""
    return JSONResponse(ErrorResponse(error=message, detail=detail or []).model_dump(), status_code=status)


class ApiKeyMiddleware:
    """Bearer-key check on every path except the probes, metrics and the OpenAPI page.

    Also serves the OpenAPI page at `/docs` (BentoML serves it at `/`), completes its document at
    `/docs.json` (bearer auth, title, version) and turns BentoML's input validation errors (400) into a
    message that names the offending fields.
    """

    PUBLIC = frozenset(
        {"/", "/docs", "/docs.json", "/schema.json", "/livez", "/healthz", "/readyz", "/metrics"}
    )
    PUBLIC_PREFIXES = ("/static_content/", "/assets/")
    NOT_JSON = frozenset(
        {b"multipart/form-data", b"application/x-www-form-urlencoded", b"application/vnd.bentoml+pickle"}
    )

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], docs: ApiDocs) -> None:
        self.app = app
        self.docs = docs
        key = api_key(Settings())
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
        if path == "/docs.json":
            await self.app(scope, receive, _rewriting(send, 200, self.docs.document_bytes))
            return
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
        await self.app(scope, receive, _rewriting(send, 400, _explain))


def _rewriting(send: Send, status: int, transform: Callable[[bytes], bytes]) -> Send:
    """Wrap `send` so the body of a response with `status` is replaced by `transform(body)`."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start" and message.get("status") == status:
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = transform(b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _explain(body: bytes) -> bytes:
    """A 400 validation body whose `error` names the wrong fields."""
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
