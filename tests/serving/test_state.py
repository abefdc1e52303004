"""The service's answers in-process (no server): ServingState on a generated snapshot with a stub model
whose probabilities and reasons are known, so every answer can be checked against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberwise.modeling.scores import score_from_probability
from memberwise.serving.loading import Champion
from memberwise.serving.schemas import FeatureRecord, SelectRequest
from memberwise.serving.state import PlanningUnavailable, ServingState, needed_columns, records_frame
from memberwise.snapshot import SnapshotMeta

THRESHOLD = 50.0
STAGES = ["active", "silent", "sleeping", "lost"]
CHANNELS = ["app", "pos", "tmall"]


class StubModel:
    """probability = spend_share_app_365d (0.5 when null); reasons name orders_365d; counts reasons calls."""

    use_bgnbd = False
    feature_names_ = ["spend_share_app_365d", "orders_365d"]

    def __init__(self) -> None:
        self.explained = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["spend_share_app_365d"].fillna(0.5).to_numpy(dtype=float)

    def reasons(self, frame: pd.DataFrame) -> list[list[str]]:
        self.explained += len(frame)
        return [[f"{int(v)} orders"] for v in frame["orders_365d"].fillna(0)]


def snapshot(members: int = 300, seed: int = 0) -> pd.DataFrame:
    """A snapshot as the retrain writes it, with half the reasons missing (computed on request)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, members)
    score = score_from_probability(p)
    persona_id = rng.integers(0, 3, members).astype(object)
    persona_id[rng.uniform(size=members) < 0.2] = None
    return pd.DataFrame(
        {
            "member_id": [f"m{i:04d}" for i in range(members)],
            "score": score,
            "probability": p,
            "selected": score > THRESHOLD,
            "lifecycle_stage": rng.choice(STAGES, members),
            "preferred_channel": rng.choice(CHANNELS, members),
            "persona_id": persona_id,
            "persona": [None if i is None else f"persona {i}" for i in persona_id],
            "reasons": [["stored reason"] if i % 2 == 0 else None for i in range(members)],
            "model_version": "1",
            "spend_share_app_365d": p,
            "orders_365d": rng.integers(0, 20, members).astype(float),
        }
    )


def state_of(frame: pd.DataFrame, model: StubModel | None = None) -> ServingState:
    meta = SnapshotMeta("2026-11-16", "1", THRESHOLD, len(frame), int(frame["selected"].sum()))
    return ServingState(Champion(model or StubModel(), "1"), frame, meta)  # type: ignore[arg-type]


@pytest.fixture()
def frame() -> pd.DataFrame:
    return snapshot()


def test_score_ids_answers_in_request_order_with_unknown_ids(frame: pd.DataFrame) -> None:
    state = state_of(frame)
    ids = ["m0007", "nobody", "m0000", "m0007"]
    results = state.score_ids(ids).results
    assert [r.member_id for r in results] == ids
    assert [r.found for r in results] == [True, False, True, True]
    row = frame.set_index("member_id").loc["m0007"]
    assert results[0].score == row["score"] and results[0].selected == row["selected"]
    assert results[0].lifecycle_stage == row["lifecycle_stage"]
    assert results[1].score is None and results[1].reasons is None


def test_duplicate_member_rows_keep_the_first(frame: pd.DataFrame) -> None:
    twin = frame.iloc[[3]].assign(score=0, selected=False)
    state = state_of(pd.concat([frame, twin], ignore_index=True))
    assert state.score_ids(["m0003"]).results[0].score == frame.loc[3, "score"]
    assert len(state.index) == len(frame)


def test_missing_reasons_are_computed_once_then_remembered(frame: pd.DataFrame) -> None:
    model = StubModel()
    state = state_of(frame, model)
    stored, missing = "m0002", "m0003"
    assert state.score_ids([stored]).results[0].reasons == ["stored reason"]
    assert model.explained == 0
    expected = [f"{int(frame.loc[3, 'orders_365d'])} orders"]
    assert state.score_ids([missing]).results[0].reasons == expected
    assert state.score_ids([missing]).results[0].reasons == expected
    assert model.explained == 1


