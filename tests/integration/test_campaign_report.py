"""campaign-report on planted truth: the demo brand's cell uplift, the real Hillstrom experiment, bad data.

Error bounds: the demo brand here (40k people, 80 campaigns) leaves ~75 campaign cells with at least 30
members per arm, typically ~100 controls, so one cell's interval on incremental orders per contact is
about +-0.1 around a planted uplift of ~0.05: coverage is the per-cell check (95% intervals, asserted at
88% to allow for ~75 draws), and the pooled mean, whose standard error is ~0.005, is the sharp one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memberwise.data.demo import DemoConfig, generate, uplift_table
from memberwise.data.hillstrom import campaign_id, write_hillstrom
from memberwise.modeling.campaign_measure import ALL
from memberwise.modeling.response import CELL, arm_differences, hillstrom_arms
from memberwise.pipelines.campaign_outcomes import response_frame
from memberwise.pipelines.campaign_report import CampaignReport, campaign_report
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from memberwise.tracking import configure
from tests.conftest import fresh_settings, with_empty_store

AS_OF = date(2026, 11, 16)
HILLSTROM = Path(__file__).parents[3] / "shared" / "data" / "hillstrom.csv"
# Published arm-minus-control conversion (../shared/data/README.md): men's +0.68 points, women's +0.31.
HILLSTROM_TRUTH = {"Mens E-Mail": 0.0068, "Womens E-Mail": 0.0031}
ORDERS = "incremental_orders_per_contact"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "campaign-home")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, settings: Settings):  # noqa: ANN201 - (Prepared, report)
    brand = tmp_path_factory.mktemp("campaign-brand")
    generate(DemoConfig(members=40_000, seed=21, campaigns=80), brand)
    prepared = prepare(brand, settings)
    report = campaign_report(prepared.duckdb("test"), settings, tmp_path_factory.mktemp("report"), AS_OF)
    return prepared, report


def test_demo_cells_cover_the_planted_uplift(demo: tuple[object, CampaignReport]) -> None:
    table = demo[1].table
    cells = table[table["audience"] != ALL].merge(uplift_table(), on=list(CELL), suffixes=("", "_true"))
    populated = cells[(cells["treated"] >= 30) & (cells["control"] >= 30)]
    assert len(populated) >= 50
    truth = populated[f"{ORDERS}_true"]
    covered = (populated[f"{ORDERS}_low"] <= truth) & (truth <= populated[f"{ORDERS}_high"])
    assert covered.mean() >= 0.88
    # Pooled over cells with weights that do not depend on the outcomes (n_t n_c / (n_t + n_c)).
    w = populated["treated"] * populated["control"] / (populated["treated"] + populated["control"])
    se = (populated[f"{ORDERS}_high"] - populated[f"{ORDERS}_low"]) / (2 * 1.959964)
    pooled_se = float(np.sqrt((w**2 * se**2).sum()) / w.sum())
    error = float(((populated[ORDERS] - truth) * w).sum() / w.sum())
    assert abs(error) < 3 * pooled_se
    assert float((populated[ORDERS] * w).sum() / w.sum()) > 3 * pooled_se  # the planted effect is found


def test_the_budget_response_is_the_reports_measurement(demo, settings: Settings) -> None:  # noqa: ANN001
    prepared, report = demo
    effects = arm_differences(response_frame(prepared.warehouse, 14, AS_OF), CELL)
    cells = report.table[report.table["audience"] != ALL].dropna(subset=["uplift"])
    both = cells.merge(effects, on=["campaign_id", *CELL], validate="one_to_one")
    assert len(both) == len(cells) == len(effects)
    assert np.allclose(both[ORDERS], both["orders_uplift"])
    assert np.allclose(both["incremental_revenue_per_contact"], both["revenue_uplift"])
    assert report.path.name == "campaign_report.csv"
    assert len(pd.read_csv(report.path)) == len(report.table)
    artifacts = {a.path for a in configure(settings).list_artifacts(report.run_id, "figures")}
    assert artifacts == {"figures/uplift_by_campaign_and_cell.png"}


@pytest.mark.skipif(not HILLSTROM.exists(), reason="needs ../shared/data/hillstrom.csv")
def test_hillstrom_through_the_contract(tmp_path: Path, settings: Settings) -> None:
    data = write_hillstrom(HILLSTROM, tmp_path / "hillstrom")
    local = settings.model_copy(update={"snapshot_date": date(2008, 6, 30)})
    prepared = prepare(data, local)
    report = campaign_report(prepared.duckdb("test"), local, tmp_path / "report", prepared.default_as_of)
    rows = report.table[report.table["audience"] == ALL].set_index("campaign_id")
    arms = hillstrom_arms(pd.read_csv(HILLSTROM)).set_index("arm")
    for arm, truth in HILLSTROM_TRUTH.items():
        row, expected = rows.loc[campaign_id(arm)], arms.loc[arm]
        assert row["uplift_low"] <= truth <= row["uplift_high"]
        assert (row["treated"], row["control"]) == (expected["n_t"], expected["n_c"])
        assert row["uplift"] == pytest.approx(expected["conversion"], abs=1e-12)
        assert row["uplift_low"] == pytest.approx(expected["conversion_lo"], abs=1e-12)
        assert row["incremental_revenue_per_contact"] == pytest.approx(expected["spend"], abs=1e-6)
        visit_uplift = row["click_rate_treated"] - row["click_rate_control"]
        assert visit_uplift == pytest.approx(expected["visit"], abs=1e-12)  # visits are the clicks
        assert not row["thin"] and not row["no_control"]


def _bad_brand(out: Path) -> Path:
    """300 app accounts; C1 randomised (A000's wechat twin is a control), C2 without control, a late touch."""
    out.mkdir()
    ids = [f"A{i:03d}" for i in range(300)]
    accounts = pd.DataFrame(
        {"channel": "app", "account_id": ids, "phone_hash": [f"P{i}" for i in range(300)]}
    )
    twin = pd.DataFrame({"channel": ["wechat"], "account_id": ["W000"], "phone_hash": ["P0"]})
    pd.concat([accounts, twin]).to_csv(out / "accounts.csv", index=False)
    buyers = ids[:60] + ids[150:160]  # treated 60/150 convert, control 10/50
    pd.DataFrame(
        {"order_id": [f"O{i}" for i in range(len(buyers))], "channel": "app", "account_id": buyers,
         "ordered_at": "2026-10-03 12:00", "amount": 100.0, "discount": 0.0, "coupon_used": False,
         "category": "x", "status": "paid"}
    ).to_csv(out / "orders.csv", index=False)  # fmt: skip
    c1 = [("C1", "app", a, "treatment" if i < 150 else "control") for i, a in enumerate(ids[:200])]
    rows = [*c1, ("C1", "wechat", "W000", "control"), *(("C2", "app", a, "treatment") for a in ids[200:])]
    touches = pd.DataFrame(rows, columns=["campaign_id", "channel", "account_id", "group"])
    touches = touches.assign(touched_at="2026-10-01 10:00", cost=1.0, audience="returning_customer",
                             delivery="private_domain", promotion="none", communication="sms",
                             activity="member_day")  # fmt: skip
    late = touches.iloc[[0]].assign(campaign_id="C3", touched_at="2026-12-01 10:00")
    pd.concat([touches, late]).to_csv(out / "campaign_touches.csv", index=False)
    return out


def test_cli_flags_bad_campaign_data(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    brand = _bad_brand(tmp_path / "bad")
    home = with_empty_store(tmp_path_factory, tmp_path / "home")
    env = {**os.environ, "MEMBERWISE_HOME": str(home), "COLUMNS": "200"}
    cli = [sys.executable, "-c", "from memberwise.cli import main; main()", "campaign-report"]
    args = ["--data", str(brand), "--out", str(tmp_path / "out"), "--snapshot-date", "2026-11-15"]
    result = subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "touches after the snapshot (rejected): 1" in result.stdout
    rows = pd.read_csv(tmp_path / "out" / "campaign_report.csv").query("audience == 'all'")
    c1, c2 = rows.set_index("campaign_id").loc["C1"], rows.set_index("campaign_id").loc["C2"]
    assert c1["conflicted_members"] == 1 and (c1["treated"], c1["control"]) == (149, 50)
    assert c1["uplift"] == pytest.approx(59 / 149 - 10 / 50)
    assert c2["no_control"] and np.isnan(c2["uplift"]) and c2["treated"] == 100
    assert "C3" not in set(rows.index)

    wrong = subprocess.run([*cli, *args, "--campaign", "NOPE"], capture_output=True, text=True, env=env)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "--campaign NOPE" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
