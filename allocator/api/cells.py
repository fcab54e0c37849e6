"""Per-worker cache of the units a node can promise per GTIN (the allocation path's stock read).

A GTIN's column (available units and mean record confidence per node, in the node order of the
`NodeView` it was read for) is read with one query and kept `CELL_TTL_S` seconds. Each reservation
batch hands back the availability of every cell it locked (counted under the lock, so exact as
of that batch): those cells are updated at once, so the hot cells are current without a query of
their own. PostgreSQL stays the authority: a decision taken on a cached column that turns out
short there is re-decided on a fresh read (`invalidate`), as before the cache. What the cache can
miss for up to `CELL_TTL_S`: units arriving, and reservations released by another worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from allocator.api.batcher import CellAvailability
from allocator.api.stock import NodeView, load_cell_arrays
from allocator.model import NodeKind

CELL_TTL_S = 1.0


@dataclass
class _Column:
    at: float
    layout: tuple[str, ...]  # node ids of the view the rows follow
    protect: int
    available: np.ndarray[Any, np.dtype[np.int64]]  # (N,) units - reserved (- protect at shops), >= 0
    confidence: np.ndarray[Any, np.dtype[np.float64]]  # (N,)


class CellCache:
    """GTIN columns of availability and confidence, refreshed by TTL and by reservation batches."""

    def __init__(self, ttl_s: float = CELL_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._columns: dict[str, _Column] = {}
        self._layout: tuple[str, ...] = ()
        self._row: dict[str, int] = {}
        self._loading: dict[str, asyncio.Future[_Column]] = {}  # reads in flight, per GTIN

    def _current(self, g: str, layout: tuple[str, ...], protect: int, now: float) -> _Column | None:
        col = self._columns.get(g)
        if col is None or now - col.at > self.ttl_s or col.layout != layout or col.protect != protect:
            return None
        return col

    async def arrays(
        self,
        connection: Callable[[], Awaitable[AsyncConnection[TupleRow]]],
        gtins: list[str],
        view: NodeView,
        protect: int,
        *,
        fresh: bool = False,
    ) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]], bool]:
        """(N, G) available units and confidence of `gtins` in `view`'s node order, and whether
        all of them were read from PostgreSQL just now.

        Columns missing, older than `ttl_s`, of another node layout or protection (or all of
        them when `fresh`) are read with one query on `connection()` first.
        """
        now = time.monotonic()
        layout = view.ids
        cols: dict[str, _Column] = {}
        stale: list[str] = []
        for g in gtins:
            col = None if fresh else self._current(g, layout, protect, now)
            if col is None:
                stale.append(g)
            else:
                cols[g] = col
        if stale:
            cols.update(await self._load(connection, stale, view, protect, fresh=fresh))
        n = len(view.nodes)
        out_avail = np.empty((n, len(gtins)), dtype=np.int64)
        out_conf = np.empty((n, len(gtins)), dtype=np.float64)
        for j, g in enumerate(gtins):
            out_avail[:, j] = cols[g].available
            out_conf[:, j] = cols[g].confidence
        return out_avail, out_conf, len(stale) == len(gtins)

    async def _load(
        self,
        connection: Callable[[], Awaitable[AsyncConnection[TupleRow]]],
        gtins: list[str],
        view: NodeView,
        protect: int,
        *,
        fresh: bool,
    ) -> dict[str, _Column]:
        """Columns of `gtins` read now: one query for those no other request is reading already
        (a `fresh` read joins none: it must start after the caller learnt the stock changed)."""
        layout = view.ids
        joined = {g: f for g in gtins if not fresh and (f := self._loading.get(g)) is not None}
        mine = [g for g in gtins if g not in joined]
        out: dict[str, _Column] = {}
        if mine:
            loop = asyncio.get_running_loop()
            futures = {g: loop.create_future() for g in mine}
            for g, f in futures.items():
                self._loading.setdefault(g, f)
            try:
                cells = await load_cell_arrays(await connection(), mine, view.index)
                is_shop = np.array([n.kind is NodeKind.SHOP for n in view.nodes], dtype=np.bool_)
                avail = np.maximum(
                    cells.units - cells.reserved - np.where(is_shop, protect, 0)[:, None], 0
                )
                at = time.monotonic()
                if layout != self._layout:
                    self._layout, self._row = layout, dict(view.index)
                for j, g in enumerate(mine):
                    out[g] = self._columns[g] = _Column(
                        at, layout, protect, np.ascontiguousarray(avail[:, j]),
                        np.ascontiguousarray(cells.confidence[:, j]),
                    )
            finally:
                for g, f in futures.items():
                    if self._loading.get(g) is f:
                        del self._loading[g]
                    if g in out:
                        f.set_result(out[g])
                    else:
                        f.cancel()
        for g, f in joined.items():
            try:
                col: _Column | None = await asyncio.shield(f)
            except asyncio.CancelledError:
                if not f.cancelled():
                    raise  # this request was cancelled, not the read it joined
                col = None  # that read failed: read it ourselves
            if col is None or col.layout != layout or col.protect != protect:
                col = (await self._load(connection, [g], view, protect, fresh=True))[g]
            out[g] = col
        return out

    def apply(self, cells: list[CellAvailability]) -> None:
        """Availability counted by a reservation batch (exact as of that batch)."""
        for cell in cells:
            col = self._columns.get(cell.gtin)
            if col is None or col.layout != self._layout:
                continue
            i = self._row.get(cell.node_id)
            if i is not None:
                col.available[i] = cell.available

    def invalidate(self, gtins: list[str] | None = None) -> None:
        """Forget `gtins` (all when None): the next request reads them fresh."""
        if gtins is None:
            self._columns.clear()
            return
        for g in gtins:
            self._columns.pop(g, None)
