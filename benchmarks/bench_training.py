"""Retrain wall time, step by step, on the demo brand and on a 1M-member brand.

Prints each step (validate + unify, train = features + Optuna trials + final fit + evaluation,
gate, score snapshot) and the total, against the target: a 1M-member retrain in <= 10 minutes on 2 cores.
Usage: python benchmarks/bench_training.py [--members 20000 1000000] [--trials 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from memberwise.config import OptunaConfig, load_propensity_config
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.promote import promote_propensity
from memberwise.pipelines.propensity import train_propensity
from memberwise.pipelines.score import release_scores
from memberwise.settings import Settings

AS_OF = date(2026, 11, 16)


def brand_dir(members: int, seed: int = 7) -> Path:
    """The benchmark brand, generated once (in a child process) and reused."""
    brand = Path(".memberwise/bench") / f"brand-{members}-{seed}"
    if not (brand / "truth" / "manifest.json").exists():
        cmd = [
            sys.executable,
            "-m",
            "memberwise",
            "demo-data",
            "--out",
            str(brand),
            "--members",
            str(members),
        ]
        subprocess.run([*cmd, "--seed", str(seed)], check=True)
    return brand


def bench(members: int, trials: int) -> None:
    brand = brand_dir(members)
    cfg = load_propensity_config(None).model_copy(
        update={"optuna": OptunaConfig(trials=trials, timeout_seconds=3600)}
    )
    with tempfile.TemporaryDirectory() as home:
        big = members >= 500_000
        settings = Settings(
            home=Path(home),
            snapshot_date=date(2026, 11, 15),
            warehouse_path=Path(home) / "warehouse.duckdb" if big else None,
        )
        steps: dict[str, float] = {}

        def timed(name: str, fn):  # noqa: ANN001, ANN202
            started = time.perf_counter()
            result = fn()
            steps[name] = time.perf_counter() - started
            print(f"  {name:<28} {steps[name]:8.1f} s", flush=True)
            return result

        print(f"{members:,} members, {trials} Optuna trials")
        prepared = timed("validate + unify", lambda: prepare(brand, settings))
        trained = timed(
            "train (features+trials+fit)", lambda: train_propensity(prepared.warehouse, AS_OF, cfg, settings)
        )
        decision = timed("gate", lambda: promote_propensity(prepared.warehouse, AS_OF, cfg, settings))
        models = {"propensity": decision.serving or trained.model_version}
        scores = timed(
            "score snapshot", lambda: release_scores(prepared.warehouse, AS_OF, models, cfg.threshold)
        )
        total = sum(steps.values())
        model_steps = total - steps["validate + unify"]
        print(
            f"  {'total':<28} {total:8.1f} s   (holdout AUC {trained.metrics['val_auc']:.3f}, "
            f"{len(scores):,} scored, {int(scores['selected'].sum()):,} selected)"
        )
        print(
            f"  {'features+train+gate+score':<28} {model_steps:8.1f} s   "
            f"= {model_steps / 600:.2f} x the 10-minute target"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    for members in args.members:
        bench(members, args.trials)


if __name__ == "__main__":
    main()
