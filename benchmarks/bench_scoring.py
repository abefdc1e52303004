"""Scoring speed: in-process vs the real BentoML server over HTTP, measured in the same run.

Figures: in-process rows/s (raw model, and the service's own /score code path without HTTP); HTTP
/score rows/s with 1,000-member batches; single-member /score latency p50/p99 at concurrency 8 over
30 s. Targets (issue 3): batched HTTP >= 50% of in-process rows/s; single-member p99 <= 25 ms.
Uses the champion and snapshot in MEMBERWISE_HOME (default .memberwise): run `make demo` first.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from memberwise.serving import serve_command
from memberwise.serving.loading import load_state
from memberwise.settings import Settings

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rate(label: str, rows: int, seconds: float) -> float:
    print(f"{label:<44} {rows / seconds:>10,.0f} rows/s")
    return rows / seconds


def start_server(settings: Settings, port: int, bento_home: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MEMBERWISE_HOME": str(settings.home),
        "MEMBERWISE_API_KEY": KEY,
        "BENTOML_HOME": bento_home,
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    cmd = serve_command(port)
    server = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise RuntimeError("the service did not become ready in 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    settings = Settings()
    state = load_state(settings)
    ids = [str(m) for m in state.member_ids]
    batches = [ids[i : i + args.batch] for i in range(0, len(ids) - args.batch + 1, args.batch)][:20]
    rows = sum(len(b) for b in batches)

    # The server fills in missing reasons in the background once ready; do the same here so both sides
    # answer from the same warm state.
    state.warm_reasons()
    started = time.perf_counter()
    state.champion.model.predict_proba(state.features)
    raw = rate(
        "in-process: model.predict_proba (all members)", len(state.features), time.perf_counter() - started
    )
    started = time.perf_counter()
    for batch in batches:
        state.score_ids(batch)
    in_process = rate(
        f"in-process: /score code path, {args.batch}-id batches", rows, time.perf_counter() - started
    )

    port = free_port()
    with tempfile.TemporaryDirectory() as bento_home:
        server = start_server(settings, port, bento_home)
        time.sleep(max(5.0, len(ids) / 4_000))  # let the server's background reasons pass finish
        try:
            url = f"http://127.0.0.1:{port}/score"
            headers = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(timeout=60) as client:
                client.post(
                    url, json={"member_ids": batches[0]}, headers=headers
                ).raise_for_status()  # warm-up

                def send(batch: list[str]) -> None:
                    client.post(url, json={"member_ids": batch}, headers=headers).raise_for_status()

                started = time.perf_counter()
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(send, batches))
                http = rate(f"HTTP /score, {args.batch}-id batches", rows, time.perf_counter() - started)
            latencies: list[float] = []
            lock = threading.Lock()
            stop_at = time.perf_counter() + args.seconds
            rng = np.random.default_rng(0)
            singles = rng.choice(ids, size=100_000).tolist()

            def single_member_client(worker: int) -> None:
                with httpx.Client(timeout=10) as client:
                    i = worker
                    while time.perf_counter() < stop_at:
                        begin = time.perf_counter()
                        reply = client.post(
                            url, json={"member_ids": [singles[i % len(singles)]]}, headers=headers
                        )
                        reply.raise_for_status()
                        with lock:
                            latencies.append(time.perf_counter() - begin)
                        i += args.concurrency

            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(single_member_client, range(args.concurrency)))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    label = f"HTTP single-member /score, concurrency {args.concurrency}"
    throughput = len(latencies) / args.seconds
    print(f"{label:<44} {throughput:>10,.0f} req/s  p50 {p50:.1f} ms  p99 {p99:.1f} ms (target p99 <= 25 ms)")
    print(
        f"{'batched HTTP / in-process (/score code path)':<44} {http / in_process:>10.2f}   (target >= 0.50)"
    )
    print(f"{'batched HTTP / in-process (raw predict)':<44} {http / raw:>10.3f}")


if __name__ == "__main__":
    main()
