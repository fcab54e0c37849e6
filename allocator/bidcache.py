"""Bid prices for live decisions: solved per GTIN off the request path, refreshed on a TTL.

The expected-demand LP of `allocator.policies.bidprice` has no row that couples two GTINs, so
it decomposes GTIN by GTIN: the API need not solve the whole chain at once (42 s at 200 shops x
20k GTINs). A `BidPriceCache` keeps, per GTIN, the bid prices of every node, solved from the
snapshot a request has already read:

* `attach(snap)` returns `snap` with `bid_value`/`bid_online` filled when every GTIN of it has
  an entry younger than `max_age_s` for the same node set, else `snap` unchanged (the policy
  then prices units with Δ(q) alone, as the reference allows); it schedules a background
  refresh of the GTINs whose entry is missing or older than `ttl_s` (stale-while-revalidate:
  a request never waits for an LP).
* `refresh(snap)` solves the LP for the snapshot's GTINs now (the background job, and tests).

One cache per process; entries are bounded (least recently used first out).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from allocator.config import CostConfig
from allocator.model import FloatArray, StockSnapshot
from allocator.policies.bidprice import BidPriceError, bid_prices

logger = logging.getLogger(__name__)

#: Reference §6: refresh opportunity costs often (hourly) so that they never go stale.
DEFAULT_TTL_S = 3600.0


@dataclass(frozen=True)
class _Entry:
    nodes: tuple[str, ...]
    value: FloatArray  # (N,) bid value of one unit at each node
    online: FloatArray  # (N,) its value through the online channel alone
    solved_at: float


def take_gtins(snap: StockSnapshot, cols: list[int]) -> StockSnapshot:
    """The snapshot restricted to the GTIN columns `cols` (same nodes)."""
    idx = np.asarray(cols, dtype=np.int64)

    def ng(a: FloatArray | None) -> FloatArray | None:
        return None if a is None else a[:, idx]

    def g(a: FloatArray | None) -> FloatArray | None:
        return None if a is None else a[idx]

    lift = snap.markdown_lift
    return replace(
        snap, gtins=tuple(snap.gtins[i] for i in cols), available=snap.available[:, idx],
        confidence=snap.confidence[:, idx], velocity=snap.velocity[:, idx],
        price=snap.price[idx], cost=snap.cost[idx], days_to_markdown=snap.days_to_markdown[idx],
        markdown_price=snap.markdown_price[idx], days_to_end=snap.days_to_end[idx],
        salvage=snap.salvage[idx],
        markdown_lift=lift if isinstance(lift, (int, float)) else np.asarray(lift)[idx],
        future_full=ng(snap.future_full), future_markdown=ng(snap.future_markdown),
        rebuy_cost=g(snap.rebuy_cost), velocity_shape=ng(snap.velocity_shape),
        bid_value=None, bid_online=None, _gtin_index={}, _node_index={},
    )


class BidPriceCache:
    """Per-GTIN bid prices with a TTL (see module doc). Thread-safe."""

    def __init__(
        self, costs: CostConfig, *, ttl_s: float = DEFAULT_TTL_S, max_age_s: float | None = None,
        max_gtins: int = 20_000, clock: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        on_lookup: Callable[[bool], None] | None = None,
        on_solve: Callable[[str, int], None] | None = None,
    ) -> None:
        """`on_lookup(hit)` after each `attach`; `on_solve("solved" | "failed", gtins)` after
        each LP (metrics hooks; called from the request thread and the refresh thread)."""
        if ttl_s <= 0 or max_gtins <= 0:
            raise ValueError("ttl_s and max_gtins must be positive")
        self.costs = costs
        self.ttl_s = ttl_s
        self.max_age_s = 2 * ttl_s if max_age_s is None else max_age_s
        self.max_gtins = max_gtins
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._executor = executor
        self._own_executor = executor is None
        self._closed = False
        self.solved = 0  # GTINs solved
        self.failed = 0  # LPs that did not solve
        self.attached = 0  # snapshots answered with bid prices
        self.missed = 0  # snapshots answered without (some GTIN had no usable entry)
        self._on_lookup = on_lookup
        self._on_solve = on_solve

    # ---- the request path -------------------------------------------------------------------
    def attach(self, snap: StockSnapshot) -> StockSnapshot:
        now = self._clock()
        stale: list[str] = []
        rows: list[_Entry] = []
        with self._lock:
            for gtin in snap.gtins:
                entry = self._entries.get(gtin)
                if entry is None or entry.nodes != snap.node_ids:
                    stale.append(gtin)
                    continue
                self._entries.move_to_end(gtin)
                age = now - entry.solved_at
                if age >= self.ttl_s:
                    stale.append(gtin)
                if age < self.max_age_s:
                    rows.append(entry)
        if stale:
            self._schedule(snap, stale)
        hit = len(rows) == snap.n_gtins and snap.n_gtins > 0
        if self._on_lookup is not None:
            self._on_lookup(hit)
        if not hit:
            self.missed += 1
            return snap
        self.attached += 1
        return replace(
            snap, bid_value=np.stack([e.value for e in rows], axis=1),
            bid_online=np.stack([e.online for e in rows], axis=1),
        )

    def _schedule(self, snap: StockSnapshot, gtins: list[str]) -> None:
        with self._lock:
            if self._closed:
                return
            todo = [g for g in gtins if g not in self._pending]
            self._pending.update(todo)
            if not todo:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="bid-prices")
            executor = self._executor
        wanted = set(todo)
        cols = [i for i, g in enumerate(snap.gtins) if g in wanted]
        sub = take_gtins(snap, cols)
        try:
            executor.submit(self._refresh_pending, sub)
        except RuntimeError:  # shutting down
            with self._lock:
                self._pending.difference_update(todo)

    def _refresh_pending(self, sub: StockSnapshot) -> None:
        try:
            self.refresh(sub)
        except Exception:  # never lose the worker thread; the next request retries
            logger.exception("bid-price refresh of %d GTINs failed", sub.n_gtins)
        finally:
            with self._lock:
                self._pending.difference_update(sub.gtins)

    # ---- the job ----------------------------------------------------------------------------
    def refresh(self, snap: StockSnapshot) -> int:
        """Solve the bid-price LP for every GTIN of `snap` and store it; returns GTINs solved
        (0 when the LP failed: the old entries stay until they are too old)."""
        try:
            bids = bid_prices(snap, self.costs)
        except BidPriceError as exc:
            self.failed += 1
            if self._on_solve is not None:
                self._on_solve("failed", snap.n_gtins)
            logger.warning("bid prices of %d GTINs not refreshed: %s", snap.n_gtins, exc)
            return 0
        now = self._clock()
        with self._lock:
            for j, gtin in enumerate(snap.gtins):
                self._entries[gtin] = _Entry(snap.node_ids, bids.value[:, j].copy(),
                                             bids.online[:, j].copy(), now)
                self._entries.move_to_end(gtin)
            while len(self._entries) > self.max_gtins:
                self._entries.popitem(last=False)
            self.solved += snap.n_gtins
        if self._on_solve is not None:
            self._on_solve("solved", snap.n_gtins)
        return snap.n_gtins

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Stop the background worker (waits for a running LP)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None and self._own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
