"""One order turned into small dense arrays over its candidate nodes (shared by every policy).

Lines of the same GTIN are merged; candidates are only the nodes that hold some unit of the
order's GTINs and still have pick capacity today, so the cost of a decision never touches the
full N x G snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import EllipsisType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from allocator import costs as cm
from allocator.config import CostConfig
from allocator.decision import Assignment, CostBreakdown, Unfilled
from allocator.model import Order, StockSnapshot

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
#: Cells of a (K, L) array: `...` (all), a (k, line) pair, or (ks, ls) index arrays.
Selection = EllipsisType | tuple[int, int] | tuple[IntArray, IntArray]


class BidBlend(StrEnum):
    """How the snapshot's bid prices (when it has them) enter Δ of the q-th unit.

    `lp` (the `shelfsight` default): at shops Δ(q) = max(Δ(q), bid value) (the stochastic
    walk-in Δ keeps the q-th unit's risk, the LP adds the unit's later online use), at
    warehouses Δ = the bid value alone (the LP knows shops serve online demand too; the
    warehouse's own Δ, from its own online velocity, does not). `online`: as `lp` but shops
    floored at their online value only. `max`: Δ(q) = max(Δ(q), bid value) everywhere.
    `none`: ignored. Measured (10 seeds, margin vs warehouse-first): lp +1108, online +856,
    max -758, none -1047.
    """

    NONE = "none"
    MAX = "max"
    ONLINE = "online"
    LP = "lp"


@dataclass(frozen=True)
class Terms:
    """Which cost terms a policy optimises (the breakdown always reports all of them)."""

    failure: bool = True
    opportunity: bool = True
    bid: BidBlend = BidBlend.NONE


FULL = Terms()
#: The `shelfsight` objective: every term, Δ blended with the snapshot's bid prices.
FULL_BID = Terms(bid=BidBlend.LP)
SHIPPING_ONLY = Terms(failure=False, opportunity=False)


def _bounded(d: FloatArray, floor: FloatArray, flat: NDArray[np.bool_],
             cap: FloatArray) -> FloatArray:
    """Δ floored by the bid price (the bid price alone where `flat`), capped at `cap`."""
    out: FloatArray = np.minimum(np.where(flat, floor, np.maximum(d, floor)), cap)
    return out


@dataclass(eq=False)
class OrderProblem:
    order: Order
    gtins: tuple[str, ...]  # merged lines (L,)
    src_line: tuple[int, ...]  # first original line index of each merged line
    cols: IntArray  # (L,) snapshot GTIN column
    qty: IntArray  # (L,)
    nodes: IntArray  # (K,) snapshot node index
    avail: IntArray  # (K, L) units offered online
    dist: FloatArray  # (K,) km to the ship-to point
    is_shop: NDArray[np.bool_]  # (K,)
    parcel: FloatArray  # (K,)
    carriage: FloatArray  # (K,) per item
    labour: FloatArray  # (K,) per item
    failure: FloatArray  # (K, L) per item
    cap_hard: IntArray  # (K,) units still pickable today
    cap_soft: IntArray  # (K,) units before overtime
    picks_today: IntArray  # (K,)
    capacity: IntArray  # (K,)
    rho: FloatArray  # (L,) per unfilled unit
    units: IntArray  # (K, L) recorded units (the Δ ladder is over these)
    demand_full: FloatArray  # (K, L)
    demand_markdown: FloatArray  # (K, L)
    p_full: FloatArray  # (L,)
    p_markdown: FloatArray  # (L,)
    p_salvage: FloatArray  # (L,)
    delta_cap: FloatArray  # (K, L) Δ of one unit is at most this (ρ; re-buy cost at warehouses)
    delta_floor: FloatArray  # (K, L) Δ of one unit is at least this (bid prices; 0 = none)
    delta_flat: NDArray[np.bool_]  # (K, L) Δ of every unit is delta_floor (bid price alone)
    known: bool
    shape: FloatArray | None  # (K, L) gamma shape of the velocity, None = Poisson
    collect: int  # index in K of the click-and-collect shop, -1 if none
    overtime_rate: float
    unknown: tuple[Unfilled, ...] = field(default_factory=tuple)
    #: Δ of the 1st..Q-th unit of each cell, computed once (`delta_table`); not copied by
    #: `dataclasses.replace`, so a restricted problem computes its own.
    _delta_table: FloatArray | None = field(default=None, init=False, repr=False)

    @property
    def n_lines(self) -> int:
        return len(self.gtins)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def unit_cost(self, terms: Terms) -> FloatArray:
        """(K, L) per-item cost of carriage + labour (+ expected pick failure)."""
        base = (self.carriage + self.labour)[:, None] + np.zeros((1, self.n_lines))
        out: FloatArray = base + self.failure if terms.failure else base
        return out

    def phi(self, take: IntArray) -> FloatArray:
        """(K, L) opportunity cost of taking `take` (K, L) units from each candidate."""
        k = np.asarray(take, dtype=np.int64)
        total = np.zeros(self.units.shape)
        for j in range(1, int(k.max()) + 1 if k.size else 1):
            d = self.delta(self.units - j + 1, ...)
            total += np.where((k >= j) & (self.units - j + 1 >= 1), d, 0.0)
        return total

    def delta_table(self) -> FloatArray:
        """(K, L, Q) Δ of the j-th unit (j = 0..Q-1, Q = the largest line qty) taken from each
        cell: `delta(units - j)`, shared by the solvers' marginal costs and the breakdowns."""
        if self._delta_table is None:
            qmax = int(self.qty.max()) if self.n_lines else 1
            j = np.arange(qmax, dtype=np.float64)
            d = cm.unit_value(
                self.units[:, :, None] - j[None, None, :], self.demand_full[:, :, None],
                self.demand_markdown[:, :, None], self.p_full[None, :, None],
                self.p_markdown[None, :, None], self.p_salvage[None, :, None], known=self.known,
                shape=None if self.shape is None else self.shape[:, :, None],
            )
            self._delta_table = _bounded(d, self.delta_floor[:, :, None],
                                         self.delta_flat[:, :, None], self.delta_cap[:, :, None])
        return self._delta_table

    def delta(self, q: ArrayLike, sel: Selection) -> FloatArray:
        """Δ of the q-th unit of the cells `self.X[sel]` ((K, L)-indexed), floored by the bid
        price, flat where the bid price alone counts, capped at delta_cap."""
        ls = np.broadcast_to(np.arange(self.n_lines), self.units.shape)[sel]
        d = cm.unit_value(
            q, self.demand_full[sel], self.demand_markdown[sel], self.p_full[ls],
            self.p_markdown[ls], self.p_salvage[ls], known=self.known,
            shape=None if self.shape is None else self.shape[sel],
        )
        return _bounded(d, self.delta_floor[sel], self.delta_flat[sel], self.delta_cap[sel])

    def segment_values(self, k: int, line: int, n: int, offset: int = 0) -> FloatArray:
        """Δ of the 1st..n-th unit taken from candidate k for a line (non-decreasing), after
        `offset` units already taken."""
        q = self.units[k, line] - offset - np.arange(n, dtype=np.float64)
        return self.delta(q, (k, line))

    def breakdown(self, taken: dict[tuple[int, int], int]) -> CostBreakdown:
        """Full expected cost of taking `taken[(k, line)]` units; the rest unfilled.

        A decision takes a handful of cells: plain Python over them, in ascending node order,
        costs a fraction of a dozen numpy reductions over every candidate."""
        if not taken:
            unfilled = float((self.rho * self.qty).sum())
            return CostBreakdown(unfilled=unfilled)
        per_node: dict[int, int] = {}
        filled = [0] * self.n_lines
        failure = 0.0
        for (k, ln), units in taken.items():
            per_node[k] = per_node.get(k, 0) + units
            filled[ln] += units
            failure += float(self.failure[k, ln]) * units
        parcels = carriage = labour = overtime = 0.0
        for k in sorted(per_node):
            units = per_node[k]
            if units <= 0:
                continue
            parcels += float(self.parcel[k])
            carriage += float(self.carriage[k]) * units
            labour += float(self.labour[k]) * units
            if self.overtime_rate:
                picks = int(self.picks_today[k])
                over = picks + units - max(int(self.capacity[k]), picks)
                overtime += max(over, 0) * self.overtime_rate
        unfilled = 0.0
        for ln in range(self.n_lines):
            unfilled += float(self.rho[ln]) * (int(self.qty[ln]) - filled[ln])
        return CostBreakdown(
            parcels=parcels, carriage=carriage, labour=labour, pick_failure=failure,
            opportunity=self._phi_cells(taken), overtime=overtime, unfilled=unfilled,
        )

    def _phi_cells(self, taken: dict[tuple[int, int], int]) -> float:
        """Φ of taking `taken[(k, line)]` units from those cells only: the Δ of the 1st..n-th
        unit of each (while the cell holds one)."""
        table = self.delta_table()
        depth = table.shape[2]
        total = 0.0
        for (k, ln), units in taken.items():
            if units > depth:
                raise ValueError("more units taken from a cell than the order's line asks for")
            n = min(units, int(self.units[k, ln]))
            if n > 0:
                total += float(table[k, ln, :n].sum())
        return total

    def to_assignments(
        self, taken: dict[tuple[int, int], int], node_ids: tuple[str, ...]
    ) -> tuple[tuple[Assignment, ...], tuple[Unfilled, ...]]:
        out: list[Assignment] = []
        filled = np.zeros(self.n_lines, dtype=np.int64)
        for (k, ln), units in sorted(taken.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if units <= 0:
                continue
            filled[ln] += units
            out.append(Assignment(self.src_line[ln], self.gtins[ln], node_ids[self.nodes[k]], units))
        rest = [
            Unfilled(self.src_line[ln], self.gtins[ln], int(self.qty[ln] - filled[ln]), "no_stock")
            for ln in range(self.n_lines) if filled[ln] < self.qty[ln]
        ]
        return tuple(out), (*self.unknown, *rest)


def prepare(
    order: Order, snap: StockSnapshot, costs: CostConfig, terms: Terms | None = None
) -> OrderProblem:
    """Merge lines, find candidates and compute every per-candidate cost array."""
    merged: dict[str, list[int]] = {}  # gtin -> [first line, qty, column]
    unknown: list[Unfilled] = []
    for i, line in enumerate(order.lines):
        if line.qty <= 0:
            continue
        col = snap.gtin_index(line.gtin)
        if col is None:
            unknown.append(Unfilled(i, line.gtin, line.qty, "unknown_gtin"))
            continue
        if line.gtin in merged:
            merged[line.gtin][1] += line.qty
        else:
            merged[line.gtin] = [i, line.qty, col]
    gtins = tuple(merged)
    src = tuple(v[0] for v in merged.values())
    qty = np.array([v[1] for v in merged.values()], dtype=np.int64)
    cols = np.array([v[2] for v in merged.values()], dtype=np.int64)

    hard = cm.hard_capacity(snap.pick_capacity, costs)
    cap_left = hard - snap.picks_today
    sub = snap.available[:, cols]  # (N, L)
    offered = sub
    if costs.protection_units:
        offered = np.where(snap.is_shop[:, None], np.maximum(sub - costs.protection_units, 0), sub)
    mask = (offered > 0).any(axis=1) & (cap_left > 0)
    nodes = np.flatnonzero(mask).astype(np.int64)

    collect_node = -1
    lat, lon = order.ship_lat, order.ship_lon
    if order.collect_shop is not None:
        ci = snap.node_index(order.collect_shop)
        if ci is not None:
            lat, lon = float(snap.lat[ci]), float(snap.lon[ci])
            collect_node = ci
    is_shop = snap.is_shop[nodes]
    dist = cm.haversine_km(snap.lat[nodes], snap.lon[nodes], lat, lon)
    parcel = cm.parcel_cost(is_shop, costs)
    carriage = cm.carriage_per_item(is_shop, dist, costs)
    collect = -1
    if collect_node >= 0:
        hit = np.flatnonzero(nodes == collect_node)
        if hit.size:
            collect = int(hit[0])
            parcel[collect] = 0.0
            carriage[collect] = 0.0
    labour = cm.pick_cost_per_item(is_shop, costs)
    cell = (nodes[:, None], cols[None, :])  # the (K, L) block of the order's cells
    conf = snap.confidence[cell]
    failure = cm.failure_cost_per_item(conf, costs)
    units = snap.available[cell]
    if snap.future_full is not None and snap.future_markdown is not None:
        d_full = snap.future_full[cell]
        d_md = snap.future_markdown[cell]
        known = True
    else:
        d_full, d_md = cm.demand_windows(
            snap.velocity[cell], snap.days_to_markdown[cols][None, :],
            snap.days_to_end[cols][None, :],
            snap.markdown_lift if isinstance(snap.markdown_lift, float)
            else snap.markdown_lift[cols][None, :],
        )
        known = False
    ends = snap.days_to_markdown[cols] >= snap.days_to_end[cols]
    p_md = np.where(ends, snap.price[cols], snap.markdown_price[cols])
    soft_left = np.maximum(snap.pick_capacity[nodes] - snap.picks_today[nodes], 0)
    rho = cm.lost_sale_penalty(snap.price[cols])
    delta_cap = np.broadcast_to(rho[None, :], (nodes.size, cols.size)).copy()
    if snap.rebuy_cost is not None:
        # A warehouse unit that can still be re-bought is worth at most its re-buy cost.
        rebuy = snap.rebuy_cost[cols]
        open_ = ~is_shop[:, None] & np.isfinite(rebuy)[None, :]
        delta_cap = np.where(open_, np.minimum(delta_cap, rebuy[None, :]), delta_cap)
    floor = np.zeros((nodes.size, cols.size))
    flat = np.zeros((nodes.size, cols.size), dtype=np.bool_)
    blend = BidBlend.NONE if terms is None else terms.bid
    if blend is not BidBlend.NONE and snap.bid_value is not None:
        floor = snap.bid_value[cell]
        if blend is not BidBlend.MAX:  # warehouses: the bid price alone
            flat = np.broadcast_to(~is_shop[:, None], floor.shape).copy()
        if blend is BidBlend.ONLINE and snap.bid_online is not None:
            floor = np.where(is_shop[:, None], snap.bid_online[cell], floor)
    return OrderProblem(
        order=order, gtins=gtins, src_line=src, cols=cols, qty=qty, nodes=nodes,
        avail=offered[nodes], dist=dist, is_shop=is_shop, parcel=parcel, carriage=carriage,
        labour=labour, failure=failure, cap_hard=cap_left[nodes],
        cap_soft=np.minimum(soft_left, cap_left[nodes]),
        picks_today=snap.picks_today[nodes], capacity=snap.pick_capacity[nodes],
        rho=rho, units=units, demand_full=d_full,
        demand_markdown=d_md, p_full=snap.price[cols], p_markdown=p_md,
        p_salvage=snap.salvage[cols], delta_cap=delta_cap, delta_floor=floor, delta_flat=flat,
        known=known,
        shape=(None if known or snap.velocity_shape is None
               else snap.velocity_shape[cell]), collect=collect,
        overtime_rate=0.0 if costs.overtime_cost is None else costs.overtime_cost,
        unknown=tuple(unknown),
    )


def subset(pr: OrderProblem, lines: IntArray, used: IntArray) -> OrderProblem:
    """The problem restricted to `lines`, with `used` (K,) units of capacity already taken."""
    return replace(
        pr,
        gtins=tuple(pr.gtins[i] for i in lines.tolist()),
        src_line=tuple(pr.src_line[i] for i in lines.tolist()),
        cols=pr.cols[lines], qty=pr.qty[lines], avail=pr.avail[:, lines],
        failure=pr.failure[:, lines], rho=pr.rho[lines], units=pr.units[:, lines],
        demand_full=pr.demand_full[:, lines], demand_markdown=pr.demand_markdown[:, lines],
        p_full=pr.p_full[lines], p_markdown=pr.p_markdown[lines], p_salvage=pr.p_salvage[lines],
        delta_cap=pr.delta_cap[:, lines], delta_floor=pr.delta_floor[:, lines],
        delta_flat=pr.delta_flat[:, lines],
        shape=None if pr.shape is None else pr.shape[:, lines],
        cap_hard=pr.cap_hard - used, cap_soft=np.maximum(pr.cap_soft - used, 0),
        picks_today=pr.picks_today + used, unknown=(),
    )


def collect_first(pr: OrderProblem) -> tuple[dict[tuple[int, int], int], OrderProblem, IntArray]:
    """Click-and-collect: lines the collect shop can serve whole are taken there first.

    Returns the forced units, the residual problem (other lines) and the map residual line ->
    line of `pr`.
    """
    forced: dict[tuple[int, int], int] = {}
    used = np.zeros(pr.n_nodes, dtype=np.int64)
    if pr.collect >= 0:
        c = pr.collect
        left = int(pr.cap_hard[c])
        for ln in range(pr.n_lines):
            q = int(pr.qty[ln])
            if pr.avail[c, ln] >= q and left >= q:
                forced[(c, ln)] = q
                left -= q
                used[c] += q
    if not forced:
        return forced, pr, np.arange(pr.n_lines, dtype=np.int64)
    rest = np.array([ln for ln in range(pr.n_lines) if (pr.collect, ln) not in forced],
                    dtype=np.int64)
    return forced, subset(pr, rest, used), rest
