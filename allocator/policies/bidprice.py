"""Bid prices: the value of one unit at each node x GTIN from an expected-demand season LP.

The LP (reference/allocation.md §6, "for a DC unit, Δ is ... the dual of a remaining-horizon
transportation LP"; the Acimovic–Graves estimate) is built from a snapshot alone, so the
simulator and production compute it the same way, periodically (daily), not per order:

* two periods per GTIN: the current price until the next markdown date, then the markdown
  price (demand lifted by `markdown_lift`) until end of life;
* walk-in sales s[n,g,t] at each shop, at most its expected demand `velocity x days` (shops
  only; the velocity of a warehouse is its expected online demand);
* online sales x[n,g,t] from any node into one chain-wide pool per GTIN and period (the sum
  of the warehouses' velocities), each unit paying the node's fulfilment cost (labour, a
  parcel, carriage to the demand-weighted mean distance of the shops' customers);
* re-buys at the warehouses while they are open, at `rebuy_cost` (a warehouse unit that can
  be replaced is worth at most that);
* per node x GTIN: units sold or shipped <= available units; what is left is salvaged.

The dual λ[n,g] >= 0 of that stock row is the margin one more unit there would add above
salvage; the bid price is salvage + λ. The walk-in demand in the LP is its mean: its value of
the q-th unit is a step (full price up to the mean, then less), so the policy blends it with
the stochastic Δ(q) of the cost model at shops rather than replacing it (`problem.BidBlend`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from allocator import costs as cm
from allocator.config import CostConfig
from allocator.model import StockSnapshot

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Mean units per online parcel: the parcel's fixed cost is spread over them.
UNITS_PER_PARCEL = 1.75


class BidPriceError(RuntimeError):
    """The expected-demand LP did not solve to optimality."""


@dataclass(frozen=True)
class BidPrices:
    """(N, G) value of one unit at each node (salvage + stock dual) and (N, G) its value through
    the online channel alone (salvage + the best online margin it could still earn there)."""

    value: FloatArray
    online: FloatArray


def fulfilment_cost(snap: StockSnapshot, costs: CostConfig) -> FloatArray:
    """(N,) expected cost of shipping one online unit from each node: labour, a share of a
    parcel and carriage to the mean distance of the chain's walk-in customers (shops weighted
    by `snap.customer_weight`, else by the snapshot's velocities)."""
    shops = np.flatnonzero(snap.is_shop)
    if snap.customer_weight is not None:
        weight = snap.customer_weight[shops]
    else:
        weight = snap.velocity[shops].sum(axis=1)
    if shops.size == 0 or weight.sum() <= 0:
        weight = np.ones(shops.size)
    if shops.size == 0:
        dist = np.zeros(snap.n_nodes)
    else:
        d = cm.haversine_km(snap.lat[:, None], snap.lon[:, None], snap.lat[shops][None, :],
                            snap.lon[shops][None, :])
        dist = d @ (weight / weight.sum())
    out: FloatArray = (cm.pick_cost_per_item(snap.is_shop, costs)
                       + cm.parcel_cost(snap.is_shop, costs) / UNITS_PER_PARCEL
                       + cm.carriage_per_item(snap.is_shop, dist, costs))
    return out


def bid_prices(snap: StockSnapshot, costs: CostConfig) -> BidPrices:
    """Solve the expected-demand LP of the remaining season over `snap` (see module doc)."""
    n, g = snap.n_nodes, snap.n_gtins
    lift = np.broadcast_to(np.asarray(snap.markdown_lift, dtype=np.float64), (g,))
    d_now, d_md = cm.demand_windows(snap.velocity, snap.days_to_markdown[None, :],
                                    snap.days_to_end[None, :], lift[None, :])
    ends = snap.days_to_markdown >= snap.days_to_end
    price = np.stack([snap.price, np.where(ends, snap.price, snap.markdown_price)])  # (2, G)
    gain = price - snap.salvage[None, :]  # (2, G) margin over salvage of a unit sold
    walk = np.stack([d_now, d_md])  # (2, N, G)
    wh = ~snap.is_shop
    online = walk[:, wh].sum(axis=1)  # (2, G)
    fcost = fulfilment_cost(snap, costs)
    avail = snap.available.astype(np.float64)

    cost: list[FloatArray] = []
    ub: list[FloatArray] = []
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[FloatArray] = []
    n_col = 0

    def add(c: FloatArray, u: FloatArray, r: NDArray[np.int64], v: float = 1.0) -> None:
        nonlocal n_col
        idx = np.arange(n_col, n_col + c.size, dtype=np.int64)
        cost.append(c)
        ub.append(u)
        rows.append(r)
        cols.append(idx)
        vals.append(np.full(c.size, v))
        n_col += c.size

    stock_row = np.arange(n * g, dtype=np.int64).reshape(n, g)
    online_row = n * g + np.arange(2 * g, dtype=np.int64).reshape(2, g)
    for t in range(2):
        # Walk-in sales (shops with stock and demand).
        nn, gg = np.nonzero((walk[t] > 0) & (avail > 0) & snap.is_shop[:, None])
        add(-gain[t, gg], walk[t, nn, gg], stock_row[nn, gg])
        # Online sales: a column per node x GTIN with stock, entering both rows.
        margin = gain[t][None, :] - fcost[:, None]
        nn, gg = np.nonzero((avail > 0) & (online[t] > 0)[None, :] & (margin > 0))
        idx0 = n_col
        add(-margin[nn, gg], np.full(nn.size, np.inf), stock_row[nn, gg])
        idx = np.arange(idx0, n_col, dtype=np.int64)
        rows.append(online_row[t, gg])
        cols.append(idx)
        vals.append(np.ones(nn.size))
    if snap.rebuy_cost is not None:
        open_ = np.isfinite(snap.rebuy_cost)
        nn, gg = np.nonzero(wh[:, None] & open_[None, :])
        add(snap.rebuy_cost[gg] - snap.salvage[gg], np.full(nn.size, np.inf), stock_row[nn, gg],
            -1.0)
    b_ub = np.concatenate([avail.ravel(), online.ravel()])
    if n_col == 0:
        zero = np.broadcast_to(snap.salvage[None, :], (n, g)).astype(np.float64)
        return BidPrices(value=zero.copy(), online=zero.copy())
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(b_ub.size, n_col)).tocsr()
    res = linprog(np.concatenate(cost), A_ub=a, b_ub=b_ub,
                  bounds=np.stack([np.zeros(n_col), np.concatenate(ub)], axis=1),
                  method="highs")
    if res.status != 0:
        raise BidPriceError(f"bid-price LP: {res.message}")
    duals = -np.asarray(res.ineqlin.marginals, dtype=np.float64)
    lam = np.maximum(duals[: n * g].reshape(n, g), 0.0)
    mu = np.maximum(duals[n * g:].reshape(2, g), 0.0)
    # Online option value of a unit at node n: the best period's margin net of the pool's dual.
    opt = (gain[:, None, :] - fcost[None, :, None] - mu[:, None, :]).max(axis=0)
    has = (online > 0)[:, None, :].any(axis=0)
    opt = np.where(has, np.maximum(opt, 0.0), 0.0)
    logger.debug("bid prices: %d columns, objective %.2f", n_col, -res.fun)
    return BidPrices(value=snap.salvage[None, :] + lam, online=snap.salvage[None, :] + opt)
