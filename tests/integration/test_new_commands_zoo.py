"""The newest commands on brands unlike the demo: no campaigns, few campaigns, a release made elsewhere.

Each test plants one situation the zoo sweep met (docs/demo-zoo.md) and checks the command answers it
in one honest line or an honest empty result, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest

from memberwise import registry
from memberwise.data.demo import DemoConfig
from memberwise.data.hillstrom import write_hillstrom
from memberwise.errors import MemberwiseError
from memberwise.modeling.response import HILLSTROM_CONTROL
from memberwise.pipelines import uplift_release
from memberwise.pipelines.planning import PlanSummary
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.score import serving_models
from memberwise.pipelines.uplift import propensity_of, split_in_time, touch_history, verdict_of
from memberwise.pipelines.uplift_release import release_uplift
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse
from tests.conftest import DEMO_SNAPSHOT_DAY, BrandOf, fresh_settings
from tests.integration.test_cli import CLI
from tests.integration.test_release import _publish

AS_OF = date(2026, 11, 16)


def test_score_loads_the_served_models_from_the_projects_registry(tmp_path: Path) -> None:
    """A fresh `memberwise score` process has MLflow on its default store until something configures it."""
    settings = Settings(home=tmp_path / "home", snapshot_date=DEMO_SNAPSHOT_DAY)
    published = _publish(settings, "served")
    elsewhere = f"sqlite:///{tmp_path / 'cwd-default.db'}"
    mlflow.set_tracking_uri(elsewhere)  # what a new process starts with (MLflow's default store)
    mlflow.set_registry_uri(elsewhere)
    models = serving_models(settings)
    assert models == published.models
    assert registry.load("personas", models["personas"]) == "served"


# ---- uplift in a release: a brand that cannot learn it still publishes, and the verdict says why ---------


@pytest.fixture(scope="module")
def one_campaign(brand_of: BrandOf, tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, Settings]:
    """A 1,000-person brand whose history holds a single campaign (nothing to hold out in time)."""
    out = brand_of(DemoConfig(members=1_000, seed=11, campaigns=1))
    settings = fresh_settings(tmp_path_factory, "one-campaign-home")
    return prepare(out, settings).duckdb("uplift"), settings


def _planned(plan: pd.DataFrame | None, problems: list[str]) -> PlanSummary:
    """A planning step's summary with only what release_uplift reads (a budget run's plan, the problems).

    Without the plan's touches (None), uplift reads them from the warehouse itself.
    """
    budget = (
        None
        if plan is None
        else SimpleNamespace(
            allocation=SimpleNamespace(plan=plan), members=None, touches=None, response_window_days=14
        )
    )
    return PlanSummary(inputs=None, budget=budget, problems=problems)  # type: ignore[arg-type]


SCORES = pd.DataFrame({"member_id": ["m1", "m2"], "score": [80.0, 20.0]})
A_PLAN = pd.DataFrame({"audience": ["returning_member"], "revenue_per_contact": [3.0]})


def test_a_release_without_a_budget_plan_says_why_propensity_ranks() -> None:
    problem = "budget plan: no campaign touches with a control group and a complete response window"
    kept = release_uplift(None, AS_OF, None, "manual", None, SCORES, _planned(None, [problem]))  # type: ignore[arg-type]
    assert kept.scores is SCORES and "uplift" not in kept.scores.columns
    assert kept.verdict["uplift_wins"] is False
    assert problem in kept.verdict["reason"] and kept.verdict["reason"].endswith("ranked by propensity")


def test_one_campaign_cannot_be_judged_in_time_and_the_verdict_says_so(one_campaign) -> None:  # noqa: ANN001
    wh, settings = one_campaign
    kept = release_uplift(wh, AS_OF, settings, "manual", None, SCORES, _planned(A_PLAN, []))  # type: ignore[arg-type]
    assert kept.verdict["uplift_wins"] is False and kept.verdict["holdout_touches"] == 0
    assert "at least two campaigns" in kept.verdict["reason"]


def test_an_uplift_failure_never_costs_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("Input contains NaN")

    monkeypatch.setattr(uplift_release, "train_uplift", broken)
    kept = release_uplift(None, AS_OF, None, "manual", None, SCORES, _planned(A_PLAN, []))  # type: ignore[arg-type]
    assert kept.scores is SCORES and "ValueError: Input contains NaN" in kept.verdict["reason"]
    monkeypatch.setattr(uplift_release, "train_uplift", lambda *args, **kwargs: SimpleNamespace(model=None))
    monkeypatch.setattr(uplift_release, "plan_uplift", broken)  # learnt, but a planned cell cannot be scored
    kept = release_uplift(None, AS_OF, None, "manual", None, SCORES, _planned(A_PLAN, []))  # type: ignore[arg-type]
    assert kept.scores is SCORES and "ValueError: Input contains NaN" in kept.verdict["reason"]


# ---- the commands on a brand with no campaigns (the zoo's one_channel: accounts, orders, targets) -------


@pytest.fixture(scope="module")
def no_campaigns(brand_of: BrandOf) -> Path:
    """The zoo tests' one_channel brand: accounts, orders and KPI targets only."""
    return brand_of(DemoConfig(members=3_000, seed=11, profile="one_channel"))


