"""Uplift targeting on a demo brand with planted member-level uplift (sure things, persuadables, dogs).

The truth is each person's `uplift_weight` (truth/people.parquet) times the planted uplift of the touch's
cell: the incremental orders a contact causes. Rankings are judged on the held-out (latest) campaigns
against that truth, not only against the noisy held-out Qini.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from memberwise import registry
from memberwise.data.demo import DemoConfig, generate, uplift_table
from memberwise.errors import MemberwiseError
from memberwise.features import build_features
from memberwise.modeling.response import CELL
from memberwise.pipelines.campaign_outcomes import response_frame
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.uplift import (
    TOP_SHARE,
    TOUCH_COLUMNS,
    UpliftRun,
    member_uplift,
    plan_uplift,
    propensity_of,
    split_in_time,
    train_uplift,
    verdict_of,
    win_confidence,
)
from memberwise.warehouse import Warehouse
from tests.conftest import fresh_settings, with_empty_store

pytestmark = pytest.mark.slow
AS_OF = date(2026, 11, 16)


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Warehouse, pytest.TempPathFactory]:
    out = tmp_path_factory.mktemp("uplift-brand")
    generate(DemoConfig(members=20_000, seed=21, campaigns=120), out)
    settings = fresh_settings(tmp_path_factory, "uplift-home")
    return out, prepare(out, settings).duckdb("uplift"), settings


@pytest.fixture(scope="module")
def run(brand) -> UpliftRun:  # noqa: ANN001
    _, wh, settings = brand
    return train_uplift(wh, settings, AS_OF, seed=0)


@pytest.fixture(scope="module")
def member_truth(brand) -> pd.DataFrame:  # noqa: ANN001
    """member_id -> the planted response type and uplift weight of the person behind it."""
    out, wh, _ = brand
    owners = pd.read_parquet(out / "truth" / "account_person.parquet")
    people = pd.read_parquet(out / "truth" / "people.parquet")[
        ["person_id", "response_type", "uplift_weight"]
    ]
    members = wh.df("SELECT channel, account_id, member_id FROM member_map").merge(owners)
    return members.drop_duplicates("member_id").merge(people)[["member_id", "response_type", "uplift_weight"]]


@pytest.fixture(scope="module")
def features(brand) -> pd.DataFrame:  # noqa: ANN001
    """The members' features at AS_OF, built once and read by the tests that score strategies."""
    return build_features(brand[1], AS_OF)


def test_planted_response_types_show_in_the_outcomes(brand, member_truth: pd.DataFrame) -> None:  # noqa: ANN001
    _, wh, _ = brand
    touches = response_frame(wh, 14, AS_OF).merge(member_truth, on="member_id")
    rate = touches.groupby(["response_type", "group"])["converted"].mean().unstack()
    effect = rate["treatment"] - rate["control"]
    assert effect["persuadable"] > effect["ordinary"] + 0.05 > 0.05
    assert effect["sleeping_dog"] < 0 and abs(effect["sure_thing"]) < 0.03
    assert rate.loc["sure_thing", "control"] == rate["control"].max()  # they buy anyway: propensity's pick


def test_heterogeneity_keeps_the_planted_mean_uplift(brand) -> None:  # noqa: ANN001
    """Incremental orders per treated contact (vs its campaign's control mean) within 3 SE of the planted."""
    _, wh, _ = brand
    touches = response_frame(wh, 14, AS_OF).merge(uplift_table(), on=list(CELL))
    treated, control = touches[touches["group"] == "treatment"], touches[touches["group"] == "control"]
    control_mean = control.groupby("campaign_id")["orders"].agg(["mean", "var", "count"])
    measured = (treated["orders"] - treated["campaign_id"].map(control_mean["mean"])).mean()
    weight = treated["campaign_id"].value_counts(normalize=True)
    se = np.sqrt(
        treated["orders"].var() / len(treated)
        + (weight**2 * control_mean["var"] / control_mean["count"]).dropna().sum()
    )
    assert abs(measured - treated["incremental_orders_per_contact"].mean()) < 3 * se


def test_uplift_recovers_more_planted_increments_than_propensity_in_the_top_20(
    run: UpliftRun, member_truth: pd.DataFrame
) -> None:
    held = run.holdout.merge(member_truth, on="member_id").merge(uplift_table(), on=list(CELL))
    held["true_increment"] = held["uplift_weight"] * held["incremental_orders_per_contact"]
    k = int(TOP_SHARE * len(held))
    recovered = {r: held.nlargest(k, r)["true_increment"].sum() for r in ("uplift", "propensity")}
    random = TOP_SHARE * held["true_increment"].sum()
    assert recovered["uplift"] > 1.2 * recovered["propensity"] and recovered["uplift"] > 2 * random
    measured = run.verdict.incremental_top  # the same comparison on the held-out outcomes
    assert measured["uplift"] > max(measured["propensity"], measured["random"])


def test_verdict_and_logged_run(run: UpliftRun) -> None:
    verdict = run.verdict
    assert verdict.uplift_wins and verdict.qini["uplift"] > verdict.qini["propensity"]
    assert verdict.propensity_source == "proxy" and "beats propensity and random" in verdict.reason
    assert set(run.curves["ranking"]) == {"uplift", "propensity", "random"}
    logged = mlflow.get_run(run.run_id)
    assert logged.data.metrics["uplift_wins"] == 1.0
    assert logged.data.metrics["qini_uplift"] == pytest.approx(verdict.qini["uplift"])
    assert {"qini_propensity", "qini_random", "incremental_top20_uplift"} <= set(logged.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.run_id, "figures")}
    assert "figures/qini_curves.png" in artifacts


