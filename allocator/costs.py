"""The cost model of an allocation, as pure vectorised functions (no I/O, no state).

Terms (see `reference/allocation.md` §6): a fixed cost per parcel, carriage per item and km,
pick/pack labour per item, the expected cost of a failed pick from record confidence, overtime
beyond a shop's soft capacity, and the inventory opportunity cost Φ of the units taken:
Φ(k) = Σ_{j=1..k} Δ(q − j + 1) with Δ(q) the value the q-th unit would still earn at the node
(full price if local demand before the markdown date sells it, markdown price if it sells only
in the sale, salvage otherwise).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, gammainc

from allocator.config import CostConfig

FloatArray = NDArray[np.float64]

EARTH_RADIUS_KM = 6371.0088
#: Share of a shop's pick capacity that overtime may add on top of it (the hard ceiling).
DEFAULT_OVERTIME_HEADROOM = 0.5
#: Added to the current price to give the per-unit penalty of an unfilled line (goodwill).
DEFAULT_GOODWILL = 5.0


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> FloatArray:
    """Great-circle distance in km, broadcasting over its arguments."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def parcel_cost(is_shop: ArrayLike, costs: CostConfig) -> FloatArray:
    """Fixed cost of one parcel from each node."""
    out: FloatArray = np.where(is_shop, costs.parcel_cost_store, costs.parcel_cost_warehouse)
    return out.astype(np.float64)


def carriage_per_item(is_shop: ArrayLike, dist_km: ArrayLike, costs: CostConfig) -> FloatArray:
    """Carriage of one item over `dist_km` from each node."""
    rate = np.where(is_shop, costs.per_item_km_store, costs.per_item_km_warehouse)
    out: FloatArray = rate * np.asarray(dist_km, dtype=np.float64)
    return out


def pick_cost_per_item(is_shop: ArrayLike, costs: CostConfig) -> FloatArray:
    """Pick/pack labour of one item at each node."""
    out: FloatArray = np.where(is_shop, costs.pick_cost_store, costs.pick_cost_warehouse)
    return out.astype(np.float64)


def failure_cost_per_item(confidence: ArrayLike, costs: CostConfig) -> FloatArray:
    """Expected cost of a failed pick: P(unit not there) x cost of a failed pick."""
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    out: FloatArray = (1.0 - conf) * costs.failed_pick_cost
    return out


def hard_capacity(
    pick_capacity: ArrayLike, costs: CostConfig, headroom: float = DEFAULT_OVERTIME_HEADROOM
) -> NDArray[np.int64]:
    """Units a node may pick per day at most: the capacity, plus overtime headroom if priced."""
    cap = np.asarray(pick_capacity, dtype=np.int64)
    if costs.overtime_cost is None:
        return cap
    out: NDArray[np.int64] = np.floor(cap * (1.0 + headroom)).astype(np.int64)
    return out


def overtime_cost(
    picks_before: ArrayLike, picks_added: ArrayLike, pick_capacity: ArrayLike, costs: CostConfig
) -> FloatArray:
    """Cost of the added picks that fall beyond the soft capacity (0 when overtime is unpriced)."""
    before = np.asarray(picks_before, dtype=np.float64)
    after = before + np.asarray(picks_added, dtype=np.float64)
    cap = np.asarray(pick_capacity, dtype=np.float64)
    over = np.maximum(after - np.maximum(cap, before), 0.0)
    rate = 0.0 if costs.overtime_cost is None else costs.overtime_cost
    out: FloatArray = over * rate
    return out


def poisson_sf(q: ArrayLike, lam: ArrayLike) -> FloatArray:
    """P(D >= q) for D ~ Poisson(lam), q integer (1 for q <= 0)."""
    qa = np.asarray(q, dtype=np.float64)
    la = np.maximum(np.asarray(lam, dtype=np.float64), 0.0)
    out: FloatArray = np.where(qa <= 0, 1.0, gammainc(np.maximum(qa, 1.0), la))
    return out