def _cli(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "MEMBERWISE_HOME": str(home)}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def test_campaign_report_without_campaign_touches_names_the_missing_table(
    no_campaigns: Path, tmp_path: Path
) -> None:
    done = _cli(tmp_path / "home", "campaign-report", "--data", no_campaigns, "--out", tmp_path / "report")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: the data has no campaign_touches table: there are no campaigns to measure"
    )


def test_uplift_without_campaign_touches_is_one_line(no_campaigns: Path, tmp_path: Path) -> None:
    done = _cli(tmp_path / "home", "uplift", "--data", no_campaigns)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: uplift needs campaign_touches")


def test_campaigns_without_a_control_group_cannot_teach_uplift() -> None:
    """Campaigns recorded without holding anyone out: a MemberwiseError naming the arm, not a bug."""
    days = pd.to_datetime(
        ["2026-01-05", "2026-01-06", "2026-03-02", "2026-03-03", "2026-06-01", "2026-06-02"]
    )
    history = pd.DataFrame(
        {
            "campaign_id": ["C1", "C1", "C2", "C2", "C3", "C3"],
            "group": ["treatment", "control", "treatment", "control", "treatment", "treatment"],
            "touched_at": days,
        }
    )
    with pytest.raises(MemberwiseError, match=r"latest campaigns \(held out\): they have no control touch"):
        split_in_time(history, 0.25)
    with pytest.raises(MemberwiseError, match=r"earlier campaigns \(learnt from\): they have no control"):
        split_in_time(history.assign(group="treatment"), 0.25)


def test_a_lead_that_is_not_reliable_is_not_called_a_win() -> None:
    """smooth_seasonal at 3,000 members: ahead on the held-out Qini in 88% of resamples, 90% needed."""
    top = {"uplift": 40.0, "propensity": 20.0, "random": 15.0}
    close = verdict_of({"uplift": 0.0107, "propensity": 0.0042, "random": 0.0}, top, "proxy", 5000, 0.88)
    assert not close.uplift_wins and "beats" not in close.reason
    assert close.reason.startswith("uplift ranking is ahead of, but not reliably, propensity and random")
    sure = verdict_of({"uplift": 0.0107, "propensity": 0.0042, "random": 0.0}, top, "proxy", 5000, 0.95)
    assert sure.uplift_wins and sure.reason.startswith("uplift ranking beats propensity and random")


# ---- a retrain judges uplift against the propensity model it publishes, not the outgoing champion -------


def test_a_release_judges_uplift_against_the_propensity_version_it_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Zoo sweep: every first retrain judged against the proxy (no champion alias until publish)."""
    seen: dict[str, object] = {}

    def recorded(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise MemberwiseError("stop here")

    monkeypatch.setattr(uplift_release, "train_uplift", recorded)
    scores = SCORES.assign(model_version="7")
    release_uplift(None, AS_OF, None, "manual", None, scores, _planned(A_PLAN, []))  # type: ignore[arg-type]
    assert seen["propensity_version"] == "7"


class _Constant:
    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.full(len(features), self.p)


def test_propensity_of_scores_with_the_version_asked_else_the_champion(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models = {"1": _Constant(0.1), "7": _Constant(0.7)}
    monkeypatch.setattr(registry, "version_by_alias", lambda client, kind, alias: "1")
    monkeypatch.setattr(registry, "load", lambda kind, version: models[version])
    settings = Settings(home=tmp_path, snapshot_date=DEMO_SNAPSHOT_DAY)
    holdout = pd.DataFrame({"member_id": ["m1", "m2"], "orders_365d": [1.0, 2.0]})
    asked, source = propensity_of(holdout, None, settings, "7")  # type: ignore[arg-type]
    assert source == "champion v7" and asked.tolist() == [0.7, 0.7]
    champion, source = propensity_of(holdout, None, settings)  # type: ignore[arg-type]
    assert source == "champion v1" and champion.tolist() == [0.1, 0.1]


def test_touches_of_members_unknown_before_the_touch_are_named_not_zero_campaigns(tmp_path: Path) -> None:
    """Hillstrom as mapped: no account or order before the e-mails, so no features to learn from."""
    rng = np.random.default_rng(8)
    n = 300
    frame = pd.DataFrame(
        {
            "segment": rng.choice(["Mens E-Mail", "Womens E-Mail", HILLSTROM_CONTROL], n),
            "visit": rng.random(n) < 0.15,
            "conversion": (rng.random(n) < 0.05).astype(int),
            "newbie": rng.integers(0, 2, n),
        }
    ).assign(spend=lambda f: 50.0 * f["conversion"])
    frame.to_csv(tmp_path / "hillstrom.csv", index=False)
    out = write_hillstrom(tmp_path / "hillstrom.csv", tmp_path / "hillstrom")
    wh = prepare(out, Settings(home=tmp_path / "home", snapshot_date=date(2008, 4, 30))).duckdb("uplift")
    with pytest.raises(MemberwiseError, match=r"none of the \d+ touches is of a member known before"):
        touch_history(wh, 14, date(2008, 5, 1), 200_000, 0)
