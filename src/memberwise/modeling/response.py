"""Campaign response per (audience, strategy[, tier]) cell from randomised treatment/control touches.

Estimator (docs/budget.md has the derivation):
1. Per campaign and cell, the uplift of each outcome is mean(treatment) - mean(control), with the usual
   two-sample variance. Differencing inside a campaign keeps seasonality and targeting out of the estimate.
2. Campaigns in a cell are pooled with weights n_t n_c / (n_t + n_c) (the efficient weights when the
   outcome variance is similar), so a campaign with a tiny control group counts little.
3. Sparse cells are shrunk (empirical Bayes) toward a prior: an additive model of audience and strategy
   dimension effects (the audience's mean plus the strategy's mean, built from its delivery, promotion,
   communication and activity), fitted by weighted ridge least squares on the observed cells. The
   between-cell variance tau^2 comes from the method of moments; each cell keeps the share
   tau^2 / (tau^2 + v) of its own deviation from the prior. Cells never tried get the prior and its
   wider interval.
4. Tiers (propensity bands) are shrunk the same way toward their cell's estimate.
Pure: frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

STRATEGY = ("delivery", "promotion", "communication", "activity")
CELL = ("audience", *STRATEGY)
OUTCOMES = ("converted", "orders", "revenue")
MIN_PER_ARM = 2  # a treatment-minus-control difference needs a variance in each arm
Z90 = 1.6448536269514722
_RIDGE = 0.01  # in units of the mean precision: a light touch that keeps never-seen levels at 0


def arm_differences(
    frame: pd.DataFrame, keys: Sequence[str], outcomes: Sequence[str] = OUTCOMES
) -> pd.DataFrame:
    """Treatment minus control per `keys` + campaign_id: `<outcome>_uplift` and `<outcome>_var`, n_t, n_c."""
    by = [*keys, "campaign_id"]
    treated = frame["group"] == "treatment"
    parts = []
    for name, mask in (("t", treated), ("c", ~treated)):
        grouped = frame[mask].groupby(by, observed=True)[list(outcomes)]
        stats = (
            grouped.mean().add_suffix(f"_mean_{name}").join(grouped.var(ddof=1).add_suffix(f"_var_{name}"))
        )
        parts.append(stats.join(grouped.size().rename(f"n_{name}")))
    both = parts[0].join(parts[1], how="inner")
    both = both[(both["n_t"] >= MIN_PER_ARM) & (both["n_c"] >= MIN_PER_ARM)]
    out = both[["n_t", "n_c"]].copy()
    for y in outcomes:
        out[f"{y}_uplift"] = both[f"{y}_mean_t"] - both[f"{y}_mean_c"]
        out[f"{y}_var"] = both[f"{y}_var_t"] / both["n_t"] + both[f"{y}_var_c"] / both["n_c"]
    return out.reset_index()


def pool_campaigns(effects: pd.DataFrame, keys: Sequence[str], outcomes: Sequence[str]) -> pd.DataFrame:
    """Combine campaigns within a cell; weights n_t n_c / (n_t + n_c)."""
    w = effects["n_t"] * effects["n_c"] / (effects["n_t"] + effects["n_c"])
    work = effects[list(keys)].assign(_w=w, n_t=effects["n_t"], n_c=effects["n_c"], campaigns=1)
    for y in outcomes:
        work[f"{y}_uplift"] = w * effects[f"{y}_uplift"]
        work[f"{y}_var"] = w**2 * effects[f"{y}_var"]
    sums = work.groupby(list(keys), observed=True).sum()
    out = sums[["n_t", "n_c", "campaigns"]].copy()
    for y in outcomes:
        out[f"{y}_uplift"] = sums[f"{y}_uplift"] / sums["_w"]
        out[f"{y}_var"] = sums[f"{y}_var"] / sums["_w"] ** 2
    return out.reset_index()


def _design(cells: pd.DataFrame, levels: dict[str, list[str]]) -> np.ndarray:
    """Intercept plus one indicator per level of every dimension (ridge makes the redundancy harmless)."""
    columns = [np.ones(len(cells))]
    for dim, values in levels.items():
        col = cells[dim].astype(str).to_numpy()
        columns += [(col == v).astype(float) for v in values]
    return np.column_stack(columns)


def _tau2(resid: np.ndarray, var: np.ndarray, n_params: float) -> float:
    """Method-of-moments between-cell variance: excess of squared residuals over sampling variance."""
    k = len(resid)
    if k <= n_params + 1:
        return float(np.mean(np.maximum(resid**2 - var, 0.0)))
    return max(0.0, float((np.sum(resid**2) * k / (k - n_params) - np.sum(var)) / k))


def additive_prior(
    observed: pd.DataFrame, grid: pd.DataFrame, y: str, dims: Sequence[str] = CELL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Fit the main-effects prior on observed cells; return (prior, var) on observed and grid cells, tau^2."""
    levels = {d: sorted(set(observed[d].astype(str)) | set(grid[d].astype(str))) for d in dims}
    x_obs, x_grid = _design(observed, levels), _design(grid, levels)
    value, var = observed[f"{y}_uplift"].to_numpy(float), observed[f"{y}_var"].to_numpy(float)
    tau2 = 0.0
    for _ in range(3):  # weights depend on tau^2 and tau^2 on the fit: a few rounds settle both
        w = 1.0 / np.maximum(var + tau2, 1e-12)
        penalty = _RIDGE * w.mean() * np.eye(x_obs.shape[1])
        penalty[0, 0] = 0.0
        cov = np.linalg.pinv(x_obs.T @ (w[:, None] * x_obs) + penalty)
        beta = cov @ (x_obs.T @ (w * value))
        n_params = float(np.trace(x_obs @ cov @ (x_obs.T * w)))  # effective degrees of freedom
        tau2 = _tau2(value - x_obs @ beta, var, n_params)
    var_of = lambda x: np.einsum("ij,jk,ik->i", x, cov, x)  # noqa: E731
    return x_obs @ beta, var_of(x_obs), x_grid @ beta, var_of(x_grid), tau2


