"""Scale: raw exports -> features at 1M and 10M members, against the floor, and a full 10M retrain.

Each brand is generated once (`memberwise demo-data`, in a child process) and cached under
`.memberwise/bench/brand-<members>-<seed>`. For each size the benchmark measures, in the same run:

- the floor: one DuckDB `GROUP BY account_id` over the orders Parquet (best of 3);
- `memberwise features --data <brand>` from the raw exports as a child process: wall time as a multiple
  of the floor (target <= 10x), its peak RSS from the child's rusage (targets <= 6 GiB at 1M, <= 12 GiB at
  10M), and the time of each step (validate + load, unify, features), timed inside the child by wrapping
  the library functions the CLI calls (the source is not touched);
- how each step grows from the smallest to the largest brand, against the member ratio.

`--retrain` also runs `memberwise retrain` on the largest brand (target <= 30 min on 2 cores) and prints
the time and the peak RSS so far at the end of every step (nested steps indented).
Usage: python benchmarks/bench_scale.py [--members 1000000 10000000] [--seed 7] [--retrain | --retrain-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from memberwise.warehouse import connect

BENCH = Path(".memberwise/bench")
SNAPSHOT = "2026-11-15"  # the demo brand's last day
AS_OF = "2026-11-16"
FLOOR_SQL = "SELECT account_id, count(*), sum(amount), max(ordered_at) FROM read_parquet('{}') GROUP BY 1"
GIB = 1024**3
RSS_TARGET_GIB = {1_000_000: 6.0, 10_000_000: 12.0}

# (label, module, attribute) of the functions timed inside the child; a label's depth is its nesting.
FEATURE_STEPS = [
    ("validate + load", "memberwise.pipelines.prepare", "load"),
    ("unify", "memberwise.pipelines.prepare", "unify"),
    ("features", "memberwise.features", "write_features"),
]
RETRAIN_STEPS = [
    ("validate + load", "memberwise.pipelines.prepare", "load"),
    ("unify", "memberwise.pipelines.prepare", "unify"),
    ("features at the cutoff", "memberwise.pipelines.retrain", "build_features"),
    ("train propensity", "memberwise.pipelines.retrain", "train_propensity"),
    ("  labelled windows (features + labels)", "memberwise.pipelines.propensity", "labelled_window"),
    ("  Optuna trials on a sample", "memberwise.pipelines.propensity", "tune"),
    ("  tournament (candidates, calibration)", "memberwise.modeling.propensity.tournament", "run"),
    ("  logging the tournament (baselines, figures)", "memberwise.pipelines.propensity", "log_tournament"),
    ("  BG/NBD-feature diagnostic", "memberwise.pipelines.propensity", "_bgnbd_feature_effect"),
    ("  register", "memberwise.pipelines.propensity", "register"),
    ("train personas", "memberwise.pipelines.retrain", "train_personas"),
    ("train forecast", "memberwise.pipelines.retrain", "train_forecast"),
    ("gate propensity", "memberwise.pipelines.retrain", "promote_propensity"),
    ("gate personas", "memberwise.pipelines.retrain", "promote_personas"),
    ("gate forecast", "memberwise.pipelines.retrain", "promote_forecast"),
    ("score snapshot", "memberwise.pipelines.retrain", "release_scores"),
    ("  reasons for the top selected", "memberwise.modeling.propensity", "PropensityModel.reasons"),
    ("plan", "memberwise.pipelines.retrain", "plan"),
    ("uplift", "memberwise.pipelines.retrain", "release_uplift"),
    ("publish release", "memberwise.release", "publish"),
]

# Runs the CLI with the listed functions wrapped in timers; each timing is one JSON line on stderr.
CHILD = """
import importlib, json, resource, sys, time
from memberwise.logsetup import configure_logging
configure_logging()
def timed(label, fn):
    def wrapper(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            line = {"step": label, "seconds": time.perf_counter() - started, "peak_rss": peak,
                    "cpu": time.process_time() - cpu}
            print("BENCH " + json.dumps(line), file=sys.stderr, flush=True)
    return wrapper
for label, module, attribute in json.loads(sys.argv[1]):
    *path, name = attribute.split(".")
    try:
        owner = importlib.import_module(module)
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, timed(label, getattr(owner, name)))
    except (ImportError, AttributeError):
        print("BENCH " + json.dumps({"step": label, "missing": True}), file=sys.stderr, flush=True)
