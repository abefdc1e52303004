"""Personas on a seeded demo brand: recovery of the planted personas, evidence in MLflow, the gate."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from memberwise import registry
from memberwise.config import PersonasConfig, PersonasGateConfig
from memberwise.features import build_features
from memberwise.modeling.personas import PersonaModel
from memberwise.pipelines.personas import promote_personas, train_personas
from memberwise.pipelines.prepare import prepare
from memberwise.registry import CHALLENGER, CHAMPION, PERSONAS_MODEL, configure, version_by_alias
from memberwise.settings import Settings
from tests.conftest import fresh_settings

AS_OF = date(2026, 11, 16)


@pytest.fixture(scope="module")
def brand(model_brand: Path) -> Path:
    return model_brand


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fresh_settings(tmp_path_factory, "home")


@pytest.fixture(scope="module")
def prepared(brand: Path, settings: Settings):  # noqa: ANN201
    return prepare(brand, settings)


@pytest.fixture(scope="module")
def features(prepared) -> pd.DataFrame:  # noqa: ANN001
    return build_features(prepared.warehouse, AS_OF)


@pytest.fixture(scope="module")
def fitted(features: pd.DataFrame) -> PersonaModel:
    """One fit of the default model, read by the tests that check what it found (fit, not retrained each)."""
    return PersonaModel().fit(features)


def _planted(brand: Path, prepared) -> pd.Series:  # noqa: ANN001
    """The planted persona of each member (via the person behind its accounts)."""
    owners = pd.read_parquet(brand / "truth" / "account_person.parquet")
    people = pd.read_parquet(brand / "truth" / "people.parquet")[["person_id", "persona"]]
    owned = prepared.identity.member_map.merge(owners, on=["channel", "account_id"])
    owned = owned.merge(people, on="person_id")
    return owned.groupby("member_id")["persona"].first()


def test_recovers_the_planted_personas(
    brand: Path,
    prepared,  # noqa: ANN001
    features: pd.DataFrame,
    fitted: PersonaModel,
) -> None:
    model = fitted
    assigned = model.assign(features).dropna(subset=["persona_id"])
    planted = _planted(brand, prepared).reindex(assigned["member_id"])
    assert model.k_ == 4
    assert adjusted_rand_score(planted, assigned["persona_id"].astype(int)) >= 0.7
    # The gift-store persona is the one named for gifts, and it carries the highest order value.
    gift = model.personas_.loc[model.personas_["name"].str.contains("Gift buyers")]
    assert len(gift) == 1 and gift["avg_order_value"].iloc[0] == model.personas_["avg_order_value"].max()
    members_of_gift = assigned.loc[assigned["persona_id"] == gift["persona_id"].iloc[0], "member_id"]
    assert (_planted(brand, prepared).reindex(members_of_gift) == "gift_store").mean() > 0.85


def test_names_are_distinct_and_deterministic(features: pd.DataFrame, fitted: PersonaModel) -> None:
    first, second = fitted, PersonaModel().fit(features)  # two independent fits of the same features
    assert first.personas_["name"].is_unique
    assert first.personas_["name"].tolist() == second.personas_["name"].tolist()
    assert first.personas_["description"].tolist() == second.personas_["description"].tolist()
    assert first.personas_["members"].is_monotonic_decreasing  # ids ordered by size
    assert first.personas_["member_share"].sum() == pytest.approx(1.0)
    assert first.personas_["revenue_share"].sum() == pytest.approx(1.0)


def test_members_without_recent_orders_get_no_persona(features: pd.DataFrame, fitted: PersonaModel) -> None:
    assigned = fitted.assign(features)
    no_orders = features["orders_365d"].fillna(0).to_numpy() == 0
    assert no_orders.any() and assigned.loc[no_orders, "persona_id"].isna().all()
    assert assigned.loc[~no_orders, "persona_id"].notna().all()
    assert assigned.loc[no_orders, "persona"].isna().all()


def test_train_logs_evidence_registers_and_gates(prepared, settings: Settings, features) -> None:  # noqa: ANN001
    result = train_personas(prepared.warehouse, AS_OF, PersonasConfig(), settings, features=features)
    client = configure(settings)
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "figures")}
    assert {
        "figures/k_selection.png",
        "figures/profile_heatmap.png",
        "figures/projection_pca.png",
        "figures/size_and_revenue.png",
    } <= artifacts
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["k"] == 4 and run.data.metrics["stability_ari"] >= 0.8
    assert version_by_alias(client, "personas", CHALLENGER) == result.model_version

    first = promote_personas(prepared.warehouse, AS_OF, PersonasConfig(), settings, features=features)
    assert first.approved, first.reasons
    # What a release switch does with an approved challenger (release switching: test_release).
    client.set_registered_model_alias(PERSONAS_MODEL, CHAMPION, first.serving)
    loaded = registry.load("personas", result.model_version)
    pd.testing.assert_frame_equal(loaded.assign(features), result.model.assign(features))

    # A challenger judged by a stricter rule is rejected and the champion stays.
    strict = PersonasConfig(gate=PersonasGateConfig(min_cluster_share=0.5))
    second = train_personas(prepared.warehouse, AS_OF, strict, settings, features=features)
    decision = promote_personas(prepared.warehouse, AS_OF, strict, settings, features=features)
    assert not decision.approved and "smallest persona" in decision.reasons[0]
    assert decision.metrics["champion_agreement_ari"] == pytest.approx(1.0)
    assert decision.serving == result.model_version
    assert second.model_version != result.model_version
