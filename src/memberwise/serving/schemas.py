"""Request and response bodies of the HTTP service (API contract v1, see DESIGN.md).

Validation happens here, before any model code runs: wrong types, missing fields, NaN/inf numbers,
empty or oversized lists and unknown fields are rejected with a 4xx naming the field. Numbers are
strict (a string is never silently read as a number).

`FeatureRecord` is generated from `memberwise.features.FEATURE_COLUMNS`, so the OpenAPI page lists
every feature with its documentation; whether a record carries all the columns the *loaded* model
needs is checked by the service (422 naming the missing columns).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from memberwise.features import FEATURE_COLUMNS

MAX_ITEMS = 10_000  # members per request
MAX_LIMIT = 100_000  # members per /select answer

# Strict and finite: "12" or NaN where a number is expected is an error, not a silent coercion.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True, max_length=200)]
MemberId = Annotated[str, Field(strict=True, min_length=1, max_length=200)]

# Feature columns by JSON type (the rest of FEATURE_COLUMNS are numbers).
TEXT_FEATURES = frozenset(
    {
        "member_id", "gender", "province", "city", "registration_channel", "tier", "lifecycle_stage",
        "customer_type", "activity_level", "promotion_sensitivity", "rfm_segment", "frequency_value_quadrant",
    }
)  # fmt: skip
FLAG_FEATURES = frozenset({"is_member", "has_purchased"})
DATE_FEATURES = frozenset({"as_of", "first_purchase_at"})  # not model inputs; accepted as ISO text


def feature_kind(column: str) -> str:
    """'text', 'flag', 'date' or 'number': the JSON type of a feature column."""
    if column in TEXT_FEATURES:
        return "text"
    if column in FLAG_FEATURES:
        return "flag"
    if column in DATE_FEATURES:
        return "date"
    return "number"


_KIND_TYPES: dict[str, Any] = {"text": Text, "flag": Flag, "date": Text, "number": Number}


class _FeatureRecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


_FEATURE_FIELDS: dict[str, Any] = {
    "preferred_channel": (
        Text | None,
        Field(None, description="Optional: echoed in the answer (the service does not derive it)."),
    ),
    **{
        column: (_KIND_TYPES[feature_kind(column)] | None, Field(None, description=text))
        for column, text in FEATURE_COLUMNS.items()
    },
}
FeatureRecord: type[BaseModel] = create_model(
    "FeatureRecord",
    __base__=_FeatureRecordBase,
    __doc__=(
        "One member's features as `memberwise features` computes them (null where the feature is null). "
        "Every column the served model uses must be present (null allowed); unknown fields are rejected."
    ),
    **_FEATURE_FIELDS,
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScoreRequest(_Request):
    """Members to look up in the latest score snapshot."""

    member_ids: list[MemberId] = Field(
        min_length=1, max_length=MAX_ITEMS, description=f"Member ids (1 to {MAX_ITEMS:,})."
    )


class ScoreFeaturesRequest(_Request):
    """Feature records to score live with the champion model."""

    members: list[FeatureRecord] = Field(
        min_length=1, max_length=MAX_ITEMS, description=f"Feature records (1 to {MAX_ITEMS:,})."
    )


class SelectRequest(_Request):
    """Filters for picking an audience from the latest score snapshot."""

    threshold: Number | None = Field(
        None,
        ge=0,
        le=100,
        description="Select scores strictly above this (default: the snapshot's threshold).",
    )
    lifecycle_stages: list[Text] = Field(
        default_factory=list, max_length=100, description="Keep only these lifecycle stages (empty: all)."
    )
    preferred_channels: list[Text] = Field(
        default_factory=list, max_length=100, description="Keep only these preferred channels (empty: all)."
    )
    personas: list[Text] = Field(
        default_factory=list,
        max_length=100,
        description="Keep only these personas, by name or id as text (empty: all).",
    )
    limit: int = Field(1000, strict=True, ge=1, le=MAX_LIMIT, description="Return at most this many members.")


ModelVersions = dict[str, str]
PERSONA_FIELD = "Persona name; null without a paid order in 365 days or before personas are promoted."


class PersonaRequest(_Request):
    """Members to describe: ids (looked up in the latest snapshot) or feature records (assigned live)."""

    member_ids: list[MemberId] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS, description=f"Member ids (1 to {MAX_ITEMS:,})."
    )
    members: list[FeatureRecord] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS, description="Feature records (1 to 10,000)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> PersonaRequest:
        if (self.member_ids is None) == (self.members is None):
            raise ValueError("send exactly one of `member_ids` or `members`")
        return self


class PersonaResult(BaseModel):
    """One member's persona."""

    member_id: str | None = None
    found: bool | None = Field(None, description="For member_ids: whether the id is in the snapshot.")
    persona_id: int | None = Field(None, description="0 = the largest persona; null when none applies.")
    persona: str | None = Field(None, description=PERSONA_FIELD)
    description: str | None = Field(None, description="The persona in one sentence.")


class PersonaResponse(BaseModel):
    """Answer of /persona: one result per requested member, in request order."""

    results: list[PersonaResult]
    model_versions: ModelVersions


class ScoreResult(BaseModel):
    """One member's score from the snapshot (nulls when the member is not found)."""

    member_id: str
    found: bool
    score: int | None = Field(None, description="0-100: calibrated repurchase probability x 100.")
    selected: bool | None = Field(None, description="score > threshold.")
    lifecycle_stage: str | None = None
    preferred_channel: str | None = None
    persona: str | None = Field(None, description=PERSONA_FIELD)
    reasons: list[str] | None = Field(None, description="Up to 3 features raising the score, in words.")


class ScoreResponse(BaseModel):
    """Answer of /score: one result per requested id, in request order."""

    results: list[ScoreResult]
    threshold: float
    model_versions: ModelVersions


class FeatureScoreResult(BaseModel):
    """One feature record's live score."""

    member_id: str | None = None
    score: int
    selected: bool
    lifecycle_stage: str | None = None
    preferred_channel: str | None = None
    persona: str | None = Field(None, description=PERSONA_FIELD)
    reasons: list[str]


class ScoreFeaturesResponse(BaseModel):
    """Answer of /score_features: one result per record, in request order."""

    results: list[FeatureScoreResult]
    threshold: float
    model_versions: ModelVersions


class SelectedMember(BaseModel):
    """A member of a selected audience."""

    member_id: str
    score: int
    lifecycle_stage: str | None = None
    preferred_channel: str | None = None
    persona: str | None = None


class SelectResponse(BaseModel):
    """Answer of /select: the audience, highest score first."""

    count: int = Field(description="Members matching the filters, before `limit`.")
    members: list[SelectedMember]
    model_versions: ModelVersions


class ErrorResponse(BaseModel):
    """A 4xx/5xx answer: what is wrong, and per-field details when there are some."""

    error: str
    detail: list[dict[str, Any]] = Field(default_factory=list)