sys.argv = ["memberwise", *sys.argv[2:]]
from memberwise.cli import main
main()
"""


@dataclass
class Run:
    """One child process: wall and CPU time, peak RSS, the timed steps (label -> seconds, CPU seconds, RSS).

    CPU seconds (every thread of the child) stay comparable when other jobs share the machine; wall
    seconds do not.
    """

    wall: float
    cpu: float
    peak_rss: float
    steps: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def run_child(args: list[str], steps: list[tuple[str, str, str]], env: dict[str, str], log: Path) -> Run:
    """Run `memberwise <args>` instrumented; its own rusage gives the peak RSS (not this process's)."""
    cmd = [sys.executable, "-c", CHILD, json.dumps(steps), *args]
    started = time.perf_counter()
    with log.open("w") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **env})
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    lines = log.read_text().splitlines()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"memberwise {' '.join(args)} failed; its stderr is in {log}:\n" + "\n".join(lines[-15:]))
    run = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)
    for line in lines:
        if line.startswith("BENCH "):
            step = json.loads(line.removeprefix("BENCH "))
            if not step.get("missing"):
                seconds, cpu, _ = run.steps.get(step["step"], (0.0, 0.0, 0.0))
                run.steps[step["step"]] = (seconds + step["seconds"], cpu + step["cpu"], step["peak_rss"])
    return run


def brand(members: int, seed: int) -> Path:
    """The cached brand, generated (timed, with its peak RSS) in a child process when missing."""
    path = BENCH / f"brand-{members}-{seed}"
    if not (path / "truth" / "manifest.json").exists():
        cmd = [sys.executable, "-m", "memberwise", "demo-data", "--out", str(path)]
        started = time.perf_counter()
        child = subprocess.Popen([*cmd, "--members", str(members), "--seed", str(seed)])
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"generating {path} failed")
        took, rss = time.perf_counter() - started, usage.ru_maxrss * 1024 / GIB
        print(f"generated {path}: {took:.0f} s, peak RSS {rss:.2f} GiB")
    return path


def load_note() -> str:
    """The machine's load average over the last 15 minutes against its cores: how crowded a run was."""
    return f"(load average {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores)"


def floor_seconds(orders: Path) -> float:
    """Best of 3: one DuckDB GROUP BY account_id over the orders Parquet, fetched through Arrow."""
    con = connect()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        con.sql(FLOOR_SQL.format(orders)).to_arrow_table()
        best = min(best, time.perf_counter() - started)
    con.close()
    return best


def child_env(home: Path, warehouse: str | None) -> dict[str, str]:
    env = {"MEMBERWISE_HOME": str(home)}
    if warehouse:  # otherwise the settings' default, as a user gets it
        env["MEMBERWISE_WAREHOUSE_PATH"] = str(home / warehouse)
        (home / warehouse).unlink(missing_ok=True)
    return env


