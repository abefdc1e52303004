"""What the endpoints answer from: the champion, the indexed score snapshot, personas and planning.

Plain Python (no BentoML, no HTTP), so the service logic is built and tested in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from memberwise import registry
from memberwise.modeling.personas import NO_PERSONA, PersonaModel
from memberwise.modeling.propensity import BGNBD_FEATURES, PropensityModel
from memberwise.modeling.scores import score_from_probability
from memberwise.serving.schemas import (
    AllocateRequest,
    AllocateResponse,
    AudienceGap,
    BindingConstraint,
    FeatureRecord,
    FeatureScoreResult,
    GapResponse,
    PersonaResponse,
    PersonaResult,
    PlanRow,
    ScoreFeaturesResponse,
    ScoreResponse,
    ScoreResult,
    SelectedMember,
    SelectRequest,
    SelectResponse,
    feature_kind,
)
from memberwise.snapshot import SCORE_COLUMNS, SnapshotMeta

if TYPE_CHECKING:
    from memberwise.serving.loading import Champion, Planning

log = logging.getLogger("memberwise.serving")

# Columns `modeling.baselines.bgnbd_inputs` reads to build the BG/NBD features.
BGNBD_INPUT_COLUMNS = ("days_since_first_purchase", "days_since_last_purchase", "orders_total")
# Members whose missing reasons are computed in the background after start (~300 bytes each).
WARM_REASONS_LIMIT = 50_000  # background TreeSHAP; big models explain only a few hundred rows/s
# Snapshot columns that are outputs, not member features (lifecycle_stage is both).
_OUTPUT_COLUMNS = [c for c in SCORE_COLUMNS if c not in ("member_id", "lifecycle_stage")]


class PlanningUnavailable(Exception):
    """The planning endpoints cannot answer yet (no forecast champion or no planning inputs)."""


def needed_columns(model: PropensityModel) -> list[str]:
    """The feature columns a record must carry for `model` (BG/NBD features are derived, not sent)."""
    names = [c for c in model.feature_names_ if not (model.use_bgnbd and c in BGNBD_FEATURES)]
    if model.use_bgnbd:
        names += [c for c in BGNBD_INPUT_COLUMNS if c not in names]
    return names


def _nullable(values: pd.Series) -> list[Any]:
    """Python values with pandas NA/NaN as None (for JSON)."""
    return values.astype(object).where(values.notna(), None).tolist()


def _isin(values: np.ndarray, wanted: list[str]) -> np.ndarray:
    """Membership by hashing (np.isin may sort, which fails on None mixed with text)."""
    return pd.Series(values, dtype=object).isin(wanted).to_numpy(dtype=bool)


def records_frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Feature records as a frame with the feature table's dtypes (so scores match the batch pipeline)."""
    data: dict[str, Any] = {}
    for column in columns:
        values = [r.get(column) for r in records]
        kind = feature_kind(column)
        if kind == "number":
            data[column] = np.array([np.nan if v is None else v for v in values], dtype="float64")
        elif kind == "flag":
            data[column] = pd.array(values, dtype="boolean")
        else:  # text, and dates (not model inputs) as ISO text
            data[column] = pd.array(values, dtype="string")
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


