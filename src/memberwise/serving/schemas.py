"""Request and response bodies of the HTTP service (API contract v1, see DESIGN.md).

Validation happens here, before any model code runs: wrong types, missing fields, NaN/inf numbers,
numbers out of their feature's range, empty or oversized lists and unknown fields are rejected with a
4xx naming the field. Numbers are strict (a string is never silently read as a number) and bounded
(|x| <= 1e12), so no model arithmetic can overflow to inf (two 1e308 shares once did, and answered 500).

`FeatureRecord` is generated from the feature catalogue (`memberwise.catalogue`), so the OpenAPI page lists
every feature with its documentation; whether a record carries all the columns the *loaded* model
needs is checked by the service (422 naming the missing columns).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    create_model,
    model_serializer,
    model_validator,
)

from memberwise.catalogue import FEATURE_COLUMNS, feature_kind

MAX_ITEMS = 10_000  # members per request
MAX_LIMIT = 100_000  # members per /select answer

MAX_MAGNITUDE = 1e12  # beyond any real count, day span or amount; squares of it stay finite

# Strict, finite and bounded: "12", NaN or 1e308 where a number is expected is an error, not a coercion.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True, max_length=200)]
Ranking = Literal["propensity", "uplift"]
MemberId = Annotated[str, Field(strict=True, min_length=1, max_length=200)]

_KIND_TYPES: dict[str, Any] = {"text": Text, "flag": Flag, "date": Text}
# Numeric features that are counts, day spans or amounts: never negative.
_NON_NEGATIVE = (
    "age", "tenure_days", "days_since_", "orders_", "revenue_", "avg_order_value", "category_count_",
    "refunded_orders_", "interactions_", "checkins_",
)  # fmt: skip


def feature_bounds(column: str) -> tuple[float, float]:
    """The valid range of a numeric feature (rejecting what the feature SQL can never produce).

    Shares and rates lie in [0, 1], RFM scores in [1, 5]; counts, day spans and amounts are >= 0;
    anything else lies within +-MAX_MAGNITUDE.
    """
    if "_share_" in column or column.startswith("discount_rate_"):
        return 0.0, 1.0
    if column in ("r_score", "f_score", "m_score"):
        return 1.0, 5.0
    if column.startswith(_NON_NEGATIVE):
        return 0.0, MAX_MAGNITUDE
    return -MAX_MAGNITUDE, MAX_MAGNITUDE


def _feature_type(column: str) -> Any:
    kind = feature_kind(column)
    if kind != "number":
        return _KIND_TYPES[kind]
    low, high = feature_bounds(column)
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]


class _FeatureRecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


_FEATURE_FIELDS: dict[str, Any] = {
    "preferred_channel": (
        Text | None,
        Field(None, description="Optional: echoed in the answer (the service does not derive it)."),
    ),
    **{
        column: (_feature_type(column) | None, Field(None, description=text))
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
    rank_by: Ranking = Field(
        "propensity",
        description=(
            "Order by propensity score (default) or by predicted uplift of the release's planned strategy. "
            "Uplift is used only when the release has uplift predictions and its uplift model beat "
            "propensity targeting on held-out campaigns; the answer's `ranked_by` and `ranking_reason` say "
            "what was used. Ranked by uplift, members with no positive uplift are left out and `threshold` "
            "filters scores only when given."
        ),
    )


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
    uplift: float | None = Field(
        None, description="Predicted conversion uplift of a contact (absent without uplift predictions)."
    )

    @model_serializer(mode="wrap")
    def _uplift_when_known(self, handler: SerializerFunctionWrapHandler):  # noqa: ANN202 - keeps the schema
        """Without uplift predictions a member answers exactly as before (no `uplift` key)."""
        data = handler(self)
        if data.get("uplift") is None:
            data.pop("uplift", None)
        return data


class SelectResponse(BaseModel):
    """Answer of /select: the audience, highest score (or uplift, see `ranked_by`) first."""

    count: int = Field(description="Members matching the filters, before `limit`.")
    members: list[SelectedMember]
    model_versions: ModelVersions
    ranked_by: Ranking = Field("propensity", description="The ranking used: propensity or uplift.")
    ranking_reason: str = Field("", description="Why that ranking was used (e.g. the held-out Qini verdict).")


class GapRequest(_Request):
    """A KPI period and, optionally, its revenue target."""

    period: Annotated[str, Field(strict=True, pattern=r"^\d{4}(-[QqHh][1-4])?$", max_length=7)] = Field(
        description="A year (2026), quarter (2026-Q3) or half (2026-H2)."
    )
    target: Number | None = Field(
        None, ge=1, description="Revenue target, at least 1 (default: the kpi_targets row)."
    )  # a tiny target once made achievement_rate overflow to inf (500)


class AudienceGap(BaseModel):
    """One audience's part of the projection."""

    audience: str
    actual_to_date: float
    forecast_rest: float
    forecast_rest_q10: float
    forecast_rest_q90: float
    projected_total: float
    model: str | None = Field(
        None, description="The forecaster chosen for this audience by the backtest tournament (e.g. 'ets')."
    )