def bench_features(members: int, seed: int, warehouse: str | None) -> tuple[float, Run]:
    """The floor and `memberwise features --data` for one brand, printed."""
    data = brand(members, seed)
    home = BENCH / f"home-{members}"
    home.mkdir(parents=True, exist_ok=True)
    floor = floor_seconds(data / "orders.parquet")
    print(f"\n== {members:,} members ({data})")
    print(f"{'floor: GROUP BY account_id':<34} {floor:9.2f} s", flush=True)
    out = home / "features.parquet"
    args = ["features", "--data", str(data), "--as-of", AS_OF, "--snapshot-date", SNAPSHOT, "--out", str(out)]
    run = run_child(args, FEATURE_STEPS, child_env(home, warehouse), home / "features.log")
    out.unlink(missing_ok=True)
    target = RSS_TARGET_GIB.get(members)
    ratio = run.wall / floor
    print(f"{'memberwise features (wall)':<34} {run.wall:9.2f} s  = {ratio:6.1f}x floor (target <= 10x)")
    for label, (seconds, cpu, _) in run.steps.items():
        print(f"{'  ' + label:<34} {seconds:9.2f} s  = {seconds / floor:6.1f}x floor   CPU {cpu:7.1f} s")
    print(f"{'CPU, all threads (child)':<34} {run.cpu:9.2f} s   {load_note()}")
    print(
        f"{'peak RSS (child)':<34} {run.peak_rss / GIB:9.2f} GiB"
        + (f" (target <= {target:g} GiB)" if target else "")
    )
    return floor, run


def growth(sizes: list[int], results: dict[int, tuple[float, Run]]) -> None:
    """Each step's time at the largest brand over the smallest, against the member ratio."""
    small, large = min(sizes), max(sizes)
    (floor_s, run_s), (floor_l, run_l) = results[small], results[large]
    print(f"\n== growth {small:,} -> {large:,} members (member ratio {large / small:g}x)")
    rows = {
        "floor": (floor_s, floor_l),
        "features command (wall)": (run_s.wall, run_l.wall),
        "features command (CPU)": (run_s.cpu, run_l.cpu),
    }
    for label in [step for step in run_s.steps if step in run_l.steps]:
        rows[label] = (run_s.steps[label][0], run_l.steps[label][0])
        rows[f"{label} (CPU)"] = (run_s.steps[label][1], run_l.steps[label][1])
    for label, (a, b) in rows.items():
        print(f"{label:<34} {a:9.2f} s -> {b:9.2f} s  = {b / a:6.1f}x")
    print(f"{'peak RSS':<34} {run_s.peak_rss / GIB:9.2f} GiB -> {run_l.peak_rss / GIB:6.2f} GiB")


def bench_retrain(members: int, seed: int, warehouse: str | None) -> None:
    """A full `memberwise retrain` of one brand in a fresh home, step by step."""
    data = brand(members, seed)
    home = BENCH / f"retrain-home-{members}"
    subprocess.run(["rm", "-rf", str(home)], check=True)
    home.mkdir(parents=True)
    args = ["retrain", "--data", str(data), "--snapshot-date", SNAPSHOT, "--trigger", "manual", "--force"]
    run = run_child(args, RETRAIN_STEPS, child_env(home, warehouse), home / "retrain.log")
    print(f"\n== memberwise retrain, {members:,} members (target <= 30 min on 2 cores)")
    print(f"{'wall':<42} {run.wall / 60:8.1f} min   CPU {run.cpu / 60:6.1f} min   {load_note()}")
    for label, _, _ in RETRAIN_STEPS:
        if label in run.steps:
            seconds, cpu, peak = run.steps[label]
            print(f"{label:<42} {seconds:8.1f} s   CPU {cpu:7.1f} s   peak RSS so far {peak / GIB:6.2f} GiB")
    print(f"{'peak RSS (child)':<42} {run.peak_rss / GIB:8.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--retrain", action="store_true", help="also retrain the largest brand (long)")
    parser.add_argument(
        "--retrain-only", action="store_true", help="retrain the largest brand without the features runs"
    )
    parser.add_argument(
        "--warehouse-file",
        metavar="NAME",
        help="force a file-backed warehouse (MEMBERWISE_WAREHOUSE_PATH) named NAME in the run's home",
    )
    args = parser.parse_args()
    sizes = sorted(args.members)
    if not args.retrain_only:
        results = {m: bench_features(m, args.seed, args.warehouse_file) for m in sizes}
        if len(sizes) > 1:
            growth(sizes, results)
    if args.retrain or args.retrain_only:
        bench_retrain(sizes[-1], args.seed, args.warehouse_file)


if __name__ == "__main__":
    main()