class ServingState:
    """Everything the endpoints answer from: champion, snapshot (indexed), threshold, personas model.

    The personas model is the one that labelled the snapshot (None before personas are promoted);
    planning is None until a retrain has promoted a forecast and saved its planning inputs.
    uplift_verdict is the release's held-out uplift verdict (`uplift_wins`, `reason`); with it and an
    `uplift` snapshot column, /select can rank by uplift.

    Plain Python (no BentoML), so it can be built and exercised in-process.
    """

    def __init__(
        self,
        champion: Champion,
        frame: pd.DataFrame,
        meta: SnapshotMeta,
        personas: PersonaModel | None = None,
        planning: Planning | None = None,
        uplift_verdict: Mapping[str, Any] | None = None,
    ) -> None:
        self.champion = champion
        self.meta = meta
        self.personas = personas
        self.planning = planning
        self.threshold = float(meta.threshold)
        self.needed = needed_columns(champion.model)
        unknown = [c for c in self.needed if c not in FeatureRecord.model_fields]
        if unknown:
            log.warning("the champion needs column(s) FeatureRecord cannot carry: %s", ", ".join(unknown))
        self.snapshot_model = self._snapshot_model()

        frame = frame.drop_duplicates("member_id", keep="first").reset_index(drop=True)
        self.index = pd.Index(frame["member_id"].astype(str).to_numpy(dtype=object))
        self.member_ids = self.index.to_numpy()
        self.scores = frame["score"].to_numpy(dtype=int)
        self.selected = frame["selected"].to_numpy(dtype=bool)
        self.lifecycle = np.array(_nullable(frame["lifecycle_stage"]), dtype=object)
        self.channel = np.array(_nullable(frame["preferred_channel"]), dtype=object)
        self.persona = np.array(_nullable(frame["persona"]), dtype=object)
        self.persona_id = np.array(_nullable(frame["persona_id"]), dtype=object)
        self.reasons: list[list[str]] = [
            [] if r is None else [str(x) for x in r] for r in frame["reasons"].tolist()
        ]
        self.features = frame.drop(columns=[c for c in (*_OUTPUT_COLUMNS, "uplift") if c in frame.columns])
        # Highest score first, then member id: /select filters this order and cuts it.
        self.order = np.lexsort((self.member_ids.astype(str), -self.scores))
        # Per-member uplift of the planned strategy (a release column) and the held-out verdict on it.
        self.uplift = frame["uplift"].to_numpy(dtype=float) if "uplift" in frame.columns else None
        self.uplift_verdict = dict(uplift_verdict) if uplift_verdict is not None else None
        if self.uplift is not None:
            self.uplift_order = np.lexsort(
                (self.member_ids.astype(str), -np.nan_to_num(self.uplift, nan=-np.inf))
            )

    def _snapshot_model(self) -> PropensityModel:
        """The model that scored the snapshot (for on-request reasons); the champion when they agree."""
        version = str(self.meta.model_version)
        if version == self.champion.version:
            return self.champion.model
        log.warning(
            "snapshot was scored by version %s but the champion is %s: reasons use version %s",
            version,
            self.champion.version,
            version,
        )
        try:
            return registry.load("propensity", version)
        except Exception:  # noqa: BLE001 - fall back rather than refuse to serve
            log.exception("cannot load model version %s; reasons fall back to the champion", version)
            return self.champion.model

    @property
    def snapshot_versions(self) -> dict[str, str]:
        return {"propensity": str(self.meta.model_version), **self._personas_version}

    @property
    def live_versions(self) -> dict[str, str]:
        return {"propensity": self.champion.version, **self._personas_version}

    @property
    def _personas_version(self) -> dict[str, str]:
        return {"personas": str(self.meta.personas_version)} if self.personas is not None else {}

    # -- endpoints ----------------------------------------------------------------------------------
    def score_ids(self, member_ids: list[str]) -> ScoreResponse:
        positions = self.index.get_indexer(member_ids)
        missing_reasons = sorted({int(p) for p in positions if p >= 0 and not self.reasons[p]})
        computed: dict[int, list[str]] = {}
        if missing_reasons:
            rows = self.features.iloc[missing_reasons]
            computed = dict(zip(missing_reasons, self.snapshot_model.reasons(rows), strict=True))
            for p, words in computed.items():
                self.reasons[p] = words  # keep: a member asked for once is answered from memory next time
        results = []
        for member_id, p in zip(member_ids, positions, strict=True):
            if p < 0:
                results.append(ScoreResult(member_id=member_id, found=False))
                continue
            results.append(
                ScoreResult(
                    member_id=member_id,
                    found=True,
                    score=int(self.scores[p]),
                    selected=bool(self.selected[p]),
                    lifecycle_stage=self.lifecycle[p],
                    preferred_channel=self.channel[p],
                    persona=self.persona[p],
                    reasons=self.reasons[p] or computed[int(p)],
                )
            )
        return ScoreResponse(results=results, threshold=self.threshold, model_versions=self.snapshot_versions)

    def warm_reasons(self, limit: int = WARM_REASONS_LIMIT, chunk: int = 2_000) -> int:
        """Compute, in chunks, the reasons the snapshot lacks (at most `limit` members); return how many.

        Run in the background once the service is ready: TreeSHAP has a fixed cost of tens of ms per
        call, so single-member lookups should not pay it. Members beyond `limit` get theirs on request.
        """
        missing = [i for i, words in enumerate(self.reasons) if not words][:limit]
        for start in range(0, len(missing), chunk):
            rows = [i for i in missing[start : start + chunk] if not self.reasons[i]]
            if rows:
                words = self.snapshot_model.reasons(self.features.iloc[rows])
                for i, w in zip(rows, words, strict=True):
                    self.reasons[i] = w
        return len(missing)

    def missing_columns(self, provided: list[set[str]]) -> list[dict[str, Any]]:
        """Validation-style errors for records lacking a column the model needs (null is fine)."""
        errors = []
        for row, fields in enumerate(provided):
            for column in self.needed:
                if column not in fields:
                    errors.append(
                        {
                            "loc": ["members", row, column],
                            "msg": "Field required by the served model",
                            "type": "missing",
                        }
                    )
        return errors

    def score_records(self, records: list[dict[str, Any]]) -> ScoreFeaturesResponse:
        model = self.champion.model
        columns = [c for c in FeatureRecord.model_fields if c != "preferred_channel"]
        frame = records_frame(records, columns)
        probability = model.predict_proba(frame)
        scores = score_from_probability(probability)
        reasons = model.reasons(frame)
        personas = self.personas.assign(frame)["persona"] if self.personas is not None else None
        results = [
            FeatureScoreResult(
                member_id=record.get("member_id"),
                score=int(score),
                selected=bool(score > self.threshold),
                lifecycle_stage=record.get("lifecycle_stage"),
                preferred_channel=record.get("preferred_channel"),
                persona=None if personas is None else personas.iloc[row],
                reasons=words,
            )
            for row, (record, score, words) in enumerate(zip(records, scores, reasons, strict=True))
        ]
        return ScoreFeaturesResponse(
            results=results, threshold=self.threshold, model_versions=self.live_versions
        )

    def ranking(self, wanted: str) -> tuple[str, str]:
        """The ranking /select uses and why: uplift only when present and it won on held-out campaigns."""
        if wanted == "propensity":
            return "propensity", "ranked by propensity score, as asked"
        if self.uplift_verdict is None:
            return "propensity", "this release has no uplift predictions: ranked by propensity score"
        reason = str(self.uplift_verdict.get("reason", ""))
        if self.uplift is None:  # the retrain could not learn uplift, and its verdict says why
            return "propensity", f"this release has no uplift predictions ({reason})"
        if not self.uplift_verdict.get("uplift_wins"):
            return (
                "propensity",
                f"uplift targeting did not win on held-out campaigns ({reason}): ranked by propensity score",
            )
        return "uplift", f"ranked by predicted uplift: {reason}"

    def select(self, request: SelectRequest) -> SelectResponse:
        ranked_by, why = self.ranking(request.rank_by)
        if ranked_by == "uplift":
            assert self.uplift is not None
            order = self.uplift_order
            keep = self.uplift[order] > 0  # a contact that does not raise conversion is not worth making
            if request.threshold is not None:
                keep &= self.scores[order] > float(request.threshold)
        else:
            threshold = self.threshold if request.threshold is None else float(request.threshold)
            order = self.order
            keep = self.scores[order] > threshold
        if request.lifecycle_stages:
            keep &= _isin(self.lifecycle[order], request.lifecycle_stages)
        if request.preferred_channels:
            keep &= _isin(self.channel[order], request.preferred_channels)
        if request.personas:
            persona, persona_id = self.persona[order], self.persona_id[order].astype(str)
            keep &= _isin(persona, request.personas) | _isin(persona_id, request.personas)
        chosen = order[keep]
        members = [
            SelectedMember(
                member_id=str(self.member_ids[p]),
                score=int(self.scores[p]),
                lifecycle_stage=self.lifecycle[p],
                preferred_channel=self.channel[p],
                persona=self.persona[p],
                uplift=None if self.uplift is None or np.isnan(self.uplift[p]) else float(self.uplift[p]),
            )
            for p in chosen[: request.limit]
        ]
        return SelectResponse(
            count=int(len(chosen)),
            members=members,
            model_versions=self.snapshot_versions,
            ranked_by=ranked_by,
            ranking_reason=why,
        )

    def _describe(self, persona_id: Any) -> str:
        if persona_id is None or self.personas is None:
            return NO_PERSONA
        return str(self.personas.personas_.at[int(persona_id), "description"])

    def persona_ids(self, member_ids: list[str]) -> PersonaResponse:
        """Personas of members from the snapshot (the labels campaigns see in /score and /select)."""
        results = []
        for member_id, p in zip(member_ids, self.index.get_indexer(member_ids), strict=True):
            if p < 0:
                results.append(PersonaResult(member_id=member_id, found=False))
                continue
            persona_id = self.persona_id[p]
            results.append(
                PersonaResult(
                    member_id=member_id,
                    found=True,
                    persona_id=persona_id,
                    persona=self.persona[p],
                    description=self._describe(persona_id),
                )
            )
        return PersonaResponse(results=results, model_versions=self._personas_version)

    def _planning(self) -> Planning:
        if self.planning is None:
            raise PlanningUnavailable("no forecast champion or planning inputs yet: run `memberwise retrain`")
        return self.planning

    def kpi_gap(self, period: str, target: float | None) -> GapResponse:
        """The KPI gap of a period from the saved actuals and the champion forecast."""
        planning = self._planning()
        result = planning.inputs.gap(planning.forecaster, period, target)
        rows = result.per_audience.to_dict(orient="records")
        return GapResponse(
            period=period,
            cutoff=str(planning.inputs.cutoff.date()),
            **result.metrics(),
            per_audience=[AudienceGap.model_validate(row) for row in rows],
            forecast_weeks=result.forecast_weeks(),
            model_versions={"forecast": planning.forecast_version},
        )

    def allocate(self, request: AllocateRequest) -> AllocateResponse:
        """Re-solve the budget plan on the saved cells; close-gap defaults to the current year's gap."""
        planning = self._planning()
        if planning.inputs.cells is None:
            raise PlanningUnavailable("no budget cells: the last retrain could not estimate responses")
        gap_target = request.gap_target
        if request.mode == "close-gap" and gap_target is None:
            year = str((planning.inputs.cutoff - pd.Timedelta(days=1)).year)
            gap_target = max(planning.inputs.gap(planning.forecaster, year, None).gap, 0.0)
        allocation = planning.inputs.allocation(request.budget, request.mode, gap_target, request.overrides)
        plan = allocation.plan.to_dict(orient="records")
        binding = allocation.binding[["name", "shadow_price"]].to_dict(orient="records")
        return AllocateResponse(
            status=allocation.status,
            mode=allocation.mode,
            plan=[PlanRow.model_validate(row) for row in plan],
            totals={k: float(v) if np.isfinite(v) else None for k, v in allocation.totals.items()},
            binding_constraints=[BindingConstraint.model_validate(row) for row in binding],
            shadow_prices={k: float(v) for k, v in allocation.shadow_prices.items() if np.isfinite(v)},
            missing_budget=allocation.missing_budget,
            messages=allocation.messages,
            gap_target=gap_target,
        )

    def persona_records(self, records: list[dict[str, Any]]) -> PersonaResponse:
        """Personas of feature records, assigned live by the snapshot's personas model."""
        assert self.personas is not None  # the endpoint answers 503 first
        columns = [c for c in FeatureRecord.model_fields if c != "preferred_channel"]
        assigned = self.personas.assign(records_frame(records, columns))
        results = [
            PersonaResult(
                member_id=record.get("member_id"),
                persona_id=None if pd.isna(row.persona_id) else int(row.persona_id),
                persona=row.persona,
                description=row.description,
            )
            for record, row in zip(records, assigned.itertuples(), strict=True)
        ]
        return PersonaResponse(results=results, model_versions=self._personas_version)
