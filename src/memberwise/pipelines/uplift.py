"""Uplift targeting run: campaign history -> features at each touch -> X-learner -> held-out Qini, in MLflow.

The learner sees each touched member's features as of the start of the touch's month (never after the
touch), the touch's strategy (audience x delivery x promotion x communication x activity) and whether the
member converted within the response window. The latest campaigns are held out in time; on them three
rankings of the same touches are compared by Qini coefficient and by the incremental conversions in the
top 20%: predicted uplift, propensity (the champion's probability, else the learner's own probability of
converting) and random. Uplift wins when it beats both on the held-out Qini. See docs/uplift.md.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from memberwise import registry
from memberwise.errors import MemberwiseError
from memberwise.features.members import build_features
from memberwise.modeling.propensity.candidates import NOT_FEATURES
from memberwise.modeling.response import CELL
from memberwise.modeling.uplift import XLearner, incremental_at, qini_coefficient, qini_curve
from memberwise.pipelines.campaign_outcomes import response_frame
from memberwise.settings import Settings
from memberwise.tracking import data_fingerprint, experiment_id, log_figure, log_frame, run_tags
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
TOP_SHARE = 0.2
# Uplift wins only when it beats propensity and random in this share of bootstrap resamples of the
# held-out touches: a small brand's noisy Qini never switches /select to uplift by chance.
WIN_CONFIDENCE = 0.9
BOOTSTRAP_ROUNDS = 200
# Each month of campaign history learnt from needs one feature build as of its start, which costs in
# proportion to the brand's members: the months are capped so members x months stays within this budget
# (a 20k-member brand learns from all its history, a 1M-member brand from its last 12 months), never
# fewer than MIN_MONTHS.
MEMBER_MONTHS = 12_000_000
MIN_MONTHS = 3
RANKINGS = ("uplift", "propensity", "random")


@dataclass
class UpliftVerdict:
    """Which ranking the held-out campaigns favour, with the figures that decided it."""

    uplift_wins: bool
    reason: str
    qini: dict[str, float]  # Qini coefficient per ranking (random is 0 by construction)
    incremental_top: dict[str, float]  # incremental conversions in the top TOP_SHARE per ranking
    propensity_source: str  # "champion v<n>" or "proxy"
    holdout_touches: int
    confidence: float = 1.0  # share of bootstrap resamples in which uplift beats both (see WIN_CONFIDENCE)


def unlearnt(why: str) -> UpliftVerdict:
    """The verdict of a release that could not learn uplift (no campaigns, one campaign, no plan): why."""
    reason = f"no uplift model: {why}; ranked by propensity"
    return UpliftVerdict(False, reason, {}, {}, "none", 0, 0.0)


@dataclass
class UpliftRun:
    """What `train_uplift` returns: the learner fitted on all history, the verdict and its evidence."""

    model: XLearner
    verdict: UpliftVerdict
    holdout: pd.DataFrame  # held-out touches with group, converted and each ranking's score
    curves: pd.DataFrame  # share, incremental, ranking
    run_id: str


def model_frame(features: pd.DataFrame) -> pd.DataFrame:
    """Learner input: numeric features as float, text features and the strategy as categoricals."""
    columns = {}
    for name in features.columns:
        if name in NOT_FEATURES:
            continue
        column = features[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            columns[name] = pd.to_numeric(column.astype("Float64"), errors="coerce").astype("float64")
        elif not pd.api.types.is_datetime64_any_dtype(column):
            columns[name] = column.astype(object).astype("category")
    return pd.DataFrame(columns, index=features.index)


def touch_history(
    wh: Warehouse,
    window_days: int,
    as_of: date,
    max_rows: int,
    seed: int,
    touches: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Closed-window touches of the last `history_months` months (at most max_rows) with their features.

    `touches` is `response_frame(wh, window_days, as_of)` when the caller has it (a retrain's plan has).
    """
    if "campaign_touches" not in wh.present:
        raise MemberwiseError("uplift needs campaign_touches (campaigns with treatment and control groups)")
    if touches is None:
        touches = response_frame(wh, window_days, as_of)
    if touches.empty:
        raise MemberwiseError(f"no campaign touch has a response window closed by {as_of}")
    if len(touches) > max_rows:
        touches = touches.sample(max_rows, random_state=seed).reset_index(drop=True)
    touches = touches.assign(cutoff=touches["touched_at"].dt.to_period("M").dt.start_time.dt.date)
    latest = sorted(touches["cutoff"].unique())[-history_months(wh) :]
    touches = touches[touches["cutoff"].isin(latest)]
    parts = []
    for cutoff, group in touches.groupby("cutoff", sort=True):
        features = build_features(wh, cutoff, members=group["member_id"]).drop(columns=["as_of"])
        parts.append(group.merge(features, on="member_id", how="inner"))
    history = pd.concat(parts, ignore_index=True)
    unknown = len(touches) - len(history)  # members first seen after their touch's month began
    if history.empty:
        raise MemberwiseError(
            f"none of the {len(touches):,} touches is of a member known before the touch's month (no "
            "account or order earlier): uplift learns who responds from what was known before a touch"
        )
    if unknown:
        log.info("uplift: %s touches of members unknown at the start of the touch's month left out", unknown)
    return history


