"""Request and response bodies of `POST /audience` (an audience from a tag rule, docs/audiences.md).

The rule itself is checked by `memberwise.audience.rules` (a 422 naming the path, tag and expected
type), not here: its messages say more than a JSON schema of a recursive union would.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memberwise.serving.schemas import MAX_LIMIT, ModelVersions

MAX_OFFSET = 1_000_000_000


class AudienceRequest(BaseModel):
    """A tag rule, and which page of the matching member ids to answer."""

    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any] = Field(
        description='A rule of docs/audiences.md, e.g. {"all": [{"tag": "city", "eq": "Beijing"}, '
        '{"tag": "interactions_90d", "gte": 3}, {"not": {"bought": {"category": "makeup", '
        '"within_days": 7}}}]}.'
    )
    offset: int = Field(0, strict=True, ge=0, le=MAX_OFFSET, description="Skip this many ids (by member_id).")
    limit: int = Field(
        1000, strict=True, ge=0, le=MAX_LIMIT, description="Answer at most this many ids (0: counts only)."
    )


class AudienceCount(BaseModel):
    """How many matching members take one value (null: none, e.g. no persona)."""

    value: str | None
    members: int


class AudienceResponse(BaseModel):
    """Answer of /audience: the count, its breakdown and one page of member ids sorted by member_id."""

    count: int = Field(description="Members matching the rule (all of them, not only this page).")
    by_lifecycle_stage: list[AudienceCount] = Field(description="Matching members per lifecycle stage.")
    by_persona: list[AudienceCount] = Field(description="Matching members per persona name.")
    member_ids: list[str] = Field(description="Ids offset..offset+limit of the matches, by member_id.")
    offset: int
    limit: int
    as_of: str = Field(description="The cutoff of the snapshot the tags were computed at.")
    model_versions: ModelVersions
