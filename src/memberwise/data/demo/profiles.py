"""Named demo brands (the zoo): documented sets of generator parameters, so models are tested off the demo.

Every profile is the same generator with other parameters; each field of `Profile` is a knob and names
the module that reads it. `demo` keeps every default (today's brand, byte for byte). docs/demo-zoo.md
lists the profiles with their measured statistics. A brand "to the end of its year" is any profile with
`end="YYYY-12-31"` (CLI `--end`): start, truth date and KPI targets follow the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from memberwise.data.contract import CHANNELS
from memberwise.data.demo.brand import PEAK_EFFECT, SHARE

DEMO_HISTORY_DAYS = 1413  # 2023-01-02 .. 2026-11-15, the demo brand's period


@dataclass(frozen=True)
class Profile:
    """Generator parameters of one kind of brand (defaults = the demo brand)."""

    summary: str
    history_days: int = DEMO_HISTORY_DAYS  # config: start = end - history_days
    horizon_days: int = 90  # config/truth: truth_horizon_days; truth_as_of = end - horizon
    channels: tuple[str, ...] = CHANNELS  # people: the only channels anyone holds an account in
    # generate/chunk/people: the optional tables written. Without campaign_touches no campaign runs (nor
    # do the orders it causes); without loyalty nobody enrols (no member cards).
    optional_tables: tuple[str, ...] = ("interactions", "campaign_touches", "loyalty")
    share: tuple[float, ...] = tuple(SHARE.tolist())  # people: persona mix, in PERSONAS order
    rate_scale: float = 1.0  # people: x every persona's orders per year
    lapse_scale: float = 1.0  # people: x every persona's lapse hazard
    aov_scale: float = 1.0  # activity: x every persona's basket value
    growth: float = 0.35  # people: acquisitions grow by this (log) share a year
    acquisition_days: int | None = None  # people: everyone is acquired in the first N days (one cohort)
    warm_start_days: int = 0  # people: acquisitions begin N days before start (an existing customer base)
    season_amplitude: float = 0.12  # people.Season: the smooth annual cycle's amplitude
    peaks: tuple[str, ...] = tuple(PEAK_EFFECT)  # people.Season: which promotion peaks happen
    promo_lift: float = 1.0  # people.Season: purchase-rate multiplier while a programme runs...
    promo_stop_days: int = 0  # ...which stops this many days before the end

    @property
    def tables(self) -> tuple[str, ...]:
        """The contract tables this brand writes."""
        return ("accounts", "orders", *self.optional_tables, "kpi_targets")

    def describe(self) -> dict[str, object]:
        """The parameters as JSON-ready values (for the manifest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


PROFILES: dict[str, Profile] = {
    "demo": Profile("today's demo brand: six channels, loyalty, interactions, campaigns, ~4 years"),
    "one_channel": Profile(
        "an online shop: one channel (tmall), accounts and orders only (no loyalty, interactions, campaigns)",
        channels=("tmall",),
        optional_tables=(),
    ),
    "one_cohort": Profile(
        "one acquisition cohort (first 60 days), a long tail of one-time buyers, ~18% repeat in 90 days "
        "(like UCI Online Retail / CDNOW); transactions only, 2 years",
        history_days=730,
        acquisition_days=60,
        share=(0.10, 0.10, 0.15, 0.65),
        lapse_scale=1.15,
        optional_tables=(),
    ),
    "grocery": Profile(
        "high frequency, small baskets: ~45% buy again within 28 days",
        horizon_days=28,
        rate_scale=4.4,
        lapse_scale=1.3,
        aov_scale=0.2,
    ),
    "short_history": Profile("the demo brand with one year of history", history_days=365),
    "regime_change": Profile(
        "a promotion programme (say, member-day coupons) lifts purchase rates 1.8x, then stops 120 days "
        "before the end: models fitted on older windows over-predict the newest one",
        promo_lift=1.8,
        promo_stop_days=120,
    ),
    "smooth_seasonal": Profile(
        "3 years of weekly sales dominated by a smooth annual season (amplitude 0.35) and growth from an "
        "existing customer base; no promotion peaks",
        history_days=1096,
        season_amplitude=0.35,
        peaks=(),
        warm_start_days=730,
    ),
}


def profile_named(name: str) -> Profile:
    """The profile called `name`, or a ValueError listing the known ones."""
    if name not in PROFILES:
        raise ValueError(f"unknown demo profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
