"""A retail chain's season under one allocation policy, measured on ground truth.

The setting of the reference (§7): shop stock is allocated once, before the season, from a
forecast of full-price walk-in demand (it is sunk: shops are not replenished); the warehouse holds
the central stock for online orders and re-buys weekly (order-up-to, 14-day lead time) until a
style's first markdown. Each day: a morning window of online orders, half the walk-in demand, an
afternoon window, the other half. Shops keep *true* and *recorded* stock; a pick fails when the
record lies, the failed units are re-routed once (then cancelled) and the record is corrected.
Every SKU reaches its end of life within the horizon, when what is left anywhere is salvaged, so
the total margin needs no terminal valuation. Velocity is what RFID would measure: walk-in sales
of the last 28 days on the days a cell had stock (online units ordered, for warehouses), at the
price of each day, pooled over a style's sizes and shrunk to the plan corrected by the chain
(empirical Bayes, `allocator.velocity`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allocator.config import CostConfig
from allocator.costs import hard_capacity, haversine_km
from allocator.decision import Decision
from allocator.model import Order, OrderLine, StockSnapshot
from allocator.policies import BatchPolicy, Policy
from allocator.policies.bidprice import BidPrices, bid_prices
from allocator.policies.problem import BidBlend
from allocator.velocity import estimate
from simulators.chain_demand import (
    online_orders,
    plan_error,
    record_errors,
    sales_history,
    walk_in,
    walk_in_first_half,
)
from simulators.chain_world import (
    REBUY_SERVICE_Z,
    World,
    build_world,
    full_price_days,
    rebuy_lead,
    rebuy_open,
    rebuy_review,
)
from simulators.config import ChainConfig

logger = logging.getLogger(__name__)

WAREHOUSE_CAPACITY = 1_000_000
VELOCITY_DAYS = 28  # as the API: sales of the last 28 days
REBUY_PRIOR_DAYS = 7  # weight of the plan in a warehouse's outflow rate, in days of shipments
#: Shops are allocated this x their forecast full-price demand (presentation stock and a
#: buffer against stock-outs; the rest of the buy is the warehouse's).
PLAN_COVER = 1.8
#: Demand lift the allocator is configured with for the rest of the markdown calendar, relative
#: to the price its velocity was measured at: at full price, the mean of the two steps (x1.6 at
#: -30%, x2.2 at -50%, equally long); at -30%, the next step (2.2 / 1.6); at -50%, none.
MARKDOWN_LIFT = (1.9, 2.2 / 1.6, 1.0)


@dataclass
class Ledger:
    orders: int = 0
    online_units: int = 0
    online_lost_units: int = 0
    online_revenue: float = 0.0
    walkin_revenue: float = 0.0
    salvage_revenue: float = 0.0
    cogs: float = 0.0
    bought_units: int = 0
    rebuy_units: int = 0
    parcels: int = 0
    fulfilment_cost: float = 0.0
    markdown_units: int = 0
    markdown_value: float = 0.0
    salvage_units: int = 0
    fast_lost: int = 0
    walkin_lost: int = 0
    pick_failures: int = 0
    capacity_violations: int = 0
    full_price_units: int = 0
    decision_ns: list[float] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        ms = np.asarray(self.decision_ns, dtype=np.float64) / 1e6
        margin = (self.online_revenue + self.walkin_revenue + self.salvage_revenue - self.cogs
                  - self.fulfilment_cost)
        per = max(self.orders, 1)
        return {
            "orders": self.orders,
            "total_margin": round(margin, 2),
            "fulfilment_cost_per_order": round(self.fulfilment_cost / per, 4),
            "parcels_per_order": round(self.parcels / per, 4),
            "markdown_units": self.markdown_units,
            "markdown_value": round(self.markdown_value, 2),
            "salvage_units": self.salvage_units,
            "shop_lost_sales_fast_movers": self.fast_lost,
            "shop_lost_sales": self.walkin_lost,
            "capacity_violations": self.capacity_violations,
            "pick_failures": self.pick_failures,
            "online_units": self.online_units,
            "online_lost_units": self.online_lost_units,
            "full_price_units": self.full_price_units,
            "bought_units": self.bought_units,
            "rebuy_units": self.rebuy_units,
            "full_price_sell_through": round(self.full_price_units / max(self.bought_units, 1), 4),
            "decision_ms_p50": round(float(np.percentile(ms, 50)), 4) if ms.size else 0.0,
            "decision_ms_p99": round(float(np.percentile(ms, 99)), 4) if ms.size else 0.0,
        }


class ChainSimulation:
    """One run: `ChainSimulation(config, costs, seed, policy).run() -> metrics dict`."""

    def __init__(
        self, config: ChainConfig, costs: CostConfig, seed: int, policy: Policy,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.cfg = config
        self.costs = costs
        self.seed = seed
        self.policy = policy
        self.progress = progress
        self.world: World = build_world(seed, config.stores, config.skus, config.days,
                                        config.warehouses)
        w = self.world
        self.n_wh = w.n_wh
        n, g = w.n_wh + w.n_shops, len(w.gtins)
        share = min(config.online_share, 0.95)
        self.online_ratio = share / (1 - share)
        # The plan: forecast walk-in rates (true rate x forecast error); shops get PLAN_COVER x
        # their forecast full-price demand, the warehouse the online forecast up to its re-buy
        # level (or to the markdown date where no re-buy can arrive in time).
        self.plan = w.rate * plan_error(w.rate.shape, w.style, seed)
        fp_days = full_price_days(w)
        shop_stock = np.round(self.plan * fp_days[None, :] * PLAN_COVER).astype(np.int64)
        self.online_plan = self.plan.sum(axis=0) * self.online_ratio / w.n_wh  # per warehouse
        can_rebuy = rebuy_open(w, 0)
        upfront = self.online_plan * fp_days * PLAN_COVER
        self.lead, self.review = rebuy_lead(w), rebuy_review(w)
        wh_stock = np.where(can_rebuy, self._order_up_to(self.online_plan), upfront)
        self.true = np.vstack([np.tile(np.round(wh_stock), (w.n_wh, 1)).astype(np.int64),
                               shop_stock])
        self.record = self.true.copy()
        self.record[w.n_wh:] = record_errors(shop_stock, config.rfid_accuracy, seed)
        self.initial_units = int(self.true.sum())
        self.horizon = int(max(config.days, int((w.life - w.age0).max())))
        self.on_order = np.zeros((self.horizon + int(self.lead.max()) + 1, w.n_wh, g),
                                 dtype=np.int64)
        self.rebought = np.zeros((w.n_wh, g), dtype=np.int64)  # re-buys placed, the season
        # Sales windows for the measured velocity (RFID history before day 0 included).
        seen = np.minimum(w.age0, VELOCITY_DAYS).astype(np.int64)
        hist = sales_history(w.rate, seen, seed)
        self.window = np.zeros((VELOCITY_DAYS, n, g))
        # Exposure of each day: the cell could sell (RFID saw stock) x the day's demand lift.
        self.expo = np.zeros((VELOCITY_DAYS, n, g))
        for back in range(VELOCITY_DAYS):  # spread the history over the days it covers
            before = back < seen
            self.window[back, w.n_wh:] = np.where(before, hist / np.maximum(seen, 1), 0.0)
            self.expo[back, w.n_wh:] = before  # full price, in stock
        self.prior = np.vstack([np.tile(self.online_plan, (w.n_wh, 1)), self.plan])
        self.online_today = np.zeros(g)
        # What each warehouse shipped, day by day: its re-buys follow its own outflow (a DC's
        # replenishment sees its shipments, not the chain's online demand), so that online
        # orders served from shop stock save re-buys.
        self.shipped = np.zeros((VELOCITY_DAYS, w.n_wh, g))
        self.open_stock = self.record > 0
        self.vel, self.vel_shape = self._velocity(0)
        self.capacity = np.concatenate([
            np.full(w.n_wh, WAREHOUSE_CAPACITY, dtype=np.int64),
            np.full(w.n_shops, config.pick_capacity, dtype=np.int64),
        ])
        self.hard = hard_capacity(self.capacity, costs)
        self.picks = np.zeros(n, dtype=np.int64)
        self.retries: list[Order] = []
        conf_shop = 1.0 - (1.0 - config.rfid_accuracy) * 0.6
        self.conf = np.full((n, g), conf_shop)
        self.conf[: w.n_wh] = 0.999
        terms = getattr(policy, "terms", None)
        self.wants_bid = getattr(terms, "bid", BidBlend.NONE) is not BidBlend.NONE
        self.bid: BidPrices | None = None
        # `foresight` (evaluation only): the realised walk-in demand of every day, (T, S, G).
        self.future: np.ndarray | None = None
        if getattr(policy, "uses_future", False):
            self.future = np.array([walk_in(w, seed, t) for t in range(self.horizon)])
        self.first_half = np.zeros((w.n_shops, g), dtype=np.int64)
        self.ledger = Ledger(cogs=float((self.true.sum(axis=0) * w.unit_cost).sum()),
                             bought_units=self.initial_units)

    # ---- stock and velocity ----------------------------------------------------------------
    def _order_up_to(self, rate: np.ndarray) -> np.ndarray:
        cover = rate * (self.lead + self.review)
        out: np.ndarray = cover + REBUY_SERVICE_Z * np.sqrt(cover)
        return out

    def _velocity(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, G) units/day at `day`'s prices as RFID (shops) or the order history
        (warehouses) shows them, and the gamma shape of each estimate (`allocator.velocity`:
        sizes of a style pooled, the plan corrected by the chain's sales, stock-out days and
        markdown lifts accounted for)."""
        w = self.world
        lift = w.lift(day)
        now = np.where(lift > 0, lift, 1.0)
        expo = self.expo.sum(axis=0) / now[None, :]
        sums = self.window.sum(axis=0)
        prior = self.prior * now[None, :]
        rates, shapes = [], []
        for rows in (slice(0, w.n_wh), slice(w.n_wh, None)):
            est = estimate(sums[rows], expo[rows], prior[rows], w.style)
            rates.append(est.rate)
            shapes.append(est.shape)
        return np.vstack(rates), np.vstack(shapes)

    def _outflow(self, day: int) -> np.ndarray:
        """(W, G) units/day each warehouse ships, over the last VELOCITY_DAYS days, shrunk to
        the plan by REBUY_PRIOR_DAYS pseudo-days (re-buys happen at full price: no lift)."""
        seen = min(day, VELOCITY_DAYS)
        out: np.ndarray = ((self.shipped.sum(axis=0) + self.online_plan[None, :] * REBUY_PRIOR_DAYS)
                           / (seen + REBUY_PRIOR_DAYS))
        return out

    def _rebuy(self, day: int) -> None:
        """Weekly order-up-to re-buy of each warehouse, on what it ships itself (`_outflow`)."""
        w = self.world
        arriving = self.on_order[day]
        self.true[: w.n_wh] += arriving
        self.record[: w.n_wh] += arriving
        can = rebuy_open(w, day) & (day % self.review == 0)
        if not can.any():
            return
        pipeline = self.on_order[day + 1:].sum(axis=0)
        level = self._order_up_to(self._outflow(day))
        buy = np.where(can[None, :], np.maximum(np.round(level) - self.true[: w.n_wh] - pipeline,
                                                0), 0).astype(np.int64)
        for lead in np.unique(self.lead[can]).tolist():
            cols = can & (self.lead == lead)
            self.on_order[day + lead][:, cols] += buy[:, cols]
        self.rebought += buy
        units = buy.sum(axis=0)
        self.ledger.rebuy_units += int(units.sum())
        self.ledger.bought_units += int(units.sum())
        self.ledger.cogs += float((units * w.unit_cost).sum())

    def snapshot(self, day: int, afternoon: bool) -> StockSnapshot:
        w = self.world
        to_md, md_price, to_end = w.calendar(day)
        future = self._foresight(day, afternoon, to_md, to_end)
        return StockSnapshot(
            node_ids=(*w.wh_ids, *w.shop_ids),
            is_shop=np.arange(len(w.lat)) >= w.n_wh, lat=w.lat, lon=w.lon,
            pick_capacity=self.capacity, picks_today=self.picks, gtins=w.gtins,
            available=self.true if self.policy.uses_truth else self.record,
            confidence=np.ones_like(self.conf) if self.policy.uses_truth else self.conf,
            velocity=self.vel, price=w.price(day), cost=w.unit_cost,
            days_to_markdown=to_md, markdown_price=md_price, days_to_end=to_end,
            salvage=w.salvage,
            markdown_lift=np.asarray(MARKDOWN_LIFT)[np.clip(w.tier(day), 0, 2)],
            rebuy_cost=np.where(rebuy_open(w, day), w.unit_cost, np.nan),
            velocity_shape=self.vel_shape,
            # Customers live where the shops sell: each shop's walk-in velocity, all GTINs.
            customer_weight=np.where(np.arange(len(w.lat)) >= w.n_wh, self.vel.sum(axis=1), 0.0),
            bid_value=None if self.bid is None else self.bid.value,
            bid_online=None if self.bid is None else self.bid.online,
            future_full=future[0], future_markdown=future[1],
        )

    def _foresight(self, day: int, afternoon: bool, to_md: np.ndarray,
                   to_end: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Known future demand for `foresight`: each shop's realised walk-in demand from now
        until the GTIN's next markdown and from then to its end of life; warehouses keep their
        expected online demand. None for every other policy."""
        if self.future is None:
            return None, None
        w = self.world
        rest = self.future[day:].astype(np.float64)
        if afternoon:  # the morning's walk-in customers have come and gone
            rest[0] -= self.first_half
        t = np.arange(day, day + rest.shape[0])[:, None]
        before = (t < day + to_md[None, :])[:, None, :]
        sale = ((t >= day + to_md[None, :]) & (t < day + to_end[None, :]))[:, None, :]
        full = np.vstack([self.vel[: w.n_wh] * to_md[None, :], (rest * before).sum(axis=0)])
        lift = np.asarray(MARKDOWN_LIFT)[np.clip(w.tier(day), 0, 2)]
        md = np.vstack([self.vel[: w.n_wh] * (lift * (to_end - to_md))[None, :],
                        (rest * sale).sum(axis=0)])
        return full, md

    # ---- execution -------------------------------------------------------------------------
    def _decide(self, orders: Sequence[Order], snap: StockSnapshot) -> list[Decision]:
        t0 = time.perf_counter_ns()
        if isinstance(self.policy, BatchPolicy) and len(orders) > 1:
            out = self.policy.decide_batch(orders, snap, self.costs)
            per = (time.perf_counter_ns() - t0) / len(orders)
            self.ledger.decision_ns.extend([per] * len(orders))
            return out
        out = []
        for o in orders:
            t0 = time.perf_counter_ns()
            out.append(self.policy.decide(o, snap, self.costs))
            self.ledger.decision_ns.append(time.perf_counter_ns() - t0)
        return out

    def _execute(self, order: Order, d: Decision, snap: StockSnapshot, day: int,
                 retry: bool) -> None:
        w, led, c = self.world, self.ledger, self.costs
        price = snap.price
        failed: list[OrderLine] = []
        ship_lat, ship_lon = order.ship_lat, order.ship_lon
        if order.collect_shop is not None:
            ci = snap.node_index(order.collect_shop)
            if ci is not None:
                ship_lat, ship_lon = float(w.lat[ci]), float(w.lon[ci])
        used: set[int] = set()
        for a in d.assignments:
            n = snap.node_index(a.node_id)
            g = snap.gtin_index(a.gtin)
            if n is None or g is None or a.qty <= 0:
                continue
            if self.picks[n] + a.qty > self.hard[n]:
                led.capacity_violations += 1
            self.picks[n] += a.qty
            ok = int(min(a.qty, self.true[n, g]))
            self.true[n, g] -= ok
            self.record[n, g] = max(int(self.record[n, g]) - a.qty, 0)
            shop = n >= self.n_wh
            is_collect = order.collect_shop == a.node_id
            if not is_collect and ok > 0:
                used.add(n)
            rate = c.per_item_km_store if shop else c.per_item_km_warehouse
            dist = 0.0 if is_collect else float(haversine_km(w.lat[n], w.lon[n], ship_lat, ship_lon))
            led.fulfilment_cost += a.qty * ((c.pick_cost_store if shop else c.pick_cost_warehouse)
                                            + rate * dist * (ok / a.qty))
            if ok < a.qty:
                miss = a.qty - ok
                led.pick_failures += miss
                led.fulfilment_cost += miss * c.failed_pick_cost
                self.record[n, g] = self.true[n, g]  # the picker's count corrects the record
                failed.append(OrderLine(a.gtin, miss))
            if ok and not shop:
                self.shipped[0, n, g] += ok
            if ok:
                led.online_units += ok
                led.online_revenue += ok * float(price[g])
                self._count_price(g, ok, float(price[g]))
        for n in used:
            led.parcels += 1
            led.fulfilment_cost += c.parcel_cost_store if n >= self.n_wh else c.parcel_cost_warehouse
        for u in d.unfilled:
            led.online_lost_units += u.qty
        if failed:
            if retry:  # re-routed once, after the window's decisions are all executed
                self.retries.append(Order(order.id + "-r", tuple(failed), order.ship_lat,
                                          order.ship_lon, order.service_level, None))
            else:
                led.online_lost_units += sum(x.qty for x in failed)

    def _count_price(self, g: int | np.ndarray, units: int | np.ndarray, price: Any) -> None:
        full = self.world.full_price[g]
        below = np.asarray(price) < np.asarray(full) - 1e-9
        self.ledger.markdown_units += int(np.sum(np.where(below, units, 0)))
        self.ledger.full_price_units += int(np.sum(np.where(below, 0, units)))
        self.ledger.markdown_value += float(np.sum(np.where(below, (full - price) * units, 0.0)))

    def _walk_in(self, demand: np.ndarray, day: int) -> np.ndarray:
        w, led = self.world, self.ledger
        shops = self.true[w.n_wh:]
        sold: np.ndarray = np.minimum(shops, demand)
        shops -= sold
        rec = self.record[w.n_wh:]
        np.subtract(rec, sold, out=rec)
        np.maximum(rec, 0, out=rec)
        lost = demand - sold
        led.walkin_lost += int(lost.sum())
        led.fast_lost += int(lost[:, w.fast].sum())
        price = w.price(day)
        units = sold.sum(axis=0)
        led.walkin_revenue += float((units * price).sum())
        self._count_price(np.arange(len(price)), units, price)
        return sold

    def _end_of_day(self, day: int, sold: np.ndarray) -> None:
        w = self.world
        self.window = np.roll(self.window, 1, axis=0)
        self.window[0, w.n_wh:] = sold
        self.window[0, : w.n_wh] = self.online_today / w.n_wh
        self.expo = np.roll(self.expo, 1, axis=0)
        self.expo[0] = w.lift(day)[None, :]
        self.expo[0, w.n_wh:] *= self.open_stock[w.n_wh:]
        self.online_today[:] = 0
        self.shipped = np.roll(self.shipped, 1, axis=0)
        self.shipped[0] = 0
        self.vel, self.vel_shape = self._velocity(day + 1)
        dead = w.tier(day + 1) < 0
        if dead.any():
            units = self.true[:, dead].sum(axis=0)
            led = self.ledger
            led.salvage_revenue += float((units * w.salvage[dead]).sum())
            led.salvage_units += int(units.sum())
            led.markdown_units += int(units.sum())
            led.markdown_value += float((units * (w.full_price - w.salvage)[dead]).sum())
            self.true[:, dead] = 0
            self.record[:, dead] = 0
        self.picks[:] = 0

    def run(self) -> dict[str, Any]:
        w = self.world
        index = {gtin: i for i, gtin in enumerate(w.gtins)}
        for day in range(self.horizon):
            self._rebuy(day)
            self.open_stock = self.record > 0  # what RFID shows at opening
            demand = walk_in(w, self.seed, day)
            first = walk_in_first_half(demand, self.seed, day)
            self.first_half = first
            orders = online_orders(w, self.seed, day, self.cfg.online_share) \
                if day < self.cfg.days else []
            self.ledger.orders += len(orders)
            for o in orders:
                for line in o.lines:
                    self.online_today[index[line.gtin]] += line.qty
            half = len(orders) // 2
            sold = np.zeros_like(demand)
            for window, after in ((orders[:half], False), (orders[half:], True)):
                if after:
                    sold += self._walk_in(first, day)
                if not window:
                    continue
                if self.wants_bid:  # bid prices re-solved before each window
                    self.bid = None
                    self.bid = bid_prices(self.snapshot(day, after), self.costs)
                snap = self.snapshot(day, after)
                if isinstance(self.policy, BatchPolicy):
                    for o, dec in zip(window, self._decide(window, snap), strict=True):
                        self._execute(o, dec, snap, day, retry=True)
                else:  # one at a time: each decision sees the stock the last one left
                    for o in window:
                        self._execute(o, self._decide([o], snap)[0], snap, day, retry=True)
                retries, self.retries = self.retries, []
                for sub in retries:
                    self._execute(sub, self._decide([sub], snap)[0], snap, day, retry=False)
            sold += self._walk_in(demand - first, day)
            self._end_of_day(day, sold)
            if self.progress is not None:
                self.progress(day + 1, self.horizon)
        return self.ledger.metrics()