def test_member_uplift_for_a_planned_strategy(
    features: pd.DataFrame, run: UpliftRun, member_truth: pd.DataFrame
) -> None:
    strategy = {"audience": "returning_member", "delivery": "private_domain", "promotion": "small_coupon",
                "communication": "wecom", "activity": "repurchase_coupon"}  # fmt: skip
    uplift = member_uplift(run.model, features, strategy)
    assert len(uplift) == len(features) and np.isfinite(uplift).all()
    by_type = member_truth.set_index("member_id")["response_type"].reindex(uplift.index)
    mean = uplift.groupby(by_type.to_numpy()).mean()
    assert mean["persuadable"] > mean["ordinary"] > max(mean["sure_thing"], mean["sleeping_dog"])


def test_history_too_short_is_refused() -> None:
    one = pd.DataFrame({"campaign_id": ["c1", "c1"], "touched_at": pd.to_datetime(["2026-01-01"] * 2)})
    with pytest.raises(MemberwiseError, match="at least two campaigns"):
        split_in_time(one, 0.25)


def test_propensity_kept_when_uplift_loses() -> None:
    top = {"uplift": 10.0, "propensity": 30.0, "random": 20.0}
    lost = verdict_of({"uplift": 0.001, "propensity": 0.003, "random": 0.0}, top, "proxy", 100)
    assert not lost.uplift_wins and "does not beat propensity" in lost.reason
    below_random = verdict_of({"uplift": -0.001, "propensity": -0.003, "random": 0.0}, top, "proxy", 100)
    assert not below_random.uplift_wins and "does not beat random" in below_random.reason


class _Champion:
    """A champion with a known probability (orders in 365 days / 100); it must be sent features only."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        assert not {*TOUCH_COLUMNS, *CELL} & set(features.columns)
        return features["orders_365d"].astype(float).fillna(0).to_numpy() / 100


def test_propensity_from_the_champion_else_the_proxy(brand, features, run: UpliftRun, monkeypatch) -> None:  # noqa: ANN001
    settings = brand[2]
    held = features.head(200).drop(columns=["as_of"])
    held = held.assign(campaign_id="c", group="treatment", converted=0.0, touched_at=pd.Timestamp(AS_OF))
    held = held.assign(audience="returning_member", delivery="private_domain", promotion="none",
                       communication="sms", activity="member_day")  # fmt: skip
    proxy, source = propensity_of(held, run.model, settings)
    assert source == "proxy" and ((proxy > 0) & (proxy < 1)).all()
    monkeypatch.setattr(registry, "version_by_alias", lambda *_: "7")
    monkeypatch.setattr(registry, "load", lambda *_: _Champion())
    champion, source = propensity_of(held, run.model, settings)
    assert source == "champion v7"
    assert champion == pytest.approx(held["orders_365d"].astype(float).fillna(0).to_numpy() / 100)
    monkeypatch.setattr(registry, "load", lambda *_: None)  # a champion that cannot score
    fallback, source = propensity_of(held, run.model, settings)
    assert source == "proxy" and fallback == pytest.approx(proxy)


def test_plan_uplift_ranks_each_audience_by_its_leading_strategy(
    features: pd.DataFrame, run: UpliftRun
) -> None:
    members = features[["member_id"]].assign(
        audience=np.where(np.arange(len(features)) % 2, "new_member", "x")
    )
    strategy = {"delivery": "private_domain", "communication": "wecom", "activity": "member_day"}
    plan = pd.DataFrame(
        [("new_member", "deep_discount", 9.0), ("new_member", "none", 1.0)],
        columns=["audience", "promotion", "revenue_per_contact"],
    ).assign(**strategy)
    uplift = plan_uplift(run.model, features, members, plan)
    assert uplift.index.tolist() == members["member_id"].tolist()
    planned = members["audience"].eq("new_member").to_numpy()
    assert uplift[planned].notna().all() and uplift[~planned].isna().all()  # no planned cell: no uplift
    lead = member_uplift(
        run.model, features, {"audience": "new_member", "promotion": "deep_discount", **strategy}
    )
    assert uplift[planned].to_numpy() == pytest.approx(lead[planned].to_numpy())


def test_the_uplift_command_prints_the_figures_and_the_verdict(
    brand: tuple, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import os
    import subprocess
    import sys

    home = with_empty_store(tmp_path_factory, tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-m", "memberwise", "uplift", "--data", str(brand[0]),
         "--snapshot-date", "2026-11-15"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "MEMBERWISE_HOME": str(home), "COLUMNS": "200"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "held-out touches" in out.stdout
    assert all(name in out.stdout for name in ("uplift", "propensity", "random"))
    assert "uplift wins: uplift ranking beats propensity and random" in out.stdout


def test_a_lead_won_by_noise_does_not_switch_the_ranking() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    treated = rng.random(n) < 0.5
    moved = rng.random(n) < 0.5  # half the members respond to a contact (+20 points), half do not
    converted = (rng.random(n) < 0.1 + 0.2 * (treated & moved)).astype(float)
    frame = pd.DataFrame({"converted": converted, "group": np.where(treated, "treatment", "control")})
    informed = frame.assign(uplift=moved + rng.random(n) * 0.1, propensity=rng.random(n))
    assert win_confidence(informed) >= 0.99  # a real lead wins in (nearly) every resample
    blind = frame.assign(uplift=rng.random(n), propensity=rng.random(n))
    assert 0.05 < win_confidence(blind) < 0.95  # two random rankings: a coin toss, never a sure win
    top = {"uplift": 10.0, "propensity": 5.0, "random": 5.0}
    lucky = verdict_of({"uplift": 0.002, "propensity": 0.001, "random": 0.0}, top, "proxy", n, 0.6)
    assert not lucky.uplift_wins and "ahead in 60% of bootstrap resamples" in lucky.reason