def history_months(wh: Warehouse) -> int:
    """How many months of campaign history to learn from: MEMBER_MONTHS over the brand's members."""
    members = int(str(wh.scalar("SELECT count(*) FROM members") or 0))
    return max(MIN_MONTHS, MEMBER_MONTHS // max(members, 1))


def split_in_time(history: pd.DataFrame, holdout_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier campaigns to learn from, the latest holdout_share of campaigns (by start) to judge on."""
    starts = history.groupby("campaign_id")["touched_at"].min().sort_values()
    n_holdout = max(1, int(round(holdout_share * len(starts))))
    if len(starts) - n_holdout < 1:
        raise MemberwiseError(f"uplift needs at least two campaigns with closed windows, found {len(starts)}")
    latest = set(starts.index[-n_holdout:])
    held = history["campaign_id"].isin(latest)
    learnt, judged = history[~held].reset_index(drop=True), history[held].reset_index(drop=True)
    _require_both_arms(learnt, "the earlier campaigns (learnt from)")
    _require_both_arms(judged, "the latest campaigns (held out)")
    return learnt, judged


def _require_both_arms(part: pd.DataFrame, what: str) -> None:
    """Learning and judging each need treated and control touches: say which is missing where."""
    missing = sorted({"treatment", "control"} - set(part["group"]))
    if missing:
        raise MemberwiseError(
            f"uplift needs treated and control members in {what}: they have no {' or '.join(missing)} "
            f"touch with a closed window ({len(part):,} touches, {part['campaign_id'].nunique()} campaigns)"
        )


# Columns of a history row that describe the touch and its outcome, not the member or the strategy.
TOUCH_COLUMNS = (
    "campaign_id",
    "group",
    "converted",
    "orders",
    "revenue",
    "cost",
    "touches",
    "touched_at",
    "cutoff",
)


def _learner_input(history: pd.DataFrame) -> pd.DataFrame:
    """Member features and the touch's strategy."""
    return model_frame(history.drop(columns=[c for c in TOUCH_COLUMNS if c in history.columns]))


def propensity_of(
    holdout: pd.DataFrame, judged: XLearner, settings: Settings, version: str | None = None
) -> tuple[np.ndarray, str]:
    """The propensity model's probability on the held-out touches, else the learner's own.

    `version`: the propensity version the release being built serves (a retrain judges uplift against
    it, not the outgoing champion); None: the registered champion.
    """
    client = registry.configure(settings)
    version = version or registry.version_by_alias(client, "propensity", registry.CHAMPION)
    if version is not None:
        features = holdout.drop(columns=[c for c in (*TOUCH_COLUMNS, *CELL) if c in holdout.columns])
        try:
            return registry.load("propensity", version).predict_proba(features), f"champion v{version}"
        except Exception:  # noqa: BLE001 - judge against the proxy rather than fail the run
            log.exception(
                "propensity champion v%s cannot score the held-out touches: using the proxy", version
            )
    return judged.predict_outcome(_learner_input(holdout)), "proxy"


def judge(holdout: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float], dict[str, float]]:
    """Qini curves, coefficients and top-share incremental conversions of each ranking on the holdout."""
    y, treated = holdout["converted"].to_numpy(), (holdout["group"] == "treatment").to_numpy()
    curves, qini, top = [], {}, {}
    for name in ("uplift", "propensity"):
        curve = qini_curve(y, treated, holdout[name].to_numpy())
        curves.append(curve.assign(ranking=name))
        qini[name], top[name] = qini_coefficient(curve), incremental_at(curve, TOP_SHARE)
    chord = curves[0].assign(incremental=curves[0]["share"] * curves[0]["incremental"].iloc[-1])
    curves.append(chord.assign(ranking="random"))  # random targeting's expectation: the chord
    qini["random"], top["random"] = 0.0, incremental_at(chord, TOP_SHARE)
    return pd.concat(curves, ignore_index=True), qini, top


def win_confidence(holdout: pd.DataFrame, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> float:
    """Share of bootstrap resamples of the held-out touches in which uplift's Qini beats both others."""
    rng = np.random.default_rng(seed)
    y, treated = holdout["converted"].to_numpy(), (holdout["group"] == "treatment").to_numpy()
    scores = {name: holdout[name].to_numpy() for name in ("uplift", "propensity")}
    wins = 0
    for _ in range(rounds):
        rows = rng.integers(0, len(holdout), len(holdout))
        qini = {n: qini_coefficient(qini_curve(y[rows], treated[rows], s[rows])) for n, s in scores.items()}
        wins += qini["uplift"] > max(qini["propensity"], 0.0)
    return wins / rounds


def verdict_of(
    qini: dict[str, float], top: dict[str, float], source: str, n: int, confidence: float = 1.0
) -> UpliftVerdict:
    """Uplift wins when its held-out Qini beats propensity and random, in WIN_CONFIDENCE of resamples."""
    ahead = qini["uplift"] > max(qini["propensity"], qini["random"])
    wins = ahead and confidence >= WIN_CONFIDENCE
    beaten = (
        "propensity and random"
        if ahead
        else ("propensity" if qini["propensity"] >= qini["uplift"] else "random")
    )
    outcome = "does not beat" if not ahead else "beats" if wins else "is ahead of, but not reliably,"
    reason = (
        f"uplift ranking {outcome} {beaten} on the held-out Qini "
        f"({qini['uplift']:.4f} vs propensity {qini['propensity']:.4f}, random 0"
        f"; ahead in {confidence:.0%} of bootstrap resamples, {WIN_CONFIDENCE:.0%} needed)"
    )
    return UpliftVerdict(wins, reason, qini, top, source, n, confidence)


def qini_figure(curves: pd.DataFrame) -> Figure:
    """Incremental conversions by share targeted, one line per ranking."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, curve in curves.groupby("ranking", sort=False):
        ax.plot(
            curve["share"], curve["incremental"], label=str(name), linestyle="--" if name == "random" else "-"
        )
    ax.axvline(TOP_SHARE, color="grey", linewidth=0.8)
    ax.set(
        xlabel="share of held-out touches contacted", ylabel="incremental conversions", title="Qini curves"
    )
    ax.legend()
    return fig


def train_uplift(
    wh: Warehouse,
    settings: Settings,
    as_of: date,
    window_days: int = 14,
    holdout_share: float = 0.25,
    max_rows: int = 200_000,
    seed: int = 0,
    trigger: str = "manual",
    propensity_version: str | None = None,
    touches: pd.DataFrame | None = None,
) -> UpliftRun:
    """Learn uplift from the campaign history, judge it on the latest campaigns, log one MLflow run.

    `propensity_version`: the propensity ranking to beat (default: the registered champion).
    `touches`: the response frame with the same `window_days` and `as_of`, when the caller has it.
    """
    history = touch_history(wh, window_days, as_of, max_rows, seed, touches)
    train, holdout = split_in_time(history, holdout_share)
    judged = XLearner(seed=seed).fit(
        _learner_input(train), (train["group"] == "treatment").to_numpy(), train["converted"].to_numpy()
    )
    propensity, source = propensity_of(holdout, judged, settings, propensity_version)
    scored = holdout[["campaign_id", "member_id", *CELL, "group", "converted"]].assign(
        uplift=judged.predict(_learner_input(holdout)), propensity=propensity
    )
    curves, qini, top = judge(scored)
    verdict = verdict_of(qini, top, source, len(scored), win_confidence(scored, seed=seed))
    model = XLearner(seed=seed).fit(
        _learner_input(history), (history["group"] == "treatment").to_numpy(), history["converted"].to_numpy()
    )
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "uplift"),
        run_name=f"uplift as of {as_of}",
        nested=mlflow.active_run() is not None,
        tags=run_tags(trigger, data_fingerprint(wh), as_of.isoformat(), kind="uplift"),
    ) as run:
        mlflow.log_params(
            {"window_days": window_days, "holdout_share": holdout_share, "max_rows": max_rows, "seed": seed,
             "train_touches": len(train), "holdout_touches": len(holdout), "propensity_source": source}
        )  # fmt: skip
        mlflow.log_metrics({f"qini_{k}": v for k, v in qini.items()})
        mlflow.log_metrics({f"incremental_top20_{k}": v for k, v in top.items()})
        mlflow.log_metric("uplift_wins", float(verdict.uplift_wins))
        mlflow.log_dict(asdict(verdict), "uplift_verdict.json")
        log_frame(curves.iloc[:: max(1, len(curves) // 3000)], "qini_curves")
        log_figure(qini_figure(curves), "qini_curves")
    log.info("uplift: %s", verdict.reason)
    return UpliftRun(model, verdict, scored, curves, run.info.run_id)


def member_uplift(model: XLearner, features: pd.DataFrame, strategy: dict[str, str]) -> pd.Series:
    """Predicted uplift of one planned strategy for every member of a feature snapshot (by member_id).

    `strategy` names the five cell columns (audience may be omitted: each member's own is then needed
    in `features["audience"]`).
    """
    frame = features.assign(**strategy)
    return pd.Series(model.predict(model_frame(frame)), index=features["member_id"].to_numpy(), name="uplift")


def plan_uplift(
    model: XLearner, features: pd.DataFrame, members: pd.DataFrame, plan: pd.DataFrame
) -> pd.Series:
    """Per member_id, the predicted uplift of its audience's leading planned strategy (NaN: none planned).

    `members` maps member_id to audience (the allocator's member table); `plan` is the allocator's plan
    (audience, the strategy columns, revenue_per_contact). The leading strategy of an audience is its
    planned cell with the most revenue per contact, the one the allocator's member lists fill first.
    """
    lead = plan.sort_values("revenue_per_contact", ascending=False).drop_duplicates("audience")
    frame = features.merge(members[["member_id", "audience"]], on="member_id").merge(
        lead[list(CELL)], on="audience"
    )
    uplift = pd.Series(model.predict(model_frame(frame)), index=frame["member_id"].to_numpy(), name="uplift")
    return uplift.reindex(members["member_id"].to_numpy())
