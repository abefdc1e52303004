"""The OpenAPI document at /docs.json, completed: bearer auth, the project's title and version.

BentoML's generated spec declares no security scheme (so the page's "Try it out" always got 401) and
names the service "Memberwise" version "None" with BentoML's own description. `document` adds a
bearer scheme required by the model endpoints (the probes, metrics and docs stay open) and the
project's title, version and description. The middleware applies it to the /docs.json response.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

SCHEME = "bearerAuth"


def project_version() -> str:
    """The installed package's version (what `pip show memberwise` says)."""
    try:
        return version("memberwise")
    except PackageNotFoundError:  # run from a source tree without installing
        return "0+unknown"


@dataclass(frozen=True)
class ApiDocs:
    """What the document says beyond BentoML's spec: the secured routes, title and description."""

    secured: frozenset[str]
    description: str
    title: str = "memberwise"

    @classmethod
    def of(cls, secured: Iterable[str], description: str) -> ApiDocs:
        return cls(frozenset(secured), description)

    def document(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The spec with bearer auth on the secured routes and the project's info."""
        spec = {
            **spec,
            "info": {"title": self.title, "version": project_version(), "description": self.description},
        }
        components = dict(spec.get("components") or {})
        components["securitySchemes"] = {
            SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "The service's MEMBERWISE_API_KEY, sent as `Authorization: Bearer <key>`.",
            }
        }
        spec["components"] = components
        paths = {}
        for path, item in (spec.get("paths") or {}).items():
            if path in self.secured:
                item = {method: self._secured(op) for method, op in item.items()}
            paths[path] = item
        spec["paths"] = paths
        return spec

    @staticmethod
    def _secured(operation: Any) -> Any:
        if not isinstance(operation, dict):
            return operation
        responses = {**operation.get("responses", {}), "401": {"description": "Missing or wrong API key"}}
        return {**operation, "security": [{SCHEME: []}], "responses": responses}

    def document_bytes(self, body: bytes) -> bytes:
        """`document` on a JSON body (returned unchanged when it is not a JSON object)."""
        try:
            spec = json.loads(body)
        except ValueError:
            return body
        return json.dumps(self.document(spec)).encode() if isinstance(spec, dict) else body
