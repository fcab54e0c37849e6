"""The season's perfect-information upper bound: an LP no allocation policy can beat.

Knowing the whole season in advance (every shop's walk-in demand day by day, every online
order, the true stock), choose walk-in sales, the node of every online unit, and the
warehouse's re-buys to maximise the season's total margin as `ChainSimulation` measures it
(online + walk-in + salvage revenue − COGS − fulfilment cost). The constraints are those every
policy faces, relaxed: shops start from the same sunk allocation and are never replenished; the
warehouse may re-buy at unit cost on *any* day its re-buy would still arrive (lead time) before
the first markdown (policies: weekly, order-up-to); a shop picks at most its hard capacity a
day; what is left at a GTIN's end of life is salvaged. Relaxations, each of which only raises
the bound: units and parcels are fractional (a parcel y[o,n] >= x[o,l,n] / qty), a day's walk-in
and online sales share the day's opening stock in any order, walk-in demand may be left
unserved, no pick fails (true stock is known). Any run of any policy is a feasible point, so
its margin is at most the LP optimum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix

from allocator.config import CostConfig
from allocator.costs import haversine_km
from allocator.highs_model import _new_highs
from allocator.policies import get_policy
from simulators.chain import ChainSimulation
from simulators.chain_demand import online_orders, walk_in
from simulators.chain_world import full_price_days
from simulators.config import ChainConfig

logger = logging.getLogger(__name__)


#: The policy name of the perfect-information bound (`simulate chain --policy hindsight`).
HINDSIGHT = "hindsight"


class BoundError(RuntimeError):
    """HiGHS did not solve the season LP to optimality."""


class _Lp:
    """Columns and coefficient triplets, appended in numpy blocks."""

    def __init__(self) -> None:
        self.cost: list[NDArray[np.float64]] = []
        self.ub: list[NDArray[np.float64]] = []
        self.n = 0
        self.rows: list[NDArray[np.int64]] = []
        self.cols: list[NDArray[np.int64]] = []
        self.vals: list[NDArray[np.float64]] = []
        self.rlo: list[NDArray[np.float64]] = []
        self.rhi: list[NDArray[np.float64]] = []
        self.m = 0

    def add_cols(self, cost: NDArray[np.float64], ub: NDArray[np.float64]) -> NDArray[np.int64]:
        idx = np.arange(self.n, self.n + cost.size, dtype=np.int64)
        self.cost.append(np.asarray(cost, dtype=np.float64))
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), cost.shape).copy())
        self.n += cost.size
        return idx

    def add_rows(self, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.int64]:
        idx = np.arange(self.m, self.m + lo.size, dtype=np.int64)
        self.rlo.append(np.asarray(lo, dtype=np.float64))
        self.rhi.append(np.asarray(hi, dtype=np.float64))
        self.m += lo.size
        return idx

    def coef(self, rows: NDArray[np.int64], cols: NDArray[np.int64], vals: object) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), np.shape(rows)).copy())

    def solve(
        self, cost: NDArray[np.float64], time_limit: float
    ) -> tuple[float, NDArray[np.float64]]:
        cat = np.concatenate
        a = coo_matrix((cat(self.vals), (cat(self.rows), cat(self.cols))),
                       shape=(self.m, self.n)).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_ = self.n
        lp.num_row_ = self.m
        lp.col_cost_ = cost
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = cat(self.ub)
        lp.row_lower_ = cat(self.rlo)
        lp.row_upper_ = cat(self.rhi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(np.float64)
        h = _new_highs()
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("threads", 1)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise BoundError(f"season LP: {h.modelStatusToString(status)}")
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return float(h.getInfo().objective_function_value), x


@dataclass(frozen=True)
class _Line:
    order: int
    day: int
    gtin: int
    qty: int
    lat: float
    lon: float
    collect: int  # node index of the click-and-collect shop, -1 if none


@dataclass(frozen=True)
class _Season:
    """The built LP and, per column, what it adds to each reported quantity."""

    lp: _Lp
    cogs0: float
    orders: int
    ordered_units: float
    md_value: NDArray[np.float64]
    md_units: NDArray[np.float64]
    fulfil: NDArray[np.float64]
    parcels: NDArray[np.float64]
    salvage: NDArray[np.float64]
    online: NDArray[np.float64]
    rebuy: NDArray[np.float64]
    lost_fast: NDArray[np.float64]  # minus walk-in units of fast movers sold
    full_units: NDArray[np.float64]
    lost: NDArray[np.float64]
    demand_fast: float
    demand: float
    bought0: float


def _orders(config: ChainConfig, sim: ChainSimulation, seed: int, horizon: int) -> list[_Line]:
    w = sim.world
    lines: list[_Line] = []
    index = {g: i for i, g in enumerate(w.gtins)}
    shop_index = {s: w.n_wh + i for i, s in enumerate(w.shop_ids)}
    n_orders = 0
    for t in range(min(config.days, horizon)):
        for o in online_orders(w, seed, t, config.online_share):
            collect = -1 if o.collect_shop is None else shop_index[o.collect_shop]
            lat, lon = (o.ship_lat, o.ship_lon) if collect < 0 else (w.lat[collect], w.lon[collect])
            for item in o.lines:
                lines.append(_Line(n_orders, t, index[item.gtin], item.qty, float(lat),
                                   float(lon), collect))
            n_orders += 1
    return lines


def _build(config: ChainConfig, costs: CostConfig, seed: int,
           rebuy_cap: NDArray[np.int64] | None = None) -> _Season:
    sim = ChainSimulation(config, costs, seed, get_policy("warehouse-first"))
    w = sim.world
    n_wh, n_g = w.n_wh, len(w.gtins)
    n_nodes = n_wh + w.n_shops
    init = sim.true.astype(np.float64)  # (N, G) true opening stock
    end = (w.life - w.age0 - 1).astype(np.int64)  # last selling day of each GTIN
    horizon = int(end.max()) + 1
    lead = sim.lead
    buy_last = full_price_days(w) - lead  # last day a re-buy may be placed (arrives in time)
    prices = np.array([w.price(t) for t in range(horizon)])  # (T, G)
    off = np.where(prices < w.full_price[None, :] - 1e-9, w.full_price[None, :] - prices, 0.0)
    demand = np.array([walk_in(w, seed, t) for t in range(horizon)]).astype(np.float64)
    demand *= (np.arange(horizon)[:, None] <= end[None, :])[:, None, :]
    lines = _orders(config, sim, seed, horizon)

    lp = _Lp()
    cols: dict[str, list[NDArray[np.float64]]] = {k: [] for k in (
        "md_value", "md_units", "fulfil", "parcels", "salvage", "online", "rebuy", "lost_fast",
        "full_units")}

    def add(cost: NDArray[np.float64], ub: NDArray[np.float64],
            **metrics: NDArray[np.float64]) -> NDArray[np.int64]:
        idx = lp.add_cols(cost, ub)
        for k, v in cols.items():
            v.append(np.broadcast_to(metrics.get(k, np.zeros(1)), cost.shape).astype(np.float64))
        return idx

    # Stock cells: every warehouse x GTIN; shop x GTIN only with opening stock (never refilled).
    holds = init > 0
    holds[:n_wh] = True
    cell_n, cell_g = np.nonzero(holds)
    cell_of = -np.ones((n_nodes, n_g), dtype=np.int64)
    cell_of[cell_n, cell_g] = np.arange(cell_n.size)
    days_of = end[cell_g] + 1  # inventory variables per cell: days 0..end
    first = np.concatenate([[0], np.cumsum(days_of)[:-1]]).astype(np.int64)
    total = int(days_of.sum())
    inv_cell = np.repeat(np.arange(cell_n.size), days_of)
    inv_day = np.arange(total) - np.repeat(first, days_of)
    last = (inv_day == end[cell_g][inv_cell]).astype(np.float64)
    g_inv = cell_g[inv_cell]
    inv = add(-w.salvage[g_inv] * last, np.full(total, np.inf),
              md_value=(w.full_price - w.salvage)[g_inv] * last, md_units=last, salvage=last)
    # Balance of (cell, day): inv[t] - inv[t-1] + sold + shipped - arrived = opening if t = 0.
    rhs = np.zeros(total)
    rhs[first] = init[cell_n, cell_g]
    bal = lp.add_rows(rhs, rhs)
    lp.coef(bal, inv, 1.0)
    later = inv_day > 0
    lp.coef(bal[later], inv[later] - 1, -1.0)

    # Walk-in sales of shop cells with demand.
    s_cells = np.flatnonzero(cell_n >= n_wh)
    grid_t, grid_c = np.meshgrid(np.arange(horizon), s_cells, indexing="ij")
    tt, ss = grid_t.ravel(), grid_c.ravel()
    d = demand[tt, cell_n[ss] - n_wh, cell_g[ss]]
    tt, ss, d = tt[d > 0], ss[d > 0], d[d > 0]
    gs = cell_g[ss]
    sell = add(-prices[tt, gs], d, md_value=off[tt, gs],
               md_units=(off[tt, gs] > 0).astype(np.float64),
               full_units=(off[tt, gs] == 0).astype(np.float64),
               lost_fast=-w.fast[gs].astype(np.float64))
    lp.coef(bal[first[ss] + tt], sell, 1.0)

    # Re-buys at each warehouse: placed on day t, they arrive (enter the balance) on t + lead.
    wh_cells = np.flatnonzero(cell_n < n_wh)
    grid_t, grid_c = np.meshgrid(np.arange(horizon), wh_cells, indexing="ij")
    bt, bc = grid_t.ravel(), grid_c.ravel()
    ok = bt <= buy_last[cell_g[bc]]
    bt, bc = bt[ok], bc[ok]
    buy = add(w.unit_cost[cell_g[bc]].astype(np.float64), np.full(bt.size, np.inf),
              rebuy=np.ones(1))
    lp.coef(bal[first[bc] + bt + lead[cell_g[bc]]], buy, -1.0)
    if rebuy_cap is not None:  # the season's re-buys of each warehouse x GTIN, on any days
        budget = lp.add_rows(np.full(wh_cells.size, -np.inf),
                             rebuy_cap[cell_n[wh_cells], cell_g[wh_cells]].astype(np.float64))
        lp.coef(budget[np.searchsorted(wh_cells, bc)], buy, 1.0)

    # Online units x[line, node] from every cell holding the line's GTIN; parcels y[order, node].
    holders = [np.flatnonzero(cell_of[:, ln.gtin] >= 0) for ln in lines]
    xn = np.concatenate(holders) if lines else np.zeros(0, dtype=np.int64)
    xl = np.repeat(np.arange(len(lines)), [h.size for h in holders]).astype(np.int64)
    l_day = np.array([ln.day for ln in lines], dtype=np.int64)[xl]
    l_g = np.array([ln.gtin for ln in lines], dtype=np.int64)[xl]
    l_q = np.array([ln.qty for ln in lines], dtype=np.float64)
    l_o = np.array([ln.order for ln in lines], dtype=np.int64)[xl]
    shop = xn >= n_wh
    at_collect = xn == np.array([ln.collect for ln in lines], dtype=np.int64)[xl]
    dist = haversine_km(w.lat[xn], w.lon[xn], np.array([ln.lat for ln in lines])[xl],
                        np.array([ln.lon for ln in lines])[xl])
    per_km = np.where(shop, costs.per_item_km_store, costs.per_item_km_warehouse)
    unit = (np.where(shop, costs.pick_cost_store, costs.pick_cost_warehouse)
            + np.where(at_collect, 0.0, per_km * dist))
    x = add(unit - prices[l_day, l_g], l_q[xl], md_value=off[l_day, l_g],
            md_units=(off[l_day, l_g] > 0).astype(np.float64),
            full_units=(off[l_day, l_g] == 0).astype(np.float64), fulfil=unit, online=np.ones(1))
    lp.coef(bal[first[cell_of[xn, l_g]] + l_day], x, 1.0)
    line_rows = lp.add_rows(np.full(len(lines), -np.inf), l_q)  # units of a line <= qty
    lp.coef(line_rows[xl], x, 1.0)
    pairs, inverse = np.unique(l_o * n_nodes + xn, return_inverse=True)
    free = np.zeros(pairs.size, dtype=np.bool_)
    free[inverse[at_collect]] = True  # collected at the shop that picks: no parcel
    parcel = np.where(free, 0.0, np.where(pairs % n_nodes >= n_wh, costs.parcel_cost_store,
                                          costs.parcel_cost_warehouse))
    y = add(parcel, np.ones(pairs.size), fulfil=parcel, parcels=(~free) * 1.0)
    link = lp.add_rows(np.full(xl.size, -np.inf), np.zeros(xl.size))  # x / qty <= y
    lp.coef(link, x, 1.0 / l_q[xl])
    lp.coef(link, y[inverse], -1.0)
    # Daily pick capacity of each shop.
    day_node, cap_inv = np.unique((l_day * n_nodes + xn)[shop], return_inverse=True)
    cap_rows = lp.add_rows(np.full(day_node.size, -np.inf),
                           sim.hard[day_node % n_nodes].astype(np.float64))
    lp.coef(cap_rows[cap_inv], x[shop], 1.0)

    cat = {k: np.concatenate(v) for k, v in cols.items()}
    dem_fast = float(demand[:, :, w.fast].sum())
    return _Season(
        lp=lp, cogs0=float((init.sum(axis=0) * w.unit_cost).sum()),
        orders=len({ln.order for ln in lines}), ordered_units=float(l_q.sum()),
        md_value=cat["md_value"], md_units=cat["md_units"], fulfil=cat["fulfil"],
        parcels=cat["parcels"], salvage=cat["salvage"], online=cat["online"],
        rebuy=cat["rebuy"], lost_fast=cat["lost_fast"], full_units=cat["full_units"],
        lost=np.where(np.isin(np.arange(lp.n), sell), -1.0, 0.0),
        demand_fast=dem_fast, demand=float(demand.sum()), bought0=float(init.sum()),
    )


#: Weight of the margin in the markdown-floor LP: a tie-break among plans of least markdown.
FLOOR_MARGIN_WEIGHT = 1e-3


def season_bound(
    config: ChainConfig, costs: CostConfig, seed: int, *, objective: str = "margin",
    time_limit: float = 600.0, rebuy_cap: NDArray[np.int64] | None = None,
) -> dict[str, Any]:
    """The LP optimum of the season with perfect information, and its plan's metrics (named as
    `simulate chain` names them; fractional where the LP is).

    `objective="margin"`: the upper bound on total margin. `objective="markdown"`: the least
    markdown value any plan can reach (ties broken towards margin, with weight
    FLOOR_MARGIN_WEIGHT): no policy, whatever margin it gives up, gets markdown value below it
    (up to that weight times their margin difference).

    `rebuy_cap` (warehouses x GTINs): at most these units re-bought over the season (a policy's
    own re-buys, `ChainSimulation.rebought`): the best allocation given that policy's re-buys,
    which separates what allocation can win from what perfect re-buying adds.
    """
    se = _build(config, costs, seed, rebuy_cap)
    lp = se.lp
    cost = np.concatenate(lp.cost)
    if objective == "markdown":
        _, sol = lp.solve(se.md_value + FLOOR_MARGIN_WEIGHT * cost, time_limit)
    elif objective == "margin":
        _, sol = lp.solve(cost, time_limit)
    else:
        raise ValueError(f"objective: {objective!r}")
    margin = -float(cost @ sol) - se.cogs0
    online = float(se.online @ sol)
    rebuy = float(se.rebuy @ sol)
    logger.info("season bound seed %d (%s): %d cols, %d rows, margin %.2f", seed, objective,
                lp.n, lp.m, margin)
    return {
        "policy": HINDSIGHT if objective == "margin" else "markdown-floor",
        "seed": seed, "stores": config.stores, "skus": config.skus, "days": config.days,
        "accuracy": config.rfid_accuracy, "orders": se.orders, "total_margin": round(margin, 2),
        "fulfilment_cost_per_order": round(float(se.fulfil @ sol) / max(se.orders, 1), 4),
        "parcels_per_order": round(float(se.parcels @ sol) / max(se.orders, 1), 4),
        "markdown_units": round(float(se.md_units @ sol), 2),
        "markdown_value": round(float(se.md_value @ sol), 2),
        "salvage_units": round(float(se.salvage @ sol), 2),
        "shop_lost_sales_fast_movers": round(se.demand_fast + float(se.lost_fast @ sol), 2),
        "shop_lost_sales": round(se.demand + float(se.lost @ sol), 2),
        "capacity_violations": 0, "pick_failures": 0, "online_units": round(online, 2),
        "online_lost_units": round(se.ordered_units - online, 2),
        "bought_units": round(se.bought0 + rebuy, 2), "rebuy_units": round(rebuy, 2),
        "full_price_sell_through": round(float(se.full_units @ sol) / (se.bought0 + rebuy), 4),
        "decision_ms_p50": 0.0, "decision_ms_p99": 0.0,
        "lp_columns": lp.n, "lp_rows": lp.m,
    }
