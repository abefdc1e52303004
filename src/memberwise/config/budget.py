"""The pydantic models of the budget YAML (strategies.yaml): strategy catalog, capacities, LP limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from memberwise.config.models import StrictModel
from memberwise.errors import MemberwiseError


class CapacityConfig(StrictModel):
    """A channel's weekly limit, e.g. SMS sent, AI-call minutes, WeCom chats per advisor x advisors."""

    per_week: float = Field(gt=0, description="Units per week (per advisor when `advisors` is set)")
    advisors: int | None = Field(None, ge=1, description="Multiplies per_week (WeCom 1:1: chats per advisor)")
    unit: str = "contacts"
    per_contact: float = Field(1.0, gt=0, description="Units one contact uses (e.g. 2 AI-call minutes)")

    def units(self, weeks: int) -> float:
        """Units available in a planning period of `weeks`."""
        return self.per_week * (self.advisors or 1) * weeks


class StrategyOption(StrictModel):
    """One value of a strategy dimension: what a contact costs, its capacity, whom it may target."""

    cost_per_contact: float = Field(0.0, ge=0)
    face_value: float = Field(0.0, ge=0, description="Coupon face value (promotions)")
    redemption_rate: float = Field(0.0, ge=0, le=1, description="Expected share of coupons redeemed")
    capacity: CapacityConfig | None = None
    audiences: list[str] | None = Field(None, description="Audiences it may target (default: all)")

    @property
    def cost(self) -> float:
        """Cost per contact including the expected promotion cost (face value x redemption)."""
        return self.cost_per_contact + self.face_value * self.redemption_rate


class StrategyCatalog(StrictModel):
    """Strategies are delivery x promotion x communication x activity; each option priced per contact."""

    delivery: dict[str, StrategyOption]
    promotion: dict[str, StrategyOption]
    communication: dict[str, StrategyOption]
    activity: dict[str, StrategyOption]

    @model_validator(mode="after")
    def _known_values(self) -> StrategyCatalog:
        from memberwise.data.contract import ACTIVITIES, AUDIENCES, COMMUNICATIONS, DELIVERIES, PROMOTIONS

        allowed = {"delivery": DELIVERIES, "promotion": PROMOTIONS, "communication": COMMUNICATIONS,
                   "activity": ACTIVITIES}  # fmt: skip
        for dim, known in allowed.items():
            for value, option in getattr(self, dim).items():
                if value not in known:
                    raise ValueError(f"{dim}.{value}: unknown (one of {', '.join(known)})")
                bad = set(option.audiences or []) - set(AUDIENCES)
                if bad:
                    raise ValueError(f"{dim}.{value}.audiences: unknown {', '.join(sorted(bad))}")
        return self


def _default_catalog() -> StrategyCatalog:
    """The demo brand's prices (data/demo/brand.py COST_*), no capacities: BudgetConfig's built-in default."""
    from memberwise.data.demo import COST_COMMUNICATION, COST_DELIVERY, COST_PROMOTION

    from_costs = lambda costs: {k: StrategyOption(cost_per_contact=v) for k, v in costs.items()}  # noqa: E731
    return StrategyCatalog(
        delivery=from_costs(COST_DELIVERY), promotion=from_costs(COST_PROMOTION),
        communication=from_costs(COST_COMMUNICATION),
        activity={a: StrategyOption() for a in ("repurchase_coupon", "new_product_trial", "member_day",
                                                "points_redemption")},
    )  # fmt: skip


class SpendLimitConfig(StrictModel):
    """Minimum and/or maximum spend on one value of a dimension (audience or a strategy dimension)."""

    dimension: Literal["audience", "delivery", "promotion", "communication", "activity"]
    value: str
    min: float = Field(0.0, ge=0)
    max: float | None = Field(None, ge=0)


class BudgetConfig(StrictModel):
    """Everything that defines a budget run: catalog, response estimation, tiers and LP constraints."""

    catalog: StrategyCatalog = Field(default_factory=_default_catalog)
    period_weeks: int = Field(4, ge=1, le=52, description="Planning period; capacities are per week")
    response_window_days: int = Field(14, ge=1, le=90)
    max_tiers: int = Field(10, ge=1, le=20, description="Propensity bands per audience at most (deciles)")
    min_controls_per_tier: int = Field(
        200, ge=10, description="Fewer bands when the control touches per audience and band would drop below"
    )
    default_budget: float = Field(200_000, gt=0, description="Budget of the plan each retrain produces")
    fatigue_k: int = Field(2, ge=1, description="Touches per member in the period at most")
    min_roi: float | None = Field(None, ge=0, description="Incremental revenue per yuan spent, at least")
    spend_limits: list[SpendLimitConfig] = []
    budget_curve: list[float] = Field(
        [0.25, 0.5, 0.75, 1.0, 1.5, 2.0], description="Budget multiples re-solved for the marginal-value plot"
    )


class BudgetOverrides(StrictModel):
    """What-if changes to a budget run (the service's `overrides`): only these fields may change."""

    fatigue_k: int | None = Field(None, ge=1)
    min_roi: float | None = Field(None, ge=0)
    capacities: dict[str, float] = Field({}, description="communication value -> units per week")
    spend_limits: list[SpendLimitConfig] | None = None

    def apply(self, config: BudgetConfig) -> BudgetConfig:
        """The config with these overrides; an unknown or capacity-less channel is an error."""
        catalog = config.catalog
        channels = dict(catalog.communication)
        for name, per_week in self.capacities.items():
            option = channels.get(name)
            if option is None or option.capacity is None:
                raise MemberwiseError(f"overrides.capacities.{name}: no capacity defined for this channel")
            capacity = option.capacity.model_copy(update={"per_week": per_week, "advisors": None})
            channels[name] = option.model_copy(update={"capacity": capacity})
        update: dict[str, object] = {"catalog": catalog.model_copy(update={"communication": channels})}
        changed = ("fatigue_k", "min_roi", "spend_limits")
        update |= {k: v for k in changed if (v := getattr(self, k)) is not None}
        return config.model_copy(update=update)