def test_warm_reasons_fills_every_missing_member_up_to_the_limit(frame: pd.DataFrame) -> None:
    model = StubModel()
    state = state_of(frame, model)
    assert state.warm_reasons(limit=10, chunk=4) == 10
    assert sum(1 for words in state.reasons if not words) == len(frame) // 2 - 10
    state.warm_reasons(chunk=7)
    assert all(state.reasons) and model.explained == len(frame) // 2


def expected_selection(frame: pd.DataFrame, threshold: float, **filters: list[str]) -> pd.DataFrame:
    keep = frame["score"] > threshold
    for column, values in filters.items():
        keep &= frame[column].isin(values)
    return frame[keep].sort_values(["score", "member_id"], ascending=[False, True])


@pytest.mark.parametrize(
    ("request_", "threshold", "filters"),
    [
        (SelectRequest(), THRESHOLD, {}),
        (SelectRequest(threshold=80, limit=5), 80, {}),
        (
            SelectRequest(threshold=10, lifecycle_stages=["silent", "lost"]),
            10,
            {"lifecycle_stage": ["silent", "lost"]},
        ),
        (SelectRequest(threshold=0, preferred_channels=["pos"]), 0, {"preferred_channel": ["pos"]}),
        (SelectRequest(threshold=0, personas=["persona 1"]), 0, {"persona": ["persona 1"]}),
    ],
)
def test_select_matches_pandas(
    frame: pd.DataFrame, request_: SelectRequest, threshold: float, filters
) -> None:
    answer = state_of(frame).select(request_)
    expected = expected_selection(frame, threshold, **filters)
    assert answer.count == len(expected)
    assert [m.member_id for m in answer.members] == expected["member_id"].head(request_.limit).tolist()


def test_select_personas_by_id_as_text(frame: pd.DataFrame) -> None:
    by_id = state_of(frame).select(SelectRequest(threshold=0, personas=["2"]))
    by_name = state_of(frame).select(SelectRequest(threshold=0, personas=["persona 2"]))
    assert by_id.count == by_name.count > 0


def test_score_records_scores_with_the_one_score_rule(frame: pd.DataFrame) -> None:
    state = state_of(frame)
    shares = [0.285, 0.505, None, 1.0, 0.0]
    records = [
        {"member_id": f"r{i}", "spend_share_app_365d": s, "orders_365d": 3.0} for i, s in enumerate(shares)
    ]
    results = state.score_records(records).results
    expected = score_from_probability([0.5 if s is None else s for s in shares])
    assert [r.score for r in results] == expected.tolist()
    assert [r.score for r in results][:2] == [29, 51]  # halves round up, as everywhere else
    assert [r.selected for r in results] == [s > THRESHOLD for s in expected]
    assert results[0].reasons == ["3 orders"]


def test_missing_columns_name_each_record_and_column(frame: pd.DataFrame) -> None:
    state = state_of(frame)
    assert needed_columns(state.champion.model) == StubModel.feature_names_
    errors = state.missing_columns([{"spend_share_app_365d", "orders_365d"}, {"orders_365d"}, set()])
    assert [e["loc"] for e in errors] == [
        ["members", 1, "spend_share_app_365d"],
        ["members", 2, "spend_share_app_365d"],
        ["members", 2, "orders_365d"],
    ]


def test_records_frame_uses_the_feature_table_dtypes() -> None:
    records = [{"orders_365d": 2, "is_member": True, "tier": "gold"}, {"orders_365d": None}]
    frame = records_frame(records, ["orders_365d", "is_member", "tier"])
    assert frame["orders_365d"].dtype == "float64" and np.isnan(frame.loc[1, "orders_365d"])
    assert frame["is_member"].dtype == "boolean" and frame["tier"].dtype == "string"
    assert set(StubModel.feature_names_) <= set(FeatureRecord.model_fields)


def test_versions_and_planning_without_a_forecast(frame: pd.DataFrame) -> None:
    state = state_of(frame)
    assert state.snapshot_versions == state.live_versions == {"propensity": "1"}
    with pytest.raises(PlanningUnavailable):
        state.kpi_gap("2026", None)