def shrink(
    value: np.ndarray, var: np.ndarray, prior: np.ndarray, prior_var: np.ndarray, tau2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and variance of each cell, and the weight kept on its own data (0..1)."""
    keep = tau2 / (tau2 + var) if tau2 > 0 else np.zeros_like(var)
    mean = prior + keep * (value - prior)
    own = np.where(keep > 0, keep * np.where(np.isfinite(var), var, 0.0), 0.0)
    return mean, own + (1 - keep) ** 2 * prior_var, keep


def estimate_cells(
    frame: pd.DataFrame, grid: pd.DataFrame, outcomes: Sequence[str] = OUTCOMES
) -> pd.DataFrame:
    """Shrunk uplift per (audience, strategy) for every row of `grid` (observed or not), with 90% intervals.

    `frame` has one row per touch: campaign_id, group, the CELL columns and the outcome columns.
    Columns per outcome: `<y>_raw`, `<y>_raw_se` (observed cells only), `<y>_uplift`, `<y>_se`,
    `<y>_lo`, `<y>_hi`, `<y>_weight` (the share of the cell's own data in the estimate).
    """
    observed = pool_campaigns(arm_differences(frame, CELL, outcomes), CELL, outcomes)
    out = grid[list(CELL)].drop_duplicates().reset_index(drop=True)
    out = out.merge(observed, on=list(CELL), how="left")
    seen = out["n_t"].notna().to_numpy()
    for y in outcomes:
        _, _, prior, prior_var, tau2 = additive_prior(observed, out, y)
        value = out[f"{y}_uplift"].to_numpy(float)
        var = out[f"{y}_var"].to_numpy(float)
        mean, post_var, keep = shrink(
            np.where(seen, value, prior), np.where(seen, var, np.inf), prior, prior_var, tau2
        )
        post_var = np.where(seen, post_var, prior_var + tau2)
        out = _with_estimate(out, y, np.where(seen, value, np.nan), np.sqrt(var), mean, post_var, keep)
    out["source"] = np.where(seen, "observed", "prior")
    return out.fillna({"n_t": 0, "n_c": 0, "campaigns": 0})


def estimate_tiers(
    frame: pd.DataFrame, cells: pd.DataFrame, outcomes: Sequence[str] = OUTCOMES
) -> pd.DataFrame:
    """Uplift per (cell, tier): each tier shrunk toward its cell's estimate from `estimate_cells`.

    `cells` must hold one row per (cell, tier) wanted plus the cell's `<y>_uplift` and `<y>_se`.
    """
    keys = [*CELL, "tier"]
    observed = pool_campaigns(arm_differences(frame, keys, outcomes), keys, outcomes)
    out = cells[[*keys, *(f"{y}_{s}" for y in outcomes for s in ("uplift", "se"))]]
    out = out.rename(columns={f"{y}_{s}": f"{y}_cell_{s}" for y in outcomes for s in ("uplift", "se")})
    out = out.merge(observed, on=keys, how="left")
    seen = out["n_t"].notna().to_numpy()
    for y in outcomes:
        prior, prior_var = out[f"{y}_cell_uplift"].to_numpy(float), out[f"{y}_cell_se"].to_numpy(float) ** 2
        value, var = out[f"{y}_uplift"].to_numpy(float), out[f"{y}_var"].to_numpy(float)
        tau2 = _tau2((value - prior)[seen], var[seen], 0.0) if seen.any() else 0.0
        mean, post_var, keep = shrink(
            np.where(seen, value, prior), np.where(seen, var, np.inf), prior, prior_var, tau2
        )
        post_var = np.where(seen, post_var, prior_var)
        out = _with_estimate(out, y, np.where(seen, value, np.nan), np.sqrt(var), mean, post_var, keep)
    out["source"] = np.where(seen, "observed", "cell")
    return out.fillna({"n_t": 0, "n_c": 0, "campaigns": 0})


def _with_estimate(
    out: pd.DataFrame,
    y: str,
    raw: np.ndarray,
    raw_se: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    keep: np.ndarray,
) -> pd.DataFrame:
    se = np.sqrt(var)
    out = out.drop(columns=[f"{y}_uplift", f"{y}_var"])
    return out.assign(
        **{
            f"{y}_raw": raw,
            f"{y}_raw_se": np.where(np.isnan(raw), np.nan, raw_se),
            f"{y}_uplift": mean,
            f"{y}_se": se,
            f"{y}_lo": mean - Z90 * se,
            f"{y}_hi": mean + Z90 * se,
            f"{y}_weight": keep,
        }
    )


HILLSTROM_CONTROL = "No E-Mail"
HILLSTROM_OUTCOMES = ("visit", "conversion", "spend")


def hillstrom_arms(frame: pd.DataFrame) -> pd.DataFrame:
    """Each e-mail arm minus the shared no-e-mail control (Hillstrom 2008), with 95% intervals.

    Uses the same `arm_differences` as the campaign estimator: each arm becomes one "campaign" whose
    control group is the no-e-mail customers.
    """
    control = frame[frame["segment"] == HILLSTROM_CONTROL]
    parts = [
        pd.concat(
            [frame[frame["segment"] == arm].assign(group="treatment"), control.assign(group="control")]
        ).assign(campaign_id=arm, arm=arm)
        for arm in sorted(set(frame["segment"]) - {HILLSTROM_CONTROL})
    ]
    diffs = arm_differences(pd.concat(parts, ignore_index=True), ["arm"], HILLSTROM_OUTCOMES)
    out = diffs[["arm", "n_t", "n_c"]].copy()
    for y in HILLSTROM_OUTCOMES:
        se = np.sqrt(diffs[f"{y}_var"])
        out[y] = diffs[f"{y}_uplift"]
        out[f"{y}_lo"], out[f"{y}_hi"] = out[y] - 1.959964 * se, out[y] + 1.959964 * se
    return out
