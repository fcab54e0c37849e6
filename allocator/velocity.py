"""Sales velocity per node x GTIN from what RFID measures: an empirical-Bayes estimator (pure).

A shop x GTIN cell sells about one unit a month, so its own count is mostly noise, and a policy
that takes units where the estimate is lowest picks exactly the cells whose estimate is too
low. The estimator borrows strength in three ways:

* **sizes of a style** (`groups`): a style's sizes sell in a chain-wide size curve, so a shop's
  sales of all sizes of the style estimate one shop x style rate θ, split by the curve π;
* **the chain**: the prior (`prior`, e.g. the pre-season plan) is corrected per style by the
  chain's observed / expected sales (the whole style was over- or under-forecast) and per node
  by the node's observed / expected sales (its size);
* **exposure** (`exposure`): days count only when the cell had stock to sell (RFID knows), and
  each day is weighted by the chain's demand lift at that day's price relative to today's (the
  markdown calendar is known), so a window straddling a markdown is not biased.

θ has a gamma prior of mean θ0 (the corrected prior) and shape a, fitted by the method of
moments over all node x style cells (Var N = μ + μ²/a); the posterior mean is (a + N) /
(a/θ0 + E) with shape a + N, which the cost model uses for negative-binomial demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MIN_SHAPE = 0.5
MAX_SHAPE = 50.0
#: Pseudo-counts of the chain-level corrections (style and node factors, size curve).
PSEUDO = 1.0


@dataclass(frozen=True)
class VelocityEstimate:
    """(N, G) units/day at the current price, and the gamma shape of each estimate."""

    rate: FloatArray
    shape: FloatArray
    prior_shape: float


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out: FloatArray = (num + PSEUDO) / (den + PSEUDO)
    return out


def estimate(
    sales: FloatArray,
    exposure: FloatArray,
    prior: FloatArray,
    groups: IntArray | None = None,
) -> VelocityEstimate:
    """Velocity of N nodes x G GTINs.

    `sales` (N, G): units sold over the window; `exposure` (N, G): days of the window the cell
    could sell, each weighted by its demand lift relative to today's (so `sales / exposure` is
    a rate at today's price); `prior` (N, G): prior rate at today's price (> 0 where known);
    `groups` (G,): style of each GTIN (None: every GTIN its own style).
    """
    n, g = sales.shape
    grp = np.arange(g, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    k = int(grp.max()) + 1 if g else 0
    prior = np.maximum(np.asarray(prior, dtype=np.float64), 0.0)
    expo = np.maximum(np.asarray(exposure, dtype=np.float64), 0.0)
    sales = np.maximum(np.asarray(sales, dtype=np.float64), 0.0)

    def by_group(x: FloatArray) -> FloatArray:  # (N, G) -> (N, K)
        out = np.zeros((x.shape[0], k))
        np.add.at(out.T, grp, x.T)
        return out

    expected = prior * expo  # sales the prior expects over the window
    # Chain size curve within each style: prior chain rate x observed / expected, normalised.
    chain_rate = prior.sum(axis=0) * _ratio(sales.sum(axis=0), expected.sum(axis=0))
    style_rate = np.zeros(k)
    np.add.at(style_rate, grp, chain_rate)
    size_n = np.bincount(grp, minlength=k).astype(np.float64)
    pi = np.where(style_rate[grp] > 0, chain_rate / np.maximum(style_rate[grp], 1e-300),
                  1.0 / size_n[grp])
    # Prior of θ (node x style): the prior corrected by style (chain) and node factors.
    kappa = _ratio(by_group(sales.sum(axis=0)[None, :])[0], by_group(expected.sum(axis=0)[None, :])[0])
    corrected = expected * kappa[grp][None, :]
    node = _ratio(sales.sum(axis=1), corrected.sum(axis=1))
    theta0 = np.maximum(by_group(prior) * kappa[None, :] * node[:, None], 1e-9)
    n_obs = by_group(sales)
    e_obs = by_group(expo * pi[None, :])
    mu = theta0 * e_obs
    live = e_obs > 0
    excess = float(((n_obs - mu) ** 2 - mu)[live].sum())
    scale = float((mu**2)[live].sum())
    a = MAX_SHAPE if excess <= 0 or scale <= 0 else float(np.clip(scale / excess, MIN_SHAPE,
                                                                    MAX_SHAPE))
    theta = (a + n_obs) / (a / theta0 + e_obs)
    rate: FloatArray = theta[:, grp] * pi[None, :]
    shape: FloatArray = np.broadcast_to(a + n_obs, (n, k))[:, grp].copy()
    return VelocityEstimate(rate=rate, shape=shape, prior_shape=a)
