"""The HTTP service (BentoML): `service.Memberwise`, its request/response models in `schemas`."""

from __future__ import annotations

import sys

SERVICE = "memberwise.serving.service:Memberwise"


def serve_command(port: int) -> list[str]:
    """The `bentoml serve` command line for the service on 127.0.0.1 (loopback only)."""
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]
