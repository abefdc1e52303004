"""Starting and stopping the real server: one clear line for a missing or blank key, and SIGTERM under
load drains the requests in flight instead of resetting them."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
import requests

from memberwise.serving import launch
from tests.serving.conftest import (
    API_KEY,
    READY_TIMEOUT_S,
    Built,
    feature_records,
    log_tail,
    server_env,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow

IN_FLIGHT = 4
RECORDS = 3_000  # per request: long enough to be in flight when SIGTERM arrives


@pytest.mark.parametrize(("key", "message"), [(None, "is not set"), (" \t ", "is blank")])
def test_refuses_to_start_with_one_line(serving_home: Built, tmp_path, key: str | None, message: str) -> None:
    extra = {} if key is None else {"MEMBERWISE_API_KEY": key}
    log = tmp_path / "server.log"
    proc, _ = start_server(server_env(serving_home[0], tmp_path / "bentoml", **extra), log)
    try:
        returncode = proc.wait(timeout=120)
    finally:
        stop_server(proc)
    text = log.read_text(errors="replace")
    assert returncode == 2, log_tail(log)
    assert f"memberwise: MEMBERWISE_API_KEY {message}" in text
    assert "Traceback" not in text, log_tail(log)


def in_progress(url: str, endpoint: str) -> float:
    """Requests to `endpoint` the server is working on now (BentoML's in-progress gauge)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if "request_in_progress{" in line and f'endpoint="{endpoint}"' in line
    )


def refused_before(threads: list[threading.Thread], url: str) -> bool:
    """Whether new connections are refused (not queued to be reset later) while `threads` still run."""
    host, port = url.removeprefix("http://").split(":")
    while any(thread.is_alive() for thread in threads):
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except ConnectionRefusedError:
            return any(thread.is_alive() for thread in threads)
        time.sleep(0.02)
    return False


def test_sigterm_drains_in_flight_requests(serving_home: Built, tmp_path) -> None:
    home, *_, features, _, _ = serving_home
    records = feature_records(features.head(1))
    body = {"members": records * RECORDS}
    log = tmp_path / "server.log"
    proc, url = start_server(server_env(home, tmp_path / "bentoml", MEMBERWISE_API_KEY=API_KEY), log)
    statuses: list[int | str] = []
    try:
        launch.wait_ready(proc, url, READY_TIMEOUT_S)

        def client() -> None:
            try:
                response = requests.post(
                    f"{url}/score_features",
                    json=body,
                    headers={"Authorization": f"Bearer {API_KEY}"},
                    timeout=300,
                )
                statuses.append(response.status_code)
            except requests.RequestException as err:
                statuses.append(type(err).__name__)

        threads = [threading.Thread(target=client) for _ in range(IN_FLIGHT)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while in_progress(url, "/score_features") < IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_progress(url, "/score_features") >= IN_FLIGHT, log_tail(log)
        os.kill(proc.pid, signal.SIGTERM)  # the `bentoml serve` process only, as an orchestrator does
        refused_while_draining = refused_before(threads, url)
        for thread in threads:
            thread.join(timeout=300)
        assert proc.wait(timeout=120) is not None
    finally:
        stop_server(proc)
    assert statuses == [200] * IN_FLIGHT, (statuses, log_tail(log))
    assert refused_while_draining, "new connections were accepted into a backlog nobody serves"


def test_load_failure_is_reported_not_served(tmp_path) -> None:
    empty_home = tmp_path / "home"  # no registered model, no snapshot
    log = tmp_path / "broken.log"
    proc, url = start_server(server_env(empty_home, tmp_path / "bentoml", MEMBERWISE_API_KEY="k"), log)
    try:
        deadline = time.monotonic() + 60
        live = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                live = requests.get(f"{url}/livez", timeout=5).status_code
            except requests.RequestException:
                live = None
            if live == 503:
                break
            time.sleep(0.25)
        assert live == 503, log_tail(log)
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 503
        response = requests.post(
            f"{url}/score", json={"member_ids": ["a"]}, headers={"Authorization": "Bearer k"}, timeout=5
        )
        assert response.status_code == 503
        assert "failed to load" in response.json()["error"]
        assert "no release in" in log.read_text()
    finally:
        stop_server(proc)