def gamma_poisson_sf(q: ArrayLike, mean: ArrayLike, shape: ArrayLike) -> FloatArray:
    """P(D >= q) for D negative binomial with `mean` and `shape` r (Poisson as r -> inf):
    demand over a window when the rate itself is only known as a gamma posterior."""
    qa = np.asarray(q, dtype=np.float64)
    m = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    r = np.maximum(np.asarray(shape, dtype=np.float64), 1e-9)
    p = r / (r + m)
    out: FloatArray = np.where(qa <= 0, 1.0, 1.0 - betainc(r, np.maximum(qa, 1.0), p))
    return out


def unit_value(
    q: ArrayLike,
    demand_full: ArrayLike,
    demand_markdown: ArrayLike,
    p_full: ArrayLike,
    p_markdown: ArrayLike,
    p_salvage: ArrayLike,
    *,
    known: bool = False,
    shape: ArrayLike | None = None,
) -> FloatArray:
    """Δ(q): expected value of the q-th unit if it stays at the node until end of life.

    `demand_*` are Poisson means of the demand at full price (before the markdown date) and in the
    markdown period; with `shape` they are negative-binomial (the rate known only as a gamma
    posterior with that shape); with `known=True` they are realised demand.
    """
    qa = np.asarray(q, dtype=np.float64)
    d1 = np.asarray(demand_full, dtype=np.float64)
    d2 = d1 + np.asarray(demand_markdown, dtype=np.float64)
    if known:
        s1 = (qa <= d1).astype(np.float64)
        s2 = (qa <= d2).astype(np.float64)
    elif shape is not None:
        s1 = gamma_poisson_sf(qa, d1, shape)
        s2 = gamma_poisson_sf(qa, d2, shape)
    else:
        s1 = poisson_sf(qa, d1)
        s2 = poisson_sf(qa, d2)
    pf = np.asarray(p_full, dtype=np.float64)
    pm = np.asarray(p_markdown, dtype=np.float64)
    ps = np.asarray(p_salvage, dtype=np.float64)
    out: FloatArray = pf * s1 + pm * (s2 - s1) + ps * (1.0 - s2)
    return out


def opportunity_cost(
    units: ArrayLike,
    take: ArrayLike,
    demand_full: ArrayLike,
    demand_markdown: ArrayLike,
    p_full: ArrayLike,
    p_markdown: ArrayLike,
    p_salvage: ArrayLike,
    *,
    cap: ArrayLike | None = None,
    known: bool = False,
    shape: ArrayLike | None = None,
) -> FloatArray:
    """Φ(k) = Σ_{j=1..k} min(Δ(q − j + 1), cap): value lost by taking the top `take` of `units`."""
    q = np.asarray(units, dtype=np.float64)
    k = np.asarray(take, dtype=np.int64)
    out_shape = np.broadcast_shapes(q.shape, k.shape, np.shape(demand_full))
    total = np.zeros(out_shape, dtype=np.float64)
    kmax = int(k.max()) if k.size else 0
    for j in range(1, kmax + 1):
        d = unit_value(q - j + 1, demand_full, demand_markdown, p_full, p_markdown, p_salvage,
                       known=known, shape=shape)
        if cap is not None:
            d = np.minimum(d, cap)
        total += np.where((k >= j) & (q - j + 1 >= 1), d, 0.0)
    return total


def demand_windows(
    velocity: ArrayLike, days_to_markdown: ArrayLike, days_to_end: ArrayLike,
    markdown_lift: float | ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Expected demand at full price before the markdown date and in the markdown period."""
    v = np.asarray(velocity, dtype=np.float64)
    end = np.maximum(np.asarray(days_to_end, dtype=np.float64), 0.0)
    md = np.clip(np.asarray(days_to_markdown, dtype=np.float64), 0.0, None)
    md = np.minimum(md, end)
    full: FloatArray = v * md
    sale: FloatArray = v * np.asarray(markdown_lift, dtype=np.float64) * (end - md)
    return full, sale


def lost_sale_penalty(price: ArrayLike, goodwill: float = DEFAULT_GOODWILL) -> FloatArray:
    """ρ: cost per unit of an online line left unfilled (lost revenue + goodwill)."""
    out: FloatArray = np.asarray(price, dtype=np.float64) + goodwill
    return out
