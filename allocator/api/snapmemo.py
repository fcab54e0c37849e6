"""Per-worker memo of an order's snapshot apart from its stock (the allocation path's CPU).

A snapshot of a GTIN set holds prices, calendars, velocities, node coordinates and capacities
that change at most every few seconds (the caches they come from refresh on TTLs), and stock
cells that change with every reservation. Building it whole on every request cost about a sixth
of a decision. `SnapshotMemo.snapshot` keeps, per GTIN set, the snapshot last built and the
inputs it was built from; while those are the very same objects (the node view, each product,
the memoised velocity arrays, the cost configuration) and the day is the same, only the stock
cells are swapped in. The result equals `stock.snapshot_of` of the same inputs (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import numpy as np

from allocator.api.stock import NodeView, ProductInfo, snapshot_of
from allocator.config import CostConfig
from allocator.model import SnapshotError, StockSnapshot

#: GTIN sets kept (cleared whole when full). An entry holds a dozen (N,) and (N, G) arrays:
#: about 30 KB at 200 nodes and two GTINs, so at most ~30 MB per worker.
MEMO_SIZE = 1024
_SHARED = ("is_shop", "lat", "lon", "pick_capacity", "picks_today", "price", "cost",
           "days_to_markdown", "markdown_price", "days_to_end", "salvage", "customer_weight")


@dataclass(frozen=True, eq=False)
class _Built:
    day: date
    inputs: tuple[object, ...]  # compared by identity
    snap: StockSnapshot


@dataclass
class SnapshotMemo:
    size: int = MEMO_SIZE
    hits: int = 0
    _memo: dict[tuple[str, ...], _Built] = field(default_factory=dict)

    def snapshot(
        self,
        view: NodeView,
        products: dict[str, ProductInfo],
        gtins: list[str],
        available: np.ndarray,
        confidence: np.ndarray,
        costs: CostConfig,
        velocity: tuple[np.ndarray, np.ndarray],
        today: date | None = None,
    ) -> StockSnapshot:
        """`snapshot_of(view.nodes, products, gtins, available, confidence, None, costs, today,
        velocity=velocity, customer_weight=view.customer_weight)`, reusing the last one built
        for `gtins` when only the stock differs."""
        day = today or datetime.now(UTC).date()
        key = tuple(gtins)
        inputs = (view, costs, velocity[0], velocity[1], *(products[g] for g in gtins))
        built = self._memo.get(key)
        if (
            built is not None and built.day == day and len(built.inputs) == len(inputs)
            and all(a is b for a, b in zip(built.inputs, inputs, strict=True))
        ):
            self.hits += 1
            return _with_stock(built.snap, available, confidence)
        snap = snapshot_of(
            view.nodes, products, gtins, available, confidence, None, costs, day,
            velocity=velocity, customer_weight=view.customer_weight,
        )
        for name in _SHARED:  # shared by every later snapshot of the set: never written to
            value = getattr(snap, name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        if len(self._memo) >= self.size:
            self._memo.clear()
        self._memo[key] = _Built(day, inputs, snap)
        return snap


def _with_stock(snap: StockSnapshot, available: np.ndarray, confidence: np.ndarray) -> StockSnapshot:
    """`snap` with other stock cells, checked as `StockSnapshot.build` checks them."""
    shape = snap.available.shape
    avail = np.asarray(available, dtype=np.int64)
    conf = np.asarray(confidence, dtype=np.float64)
    if avail.shape != shape or conf.shape != shape:
        raise SnapshotError(f"stock cells: shape {avail.shape} / {conf.shape}, expected {shape}")
    if avail.size and avail.min() < 0:
        raise SnapshotError("available: negative units")
    if conf.size and (conf.min() < 0 or conf.max() > 1):
        raise SnapshotError("confidence: outside [0, 1]")
    return replace(snap, available=avail, confidence=conf)
