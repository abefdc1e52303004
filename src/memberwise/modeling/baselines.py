"""Baselines for repurchase propensity: BG/NBD (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

BG/NBD models each customer's repeat purchases as a Poisson process with rate λ ~ Gamma(r, α) that
stops for good after any purchase with probability p ~ Beta(a, b). From (frequency x, recency t_x,
age T) it gives P(alive) and expected purchases in a coming horizon: a strong, classic baseline and two
useful features for the LightGBM model. Pure model code: no I/O, scikit-learn conventions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1


@dataclass(frozen=True)
class BGNBDParams:
    """The four population parameters of BG/NBD."""

    r: float
    alpha: float
    a: float
    b: float


def _as_arrays(*values: np.ndarray | pd.Series) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype="float64") for v in values)


def bgnbd_log_likelihood(
    params: BGNBDParams, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood of (x repeat purchases, last at t_x, observed for T)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, age = _as_arrays(frequency, recency, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    still_alive = -(r + x) * np.log(alpha + age)
    dropped = np.where(
        x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
    )
    return common + np.logaddexp(still_alive, dropped)


class BGNBD:
    """BG/NBD fitted by maximum likelihood (L-BFGS-B on log-parameters, optional L2 penalty)."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> BGNBD:
        """Estimate r, alpha, a, b from repeat frequency, recency and age (same time unit throughout)."""
        x, t_x, age = _as_arrays(frequency, recency, T)
        if np.any(t_x > age) or np.any(x < 0) or np.any((x == 0) & (t_x != 0)):
            raise ValueError(
                "BG/NBD needs 0 <= recency <= T, frequency >= 0, and recency 0 when frequency is 0"
            )

        # Customers with the same (x, t_x, T) share a likelihood: each distinct history is evaluated once,
        # weighted by how many have it (a few times fewer evaluations on a big brand, the same optimum).
        distinct = pd.DataFrame({"x": x, "t_x": t_x, "age": age}).value_counts(sort=False).reset_index()
        x, t_x, age = _as_arrays(distinct["x"], distinct["t_x"], distinct["age"])
        weight = distinct["count"].to_numpy(dtype="float64") / float(distinct["count"].sum())

        def loss(log_params: np.ndarray) -> float:
            params = BGNBDParams(*np.exp(log_params))
            penalty = self.penalizer * float(np.sum(np.exp(log_params) ** 2))
            return -float(np.dot(weight, bgnbd_log_likelihood(params, x, t_x, age))) + penalty

        start = np.log([1.0, max(float(np.dot(weight, age)), 1.0), 1.0, 1.0])
        result = minimize(loss, start, method="L-BFGS-B", bounds=[(-8.0, 8.0)] * 4)
        self.params_ = BGNBDParams(*np.exp(result.x))
        self.converged_ = bool(result.success)
        self.mean_log_likelihood_ = -float(result.fun)
        return self

    def _alive_odds(self, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """a/(b+x-1) * ((α+T)/(α+t_x))^(r+x) for repeat buyers, 0 otherwise: P(dropped)/P(alive)."""
        p = self.params_
        log_odds = (
            np.log(p.a)
            - np.log(np.maximum(p.b + x - 1, 1e-12))
            + (p.r + x) * (np.log(p.alpha + age) - np.log(p.alpha + t_x))
        )
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700)), 0.0)

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability each customer has not dropped out by the end of their observation."""
        x, t_x, age = _as_arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._alive_odds(x, t_x, age))

    def expected_purchases(
        self, horizon: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected number of purchases in the next `horizon` time units, given each customer's history."""
        p = self.params_
        x, t_x, age = _as_arrays(frequency, recency, T)
        z = horizon / (p.alpha + age + horizon)
        ratio = ((p.alpha + age) / (p.alpha + age + horizon)) ** (p.r + x)
        a_minus_1 = p.a - 1 if abs(p.a - 1) > 1e-6 else 1e-6  # the formula holds on both sides of a = 1
        head = (p.a + p.b + x - 1) / a_minus_1
        body = 1.0 - ratio * hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z)
        return np.maximum(head * body / (1.0 + self._alive_odds(x, t_x, age)), 0.0)

    def p_any_purchase(
        self, horizon: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """P(at least one purchase in the next `horizon` time units | history), in closed form.

        No purchase means no chance to drop out, so P(none) = P(dead) + P(alive) E[exp(-λ h)], where
        λ | alive, history ~ Gamma(r + x, α + T): P(any) = P(alive) (1 - ((α+T)/(α+T+h))^(r+x)).
        """
        p = self.params_
        x, t_x, age = _as_arrays(frequency, recency, T)
        silent = ((p.alpha + age) / (p.alpha + age + horizon)) ** (p.r + x)
        return self.p_alive(x, t_x, age) * (1.0 - silent)


def simulate_bgnbd(
    n: int, params: BGNBDParams, T: np.ndarray | float, seed: int = 0, horizon: float = 0.0
) -> pd.DataFrame:
    """Draw customers from the BG/NBD generative process: frequency, recency, T (and the truth).

    Used to check the estimator recovers known parameters, as any fitted baseline should be checked;
    `future` counts each customer's purchases in the `horizon` after T (the closed forms' target).
    """
    rng = np.random.default_rng(seed)
    age = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    frequency, recency, future = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    clock = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1.0 / np.maximum(rate[idx], 1e-12))
        bought = clock[idx] <= age[idx] + horizon
        buyers = idx[bought]
        past = buyers[clock[buyers] <= age[buyers]]
        frequency[past] += 1
        recency[past] = clock[past]
        future[buyers[clock[buyers] > age[buyers]]] += 1
        alive[idx[~bought]] = False
        alive[buyers] = rng.random(len(buyers)) >= drop[buyers]
    columns = {"frequency": frequency, "recency": recency, "T": age, "rate": rate, "dropout": drop}
    return pd.DataFrame({**columns, "future": future})


def bgnbd_inputs(features: pd.DataFrame, time_unit_days: float = 7.0) -> pd.DataFrame:
    """(frequency, recency, T) per member from the feature table, in weeks by default.

    frequency = repeat paid orders, recency = first to last paid order, T = first paid order to the
    cutoff; members who never bought get zeros (BG/NBD then treats them as brand-new customers).
    """
    first = features["days_since_first_purchase"].astype("float64").fillna(0.0)
    last = features["days_since_last_purchase"].astype("float64").fillna(0.0)
    return pd.DataFrame(
        {
            "frequency": (features["orders_total"].astype("float64") - 1).clip(lower=0),
            "recency": (first - last) / time_unit_days,
            "T": first / time_unit_days,
        },
        index=features.index,
    )


def rfm_score(features: pd.DataFrame) -> pd.Series:
    """The RFM heuristic: r + f + m scores (3..15), 0 for members who never bought."""
    return features[["r_score", "f_score", "m_score"]].astype("float64").fillna(0.0).sum(axis=1)
