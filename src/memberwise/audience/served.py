"""`POST /audience`: the rule answered from the served release's snapshot, one source per state.

The snapshot is copied into DuckDB once per served state (on the first /audience request after a
release is loaded) and dropped with it. Rule problems answer 422 naming the path; never a 500.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyarrow import ArrowException
from starlette.responses import Response

from memberwise import release
from memberwise.audience.query import AudienceSource, Breakdown, run
from memberwise.audience.rules import RuleError, parse_rule
from memberwise.audience.snapshot import release_purchases, snapshot_source
from memberwise.errors import MemberwiseError
from memberwise.serving.audience_schemas import AudienceCount, AudienceRequest, AudienceResponse
from memberwise.serving.middleware import error_response
from memberwise.settings import Settings

if TYPE_CHECKING:
    from memberwise.serving.state import ServingState

log = logging.getLogger("memberwise.serving")
_sources: weakref.WeakKeyDictionary[ServingState, AudienceSource] = weakref.WeakKeyDictionary()
_building = threading.Lock()


def state_frame(state: ServingState) -> pd.DataFrame:
    """The served snapshot as one frame: the member features and the model outputs the state holds."""
    return state.features.assign(
        score=state.scores,
        selected=state.selected,
        persona=pd.array(state.persona, dtype="string"),
        persona_id=pd.array(state.persona_id, dtype="Int64"),
        preferred_channel=pd.array(state.channel, dtype="string"),
    )


def source_for(state: ServingState, settings: Settings) -> AudienceSource:
    """The audience source of a served state, built on first use.

    Purchases by category come from the current release when it is the one this state was built from.
    """
    with _building:
        source = _sources.get(state)
        if source is None:
            purchases, name = _purchases(state, settings)
            source = snapshot_source(state_frame(state), purchases, name)
            _sources[state] = source
        return source


def _purchases(state: ServingState, settings: Settings) -> tuple[pd.DataFrame | None, str]:
    """The state's release's purchases by category (None when it ships none or they cannot be read)."""
    try:
        current = release.current(settings)
        if current is None or current.manifest.snapshot_meta != state.meta:
            return None, "the served release"
        return release_purchases(current.path), f"release {current.id}"
    except (MemberwiseError, OSError, ValueError, ArrowException) as err:  # answer the rest, log why
        log.warning("/audience answers without purchases by category: %s", err)
        return None, "the served release"


def answer(
    state: ServingState, settings: Settings, rule: dict[str, Any], offset: int, limit: int
) -> AudienceResponse | Response:
    """The /audience response, or a 422 naming what in the rule is wrong."""
    request = AudienceRequest(rule=rule, offset=offset, limit=limit)
    try:
        parsed = parse_rule(request.rule)
        source = source_for(state, settings)
        found = run(source, parsed, request.offset, request.limit)
    except RuleError as err:
        return error_response(422, str(err))
    return AudienceResponse(
        count=found.count,
        by_lifecycle_stage=_counts(found.by_lifecycle_stage),
        by_persona=_counts(found.by_persona),
        member_ids=found.member_ids,
        offset=request.offset,
        limit=request.limit,
        as_of=source.as_of,
        model_versions=state.snapshot_versions,
    )


def _counts(breakdown: Breakdown) -> list[AudienceCount]:
    return [AudienceCount(value=value, members=n) for value, n in breakdown]
