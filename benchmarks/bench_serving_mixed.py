"""Single-member /score latency beside batch clients, against a real server on a generated brand.

A campaign tool looks members up one at a time while batch jobs pull 1,000 ids per request. This starts
`bentoml serve` on a freshly generated and retrained demo brand, then measures, in the same run:

1. baseline: one single-member client alone;
2. mixed: the same client while `--batch-clients` clients send `--batch`-id /score requests back to back.

Prints single-member p50/p99 for both, the mixed/baseline p99 ratio and the batch throughput.
Target (issue 10): mixed single-member p99 <= 50 ms with two 1,000-id batch clients on 2 cores.

    .venv/bin/python benchmarks/bench_serving_mixed.py [--members 20000] [--seconds 20] [--home DIR]

`--home` reuses a MEMBERWISE_HOME that already holds a release (skips generating and retraining).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from memberwise.serving import launch

KEY = "bench-key"
TARGET_P99_MS = 50.0


def run(cmd: list[str], env: dict[str, str]) -> None:
    """Run a memberwise command, quietly unless it fails."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def build_home(home: Path, members: int, env: dict[str, str]) -> None:
    """Generate a demo brand and retrain on it: the release the server answers from."""
    memberwise = str(Path(sys.executable).with_name("memberwise"))
    brand = home / "brand"
    started = time.perf_counter()
    run([memberwise, "demo-data", "--out", str(brand), "--members", str(members)], env)
    run([memberwise, "retrain", "--data", str(brand)], env)
    print(f"generated and retrained a {members:,}-member brand in {time.perf_counter() - started:.0f} s")


def wait_for_warm_reasons(log: Path, timeout_s: float = 600) -> None:
    """The server precomputes reasons in the background after it is ready; measure after that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "reasons precomputed" in text or "precomputing reasons failed" in text:
            return
        time.sleep(0.5)
    print("warning: reasons still warming up; latencies include that work")


def member_ids(url: str) -> list[str]:
    reply = httpx.post(
        f"{url}/select",
        json={"threshold": 0, "limit": 100_000},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    reply.raise_for_status()
    return [m["member_id"] for m in reply.json()["members"]]


def batch_client(url: str, ids: list[str], batch: int, offset: int, stop: Any, sent: Any) -> None:
    """A batch job (its own process): /score with `batch` ids back to back until `stop`; counts in `sent`."""
    span = max(1, len(ids) - batch)
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        i = 0
        while not stop.is_set():
            start = (2 * i + offset) * batch % span
            client.post(f"{url}/score", json={"member_ids": ids[start : start + batch]}).raise_for_status()
            i += 1
            sent.value = i


def single_client(url: str, singles: list[str], seconds: float) -> list[float]:
    """One member per /score, back to back on one keep-alive connection; the latencies in ms."""
    latencies: list[float] = []
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        end = time.perf_counter() + seconds
        for member in singles:
            began = time.perf_counter()
            client.post(f"{url}/score", json={"member_ids": [member]}).raise_for_status()
            latencies.append((time.perf_counter() - began) * 1000)
            if began > end:
                break
    return latencies[5:]  # the first requests open the connection


def measure(url: str, ids: list[str], seconds: float, batch_clients: int, batch: int) -> dict[str, float]:
    """Single-member latencies (ms) and batch rows/s with `batch_clients` batch clients running.

    Batch clients run in their own processes so the single-member client's timings do not include
    waiting for the client side's GIL.
    """
    singles = np.random.default_rng(batch_clients).choice(ids, size=1_000_000).tolist()
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    sent = [context.Value("i", 0) for _ in range(batch_clients)]
    jobs = [
        context.Process(target=batch_client, args=(url, ids, batch, c, stop, sent[c]))
        for c in range(batch_clients)
    ]
    for job in jobs:
        job.start()
    time.sleep(2.0 if batch_clients else 0.0)  # let the batch load reach its steady state
    begun = sum(s.value for s in sent)
    single = np.array(single_client(url, singles, seconds))
    batches = sum(s.value for s in sent) - begun
    stop.set()
    for job in jobs:
        job.join(timeout=120)
    p50, p99 = np.percentile(single, [50, 99])
    return {
        "p50": float(p50),
        "p99": float(p99),
        "requests": float(len(single)),
        "batch_rows_s": batches * batch / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batch-clients", type=int, default=2)
    parser.add_argument("--home", type=Path, help="a MEMBERWISE_HOME holding a release (skip the retrain)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-mixed-") as tmp:
        home = args.home or Path(tmp) / "home"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEMBERWISE_")},
            "MEMBERWISE_HOME": str(home),
            "MEMBERWISE_API_KEY": KEY,
            "BENTOML_HOME": str(Path(tmp) / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }
        if args.home is None:
            build_home(home, args.members, env)
        log = Path(tmp) / "server.log"
        proc, url = launch.start(env, log)
        try:
            launch.wait_ready(proc, url, timeout_s=300)
            wait_for_warm_reasons(log)
            ids = member_ids(url)
            alone = measure(url, ids, args.seconds, 0, args.batch)
            mixed = measure(url, ids, args.seconds, args.batch_clients, args.batch)
        finally:
            launch.stop(proc)

    print(f"members served: {len(ids):,}; {args.seconds:.0f} s per phase; batch {args.batch} ids")
    for name, figures in (("alone", alone), (f"beside {args.batch_clients} batch clients", mixed)):
        print(
            f"single-member /score {name:<26} p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms"
            f"  ({figures['requests']:,.0f} requests)"
        )
    print(f"batch throughput: {mixed['batch_rows_s']:,.0f} rows/s")
    ratio = mixed["p99"] / alone["p99"]
    verdict = "meets" if mixed["p99"] <= TARGET_P99_MS else "MISSES"
    print(f"p99 mixed / alone: {ratio:.1f}x; mixed p99 {verdict} the target of {TARGET_P99_MS:.0f} ms")


if __name__ == "__main__":
    main()
