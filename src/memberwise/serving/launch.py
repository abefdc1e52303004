"""Start, wait for and stop a local `bentoml serve` of the service (tests, benchmarks, smoke checks).

The wait polls `/readyz` until a deadline and treats *any* request failure (refused, reset, read
timeout) as "not yet": on a busy machine the first polls can time out while the worker imports its
models, and that must not end the wait early.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from memberwise.serving import serve_command

POLL_TIMEOUT_S = 2.0  # per /readyz request: short, so a stuck poll costs little of the deadline
POLL_INTERVAL_S = 0.25


class ServerNotReady(RuntimeError):
    """The server exited or did not answer `/readyz` 200 before the deadline."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: Mapping[str, str], log: Path, cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`bentoml serve` on 127.0.0.1 and a free port, in its own process group; returns it and its URL."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            serve_command(port),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout_s: float) -> list[str]:
    """Poll `url/readyz` until 200; return the statuses seen before (or "unreachable").

    Raises ServerNotReady when the process exits or the deadline passes.
    """
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while True:
        if proc.poll() is not None:
            raise ServerNotReady(f"the server exited with {proc.returncode} before it was ready")
        try:
            status = str(httpx.get(f"{url}/readyz", timeout=POLL_TIMEOUT_S).status_code)
        except httpx.HTTPError:
            status = "unreachable"
        if status == "200":
            return seen
        seen.append(status)
        if time.monotonic() > deadline:
            raise ServerNotReady(f"not ready after {timeout_s:.0f} s (last /readyz: {status})")
        time.sleep(POLL_INTERVAL_S)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """SIGTERM the process group we started (its pgid is our child's pid); SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
