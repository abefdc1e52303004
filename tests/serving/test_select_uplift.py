"""/select rank_by: uplift ranking only when the release carries uplift predictions and a winning verdict.

In-process on the generated snapshot of test_state (stub propensity model); the uplift column is planted
to disagree with the score, so which ranking was used is visible in the order.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from memberwise.serving.loading import Champion
from memberwise.serving.schemas import SelectRequest
from memberwise.serving.state import ServingState
from memberwise.snapshot import SnapshotMeta
from tests.serving.conftest import Served
from tests.serving.test_state import THRESHOLD, StubModel, snapshot

WON = {"uplift_wins": True, "reason": "Qini 0.0095 vs propensity 0.0018"}
LOST = {"uplift_wins": False, "reason": "Qini 0.0010 vs propensity 0.0030"}
UNLEARNT = {"uplift_wins": False, "reason": "no uplift model: the data has no campaign_touches"}


def _state(frame: pd.DataFrame, verdict: dict[str, object] | None) -> ServingState:
    meta = SnapshotMeta("2026-11-16", "1", THRESHOLD, len(frame), int(frame["selected"].sum()))
    return ServingState(Champion(StubModel(), "1"), frame, meta, uplift_verdict=verdict)  # type: ignore[arg-type]


@pytest.fixture()
def frame() -> pd.DataFrame:
    """Uplift falls as the score rises (sure things on top), a tenth of the members would be put off."""
    frame = snapshot(members=400, seed=1)
    uplift = 0.2 - frame["probability"].to_numpy() * 0.25
    uplift[::10] = -0.05
    return frame.assign(uplift=uplift)


def test_uplift_ranking_when_the_verdict_allows(frame: pd.DataFrame) -> None:
    answer = _state(frame, WON).select(SelectRequest(rank_by="uplift", limit=50))
    assert answer.ranked_by == "uplift" and "Qini 0.0095" in answer.ranking_reason
    expected = frame[frame["uplift"] > 0].sort_values(["uplift", "member_id"], ascending=[False, True])
    assert answer.count == len(expected)  # no score threshold unless asked; put-off members left out
    assert [m.member_id for m in answer.members] == expected["member_id"].head(50).tolist()
    assert [m.uplift for m in answer.members] == pytest.approx(expected["uplift"].head(50).tolist())
    filtered = _state(frame, WON).select(SelectRequest(rank_by="uplift", threshold=30, limit=100_000))
    chosen = frame.set_index("member_id").loc[[m.member_id for m in filtered.members]]
    assert (chosen["score"] > 30).all() and (chosen["uplift"] > 0).all() and len(chosen) < answer.count


CASES = [
    (LOST, True, "did not win"),
    (None, True, "no uplift predictions"),
    (WON, False, "no uplift predictions"),
    (UNLEARNT, False, "(no uplift model: the data has no campaign_touches"),
]


@pytest.mark.parametrize(("verdict", "column", "why"), CASES)
def test_propensity_kept_and_said_so(
    frame: pd.DataFrame, verdict: dict | None, column: bool, why: str
) -> None:
    state = _state(frame if column else frame.drop(columns=["uplift"]), verdict)
    answer = state.select(SelectRequest(rank_by="uplift", limit=30))
    default = state.select(SelectRequest(limit=30))
    assert answer.ranked_by == "propensity" and why in answer.ranking_reason
    assert [m.member_id for m in answer.members] == [m.member_id for m in default.members]
    scores = [m.score for m in answer.members]
    assert scores == sorted(scores, reverse=True) and min(scores) > THRESHOLD


def test_default_answer_is_unchanged_without_uplift(frame: pd.DataFrame) -> None:
    """Existing clients see the same member records: no `uplift` key when the release has none."""
    answer = _state(frame.drop(columns=["uplift"]), None).select(SelectRequest(limit=3))
    member = json.loads(answer.model_dump_json())["members"][0]
    assert set(member) == {"member_id", "score", "lifecycle_stage", "preferred_channel", "persona"}
    body = json.loads(_state(frame, WON).select(SelectRequest(limit=3)).model_dump_json())
    assert body["ranked_by"] == "propensity" and "uplift" in body["members"][0]
    assert np.isfinite(body["members"][0]["uplift"])


def test_unknown_ranking_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="rank_by"):
        SelectRequest(rank_by="revenue")  # type: ignore[arg-type]


@pytest.mark.slow
def test_over_http_rank_by_is_passed_through_and_validated(served: Served) -> None:
    """The demo release has no uplift column: asked for uplift, the service keeps propensity and says so."""
    body = served.post("/select", {"rank_by": "uplift", "limit": 5}).json()
    assert body["ranked_by"] == "propensity" and "no uplift predictions" in body["ranking_reason"]
    assert body["members"] == served.post("/select", {"limit": 5}).json()["members"]
    refused = served.post("/select", {"rank_by": "revenue"})
    assert 400 <= refused.status_code < 500 and "rank_by" in refused.text