class WeekForecast(BaseModel):
    """One audience's forecast for one week of the rest of the period (whole week)."""

    week: str = Field(description="The week's Monday.")
    audience: str
    model: str | None = Field(None, description="The forecaster chosen for this audience.")
    q10: float
    q50: float
    q90: float


class GapResponse(BaseModel):
    """Answer of /gap: actual to date + champion forecast for the rest of the period, against the target."""

    period: str
    cutoff: str = Field(description="Actuals are the weeks before this Monday; the forecast starts there.")
    target: float
    actual_to_date: float
    forecast_rest: float = Field(description="Median forecast for the rest of the period.")
    forecast_rest_q10: float
    forecast_rest_q90: float
    projected_total: float
    achievement_rate: float = Field(description="projected_total / target.")
    gap: float = Field(description="target - projected_total (> 0: revenue still missing).")
    p_meet_target: float = Field(description="Probability of reaching the target (forecast quantiles).")
    per_audience: list[AudienceGap]
    forecast_weeks: list[WeekForecast] = Field(
        default_factory=list, description="The weekly forward forecast behind forecast_rest, per audience."
    )
    model_versions: ModelVersions


class AllocateRequest(_Request):
    """A what-if budget plan, re-solved on the latest retrain's campaign-response estimates."""

    budget: Number | None = Field(
        None, ge=0, description="Total budget for the planning period (required for max-revenue)."
    )
    mode: Literal["max-revenue", "close-gap"] = Field(
        "max-revenue", description="Maximise incremental revenue, or close the KPI gap at least cost."
    )
    gap_target: Number | None = Field(
        None, ge=0, description="close-gap: incremental revenue to reach (default: the current year's gap)."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Constraint changes: fatigue_k, min_roi, capacities {channel: units per week}, "
        "spend_limits [{dimension, value, min, max}].",
    )

    @model_validator(mode="after")
    def _budget_for_revenue(self) -> AllocateRequest:
        if self.mode == "max-revenue" and self.budget is None:
            raise ValueError("max-revenue needs a `budget`")
        return self


class PlanRow(BaseModel):
    """Contacts for one (audience, propensity tier, strategy) cell."""

    audience: str
    tier: str
    delivery: str
    promotion: str
    communication: str
    activity: str
    contacts: float
    spend: float
    incremental_revenue: float
    incremental_conversions: float
    roi: float


class BindingConstraint(BaseModel):
    """A constraint the plan runs into, and what one more unit of it is worth."""

    name: str
    shadow_price: float = Field(description="Objective change per unit more of the limit.")


class AllocateResponse(BaseModel):
    """Answer of /allocate: the plan, its totals, what limits it, and messages in words."""

    status: str
    mode: str
    plan: list[PlanRow]
    totals: dict[str, float | None] = Field(description="Spend, revenue, conversions, contacts, ROI.")
    binding_constraints: list[BindingConstraint]
    shadow_prices: dict[str, float] = Field(description="Every constraint's shadow price, by name.")
    missing_budget: float | None = Field(None, description="close-gap: budget missing to close the gap.")
    messages: list[str]
    gap_target: float | None = None


class ErrorResponse(BaseModel):
    """A 4xx/5xx answer: what is wrong, and per-field details when there are some."""

    error: str
    detail: list[dict[str, Any]] = Field(default_factory=list)
