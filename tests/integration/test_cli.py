"""The real `memberwise` command, run as a user would: stage by stage, and on broken files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_help_lists_every_stage() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo-data", "validate", "unify", "features", "audience-sales", "demo"):
        assert command in result.stdout


def test_help_shows_the_defaults_written_in_it() -> None:
    """Rich reads `[default: x]` in a help text as markup and drops it: the defaults must still show."""
    shown = " ".join(run("allocate", "--help").stdout.split())
    for default in ("(default: today)", "or else after the last order)", "(default: the KPI gap)"):
        assert default in shown


def test_stages_on_a_dirty_brand(tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    assert run("demo-data", "--out", brand, "--members", "800", "--seed", "2", "--dirty").returncode == 0
    report_dir = tmp_path / "report"
    result = run("validate", "--data", brand, "--out", report_dir, "--snapshot-date", "2026-11-15")
    assert result.returncode == 0, result.stderr
    report = json.loads((report_dir / "validation_report.json").read_text())
    assert sum(t["rejected"] for t in report["tables"]) == len(pd.read_csv(report_dir / "rejects.csv"))
    assert "order_id:duplicate_key" in result.stdout

    members_dir = tmp_path / "members"
    result = run("unify", "--data", brand, "--out", members_dir, "--snapshot-date", "2026-11-15")
    assert result.returncode == 0, result.stderr
    member_map = pd.read_parquet(members_dir / "member_map.parquet")
    assert member_map["member_id"].nunique() == len(pd.read_parquet(members_dir / "members.parquet"))

    out = tmp_path / "features.parquet"
    result = run(
        "features", "--data", brand, "--as-of", "2026-06-01", "--out", out,
        "--snapshot-date", "2026-11-15", "--label-horizon", "90",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out)
    assert table["member_id"].is_unique and {"lifecycle_stage", "repurchased"} <= set(table.columns)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: (d / "orders.csv").unlink(), "required table 'orders' is missing"),
        (lambda d: (d / "accounts.csv").write_text(""), "accounts.csv: file is empty"),
        (
            lambda d: (d / "orders.csv").write_bytes("order_id,金额\n1,2\n".encode("gb18030")),
            "not valid UTF-8",
        ),
        (
            lambda d: (
                pd.read_csv(d / "orders.csv")
                .drop(columns=["ordered_at"])
                .to_csv(d / "orders.csv", index=False)
            ),
            "orders.csv: required column(s) missing: ordered_at",
        ),
    ],
)
def test_whole_file_problems_give_one_clear_line(
    tmp_path: Path, dirty_brand: Path, spoil, message: str
) -> None:
    brand = tmp_path / "brand"
    shutil.copytree(dirty_brand, brand)
    spoil(brand)
    result = run("validate", "--data", brand, "--out", tmp_path / "report")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_demo_command_runs_the_main_job(tmp_path: Path) -> None:
    env_home = tmp_path / "home"
    result = subprocess.run(
        [*CLI, "demo"],
        capture_output=True, text=True, timeout=1800,
        env={**os.environ, "MEMBERWISE_HOME": str(env_home), "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    features = pd.read_parquet(env_home / "output" / "member_features.parquet")
    assert len(features) > 19_000
    assert "promoted to champion" in result.stdout.replace("\n", " ")
    sales = pd.read_parquet(env_home / "output" / "audience_sales.parquet")
    assert set(sales["audience"]) == {"new_customer", "returning_customer", "new_member", "returning_member"}
    expected = ("personas v1 promoted", "forecast v1 promoted", "P(meet target)", "budget plan (max-revenue",
                "contact lists rank by")  # fmt: skip
    for line in expected:
        assert line in result.stdout.replace("\n", " "), result.stdout

    # The planning commands on the same store: the gap of 2026, then the cheapest plan closing it.
    env = {**os.environ, "MEMBERWISE_HOME": str(env_home), "COLUMNS": "200"}
    brand, common = env_home / "demo" / "brand-20000-7", ("--snapshot-date", "2026-11-15")
    gap = subprocess.run([*CLI, "gap", "--data", brand, "--period", "2026", *common],
                         capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert gap.returncode == 0, gap.stderr
    assert "returning_member" in gap.stdout and "P(meet target)" in gap.stdout
    # Without --data both answer from the inputs the retrain saved (what the service uses too).
    for args in (("gap", "--period", "2026-Q4", "--target", "1000000"), ("allocate", "--budget", "50000")):
        saved = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env)
        assert saved.returncode == 0, saved.stderr
    assert "budget plan (max-revenue, optimal)" in saved.stdout.replace("\n", " ")
    out = tmp_path / "plan"
    allocate = subprocess.run(
        [*CLI, "allocate", "--data", brand, "--mode", "close-gap", "--gap-target", "100000", "--out", out,
         *common],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert allocate.returncode == 0, allocate.stderr
    assert "budget plan (close-gap" in allocate.stdout.replace("\n", " ")
    plan = pd.read_csv(out / "plan.csv")
    contacts = pd.read_parquet(out / "contacts.parquet")
    assert len(plan) > 0 and contacts["member_id"].value_counts().max() <= 2  # fatigue_k = 2


def test_a_brand_with_only_accounts_and_orders_runs_every_stage(tmp_path: Path, demo_brand: Path) -> None:
    brand = tmp_path / "two-tables"
    brand.mkdir()
    for name in ("accounts", "orders"):
        shutil.copy(demo_brand / f"{name}.parquet", brand)
    out = tmp_path / "features.parquet"
    common = ["--snapshot-date", "2026-11-15"]
    result = run("features", "--data", brand, "--as-of", "2026-06-01", "--out", out, *common)
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out)
    assert table["interactions_30d"].isna().all() and table["is_member"].isna().all()
    assert table["orders_365d"].notna().all() and table["rfm_segment"].notna().any()
    sales = tmp_path / "sales.csv"
    assert run("audience-sales", "--data", brand, "--out", sales, *common).returncode == 0
    revenue = pd.read_csv(sales).groupby("audience")["revenue"].sum()
    assert revenue["new_member"] == revenue["returning_member"] == 0  # no loyalty table: nobody is a member
    assert revenue["new_customer"] > 0 and revenue["returning_customer"] > 0
