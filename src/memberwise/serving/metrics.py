"""Prometheus labels bounded to the service's own routes.

BentoML 1.4 labels its request metrics with the raw URL path, before routing or auth, so every
distinct unknown path (even unauthenticated) adds label sets: 10,000 GETs to made-up paths made
`/metrics` 39.6 MB. Its traffic-metrics middleware is the outermost one and a service cannot add a
middleware in front of it, so `install` replaces the class BentoML builds the middleware from (it is
looked up by name when each worker builds its app, after the service module is imported). The
subclass labels any path that is not a route as `/unknown` (static files as their folder), and hands
the inner app the real path, so routing, auth, 404s and the access log are unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from bentoml._internal.server.http import instruments

UNKNOWN_PATH = "/unknown"
_REAL_PATH = "memberwise.real_path"

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


class _Labels:
    """The bounded set of metric labels: exact routes, and route prefixes labelled as `<prefix>*`."""

    routes: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, path: str) -> str:
        if path in cls.routes:
            return path
        for prefix in cls.prefixes:
            if path.startswith(prefix):
                return f"{prefix}*"
        return UNKNOWN_PATH


def _with_real_path(app: App) -> App:
    """The inner app, called with the path the client sent (the metrics middleware saw the label)."""

    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        real = scope.get(_REAL_PATH)
        if real is not None:
            scope = {**scope, "path": real[0], "raw_path": real[1]}
        await app(scope, receive, send)

    return inner


class BoundedPathMetrics(instruments.RunnerTrafficMetricsMiddleware):
    """BentoML's traffic metrics, labelled by route (or `/unknown`) instead of by raw path."""

    def __init__(self, app: App, **options: Any) -> None:
        super().__init__(_with_real_path(app), **options)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            label = _Labels.of(path)
            if label != path:
                real = (path, scope.get("raw_path", path.encode()))
                scope = {**scope, "path": label, "raw_path": label.encode(), _REAL_PATH: real}
        await super().__call__(scope, receive, send)


def install(routes: Iterable[str], prefixes: Iterable[str] = ()) -> None:
    """Label request metrics by these routes (and prefixes) only; call before the app is built."""
    _Labels.routes = frozenset(routes)
    _Labels.prefixes = tuple(prefixes)
    setattr(instruments, "RunnerTrafficMetricsMiddleware", BoundedPathMetrics)  # noqa: B010 - see above
